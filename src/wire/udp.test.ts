import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { parseIpv4, parseIpv6 } from "./addr.ts";
import { type PseudoHeader, pseudoHeaderSumV4 } from "./checksum.ts";
import { WireError } from "./error.ts";
import { Ipv4Header } from "./ipv4.ts";
import { UDP_HEADER_LEN, Udp, type UdpRepr } from "./udp.ts";

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

// A DNS query for example.com A, 10.0.0.1:40000 -> 10.0.0.53:53 (IPv4 header first; UDP at 20).
// tshark: UDP length 37, checksum 0xd3bd [correct] (also computed independently in Python).
const DNS = hex(
  "4500 0039 1234 4000 4011 144b 0a00 0001 0a00 0035" +
    "9c40 0035 0025 d3bd abcd 0100 0001 0000 0000 0000 0765 7861 6d70 6c65 0363 6f6d 0000 0100 01",
);
// A datagram whose checksum computes to zero, so it is sent as 0xffff (RFC 768).
// tshark: "Checksum: 0xffff [correct]".
const ZERO_SUM = hex("4500 0020 0001 0000 4011 6697 0a00 0001 0a00 0035 3039 303a 000c ffff dead ac7f");

const PH: PseudoHeader = { version: 4, src: parseIpv4("10.0.0.1"), dst: parseIpv4("10.0.0.53") };

describe("udp", () => {
  it("deconstruct", () => {
    expect(Udp.srcPort(DNS, 20)).toBe(40000);
    expect(Udp.dstPort(DNS, 20)).toBe(53);
    expect(Udp.length(DNS, 20)).toBe(37);
    expect(Udp.checksum(DNS, 20)).toBe(0xd3bd);
    expect(Udp.isChecksumValid(DNS, 20, Ipv4Header.pseudoHeaderSum(DNS, 0, 17, 37))).toBe(true);
  });
  it("construct", () => {
    const b = DNS.slice();
    b.fill(0, 20, 28);
    Udp.setSrcPort(b, 20, 40000);
    Udp.setDstPort(b, 20, 53);
    Udp.setLength(b, 20, 37);
    Udp.fillChecksumV4(b, 20, PH.src as number, PH.dst as number);
    expect(b).toEqual(DNS);
  });
  it("parse", () => {
    expect(Udp.parse(DNS, 20, PH)).toEqual({
      srcPort: 40000,
      dstPort: 53,
      payloadLength: 29,
      checksumStatus: "valid",
    });
    expect(Udp.parse(DNS, 20).checksumStatus).toBe("unchecked");
    const wrongPeer: PseudoHeader = { version: 4, src: parseIpv4("10.0.0.2"), dst: parseIpv4("10.0.0.53") };
    expect(Udp.parse(DNS, 20, wrongPeer).checksumStatus).toBe("invalid");
    const none = DNS.slice();
    none[26] = 0;
    none[27] = 0;
    expect(Udp.parse(none, 20, PH).checksumStatus).toBe("absent");
    // Ethernet padding beyond the IP payload is not UDP data
    const padded = new Uint8Array(DNS.length + 6);
    padded.set(DNS);
    expect(Udp.parse(padded, 20, PH, 37).payloadLength).toBe(29);
  });
  it("over IPv6, with the RFC 8200 §8.1 pseudo-header", () => {
    // 2001:db8::1:40000 -> 2001:db8::2:53, 4 data bytes; tshark: checksum 0x6a4e [correct]
    const v6 = hex(
      "6000 0000 000c 1140 2001 0db8 0000 0000 0000 0000 0000 0001 2001 0db8 0000 0000 0000 0000 0000 0002" +
        "9c40 0035 000c 6a4e dead beef",
    );
    const ph: PseudoHeader = { version: 6, src: parseIpv6("2001:db8::1"), dst: parseIpv6("2001:db8::2") };
    expect(Udp.parse(v6, 40, ph)).toEqual({
      srcPort: 40000,
      dstPort: 53,
      payloadLength: 4,
      checksumStatus: "valid",
    });
    const b = v6.slice();
    Udp.emit({ srcPort: 40000, dstPort: 53, payloadLength: 4, checksumStatus: "valid" }, b, 40, ph);
    expect(b).toEqual(v6);
    const other: PseudoHeader = { ...ph, dst: parseIpv6("2001:db8::3") };
    expect(Udp.parse(v6, 40, other).checksumStatus).toBe("invalid");
  });
  it("a computed zero goes on the wire as 0xffff", () => {
    const b = ZERO_SUM.slice();
    const ph: PseudoHeader = { version: 4, src: Ipv4Header.src(b), dst: Ipv4Header.dst(b) };
    expect(Udp.parse(b, 20, ph).checksumStatus).toBe("valid");
    Udp.fillChecksum(b, 20, pseudoHeaderSumV4(ph.src as number, ph.dst as number, 17, 12));
    expect(Udp.checksum(b, 20)).toBe(0xffff);
    expect(b).toEqual(ZERO_SUM);
  });
  it("emit", () => {
    const b = DNS.slice();
    b.fill(0, 20, 28);
    const repr: UdpRepr = { srcPort: 40000, dstPort: 53, payloadLength: 29, checksumStatus: "valid" };
    expect(Udp.emit(repr, b, 20, PH)).toBe(UDP_HEADER_LEN);
    expect(b).toEqual(DNS);
    Udp.emit({ ...repr, checksumStatus: "absent" }, b, 20);
    expect(Udp.checksum(b, 20)).toBe(0);
    expect(wireError(() => Udp.emit(repr, b, 20)).code).toBe("bad-value");
    expect(wireError(() => Udp.emit({ ...repr, payloadLength: 65528 }, b, 20, PH)).code).toBe("bad-length");
  });
  it("impossible length", () => {
    let e = wireError(() => Udp.parse(DNS.subarray(0, 27), 20));
    expect(e.code).toBe("truncated");
    e = wireError(() => Udp.parse(DNS.subarray(0, 56), 20));
    expect(e.code).toBe("bad-length");
    expect(e.offset).toBe(24);
    const short = DNS.slice();
    short[25] = 7;
    expect(wireError(() => Udp.parse(short, 20)).code).toBe("bad-length");
    // longer than the IP payload the caller says is there
    expect(wireError(() => Udp.parse(DNS, 20, PH, 36)).code).toBe("bad-length");
  });

  test.prop([fc.uint8Array({ maxLength: 40 }), fc.nat(8), fc.nat(2 ** 32 - 1), fc.nat(2 ** 32 - 1)])(
    "random bytes parse or raise WireError",
    (bytes, at, src, dst) => {
      try {
        Udp.parse(bytes, at, { version: 4, src, dst });
      } catch (e) {
        expect(e).toBeInstanceOf(WireError);
      }
    },
  );
  test.prop([
    fc.record({
      srcPort: fc.integer({ min: 0, max: 0xffff }),
      dstPort: fc.integer({ min: 0, max: 0xffff }),
      payloadLength: fc.integer({ min: 0, max: 100 }),
      checksumStatus: fc.constantFrom("valid" as const, "absent" as const),
    }),
    fc.uint8Array({ minLength: 100, maxLength: 100 }),
    fc.nat(2 ** 32 - 1),
    fc.nat(2 ** 32 - 1),
  ])("parse(emit(x)) == x", (repr, data, src, dst) => {
    const ph: PseudoHeader = { version: 4, src, dst };
    const buf = new Uint8Array(UDP_HEADER_LEN + repr.payloadLength);
    buf.set(data.subarray(0, repr.payloadLength), UDP_HEADER_LEN);
    Udp.emit(repr, buf, 0, ph);
    expect(Udp.parse(buf, 0, ph)).toEqual(repr);
  });
});
