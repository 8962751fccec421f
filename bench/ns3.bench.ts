/**
 * vnet against ns-3, side by side in one run (`npm run bench -- ns3`): the same data center and
 * the same traffic in both simulators, at 2,000 and 16,000 hosts, and the ratio of their rates.
 *
 * - ns-3: `bench/ns3/datacenter.cc` against the system's ns-3 (Debian: `apt-get install
 *   libns3-dev`, 3.37), compiled on first use with g++ -O2 into the git-ignored
 *   `tmp/ns3-build/<hash>/` (`bench/ns3-build.ts`). Without g++ or ns-3's headers the bench
 *   prints one line and skips.
 * - vnet: `bench/ns3-vnet.ts` (the generated data center with one VM per server, one VLAN).
 *
 * Both get the same host pairs (drawn here from vnet's seeded Rng, passed as a file). Each
 * simulator runs in its own process: ns-3 builds its world and runs the warm-up (one datagram
 * per flow: the ARP floods), then vnet does, one after the other; then the two take turns, one
 * steady phase at a time (VNET_NS3_ROUNDS rounds, the order swapped every round), the other
 * process idle meanwhile. Each round's two phases run minutes apart at most, so the ratio of a
 * round is measured under the same machine conditions; the figure given is the median over
 * rounds (this machine is shared, and a whole process's rate swings 2x with the load).
 *
 * Rates are frame-hops (a frame delivered to a device over a link or internal connection) per
 * second of a steady phase, by wall time and by the process's CPU time; also datagrams
 * delivered per wall second, which is the same work in both, because a vnet host is a VM behind
 * a vswitch and a NIC (8 frame-hops per datagram between racks) where an ns-3 host sits on the
 * cable (4).
 *
 * Environment: VNET_NS3_SIZES="2000 16000" (hosts, multiples of 40), VNET_NS3_DATAGRAMS=1000
 * (per flow and steady phase), VNET_NS3_ROUNDS=5, VNET_NS3_FLOWS=200,
 * VNET_NS3_SCHEDULER=ns3::MapScheduler (ns-3's default).
 */

import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { Rng } from "../src/sim/rng.ts";
import { buildNs3Program, ns3Missing } from "./ns3-build.ts";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
const buildRoot = join(root, "tmp", "ns3-build");

const HOSTS_PER_RACK = 40;
const sizes = (process.env.VNET_NS3_SIZES ?? "2000 16000")
  .split(/[\s,]+/)
  .filter(Boolean)
  .map(Number);
const datagrams = Number(process.env.VNET_NS3_DATAGRAMS ?? 1000);
const rounds = Number(process.env.VNET_NS3_ROUNDS ?? 5);
const flowCount = Number(process.env.VNET_NS3_FLOWS ?? 200);
const scheduler = process.env.VNET_NS3_SCHEDULER ?? "ns3::MapScheduler";

/** The `flows` host pairs for `hosts` hosts, drawn as bench/datacenter.ts draws VM pairs. */
function writePairs(hosts: number): string {
  const rng = new Rng(1);
  const lines: string[] = [];
  for (let i = 0; i < flowCount; i++) {
    const a = rng.int(hosts);
    let b = rng.int(hosts - 1);
    if (b >= a) b++;
    lines.push(`${a} ${b}`);
  }
  mkdirSync(buildRoot, { recursive: true });
  const file = join(buildRoot, `pairs-${hosts}-${flowCount}.txt`);
  writeFileSync(file, `${lines.join("\n")}\n`);
  return file;
}

interface Phase {
  frameHops: number;
  wallSeconds: number;
  cpuSeconds: number;
  delivered: number;
}
interface Final {
  sim: string;
  buildSeconds: number;
  buildRssMiB: number;
  warmup: Phase;
  sent: number;
  rssMiB: number;
  peakRssMiB: number;
  backoffs?: number;
  deviceDrops?: number;
}

/** A simulator process in --serve mode: one JSON line per request. */
class Served {
  private readonly proc: ChildProcess;
  private readonly lines: AsyncIterator<string>;
  constructor(
    readonly name: string,
    command: string,
    args: string[],
  ) {
    this.proc = spawn(command, args, { cwd: root, stdio: ["pipe", "pipe", "inherit"] });
    this.lines = createInterface({ input: this.proc.stdout as NodeJS.ReadableStream })[
      Symbol.asyncIterator
    ]();
  }

  async next<T>(): Promise<T> {
    const r = await this.lines.next();
    if (r.done) throw new Error(`${this.name} ended without answering (exit ${this.proc.exitCode})`);
    try {
      return JSON.parse(r.value) as T;
    } catch {
      throw new Error(`${this.name} printed: ${r.value}`);
    }
  }

  run(): Promise<Phase> {
    this.proc.stdin?.write("run\n");
    return this.next<Phase>();
  }

  /** Ends the steady phases; the process prints its summary (memory) and exits. */
  async end(): Promise<Final> {
    this.proc.stdin?.end("end\n");
    const final = await this.next<Final>();
    await new Promise((resolve) =>
      this.proc.exitCode === null ? this.proc.once("exit", resolve) : resolve(0),
    );
    return final;
  }
}

const mps = (n: number) => `${(n / 1e6).toFixed(2)} M/s`;
const rate = (p: Phase) => p.frameHops / p.wallSeconds;
const cpuRate = (p: Phase) => p.frameHops / p.cpuSeconds;
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 === 1 ? s[h] : (s[h - 1] + s[h]) / 2;
}

function describe(f: Final, runs: Phase[]): string {
  const w = f.warmup;
  const extra =
    f.backoffs !== undefined ? `; CSMA backoffs ${f.backoffs}, device drops ${f.deviceDrops}` : "";
  return (
    `build ${f.buildSeconds.toFixed(1)} s, RSS ${f.buildRssMiB} MiB built, ${f.peakRssMiB} MiB peak; ` +
    `warm-up ${(w.frameHops / 1e6).toFixed(2)} M hops in ${w.wallSeconds.toFixed(1)} s = ${mps(rate(w))}; ` +
    `steady ${(runs[0].frameHops / 1e6).toFixed(2)} M hops per phase: median ${mps(median(runs.map(rate)))} wall, ` +
    `${mps(median(runs.map(cpuRate)))} CPU, ${(median(runs.map((r) => r.delivered / r.wallSeconds)) / 1e3).toFixed(1)} k datagrams/s; ` +
    `delivered ${runs.reduce((n, r) => n + r.delivered, 0)}/${f.sent * runs.length}${extra}`
  );
}

async function compare(binary: string, hosts: number): Promise<Record<string, number>> {
  const pairs = writePairs(hosts);
  process.stdout.write(
    `\n${hosts} hosts (${hosts / HOSTS_PER_RACK} racks of ${HOSTS_PER_RACK}), ${flowCount} UDP flows of 100-byte datagrams every 100 us; ` +
      `${rounds} rounds of one steady phase each (${datagrams} datagrams per flow)\n`,
  );
  const ns3 = new Served("ns-3", binary, [
    `--hosts=${hosts}`,
    `--perRack=${HOSTS_PER_RACK}`,
    `--datagrams=${datagrams}`,
    `--pairs=${pairs}`,
    `--scheduler=${scheduler}`,
    "--serve=1",
  ]);
  await ns3.next();
  const vnet = new Served("vnet", process.execPath, [
    "--expose-gc",
    "--max-old-space-size=8192",
    "--import",
    "tsx",
    join(here, "ns3-vnet.ts"),
    "--hosts",
    String(hosts),
    "--per-rack",
    String(HOSTS_PER_RACK),
    "--datagrams",
    String(datagrams),
    "--pairs",
    pairs,
    "--serve",
  ]);
  await vnet.next();
  const ns3Runs: Phase[] = [];
  const vnetRuns: Phase[] = [];
  const ratios: number[] = [];
  const cpuRatios: number[] = [];
  for (let r = 0; r < rounds; r++) {
    let a: Phase;
    let b: Phase;
    if (r % 2 === 0) {
      a = await ns3.run();
      b = await vnet.run();
    } else {
      b = await vnet.run();
      a = await ns3.run();
    }
    ns3Runs.push(a);
    vnetRuns.push(b);
    ratios.push(rate(b) / rate(a));
    cpuRatios.push(cpuRate(b) / cpuRate(a));
    process.stdout.write(
      `  round ${r + 1}: ns-3 ${mps(rate(a))}, vnet ${mps(rate(b))} wall: ${ratios[r].toFixed(1)}x (CPU ${cpuRatios[r].toFixed(1)}x)\n`,
    );
  }
  const ns3Final = await ns3.end();
  const vnetFinal = await vnet.end();
  process.stdout.write(`  ns-3: ${describe(ns3Final, ns3Runs)}\n  vnet: ${describe(vnetFinal, vnetRuns)}\n`);
  const result = {
    hosts,
    ratioWall: median(ratios),
    ratioCpu: median(cpuRatios),
    ratioDatagrams: median(
      vnetRuns.map((v, i) => v.delivered / v.wallSeconds / (ns3Runs[i].delivered / ns3Runs[i].wallSeconds)),
    ),
    ratioWarmup: rate(vnetFinal.warmup) / rate(ns3Final.warmup),
    ns3HopsPerSec: Math.round(median(ns3Runs.map(rate))),
    vnetHopsPerSec: Math.round(median(vnetRuns.map(rate))),
    ns3PeakRssMiB: ns3Final.peakRssMiB,
    vnetPeakRssMiB: vnetFinal.peakRssMiB,
  };
  process.stdout.write(
    `  vnet / ns-3 (median of the rounds): frame-hops/s ${result.ratioWall.toFixed(1)}x wall, ${result.ratioCpu.toFixed(1)}x CPU; ` +
      `datagrams/s ${result.ratioDatagrams.toFixed(1)}x; warm-up (ARP floods) frame-hops/s ${result.ratioWarmup.toFixed(1)}x. ` +
      `Aim >= 10x frame-hops/s: ${result.ratioWall >= 10 ? "met" : "not met"}\n`,
  );
  return result;
}

const missing = ns3Missing();
if (missing !== null) {
  process.stdout.write(`ns3: skipped: ${missing}\n`);
} else {
  for (const hosts of sizes)
    if (!Number.isInteger(hosts) || hosts < HOSTS_PER_RACK || hosts % HOSTS_PER_RACK !== 0)
      throw new Error(`VNET_NS3_SIZES: ${hosts} is not a multiple of ${HOSTS_PER_RACK}`);
  const t0 = performance.now();
  const { binary, compiled } = buildNs3Program();
  if (compiled)
    process.stdout.write(`compiled ${binary} in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  const summary: Record<string, number>[] = [];
  for (const hosts of sizes) summary.push(await compare(binary, hosts));
  process.stdout.write(
    `${JSON.stringify({ ns3VsVnet: summary, scheduler, datagrams, rounds, flows: flowCount })}\n`,
  );
}
