import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { parseIpv6, parseMac } from "./addr.ts";
import type { PseudoHeader } from "./checksum.ts";
import { WireError } from "./error.ts";
import {
  emitNdpLinkLayerAddress,
  Icmpv6,
  type Icmpv6Repr,
  Icmpv6Type,
  NdpOption,
  ndpLinkLayerAddress,
  parseNdpOptions,
} from "./icmpv6.ts";
import { IpProtocol } from "./ipv4.ts";
import { Ipv6Header } from "./ipv6.ts";

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

function ph(src: string, dst: string): PseudoHeader {
  return { version: 6, src: parseIpv6(src), dst: parseIpv6(dst) };
}

// Each packet below was decoded by tshark with "Checksum: ... [correct]"; the checksums were
// computed independently (Python, RFC 1071 over the RFC 8200 §8.1 pseudo-header).
// Echo request 2001:db8::1 -> 2001:db8::2, id 0x1234 seq 1, "abcdefgh"; checksum 0x8075.
const ECHO = hex("8000 8075 1234 0001 6162 6364 6566 6768");
// Neighbor solicitation fe80::1 -> ff02::1:ff00:2 for 2001:db8::2 with source link-layer
// address 02:00:00:00:00:01; checksum 0x4b5f.
const NS = hex("8700 4b5f 0000 0000 2001 0db8 0000 0000 0000 0000 0000 0002 0101 0200 0000 0001");
// Neighbor advertisement 2001:db8::2 -> fe80::1, solicited + override, target link-layer
// address 02:00:00:00:00:02; tshark "Flags: 0x60000000, Solicited, Override", checksum 0xb9a9.
const NA = hex("8800 b9a9 6000 0000 2001 0db8 0000 0000 0000 0000 0000 0002 0201 0200 0000 0002");
// Packet too big from 2001:db8::fe to 2001:db8::1, MTU 1280, quoting the first 48 bytes of a
// 1496-byte UDP packet to 2001:db8:1::5; checksum 0x2aed.
const PTB = hex(
  "0200 2aed 0000 0500" +
    "6000 0000 05b0 1140 2001 0db8 0000 0000 0000 0000 0000 0001 2001 0db8 0001 0000 0000 0000 0000 0005" +
    "9c40 0035 05b0 fc9f",
);

describe("icmpv6", () => {
  it("deconstruct", () => {
    expect(Icmpv6.type(ECHO)).toBe(Icmpv6Type.EchoRequest);
    expect(Icmpv6.code(ECHO)).toBe(0);
    expect(Icmpv6.checksum(ECHO)).toBe(0x8075);
    expect(Icmpv6.ident(ECHO)).toBe(0x1234);
    expect(Icmpv6.seq(ECHO)).toBe(1);
    expect(Icmpv6.word1(PTB)).toBe(1280);
    expect(Icmpv6.targetOffset(0)).toBe(8);
  });
  it("construct", () => {
    const b = ECHO.slice();
    b[2] = 0;
    b[3] = 0;
    const p = ph("2001:db8::1", "2001:db8::2");
    let sum = 0;
    for (const a of [p.src, p.dst] as Uint8Array[])
      for (let i = 0; i < 16; i += 2) sum += (a[i] << 8) | a[i + 1];
    Icmpv6.fillChecksum(b, 0, b.length, sum + b.length + IpProtocol.ICMPv6);
    expect(b).toEqual(ECHO);
  });
  it("parse", () => {
    expect(Icmpv6.parse(ECHO, 0, ECHO.length, ph("2001:db8::1", "2001:db8::2"))).toEqual({
      kind: "echo-request",
      code: 0,
      ident: 0x1234,
      seq: 1,
      data: hex("6162 6364 6566 6768"),
      checksumStatus: "valid",
    });
    expect(Icmpv6.parse(ECHO).checksumStatus).toBe("unchecked");
    expect(Icmpv6.parse(ECHO, 0, ECHO.length, ph("2001:db8::1", "2001:db8::3")).checksumStatus).toBe(
      "invalid",
    );
    const ns = Icmpv6.parse(NS, 0, NS.length, ph("fe80::1", "ff02::1:ff00:2"));
    expect(ns).toEqual({
      kind: "neighbor-solicitation",
      code: 0,
      target: parseIpv6("2001:db8::2"),
      options: hex("0101 0200 0000 0001"),
      checksumStatus: "valid",
    });
    if (ns.kind === "neighbor-solicitation") {
      expect(ndpLinkLayerAddress(ns.options, NdpOption.SourceLinkLayerAddress)).toBe(
        parseMac("02:00:00:00:00:01"),
      );
      expect(ndpLinkLayerAddress(ns.options, NdpOption.TargetLinkLayerAddress)).toBeUndefined();
    }
    expect(Icmpv6.parse(NA, 0, NA.length, ph("2001:db8::2", "fe80::1"))).toEqual({
      kind: "neighbor-advertisement",
      code: 0,
      isRouter: false,
      isSolicited: true,
      isOverride: true,
      target: parseIpv6("2001:db8::2"),
      options: hex("0201 0200 0000 0002"),
      checksumStatus: "valid",
    });
    const ptb = Icmpv6.parse(PTB, 0, PTB.length, ph("2001:db8::fe", "2001:db8::1"));
    expect(ptb).toMatchObject({ kind: "packet-too-big", code: 0, mtu: 1280, checksumStatus: "valid" });
    if (ptb.kind === "packet-too-big") {
      const inner = Ipv6Header.parseQuoted(ptb.invoking);
      expect(inner.payloadLength).toBe(1456);
      expect(inner.nextHeader).toBe(IpProtocol.UDP);
      expect(inner.dst).toEqual(parseIpv6("2001:db8:1::5"));
    }
  });
  it("echo request to reply in place", () => {
    const b = ECHO.slice();
    Icmpv6.echoRequestToReply(b);
    expect(Icmpv6.parse(b, 0, b.length, ph("2001:db8::2", "2001:db8::1"))).toMatchObject({
      kind: "echo-reply",
      checksumStatus: "valid",
    });
  });
  it("emit", () => {
    const cases: [Uint8Array, PseudoHeader][] = [
      [ECHO, ph("2001:db8::1", "2001:db8::2")],
      [NS, ph("fe80::1", "ff02::1:ff00:2")],
      [NA, ph("2001:db8::2", "fe80::1")],
      [PTB, ph("2001:db8::fe", "2001:db8::1")],
    ];
    for (const [bytes, p] of cases) {
      const b = new Uint8Array(bytes.length);
      expect(Icmpv6.emit(Icmpv6.parse(bytes, 0, bytes.length, p), b, 0, p)).toBe(bytes.length);
      expect(b).toEqual(bytes);
    }
    const opt = new Uint8Array(8);
    emitNdpLinkLayerAddress(opt, 0, NdpOption.SourceLinkLayerAddress, parseMac("02:00:00:00:00:01"));
    expect(opt).toEqual(NS.subarray(24));
  });
  it("emitError quotes the invoking packet", () => {
    const invoking = PTB.subarray(8);
    const b = new Uint8Array(PTB.length);
    const n = Icmpv6.emitError(
      b,
      0,
      Icmpv6Type.PacketTooBig,
      0,
      1280,
      invoking,
      0,
      48,
      ph("2001:db8::fe", "2001:db8::1"),
    );
    expect(n).toBe(56);
    expect(b).toEqual(PTB);
  });
  it("NDP options", () => {
    expect(parseNdpOptions(NA, 24, 8)).toEqual([{ type: 2, data: hex("0200 0000 0002") }]);
    const zero = NS.slice();
    zero[25] = 0;
    const e = wireError(() => Icmpv6.parse(zero));
    expect(e.code).toBe("bad-length");
    expect(e.offset).toBe(25);
    const long = NS.slice();
    long[25] = 2;
    expect(wireError(() => Icmpv6.parse(long)).code).toBe("bad-length");
  });
  it("impossible length", () => {
    expect(wireError(() => Icmpv6.parse(ECHO.subarray(0, 3))).code).toBe("truncated");
    expect(wireError(() => Icmpv6.parse(ECHO.subarray(0, 7))).code).toBe("truncated");
    expect(wireError(() => Icmpv6.parse(NS.subarray(0, 23))).code).toBe("truncated");
    expect(wireError(() => Icmpv6.parse(ECHO, 0, 17)).code).toBe("truncated");
  });
  it("refuses undefined error codes", () => {
    const b = PTB.slice();
    b[0] = Icmpv6Type.DestUnreachable;
    b[1] = 9;
    const e = wireError(() => Icmpv6.parse(b));
    expect(e.code).toBe("bad-value");
    expect(e.offset).toBe(1);
  });

  test.prop([fc.uint8Array({ maxLength: 64 }), fc.nat(8)])(
    "random bytes parse or raise WireError",
    (bytes, at) => {
      for (const f of [
        () => Icmpv6.parse(bytes, at, bytes.length - at, ph("::1", "::2")),
        () => parseNdpOptions(bytes, at, Math.max(0, bytes.length - at)),
      ]) {
        try {
          f();
        } catch (e) {
          expect(e).toBeInstanceOf(WireError);
        }
      }
    },
  );
  const status = fc.constant("valid" as const);
  const addr = fc.uint8Array({ minLength: 16, maxLength: 16 });
  const ndpOptions = fc
    .array(
      fc.record({
        type: fc.integer({ min: 1, max: 255 }),
        units: fc.integer({ min: 1, max: 2 }),
        fill: fc.nat(255),
      }),
      { maxLength: 3 },
    )
    .map((opts) => {
      const out = new Uint8Array(opts.reduce((n, o) => n + o.units * 8, 0));
      let i = 0;
      for (const o of opts) {
        out.fill(o.fill, i, i + o.units * 8);
        out[i] = o.type;
        out[i + 1] = o.units;
        i += o.units * 8;
      }
      return out;
    });
  const arbRepr: fc.Arbitrary<Icmpv6Repr> = fc.oneof(
    fc.record({
      kind: fc.constantFrom("echo-request" as const, "echo-reply" as const),
      code: fc.nat(255),
      ident: fc.nat(0xffff),
      seq: fc.nat(0xffff),
      data: fc.uint8Array({ maxLength: 32 }),
      checksumStatus: status,
    }),
    fc.record({
      kind: fc.constant("dest-unreachable" as const),
      code: fc.nat(8),
      invoking: fc.uint8Array({ maxLength: 64 }),
      checksumStatus: status,
    }),
    fc.record({
      kind: fc.constant("time-exceeded" as const),
      code: fc.nat(1),
      invoking: fc.uint8Array({ maxLength: 64 }),
      checksumStatus: status,
    }),
    fc.record({
      kind: fc.constant("packet-too-big" as const),
      code: fc.nat(255),
      mtu: fc.nat(2 ** 32 - 1),
      invoking: fc.uint8Array({ maxLength: 64 }),
      checksumStatus: status,
    }),
    fc.record({
      kind: fc.constant("parameter-problem" as const),
      code: fc.nat(10),
      pointer: fc.nat(2 ** 32 - 1),
      invoking: fc.uint8Array({ maxLength: 64 }),
      checksumStatus: status,
    }),
    fc.record({
      kind: fc.constant("neighbor-solicitation" as const),
      code: fc.nat(255),
      target: addr,
      options: ndpOptions,
      checksumStatus: status,
    }),
    fc.record({
      kind: fc.constant("neighbor-advertisement" as const),
      code: fc.nat(255),
      isRouter: fc.boolean(),
      isSolicited: fc.boolean(),
      isOverride: fc.boolean(),
      target: addr,
      options: ndpOptions,
      checksumStatus: status,
    }),
    fc.record({
      kind: fc.constant("other" as const),
      type: fc.constantFrom(130, 131, 132, 133, 134, 137, 143, 200),
      code: fc.nat(255),
      body: fc.uint8Array({ maxLength: 32 }),
      checksumStatus: status,
    }),
  );
  test.prop([arbRepr, addr, addr])("parse(emit(x)) == x", (repr, src, dst) => {
    const p: PseudoHeader = { version: 6, src, dst };
    const b = new Uint8Array(Icmpv6.lengthOf(repr));
    expect(Icmpv6.emit(repr, b, 0, p)).toBe(b.length);
    expect(Icmpv6.parse(b, 0, b.length, p)).toEqual(repr);
  });
});
