/**
 * `vnet generate [--racks N] [--servers N] [--vms N] [--port-groups N] [--sriov N] [--mlag |
 * --vxlan [--spines N]] [--name NAME] [-o FILE]`: a generated data center as a topology file
 * (src/model/generate.ts): racks of servers with VMs, a top-of-rack switch per rack (or an MLAG
 * leaf pair, or a routed leaf-spine with VXLAN), the core switch routing between port groups.
 * The default is the 16,000-VM data center of the scale benchmark; the same options give the same
 * bytes. Bad options are one line and exit 2.
 */

import type { Command } from "commander";
import { DATACENTER_DEFAULTS, generateDatacenter } from "../model/generate.ts";
import { UserError } from "./errors.ts";
import type { Io } from "./io.ts";
import { parseIntOption, writeOutput } from "./net-common.ts";

/** The most VMs a generated file holds (12.5 times the 16,000 of the scale benchmark). */
const MAX_VMS = 200_000;

interface GenerateOptions {
  racks?: string;
  servers?: string;
  vms?: string;
  portGroups?: string;
  sriov?: string;
  mlag?: boolean;
  vxlan?: boolean;
  spines?: string;
  name?: string;
  output?: string;
}

export function register(program: Command, io: Io): void {
  const d = DATACENTER_DEFAULTS;
  program
    .command("generate")
    .description(
      `a generated data center as a topology file (default ${d.racks} racks x ${d.serversPerRack} servers x ${d.vmsPerServer} VMs = ${(d.racks * d.serversPerRack * d.vmsPerServer).toLocaleString("en-US")} VMs)`,
    )
    .option("--racks <n>", `racks, a top-of-rack switch each (default ${d.racks})`)
    .option("--servers <n>", `servers per rack (default ${d.serversPerRack})`)
    .option("--vms <n>", `VMs per server (default ${d.vmsPerServer})`)
    .option(
      "--port-groups <n>",
      `port groups, a VLAN and a /16 each, the core routing between them (default ${d.portGroups})`,
    )
    .option("--sriov <n>", "per server, VMs on SR-IOV virtual functions instead of a port group (default 0)")
    .option("--mlag", "every rack an MLAG leaf pair, servers bonded to both with LACP")
    .option(
      "--vxlan",
      "port groups on VXLAN VNIs over hypervisor VTEPs and a routed leaf-spine (no overlay router: only VMs of one port group reach each other, so pingall reports the other pairs unreachable)",
    )
    .option("--spines <n>", `spines with --vxlan (default ${d.spines})`)
    .option("--name <name>", `the topology's name (default ${d.name})`)
    .option("-o, --output <file>", "write to this file instead of standard output")
    .addHelpText(
      "after",
      "\nExamples:\n  vnet generate --racks 2 --servers 2 --vms 3 -o small.yaml && vnet pingall small.yaml\n  vnet generate -o dc.yaml && vnet reach dc.yaml          # 16,000 VMs\n  vnet generate --vxlan --racks 4 --servers 4 --vms 4 -o fabric.yaml",
    )
    .action((opts: GenerateOptions) => {
      const int = (name: string, text: string | undefined, fallback: number, min: number, max: number) =>
        text === undefined ? fallback : parseIntOption(name, text, min, max);
      if (opts.mlag === true && opts.vxlan === true)
        throw new UserError("--mlag and --vxlan cannot be combined");
      if (opts.spines !== undefined && opts.vxlan !== true) throw new UserError("--spines needs --vxlan");
      if (opts.name !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(opts.name))
        throw new UserError(`--name: "${opts.name}" is not a name (letters, digits, . _ -)`);
      const racks = int("--racks", opts.racks, d.racks, 1, 100_000);
      const servers = int("--servers", opts.servers, d.serversPerRack, 1, 4000);
      const vms = int("--vms", opts.vms, d.vmsPerServer, 1, 4000);
      // A file that large would exhaust memory while it is written, long before it is refused.
      if (racks * servers * vms > MAX_VMS)
        throw new UserError(
          `${(racks * servers * vms).toLocaleString("en-US")} VMs: vnet generate writes at most ${MAX_VMS.toLocaleString("en-US")} (--racks x --servers x --vms)`,
        );
      let text: string;
      try {
        text = generateDatacenter({
          racks,
          serversPerRack: servers,
          vmsPerServer: vms,
          portGroups: int("--port-groups", opts.portGroups, d.portGroups, 1, 254),
          sriovVmsPerServer: int("--sriov", opts.sriov, d.sriovVmsPerServer, 0, 512),
          mlag: opts.mlag === true,
          vxlan: opts.vxlan === true,
          spines: int("--spines", opts.spines, d.spines, 1, 64),
          name: opts.name ?? d.name,
        });
      } catch (e) {
        // The generator refuses combinations no topology can hold (RangeError), in its words.
        if (e instanceof RangeError) {
          const flags: [RegExp, string][] = [
            [/\bsriovVmsPerServer\b/g, "--sriov"],
            [/\bvmsPerServer\b/g, "--vms"],
            [/\bserversPerRack\b/g, "--servers"],
            [/\bportGroups\b/g, "--port-groups"],
            [/^racks\b/, "--racks"],
            [/^spines\b/, "--spines"],
            [/^vxlan and mlag\b/, "--vxlan and --mlag"],
          ];
          throw new UserError(flags.reduce((m, [re, flag]) => m.replace(re, flag), e.message));
        }
        throw e;
      }
      writeOutput(io, opts.output, text);
    });
}
