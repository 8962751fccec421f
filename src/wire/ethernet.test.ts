import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { parseMac } from "./addr.ts";
import { WireError } from "./error.ts";
import { ETHERNET_HEADER_LEN, Ethernet, EtherType } from "./ethernet.ts";

// dst 02:00:00:00:00:02, src 02:00:00:00:00:01, IPv4, then 4 payload bytes
const FRAME = new Uint8Array([
  0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00, 0xaa, 0xbb, 0xcc, 0xdd,
]);

describe("ethernet", () => {
  it("deconstruct", () => {
    expect(Ethernet.dst(FRAME)).toBe(parseMac("02:00:00:00:00:02"));
    expect(Ethernet.src(FRAME)).toBe(parseMac("02:00:00:00:00:01"));
    expect(Ethernet.etherType(FRAME)).toBe(EtherType.IPv4);
  });
  it("construct", () => {
    const buf = new Uint8Array(18);
    Ethernet.setDst(buf, 0, parseMac("02:00:00:00:00:02"));
    Ethernet.setSrc(buf, 0, parseMac("02:00:00:00:00:01"));
    Ethernet.setEtherType(buf, 0, EtherType.IPv4);
    buf.set([0xaa, 0xbb, 0xcc, 0xdd], 14);
    expect(buf).toEqual(FRAME);
  });
  it("parse", () => {
    expect(Ethernet.parse(FRAME)).toEqual({
      dst: parseMac("02:00:00:00:00:02"),
      src: parseMac("02:00:00:00:00:01"),
      etherType: 0x0800,
    });
  });
  it("emit", () => {
    const buf = new Uint8Array(ETHERNET_HEADER_LEN);
    expect(Ethernet.emit(Ethernet.parse(FRAME), buf)).toBe(14);
    expect(buf).toEqual(FRAME.subarray(0, 14));
  });
  it("impossible length", () => {
    const err = (() => {
      try {
        Ethernet.parse(FRAME.subarray(0, 13));
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(WireError);
    expect((err as WireError).code).toBe("truncated");
  });

  test.prop([fc.uint8Array({ maxLength: 64 })])("random bytes parse or raise WireError", (bytes) => {
    try {
      Ethernet.parse(bytes);
    } catch (e) {
      expect(e).toBeInstanceOf(WireError);
    }
  });
  test.prop([
    fc.record({
      dst: fc.integer({ min: 0, max: 2 ** 48 - 1 }),
      src: fc.integer({ min: 0, max: 2 ** 48 - 1 }),
      etherType: fc.integer({ min: 0, max: 0xffff }),
    }),
  ])("parse(emit(x)) == x", (repr) => {
    const buf = new Uint8Array(ETHERNET_HEADER_LEN);
    Ethernet.emit(repr, buf);
    expect(Ethernet.parse(buf)).toEqual(repr);
  });
});
