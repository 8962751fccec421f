/**
 * `vnet show FILE fdb|arp|ports|counters`: the state of the simulated network after a pingall
 * (or `--after none`): MAC tables, ARP caches, ports with their counters, drops by reason.
 * Tables in text, arrays of objects with `--json`.
 */

import type { Command } from "commander";
import { SHOW_WHATS, type ShowWhat } from "../network.ts";
import { UserError } from "./errors.ts";
import type { Io } from "./io.ts";
import { loadNetwork } from "./net-common.ts";

/** Renders rows of objects as an aligned text table (columns from the first row's keys). */
export function formatTable(rows: readonly Record<string, unknown>[]): string {
  if (rows.length === 0) return "(none)\n";
  const cols = Object.keys(rows[0]);
  const cell = (v: unknown) => (v === null || v === undefined ? "-" : String(v));
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals: string[]) =>
    vals
      .map((v, i) => v.padEnd(widths[i]))
      .join("  ")
      .trimEnd();
  return `${[line(cols), ...rows.map((r) => line(cols.map((c) => cell(r[c]))))].join("\n")}\n`;
}

export function register(program: Command, io: Io): void {
  program
    .command("show")
    .description("show MAC tables, ARP caches, ports or counters after a pingall")
    .argument("<file>", "topology file (YAML)")
    .argument("<what>", `one of: ${SHOW_WHATS.join(", ")}`)
    .option("--after <traffic>", "traffic to run first: pingall or none", "pingall")
    .option("--json", "print an array of objects")
    .option("--seed <n>", "simulation seed", "1")
    .action(async (file: string, what: string, opts: { after: string; json?: boolean; seed: string }) => {
      if (!(SHOW_WHATS as readonly string[]).includes(what)) {
        throw new UserError(`show: unknown table "${what}"; known: ${SHOW_WHATS.join(", ")}`);
      }
      if (opts.after !== "pingall" && opts.after !== "none") {
        throw new UserError(`--after: "${opts.after}" is not one of: pingall, none`);
      }
      const net = await loadNetwork(file, io, opts);
      if (opts.after === "pingall") net.pingAll();
      else net.settle();
      const rows = net.show(what as ShowWhat);
      io.out(opts.json ? `${JSON.stringify(rows, null, 2)}\n` : formatTable(rows));
    });
}
