/**
 * Scheduler tests: (time, sequence) ordering, cancellation, runUntil/runUntilIdle, growth, and
 * a model check against a plain sorted list with delays from 0 ns to past the timing wheel's
 * horizon (so events move between the current bucket, the wheel and the heap).
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

  /**
   * Model: every event is (time, sequence); the next to run is the least. Each event may schedule
   * children at its time plus a delay (0, sub-bucket, within the wheel, beyond it, far beyond) and
   * cancel an earlier handle; the run is cut into runUntil steps that may stop between buckets.
   */
  const delayArb = fc.oneof(
    fc.constant(0),
    fc.integer({ min: 1, max: 200 }),
    fc.integer({ min: 200, max: 300_000 }),
    fc.integer({ min: 300_000, max: 5_000_000 }),
    fc.constant(1e12),
  );
  test.prop([
    fc.array(fc.tuple(delayArb, fc.array(delayArb, { maxLength: 3 }), fc.nat(), fc.boolean()), {
      minLength: 1,
      maxLength: 120,
    }),
    fc.array(fc.integer({ min: 1, max: 2_000_000 }), { maxLength: 6 }),
  ])("matches a sorted-list model with nested scheduling, cancels and runUntil stops", (specs, steps) => {
    const s = new Scheduler(2);
    const got: number[] = [];
    const want: number[] = [];
    type Ev = { t: number; q: number; id: number; isCancelled: boolean; hasRun: boolean };
    const model: Ev[] = [];
    const handles: number[] = [];
    const evs: Ev[] = [];
    let q = 0;
    let nextId = 0;
    const add = (t: number, depth: number): void => {
      const id = nextId++;
      const spec = specs[id % specs.length];
      const ev: Ev = { t, q: q++, id, isCancelled: false, hasRun: false };
      model.push(ev);
      evs.push(ev);
      handles.push(
        s.at(t, (now) => {
          got.push(id);
          ev.hasRun = true;
          expect(now).toBe(t);
          if (depth < 3) for (const d of spec[1]) add(now + d, depth + 1);
          if (spec[3] && handles.length > 0) {
            const k = spec[2] % handles.length;
            s.cancel(handles[k]);
            if (!evs[k].hasRun) evs[k].isCancelled = true;
          }
        }),
      );
    };
    for (const [d] of specs) add(d, 0);
    const runModel = (until: number): void => {
      for (;;) {
        let best = -1;
        for (let i = 0; i < model.length; i++) {
          const e = model[i];
          if (best < 0 || e.t < model[best].t || (e.t === model[best].t && e.q < model[best].q)) best = i;
        }
        if (best < 0 || model[best].t > until) return;
        const [e] = model.splice(best, 1);
        if (!e.isCancelled) want.push(e.id);
      }
    };
    // The scheduler's callbacks add to the model as they run; the model is replayed at the end.
    let until = 0;
    for (const step of steps) {
      until += step;
      s.runUntil(until);
      expect(s.now()).toBe(until);
    }
    expect(s.runUntilIdle(100_000)).toBeLessThan(100_000);
    runModel(Number.POSITIVE_INFINITY);
    expect(got).toEqual(want);
  });
});
