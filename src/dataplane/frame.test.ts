/**
 * Tests of the frame buffer (frame.ts): frames carved from shared slabs are zero-filled and
 * independent of each other, whatever their size, through clones, headroom growth and tags.
 */

import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { DEFAULT_HEADROOM, Frame } from "./frame.ts";

describe("frame buffers", () => {
  test.prop([fc.array(fc.integer({ min: 0, max: 20_000 }), { minLength: 1, maxLength: 60 })])(
    "every frame is zero-filled and writing one never changes another",
    (lengths) => {
      const frames = lengths.map((n) => Frame.alloc(n));
      frames.forEach((f, i) => {
        expect(f.length).toBe(lengths[i]);
        expect(f.start).toBe(DEFAULT_HEADROOM);
        expect(f.buf.every((x) => x === 0)).toBe(true);
        f.buf.fill((i % 255) + 1);
      });
      frames.forEach((f, i) => {
        expect(f.buf.every((x) => x === (i % 255) + 1)).toBe(true);
      });
    },
  );

  it("a clone is an independent copy with the same id", () => {
    const f = Frame.fromBytes(Uint8Array.from({ length: 60 }, (_, i) => i));
    const c = f.clone();
    expect(c.id).toBe(f.id);
    expect([...c.bytes()]).toEqual([...f.bytes()]);
    c.buf[c.start] = 0xff;
    expect(f.buf[f.start]).toBe(0);
    f.pushVlanTag(100);
    expect(c.length).toBe(60);
    expect(f.length).toBe(64);
  });

  it("grows its headroom without touching a neighbour carved from the same slab", () => {
    const a = Frame.alloc(60, 0);
    const b = Frame.alloc(60, 0);
    b.buf.fill(7);
    a.buf.fill(1);
    a.prepend(4);
    expect(a.length).toBe(64);
    expect([...a.bytes()].slice(4).every((x) => x === 1)).toBe(true);
    expect(b.buf.every((x) => x === 7)).toBe(true);
  });

  it("pads to a minimum with zeros, keeping its id, headroom and bytes, and its neighbours intact", () => {
    const arp = Frame.fromBytes(Uint8Array.from({ length: 42 }, (_, i) => i + 1));
    const neighbour = Frame.alloc(42);
    neighbour.buf.fill(9);
    const id = arp.id;
    arp.padTo(60);
    expect(arp.id).toBe(id);
    expect(arp.start).toBe(DEFAULT_HEADROOM);
    expect(arp.length).toBe(60);
    expect([...arp.bytes()]).toEqual([
      ...Array.from({ length: 42 }, (_, i) => i + 1),
      ...new Array(18).fill(0),
    ]);
    expect(neighbour.buf.every((x) => x === 9)).toBe(true);
    // Stale bytes in the tailroom (a frame cut short) are zeroed, not sent.
    const cut = Frame.fromBytes(new Uint8Array(80).fill(5));
    cut.end -= 30;
    cut.padTo(60);
    expect([...cut.bytes()].slice(50)).toEqual(new Array(10).fill(0));
    // Long enough already: nothing changes.
    const long = Frame.fromBytes(new Uint8Array(64).fill(3));
    const buf = long.buf;
    long.padTo(60);
    expect(long.length).toBe(64);
    expect(long.buf).toBe(buf);
  });
});
