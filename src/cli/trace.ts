/**
 * `vnet trace FILE FROM TO`: sends one ICMP echo from VM FROM to TO (a VM name or an IPv4
 * address), resolving ARP first, and lists every hop of the request and the reply with each
 * device's decision and its reason, then the verdict: the source document's forwarding rule for
 * this pair, derived from the model and the observed path. Exit 0 delivered, 1 not delivered.
 *
 * On a terminal the text is coloured for the eye: the verdict green when delivered and red when
 * not, and every drop red. Never in `--json`, never when standard output is not a terminal (a
 * pipe, a file, a test's memory Io) unless FORCE_COLOR says so, and never with NO_COLOR set.
 */

import type { Command } from "commander";
import pc from "picocolors";
import { formatTrace, type TraceResult } from "../analysis/trace.ts";
import { ExitCode } from "./errors.ts";
import { type Io, nodeIo } from "./io.ts";
import { traceReal } from "./lab.ts";
import { captureSummary, guard, loadNetwork, writeCaptures } from "./net-common.ts";
import { startProgress } from "./progress.ts";

export function register(program: Command, io: Io, setExit: (code: number) => void): void {
  program
    .command("trace")
    .description("trace one ping between two VMs: every hop, every decision, and the verdict")
    .argument("<file>", "topology file (YAML); with --real, the name of a lab that is up")
    .argument("<from>", "source VM name")
    .argument("<to>", "destination VM name or IPv4 address")
    .option("-q, --quiet", "no progress line on standard error")
    .option(
      "--json",
      "print { delivered, hops, crossesPhysicalNetwork, physicalDevices, verdict, failure } as JSON",
    )
    .option("--pcap <dir>", "write the run's capture to DIR/vnet.pcapng (one interface per link end)")
    .option("--pcap-per-link", "with --pcap: one pcap file per link end instead (tor1-eth1.pcap, ...)")
    .option("--seed <n>", "simulation seed", "1")
    .option("--real", "trace a real ping in a lab (`vnet up`), beside the simulator's trace of its file")
    .action(
      async (
        file: string,
        from: string,
        to: string,
        opts: { json?: boolean; pcap?: string; pcapPerLink?: boolean; seed: string; real?: boolean },
      ) => {
        if (opts.real) {
          await traceReal(file, from, to, opts, io, setExit);
          return;
        }
        const progress = startProgress();
        const net = await loadNetwork(file, io, opts);
        progress.update(`tracing ${from} -> ${to}`);
        const t = guard(() => net.trace(from, to));
        progress.done();
        const files = opts.pcap !== undefined ? writeCaptures(net, opts.pcap, opts) : null;
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
            failure,
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
              ...(h.encap === undefined ? {} : { encap: h.encap }),
              ...(h.frameBytes === undefined ? {} : { frameBytes: h.frameBytes }),
              ...(h.mtu === undefined ? {} : { mtu: h.mtu }),
            })),
            crossesPhysicalNetwork,
            physicalDevices,
            verdict,
            failure,
          };
          if (files !== null) out.captures = files;
          io.out(`${JSON.stringify(out, null, 2)}\n`);
        } else {
          const colors = pc.createColors(io === nodeIo && isColorWanted(process.stdout.isTTY, process.env));
          io.out(colorTrace(formatTrace(t), t, colors));
          if (files !== null && opts.pcap !== undefined) io.out(captureSummary(files, opts.pcap));
        }
        if (!t.delivered) setExit(ExitCode.networkFailure);
      },
    );
}

/**
 * Whether output to a stream should be coloured: NO_COLOR (no-color.org: set and not empty)
 * wins, then FORCE_COLOR (anything but "0" or "false" forces colour), else only a terminal that
 * is not "dumb". Unlike picocolors' own default, a CI variable does not turn colour on.
 */
export function isColorWanted(isTTY: boolean | undefined, env: Record<string, string | undefined>): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  const force = env.FORCE_COLOR;
  if (force !== undefined) return force !== "0" && force !== "false";
  return isTTY === true && env.TERM !== "dumb";
}

type Colors = ReturnType<typeof pc.createColors>;

/** A hop line of `formatTrace` whose action is a drop ("  12  +5.0us  tor1 [switch] eth1 -> - vlan 10: drop, ..."). */
const DROP_LINE = /^\s+\d+\s+\+\S+\s+\S+ \[[a-z]+\] .*?: drop, /;

/**
 * Colours the text form of a trace: drop lines red, the `delivered:` and `verdict:` lines green
 * when the echo was delivered and red when not. With colours disabled the text is unchanged.
 */
export function colorTrace(text: string, t: Pick<TraceResult, "delivered">, colors: Colors): string {
  if (!colors.isColorSupported) return text;
  const outcome = t.delivered ? colors.green : colors.red;
  return text
    .split("\n")
    .map((line) => {
      if (DROP_LINE.test(line)) return colors.red(line);
      if (line.startsWith("delivered: ") || line.startsWith("verdict: ")) return outcome(line);
      return line;
    })
    .join("\n");
}
