/**
 * `vnet show FILE fdb|arp|ports|counters|lacp|teaming|mlag|stp|vpn|nat [DEVICE]`: the state of
 * the simulated network after a pingall (reach's probes above pingall's size, or `--after
 * none`): MAC tables, ARP caches, ports with their counters, drops by reason, LACP, teaming,
 * MLAG, spanning tree, VPN tunnels (as wg show), NAT connections (as conntrack -L); all devices
 * or one.
 * Tables in text, arrays of objects with `--json`.
 */

import type { Command } from "commander";
import { MAX_PINGALL_VMS, SHOW_WHATS, type ShowWhat } from "../network.ts";
import { UserError } from "./errors.ts";
import type { Io } from "./io.ts";
import { guard, loadNetwork } from "./net-common.ts";
import { startProgress } from "./progress.ts";

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
    .description(
      "show MAC tables, ARP caches, ports, counters, LACP, teaming, MLAG, spanning tree, VPN tunnels or NAT connections after traffic (all of them, or one device's)",
    )
    .argument("<file>", "topology file (YAML)")
    .argument("<what>", `one of: ${SHOW_WHATS.join(", ")}`)
    .argument(
      "[device]",
      "only this device's rows (as ovs-appctl fdb/show br0): a switch, server1/vs0, a VM, ...",
    )
    .option(
      "--after <traffic>",
      `traffic to run first: pingall (networks up to ${MAX_PINGALL_VMS} VMs), reach (one probe per class of alike pairs; the default above that) or none`,
    )
    .option("--json", "print an array of objects")
    .option("--seed <n>", "simulation seed", "1")
    .option("-q, --quiet", "no progress line on standard error")
    .action(
      async (
        file: string,
        what: string,
        device: string | undefined,
        opts: { after?: string; json?: boolean; seed: string },
      ) => {
        if (!(SHOW_WHATS as readonly string[]).includes(what)) {
          throw new UserError(`show: unknown table "${what}"; known: ${SHOW_WHATS.join(", ")}`);
        }
        if (opts.after !== undefined && !["pingall", "reach", "none"].includes(opts.after)) {
          throw new UserError(`--after: "${opts.after}" is not one of: pingall, reach, none`);
        }
        const progress = startProgress();
        progress.update("loading");
        const net = await loadNetwork(file, io, opts);
        const isLarge = net.vmNames().length > MAX_PINGALL_VMS;
        const after = opts.after ?? (isLarge ? "reach" : "pingall");
        if (after === "pingall" && isLarge) {
          throw new UserError(
            `--after pingall: ${net.vmNames().length} VMs is more than pingall runs (up to ${MAX_PINGALL_VMS}); use --after reach or --after none`,
          );
        }
        const rowsFor = () => guard(() => net.show(what as ShowWhat, device));
        if (device !== undefined) rowsFor(); // an unknown device is refused before any traffic runs
        progress.update(`running ${after}`);
        if (after === "pingall") net.pingAll();
        else if (after === "reach") net.reach();
        else net.settle();
        const rows = rowsFor();
        progress.done();
        io.out(opts.json ? `${JSON.stringify(rows, null, 2)}\n` : formatTable(rows));
      },
    );
}
