/**
 * `vnet pingall FILE`: every VM pings every other VM (each VM's first NIC address), one echo per
 * pair after ARP, on the simulator; prints a matrix and the loss. Exit 1 when any pair fails.
 */

import type { Command } from "commander";
import type { PingAllResult } from "../network.ts";
import { ExitCode } from "./errors.ts";
import type { Io } from "./io.ts";
import { captureSummary, guard, loadNetwork, writeCaptures } from "./net-common.ts";

export function formatPingAll(r: PingAllResult): string {
  const lines: string[] = [];
  const w = Math.max(4, ...r.vms.map((v) => v.length));
  if (r.vms.length <= 40) {
    lines.push(`${"".padEnd(w)}  ${r.vms.map((_, j) => String(j + 1).padStart(3)).join("")}`);
    r.vms.forEach((v, i) => {
      const cells = r.vms.map((_, j) => (i === j ? "  -" : r.matrix[i][j] ? "  ." : "  X"));
      lines.push(`${v.padEnd(w)}  ${cells.join("")}   ${String(i + 1).padStart(3)}`);
    });
    lines.push(`(row: from, column: to; . delivered, X failed)`);
  }
  for (const f of r.failures.slice(0, 50)) lines.push(`  ${f.from} -> ${f.to}: ${f.why}`);
  if (r.failures.length > 50) lines.push(`  ... and ${r.failures.length - 50} more`);
  lines.push(`*** Results: ${formatLoss(r.lossPercent)}% dropped (${r.received}/${r.pairs} received) ***`);
  return `${lines.join("\n")}\n`;
}

function formatLoss(pct: number): string {
  return Number.isInteger(pct) ? String(pct) : pct.toFixed(1);
}

export function register(program: Command, io: Io, setExit: (code: number) => void): void {
  program
    .command("pingall")
    .description("every VM pings every other VM; a matrix and the loss")
    .argument("<file>", "topology file (YAML)")
    .option("--json", "print { vms, matrix, pairs, received, lossPercent, failures } as JSON")
    .option("--pcap <dir>", "write one pcap per link end that carried traffic into DIR")
    .option("--seed <n>", "simulation seed", "1")
    .action(async (file: string, opts: { json?: boolean; pcap?: string; seed: string }) => {
      const net = await loadNetwork(file, io, opts);
      const r = guard(() => net.pingAll());
      const files = opts.pcap !== undefined ? writeCaptures(net, opts.pcap) : null;
      if (opts.json) {
        io.out(`${JSON.stringify(files === null ? r : { ...r, captures: files }, null, 2)}\n`);
      } else {
        io.out(formatPingAll(r));
        if (files !== null && opts.pcap !== undefined) io.out(captureSummary(files, opts.pcap));
      }
      if (r.received < r.pairs) setExit(ExitCode.networkFailure);
    });
}
