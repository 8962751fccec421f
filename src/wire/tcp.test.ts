import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { parseIpv4 } from "./addr.ts";
import type { PseudoHeader } from "./checksum.ts";
import { WireError } from "./error.ts";
import {
  emitTcpOptions,
  formatTcpFlags,
  parseTcpOptions,
  TCP_HEADER_LEN,
  Tcp,
  TcpFlags,
  type TcpOption,
  type TcpRepr,
} from "./tcp.ts";

function hex(s: string): Uint8Array {
  const clean = s.replace(/\s+/g, "");
  return Uint8Array.from({ length: clean.length / 2 }, (_, i) =>
    Number.parseInt(clean.slice(2 * i, 2 * i + 2), 16),
  );
}

function wireError(fn: () => unknown): WireError {
  try {
    fn();
  } catch (e) {
    if (e instanceof WireError) return e;
    throw e;
  }
  throw new Error("expected a WireError");
}

// A Linux-style SYN 10.0.0.1:40000 -> 10.0.1.2:443 with MSS 1460, SACK permitted, timestamps,
// NOP, window scale 7 (IPv4 header first; TCP at 20). tshark: header length 40, "Flags: 0x002
// (SYN)", window 64240, checksum 0x4f23 [correct], the five options as listed.
const SYN = hex(
  "4500 003c 1235 4000 4006 1385 0a00 0001 0a00 0102" +
    "9c40 01bb 1234 5678 0000 0000 a002 faf0 4f23 0000" +
    "0204 05b4 0402 080a 0001 e240 0000 0000 0103 0307",
);
// A data segment back, "hello", flags NS|CWR|ECE|ACK|PSH (tshark: "Flags: 0x1d8", checksum
// 0xb2ba [correct]; recent tshark names the NS bit "AE", Accurate ECN).
const DATA = hex(
  "4500 002d 0001 4000 4006 25c8 0a00 0102 0a00 0001" +
    "01bb 9c40 abcd ef01 1234 5679 51d8 0100 b2ba 0000 6865 6c6c 6f",
);

const OUT: PseudoHeader = { version: 4, src: parseIpv4("10.0.0.1"), dst: parseIpv4("10.0.1.2") };
const BACK: PseudoHeader = { version: 4, src: parseIpv4("10.0.1.2"), dst: parseIpv4("10.0.0.1") };

const SYN_REPR: TcpRepr = {
  srcPort: 40000,
  dstPort: 443,
  seq: 0x12345678,
  ack: 0,
  flags: TcpFlags.SYN,
  window: 64240,
  urgentPointer: 0,
  options: hex("0204 05b4 0402 080a 0001 e240 0000 0000 0103 0307"),
  payloadLength: 0,
  checksumStatus: "valid",
};

describe("tcp", () => {
  it("deconstruct", () => {
    expect(Tcp.srcPort(SYN, 20)).toBe(40000);
    expect(Tcp.dstPort(SYN, 20)).toBe(443);
    expect(Tcp.seq(SYN, 20)).toBe(305419896);
    expect(Tcp.ack(SYN, 20)).toBe(0);
    expect(Tcp.headerLength(SYN, 20)).toBe(40);
    expect(Tcp.flags(SYN, 20)).toBe(TcpFlags.SYN);
    expect(Tcp.hasFlag(SYN, 20, TcpFlags.SYN)).toBe(true);
    expect(Tcp.hasFlag(SYN, 20, TcpFlags.ACK)).toBe(false);
    expect(Tcp.window(SYN, 20)).toBe(64240);
    expect(Tcp.checksum(SYN, 20)).toBe(0x4f23);
    expect(Tcp.urgentPointer(SYN, 20)).toBe(0);
    expect(Tcp.flags(DATA, 20)).toBe(0x1d8);
    expect(formatTcpFlags(Tcp.flags(DATA, 20))).toBe("NS|CWR|ECE|ACK|PSH");
    expect(formatTcpFlags(TcpFlags.SYN | TcpFlags.ACK)).toBe("ACK|SYN");
    expect(formatTcpFlags(0)).toBe("none");
  });
  it("construct", () => {
    const b = DATA.slice();
    b.fill(0, 20, 40);
    Tcp.setSrcPort(b, 20, 443);
    Tcp.setDstPort(b, 20, 40000);
    Tcp.setSeq(b, 20, 0xabcdef01);
    Tcp.setAck(b, 20, 0x12345679);
    Tcp.setHeaderLengthAndFlags(
      b,
      20,
      20,
      TcpFlags.NS | TcpFlags.CWR | TcpFlags.ECE | TcpFlags.ACK | TcpFlags.PSH,
    );
    Tcp.setWindow(b, 20, 256);
    Tcp.setUrgentPointer(b, 20, 0);
    Tcp.fillChecksum(b, 20, 25, 0x0a00 + 0x0102 + 0x0a00 + 0x0001 + 6 + 25);
    expect(b).toEqual(DATA);
  });
  it("parse", () => {
    expect(Tcp.parse(SYN, 20, OUT)).toEqual(SYN_REPR);
    expect(Tcp.parse(DATA, 20, BACK)).toMatchObject({
      payloadLength: 5,
      flags: 0x1d8,
      checksumStatus: "valid",
    });
    // (swapping the addresses would not change the sum: use another peer)
    expect(Tcp.parse(DATA, 20, { ...BACK, src: parseIpv4("10.0.1.3") }).checksumStatus).toBe("invalid");
    expect(Tcp.parse(DATA, 20).checksumStatus).toBe("unchecked");
    // a segment length given by IP, smaller than the buffer (Ethernet padding)
    const padded = new Uint8Array(DATA.length + 6);
    padded.set(DATA);
    expect(Tcp.parse(padded, 20, BACK, 25)).toMatchObject({ payloadLength: 5, checksumStatus: "valid" });
  });
  it("options", () => {
    expect(parseTcpOptions(SYN, 40, 20)).toEqual([
      { kind: "mss", mss: 1460 },
      { kind: "sack-permitted" },
      { kind: "timestamps", tsVal: 123456, tsEcr: 0 },
      { kind: "nop" },
      { kind: "window-scale", shift: 7 },
    ]);
    const b = new Uint8Array(20);
    expect(emitTcpOptions(parseTcpOptions(SYN, 40, 20), b, 0)).toBe(20);
    expect(b).toEqual(SYN.subarray(40));
    const sack = hex("0101 050a 0000 0064 0000 00c8 0000");
    expect(parseTcpOptions(sack, 0, sack.length)).toEqual([
      { kind: "nop" },
      { kind: "nop" },
      { kind: "sack", blocks: [{ left: 100, right: 200 }] },
      { kind: "eol" },
    ]);
    expect(wireError(() => parseTcpOptions(hex("0203 0000"), 0, 4)).code).toBe("bad-length");
    expect(wireError(() => parseTcpOptions(hex("0101 0102"), 0, 4)).code).toBe("truncated");
    expect(wireError(() => parseTcpOptions(hex("0101 0309"), 0, 4)).offset).toBe(3);
  });
  it("emit", () => {
    const b = SYN.slice();
    b.fill(0, 20);
    expect(Tcp.emit(SYN_REPR, b, 20, OUT)).toBe(40);
    expect(b).toEqual(SYN);
    expect(wireError(() => Tcp.emit({ ...SYN_REPR, options: hex("01") }, b, 20, OUT)).code).toBe("bad-value");
  });
  it("impossible length", () => {
    let e = wireError(() => Tcp.parse(SYN.subarray(0, 39), 20));
    expect(e.code).toBe("truncated");
    // data offset 10 (40 bytes) in a 30-byte segment
    e = wireError(() => Tcp.parse(SYN.subarray(0, 50), 20));
    expect(e.code).toBe("bad-length");
    expect(e.offset).toBe(32);
    const b = DATA.slice();
    b[32] = 0x41; // data offset 4
    expect(wireError(() => Tcp.parse(b, 20)).code).toBe("bad-length");
    expect(wireError(() => Tcp.parse(DATA, 20, BACK, 26)).code).toBe("truncated");
  });

  test.prop([fc.uint8Array({ maxLength: 80 }), fc.nat(8)])(
    "random bytes parse or raise WireError",
    (bytes, at) => {
      for (const f of [
        () => Tcp.parse(bytes, at, OUT),
        () => parseTcpOptions(bytes, at, Math.max(0, bytes.length - at)),
      ]) {
        try {
          f();
        } catch (e) {
          expect(e).toBeInstanceOf(WireError);
        }
      }
    },
  );
  test.prop([
    fc.record({
      srcPort: fc.integer({ min: 0, max: 0xffff }),
      dstPort: fc.integer({ min: 0, max: 0xffff }),
      seq: fc.nat(2 ** 32 - 1),
      ack: fc.nat(2 ** 32 - 1),
      flags: fc.integer({ min: 0, max: 0x1ff }),
      window: fc.integer({ min: 0, max: 0xffff }),
      urgentPointer: fc.integer({ min: 0, max: 0xffff }),
      options: fc
        .integer({ min: 0, max: 10 })
        .chain((w) => fc.uint8Array({ minLength: 4 * w, maxLength: 4 * w })),
      payloadLength: fc.integer({ min: 0, max: 64 }),
      checksumStatus: fc.constant("valid" as const),
    }),
    fc.nat(2 ** 32 - 1),
    fc.nat(2 ** 32 - 1),
  ])("parse(emit(x)) == x", (repr, src, dst) => {
    const ph: PseudoHeader = { version: 4, src, dst };
    const buf = new Uint8Array(Tcp.headerLengthOf(repr) + repr.payloadLength).fill(0x5a);
    Tcp.emit(repr, buf, 0, ph);
    expect(Tcp.parse(buf, 0, ph)).toEqual(repr);
  });
  const u32 = fc.nat(2 ** 32 - 1);
  const option: fc.Arbitrary<TcpOption> = fc.oneof(
    fc.constant({ kind: "nop" as const }),
    fc.record({ kind: fc.constant("mss" as const), mss: fc.integer({ min: 0, max: 0xffff }) }),
    fc.record({ kind: fc.constant("window-scale" as const), shift: fc.integer({ min: 0, max: 14 }) }),
    fc.constant({ kind: "sack-permitted" as const }),
    fc.record({ kind: fc.constant("timestamps" as const), tsVal: u32, tsEcr: u32 }),
    fc.record({
      kind: fc.constant("sack" as const),
      blocks: fc.array(fc.record({ left: u32, right: u32 }), { minLength: 1, maxLength: 3 }),
    }),
    fc.record({
      kind: fc.constant("unknown" as const),
      type: fc.integer({ min: 9, max: 255 }),
      data: fc.uint8Array({ maxLength: 6 }),
    }),
  );
  test.prop([fc.array(option, { maxLength: 5 })])("parseTcpOptions(emitTcpOptions(x)) == x", (opts) => {
    const buf = new Uint8Array(64);
    let n: number;
    try {
      n = emitTcpOptions(opts, buf, 0);
    } catch (e) {
      // only a list longer than the 40 bytes TCP allows is refused
      expect((e as WireError).code).toBe("bad-length");
      return;
    }
    const parsed = parseTcpOptions(buf, 0, n);
    // padding comes back as one end-of-list marker
    expect(parsed).toEqual(n > 0 && parsed.at(-1)?.kind === "eol" ? [...opts, { kind: "eol" }] : opts);
    expect(n % 4).toBe(0);
    expect(n).toBeLessThanOrEqual(40);
    expect(TCP_HEADER_LEN + n).toBeLessThanOrEqual(60);
  });
});
