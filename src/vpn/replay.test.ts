import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { REPLAY_WINDOW_SIZE, ReplayWindow } from "./replay.ts";

describe("replay window (RFC 6479)", () => {
  it("is at least 2000 packets wide", () => {
    expect(REPLAY_WINDOW_SIZE).toBeGreaterThanOrEqual(2000);
    expect(REPLAY_WINDOW_SIZE).toBe(8160);
  });
  it("accepts in order and refuses duplicates", () => {
    const w = new ReplayWindow();
    for (let i = 0; i < 100; i++) expect(w.accept(i)).toBe(true);
    for (let i = 0; i < 100; i++) expect(w.accept(i)).toBe(false);
    expect(w.highest).toBe(99);
  });
  it("counter 0 is accepted once", () => {
    const w = new ReplayWindow();
    expect(w.isFresh(0)).toBe(true);
    expect(w.accept(0)).toBe(true);
    expect(w.isFresh(0)).toBe(false);
    expect(w.accept(0)).toBe(false);
  });
  it("accepts reordering inside the window, once each", () => {
    const w = new ReplayWindow();
    expect(w.accept(10)).toBe(true);
    expect(w.accept(5)).toBe(true);
    expect(w.accept(7)).toBe(true);
    expect(w.accept(5)).toBe(false);
    expect(w.accept(11)).toBe(true);
    expect(w.accept(0)).toBe(true);
    expect(w.accept(10)).toBe(false);
  });
  it("window edges: exactly REPLAY_WINDOW_SIZE - 1 behind is accepted, REPLAY_WINDOW_SIZE behind is not", () => {
    const top = 20_000;
    const w = new ReplayWindow();
    expect(w.accept(top)).toBe(true);
    expect(w.isFresh(top - REPLAY_WINDOW_SIZE)).toBe(false);
    expect(w.accept(top - REPLAY_WINDOW_SIZE)).toBe(false);
    expect(w.isFresh(top - REPLAY_WINDOW_SIZE + 1)).toBe(true);
    expect(w.accept(top - REPLAY_WINDOW_SIZE + 1)).toBe(true);
    expect(w.accept(top - REPLAY_WINDOW_SIZE + 1)).toBe(false);
    expect(w.accept(top - 2000)).toBe(true);
  });
  it("a far jump forgets the old window entirely", () => {
    const w = new ReplayWindow();
    for (let i = 0; i < 64; i++) w.accept(i);
    expect(w.accept(1_000_000)).toBe(true);
    expect(w.accept(63)).toBe(false); // too old now
    // The ring was cleared: counters just behind the jump are fresh, even where old bits lived.
    expect(w.accept(1_000_000 - 1)).toBe(true);
    expect(w.accept(1_000_000 - 8000)).toBe(true);
    expect(w.accept(1_000_000 - 8000)).toBe(false);
  });
  it("a jump by less than the ring clears only the blocks it slides over", () => {
    const w = new ReplayWindow();
    w.accept(100);
    w.accept(3000);
    expect(w.accept(100)).toBe(false);
    expect(w.accept(101)).toBe(true);
    w.accept(100 + 8192); // slides onto the ring slot where 100 lived
    expect(w.accept(100 + 8192 - 32)).toBe(true);
    expect(w.accept(3000)).toBe(false);
  });
  it("refuses counters at or above the limit, negative and non-integers", () => {
    const w = new ReplayWindow(1000);
    expect(w.accept(999)).toBe(true);
    expect(w.accept(1000)).toBe(false);
    expect(w.accept(-1)).toBe(false);
    expect(w.accept(1.5)).toBe(false);
    expect(new ReplayWindow().accept(2 ** 53)).toBe(false);
    expect(new ReplayWindow().accept(2 ** 53 - 1)).toBe(false);
    expect(new ReplayWindow().accept(2 ** 53 - 2)).toBe(true);
  });

  // Model check: a Set of every counter seen plus the window rule must agree with the bitmap.
  test.prop([fc.array(fc.integer({ min: 0, max: 40_000 }), { maxLength: 400 })])(
    "agrees with a set-based model",
    (counters) => {
      const w = new ReplayWindow();
      const seen = new Set<number>();
      let top = -1;
      for (const c of counters) {
        const want = !seen.has(c) && (c > top || top - c < REPLAY_WINDOW_SIZE);
        expect(w.accept(c)).toBe(want);
        if (want) {
          seen.add(c);
          top = Math.max(top, c);
        }
      }
    },
  );
});
