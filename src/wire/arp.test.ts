import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { parseIpv4, parseMac } from "./addr.ts";
import { ARP_LEN, Arp, ArpOp, type ArpRepr } from "./arp.ts";
import { WireError } from "./error.ts";

// An ARP reply as tshark decodes it: 192.168.10.12 is at 02:00:00:00:00:02, to 192.168.10.11.
const REPLY = new Uint8Array([
  0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0xc0, 0xa8, 0x0a, 0x0c,
  0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0xc0, 0xa8, 0x0a, 0x0b,
]);
// The matching request, behind a 3-byte prefix to exercise offsets (target MAC zero per RFC 826).
const REQUEST = new Uint8Array([
  0xee, 0xee, 0xee, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0xc0,
  0xa8, 0x0a, 0x0b, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0xa8, 0x0a, 0x0c,
]);

const REPLY_REPR: ArpRepr = {
  op: ArpOp.Reply,
  senderMac: parseMac("02:00:00:00:00:02"),
  senderIp: parseIpv4("192.168.10.12"),
  targetMac: parseMac("02:00:00:00:00:01"),
  targetIp: parseIpv4("192.168.10.11"),
};

function wireError(fn: () => unknown): WireError {
  try {
    fn();
  } catch (e) {
    if (e instanceof WireError) return e;
    throw e;
  }
  throw new Error("expected a WireError");
}

describe("arp", () => {
  it("deconstruct", () => {
    expect(Arp.hardwareType(REPLY)).toBe(1);
    expect(Arp.protocolType(REPLY)).toBe(0x0800);
    expect(Arp.hardwareLen(REPLY)).toBe(6);
    expect(Arp.protocolLen(REPLY)).toBe(4);
    expect(Arp.op(REPLY)).toBe(ArpOp.Reply);
    expect(Arp.senderMac(REPLY)).toBe(parseMac("02:00:00:00:00:02"));
    expect(Arp.senderIp(REPLY)).toBe(parseIpv4("192.168.10.12"));
    expect(Arp.targetMac(REPLY)).toBe(parseMac("02:00:00:00:00:01"));
    expect(Arp.targetIp(REPLY)).toBe(parseIpv4("192.168.10.11"));
    expect(Arp.op(REQUEST, 3)).toBe(ArpOp.Request);
    expect(Arp.targetIp(REQUEST, 3)).toBe(parseIpv4("192.168.10.12"));
  });
  it("construct", () => {
    const buf = new Uint8Array(ARP_LEN);
    Arp.setEthernetIpv4(buf, 0);
    Arp.setOp(buf, 0, ArpOp.Reply);
    Arp.setSenderMac(buf, 0, parseMac("02:00:00:00:00:02"));
    Arp.setSenderIp(buf, 0, parseIpv4("192.168.10.12"));
    Arp.setTargetMac(buf, 0, parseMac("02:00:00:00:00:01"));
    Arp.setTargetIp(buf, 0, parseIpv4("192.168.10.11"));
    expect(buf).toEqual(REPLY);
  });
  it("parse", () => {
    expect(Arp.parse(REPLY)).toEqual(REPLY_REPR);
    expect(Arp.parse(REQUEST, 3)).toEqual({
      op: ArpOp.Request,
      senderMac: parseMac("02:00:00:00:00:01"),
      senderIp: parseIpv4("192.168.10.11"),
      targetMac: 0,
      targetIp: parseIpv4("192.168.10.12"),
    });
  });
  it("emit", () => {
    const buf = new Uint8Array(ARP_LEN + 2);
    expect(Arp.emit(REPLY_REPR, buf, 2)).toBe(ARP_LEN);
    expect(buf.subarray(2)).toEqual(REPLY);
    expect(wireError(() => Arp.emit(REPLY_REPR, buf, 3)).code).toBe("truncated");
  });
  it("impossible length", () => {
    const e = wireError(() => Arp.parse(REPLY.subarray(0, 27)));
    expect(e.code).toBe("truncated");
    expect(e.offset).toBe(0);
  });
  it("refuses what is not Ethernet/IPv4 request or reply", () => {
    const cases: [number, number, string, number][] = [
      [1, 6, "unsupported", 0], // IEEE 802 hardware type
      [3, 0x86, "unsupported", 2], // protocol type 0x86dd
      [4, 8, "bad-value", 4], // hardware length 8
      [5, 16, "bad-value", 5], // protocol length 16
      [7, 3, "unsupported", 6], // RARP request
    ];
    for (const [at, value, code, offset] of cases) {
      const b = REPLY.slice();
      b[at] = value;
      const e = wireError(() => Arp.parse(b));
      expect(e.code).toBe(code);
      expect(e.offset).toBe(offset);
    }
  });

  test.prop([fc.uint8Array({ maxLength: 40 }), fc.nat(40)])(
    "random bytes parse or raise WireError",
    (bytes, at) => {
      try {
        Arp.parse(bytes, at);
      } catch (e) {
        expect(e).toBeInstanceOf(WireError);
      }
    },
  );
  test.prop([
    fc.record({
      op: fc.constantFrom(ArpOp.Request, ArpOp.Reply),
      senderMac: fc.integer({ min: 0, max: 2 ** 48 - 1 }),
      senderIp: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
      targetMac: fc.integer({ min: 0, max: 2 ** 48 - 1 }),
      targetIp: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
    }),
  ])("parse(emit(x)) == x", (repr) => {
    const buf = new Uint8Array(ARP_LEN);
    Arp.emit(repr, buf);
    expect(Arp.parse(buf)).toEqual(repr);
  });
});
