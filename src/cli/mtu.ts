/**
 * `vnet mtu FILE FROM TO [--json]`: the path MTU between a VM and a VM or address on the
 * simulator, found as tracepath(8) finds it (echoes with DF, ICMP fragmentation needed lowering
 * the size, black holes named), then the delivered echo's frame on every cable with what each
 * layer adds (Ethernet, 802.1Q, outer IPv4 + GRE). Exit 0 with a path MTU, 1 when nothing got
 * through, 2 for a usage or file error.
 */

import type { Command } from "commander";
import type { MtuResult } from "../network.ts";
import { ExitCode } from "./errors.ts";
import type { Io } from "./io.ts";
import { guard, loadNetwork } from "./net-common.ts";
import { startProgress } from "./progress.ts";

export function formatMtu(r: MtuResult): string {
  const lines = [
    `mtu ${r.from} -> ${r.to} (${r.toIp}): ${r.pathMtu === null ? "no path MTU" : `path MTU ${r.pathMtu} bytes (IPv4 packet)`}`,
  ];
  for (const s of r.steps) lines.push(`  ${String(s.sizeBytes).padStart(5)}: ${s.text}`);
  if (r.failure !== null) lines.push(`  ${r.failure}`);
  if (r.hops.length > 0) {
    lines.push(`the echo of ${r.pathMtu} bytes, cable by cable (frame bytes, what the layers add):`);
    const width = Math.max(...r.hops.map((h) => h.link.length));
    for (const h of r.hops)
      lines.push(`  ${h.link.padEnd(width)}  ${String(h.frameBytes).padStart(5)}  ${h.layers}`);
  }
  return `${lines.join("\n")}\n`;
}

export function register(program: Command, io: Io, setExit: (code: number) => void): void {
  program
    .command("mtu")
    .description("the path MTU between two VMs (as tracepath finds it) and what each layer adds on the way")
    .argument("<file>", "topology file (YAML)")
    .argument("<from>", "source VM name")
    .argument("<to>", "destination VM name or IPv4 address")
    .option("--quiet", "no progress line on standard error")
    .option("--json", "print the result as JSON")
    .option("--seed <n>", "simulation seed", "1")
    .addHelpText(
      "after",
      "\nExit status: 0 with a path MTU, 1 when no echo got through, 2 for a usage, file or topology error.",
    )
    .action(async (file: string, from: string, to: string, opts: { json?: boolean; seed: string }) => {
      const progress = startProgress();
      const net = await loadNetwork(file, io, opts);
      progress.update(`probing the path MTU from ${from} to ${to}`);
      const r = guard(() => net.mtu(from, to));
      progress.done();
      io.out(opts.json ? `${JSON.stringify(r, null, 2)}\n` : formatMtu(r));
      if (r.pathMtu === null) setExit(ExitCode.networkFailure);
    });
}
