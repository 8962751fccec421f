/**
 * Counts of what a normalized topology holds, for `vnet check`'s one-line answer and for any
 * front end that wants to say "2 servers, 7 VMs, ..." without walking the topology itself.
 * Browser-safe.
 */

import type { Topology } from "./types.ts";

export interface TopologySummary {
  name: string;
  servers: number;
  vms: number;
  vmNics: number;
  switches: number;
  /** Standalone routers (`routers:`), not counted in `switches`. */
  routers: number;
  links: number;
  vswitches: number;
  portGroups: number;
  /** VFs the SR-IOV NICs present (sum of `sriov.vfs`). */
  vfs: number;
  /** VFs given to VM NICs. */
  vfsInUse: number;
  gateways: number;
}

export function summarize(t: Topology): TopologySummary {
  let vms = 0;
  let vmNics = 0;
  let vswitches = 0;
  let portGroups = 0;
  let vfs = 0;
  let vfsInUse = 0;
  for (const s of t.servers) {
    vms += s.vms.length;
    vswitches += s.vswitches.length;
    for (const v of s.vswitches) portGroups += v.portGroups.length;
    for (const n of s.nics) vfs += n.sriov?.vfs ?? 0;
    for (const vm of s.vms) {
      vmNics += vm.nics.length;
      for (const n of vm.nics) if (n.attachment.kind === "vf") vfsInUse++;
    }
  }
  return {
    name: t.name,
    servers: t.servers.length,
    vms,
    vmNics,
    switches: t.switches.filter((s) => !s.isRouter).length,
    routers: t.switches.filter((s) => s.isRouter).length,
    links: t.links.length,
    vswitches,
    portGroups,
    vfs,
    vfsInUse,
    gateways: t.switches.reduce((n, s) => n + s.gateway.length, 0),
  };
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** "2 servers, 7 VMs, 1 switch, 3 links, 4 port groups, 8 VFs (2 in use)" */
export function formatSummary(s: TopologySummary): string {
  return [
    plural(s.servers, "server"),
    plural(s.vms, "VM"),
    plural(s.switches, "switch", "switches"),
    ...(s.routers > 0 ? [plural(s.routers, "router")] : []),
    plural(s.links, "link"),
    plural(s.portGroups, "port group"),
    `${plural(s.vfs, "VF")} (${s.vfsInUse} in use)`,
  ].join(", ");
}
