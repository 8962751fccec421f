/**
 * Helpers for bench files: the machine a figure was measured on, and a mitata run that also
 * prints each benchmark as operations per second (what BENCHMARKS.md quotes), per inner
 * operation when one iteration does a batch of them.
 *
 * Two figures per benchmark, because the machine is shared: mitata's wall-clock median (what a
 * quiet core would show, when the machine is quiet) and a rate over the process's own CPU time
 * (`process.cpuUsage`), which other processes competing for the cores do not inflate. On a quiet
 * machine the two agree; under load, trust the CPU-time figure and say so.
 */

import { readFileSync } from "node:fs";
import { availableParallelism, loadavg } from "node:os";
import { bench, run } from "mitata";

/** "2 cpus, AMD EPYC, node v20.20.2, 2026-11-23": nproc, CPU model, node version, date. */
export function machineLine(): string {
  let cpu = "unknown CPU";
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"));
    if (m) cpu = m[1].trim();
  } catch {
    // not Linux: leave the CPU unnamed
  }
  const date = new Date().toISOString().slice(0, 10);
  const load = loadavg()[0].toFixed(1);
  return `machine: ${availableParallelism()} cpus, ${cpu}, node ${process.version}, ${date}, load ${load}`;
}

function formatRate(perSecond: number): string {
  if (perSecond >= 1e6) return `${(perSecond / 1e6).toFixed(2)} M/s`;
  if (perSecond >= 1e3) return `${(perSecond / 1e3).toFixed(1)} k/s`;
  return `${perSecond.toFixed(1)} /s`;
}

interface Registered {
  name: string;
  fn: () => void;
  opsPerIteration: number;
}
const registered: Registered[] = [];

/**
 * Registers a mitata benchmark whose iteration performs `opsPerIteration` operations (a batch),
 * so that `runAndReport` prints its rate per operation and also measures it on CPU time.
 */
export function benchOps(name: string, fn: () => void, opsPerIteration = 1): void {
  bench(name, fn);
  registered.push({ name, fn, opsPerIteration });
}

/** Operations per second of CPU time: runs `fn` until it has used `minCpuMs` of this process's CPU. */
function cpuTimeRate(fn: () => void, opsPerIteration: number, minCpuMs = 600): number {
  for (let i = 0; i < 200; i++) fn(); // warm: let the JIT settle before counting
  const before = process.cpuUsage();
  let calls = 0;
  let usedUs = 0;
  while (usedUs < minCpuMs * 1000) {
    for (let i = 0; i < 50; i++) fn();
    calls += 50;
    const d = process.cpuUsage(before);
    usedUs = d.user + d.system;
  }
  return (calls * opsPerIteration) / (usedUs / 1e6);
}

/**
 * Runs the benchmarks registered so far and prints, after mitata's table, one line per
 * benchmark: per operation, the rate from mitata's median and mean wall-clock time, and for
 * those registered with `benchOps`, the rate over CPU time. `opsPerIteration` names plain
 * mitata benchmarks whose iteration does a batch of operations, to report per operation.
 */
export async function runAndReport(opsPerIteration: Record<string, number> = {}): Promise<void> {
  const { benchmarks } = await run();
  const byName = new Map(registered.map((r) => [r.name, r]));
  process.stdout.write("\nper operation, one core: wall-clock median | mean | CPU time\n");
  for (const trial of benchmarks) {
    for (const r of trial.runs) {
      if (!r.stats) continue;
      const reg = byName.get(r.name);
      const ops = reg?.opsPerIteration ?? opsPerIteration[r.name] ?? 1;
      const p50 = r.stats.p50 / ops;
      const avg = r.stats.avg / ops;
      const cpu = reg ? cpuTimeRate(reg.fn, ops) : undefined;
      const cpuText = cpu ? `${formatRate(cpu)} (${(1e9 / cpu).toFixed(1)} ns)` : "-";
      process.stdout.write(
        `  ${r.name.padEnd(44)} ${formatRate(1e9 / p50).padStart(10)} (${p50.toFixed(1)} ns) | ${formatRate(1e9 / avg)} | ${cpuText}\n`,
      );
    }
  }
  registered.length = 0;
}
