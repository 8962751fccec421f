import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { WireError } from "./error.ts";
import {
  WG_COOKIE_REPLY_LEN,
  WG_INITIATION_LEN,
  WG_RESPONSE_LEN,
  WgCookieReply,
  WgInitiation,
  WgMessageType,
  WgResponse,
  WgTransport,
  wgMessageType,
} from "./wireguard.ts";

const fill = (n: number, v: number) => new Uint8Array(n).fill(v);

// Literal messages: every field a distinct byte pattern so that offsets are checked.
const INITIATION = new Uint8Array([
  0x01,
  0x00,
  0x00,
  0x00,
  0x78,
  0x56,
  0x34,
  0x12, // type 1, sender 0x12345678 (LE)
  ...fill(32, 0xe1), // ephemeral
  ...fill(48, 0x5a), // encrypted static
  ...fill(28, 0x7b), // encrypted timestamp
  ...fill(16, 0x31), // mac1
  ...fill(16, 0x32), // mac2
]);
const RESPONSE = new Uint8Array([
  0x02,
  0x00,
  0x00,
  0x00,
  0x01,
  0x00,
  0x00,
  0x00,
  0xff,
  0xff,
  0xff,
  0xff, // sender 1, receiver 0xffffffff
  ...fill(32, 0xe2),
  ...fill(16, 0xee),
  ...fill(16, 0x31),
  ...fill(16, 0x00),
]);
const COOKIE = new Uint8Array([
  0x03,
  0x00,
  0x00,
  0x00,
  0x04,
  0x03,
  0x02,
  0x01, // receiver 0x01020304
  ...fill(24, 0x9a),
  ...fill(32, 0xcc),
]);
const TRANSPORT = new Uint8Array([
  0x04,
  0x00,
  0x00,
  0x00,
  0xaa,
  0xbb,
  0xcc,
  0xdd, // receiver 0xddccbbaa
  0x01,
  0x02,
  0x03,
  0x04,
  0x05,
  0x06,
  0x07,
  0x08, // counter 0x0807060504030201 (LE)
  ...fill(16, 0x77), // an empty plaintext's tag: a keepalive
]);

function errorOf(f: () => unknown): WireError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(WireError);
    return e as WireError;
  }
  throw new Error("no error");
}

describe("wireguard messages", () => {
  it("type word", () => {
    expect(wgMessageType(INITIATION)).toBe(WgMessageType.HandshakeInitiation);
    expect(wgMessageType(RESPONSE)).toBe(2);
    expect(wgMessageType(COOKIE)).toBe(3);
    expect(wgMessageType(TRANSPORT)).toBe(4);
    expect(errorOf(() => wgMessageType(new Uint8Array([1, 0, 0]))).code).toBe("truncated");
    expect(errorOf(() => wgMessageType(new Uint8Array([1, 0, 1, 0]))).code).toBe("unsupported");
    expect(errorOf(() => wgMessageType(new Uint8Array([5, 0, 0, 0]))).code).toBe("unsupported");
  });

  it("initiation: deconstruct, parse, emit", () => {
    expect(INITIATION.length).toBe(WG_INITIATION_LEN);
    expect(WgInitiation.senderIndex(INITIATION)).toBe(0x12345678);
    const r = WgInitiation.parse(INITIATION);
    expect(r.senderIndex).toBe(0x12345678);
    expect(r.ephemeral).toEqual(fill(32, 0xe1));
    expect(r.encryptedStatic).toEqual(fill(48, 0x5a));
    expect(r.encryptedTimestamp).toEqual(fill(28, 0x7b));
    expect(r.mac1).toEqual(fill(16, 0x31));
    expect(r.mac2).toEqual(fill(16, 0x32));
    const buf = new Uint8Array(148);
    expect(WgInitiation.emit(r, buf)).toBe(148);
    expect(buf).toEqual(INITIATION);
  });

  it("response: deconstruct, parse, emit", () => {
    expect(WgResponse.senderIndex(RESPONSE)).toBe(1);
    expect(WgResponse.receiverIndex(RESPONSE)).toBe(0xffffffff);
    const r = WgResponse.parse(RESPONSE);
    expect(r.encryptedNothing).toEqual(fill(16, 0xee));
    const buf = new Uint8Array(WG_RESPONSE_LEN);
    WgResponse.emit(r, buf);
    expect(buf).toEqual(RESPONSE);
  });

  it("cookie reply: deconstruct, parse, emit", () => {
    expect(WgCookieReply.receiverIndex(COOKIE)).toBe(0x01020304);
    const r = WgCookieReply.parse(COOKIE);
    expect(r.nonce).toEqual(fill(24, 0x9a));
    expect(r.encryptedCookie).toEqual(fill(32, 0xcc));
    const buf = new Uint8Array(WG_COOKIE_REPLY_LEN);
    WgCookieReply.emit(r, buf);
    expect(buf).toEqual(COOKIE);
  });

  it("transport: deconstruct, construct, parse, emit (64-bit little-endian counter)", () => {
    expect(WgTransport.receiverIndex(TRANSPORT)).toBe(0xddccbbaa);
    expect(WgTransport.counterLow(TRANSPORT)).toBe(0x04030201);
    expect(WgTransport.counterHigh(TRANSPORT)).toBe(0x08070605);
    const r = WgTransport.parse(TRANSPORT);
    expect(r.counter).toBe(0x0807060504030201n);
    expect(r.encrypted).toEqual(fill(16, 0x77));
    const buf = new Uint8Array(32);
    expect(WgTransport.emit(r, buf)).toBe(32);
    expect(buf).toEqual(TRANSPORT);
    const built = new Uint8Array(32);
    WgTransport.writeHeader(built, 0, 0xddccbbaa, 2 ** 40 + 5);
    expect(WgTransport.counter(built)).toBe(2 ** 40 + 5);
    expect(WgTransport.parse(built).counter).toBe(2n ** 40n + 5n);
  });

  it("works at an offset inside a bigger buffer", () => {
    const buf = new Uint8Array(10 + 148 + 7);
    buf.set(INITIATION, 10);
    expect(WgInitiation.parse(buf, 10, 148).senderIndex).toBe(0x12345678);
    expect(errorOf(() => WgInitiation.parse(buf, 10)).code).toBe("bad-length");
  });

  it("a Repr owns its bytes, even when parsed from a Node Buffer", () => {
    const b = Buffer.from(INITIATION);
    const r = WgInitiation.parse(b);
    b.fill(0);
    expect(r.ephemeral).toEqual(fill(32, 0xe1));
    const t = Buffer.from(TRANSPORT);
    const tr = WgTransport.parse(t);
    t.fill(0);
    expect(tr.encrypted).toEqual(fill(16, 0x77));
  });

  it("impossible lengths and wrong types", () => {
    expect(errorOf(() => WgInitiation.parse(INITIATION.subarray(0, 147))).code).toBe("truncated");
    expect(errorOf(() => WgInitiation.parse(new Uint8Array([...INITIATION, 0]))).code).toBe("bad-length");
    expect(errorOf(() => WgResponse.parse(INITIATION)).code).toBe("bad-length");
    expect(errorOf(() => WgResponse.parse(Uint8Array.from(RESPONSE).fill(9, 0, 1))).code).toBe("bad-value");
    expect(errorOf(() => WgCookieReply.parse(COOKIE.subarray(0, 63))).code).toBe("truncated");
    expect(errorOf(() => WgTransport.parse(TRANSPORT.subarray(0, 31))).code).toBe("truncated");
    const reserved = Uint8Array.from(TRANSPORT);
    reserved[3] = 1;
    expect(errorOf(() => WgTransport.parse(reserved)).code).toBe("bad-value");
    expect(errorOf(() => WgTransport.parse(TRANSPORT, 0, 40)).code).toBe("truncated");
    expect(errorOf(() => WgInitiation.emit(WgInitiation.parse(INITIATION), new Uint8Array(100))).code).toBe(
      "truncated",
    );
  });

  const anyParser = [WgInitiation.parse, WgResponse.parse, WgCookieReply.parse, WgTransport.parse];
  test.prop([
    fc.oneof(
      fc.uint8Array({ maxLength: 200 }),
      // bytes that start like a real message, to reach past the type check
      fc
        .tuple(fc.integer({ min: 1, max: 4 }), fc.uint8Array({ maxLength: 200 }))
        .map(([t, rest]) => new Uint8Array([t, 0, 0, 0, ...rest])),
    ),
    fc.integer({ min: -2, max: 210 }),
  ])("any bytes: a Repr or one WireError", (bytes, offset) => {
    for (const parse of anyParser) {
      for (const off of [0, offset]) {
        try {
          parse(bytes, off);
        } catch (e) {
          expect(e).toBeInstanceOf(WireError);
        }
      }
    }
    try {
      wgMessageType(bytes, offset);
    } catch (e) {
      expect(e).toBeInstanceOf(WireError);
    }
  });

  const bytesOf = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
  const u32 = fc.integer({ min: 0, max: 0xffffffff });
  test.prop([
    fc.record({
      senderIndex: u32,
      ephemeral: bytesOf(32),
      encryptedStatic: bytesOf(48),
      encryptedTimestamp: bytesOf(28),
      mac1: bytesOf(16),
      mac2: bytesOf(16),
    }),
  ])("initiation: parse(emit(x)) == x", (r) => {
    const buf = new Uint8Array(148);
    WgInitiation.emit(r, buf);
    expect(WgInitiation.parse(buf)).toEqual(r);
  });
  test.prop([
    fc.record({
      senderIndex: u32,
      receiverIndex: u32,
      ephemeral: bytesOf(32),
      encryptedNothing: bytesOf(16),
      mac1: bytesOf(16),
      mac2: bytesOf(16),
    }),
  ])("response: parse(emit(x)) == x", (r) => {
    const buf = new Uint8Array(92);
    WgResponse.emit(r, buf);
    expect(WgResponse.parse(buf)).toEqual(r);
  });
  test.prop([fc.record({ receiverIndex: u32, nonce: bytesOf(24), encryptedCookie: bytesOf(32) })])(
    "cookie reply: parse(emit(x)) == x",
    (r) => {
      const buf = new Uint8Array(64);
      WgCookieReply.emit(r, buf);
      expect(WgCookieReply.parse(buf)).toEqual(r);
    },
  );
  test.prop([
    fc.record({
      receiverIndex: u32,
      counter: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      encrypted: fc.uint8Array({ minLength: 16, maxLength: 100 }),
    }),
  ])("transport: parse(emit(x)) == x", (r) => {
    const buf = new Uint8Array(16 + r.encrypted.length);
    WgTransport.emit(r, buf);
    expect(WgTransport.parse(buf)).toEqual(r);
  });
});
