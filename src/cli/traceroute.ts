/**
 * `vnet traceroute FILE FROM TO [-n] [-m MAX] [-q N] [-w SECONDS]`: traceroute(8) from VM FROM
 * to TO (a VM name or an IPv4 address) on the simulator, printed as Linux's traceroute prints
 * it, with simulated times: one line per TTL, each answering address named after the device it
 * belongs to (a VM, a switch's SVI) where traceroute would show its reverse DNS name, `*` for a
 * probe without answer, `!H`/`!N`/`!P`/`!F`/`!X` after an unreachable's time. Exit 0 when the
 * destination answered, 1 when it was not reached (what a script wants to test), 2 for a usage
 * or file error.
 */

import type { Command } from "commander";
import { TRACEROUTE_MAX_HOPS, TRACEROUTE_MAX_PROBES, type TracerouteResult } from "../network.ts";
import { ExitCode } from "./errors.ts";
import type { Io } from "./io.ts";
import {
  captureSummary,
  guard,
  loadNetwork,
  parseIntOption,
  parseNumberOption,
  writeCaptures,
} from "./net-common.ts";
import { startProgress } from "./progress.ts";

export interface TracerouteFormatOptions {
  /** Addresses only, no names (traceroute -n). */
  isNumeric?: boolean;
}

/**
 * The text traceroute(8) prints: the header, then per TTL `%2u ` and per probe ` *` or the
 * answering ` name (address)` (printed again only when it differs from the last one that
 * answered on this line), `  %.3f ms` and ` !H`-style annotations, as its `print_probe` does.
 */
export function formatTraceroute(r: TracerouteResult, options: TracerouteFormatOptions = {}): string {
  const lines = [`traceroute to ${r.to} (${r.toIp}), ${r.maxHops} hops max, ${r.packetBytes} byte packets`];
  // Linux's traceroute connect()s its probe socket: without a route that fails before any probe.
  if (r.sendError !== null) lines.push(`connect: ${r.sendError}`);
  for (const hop of r.hops) {
    let line = `${String(hop.ttl).padStart(2)} `;
    let last: string | null = null;
    for (const p of hop.probes) {
      if (p.address === null) {
        line += " *";
        continue;
      }
      if (p.address !== last) {
        line += options.isNumeric === true ? ` ${p.address}` : ` ${p.name ?? p.address} (${p.address})`;
        last = p.address;
      }
      line += `  ${((p.rttNs ?? 0) / 1e6).toFixed(3)} ms`;
      if (p.annotation !== "") line += ` ${p.annotation}`;
    }
    lines.push(line);
  }
  return `${lines.join("\n")}\n`;
}

export function register(program: Command, io: Io, setExit: (code: number) => void): void {
  program
    .command("traceroute")
    .description("traceroute from a VM on the simulator (simulated times), as traceroute(8) prints it")
    .argument("<file>", "topology file (YAML)")
    .argument("<from>", "source VM name")
    .argument("<to>", "destination VM name or IPv4 address")
    .option("-n, --numeric", "print hop addresses only, not the names of the devices they belong to")
    .option("-m, --max-hops <n>", `highest TTL tried (1..${TRACEROUTE_MAX_HOPS})`, "30")
    .option("-q, --queries <n>", `probes per hop (1..${TRACEROUTE_MAX_PROBES})`, "3")
    .option("-w, --wait <seconds>", "how long each probe waits for its answer, simulated", "5")
    .option("--quiet", "no progress line on standard error")
    .option("--json", "print the result as JSON")
    .option("--pcap <dir>", "write the run's capture to DIR/vnet.pcapng (one interface per link end)")
    .option("--pcap-per-link", "with --pcap: one pcap file per link end instead (tor1-eth1.pcap, ...)")
    .option("--seed <n>", "simulation seed", "1")
    .addHelpText(
      "after",
      "\nUDP probes to ports 33434 and up, TTL 1, 2, ... one at a time, as traceroute(8) sends them.\n" +
        "Exit status: 0 when the destination answered, 1 when it was not reached (an unreachable\n" +
        "ended the trace, or max hops ran out), 2 for a usage, file or topology error.",
    )
    .action(
      async (
        file: string,
        from: string,
        to: string,
        opts: {
          numeric?: boolean;
          maxHops: string;
          queries: string;
          wait: string;
          json?: boolean;
          pcap?: string;
          pcapPerLink?: boolean;
          seed: string;
        },
      ) => {
        const maxHops = parseIntOption("--max-hops", opts.maxHops, 1, TRACEROUTE_MAX_HOPS);
        const probesPerHop = parseIntOption("--queries", opts.queries, 1, TRACEROUTE_MAX_PROBES);
        const waitNs = Math.round(parseNumberOption("--wait", opts.wait, 0.000001, 3600) * 1e9);
        const progress = startProgress();
        const net = await loadNetwork(file, io, opts);
        progress.update(`tracing the route from ${from} to ${to}`);
        const r = guard(() => net.traceroute(from, to, { maxHops, probesPerHop, waitNs }));
        progress.done();
        const files = opts.pcap !== undefined ? writeCaptures(net, opts.pcap, opts) : null;
        if (opts.json) {
          io.out(`${JSON.stringify(files === null ? r : { ...r, captures: files }, null, 2)}\n`);
        } else {
          io.out(formatTraceroute(r, { isNumeric: opts.numeric === true }));
          if (files !== null && opts.pcap !== undefined) io.out(captureSummary(files, opts.pcap));
        }
        if (!r.isReached) setExit(ExitCode.networkFailure);
      },
    );
}
