import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { parseIpv4 } from "./addr.ts";
import { internetChecksum, verifyChecksum } from "./checksum.ts";
import { WireError } from "./error.ts";
import {
  IPV4_HEADER_LEN,
  IpProtocol,
  Ipv4Header,
  Ipv4OptionType,
  type Ipv4Repr,
  parseIpv4Options,
} from "./ipv4.ts";

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

// ping 10.0.0.1 -> 10.0.0.2 (ICMP echo, 8 data bytes), id 0x1c46, DF, TTL 64. tshark: header
// checksum 0x0a91 [correct]; the checksum was also computed independently (Python, RFC 1071).
const PING = hex("4500 0024 1c46 4000 4001 0a91 0a00 0001 0a00 0002 0800 a1a3 0a0b 0001 1011 1213 1415 1617");
// IGMPv2 report to 224.0.0.251 with a Router Alert option (IHL 6), DSCP CS6, TTL 1.
// tshark: header length 24, option Router Alert, checksum 0xf91b [correct].
const IGMP = hex("46c0 0020 0000 4000 0102 f91b 0a00 0001 e000 00fb 9404 0000 1600 0904 e000 00fb");

const PING_REPR: Ipv4Repr = {
  dscp: 0,
  ecn: 0,
  ident: 0x1c46,
  dontFragment: true,
  moreFragments: false,
  fragmentOffsetBytes: 0,
  ttl: 64,
  protocol: IpProtocol.ICMP,
  src: parseIpv4("10.0.0.1"),
  dst: parseIpv4("10.0.0.2"),
  options: new Uint8Array(0),
  payloadLength: 16,
  checksumValid: true,
};

describe("ipv4", () => {
  it("deconstruct", () => {
    expect(Ipv4Header.version(PING)).toBe(4);
    expect(Ipv4Header.headerLength(PING)).toBe(20);
    expect(Ipv4Header.totalLength(PING)).toBe(36);
    expect(Ipv4Header.ident(PING)).toBe(0x1c46);
    expect(Ipv4Header.flags(PING)).toBe(2);
    expect(Ipv4Header.dontFragment(PING)).toBe(true);
    expect(Ipv4Header.moreFragments(PING)).toBe(false);
    expect(Ipv4Header.isFragment(PING)).toBe(false);
    expect(Ipv4Header.ttl(PING)).toBe(64);
    expect(Ipv4Header.protocol(PING)).toBe(1);
    expect(Ipv4Header.checksum(PING)).toBe(0x0a91);
    expect(Ipv4Header.isChecksumValid(PING)).toBe(true);
    expect(Ipv4Header.src(PING)).toBe(parseIpv4("10.0.0.1"));
    expect(Ipv4Header.dst(PING)).toBe(parseIpv4("10.0.0.2"));
    expect(Ipv4Header.headerLength(IGMP)).toBe(24);
    expect(Ipv4Header.dscp(IGMP)).toBe(48);
    expect(Ipv4Header.ecn(IGMP)).toBe(0);
  });
  it("construct", () => {
    const buf = PING.slice();
    buf.fill(0, 0, 20);
    Ipv4Header.setHeaderLength(buf, 0, 20);
    Ipv4Header.setTotalLength(buf, 0, 36);
    Ipv4Header.setIdent(buf, 0, 0x1c46);
    Ipv4Header.setFragment(buf, 0, true, false, 0);
    Ipv4Header.setTtl(buf, 0, 64);
    Ipv4Header.setProtocol(buf, 0, IpProtocol.ICMP);
    Ipv4Header.setSrc(buf, 0, parseIpv4("10.0.0.1"));
    Ipv4Header.setDst(buf, 0, parseIpv4("10.0.0.2"));
    Ipv4Header.fillChecksum(buf, 0);
    expect(buf).toEqual(PING);
    Ipv4Header.setDscp(buf, 0, 46);
    Ipv4Header.setEcn(buf, 0, 3);
    expect(buf[1]).toBe(0xbb);
  });
  it("parse", () => {
    expect(Ipv4Header.parse(PING)).toEqual(PING_REPR);
    expect(Ipv4Header.parse(IGMP)).toEqual({
      ...PING_REPR,
      dscp: 48,
      ident: 0,
      ttl: 1,
      protocol: 2,
      dst: parseIpv4("224.0.0.251"),
      options: hex("9404 0000"),
      payloadLength: 8,
    });
  });
  it("reports a bad checksum instead of trusting it", () => {
    const b = PING.slice();
    b[11] ^= 1;
    expect(Ipv4Header.parse(b).checksumValid).toBe(false);
  });
  it("emit", () => {
    const buf = new Uint8Array(24);
    expect(Ipv4Header.emit(PING_REPR, buf, 4)).toBe(IPV4_HEADER_LEN);
    expect(buf.subarray(4)).toEqual(PING.subarray(0, 20));
    // emit computes the checksum whatever the Repr claims
    Ipv4Header.emit({ ...PING_REPR, checksumValid: false }, buf, 4);
    expect(Ipv4Header.checksum(buf, 4)).toBe(0x0a91);
    const withOpts = new Uint8Array(24);
    const { checksumValid: _, ...rest } = Ipv4Header.parse(IGMP);
    expect(Ipv4Header.emit({ ...rest, checksumValid: true }, withOpts)).toBe(24);
    expect(withOpts).toEqual(IGMP.subarray(0, 24));
    expect(wireError(() => Ipv4Header.emit({ ...PING_REPR, options: hex("01") }, buf)).code).toBe(
      "bad-value",
    );
    expect(wireError(() => Ipv4Header.emit({ ...PING_REPR, fragmentOffsetBytes: 12 }, buf)).code).toBe(
      "bad-value",
    );
    expect(wireError(() => Ipv4Header.emit({ ...PING_REPR, payloadLength: 65516 }, buf)).code).toBe(
      "bad-length",
    );
  });
  it("fragments", () => {
    const b = PING.slice();
    Ipv4Header.setFragment(b, 0, false, true, 1480);
    expect(Ipv4Header.isFragment(b)).toBe(true);
    expect(Ipv4Header.moreFragments(b)).toBe(true);
    expect(Ipv4Header.fragmentOffsetBytes(b)).toBe(1480);
    expect(b[6]).toBe(0x20);
    expect(b[7]).toBe(185); // 1480 / 8
    Ipv4Header.setFragment(b, 0, false, false, 8);
    expect(Ipv4Header.isFragment(b)).toBe(true);
  });
  it("decrementTtl patches the checksum per RFC 1624", () => {
    const b = PING.slice();
    for (let ttl = 63; ttl >= 0; ttl--) {
      expect(Ipv4Header.decrementTtl(b)).toBe(ttl);
      expect(Ipv4Header.isChecksumValid(b)).toBe(true);
      const copy = b.slice(0, 20);
      copy[10] = 0;
      copy[11] = 0;
      const full = internetChecksum(copy, 0, 20);
      expect(verifyChecksum(b, 0, 20)).toBe(true);
      // the incremental value is one of the two one's-complement encodings of the full one
      expect(Ipv4Header.checksum(b) === full || (Ipv4Header.checksum(b) ^ full) === 0xffff).toBe(true);
    }
    expect(wireError(() => Ipv4Header.decrementTtl(b)).code).toBe("bad-value");
  });
  it("impossible length", () => {
    let e = wireError(() => Ipv4Header.parse(PING.subarray(0, 19)));
    expect(e.code).toBe("truncated");
    // total length 36 but only 30 bytes present
    e = wireError(() => Ipv4Header.parse(PING.subarray(0, 30)));
    expect(e.code).toBe("bad-length");
    expect(e.offset).toBe(2);
    // IHL 4
    const b = PING.slice();
    b[0] = 0x44;
    e = wireError(() => Ipv4Header.parse(b));
    expect(e.code).toBe("bad-length");
    expect(e.offset).toBe(0);
    // total length below the header
    const c = PING.slice();
    c[3] = 19;
    expect(wireError(() => Ipv4Header.parse(c)).code).toBe("bad-length");
    // IHL 15 (60 bytes) beyond a 36-byte buffer
    const d = PING.slice();
    d[0] = 0x4f;
    expect(wireError(() => Ipv4Header.parse(d)).code).toBe("truncated");
    // a quoted header may describe more than is present
    expect(Ipv4Header.parseQuoted(PING.subarray(0, 28)).payloadLength).toBe(16);
    // Ethernet padding after total length is fine
    const padded = new Uint8Array(PING.length + 3);
    padded.set(PING);
    expect(Ipv4Header.parse(padded).payloadLength).toBe(16);
  });
  it("options", () => {
    expect(parseIpv4Options(IGMP, 20, 4)).toEqual([
      { type: Ipv4OptionType.RouterAlert, isCopied: true, data: hex("0000") },
    ]);
    // record route with room for two addresses, then NOP and end of list (and padding after it)
    const rr = hex("ff 070b04 00000000 00000000 01 01 00 00");
    expect(parseIpv4Options(rr, 1, 15)).toEqual([
      { type: Ipv4OptionType.RecordRoute, isCopied: false, data: rr.slice(3, 12) },
      { type: Ipv4OptionType.NoOperation, isCopied: false, data: new Uint8Array(0) },
      { type: Ipv4OptionType.NoOperation, isCopied: false, data: new Uint8Array(0) },
      { type: Ipv4OptionType.EndOfList, isCopied: false, data: new Uint8Array(0) },
    ]);
    expect(wireError(() => parseIpv4Options(hex("9401 0000"))).code).toBe("bad-length");
    expect(wireError(() => parseIpv4Options(hex("9408 0000"))).code).toBe("bad-length");
    expect(wireError(() => parseIpv4Options(hex("0101 0194"))).code).toBe("truncated");
  });
  it("bad version", () => {
    const b = PING.slice();
    b[0] = 0x65;
    const e = wireError(() => Ipv4Header.parse(b));
    expect(e.code).toBe("bad-version");
    expect(e.offset).toBe(0);
  });

  test.prop([fc.uint8Array({ maxLength: 80 }), fc.nat(8)])(
    "random bytes parse or raise WireError",
    (bytes, at) => {
      for (const f of [
        () => Ipv4Header.parse(bytes, at),
        () => Ipv4Header.parseQuoted(bytes, at),
        () => parseIpv4Options(bytes, at),
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
      dscp: fc.integer({ min: 0, max: 63 }),
      ecn: fc.integer({ min: 0, max: 3 }),
      ident: fc.integer({ min: 0, max: 0xffff }),
      dontFragment: fc.boolean(),
      moreFragments: fc.boolean(),
      fragmentOffsetBytes: fc.integer({ min: 0, max: 8191 }).map((u) => u * 8),
      ttl: fc.integer({ min: 0, max: 255 }),
      protocol: fc.integer({ min: 0, max: 255 }),
      src: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
      dst: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
      options: fc
        .integer({ min: 0, max: 10 })
        .chain((w) => fc.uint8Array({ minLength: 4 * w, maxLength: 4 * w })),
      payloadLength: fc.integer({ min: 0, max: 64 }),
      checksumValid: fc.constant(true),
    }),
  ])("parse(emit(x)) == x", (repr) => {
    const buf = new Uint8Array(Ipv4Header.headerLengthOf(repr) + repr.payloadLength);
    Ipv4Header.emit(repr, buf);
    expect(Ipv4Header.parse(buf)).toEqual(repr);
  });
});
