/**
 * Prints a generated data center as a topology file (YAML) on stdout, for the scale benchmark
 * and for trying vnet on a large network:
 *
 *   node --import tsx bench/gen-datacenter.ts > /tmp/dc.yaml                  40 x 20 x 20 = 16,000 VMs
 *   node --import tsx bench/gen-datacenter.ts --racks 2 --servers 4 --vms 5 --port-groups 2 --sriov 1
 *   node --import tsx bench/gen-datacenter.ts --mlag     every rack an MLAG leaf pair, servers LACP-bonded
 *   node --import tsx bench/gen-datacenter.ts --vxlan [--spines 2]   port groups on VNIs over VTEPs, routed leaf-spine
 *
 * With --time it also loads what it generated and prints the sizes and the load time on stderr.
 */

import { parseArgs } from "node:util";
import { DATACENTER_DEFAULTS, generateDatacenter } from "../src/model/generate.ts";
import { loadTopologyText } from "../src/model/load.ts";
import { formatSummary, summarize } from "../src/model/summary.ts";

const { values } = parseArgs({
  options: {
    racks: { type: "string" },
    servers: { type: "string" },
    vms: { type: "string" },
    "port-groups": { type: "string" },
    sriov: { type: "string" },
    name: { type: "string" },
    mlag: { type: "boolean" },
    vxlan: { type: "boolean" },
    spines: { type: "string" },
    time: { type: "boolean" },
  },
});
const num = (v: string | undefined, d: number) => (v === undefined ? d : Number(v));

let text: string;
try {
  text = generateDatacenter({
    racks: num(values.racks, DATACENTER_DEFAULTS.racks),
    serversPerRack: num(values.servers, DATACENTER_DEFAULTS.serversPerRack),
    vmsPerServer: num(values.vms, DATACENTER_DEFAULTS.vmsPerServer),
    portGroups: num(values["port-groups"], DATACENTER_DEFAULTS.portGroups),
    sriovVmsPerServer: num(values.sriov, DATACENTER_DEFAULTS.sriovVmsPerServer),
    mlag: values.mlag ?? DATACENTER_DEFAULTS.mlag,
    vxlan: values.vxlan ?? DATACENTER_DEFAULTS.vxlan,
    spines: num(values.spines, DATACENTER_DEFAULTS.spines),
    name: values.name ?? DATACENTER_DEFAULTS.name,
  });
} catch (e) {
  process.stderr.write(`gen-datacenter: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(2);
}
process.stdout.write(text);

if (values.time) {
  const t0 = performance.now();
  const { topology, warnings } = loadTopologyText(text, "generated.yaml");
  const ms = performance.now() - t0;
  process.stderr.write(
    `generated ${(text.length / 1e6).toFixed(2)} MB, ${text.split("\n").length} lines; loaded in ${ms.toFixed(0)} ms: ${formatSummary(summarize(topology))}; ${warnings.length} warnings\n`,
  );
}
