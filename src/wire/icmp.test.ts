import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { parseIpv4 } from "./addr.ts";
import { WireError } from "./error.ts";
import {
  DestUnreachableCode,
  ICMP_HEADER_LEN,
  Icmpv4,
  type Icmpv4Repr,
  Icmpv4Type,
  TimeExceededCode,
} from "./icmp.ts";
import { IpProtocol, Ipv4Header, type Ipv4Repr } from "./ipv4.ts";

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

// Echo request id 0x0a0b seq 1, 8 data bytes (tshark: checksum 0xa1a3 [correct]).
const ECHO = hex("0800 a1a3 0a0b 0001 1011 1213 1415 1617");
// Time exceeded from 10.0.0.254 for a traceroute probe 10.0.0.1:54321 -> 8.8.8.8:33434 with TTL 1
// (tshark: checksum 0x8bd7 [correct], quoted header checksum 0x5277 [correct]). ICMP at offset 20.
const TIME_EXCEEDED = hex(
  "4500 0038 0001 0000 4001 65c6 0a00 00fe 0a00 0001" +
    "0b00 8bd7 0000 0000 4500 003c 4d2a 0000 0111 5277 0a00 0001 0808 0808 d431 829a 0028 1234",
);
// Fragmentation needed, next-hop MTU 1400, quoting a 1500-byte DF TCP segment to 10.0.1.2:443
// (tshark: code 4, "MTU of next hop: 1400", checksum 0x1522 [correct]). ICMP at offset 20.
const FRAG_NEEDED = hex(
  "4500 0038 0002 0000 4001 65c5 0a00 00fe 0a00 0001" +
    "0304 1522 0000 0578 4500 05dc beef 4000 3f06 622a 0a00 0001 0a00 0102 9c40 01bb 1122 3344",
);

const PROBE: Ipv4Repr = {
  dscp: 0,
  ecn: 0,
  ident: 0x4d2a,
  dontFragment: false,
  moreFragments: false,
  fragmentOffsetBytes: 0,
  ttl: 1,
  protocol: IpProtocol.UDP,
  src: parseIpv4("10.0.0.1"),
  dst: parseIpv4("8.8.8.8"),
  options: new Uint8Array(0),
  payloadLength: 40,
  checksumValid: true,
};

describe("icmpv4", () => {
  it("deconstruct", () => {
    expect(Icmpv4.type(ECHO)).toBe(Icmpv4Type.EchoRequest);
    expect(Icmpv4.code(ECHO)).toBe(0);
    expect(Icmpv4.checksum(ECHO)).toBe(0xa1a3);
    expect(Icmpv4.ident(ECHO)).toBe(0x0a0b);
    expect(Icmpv4.seq(ECHO)).toBe(1);
    expect(Icmpv4.isChecksumValid(ECHO, 0, ECHO.length)).toBe(true);
    expect(Icmpv4.type(FRAG_NEEDED, 20)).toBe(Icmpv4Type.DestUnreachable);
    expect(Icmpv4.code(FRAG_NEEDED, 20)).toBe(DestUnreachableCode.FragmentationNeeded);
    expect(Icmpv4.nextHopMtu(FRAG_NEEDED, 20)).toBe(1400);
    expect(Icmpv4.isChecksumValid(FRAG_NEEDED, 20, 36)).toBe(true);
  });
  it("construct", () => {
    const buf = new Uint8Array(ECHO.length);
    Icmpv4.setType(buf, 0, Icmpv4Type.EchoRequest);
    Icmpv4.setCode(buf, 0, 0);
    Icmpv4.setIdent(buf, 0, 0x0a0b);
    Icmpv4.setSeq(buf, 0, 1);
    buf.set(ECHO.subarray(8), 8);
    Icmpv4.fillChecksum(buf, 0, buf.length);
    expect(buf).toEqual(ECHO);
  });
  it("echo request to reply in place (RFC 1624)", () => {
    const b = ECHO.slice();
    Icmpv4.echoRequestToReply(b);
    expect(Icmpv4.type(b)).toBe(Icmpv4Type.EchoReply);
    expect(Icmpv4.isChecksumValid(b, 0, b.length)).toBe(true);
    expect(Icmpv4.checksum(b)).toBe(0xa9a3);
  });
  it("parse", () => {
    expect(Icmpv4.parse(ECHO)).toEqual({
      kind: "echo-request",
      code: 0,
      ident: 0x0a0b,
      seq: 1,
      data: hex("1011 1213 1415 1617"),
      checksumValid: true,
    });
    expect(Icmpv4.parse(TIME_EXCEEDED, 20)).toEqual({
      kind: "time-exceeded",
      code: TimeExceededCode.TtlExceeded,
      original: PROBE,
      originalData: hex("d431 829a 0028 1234"),
      checksumValid: true,
    });
    const fn = Icmpv4.parse(FRAG_NEEDED, 20, 36);
    expect(fn.kind).toBe("dest-unreachable");
    if (fn.kind !== "dest-unreachable") return;
    expect(fn.code).toBe(4);
    expect(fn.nextHopMtu).toBe(1400);
    expect(fn.original.payloadLength).toBe(1480);
    expect(fn.original.dontFragment).toBe(true);
    expect(fn.original.protocol).toBe(IpProtocol.TCP);
    expect(fn.original.dst).toBe(parseIpv4("10.0.1.2"));
    expect(fn.originalData).toEqual(hex("9c40 01bb 1122 3344"));
  });
  it("reports a bad checksum", () => {
    const b = ECHO.slice();
    b[15] ^= 0xff;
    expect(Icmpv4.parse(b).checksumValid).toBe(false);
  });
  it("emit", () => {
    const buf = new Uint8Array(36);
    const repr = Icmpv4.parse(TIME_EXCEEDED, 20);
    expect(Icmpv4.emit(repr, buf)).toBe(36);
    expect(buf).toEqual(TIME_EXCEEDED.subarray(20));
    const fn = Icmpv4.parse(FRAG_NEEDED, 20);
    expect(Icmpv4.emit(fn, buf)).toBe(36);
    expect(buf).toEqual(FRAG_NEEDED.subarray(20));
    expect(Icmpv4.emit(Icmpv4.parse(ECHO), buf, 3)).toBe(16);
    expect(buf.subarray(3, 19)).toEqual(ECHO);
  });
  it("emitError quotes the offending datagram verbatim, like a router", () => {
    // the probe as it arrived at the router: 28 bytes of header + UDP header
    const probe = TIME_EXCEEDED.subarray(28);
    const buf = new Uint8Array(36);
    const n = Icmpv4.emitError(buf, 0, Icmpv4Type.TimeExceeded, 0, 0, probe, 0, 28);
    expect(n).toBe(36);
    expect(buf).toEqual(TIME_EXCEEDED.subarray(20));
    const m = Icmpv4.emitError(buf, 0, Icmpv4Type.DestUnreachable, 4, 1400, FRAG_NEEDED, 28, 28);
    expect(m).toBe(36);
    expect(buf).toEqual(FRAG_NEEDED.subarray(20));
  });
  it("impossible length", () => {
    let e = wireError(() => Icmpv4.parse(ECHO.subarray(0, 7)));
    expect(e.code).toBe("truncated");
    // a length beyond the buffer
    e = wireError(() => Icmpv4.parse(ECHO, 0, 17));
    expect(e.code).toBe("truncated");
    // quote cut inside the UDP header: 7 of the 8 bytes RFC 792 requires
    e = wireError(() => Icmpv4.parse(TIME_EXCEEDED, 20, 35));
    expect(e.code).toBe("truncated");
    // quote cut inside the IP header
    e = wireError(() => Icmpv4.parse(TIME_EXCEEDED, 20, 20));
    expect(e.code).toBe("truncated");
    // a quoted header that is not IPv4
    const b = TIME_EXCEEDED.slice();
    b[28] = 0x60;
    e = wireError(() => Icmpv4.parse(b, 20));
    expect(e.code).toBe("bad-version");
    expect(e.offset).toBe(28);
  });
  it("refuses undefined error codes", () => {
    const b = FRAG_NEEDED.slice();
    b[21] = 16;
    const e = wireError(() => Icmpv4.parse(b, 20));
    expect(e.code).toBe("bad-value");
    expect(e.offset).toBe(21);
  });
  it("parses any other type generically", () => {
    const ts = hex("0d00 0000 1234 0001 0000 0000 0000 0000 0000 0000");
    Icmpv4.fillChecksum(ts, 0, ts.length);
    const r = Icmpv4.parse(ts);
    expect(r).toMatchObject({
      kind: "other",
      type: 13,
      code: 0,
      restOfHeader: 0x12340001,
      checksumValid: true,
    });
  });

  test.prop([fc.uint8Array({ maxLength: 96 }), fc.nat(8)])(
    "random bytes parse or raise WireError",
    (bytes, at) => {
      try {
        Icmpv4.parse(bytes, at);
      } catch (e) {
        expect(e).toBeInstanceOf(WireError);
      }
    },
  );

  const ipRepr = fc.record({
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
      .integer({ min: 0, max: 3 })
      .chain((w) => fc.uint8Array({ minLength: 4 * w, maxLength: 4 * w })),
    payloadLength: fc.integer({ min: 8, max: 1400 }),
    checksumValid: fc.constant(true),
  });
  const quote = fc.record({ original: ipRepr, originalData: fc.uint8Array({ minLength: 8, maxLength: 40 }) });
  const u16 = fc.integer({ min: 0, max: 0xffff });
  const arbRepr: fc.Arbitrary<Icmpv4Repr> = fc.oneof(
    fc.record({
      kind: fc.constantFrom("echo-request" as const, "echo-reply" as const),
      code: fc.integer({ min: 0, max: 255 }),
      ident: u16,
      seq: u16,
      data: fc.uint8Array({ maxLength: 64 }),
      checksumValid: fc.constant(true),
    }),
    fc.record({ code: fc.integer({ min: 0, max: 15 }), mtu: u16, q: quote }).map(({ code, mtu, q }) => ({
      kind: "dest-unreachable" as const,
      code,
      nextHopMtu: code === 4 ? mtu : 0,
      checksumValid: true,
      ...q,
    })),
    fc
      .record({ code: fc.integer({ min: 0, max: 1 }), q: quote })
      .map(({ code, q }) => ({ kind: "time-exceeded" as const, code, checksumValid: true, ...q })),
    fc.record({ code: fc.integer({ min: 0, max: 3 }), gateway: fc.nat(2 ** 32 - 1), q: quote }).map((r) => ({
      kind: "redirect" as const,
      code: r.code,
      gateway: r.gateway,
      checksumValid: true,
      ...r.q,
    })),
    fc.record({ code: fc.integer({ min: 0, max: 2 }), pointer: fc.nat(255), q: quote }).map((r) => ({
      kind: "parameter-problem" as const,
      code: r.code,
      pointer: r.pointer,
      checksumValid: true,
      ...r.q,
    })),
    fc.record({
      kind: fc.constant("other" as const),
      type: fc.constantFrom(9, 10, 13, 14, 40, 42, 43, 200),
      code: fc.nat(255),
      restOfHeader: fc.nat(2 ** 32 - 1),
      data: fc.uint8Array({ maxLength: 32 }),
      checksumValid: fc.constant(true),
    }),
  );
  test.prop([arbRepr])("parse(emit(x)) == x", (repr) => {
    const buf = new Uint8Array(Icmpv4.lengthOf(repr));
    expect(Icmpv4.emit(repr, buf)).toBe(buf.length);
    expect(buf.length).toBeGreaterThanOrEqual(ICMP_HEADER_LEN);
    expect(Icmpv4.parse(buf)).toEqual(repr);
  });
  it("a quoted header is parsed with the original's length, not the quote's", () => {
    expect(Ipv4Header.parseQuoted(FRAG_NEEDED, 28).payloadLength).toBe(1480);
  });
});
