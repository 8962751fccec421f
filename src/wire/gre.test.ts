/**
 * GRE (RFC 2784) from literal bytes: the 4-byte header, the optional checksum, the bits a
 * receiver must refuse (RFC 1701's, a version other than 0), and parse(emit(x)) == x; any byte
 * string parses or is refused with a WireError.
 */

import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { WireError } from "./error.ts";
import { Gre } from "./gre.ts";

const hex = (s: string) => Uint8Array.from(s.match(/../g) ?? [], (h) => Number.parseInt(h, 16));

describe("GRE", () => {
  it("reads the plain 4-byte header carrying IPv4", () => {
    const b = hex("00000800");
    expect(Gre.validate(b, 0)).toBe(4);
    expect(Gre.parse(b)).toEqual({ hasChecksum: false, checksumValid: true, protocolType: 0x0800 });
  });

  it("writes and verifies the checksum over header and payload", () => {
    const b = new Uint8Array(8 + 6);
    b.set([1, 2, 3, 4, 5, 6], 8);
    expect(Gre.emit({ hasChecksum: true, protocolType: 0x0800 }, b, 0, 6)).toBe(8);
    expect(b[0]).toBe(0x80);
    expect(Gre.parse(b).checksumValid).toBe(true);
    b[13] ^= 1;
    expect(Gre.parse(b).checksumValid).toBe(false);
  });

  it("refuses a version other than 0, RFC 1701 bits, and a cut header", () => {
    expect(() => Gre.validate(hex("00010800"), 0)).toThrow(expect.objectContaining({ code: "bad-version" }));
    expect(() => Gre.validate(hex("20000800"), 0)).toThrow(expect.objectContaining({ code: "unsupported" }));
    expect(() => Gre.validate(hex("0000"), 0)).toThrow(expect.objectContaining({ code: "truncated" }));
    expect(() => Gre.validate(hex("80000800"), 0)).toThrow(expect.objectContaining({ code: "truncated" }));
  });

  test.prop([fc.boolean(), fc.integer({ min: 0, max: 0xffff }), fc.uint8Array({ maxLength: 40 })])(
    "parse(emit(x)) == x",
    (hasChecksum, protocolType, payload) => {
      const hl = hasChecksum ? 8 : 4;
      const b = new Uint8Array(hl + payload.length);
      b.set(payload, hl);
      Gre.emit({ hasChecksum, protocolType }, b, 0, payload.length);
      expect(Gre.parse(b)).toEqual({ hasChecksum, checksumValid: true, protocolType });
    },
  );

  test.prop([fc.uint8Array({ maxLength: 16 })])(
    "any bytes parse or are refused with a WireError",
    (bytes) => {
      try {
        Gre.parse(bytes);
      } catch (e) {
        expect(e).toBeInstanceOf(WireError);
      }
    },
  );
});
