/**
 * `vnet tour`: a short, printed orientation of what vnet does and which commands to try first,
 * using the shipped example data center. `--json` gives the same as a list of steps.
 */

import type { Command } from "commander";
import type { Io } from "./io.ts";

const EXAMPLE = "examples/seed-datacenter.yaml";

const STEPS: { command: string; what: string }[] = [
  { command: "vnet demo", what: "the source document's data center explains itself (also: npm start)" },
  { command: `vnet check ${EXAMPLE}`, what: "validate a topology; mistakes come back as file:line:col" },
  { command: `vnet trace ${EXAMPLE} web1 db1`, what: "every hop of one ping, and the rule it shows" },
  { command: `vnet trace ${EXAMPLE} sriov1 sriov2`, what: "SR-IOV: VF to VF never touches a vswitch" },
  { command: `vnet ping ${EXAMPLE} web1 web3 -c 3`, what: "ping, in simulated time" },
  {
    command: `vnet pingall ${EXAMPLE} --pcap out/`,
    what: "every VM to every VM; out/vnet.pcapng, an interface per link end",
  },
  {
    command: `vnet reach ${EXAMPLE}`,
    what: "every VM pair answered by classes of alike pairs: one real probe each, fast at any size",
  },
  {
    command: `vnet reach ${EXAMPLE} --fail tor1`,
    what: "what-if: the pairs that lose reachability when tor1 fails",
  },
  {
    command: "vnet run examples/faults.yaml --probe web1:db1",
    what: "the file's faults: over time: the timeline (failovers, flushes) and every lost echo",
  },
  {
    command: `vnet show ${EXAMPLE} fdb tor1`,
    what: "one device's MAC table after a pingall (also arp, ports, counters)",
  },
  {
    command: "vnet show examples/mlag.yaml lacp",
    what: "servers LACP-bonded to an MLAG leaf pair: every LAG member and its partner (also mlag, teaming)",
  },
  {
    command: "vnet traceroute examples/leaf-spine.yaml app2 web1",
    what: "a routed leaf-spine fabric: one line per router, ECMP over both spines",
  },
  {
    command: "vnet mtu examples/gre-sites.yaml hq1 br1",
    what: "a GRE tunnel between two sites: the path MTU and what each layer adds",
  },
  {
    command: "vnet trace examples/vxlan-tor.yaml bm1 a1",
    what: "VXLAN: a ToR hardware VTEP and hypervisor VTEPs in one VNI over a routed leaf-spine underlay",
  },
  { command: "vnet decode out/vnet.pcapng", what: "every layer of every frame, VXLAN inner frames too" },
  { command: "vnet vpn genkey | vnet vpn pubkey", what: "WireGuard keys, as wg genkey / wg pubkey" },
  {
    command: "vnet vpn ping --config examples/vpn/wg0.conf 10.0.0.2",
    what: "a userspace WireGuard endpoint pings through (start vnet vpn listen --config examples/vpn/wg1.conf first)",
  },
  { command: "vnet schema", what: "the topology file's JSON Schema, for editor completion" },
];

export function register(program: Command, io: Io): void {
  program
    .command("tour")
    .description("a short tour of what vnet can do")
    .option("--json", "the steps as JSON")
    .action((opts: { json?: boolean }) => {
      if (opts.json) {
        io.out(`${JSON.stringify({ steps: STEPS })}\n`);
        return;
      }
      const width = Math.max(...STEPS.map((s) => s.command.length));
      let text =
        "vnet: virtual machines, virtual switches, SR-IOV, VLANs, VXLAN and VPN, packet by packet.\n\n";
      for (const s of STEPS) text += `  ${s.command.padEnd(width)}  ${s.what}\n`;
      text +=
        "\nEvery command has --help and --json. Exit codes: 0 ok, 1 the network said no, 2 a usage or input error.\n";
      io.out(text);
    });
}
