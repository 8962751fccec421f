/**
 * Scheduler tests: (time, sequence) ordering, cancellation, runUntil/runUntilIdle, growth.
 */
import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { Scheduler } from "./scheduler.ts";

describe("Scheduler", () => {
  it("runs events in time order, equal times in insertion order", () => {
    const s = new Scheduler(4);
    const seen: string[] = [];
    s.at(20, () => seen.push("c"));
    s.at(10, () => seen.push("a"));
    s.at(10, () => seen.push("b"));
    s.at(5, () => seen.push("first"));
    s.at(20, () => seen.push("d"));
    expect(s.runUntilIdle()).toBe(5);
    expect(seen).toEqual(["first", "a", "b", "c", "d"]);
    expect(s.now()).toBe(20);
  });

  it("hands each event its own time and lets events schedule more", () => {
    const s = new Scheduler(2);
    const times: number[] = [];
    s.after(3, (t) => {
      times.push(t);
      s.after(4, (t2) => times.push(t2));
      s.after(0, (t3) => times.push(t3));
    });
    s.runUntilIdle();
    expect(times).toEqual([3, 3, 7]);
  });

  it("skips cancelled events and ignores stale handles", () => {
    const s = new Scheduler(2);
    const seen: number[] = [];
    const h1 = s.at(1, () => seen.push(1));
    const h2 = s.at(2, () => seen.push(2));
    s.at(3, () => seen.push(3));
    s.cancel(h2);
    expect(s.runUntilIdle()).toBe(2);
    expect(seen).toEqual([1, 3]);
    // h1 already ran and its slot may be reused: cancelling it must not cancel the new event.
    s.at(10, () => seen.push(10));
    s.cancel(h1);
    s.runUntilIdle();
    expect(seen).toEqual([1, 3, 10]);
  });

  it("runUntil stops at the boundary (inclusive) and advances the clock", () => {
    const s = new Scheduler();
    const seen: number[] = [];
    for (const t of [5, 10, 15]) s.at(t, () => seen.push(t));
    expect(s.runUntil(10)).toBe(2);
    expect(seen).toEqual([5, 10]);
    expect(s.now()).toBe(10);
    s.runUntil(12);
    expect(s.now()).toBe(12);
    expect(s.nextTimeNs()).toBe(15);
  });

  it("runUntilIdle honours its limit", () => {
    const s = new Scheduler();
    const tick = () => s.after(1, tick);
    s.after(1, tick);
    expect(s.runUntilIdle(100)).toBe(100);
    expect(s.now()).toBe(100);
  });

  it("refuses to schedule in the past", () => {
    const s = new Scheduler();
    s.runUntil(50);
    expect(() => s.at(10, () => {})).toThrow(RangeError);
  });

  it("delivers target events with their arguments", () => {
    const s = new Scheduler();
    const got: [unknown, number, number][] = [];
    const target = { onEvent: (a: unknown, n: number, t: number) => got.push([a, n, t]) };
    s.schedule(7, target, "x", 3);
    s.runUntilIdle();
    expect(got).toEqual([["x", 3, 7]]);
  });

  test.prop([fc.array(fc.tuple(fc.integer({ min: 0, max: 50 }), fc.boolean()), { maxLength: 300 })])(
    "matches a stable sort by time, minus the cancelled",
    (events) => {
      const s = new Scheduler(1);
      const seen: number[] = [];
      const handles = events.map(([t], i) => s.at(t, () => seen.push(i)));
      events.forEach(([, isCancelled], i) => {
        if (isCancelled) s.cancel(handles[i]);
      });
      s.runUntilIdle();
      const expected = events
        .map(([t, c], i) => ({ t, c, i }))
        .filter((e) => !e.c)
        .sort((a, b) => a.t - b.t || a.i - b.i)
        .map((e) => e.i);
      expect(seen).toEqual(expected);
    },
  );
});
