import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { formatIpv6, parseIpv6 } from "./addr.ts";
import { WireError } from "./error.ts";
import { IpProtocol } from "./ipv4.ts";
import { IPV6_HEADER_LEN, Ipv6Header, Ipv6OptionType, type Ipv6Repr, parseIpv6Options } from "./ipv6.ts";

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

// ICMPv6 echo request 2001:db8::1 -> 2001:db8::2, traffic class 0xb8 (EF), flow label 0x12345.
// tshark: "Traffic Class: 0xb8 (DSCP: EF PHB)", "Flow Label: 0x12345", payload length 16,
// next header ICMPv6 (58), checksum 0x8075 [correct].
const ECHO = hex(
  "6b81 2345 0010 3a40 2001 0db8 0000 0000 0000 0000 0000 0001 2001 0db8 0000 0000 0000 0000 0000 0002" +
    "8000 8075 1234 0001 6162 6364 6566 6768",
);
// MLDv2 report fe80::1 -> ff02::16 behind a hop-by-hop header with a Router Alert option.
// tshark: next header Hop-by-Hop (0), then ICMPv6, "Router Alert: MLD (0)", checksum 0x6f0f [correct].
const MLD = hex(
  "6000 0000 0024 0001 fe80 0000 0000 0000 0000 0000 0000 0001 ff02 0000 0000 0000 0000 0000 0000 0016" +
    "3a00 0502 0000 0100" +
    "8f00 6f0f 0000 0001 0400 0000 ff02 0000 0000 0000 0000 0000 0000 00fb",
);

const ECHO_REPR: Ipv6Repr = {
  trafficClass: 0xb8,
  flowLabel: 0x12345,
  payloadLength: 16,
  nextHeader: IpProtocol.ICMPv6,
  hopLimit: 64,
  src: parseIpv6("2001:db8::1"),
  dst: parseIpv6("2001:db8::2"),
};

describe("ipv6", () => {
  it("deconstruct", () => {
    expect(Ipv6Header.version(ECHO)).toBe(6);
    expect(Ipv6Header.trafficClass(ECHO)).toBe(0xb8);
    expect(Ipv6Header.dscp(ECHO)).toBe(46);
    expect(Ipv6Header.ecn(ECHO)).toBe(0);
    expect(Ipv6Header.flowLabel(ECHO)).toBe(0x12345);
    expect(Ipv6Header.payloadLength(ECHO)).toBe(16);
    expect(Ipv6Header.nextHeader(ECHO)).toBe(58);
    expect(Ipv6Header.hopLimit(ECHO)).toBe(64);
    expect(formatIpv6(ECHO, Ipv6Header.srcOffset())).toBe("2001:db8::1");
    expect(formatIpv6(Ipv6Header.dst(ECHO), 0)).toBe("2001:db8::2");
  });
  it("construct", () => {
    const b = ECHO.slice();
    b.fill(0, 0, 40);
    Ipv6Header.setVersionClassFlow(b, 0, 0xb8, 0x12345);
    Ipv6Header.setPayloadLength(b, 0, 16);
    Ipv6Header.setNextHeader(b, 0, 58);
    Ipv6Header.setHopLimit(b, 0, 64);
    Ipv6Header.setSrc(b, 0, parseIpv6("2001:db8::1"));
    Ipv6Header.setDst(b, 0, parseIpv6("2001:db8::2"));
    expect(b).toEqual(ECHO);
    expect(Ipv6Header.decrementHopLimit(b)).toBe(63);
    b[7] = 0;
    expect(wireError(() => Ipv6Header.decrementHopLimit(b)).code).toBe("bad-value");
  });
  it("parse", () => {
    expect(Ipv6Header.parse(ECHO)).toEqual(ECHO_REPR);
  });
  it("emit", () => {
    const b = new Uint8Array(IPV6_HEADER_LEN);
    expect(Ipv6Header.emit(ECHO_REPR, b)).toBe(40);
    expect(b).toEqual(ECHO.subarray(0, 40));
    expect(wireError(() => Ipv6Header.emit({ ...ECHO_REPR, src: new Uint8Array(4) }, b)).code).toBe(
      "bad-value",
    );
  });
  it("pseudo-header sum verifies the upper layer checksum", () => {
    // the ICMPv6 message sums to 0xffff together with its pseudo-header
    let s = Ipv6Header.pseudoHeaderSum(ECHO, 0, 58, 16);
    for (let i = 40; i < 56; i += 2) s += (ECHO[i] << 8) | ECHO[i + 1];
    while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
    expect(s).toBe(0xffff);
  });
  it("extension header chain", () => {
    expect(Ipv6Header.parseExtensions(ECHO)).toEqual({
      headers: [],
      protocol: 58,
      payloadOffset: 40,
      isFragment: false,
      fragmentOffsetBytes: 0,
    });
    expect(Ipv6Header.parseExtensions(MLD)).toEqual({
      headers: [{ type: IpProtocol.HopByHop, offset: 40, length: 8 }],
      protocol: 58,
      payloadOffset: 48,
      isFragment: false,
      fragmentOffsetBytes: 0,
    });
    // a fragment header (first fragment, then a later one) in front of UDP
    const frag = hex(
      "6000 0000 0010 2c40 2001 0db8 0000 0000 0000 0000 0000 0001 2001 0db8 0000 0000 0000 0000 0000 0002" +
        "1100 0001 dead beef 9c40 0035 05b0 0000",
    );
    expect(Ipv6Header.parseExtensions(frag)).toMatchObject({
      protocol: 17,
      payloadOffset: 48,
      isFragment: true,
    });
    frag[42] = 0x05; // offset 185 units = 1480 bytes, M flag set
    frag[43] = 0xc9;
    expect(Ipv6Header.parseExtensions(frag)).toMatchObject({
      protocol: 17,
      isFragment: true,
      fragmentOffsetBytes: 1480,
    });
    // a hop-by-hop header that claims more than the payload
    const bad = MLD.slice();
    bad[41] = 9;
    expect(wireError(() => Ipv6Header.parseExtensions(bad)).code).toBe("bad-length");
    // hop-by-hop must come first
    const late = hex(
      "6000 0000 0010 3c40 2001 0db8 0000 0000 0000 0000 0000 0001 2001 0db8 0000 0000 0000 0000 0000 0002" +
        "0000 0104 0000 0000 3a00 0104 0000 0000",
    );
    expect(wireError(() => Ipv6Header.parseExtensions(late)).code).toBe("bad-value");
  });
  it("hop-by-hop options", () => {
    // tshark: "Router Alert: MLD (0)", then PadN of length 0
    expect(parseIpv6Options(MLD, 40)).toEqual([
      { type: Ipv6OptionType.RouterAlert, data: hex("0000") },
      { type: Ipv6OptionType.PadN, data: new Uint8Array(0) },
    ]);
    const pad1 = hex("3a00 0000 0000 0000");
    expect(parseIpv6Options(pad1, 0)).toHaveLength(6);
    expect(wireError(() => parseIpv6Options(hex("3a00 0000 0000 0105"), 0)).code).toBe("bad-length");
    expect(wireError(() => parseIpv6Options(hex("3a00 0000 0000 0001"), 0)).code).toBe("truncated");
    expect(wireError(() => parseIpv6Options(hex("3a01 0000 0000 0000"), 0)).code).toBe("truncated");
  });
  it("impossible length", () => {
    expect(wireError(() => Ipv6Header.parse(ECHO.subarray(0, 39))).code).toBe("truncated");
    const e = wireError(() => Ipv6Header.parse(ECHO.subarray(0, 55)));
    expect(e.code).toBe("bad-length");
    expect(e.offset).toBe(4);
    expect(Ipv6Header.parseQuoted(ECHO.subarray(0, 48)).payloadLength).toBe(16);
    const jumbo = ECHO.slice();
    jumbo[4] = 0;
    jumbo[5] = 0;
    jumbo[6] = 0;
    expect(wireError(() => Ipv6Header.parse(jumbo)).code).toBe("unsupported");
  });
  it("bad version", () => {
    const b = ECHO.slice();
    b[0] = 0x4b;
    expect(wireError(() => Ipv6Header.parse(b)).code).toBe("bad-version");
  });

  test.prop([fc.uint8Array({ maxLength: 120 }), fc.nat(8)])(
    "random bytes parse or raise WireError",
    (bytes, at) => {
      for (const f of [
        () => Ipv6Header.parse(bytes, at),
        () => Ipv6Header.parseQuoted(bytes, at),
        () => Ipv6Header.parseExtensions(bytes, at),
        () => parseIpv6Options(bytes, at),
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
    fc.uint8Array({ minLength: 40, maxLength: 120 }).map((b) => {
      b[0] = 0x60 | (b[0] & 0x0f);
      const len = b.length - 40;
      b[4] = 0;
      b[5] = len;
      return b;
    }),
  ])("any chain found lies inside the payload", (b) => {
    try {
      const c = Ipv6Header.parseExtensions(b);
      expect(c.payloadOffset).toBeLessThanOrEqual(b.length);
      for (const h of c.headers) expect(h.offset + h.length).toBeLessThanOrEqual(b.length);
    } catch (e) {
      expect(e).toBeInstanceOf(WireError);
    }
  });
  test.prop([
    fc.record({
      trafficClass: fc.integer({ min: 0, max: 255 }),
      flowLabel: fc.integer({ min: 0, max: 0xfffff }),
      payloadLength: fc.integer({ min: 0, max: 64 }),
      nextHeader: fc.integer({ min: 1, max: 255 }),
      hopLimit: fc.integer({ min: 0, max: 255 }),
      src: fc.uint8Array({ minLength: 16, maxLength: 16 }),
      dst: fc.uint8Array({ minLength: 16, maxLength: 16 }),
    }),
  ])("parse(emit(x)) == x", (repr) => {
    const b = new Uint8Array(IPV6_HEADER_LEN + repr.payloadLength);
    Ipv6Header.emit(repr, b);
    expect(Ipv6Header.parse(b)).toEqual(repr);
  });
});
