/**
 * `vnet run FILE [--for 10s] [--probe A:B ...] [--interval 10ms] [--seed N] [--json]`: plays the
 * topology's `faults:` in simulated time while probes send one numbered ICMP echo every
 * interval, then prints the timeline (faults, carrier changes, vswitch failovers, MAC flushes,
 * in time order) and, per probe, how many echoes were lost and when. Exit 1 when any echo was
 * lost (the network said no), 2 for a usage or topology error. Same file and seed, same bytes.
 */

import type { Command } from "commander";
import { formatSeconds, formatTimeline } from "../dataplane/timeline.ts";
import { MAX_FAULT_TIME_NS } from "../model/types.ts";
import { parseTime } from "../model/units.ts";
import { formatDuration, type RunResult } from "../network.ts";
import { ExitCode, UserError } from "./errors.ts";
import type { Io } from "./io.ts";
import { guard, loadNetwork } from "./net-common.ts";
import { startProgress } from "./progress.ts";

const int = (n: number) => n.toLocaleString("en-US");

/** A duration option (`--for 10s`, `--interval 10ms`, or plain seconds). */
export function parseDurationOption(name: string, text: string): number {
  const v = /^\d+(\.\d+)?$/.test(text.trim()) ? Number(text) : text;
  const r = parseTime(v, MAX_FAULT_TIME_NS + 60e9);
  if (!r.ok) throw new UserError(`${name}: ${r.message}`);
  if (r.value === 0) throw new UserError(`${name}: ${text} is no time at all; give more than 0`);
  return r.value;
}

/** `--probe web1:db1` (repeatable) as ordered pairs. */
export function parseProbes(texts: readonly string[]): [string, string][] {
  return texts.map((t) => {
    const m = /^([^:\s]+):([^:\s]+)$/.exec(t.trim());
    if (m === null)
      throw new UserError(`--probe: expected FROM:TO (two VM names, e.g. web1:db1), got "${t}"`);
    return [m[1], m[2]];
  });
}

/** "web1 -> db1: 3 of 1000 lost between 2.000 s and 2.030 s" (and more runs when there are). */
export function formatProbeLine(p: RunResult["probes"][number]): string {
  const head = `${p.from} -> ${p.to}: ${int(p.lost)} of ${int(p.sent)} lost`;
  // Echoes a failed source could not send are losses too, and said to be so.
  const notSent = (n: number) => (n === 0 ? "" : ` (${int(n)} not sent: ${p.from} was failed)`);
  const span = (l: { fromNs: number; toNs: number; notSent: number }) =>
    `between ${formatSeconds(l.fromNs)} and ${formatSeconds(l.toNs)}${notSent(l.notSent)}`;
  if (p.losses.length === 0) return head;
  if (p.losses.length === 1) return `${head} ${span(p.losses[0])}`;
  return `${head}: ${p.losses.map((l) => `${int(l.lost)} ${span(l)}`).join(", ")}`;
}

export function formatRun(r: RunResult, file: string): string {
  const lines: string[] = [];
  const plural = (n: number, one: string, many = `${one}s`) => `${int(n)} ${n === 1 ? one : many}`;
  lines.push(
    `run of ${file}: ${formatSeconds(r.durationNs)} of simulated time, ${plural(r.faultsApplied, "fault")}, ` +
      `${plural(r.probes.length, "probe")} of one echo every ${formatDuration(r.intervalNs)} ` +
      `(an echo without reply after ${formatDuration(r.probeTimeoutNs)} is lost)`,
  );
  if (r.isDefaultProbes) {
    lines.push(
      "probes chosen by vnet (no --probe given): the first VM of up to 8 servers spread over the file, each to the next one's, kept when a trace delivers it before the run",
    );
  }
  if (r.faultsAfterEnd > 0) {
    lines.push(
      `note: ${plural(r.faultsAfterEnd, "fault")} at or after the end of the run ${r.faultsAfterEnd === 1 ? "was" : "were"} not applied (--for is ${formatDuration(r.durationNs)})`,
    );
  }
  lines.push("");
  lines.push("timeline:");
  if (r.timeline.length === 0) lines.push("  (nothing changed)");
  else lines.push(...formatTimeline(r.timeline));
  lines.push("");
  lines.push(
    "probes (a loss interval runs from the send time of its first lost echo to that of the next echo that came back):",
  );
  for (const p of r.probes) lines.push(`  ${formatProbeLine(p)}`);
  lines.push("");
  const sent = r.probes.reduce((n, p) => n + p.sent, 0);
  const lost = r.probes.reduce((n, p) => n + p.lost, 0);
  lines.push(`*** Run: ${int(lost)} of ${int(sent)} echoes lost ***`);
  return `${lines.join("\n")}\n`;
}

export function register(program: Command, io: Io, setExit: (code: number) => void): void {
  program
    .command("run")
    .description(
      "play the topology's faults: in simulated time with probes; the timeline and every lost echo",
    )
    .argument("<file>", "topology file (YAML) with a faults: list")
    .option("--for <time>", "simulated time to run (10s, 500ms, or seconds); default the last fault + 2s")
    .option(
      "--probe <from:to>",
      "a probe: VM FROM sends VM TO one echo every interval (repeatable); default: a few chosen by vnet",
      (v: string, acc: string[] | undefined) => [...(acc ?? []), v],
    )
    .option("--interval <time>", "time between two echoes of a probe", "10ms")
    .option("--json", "print { durationNs, intervalNs, timeline, probes, ... } as JSON")
    .option("--seed <n>", "simulation seed", "1")
    .option("-q, --quiet", "no progress line on standard error")
    .action(
      async (
        file: string,
        opts: { for?: string; probe?: string[]; interval: string; json?: boolean; seed: string },
      ) => {
        const durationNs = opts.for === undefined ? undefined : parseDurationOption("--for", opts.for);
        const intervalNs = parseDurationOption("--interval", opts.interval);
        const probes = opts.probe === undefined ? undefined : parseProbes(opts.probe);
        const progress = startProgress();
        const net = await loadNetwork(file, io, opts);
        progress.update("running");
        const r = guard(() => net.run({ durationNs, intervalNs, probes }));
        progress.done();
        if (opts.json) io.out(`${JSON.stringify({ file, seed: net.seed, ...r }, null, 2)}\n`);
        else io.out(formatRun(r, file));
        if (r.probes.some((p) => p.lost > 0)) setExit(ExitCode.networkFailure);
      },
    );
}
