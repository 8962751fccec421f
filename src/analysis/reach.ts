/**
 * Exhaustive reachability by equivalence classes (`vnet reach`), the planning half: which VM
 * pairs must behave alike, so that one real probe through the simulator answers for all of
 * them. Pure over the normalized topology (browser-safe); the facade runs the probes.
 *
 * Two VMs are in one **VM class** when they sit on structurally equal servers and have the same
 * attachment (port group: its vswitch and port group by name, the vswitch's shape, VLAN and
 * security policy; or VF: its NIC by name, VLAN and spoof check), the same subnet and the same
 * gateway. Two *ordered pairs* of VMs are in one **pair
 * class** when their VM classes agree and they are placed alike: the same server and NICs, or
 * joined by physical paths that look the same (every device and cable on the way configured
 * alike, up or down alike) from the NICs the source's frames use to those of the target. An
 * address's class also records which of the file's subnets hold it (a /24 and a /16 in one VLAN
 * reach differently).
 *
 * "Structurally equal" comes from colour refinement (1-dimensional Weisfeiler-Leman) over the
 * physical graph: switches and servers are nodes coloured by their own configuration (SVIs and
 * their subnets, vswitches, port groups, SR-IOV, the classes of the VMs they host), cables are
 * edges labelled by both ends' port configuration and the cable's own properties; colours are
 * refined by the multiset of (edge, neighbour colour) until they stop splitting. A placement is
 * the sequence of (cable, device colour) steps along the first shortest physical path from the
 * source VM's NICs to the target VM's (breadth-first, cables in file order; servers do not
 * forward between their NICs, so paths go through switches only). For tree-shaped fabrics (servers under
 * top-of-rack switches under a core, as data centers are cabled when spanning tree or MLAG is
 * not in play) equal colours mean the two devices are interchangeable, and the class verdict is
 * exact; on meshes it is the standard approximation, and `verify` probes random pairs to check
 * it.
 */

import { prefixMask } from "../dataplane/fib.ts";
import type { LinkSpec, ServerSpec, SwitchPortSpec, SwitchSpec, Topology, VmSpec } from "../model/types.ts";
import { formatIpv4 } from "../wire/addr.ts";

/** A class of VMs that one probe stands for. */
export interface VmClass {
  id: number;
  /** What the class is, in words: "web (vlan 100) 10.1.0.0/16 gw 10.1.0.1". */
  label: string;
  /** Indexes (file order) of the VMs in it. */
  vms: number[];
  /** How many servers the class's VMs are spread over. */
  servers: number;
}

/** How the servers of a pair are placed relative to each other. */
export interface Placement {
  id: number;
  /** "same server", "via tor1", "via tor1, core1, tor2", "no physical path". */
  text: string;
  /** Devices on the representative path (empty for the same server). */
  via: string[];
}

/** One pair class: every ordered VM pair (a in `from`, b in `to`, placed as `placement`). */
export interface PairClass {
  id: number;
  from: number;
  to: number;
  placement: number;
  /** How many ordered VM pairs it stands for. */
  pairs: number;
  /** The probe: the first such pair in file order (VM indexes). */
  probe: [number, number];
}

export interface ReachPlan {
  vms: VmSpec[];
  classes: VmClass[];
  placements: Placement[];
  pairClasses: PairClass[];
  /** The pair class of an ordered VM pair (VM indexes), for checks and per-pair answers. */
  pairClassOf(a: number, b: number): number;
  /** Servers, in file order, and the server index of each VM. */
  serverOfVm: Int32Array;
  /** Per VM: its VM class, and its attachment group (its server and the NICs its frames use). */
  vmClass: Int32Array;
  vmGroup: Int32Array;
}

/** Interns strings as small integers, in order of first appearance (deterministic). */
class Interner {
  private ids = new Map<string, number>();
  id(key: string): number {
    let v = this.ids.get(key);
    if (v === undefined) {
      v = this.ids.size;
      this.ids.set(key, v);
    }
    return v;
  }
  has(key: string): boolean {
    return this.ids.has(key);
  }
  get size(): number {
    return this.ids.size;
  }
}

function subnetText(ip: number, prefixLen: number): string {
  const mask = prefixMask(prefixLen);
  return `${formatIpv4((ip & mask) >>> 0)}/${prefixLen}`;
}

function portText(p: SwitchPortSpec | undefined): string {
  if (p === undefined) return "access:1";
  if (p.mode === "access") return `access:${p.vlan}`;
  if (p.mode === "routed") return `routed:${p.ip}/${p.prefixLen}`;
  return `trunk:${p.vlans === null ? "all" : p.vlans.join(",")}:${p.nativeVlan ?? "-"}`;
}

interface Node {
  kind: "switch" | "server";
  name: string;
  label: string;
  /** Edges: (label as seen from this node, neighbour node index, link index, is up). */
  edges: { label: string; to: number; isUp: boolean; port: string; farPort: string }[];
}

/**
 * Plans the probes of `vnet reach` for a topology. `isLinkUp(i)` gives the state of
 * `topology.links[i]` now (default: as the file says).
 */
export function planReach(
  topology: Topology,
  isLinkUp: (link: number) => boolean = (i) => topology.links[i].isUp,
): ReachPlan {
  const servers = topology.servers;
  const switches = topology.switches;
  const vms: VmSpec[] = servers.flatMap((s) => s.vms);
  const serverIndex = new Map(servers.map((s, i) => [s.name, i]));

  // The local shape of a server's parts, without names.
  const vswitchSig = (s: ServerSpec, name: string): string => {
    const v = s.vswitches.find((x) => x.name === name);
    if (v === undefined) return "?";
    const nicSig = v.uplinks
      .map((u) => {
        const nic = s.nics.find((n) => n.name === u);
        return nic?.sriov ? `sriov${nic.sriov.vfs}` : "nic";
      })
      .join("+");
    return `vs[${nicSig}|t${v.macTableSize}]`;
  };
  // Every subnet configured anywhere (VM NICs, SVIs), by prefix length: which of them hold an
  // address decides what it can reach on-link (a /24 and a /16 in one VLAN), so it is part of
  // the class.
  const subnets = new Map<number, Set<number>>();
  const addSubnet = (ip: number, len: number) => {
    const mask = prefixMask(len);
    let set = subnets.get(len);
    if (set === undefined) {
      set = new Set();
      subnets.set(len, set);
    }
    set.add((ip & mask) >>> 0);
  };
  for (const sv of servers) for (const vm of sv.vms) for (const n of vm.nics) addSubnet(n.ip, n.prefixLen);
  for (const sw of switches) for (const g of sw.gateway) addSubnet(g.ip, g.prefixLen);
  const lengths = [...subnets.keys()].sort((a, b) => a - b);
  const memberships = (ip: number): string =>
    lengths.filter((len) => subnets.get(len)?.has((ip & prefixMask(len)) >>> 0)).join(",");

  const attachmentText = (s: ServerSpec, vm: VmSpec): { sig: string; label: string } => {
    const sigs: string[] = [];
    const labels: string[] = [];
    for (const n of vm.nics) {
      const a = n.attachment;
      let att: string;
      let lab: string;
      if (a.kind === "portGroup") {
        const v = s.vswitches.find((x) => x.name === a.vswitch);
        const pg = v?.portGroups.find((p) => p.name === a.portGroup);
        const sec = pg
          ? `${+pg.security.allowPromiscuous}${+pg.security.allowMacChanges}${+pg.security.allowForgedTransmits}${+pg.security.spoofGuard}`
          : "?";
        // The vswitch and port group by name: two vswitches of one server are two attachments
        // even when configured alike (their uplinks may be cabled differently).
        // A VNI port group is its VNI's segment (its vlan is 0): the VNI is part of what it is.
        const segment = pg?.vni !== null && pg?.vni !== undefined ? `vni:${pg.vni}` : `vlan:${pg?.vlan ?? 0}`;
        att = `pg:${a.vswitch}/${a.portGroup}:${vswitchSig(s, a.vswitch)}:${segment}:${sec}`;
        lab = `${a.portGroup} (${segment === "vlan:0" ? "untagged" : segment.replace(":", " ")})`;
      } else {
        const nic = s.nics.find((x) => x.name === a.nic);
        att = `vf:${a.nic}:${nic?.sriov?.vfs ?? 0}:${a.vlan ?? "-"}:${+a.spoofCheck}`;
        lab = `VF on ${a.nic}${a.vlan === null ? "" : ` (vlan ${a.vlan})`}`;
      }
      const net = `${subnetText(n.ip, n.prefixLen)}${n.gateway === null ? "" : ` gw ${formatIpv4(n.gateway)}`}`;
      sigs.push(`${att}|${net}|in:${memberships(n.ip)}`);
      labels.push(`${lab} ${net}`);
    }
    return { sig: sigs.join(";"), label: labels.join("; ") || "no NIC" };
  };

  // Local VM signatures (server-independent) and per-server labels.
  const localSig = new Interner();
  const vmLocal = new Int32Array(vms.length);
  const vmLabel: string[] = [];
  const serverOfVm = new Int32Array(vms.length);
  {
    let k = 0;
    for (const [si, s] of servers.entries()) {
      for (const vm of s.vms) {
        const { sig, label } = attachmentText(s, vm);
        vmLocal[k] = localSig.id(sig);
        vmLabel[k] = label;
        serverOfVm[k] = si;
        k++;
      }
    }
  }

  // The physical graph.
  const nodes: Node[] = [];
  const nodeOf = new Map<string, number>();
  for (const sw of switches) {
    nodeOf.set(sw.name, nodes.length);
    nodes.push({ kind: "switch", name: sw.name, label: switchLabel(sw), edges: [] });
  }
  const serverNode: number[] = [];
  {
    let k = 0;
    for (const s of servers) {
      const local: number[] = [];
      for (let i = 0; i < s.vms.length; i++) local.push(vmLocal[k++]);
      local.sort((a, b) => a - b);
      const vsw = s.vswitches
        .map(
          (v) =>
            `${vswitchSig(s, v.name)}{${v.portGroups.map((p) => (p.vni === null ? p.vlan : `vni${p.vni}`)).join(",")}}`,
        )
        .sort();
      serverNode.push(nodes.length);
      nodeOf.set(s.name, nodes.length);
      nodes.push({
        kind: "server",
        name: s.name,
        label: `srv|${vsw.join(";")}|vms:${local.join(",")}`,
        edges: [],
      });
    }
  }
  const portOf = (node: string, port: string): string => {
    const sw = switches.find((x) => x.name === node);
    if (sw !== undefined) return `sw:${portText(sw.ports.find((p) => p.name === port))}`;
    const s = servers[serverIndex.get(node) ?? -1];
    if (s === undefined) return "?";
    // Which vswitch (by name) the NIC is an uplink of, and in which position: the cable's
    // state then tells the VMs of that vswitch apart from those of another.
    const roles = s.vswitches
      .filter((v) => v.uplinks.includes(port))
      .map((v) => `${v.name}:${vswitchSig(s, v.name)}#${v.uplinks.indexOf(port)}`);
    const nic = s.nics.find((n) => n.name === port);
    return `nic:${port}:${roles.join("+")}:${nic?.sriov ? `sriov${nic.sriov.vfs}` : "-"}`;
  };
  topology.links.forEach((l: LinkSpec, li) => {
    const a = nodeOf.get(l.a.node);
    const b = nodeOf.get(l.b.node);
    if (a === undefined || b === undefined) return;
    const isUp = isLinkUp(li);
    const props = `${l.mtu}|${l.lossRate}|${isUp ? "up" : "down"}`;
    const pa = portOf(l.a.node, l.a.port);
    const pb = portOf(l.b.node, l.b.port);
    nodes[a].edges.push({
      label: `${pa}>${pb}|${props}`,
      to: b,
      isUp,
      port: l.a.port,
      farPort: l.b.port,
    });
    nodes[b].edges.push({
      label: `${pb}>${pa}|${props}`,
      to: a,
      isUp,
      port: l.b.port,
      farPort: l.a.port,
    });
  });

  // Colour refinement.
  const colors = refine(nodes);

  // VM classes: (server colour, local signature).
  const classIds = new Interner();
  const vmClass = new Int32Array(vms.length);
  const classes: VmClass[] = [];
  const classServers: Set<number>[] = [];
  for (let k = 0; k < vms.length; k++) {
    const id = classIds.id(`${colors[serverNode[serverOfVm[k]]]}/${vmLocal[k]}`);
    vmClass[k] = id;
    if (classes[id] === undefined) {
      classes[id] = { id, label: vmLabel[k], vms: [], servers: 0 };
      classServers[id] = new Set();
    }
    classes[id].vms.push(k);
    classServers[id].add(serverOfVm[k]);
  }
  for (const c of classes) c.servers = classServers[c.id].size;

  // Attachment groups: the server and the NICs a VM's frames use (its vswitches' uplinks, its
  // VFs' NICs). Placements are paths between groups, so a VM on a data vswitch is not placed by
  // a management NIC of its server.
  const groupIds = new Interner();
  const groups: { server: number; nics: string[] }[] = [];
  const vmGroup = new Int32Array(vms.length);
  {
    let k = 0;
    for (const [si, sv] of servers.entries()) {
      for (const vm of sv.vms) {
        const nics = new Set<string>();
        for (const n of vm.nics) {
          const a = n.attachment;
          if (a.kind === "vf") nics.add(a.nic);
          else for (const u of sv.vswitches.find((v) => v.name === a.vswitch)?.uplinks ?? []) nics.add(u);
        }
        const list = [...nics].sort();
        const g = groupIds.id(`${si}|${list.join(",")}`);
        if (groups[g] === undefined) groups[g] = { server: si, nics: list };
        vmGroup[k++] = g;
      }
    }
  }

  // Placements: path signatures from every group (breadth-first through switches).
  const placementIds = new Interner();
  const placements: Placement[] = [];
  const addPlacement = (key: string, text: string, via: string[]) => {
    const id = placementIds.id(key);
    if (placements[id] === undefined) placements[id] = { id, text, via };
    return id;
  };
  addPlacement("same", "same server", []);
  const nG = groups.length;
  const placementOf = new Int32Array(nG * nG);
  const stepIds = new Interner();
  const sigOf = new Int32Array(nodes.length);
  const parent = new Int32Array(nodes.length);
  const queue = new Int32Array(nodes.length);
  /** Per target server node: its NICs reached, in order of discovery, with signature and switch. */
  const arrivals = new Map<number, { nic: string; sig: number; from: number }[]>();
  for (let gi = 0; gi < nG; gi++) {
    const start = serverNode[groups[gi].server];
    const own = new Set(groups[gi].nics);
    sigOf.fill(-1);
    parent.fill(-1);
    arrivals.clear();
    sigOf[start] = stepIds.id("start");
    let head = 0;
    let tail = 0;
    queue[tail++] = start;
    while (head < tail) {
      const u = queue[head++];
      for (const e of nodes[u].edges) {
        if (!e.isUp) continue;
        if (u === start && !own.has(e.port)) continue; // leave only by the group's own NICs
        const sig = stepIds.id(`${sigOf[u]}>${e.label}>${colors[e.to]}`);
        if (nodes[e.to].kind === "server") {
          // Servers do not forward: note where the path lands, do not go on from there.
          if (u === start) continue;
          const list = arrivals.get(e.to) ?? [];
          if (!list.some((x) => x.nic === e.farPort)) list.push({ nic: e.farPort, sig, from: u });
          arrivals.set(e.to, list);
          continue;
        }
        if (sigOf[e.to] !== -1) continue;
        sigOf[e.to] = sig;
        parent[e.to] = u;
        queue[tail++] = e.to;
      }
    }
    for (let gj = 0; gj < nG; gj++) {
      if (gj === gi) {
        placementOf[gi * nG + gj] = 0;
        continue;
      }
      const target = groups[gj];
      const t = serverNode[target.server];
      const arrival = (arrivals.get(t) ?? []).find((x) => target.nics.includes(x.nic));
      if (arrival === undefined) {
        placementOf[gi * nG + gj] = addPlacement(
          `none:${colors[t]}`,
          "no physical path (no cable up between them)",
          [],
        );
        continue;
      }
      const key = `path:${arrival.sig}`;
      if (!placementIds.has(key)) {
        const via: string[] = [];
        for (let v = arrival.from; v !== -1 && v !== start; v = parent[v]) via.unshift(nodes[v].name);
        addPlacement(
          key,
          via.length === 0 ? "a direct cable between the servers" : `via ${via.join(", ")}`,
          via,
        );
      }
      placementOf[gi * nG + gj] = placementIds.id(key);
    }
  }

  // Pair classes, counted through group pairs x class multiplicities.
  const nC = classes.length;
  const perGroup: Map<number, number[]>[] = groups.map(() => new Map());
  for (let k = 0; k < vms.length; k++) {
    const m = perGroup[vmGroup[k]];
    const list = m.get(vmClass[k]);
    if (list === undefined) m.set(vmClass[k], [k]);
    else list.push(k);
  }
  const nP = placements.length;
  const pairIds = new Map<number, number>();
  const pairClasses: PairClass[] = [];
  for (let gi = 0; gi < nG; gi++) {
    for (let gj = 0; gj < nG; gj++) {
      const p = placementOf[gi * nG + gj];
      for (const [ca, la] of perGroup[gi]) {
        for (const [cb, lb] of perGroup[gj]) {
          const count = gi === gj && ca === cb ? la.length * (la.length - 1) : la.length * lb.length;
          if (count === 0) continue;
          const key = (ca * nC + cb) * nP + p;
          let id = pairIds.get(key);
          if (id === undefined) {
            id = pairClasses.length;
            pairIds.set(key, id);
            const probe: [number, number] = [la[0], gi === gj && ca === cb ? la[1] : lb[0]];
            pairClasses.push({ id, from: ca, to: cb, placement: p, pairs: 0, probe });
          }
          pairClasses[id].pairs += count;
        }
      }
    }
  }
  // Deterministic order: by source class, target class, placement.
  pairClasses.sort((x, y) => x.from - y.from || x.to - y.to || x.placement - y.placement);
  const renumber = new Map<number, number>();
  pairClasses.forEach((pc, i) => {
    renumber.set(pc.id, i);
    pc.id = i;
  });
  for (const [k, v] of pairIds) pairIds.set(k, renumber.get(v) as number);

  return {
    vms,
    classes,
    placements,
    pairClasses,
    serverOfVm,
    vmClass,
    vmGroup,
    pairClassOf(a: number, b: number): number {
      const p = placementOf[vmGroup[a] * nG + vmGroup[b]];
      return pairIds.get((vmClass[a] * nC + vmClass[b]) * nP + p) ?? -1;
    },
  };
}

function switchLabel(sw: SwitchSpec): string {
  const svis = sw.gateway.map((g) => `${g.vid}=${formatIpv4(g.ip)}/${g.prefixLen}`).join(",");
  return `sw|${svis}|t${sw.macTableSize}`;
}

/** Colour refinement: colours (small integers) that stop splitting after a few rounds. */
function refine(nodes: Node[]): Int32Array {
  let ids = new Interner();
  let colors = new Int32Array(nodes.length);
  nodes.forEach((n, i) => {
    colors[i] = ids.id(n.label);
  });
  let count = ids.size;
  for (let round = 0; round < nodes.length; round++) {
    const next = new Interner();
    const nextColors = new Int32Array(nodes.length);
    nodes.forEach((n, i) => {
      const around = n.edges.map((e) => `${e.label}>${colors[e.to]}`).sort();
      nextColors[i] = next.id(`${colors[i]}|${around.join(";")}`);
    });
    ids = next;
    colors = nextColors;
    if (next.size === count) break;
    count = next.size;
  }
  return colors;
}
