/**
 * The port-binding conformance suite (`test/port-binding/cases.ts`) against the real world's
 * binding: two TAP devices (`src/real/tap-port.ts`) whose kernel sides are ports of a Linux
 * bridge in a namespace made for the test, driven by the real-time world. Needs root and the
 * native addon; skips with one line otherwise.
 */

import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
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

/** Whether this kernel lets a process use io_uring (kernel.io_uring_disabled 0). */
function ioUringAllowed(): boolean {
  try {
    return readFileSync("/proc/sys/kernel/io_uring_disabled", "utf8").trim() === "0";
  } catch {
    return false;
  }
}

/**
 * Two TAP ports on a kernel bridge. `writer`: frames to the kernel go through a writer thread
 * (as in a lab) instead of a write() on the spot; `ioUring`: batched I/O (false sets
 * VNET_NO_IO_URING=1 while the ports are made, for one system call per frame).
 */
async function tapPair(writer: boolean, ioUring: boolean): Promise<BindingPair> {
  if (native === null) throw new Error("no addon");
  if (ioUring) delete process.env.VNET_NO_IO_URING;
  else process.env.VNET_NO_IO_URING = "1";
  const ns = `vnet-tapcase-${process.pid}-${serial}`;
  const names = [`vtc${process.pid % 10000}a${serial}`, `vtc${process.pid % 10000}b${serial}`];
  serial++;
  const world = new World({ seed: 1 });
  const devA = world.add(new CollectingDevice("a"));
  const devB = world.add(new CollectingDevice("b"));
  const driver = new RealtimeDriver(world);
  const taps = names.map((n) => native.tapOpen(n));
  const thread = writer ? new native.TapWriter(256, 1536, 2) : undefined;
  if (thread !== undefined) driver.afterTurn = () => thread.flush();
  const ports = [devA, devB].map(
    (dev, i) =>
      new TapPort(native, taps[i], driver, {
        writer: thread === undefined ? undefined : { thread, port: i, slotBytes: 1536, slots: 256 },
        device: dev,
        port: 0,
        endName: `${dev.name}:p0`,
        farName: `br0:${names[i]}`,
        captureName: null,
        mtu: 1500,
        hopKind: "vnic",
      }),
  );
  delete process.env.VNET_NO_IO_URING;
  const expected = ioUring && ioUringAllowed() ? "io_uring" : "read/write";
  for (const p of ports) {
    // Honest about what was measured: the suite ran over the I/O it names.
    if (p.io !== expected) throw new Error(`TAP I/O is ${p.io}, expected ${expected}`);
  }
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
      thread?.close();
      spawnSync("ip", ["netns", "del", ns]);
    },
  };
}

describe.skipIf(skipReason !== undefined)("port binding: a TAP into the kernel", () => {
  describe("io_uring batches, writes on the spot", () => portBindingCases(() => tapPair(false, true)));
  describe("io_uring batches, a writer thread", () => portBindingCases(() => tapPair(true, true)));
  describe("a system call per frame, writes on the spot", () =>
    portBindingCases(() => tapPair(false, false)));
  describe("a system call per frame, a writer thread", () => portBindingCases(() => tapPair(true, false)));
});

if (skipReason !== undefined) process.stderr.write(`TAP port binding cases: skipped (${skipReason})\n`);
