/**
 * Helpers for bench files: the machine a figure was measured on, and a mitata run that also
 * prints each benchmark as operations per second (what BENCHMARKS.md quotes), optionally per
 * inner operation when one benchmark iteration does a batch of them.
 */

import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { run } from "mitata";

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
  return `machine: ${availableParallelism()} cpus, ${cpu}, node ${process.version}, ${date}`;
}

function formatRate(perSecond: number): string {
  if (perSecond >= 1e6) return `${(perSecond / 1e6).toFixed(2)} M/s`;
  if (perSecond >= 1e3) return `${(perSecond / 1e3).toFixed(1)} k/s`;
  return `${perSecond.toFixed(1)} /s`;
}

/**
 * Runs the benchmarks registered so far and prints, after mitata's table, one line per
 * benchmark: its throughput from the median and from the mean time per iteration (the median
 * resists what a shared machine does to the mean: other processes, GC pauses).
 * `opsPerIteration` names the benchmarks whose iteration does several operations (a batch), to
 * report per operation.
 */
export async function runAndReport(opsPerIteration: Record<string, number> = {}): Promise<void> {
  const { benchmarks } = await run();
  process.stdout.write("\nthroughput on one core, median (mean):\n");
  for (const trial of benchmarks) {
    for (const r of trial.runs) {
      if (!r.stats) continue;
      const ops = opsPerIteration[r.name] ?? 1;
      const p50 = r.stats.p50 / ops;
      const avg = r.stats.avg / ops;
      process.stdout.write(
        `  ${r.name.padEnd(44)} ${formatRate(1e9 / p50).padStart(10)} ${p50.toFixed(1).padStart(8)} ns/op  (${formatRate(1e9 / avg)}, ${avg.toFixed(1)} ns/op)\n`,
      );
    }
  }
}
