/**
 * The vnet side of `bench/ns3.bench.ts`: the data center `bench/ns3/datacenter.cc` builds in
 * ns-3, built in vnet, with the same traffic. Run by the bench in a child process (so its memory
 * is its own), or directly:
 *
 *   node --expose-gc --import tsx bench/ns3-vnet.ts --hosts 2000 --per-rack 40 --flows 200 \
 *     --datagrams 1000 [--repeat 3] [--pairs FILE] [--seed 1]
 *
 * Shape: `generateDatacenter()` with one VM per server (`vmsPerServer: 1`) and one port group
 * (`portGroups: 1`): `hosts / per-rack` racks of `per-rack` servers, each server's NIC on a cable
 * (25 Gb/s, 1 us) to its ToR, every ToR trunked (100 Gb/s, 2 us) to one core switch. One VLAN and
 * one subnet (10.1.0.0/16): a layer-2 domain as in the ns-3 program. A host is a VM: it reaches
 * its cable through its server's vswitch and NIC, as every VM does in vnet; a datagram between
 * racks is 8 frame-hops here (VM, vswitch, NIC, ToR, core, ToR, NIC, vswitch, VM) where ns-3's
 * host sits on the cable and makes 4. One VM per server keeps "a link per host to the ToR".
 * ARP is not prefilled; the world starts quietly (no boot-time gratuitous ARP, as ns-3 sends
 * none).
 *
 * Traffic: the flows of `--pairs FILE` ("src dst" host indexes, one per line; else drawn from
 * vnet's seeded `Rng`), 100-byte UDP datagrams to port 9, 100 us apart, the flows' starts spread
 * evenly over one interval (flow i at i * 100 us / flows), as the ns-3 program does. Warm-up:
 * one datagram per flow (each an ARP request flooded to every host); steady: `datagrams` per
 * flow, `--repeat` times (the run with the median wall-time rate is reported, all are listed);
 * with `--serve`, one steady phase per "run" line on standard input instead, as the ns-3
 * program's --serve; each phase runs until its last send plus 10 ms simulated, as there. A full
 * GC (with --expose-gc) runs between the warm-up and the steady runs (`--no-gc`: none).
 * Frame-hops are the links' receive counters (cables and internal connections).
 *
 * Prints one JSON line last (same keys as the ns-3 program's, plus cableHops).
 */

import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { generateDatacenter } from "../src/model/generate.ts";
import { loadTopologyText } from "../src/model/load.ts";
import { buildWorld } from "../src/sim/build.ts";
import { Rng } from "../src/sim/rng.ts";
import { arg } from "./args.ts";

const hosts = arg("hosts", 2000);
const perRack = arg("per-rack", 40);
const flowCount = arg("flows", 200);
const datagrams = arg("datagrams", 2500);
const seed = arg("seed", 1);
const payloadBytes = arg("payload", 100);
const intervalNs = arg("interval-us", 100) * 1000;
const pairsIndex = process.argv.indexOf("--pairs");
const pairsFile = pairsIndex >= 0 ? process.argv[pairsIndex + 1] : undefined;
if (hosts % perRack !== 0) throw new Error("--hosts must be a multiple of --per-rack");
const gc = (globalThis as { gc?: () => void }).gc;

function statusMiB(key: string): number {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(readFileSync("/proc/self/status", "utf8"));
  return m ? Math.round(Number(m[1]) / 1024) : -1;
}

const t0 = performance.now();
const racks = hosts / perRack;
const yaml = generateDatacenter({
  racks,
  serversPerRack: perRack,
  vmsPerServer: 1,
  portGroups: 1,
  name: "ns3-peer",
});
const { topology } = loadTopologyText(yaml, "ns3-peer.yaml");
const built = buildWorld(topology, { seed });
const world = built.world;
world.startQuietly();
const vms = [...built.vms.values()];
if (vms.length !== hosts) throw new Error(`built ${vms.length} VMs, expected ${hosts}`);

let pairs: [number, number][];
if (pairsFile !== undefined) {
  pairs = readFileSync(pairsFile, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => {
      const [a, b] = l.trim().split(/\s+/).map(Number);
      if (!(a >= 0 && a < hosts && b >= 0 && b < hosts && a !== b)) throw new Error(`bad pair: ${l}`);
      return [a, b];
    });
} else {
  const rng = new Rng(seed);
  pairs = [];
  for (let i = 0; i < flowCount; i++) {
    const a = rng.int(hosts);
    let b = rng.int(hosts - 1);
    if (b >= a) b++;
    pairs.push([a, b]);
  }
}

let delivered = 0;
const sinks = new Set<number>();
const flows = pairs.map(([a, b], i) => {
  if (!sinks.has(b)) {
    sinks.add(b);
    vms[b].device.onUdp(9, () => {
      delivered++;
    });
  }
  return { src: vms[a].device, dstIp: vms[b].spec.nics[0].ip, srcPort: 10_000 + (i % 50_000) };
});
const t1 = performance.now();
gc?.();
const buildRssMiB = statusMiB("VmRSS");

let cableHopsTotal = 0;
function frameHops(): number {
  let n = 0;
  let cables = 0;
  for (const l of world.links) {
    const h = l.counters[0].rxFrames + l.counters[1].rxFrames;
    n += h;
    if (!l.isInternal) cables += h;
  }
  cableHopsTotal = cables;
  return n;
}

function phase(count: number) {
  const hops0 = frameHops();
  const cables0 = cableHopsTotal;
  const delivered0 = delivered;
  const sim0 = world.now();
  const spacingNs = Math.floor(intervalNs / flows.length);
  const cpu0 = process.cpuUsage();
  const w0 = performance.now();
  flows.forEach((f, i) => {
    let left = count;
    const send = (now: number) => {
      f.src.sendUdp(f.dstIp, f.srcPort, 9, payloadBytes, now);
      if (--left > 0) world.scheduler.after(intervalNs, send);
    };
    world.scheduler.at(sim0 + i * spacingNs, send);
  });
  world.runUntil(sim0 + count * intervalNs + 10_000_000);
  const wallSeconds = (performance.now() - w0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const hops = frameHops() - hops0;
  return {
    frameHops: hops,
    cableHops: cableHopsTotal - cables0,
    wallSeconds: +wallSeconds.toFixed(3),
    cpuSeconds: +((cpu.user + cpu.system) / 1e6).toFixed(3),
    simSeconds: (world.now() - sim0) / 1e9,
    delivered: delivered - delivered0,
  };
}

const warmup = phase(1);
// The warm-up's flood clones are garbage now: collect them before the steady phase, so that the
// steady figure is not charged for the warm-up (ns-3 frees as it goes).
if (!process.argv.includes("--no-gc")) gc?.();
const runs: ReturnType<typeof phase>[] = [];
if (process.argv.includes("--serve")) {
  // The bench alternates ns-3's and vnet's steady phases: a "ready" line after the warm-up,
  // then one steady phase per "run" line read from standard input, each answered by a line.
  const ready = { event: "ready", buildSeconds: +((t1 - t0) / 1000).toFixed(3), warmup };
  process.stdout.write(`${JSON.stringify(ready)}\n`);
  for await (const line of createInterface({ input: process.stdin })) {
    if (line !== "run") break;
    const r = phase(datagrams);
    runs.push(r);
    process.stdout.write(`${JSON.stringify({ event: "run", ...r })}\n`);
  }
} else {
  const repeat = arg("repeat", 1);
  for (let r = 0; r < repeat; r++) runs.push(phase(datagrams));
}
if (runs.length === 0) runs.push({ ...warmup, frameHops: 0, cableHops: 0, delivered: 0 });
const steady = [...runs].sort((a, b) => a.frameHops / a.wallSeconds - b.frameHops / b.wallSeconds)[
  Math.floor(runs.length / 2)
];
const rssMiB = statusMiB("VmRSS");
const peakRssMiB = statusMiB("VmHWM");
process.stdout.write(
  `${JSON.stringify({
    sim: "vnet",
    hosts,
    racks,
    perRack,
    devices: world.devices.length,
    links: world.links.length,
    flows: flows.length,
    datagrams,
    buildSeconds: +((t1 - t0) / 1000).toFixed(3),
    buildRssMiB,
    warmup,
    ...steady,
    sent: flows.length * datagrams,
    rssMiB,
    peakRssMiB,
    runs: runs.map((r) => ({ frameHops: r.frameHops, wallSeconds: r.wallSeconds, cpuSeconds: r.cpuSeconds })),
  })}\n`,
);
