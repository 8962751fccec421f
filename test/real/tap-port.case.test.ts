/**
 * The port-binding conformance suite (`test/port-binding/cases.ts`) against the real world's
 * binding: two TAP devices (`src/real/tap-port.ts`) whose kernel sides are ports of a Linux
 * bridge in a namespace made for the test, driven by the real-time world. Needs root and the
 * native addon; skips with one line otherwise.
 */

import { spawnSync } from "node:child_process";
import { describe } from "vitest";
import { loadNative } from "../../src/real/native.ts";
import { ipBatch, run } from "../../src/real/netns.ts";
import { RealtimeDriver } from "../../src/real/realtime.ts";
import { TapPort } from "../../src/real/tap-port.ts";
import { World } from "../../src/sim/world.ts";
import { type BindingPair, CollectingDevice, portBindingCases } from "../port-binding/cases.ts";

const native = loadNative();
const skipReason =
  process.getuid?.() !== 0 ? "needs root" : native === null ? "the native addon is not built" : undefined;
let serial = 0;

async function tapPair(): Promise<BindingPair> {
  if (native === null) throw new Error("no addon");
  const ns = `vnet-tapcase-${process.pid}-${serial}`;
  const names = [`vtc${process.pid % 10000}a${serial}`, `vtc${process.pid % 10000}b${serial}`];
  serial++;
  const world = new World({ seed: 1 });
  const devA = world.add(new CollectingDevice("a"));
  const devB = world.add(new CollectingDevice("b"));
  const driver = new RealtimeDriver(world);
  const taps = names.map((n) => native.tapOpen(n));
  const ports = [devA, devB].map(
    (dev, i) =>
      new TapPort(native, taps[i], driver, {
        device: dev,
        port: 0,
        endName: `${dev.name}:p0`,
        farName: `br0:${names[i]}`,
        captureName: null,
        mtu: 1500,
        hopKind: "vnic",
      }),
  );
  world.bindPort(devA, 0, ports[0]);
  world.bindPort(devB, 0, ports[1]);
  run("ip", ["netns", "add", ns]);
  run("ip", [
    "netns",
    "exec",
    ns,
    "sysctl",
    "-q",
    "-w",
    "net.ipv6.conf.all.disable_ipv6=1",
    "net.ipv6.conf.default.disable_ipv6=1",
  ]);
  for (const n of names) run("ip", ["link", "set", n, "netns", ns]);
  // A bridge that never learns floods every frame to the other port: a plain wire between TAPs.
  ipBatch(
    [
      "link add br0 type bridge ageing_time 0 stp_state 0 mcast_snooping 0",
      ...names.map((n) => `link set ${n} master br0 mtu 1500 up`),
      "link set br0 up",
    ],
    ns,
  );
  driver.start();
  return {
    a: ports[0],
    b: ports[1],
    devA,
    devB,
    mtu: 1500,
    now: () => driver.nowNs(),
    settle: async (dev, count) => {
      const until = Date.now() + (count === 0 ? 200 : 3000);
      while (dev.received.length < count && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
      if (count <= 1) await new Promise((r) => setTimeout(r, 50));
    },
    takeDown: () => ports[0].close(),
    close: async () => {
      driver.stop();
      for (const p of ports) p.close();
      spawnSync("ip", ["netns", "del", ns]);
    },
  };
}

describe.skipIf(skipReason !== undefined)("port binding: a TAP into the kernel", () => {
  portBindingCases(tapPair);
});

if (skipReason !== undefined) process.stderr.write(`TAP port binding cases: skipped (${skipReason})\n`);
