/**
 * The world's timeline hook: nothing is collected without a sink; with one, a device's own
 * events (`DeviceEnv.event`) arrive, a cable pulled gives a carrier event at each end (and at
 * the vswitch behind the NIC), a team's failover and a MAC flush are found by the port watch,
 * and telling a port what it already is gives no event.
 */

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { TimelineEvent } from "../dataplane/timeline.ts";
import { loadTopologyText } from "../model/load-text.ts";
import { buildWorld } from "./build.ts";
import { timelineWatch } from "./timeline-watch.ts";

const FAILOVER = readFileSync(
  fileURLToPath(new URL("../../test/scenarios/topologies/failover.yaml", import.meta.url)),
  "utf8",
);

function built() {
  const b = buildWorld(loadTopologyText(FAILOVER, "f.yaml").topology);
  b.world.start();
  b.world.runFor(1e6);
  return b;
}

describe("the timeline hook", () => {
  it("collects nothing without a sink, and a device's events with one", () => {
    const b = built();
    const tor1 = b.world.device("tor1")!;
    const env = b.world.envOf(tor1);
    const e: TimelineEvent = { timeNs: 5, device: "tor1", kind: "stp", text: "eth1 blocking", fields: {} };
    env.event?.(e); // nobody listens: dropped
    const seen: TimelineEvent[] = [];
    b.world.setTimelineSink((x) => seen.push(x));
    env.event?.(e);
    expect(seen).toEqual([e]);
  });

  it("a pulled cable: carrier at both ends and behind the NIC, the failover, the flush", () => {
    const b = built();
    const seen: TimelineEvent[] = [];
    const sink = (x: TimelineEvent) => seen.push(x);
    b.world.setTimelineSink(sink, timelineWatch(b, sink));
    const cable = b.world.links.find((l) => l.name === "server1:eth0<->tor1:eth1")!;
    b.world.setLinkUp(cable, false);
    expect(seen.map((x) => `${x.kind} ${x.text}`)).toEqual([
      "carrier server1:eth0 carrier down",
      "carrier server1/vs0:uplink:eth0 carrier down",
      "failover server1/vs0: web1 moved from uplink:eth0 to uplink:eth1",
      "carrier tor1:eth1 carrier down",
      "mac-flush tor1: 1 MAC entry flushed (eth1 down)",
    ]);
    seen.length = 0;
    b.world.setLinkUp(cable, false); // already down: no event
    expect(seen).toEqual([]);
    b.world.setTimelineSink(null);
    b.world.setLinkUp(cable, true);
    expect(seen).toEqual([]);
  });
});
