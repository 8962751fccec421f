/**
 * `vnet pingall FILE [--from VM ...] [--sample N]`: every VM pings every other VM (each VM's
 * first NIC address), one echo per pair, paced as Mininet's pingall (one sender at a time, a
 * few echoes in flight); prints a matrix (small networks), every failed pair with what refused
 * it, and the loss. Exit 1 when any pair fails.
 */

import type { Command } from "commander";
import { MAX_PINGALL_VMS, type PingAllResult } from "../network.ts";
import { ExitCode, UserError } from "./errors.ts";
import type { Io } from "./io.ts";
import { captureSummary, guard, loadNetwork, parseIntOption, writeCaptures } from "./net-common.ts";
import { startProgress } from "./progress.ts";

/** Failed pairs listed in the text output (all are in --json). */
const LISTED_FAILURES = 50;

export function formatPingAll(r: PingAllResult): string {
  const lines: string[] = [];
  const m = r.matrix;
  if (m !== null && r.vms.length <= 40 && r.senders.length <= 40) {
    const w = Math.max(4, ...r.senders.map((v) => v.length));
    lines.push(`${"".padEnd(w)}  ${r.vms.map((_, j) => String(j + 1).padStart(3)).join("")}`);
    r.senders.forEach((v, i) => {
      const cells = r.vms.map((u, j) =>
        u === v ? "  -" : m[i][j] === null ? "  ?" : m[i][j] ? "  ." : "  X",
      );
      lines.push(`${v.padEnd(w)}  ${cells.join("")}   ${String(r.vms.indexOf(v) + 1).padStart(3)}`);
    });
    lines.push(
      `(row: from, column: to; . delivered, X failed${m.some((row) => row.includes(null)) ? ", ? no address" : ""})`,
    );
  }
  for (const f of r.failures.slice(0, LISTED_FAILURES)) {
    const counter = f.code !== null && f.device !== null ? ` [counter ${f.device}/${f.code}]` : "";
    lines.push(`  ${f.from} -> ${f.to}: ${f.why}${counter}`);
  }
  if (r.failures.length > LISTED_FAILURES) {
    lines.push(`  ... and ${r.failures.length - LISTED_FAILURES} more (--json lists them all)`);
  }
  const what = r.matrix === null ? `${r.pairs} sampled pairs` : `${r.pairs} pairs`;
  lines.push(
    `*** Results: ${formatLoss(r.lossPercent)}% dropped (${r.received}/${r.pairs} received; ${what}) ***`,
  );
  return `${lines.join("\n")}\n`;
}

function formatLoss(pct: number): string {
  return Number.isInteger(pct) ? String(pct) : pct.toFixed(1);
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(",").filter((v) => v !== "")];
}

export function register(program: Command, io: Io, setExit: (code: number) => void): void {
  program
    .command("pingall")
    .description("every VM pings every other VM; a matrix, what refused each failed pair, and the loss")
    .argument("<file>", "topology file (YAML)")
    .option("--from <vm>", "only this VM sends, to every other VM (repeatable, or comma-separated)", collect)
    .option("--sample <n>", "instead of every pair, N distinct pairs drawn from the seed")
    .option("--all", `every pair even above ${MAX_PINGALL_VMS} VMs (2,000 VMs: about 10 minutes)`)
    .option("--json", "print { vms, senders, matrix, pairs, received, lossPercent, failures } as JSON")
    .option("--pcap <dir>", "write the run's capture to DIR/vnet.pcapng (one interface per link end)")
    .option("--pcap-per-link", "with --pcap: one pcap file per link end instead (tor1-eth1.pcap, ...)")
    .option("--seed <n>", "simulation seed", "1")
    .option("-q, --quiet", "no progress line on standard error")
    .addHelpText(
      "after",
      `\nFull pingall runs up to ${MAX_PINGALL_VMS} VMs; above that use --from, --sample, or vnet reach.`,
    )
    .action(
      async (
        file: string,
        opts: {
          from?: string[];
          sample?: string;
          all?: boolean;
          json?: boolean;
          pcap?: string;
          pcapPerLink?: boolean;
          seed: string;
        },
      ) => {
        if (opts.from !== undefined && opts.sample !== undefined) {
          throw new UserError("pingall: --from and --sample do not go together; give one");
        }
        const sample =
          opts.sample === undefined ? undefined : parseIntOption("--sample", opts.sample, 1, 10_000_000);
        const progress = startProgress();
        progress.update("loading");
        const net = await loadNetwork(file, io, opts);
        const r = guard(() =>
          net.pingAll({
            from: opts.from,
            sample,
            isUnlimited: opts.all === true,
            onProgress: (done, total) => progress.update(`pingall: ${done}/${total} echoes answered`),
          }),
        );
        progress.done();
        const files = opts.pcap !== undefined ? writeCaptures(net, opts.pcap, opts) : null;
        if (opts.json) {
          io.out(`${JSON.stringify(files === null ? r : { ...r, captures: files }, null, 2)}\n`);
        } else {
          io.out(formatPingAll(r));
          if (files !== null && opts.pcap !== undefined) io.out(captureSummary(files, opts.pcap));
        }
        if (r.received < r.pairs) setExit(ExitCode.networkFailure);
      },
    );
}
