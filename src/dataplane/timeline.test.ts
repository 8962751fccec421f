/** The timeline's events: times as `vnet run` prints them, a stable time order, one line each. */

import { describe, expect, it } from "vitest";
import { formatSeconds, formatTimeline, sortTimeline, type TimelineEvent } from "./timeline.ts";

const ev = (timeNs: number, kind: string, text: string): TimelineEvent => ({
  timeNs,
  device: "d",
  kind,
  text,
  fields: {},
});

describe("timeline", () => {
  it("prints times in seconds with milliseconds", () => {
    expect(formatSeconds(0)).toBe("0.000 s");
    expect(formatSeconds(2e9)).toBe("2.000 s");
    expect(formatSeconds(2_030_000_000)).toBe("2.030 s");
    expect(formatSeconds(123_456_789_012)).toBe("123.457 s");
  });

  it("sorts by time and keeps the order of events at one instant", () => {
    const events = [ev(3, "fault", "b"), ev(1, "fault", "a"), ev(3, "carrier", "c"), ev(2, "stp", "d")];
    expect(sortTimeline(events).map((e) => e.text)).toEqual(["a", "d", "b", "c"]);
    expect(events.map((e) => e.text)).toEqual(["b", "a", "c", "d"]); // not sorted in place
  });

  it("formats one aligned line per event; kinds it does not know (lacp, stp, ...) too", () => {
    expect(
      formatTimeline([
        ev(2e9, "failover", "vs0: vm1 moved from uplink:eth0 to uplink:eth1"),
        ev(1e9, "lacp", "x"),
      ]),
    ).toEqual([
      "    1.000 s  lacp       x",
      "    2.000 s  failover   vs0: vm1 moved from uplink:eth0 to uplink:eth1",
    ]);
  });
});
