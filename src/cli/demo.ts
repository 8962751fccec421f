/**
 * `vnet demo` (also `npm start`): runs the shipped `examples/seed-datacenter.yaml` on the
 * simulator and prints the traces that illustrate the source document's forwarding rules
 * (section 5) and the SR-IOV bypass (section 1.2), each with its verdict, then a pingall summary
 * and where the captures were written. The pairs are chosen from the model (the first pair in
 * file order that fits each rule), not named by hand, so the demo follows the example file.
 */

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import type { TraceResult } from "../analysis/trace.ts";
import type { Topology, VmSpec } from "../model/types.ts";
import { MAX_PINGALL_VMS, Network, type ReachResult } from "../network.ts";
import { CAPTURE_FILE_NAME } from "../sim/capture.ts";
import { ExitCode } from "./errors.ts";
import type { Io } from "./io.ts";
import { loadNetwork, writeCaptures } from "./net-common.ts";

export const SEED_EXAMPLE = fileURLToPath(new URL("../../examples/seed-datacenter.yaml", import.meta.url));

export interface DemoPair {
  title: string;
  from: string;
  to: string;
}

interface VmFacts {
  vm: VmSpec;
  server: string;
  /** "server/vswitch/portGroup" for port-group NICs, null for a VF. */
  portGroup: string | null;
  pgName: string | null;
  vlan: number | null;
  vfNic: string | null;
}

function facts(t: Topology): VmFacts[] {
  const out: VmFacts[] = [];
  for (const s of t.servers) {
    for (const vm of s.vms) {
      const nic = vm.nics[0];
      if (nic === undefined) continue;
      const a = nic.attachment;
      if (a.kind === "portGroup") {
        const pg = s.vswitches
          .find((v) => v.name === a.vswitch)
          ?.portGroups.find((p) => p.name === a.portGroup);
        out.push({
          vm,
          server: s.name,
          portGroup: `${s.name}/${a.vswitch}/${a.portGroup}`,
          pgName: a.portGroup,
          vlan: pg?.vlan ?? null,
          vfNic: null,
        });
      } else {
        out.push({ vm, server: s.name, portGroup: null, pgName: null, vlan: a.vlan, vfNic: a.nic });
      }
    }
  }
  return out;
}

/** The pairs that illustrate each rule, found in the model in file order. */
export function demoPairs(t: Topology): DemoPair[] {
  const f = facts(t);
  const pairs: DemoPair[] = [];
  const find = (title: string, ok: (a: VmFacts, b: VmFacts) => boolean) => {
    for (const a of f) {
      for (const b of f) {
        if (a !== b && ok(a, b)) {
          pairs.push({ title, from: a.vm.name, to: b.vm.name });
          return;
        }
      }
    }
  };
  const pgs = (a: VmFacts, b: VmFacts) => a.portGroup !== null && b.portGroup !== null;
  find(
    "same port group, same server (section 5)",
    (a, b) => pgs(a, b) && a.server === b.server && a.portGroup === b.portGroup,
  );
  find(
    "same port group, different servers (section 5)",
    (a, b) => pgs(a, b) && a.server !== b.server && a.pgName === b.pgName && a.vlan === b.vlan,
  );
  find(
    "different port groups, same server (section 5)",
    (a, b) => pgs(a, b) && a.server === b.server && a.vlan !== b.vlan,
  );
  find(
    "SR-IOV: VF to VF on the same NIC (section 1.2)",
    (a, b) => a.vfNic !== null && a.vfNic === b.vfNic && a.server === b.server,
  );
  find(
    "SR-IOV: VF to a VM behind the vswitch (section 1.2)",
    (a, b) => a.vfNic !== null && b.portGroup !== null && a.server === b.server,
  );
  return pairs;
}

function compact(n: number, title: string, t: TraceResult): string {
  const status = t.delivered ? `delivered, rtt ${((t.rttNs ?? 0) / 1000).toFixed(1)}us` : "NOT delivered";
  // The devices that handled the echo request, in order (links left out, repeats collapsed).
  const path: string[] = [];
  for (const h of t.hops) {
    if (!h.frame.startsWith("ICMP echo request") || h.device.includes("<->")) continue;
    if (path.at(-1) !== h.device) path.push(h.device);
  }
  return [
    `${n}. ${title}`,
    `   vnet trace ${t.from} ${t.to}: ${status}, ${t.hops.length} hops`,
    `   request path: ${path.join(" > ")}`,
    `   verdict: ${t.verdict}`,
    "",
  ].join("\n");
}

/** What the demo prints of every pair, from pingall or from reach. */
interface AllPairs {
  vms: { length: number };
  pairs: number;
  received: number;
  lossPercent: number;
  failures: { from: string; to: string; why: string }[];
}

function fromReach(r: ReachResult): AllPairs {
  return {
    vms: { length: r.vms },
    pairs: r.pairs,
    received: r.deliveredPairs,
    lossPercent: r.pairs === 0 ? 0 : Math.round((r.refusedPairs / r.pairs) * 1000) / 10,
    failures: r.results
      .filter((x) => !x.delivered)
      .map((x) => ({
        from: x.probe.from,
        to: x.probe.to,
        why: `${x.failure?.text ?? x.verdict} (and ${x.pairs - 1} alike pairs)`,
      })),
  };
}

function count(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

export function register(program: Command, io: Io, setExit: (code: number) => void): void {
  program
    .command("demo")
    .description(
      "the source document's data center on the simulator: traces with verdicts, pingall, captures",
    )
    .option("--file <topology>", "topology to run instead of the shipped example")
    .option("--pcap <dir>", "where to write the captures (default: a new temporary directory)")
    .option("-q, --quiet", "no progress line on standard error")
    .option("--json", "print { traces, pingall, captures } as JSON")
    .action(async (opts: { file?: string; pcap?: string; json?: boolean }) => {
      const file = opts.file ?? SEED_EXAMPLE;
      const first = await loadNetwork(file, io, {});
      const pairs = demoPairs(first.topology);
      const captureRoot = opts.pcap ?? mkdtempSync(join(tmpdir(), "vnet-demo-"));
      const traces: { title: string; trace: TraceResult; captures: string }[] = [];
      pairs.forEach((p, i) => {
        // A fresh network per trace, so each one shows its own ARP resolution.
        const net = Network.fromTopology(first.topology, { seed: 1 });
        net.startCaptures();
        const t = net.trace(p.from, p.to);
        const dir = join(captureRoot, `${i + 1}-${p.from}-${p.to}`);
        writeCaptures(net, dir);
        traces.push({ title: p.title, trace: t, captures: dir });
      });
      const all = Network.fromTopology(first.topology, { seed: 1 });
      all.startCaptures();
      // Every pair: pingall where it runs, else reach (one probe per class of alike pairs).
      const isReach = all.vmNames().length > MAX_PINGALL_VMS;
      const ping: AllPairs = isReach ? fromReach(all.reach()) : all.pingAll();
      const pingDir = join(captureRoot, isReach ? "reach" : "pingall");
      const pingFiles = writeCaptures(all, pingDir);
      const isAllDelivered = traces.every((t) => t.trace.delivered) && ping.received === ping.pairs;
      if (opts.json) {
        io.out(
          `${JSON.stringify(
            {
              topology: first.topology.name,
              traces: traces.map((t) => ({
                title: t.title,
                from: t.trace.from,
                to: t.trace.to,
                delivered: t.trace.delivered,
                crossesPhysicalNetwork: t.trace.crossesPhysicalNetwork,
                physicalDevices: t.trace.physicalDevices,
                verdict: t.trace.verdict,
                captures: t.captures,
              })),
              [isReach ? "reach" : "pingall"]: {
                vms: ping.vms.length,
                pairs: ping.pairs,
                received: ping.received,
                lossPercent: ping.lossPercent,
              },
              captures: captureRoot,
            },
            null,
            2,
          )}\n`,
        );
      } else {
        const t = first.topology;
        const vmCount = t.servers.reduce((a, s) => a + s.vms.length, 0);
        io.out(
          `vnet demo: ${t.name}: ${count(t.servers.length, "server", "servers")}, ${count(vmCount, "VM", "VMs")}, ${count(t.switches.length, "physical switch", "physical switches")} (simulated, seed 1)\n\n`,
        );
        traces.forEach((tr, i) => {
          io.out(compact(i + 1, tr.title, tr.trace));
        });
        io.out(
          `${isReach ? "reach (one probe per class of alike pairs)" : "pingall"}: ${count(ping.vms.length, "VM", "VMs")}, ${ping.received}/${ping.pairs} pairs delivered, ${ping.lossPercent}% loss\n`,
        );
        for (const f of ping.failures.slice(0, 10)) io.out(`  ${f.from} -> ${f.to}: ${f.why}\n`);
        io.out(
          `\ncaptures: ${captureRoot}: a folder per trace and ${basename(pingDir)}/ for the ${isReach ? "reach probes" : "pingall"}, each with ${pingFiles.length === 0 ? CAPTURE_FILE_NAME : basename(pingFiles[0].path)} (open it in Wireshark, or vnet decode FILE)\n`,
        );
        io.out(
          `\nfull hop lists: vnet trace ${file === SEED_EXAMPLE ? "examples/seed-datacenter.yaml" : file} FROM TO\n`,
        );
      }
      if (!isAllDelivered) setExit(ExitCode.networkFailure);
    });
}
