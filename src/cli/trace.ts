/**
 * `vnet trace FILE FROM TO`: sends one ICMP echo from VM FROM to TO (a VM name or an IPv4
 * address), resolving ARP first, and lists every hop of the request and the reply with each
 * device's decision and its reason, then the verdict: the source document's forwarding rule for
 * this pair, derived from the model and the observed path. Exit 0 delivered, 1 not delivered.
 */

import type { Command } from "commander";
import { formatTrace } from "../analysis/trace.ts";
import { ExitCode } from "./errors.ts";
import type { Io } from "./io.ts";
import { captureSummary, guard, loadNetwork, writeCaptures } from "./net-common.ts";

export function register(program: Command, io: Io, setExit: (code: number) => void): void {
  program
    .command("trace")
    .description("trace one ping between two VMs: every hop, every decision, and the verdict")
    .argument("<file>", "topology file (YAML)")
    .argument("<from>", "source VM name")
    .argument("<to>", "destination VM name or IPv4 address")
    .option("--json", "print { delivered, hops, crossesPhysicalNetwork, physicalDevices, verdict } as JSON")
    .option("--pcap <dir>", "write one pcap per link end that carried traffic into DIR")
    .option("--seed <n>", "simulation seed", "1")
    .action(
      async (
        file: string,
        from: string,
        to: string,
        opts: { json?: boolean; pcap?: string; seed: string },
      ) => {
        const net = await loadNetwork(file, io, opts);
        const t = guard(() => net.trace(from, to));
        const files = opts.pcap !== undefined ? writeCaptures(net, opts.pcap) : null;
        if (opts.json) {
          const {
            from: f,
            to: tt,
            toIp,
            delivered,
            rttNs,
            hops,
            crossesPhysicalNetwork,
            physicalDevices,
            verdict,
          } = t;
          const out: Record<string, unknown> = {
            from: f,
            to: tt,
            toIp,
            delivered,
            rttNs,
            hops: hops.map((h) => ({
              timeNs: h.timeNs,
              frame: h.frame,
              device: h.device,
              kind: h.kind,
              in: h.in,
              out: h.out,
              vlan: h.vlan,
              action: h.action,
              reason: h.reason,
            })),
            crossesPhysicalNetwork,
            physicalDevices,
            verdict,
          };
          if (files !== null) out.captures = files;
          io.out(`${JSON.stringify(out, null, 2)}\n`);
        } else {
          io.out(formatTrace(t));
          if (files !== null && opts.pcap !== undefined) io.out(captureSummary(files, opts.pcap));
        }
        if (!t.delivered) setExit(ExitCode.networkFailure);
      },
    );
}
