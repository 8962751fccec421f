/**
 * The data center at scale, as a program (run by `bench/datacenter.bench.ts` in a child process
 * so its memory figures are its own; or directly: `node --expose-gc --import tsx
 * bench/datacenter.ts [--racks 40 --servers 20 --vms 20 --flows 200 --datagrams 2500 --seed 1
 * --repeat 1] [--mlag [--notify]] [--vxlan | --same-group] [--warmup-spread 20000]`).
 *
 * 1. Generates the topology file of a data center (by default 40 racks x 20 servers x 20 VMs =
 *    16,000 VMs, a ToR per rack, one core switch that routes between the port groups' VLANs),
 *    writes it to a temporary file, and loads it like a user's file (parse, validate, normalize).
 * 2. Builds the simulated world from it and reports the build time and memory (heapUsed, RSS).
 *    With `--mlag`, every rack is an MLAG leaf pair and every server LACP-bonded to it
 *    (`generateDatacenter({ mlag: true })`); the same VMs in the same order, so the same flows.
 *    With `--vxlan`, every port group is a VNI over a VTEP per vswitch on a routed leaf-spine
 *    (`generateDatacenter({ vxlan: true })`); VNIs are not routed to each other, so the flows
 *    are drawn within a port group, as `--same-group` draws them in the VLAN-only data center
 *    (same seed: the same pairs).
 * 3. Starts it quietly (no boot-time gratuitous ARP storm): only the switches and vswitches are
 *    started (their LACP and MLAG engines; without LAGs that does nothing), the VMs and gateways
 *    stay silent; then 2 s of simulated time pass so that LACP and MLAG settle (idle without
 *    LAGs; with them a few thousand LACPDUs and MLAG hellos). Quiet also means that a vswitch
 *    whose LACP team forms does not "notify switches" (one RARP per VM, flooded through its
 *    VLAN: 16,000 floods, tens of millions of frame-hops, and every VM's MAC then learned by
 *    every vswitch), just as the VMs do not announce themselves; `--notify` keeps those RARPs
 *    (vswitch `notifySwitches`, default true in a topology). Then it picks `flows` random VM pairs
 *    (seeded); each sends one UDP datagram to warm the ARP caches (the ARP broadcasts are
 *    flooded through the whole VLAN: reported as the warm-up phase).
 * 4. Steady state: every flow sends `datagrams` more UDP datagrams, 100 us apart, and the
 *    forwarding throughput is reported as frame-hops (one frame delivered over one link or
 *    internal connection to a device) per second of wall time and of this process's CPU time.
 *
 * Prints a JSON summary as its last line, for the bench file and BENCHMARKS.md.
 */

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DropCounters } from "../src/dataplane/counters.ts";
import { PhysicalSwitch } from "../src/dataplane/switch.ts";
import { Vswitch } from "../src/dataplane/vswitch.ts";
import { generateDatacenter } from "../src/model/generate.ts";
import { loadTopologyFile } from "../src/model/load.ts";
import { buildWorld } from "../src/sim/build.ts";
import { Rng } from "../src/sim/rng.ts";
import type { World } from "../src/sim/world.ts";
import { arg } from "./args.ts";

const racks = arg("racks", 40);
const serversPerRack = arg("servers", 20);
const vmsPerServer = arg("vms", 20);
const flowCount = arg("flows", 200);
const datagrams = arg("datagrams", 2500);
const seed = arg("seed", 1);
const mlag = process.argv.includes("--mlag");
const vxlan = process.argv.includes("--vxlan");
// Flows between VMs of one port group only: with --vxlan the VNIs are not routed to each other,
// so a VLAN-only run to compare with uses the same flag and gets the same flows.
const sameGroup = vxlan || process.argv.includes("--same-group");
const notify = process.argv.includes("--notify");
const gc = (globalThis as { gc?: () => void }).gc;

function mib(bytes: number): number {
  return Math.round(bytes / 1048576);
}

function memory(): { heapUsedMiB: number; rssMiB: number } {
  gc?.();
  const m = process.memoryUsage();
  return { heapUsedMiB: mib(m.heapUsed), rssMiB: mib(m.rss) };
}

/** Frames delivered by every link and internal connection so far. */
function frameHops(world: World): number {
  let n = 0;
  for (const l of world.links) n += l.counters[0].rxFrames + l.counters[1].rxFrames;
  return n;
}

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

const before = memory();
const t0 = performance.now();
const yaml = generateDatacenter({ racks, serversPerRack, vmsPerServer, mlag, vxlan });
const dir = mkdtempSync(join(tmpdir(), "vnet-dc-"));
const file = join(dir, "datacenter.yaml");
writeFileSync(file, yaml);
const t1 = performance.now();
const { topology } = loadTopologyFile(file);
rmSync(dir, { recursive: true, force: true });
if (!notify)
  for (const server of topology.servers)
    for (const vs of server.vswitches) {
      vs.teaming.notifySwitches = false;
      for (const pg of vs.portGroups) if (pg.teaming !== null) pg.teaming.notifySwitches = false;
    }
const t2 = performance.now();
const built = buildWorld(topology, { seed });
const t3 = performance.now();
const world = built.world;
world.startQuietly();
// The switching devices' protocols (LACP, MLAG) start; hosts and gateways stay quiet.
for (const d of world.devices) if (d instanceof PhysicalSwitch || d instanceof Vswitch) d.start(world.now());
const SETTLE_NS = 2e9;
world.runUntil(world.now() + SETTLE_NS);
// With --vxlan, the underlay's neighbour caches are warmed before the measured phases, as a
// running fabric has them: an ARP flood of the warm-up becomes one copy per remote VTEP (head-end
// replication, 799 at 16,000 VMs), and a VTEP (or a leaf, towards a spine) that still has to ARP
// for its next hop queues at most 101 packets for it and drops the rest. So every VTEP pings its
// gateway (the leaf's SVI), then, 1 ms later and 10 us apart, the VTEP of the same server slot in
// every other rack (which resolves the leaf-spine /31s both ways and the leaves' VTEPs).
let underlayPings = 0;
let underlayAnswered = 0;
if (vxlan) {
  const vteps = world.devices.flatMap((d) => (d instanceof Vswitch && d.vtep !== null ? [d.vtep] : []));
  const bySlot = new Map<string, number[]>();
  for (const server of topology.servers) {
    const vs = server.vswitches[0];
    const slot = server.name.replace(/^r[0-9]+/, "");
    const list = bySlot.get(slot);
    const ip = vs.vtep?.ip as number;
    if (list === undefined) bySlot.set(slot, [ip]);
    else list.push(ip);
  }
  const t = world.now();
  const ping = (vtep: (typeof vteps)[number], dst: number, at: number) => {
    const n = ++underlayPings;
    world.scheduler.at(at, (now) => {
      vtep.stack.ping(dst, { id: n & 0xffff, seq: 1, timeoutNs: 50_000_000 }, now, (r) => {
        if (r.kind === "reply") underlayAnswered++;
      });
    });
  };
  for (const vtep of vteps) ping(vtep, vtep.iface.gateway as number, t);
  const slots = [...bySlot.values()];
  for (const vtep of vteps) {
    const slot = slots.find((l) => l.includes(vtep.ip)) as number[];
    slot.forEach((dst, k) => {
      if (dst !== vtep.ip) ping(vtep, dst, t + 1_000_000 + k * 10_000);
    });
  }
  world.runUntil(t + 100_000_000);
}
const afterBuild = memory();
const vmCount = built.vms.size;
log(
  `data center${mlag ? " (MLAG leaf pairs, LACP-bonded servers)" : ""}${vxlan ? " (VNIs over VTEPs, routed leaf-spine)" : ""}${sameGroup ? " (flows within a port group)" : ""}${notify ? " (vswitches notify switches)" : ""}: ${racks} racks x ${serversPerRack} servers x ${vmsPerServer} VMs = ${vmCount} VMs, ` +
    `${world.devices.length} devices, ${world.links.length} links (${(yaml.length / 1e6).toFixed(1)} MB of YAML)`,
);
if (vxlan) log(`underlay warm-up: ${underlayAnswered}/${underlayPings} VTEP pings answered`);
log(
  `build: generate ${((t1 - t0) / 1000).toFixed(2)} s, load ${((t2 - t1) / 1000).toFixed(2)} s, ` +
    `build ${((t3 - t2) / 1000).toFixed(2)} s; heapUsed ${afterBuild.heapUsedMiB} MiB, RSS ${afterBuild.rssMiB} MiB ` +
    `(before: ${before.heapUsedMiB} / ${before.rssMiB})`,
);

// Random VM pairs (seeded), each with a UDP sink on the receiver.
const vms = [...built.vms.values()];
const rng = new Rng(seed);
const flows: { src: (typeof vms)[number]; dstIp: number; srcPort: number }[] = [];
const sinks = new Set<number>();
let received = 0;
const groupOf = (i: number) => {
  const a = vms[i].spec.nics[0].attachment;
  return a.kind === "portGroup" ? a.portGroup : "";
};
const members = new Map<string, number[]>();
vms.forEach((_, i) => {
  const g = groupOf(i);
  const list = members.get(g);
  if (list === undefined) members.set(g, [i]);
  else list.push(i);
});
for (let i = 0; i < flowCount; i++) {
  const a = rng.int(vms.length);
  let b: number;
  if (sameGroup) {
    const m = members.get(groupOf(a)) as number[];
    const k = m.indexOf(a);
    let j = rng.int(m.length - 1);
    if (j >= k) j++;
    b = m[j];
  } else {
    b = rng.int(vms.length - 1);
    if (b >= a) b++;
  }
  flows.push({ src: vms[a], dstIp: vms[b].spec.nics[0].ip, srcPort: 10_000 + (i % 50_000) });
  if (!sinks.has(b)) {
    sinks.add(b);
    vms[b].device.onUdp(9, () => {
      received++;
    });
  }
}

const PAYLOAD_BYTES = 100;
const INTERVAL_NS = 100_000;

/** Phase: every flow sends `count` datagrams, flow i offset by i ns, then the world drains. */
function phase(count: number, spreadNs = 1): { hops: number; wallS: number; cpuS: number; simMs: number } {
  const hops0 = frameHops(world);
  const sim0 = world.now();
  const cpu0 = process.cpuUsage();
  const w0 = performance.now();
  flows.forEach((f, i) => {
    let left = count;
    const send = (now: number) => {
      f.src.device.sendUdp(f.dstIp, f.srcPort, 9, PAYLOAD_BYTES, now);
      if (--left > 0) world.scheduler.after(INTERVAL_NS, send);
    };
    world.scheduler.at(sim0 + i * spreadNs, send);
  });
  world.runUntil(sim0 + count * INTERVAL_NS + flows.length * spreadNs + 10_000_000);
  const wallS = (performance.now() - w0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return {
    hops: frameHops(world) - hops0,
    wallS,
    cpuS: (cpu.user + cpu.system) / 1e6,
    simMs: (world.now() - sim0) / 1e6,
  };
}

// `--warmup-spread ns` starts flow i's first datagram at i x ns (default 1 ns: all at once). With
// VXLAN each ARP flood is 799 unicast copies (head-end replication), and 200 floods within 200 ns
// overrun the 1000-frame queues of the spine-to-leaf links; spreading them (20 us: 4 ms in all)
// lets every flood through. A paired VLAN-only run uses the same spread.
const warmupSpread = arg("warmup-spread", 1);
const warm = phase(1, warmupSpread);
log(
  `warm-up (first datagram of ${flowCount} flows, ARP flooded through each VLAN): ${warm.hops} frame-hops ` +
    `in ${warm.wallS.toFixed(2)} s wall, ${warm.cpuS.toFixed(2)} s CPU = ${(warm.hops / warm.wallS / 1e6).toFixed(2)} M frame-hops/s wall, ` +
    `${(warm.hops / warm.cpuS / 1e6).toFixed(2)} M/s CPU`,
);
const receivedWarm = received;
// `--repeat n` runs the steady phase n times (same flows) and reports the median by wall time;
// every run is printed, so the spread caused by a shared machine is visible.
const repeat = arg("repeat", 1);
const runs: ReturnType<typeof phase>[] = [];
for (let r = 0; r < repeat; r++) {
  const run = phase(datagrams);
  runs.push(run);
  if (repeat > 1)
    log(
      `  steady run ${r + 1}/${repeat}: ${(run.hops / run.wallS / 1e6).toFixed(2)} M frame-hops/s wall, ` +
        `${(run.hops / run.cpuS / 1e6).toFixed(2)} M/s CPU`,
    );
}
const steady = [...runs].sort((a, b) => a.hops / a.wallS - b.hops / b.wallS)[Math.floor(repeat / 2)];
const hopsPerSecWall = steady.hops / steady.wallS;
const hopsPerSecCpu = steady.hops / steady.cpuS;
const end = memory();
log(
  `steady state (${flowCount} flows x ${datagrams} UDP datagrams, ${steady.simMs.toFixed(1)} ms simulated): ` +
    `${steady.hops} frame-hops in ${steady.wallS.toFixed(2)} s wall, ${steady.cpuS.toFixed(2)} s CPU = ` +
    `${(hopsPerSecWall / 1e6).toFixed(2)} M frame-hops/s wall, ${(hopsPerSecCpu / 1e6).toFixed(2)} M/s CPU`,
);
log(
  `delivered ${received - receivedWarm}/${flowCount * datagrams * repeat} steady datagrams; ` +
    `heapUsed ${end.heapUsedMiB} MiB, RSS ${end.rssMiB} MiB at the end`,
);
// Where frames were dropped over the whole run (devices' and links' drop counters by code).
const dropped = new Map<string, number>();
const addDrops = (c: unknown) => {
  if (c instanceof DropCounters) for (const [k, n] of c.entries()) dropped.set(k, (dropped.get(k) ?? 0) + n);
};
for (const d of world.devices) addDrops((d as { drops?: unknown }).drops);
for (const l of world.links) addDrops(l.drops);
log(
  `drops: ${
    [...dropped]
      .sort((a, b) => b[1] - a[1])
      .map(([k, n]) => `${k} ${n}`)
      .join(", ") || "none"
  }`,
);
log(
  JSON.stringify({
    mlag,
    vxlan,
    sameGroup,
    warmupSpread,
    underlayPings,
    underlayAnswered,
    notify,
    vms: vmCount,
    devices: world.devices.length,
    links: world.links.length,
    loadS: +((t2 - t1) / 1000).toFixed(3),
    buildS: +((t3 - t2) / 1000).toFixed(3),
    heapUsedMiB: afterBuild.heapUsedMiB,
    rssMiB: afterBuild.rssMiB,
    warmupHops: warm.hops,
    warmupHopsPerSecWall: Math.round(warm.hops / warm.wallS),
    warmupHopsPerSecCpu: Math.round(warm.hops / warm.cpuS),
    steadyHops: steady.hops,
    hopsPerSecWall: Math.round(hopsPerSecWall),
    hopsPerSecCpu: Math.round(hopsPerSecCpu),
    endHeapUsedMiB: end.heapUsedMiB,
    endRssMiB: end.rssMiB,
    delivered: received - receivedWarm,
    sent: flowCount * datagrams * repeat,
  }),
);
