import { describe, expect, it } from "vitest";
import { StormClass, StormControl } from "./storm-control.ts";

describe("StormControl", () => {
  it("passes one second's worth at once, then the rate", () => {
    const s = new StormControl({ broadcastPps: 100 });
    let passed = 0;
    for (let i = 0; i < 1000; i++) if (s.admit(StormClass.broadcast, 0)) passed++;
    expect(passed).toBe(100);
    // 10 ms later: one more second's hundredth, i.e. 1 frame.
    expect(s.admit(StormClass.broadcast, 10e6)).toBe(true);
    expect(s.admit(StormClass.broadcast, 10e6)).toBe(false);
    // After a long pause the bucket is full again, never more.
    passed = 0;
    for (let i = 0; i < 1000; i++) if (s.admit(StormClass.broadcast, 10e9)) passed++;
    expect(passed).toBe(100);
  });

  it("limits only the configured classes", () => {
    const s = new StormControl({ multicastPps: 1 });
    for (let i = 0; i < 10; i++) expect(s.admit(StormClass.broadcast, 0)).toBe(true);
    expect(s.admit(StormClass.multicast, 0)).toBe(true);
    expect(s.admit(StormClass.multicast, 0)).toBe(false);
    expect(StormControl.isEmpty({})).toBe(true);
    expect(StormControl.isEmpty({ unknownUnicastPps: 5 })).toBe(false);
  });

  it("refuses a bad rate", () => {
    expect(() => new StormControl({ broadcastPps: 0 })).toThrow(RangeError);
  });
});
