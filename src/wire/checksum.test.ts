import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { internetChecksum, updateChecksum16, verifyChecksum } from "./checksum.ts";

// An IPv4 header from RFC 1071 style worked examples (checksum 0xb861).
const HDR = new Uint8Array([
  0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8,
  0x00, 0xc7,
]);

describe("internet checksum", () => {
  it("verifies a known header and recomputes its checksum", () => {
    expect(verifyChecksum(HDR, 0, 20)).toBe(true);
    const copy = HDR.slice();
    copy[10] = 0;
    copy[11] = 0;
    expect(internetChecksum(copy, 0, 20)).toBe(0xb861);
  });
  it("odd length pads with zero", () => {
    expect(internetChecksum(new Uint8Array([0x01]), 0, 1)).toBe(~0x0100 & 0xffff);
  });
  test.prop([
    fc.uint8Array({ minLength: 20, maxLength: 60 }),
    fc.integer({ min: 0, max: 9 }),
    fc.integer({ min: 0, max: 0xffff }),
  ])("RFC 1624 incremental update equals a full recompute", (bytes, wordIdx, newWord) => {
    const b = bytes.slice(0, bytes.length & ~1);
    const w = wordIdx * 2;
    b[10] = 0;
    b[11] = 0;
    const c0 = internetChecksum(b, 0, b.length);
    const old = (b[w] << 8) | b[w + 1];
    if (w === 10) return; // the checksum word itself
    b[w] = newWord >>> 8;
    b[w + 1] = newWord & 0xff;
    const full = internetChecksum(b, 0, b.length);
    const inc = updateChecksum16(c0, old, newWord);
    // 0x0000 and 0xffff are the same value in one's complement
    expect(inc === full || (inc ^ full) === 0xffff).toBe(true);
  });
});
