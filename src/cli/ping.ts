/**
 * `vnet ping FILE FROM TO [-c N] [-i SECONDS] [-s SIZE]`: ICMP echo from VM FROM to TO (a VM
 * name or an IPv4 address) on the simulator, printed like iputils ping, with simulated times.
 * Exit status as ping's: 0 when at least one reply came back, 1 when none did.
 */

import type { Command } from "commander";
import type { PingResult } from "../network.ts";
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

/** ms with three decimals, as ping prints. */
function ms(ns: number): string {
  return (ns / 1e6).toFixed(3);
}

export function formatPing(p: PingResult): string {
  // iputils fails at connect() before printing anything else when the kernel has no route.
  if (p.sendError !== null && p.events.length === 0) return `ping: connect: ${p.sendError}\n`;
  const lines: string[] = [];
  lines.push(`PING ${p.to} (${p.toIp}) ${p.sizeBytes}(${p.sizeBytes + 28}) bytes of data.`);
  for (const e of p.events) {
    if (e.kind === "reply") {
      lines.push(`${e.bytes} bytes from ${p.toIp}: icmp_seq=${e.seq} ttl=${e.ttl} time=${ms(e.rttNs)} ms`);
    } else {
      lines.push(`From ${e.fromIp} icmp_seq=${e.seq} ${e.message}`);
    }
  }
  lines.push("");
  lines.push(`--- ${p.to} ping statistics ---`);
  const errs = p.errors > 0 ? `, +${p.errors} errors` : "";
  lines.push(
    `${p.transmitted} packets transmitted, ${p.received} received${errs}, ${formatLoss(p.lossPercent)}% packet loss, time ${Math.round(p.durationNs / 1e6)}ms`,
  );
  if (p.rtt !== null) {
    lines.push(
      `rtt min/avg/max/mdev = ${ms(p.rtt.minNs)}/${ms(p.rtt.avgNs)}/${ms(p.rtt.maxNs)}/${ms(p.rtt.mdevNs)} ms`,
    );
  }
  return `${lines.join("\n")}\n`;
}

function formatLoss(pct: number): string {
  return Number.isInteger(pct) ? String(pct) : pct.toFixed(1);
}

export function register(program: Command, io: Io, setExit: (code: number) => void): void {
  program
    .command("ping")
    .description("ping between VMs on the simulator (simulated times), output and exit status as ping's")
    .argument("<file>", "topology file (YAML)")
    .argument("<from>", "source VM name")
    .argument("<to>", "destination VM name or IPv4 address")
    .option("-c, --count <n>", "echo requests to send", "3")
    .option("-i, --interval <seconds>", "seconds between requests", "1")
    .option("-s, --size <bytes>", "ICMP payload bytes", "56")
    .option("-q, --quiet", "no progress line on standard error")
    .option("--json", "print the result as JSON")
    .option("--pcap <dir>", "write the run's capture to DIR/vnet.pcapng (one interface per link end)")
    .option("--pcap-per-link", "with --pcap: one pcap file per link end instead (tor1-eth1.pcap, ...)")
    .option("--seed <n>", "simulation seed", "1")
    .action(
      async (
        file: string,
        from: string,
        to: string,
        opts: {
          count: string;
          interval: string;
          size: string;
          json?: boolean;
          pcap?: string;
          pcapPerLink?: boolean;
          seed: string;
        },
      ) => {
        const count = parseIntOption("--count", opts.count, 1, 100_000);
        const intervalMs = parseNumberOption("--interval", opts.interval, 0.000001, 3600) * 1000;
        const sizeBytes = parseIntOption("--size", opts.size, 0, 65507);
        const progress = startProgress();
        const net = await loadNetwork(file, io, opts);
        progress.update(`pinging ${to} from ${from}`);
        const p = guard(() => net.ping(from, to, { count, intervalMs, sizeBytes }));
        progress.done();
        const files = opts.pcap !== undefined ? writeCaptures(net, opts.pcap, opts) : null;
        if (opts.json) {
          io.out(`${JSON.stringify(files === null ? p : { ...p, captures: files }, null, 2)}\n`);
        } else {
          io.out(formatPing(p));
          if (files !== null && opts.pcap !== undefined) io.out(captureSummary(files, opts.pcap));
        }
        if (p.received === 0) setExit(ExitCode.networkFailure);
      },
    );
}
