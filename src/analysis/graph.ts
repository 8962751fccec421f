/**
 * The topology as a picture (`vnet graph`): a graph model built from the normalized topology
 * (servers as clusters holding their NICs, SR-IOV VFs, vswitches and VMs; physical switches and
 * routers outside; cables, LAG members, GRE tunnels and VPNs as edges with their labels), a trace
 * laid over it (the devices and links the echo crossed, drops in red), and three renderings of
 * it: DOT (Graphviz), Mermaid (a flowchart with subgraphs) and SVG laid out here by a simple
 * deterministic layered layout. Pure and browser-safe: text in, text out, same input same bytes.
 */

import type { Topology } from "../model/types.ts";
import { formatIpv4 } from "../wire/addr.ts";
import type { TraceResult } from "./trace.ts";

export type GraphNodeKind = "vm" | "vswitch" | "nic" | "vf" | "switch" | "router";
export type GraphEdgeKind = "cable" | "vnic" | "uplink" | "vf" | "tunnel" | "vpn";
/** How a trace marks an element: on the echo's path, or where it was dropped. */
export type GraphMark = "path" | "drop" | null;

export interface GraphNode {
  /** Unique and stable ("vm:web1", "vs:server1/vs0", "nic:server1/eth0", "sw:tor1"). */
  id: string;
  kind: GraphNodeKind;
  /** The first line is the name; the others are facts (addresses, port groups, SVIs). */
  label: string[];
  /** The server cluster it belongs to, or null (physical switches, routers). */
  cluster: string | null;
  /** The trace's device names this node answers to. */
  traceNames: string[];
  mark: GraphMark;
}

export interface GraphEdge {
  id: string;
  kind: GraphEdgeKind;
  from: string;
  to: string;
  label: string[];
  /** Drawn dashed: tunnels and VPNs (overlays), and cables that are down. */
  isDashed: boolean;
  /** Drawn bold: a LAG member. */
  isLag: boolean;
  /** Normalized trace link names (`a<->b` with the ends sorted) this edge answers to. */
  traceNames: string[];
  mark: GraphMark;
}

export interface GraphCluster {
  /** "srv:server1" */
  id: string;
  label: string;
}

export interface TopologyGraph {
  name: string;
  clusters: GraphCluster[];
  nodes: GraphNode[];
  edges: GraphEdge[];
  /** Set by `markTrace`: "web1 -> db1: delivered" or the failure. */
  caption: string | null;
}

const linkName = (a: string, b: string) => (a < b ? `${a}<->${b}` : `${b}<->${a}`);

function prefix(ip: number, len: number): string {
  return `${formatIpv4(ip)}/${len}`;
}

/** "1-4,10,20": a VLAN list with runs folded. */
export function formatVlanList(vlans: readonly number[]): string {
  const sorted = [...vlans].sort((x, y) => x - y);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    parts.push(j - i >= 2 ? `${sorted[i]}-${sorted[j]}` : sorted.slice(i, j + 1).join(","));
    i = j + 1;
  }
  return parts.join(",");
}

/** Builds the picture's model of a topology, in the file's order. */
export function buildGraph(topology: Topology): TopologyGraph {
  const clusters: GraphCluster[] = [];
  const nodes: GraphNode[] = [];
  const edges: GraphEdge[] = [];
  const node = (n: Omit<GraphNode, "mark">) => nodes.push({ ...n, mark: null });
  const edge = (e: Omit<GraphEdge, "mark" | "id" | "isDashed" | "isLag"> & Partial<GraphEdge>) =>
    edges.push({ isDashed: false, isLag: false, ...e, id: `e${edges.length}`, mark: null });

  const switchNames = new Set(topology.switches.map((s) => s.name));
  const vfIds = new Set<string>();
  const routerNames = new Set(topology.switches.filter((s) => s.isRouter).map((s) => s.name));
  for (const sw of topology.switches) {
    const label = [sw.name];
    for (const g of sw.gateway) label.push(`SVI vlan${g.vid} ${prefix(g.ip, g.prefixLen)}`);
    if (sw.isRouter)
      for (const p of sw.ports) if (p.mode === "routed") label.push(`${p.name} ${prefix(p.ip, p.prefixLen)}`);
    if (sw.loopback !== null) label.push(`lo ${prefix(sw.loopback.ip, sw.loopback.prefixLen)}`);
    if (sw.vtep !== null) label.push(`VTEP ${formatIpv4(sw.vtep.ip)}`);
    if (sw.nat) label.push(`NAT out ${sw.nat.outside}`);
    node({
      id: `sw:${sw.name}`,
      kind: sw.isRouter ? "router" : "switch",
      label,
      cluster: null,
      traceNames: [sw.name],
    });
  }

  for (const server of topology.servers) {
    const cluster = `srv:${server.name}`;
    clusters.push({ id: cluster, label: server.name });
    for (const nic of server.nics) {
      const label = [nic.name];
      if (nic.sriov !== null) {
        const used = server.vms.flatMap((v) => v.nics).filter((n) => isVfOf(n.attachment, nic.name)).length;
        label.push(`SR-IOV ${used}/${nic.sriov.vfs} VFs`);
      }
      node({
        id: `nic:${server.name}/${nic.name}`,
        kind: "nic",
        label,
        cluster,
        traceNames: [`${server.name}/${nic.name}`],
      });
    }
    for (const vs of server.vswitches) {
      const id = `vs:${server.name}/${vs.name}`;
      const label = [vs.name];
      for (const pg of vs.portGroups)
        label.push(
          `${pg.name}: ${pg.vni !== null ? `VNI ${pg.vni}` : pg.vlan === 0 ? "untagged" : `VLAN ${pg.vlan}`}`,
        );
      if (vs.vtep !== null) label.push(`VTEP ${prefix(vs.vtep.ip, vs.vtep.prefixLen)} vlan ${vs.vtep.vlan}`);
      node({ id, kind: "vswitch", label, cluster, traceNames: [`${server.name}/${vs.name}`] });
      for (const u of vs.uplinks) {
        edge({
          kind: "uplink",
          from: id,
          to: `nic:${server.name}/${u}`,
          label: ["uplink"],
          traceNames: [linkName(`${server.name}/${vs.name}:uplink:${u}`, `${server.name}/${u}:pf`)],
        });
      }
    }
    for (const vm of server.vms) {
      const id = `vm:${vm.name}`;
      node({
        id,
        kind: "vm",
        label: [vm.name, ...vm.nics.map((n) => `${n.name} ${prefix(n.ip, n.prefixLen)}`)],
        cluster,
        traceNames: [vm.name],
      });
      for (const n of vm.nics) {
        const a = n.attachment;
        if (a.kind === "portGroup") {
          const pg = server.vswitches
            .find((v) => v.name === a.vswitch)
            ?.portGroups.find((p) => p.name === a.portGroup);
          const seg =
            pg === undefined
              ? ""
              : pg.vni !== null
                ? ` (VNI ${pg.vni})`
                : pg.vlan === 0
                  ? " (untagged)"
                  : ` (VLAN ${pg.vlan})`;
          edge({
            kind: "vnic",
            from: id,
            to: `vs:${server.name}/${a.vswitch}`,
            label: [`${n.name}: ${a.portGroup}${seg}`],
            traceNames: [`vnic:${vm.name}:${n.name}`],
          });
        } else {
          const vfId = `vf:${server.name}/${a.nic}/vf${a.vfIndex}`;
          if (!vfIds.has(vfId)) {
            vfIds.add(vfId);
            node({ id: vfId, kind: "vf", label: [`${a.nic} vf${a.vfIndex}`], cluster, traceNames: [] });
            edge({ kind: "vf", from: vfId, to: `nic:${server.name}/${a.nic}`, label: [], traceNames: [] });
          }
          edge({
            kind: "vf",
            from: id,
            to: vfId,
            label: [`${n.name}: ${a.vlan === null ? "untagged" : `VLAN ${a.vlan}`}`],
            traceNames: [`vnic:${vm.name}:${n.name}`],
          });
        }
      }
    }
  }

  const switchPorts = new Map(
    topology.switches.flatMap((s) => s.ports.map((p) => [`${s.name}:${p.name}`, p] as const)),
  );
  const portOf = (nodeName: string, port: string) => switchPorts.get(`${nodeName}:${port}`);
  for (const l of topology.links) {
    const endId = (e: { node: string; port: string }) =>
      switchNames.has(e.node) ? `sw:${e.node}` : `nic:${e.node}/${e.port}`;
    const label = [`${l.a.node}:${l.a.port} -- ${l.b.node}:${l.b.port}`];
    let lag: string | null = null;
    const isBetweenSwitches = switchNames.has(l.a.node) && switchNames.has(l.b.node);
    for (const e of [l.a, l.b]) {
      const p = portOf(e.node, e.port);
      if (p === undefined) continue;
      if (p.lag !== undefined) lag ??= p.lag;
      // Between two switches the port names alone could be either's.
      const port = isBetweenSwitches ? `${e.node} ${e.port}` : e.port;
      if (p.mode === "access") label.push(`${port}: access ${p.vlan}`);
      else if (p.mode === "trunk")
        label.push(
          `${port}: trunk ${p.vlans === null ? "all" : formatVlanList(p.vlans)}${p.nativeVlan !== null ? ` native ${p.nativeVlan}` : ""}`,
        );
      else if (!routerNames.has(e.node)) label.push(`${port}: ${prefix(p.ip, p.prefixLen)}`);
    }
    if (lag !== null) label.push(`LAG ${lag}`);
    if (!l.isUp) label.push("down");
    edge({
      kind: "cable",
      from: endId(l.a),
      to: endId(l.b),
      label,
      isDashed: !l.isUp,
      isLag: lag !== null,
      traceNames: [linkName(`${l.a.node}:${l.a.port}`, `${l.b.node}:${l.b.port}`)],
    });
  }

  for (const t of topology.tunnels ?? []) {
    const [a, b] = t.ends;
    edge({
      kind: "tunnel",
      from: `sw:${a.device}`,
      to: `sw:${b.device}`,
      label: [`GRE ${a.name} ${prefix(a.ip, a.prefixLen)} -- ${b.name} ${prefix(b.ip, b.prefixLen)}`],
      isDashed: true,
      traceNames: [`tun:${a.device}:${a.name}`, `tun:${b.device}:${b.name}`],
    });
  }
  for (const vpn of topology.vpns ?? []) {
    const pairs: [number, number][] = [];
    const hub = vpn.peers.findIndex((p) => p.device === vpn.hub);
    for (let i = 0; i < vpn.peers.length; i++)
      for (let j = i + 1; j < vpn.peers.length; j++)
        if (hub < 0 || i === hub || j === hub) pairs.push([i, j]);
    for (const [i, j] of pairs) {
      const a = vpn.peers[i];
      const b = vpn.peers[j];
      edge({
        kind: "vpn",
        from: `sw:${a.device}`,
        to: `sw:${b.device}`,
        label: [
          `VPN ${vpn.name} (WireGuard)`,
          `${a.iface} ${prefix(a.ip, a.prefixLen)} -- ${b.iface} ${prefix(b.ip, b.prefixLen)}`,
        ],
        isDashed: true,
        traceNames: [`tun:${a.device}:${a.iface}`, `tun:${b.device}:${b.iface}`],
      });
    }
  }
  return { name: topology.name, clusters, nodes, edges, caption: null };
}

function isVfOf(a: { kind: string; nic?: string }, nic: string): boolean {
  return a.kind === "vf" && a.nic === nic;
}

/** The trace name of a link hop: "a<->b" sorted, or `vnic:VM:NIC` for a VM's own cable. */
function hopLinkName(device: string, vmNics: ReadonlySet<string>): string | null {
  const ends = device.split("<->");
  if (ends.length !== 2) return null;
  for (const e of ends) if (vmNics.has(e)) return `vnic:${e}`;
  return linkName(ends[0], ends[1]);
}

/**
 * Marks the path of a trace's echo on the graph (a copy): every device and link a frame of the
 * ICMP echo request or reply crossed (every frame when no echo was sent, e.g. ARP failed), GRE
 * tunnels and VPNs the echo went into, and in red the devices that dropped it.
 */
export function markTrace(graph: TopologyGraph, trace: TraceResult): TopologyGraph {
  const nodes = graph.nodes.map((n) => ({ ...n, mark: null as GraphMark }));
  const edges = graph.edges.map((e) => ({ ...e, mark: null as GraphMark }));
  const byName = new Map<string, GraphNode[]>();
  for (const n of nodes) for (const t of n.traceNames) byName.set(t, [...(byName.get(t) ?? []), n]);
  const edgeByName = new Map<string, GraphEdge[]>();
  for (const e of edges) for (const t of e.traceNames) edgeByName.set(t, [...(edgeByName.get(t) ?? []), e]);
  const vmNics = new Set<string>();
  for (const e of edges) for (const t of e.traceNames) if (t.startsWith("vnic:")) vmNics.add(t.slice(5));
  const nodeById = new Map(nodes.map((n) => [n.id, n]));

  const isEcho = trace.hops.some((h) => h.frame.startsWith("ICMP echo"));
  // Through a VPN the echo crosses the untrusted network as WireGuard transport data.
  const isPath = (h: TraceResult["hops"][number]) =>
    h.frame.startsWith("ICMP echo") || h.frame.startsWith("WireGuard transport data");
  const hops = isEcho ? trace.hops.filter(isPath) : trace.hops;
  const markNode = (n: GraphNode | undefined, m: GraphMark) => {
    if (n !== undefined && n.mark !== "drop") n.mark = m;
  };
  for (const h of hops) {
    // Without an echo, the drops are ARP flood copies other VMs ignore: not the path's fate.
    if (!isEcho && h.action === "drop") continue;
    const m: GraphMark = h.action === "drop" ? "drop" : "path";
    const ln = hopLinkName(h.device, vmNics);
    if (ln !== null) {
      for (const e of edgeByName.get(ln) ?? []) {
        if (e.mark !== "drop") e.mark = m;
        markNode(nodeById.get(e.from), "path");
        markNode(nodeById.get(e.to), "path");
      }
      continue;
    }
    for (const n of byName.get(h.device) ?? []) markNode(n, m);
    // A VF's port on its NIC ("vf0"): the VF node.
    for (const port of [h.in, h.out]) {
      if (port === null) continue;
      for (const p of port.split(",")) {
        markNode(nodeById.get(`vf:${h.device}/${p}`), "path");
        for (const e of edgeByName.get(`tun:${h.device}:${p}`) ?? []) if (e.mark !== "drop") e.mark = m;
      }
    }
  }
  if (!trace.delivered && trace.failure?.device)
    for (const n of byName.get(trace.failure.device) ?? []) n.mark = "drop";
  const caption = `trace ${trace.from} -> ${trace.to}: ${trace.delivered ? "delivered" : `not delivered${trace.failure ? ` (${trace.failure.text})` : ""}`}`;
  return { ...graph, nodes, edges, caption };
}

// ---------------------------------------------------------------------------------------------
// DOT

/** A DOT double-quoted string: backslash and quote escaped, lines joined by `\n`. */
export function dotString(lines: readonly string[] | string): string {
  const text = (typeof lines === "string" ? [lines] : lines)
    .map((l) =>
      l
        .replace(/\\/g, "\\\\")
        .replace(/"/g, '\\"')
        .replace(/[\r\n]/g, " "),
    )
    .join("\\n");
  return `"${text}"`;
}

const PATH_COLOR = "#1f6feb";
const DROP_COLOR = "#d1242f";
const markColor = (m: GraphMark) => (m === "drop" ? DROP_COLOR : m === "path" ? PATH_COLOR : null);

const DOT_SHAPES: Record<GraphNodeKind, string> = {
  vm: "box, style=rounded",
  vswitch: 'box, style=filled, fillcolor="#eef3fb"',
  nic: 'box, style=filled, fillcolor="#f4f4f4"',
  vf: "box, style=dashed",
  switch: 'box, style=filled, fillcolor="#e8f4e8"',
  router: 'box, style="filled,rounded", fillcolor="#fdf2e0"',
};

/** Each cluster's nodes, in order. */
function clusterMembers(graph: TopologyGraph): Map<string, GraphNode[]> {
  const m = new Map<string, GraphNode[]>();
  for (const n of graph.nodes) {
    if (n.cluster === null) continue;
    const list = m.get(n.cluster);
    if (list === undefined) m.set(n.cluster, [n]);
    else list.push(n);
  }
  return m;
}

export function toDot(graph: TopologyGraph): string {
  const members = clusterMembers(graph);
  const out: string[] = [];
  out.push(`graph ${dotString(graph.name)} {`);
  out.push('  graph [rankdir=TB, fontname="Helvetica", fontsize=11, compound=true];');
  out.push('  node [fontname="Helvetica", fontsize=10];');
  out.push('  edge [fontname="Helvetica", fontsize=9];');
  if (graph.caption !== null) out.push(`  label=${dotString(graph.caption)}; labelloc=t;`);
  const nodeLine = (n: GraphNode) => {
    const c = markColor(n.mark);
    const color =
      c === null ? "" : `, color="${c}", penwidth=2.5${n.mark === "drop" ? `, fontcolor="${c}"` : ""}`;
    return `${dotString(n.id)} [label=${dotString(n.label)}, shape=${DOT_SHAPES[n.kind]}${color}];`;
  };
  for (const n of graph.nodes) if (n.cluster === null) out.push(`  ${nodeLine(n)}`);
  graph.clusters.forEach((c, i) => {
    out.push(`  subgraph ${dotString(`cluster_${i}`)} {`);
    out.push(`    label=${dotString(c.label)}; style=rounded; color="#888888";`);
    for (const n of members.get(c.id) ?? []) out.push(`    ${nodeLine(n)}`);
    out.push("  }");
  });
  for (const e of graph.edges) {
    const attrs: string[] = [];
    if (e.label.length > 0) attrs.push(`label=${dotString(e.label)}`);
    const styles: string[] = [];
    if (e.isDashed) styles.push("dashed");
    if (e.isLag) styles.push("bold");
    if (styles.length > 0) attrs.push(`style=${dotString(styles.join(","))}`);
    const c = markColor(e.mark);
    if (c !== null) attrs.push(`color="${c}", penwidth=3`);
    if (e.kind === "tunnel" || e.kind === "vpn") attrs.push("constraint=false");
    out.push(
      `  ${dotString(e.from)} -- ${dotString(e.to)}${attrs.length > 0 ? ` [${attrs.join(", ")}]` : ""};`,
    );
  }
  out.push("}");
  return `${out.join("\n")}\n`;
}

// ---------------------------------------------------------------------------------------------
// Mermaid

/** Mermaid label text: quotes and markup characters as entity codes, lines joined by <br/>. */
export function mermaidText(lines: readonly string[]): string {
  const esc = (s: string) =>
    s.replace(/[#"<>&`|\\]/g, (ch) => `#${ch.charCodeAt(0)};`).replace(/[\r\n]/g, " ");
  return `"${lines.map(esc).join("<br/>")}"`;
}

export function toMermaid(graph: TopologyGraph): string {
  const members = clusterMembers(graph);
  const ids = new Map(graph.nodes.map((n, i) => [n.id, `n${i}`]));
  const out: string[] = [];
  if (graph.caption !== null) out.push("---", `title: ${JSON.stringify(graph.caption)}`, "---");
  out.push("flowchart TB");
  const nodeLine = (n: GraphNode) => {
    const t = mermaidText(n.label);
    const id = ids.get(n.id);
    return n.kind === "router" ? `${id}(${t})` : n.kind === "vm" ? `${id}([${t}])` : `${id}[${t}]`;
  };
  for (const n of graph.nodes) if (n.cluster === null) out.push(`  ${nodeLine(n)}`);
  graph.clusters.forEach((c, i) => {
    out.push(`  subgraph c${i}[${mermaidText([c.label])}]`);
    for (const n of members.get(c.id) ?? []) out.push(`    ${nodeLine(n)}`);
    out.push("  end");
  });
  const styles: string[] = [];
  graph.edges.forEach((e, i) => {
    const arrow = e.isDashed ? "-.-" : e.isLag ? "===" : "---";
    const label = e.label.length > 0 ? `|${mermaidText(e.label)}|` : "";
    out.push(`  ${ids.get(e.from)} ${arrow}${label} ${ids.get(e.to)}`);
    const c = markColor(e.mark);
    if (c !== null) styles.push(`  linkStyle ${i} stroke:${c},stroke-width:3px`);
  });
  out.push(...styles);
  const marked = (m: GraphMark) => graph.nodes.filter((n) => n.mark === m).map((n) => ids.get(n.id));
  if (marked("path").length > 0 || marked("drop").length > 0) {
    out.push(`  classDef path stroke:${PATH_COLOR},stroke-width:3px`);
    out.push(`  classDef drop stroke:${DROP_COLOR},stroke-width:3px,color:${DROP_COLOR}`);
    if (marked("path").length > 0) out.push(`  class ${marked("path").join(",")} path`);
    if (marked("drop").length > 0) out.push(`  class ${marked("drop").join(",")} drop`);
  }
  return `${out.join("\n")}\n`;
}

// ---------------------------------------------------------------------------------------------
// SVG: a layered layout of its own. Physical switches and routers on top, in layers by their
// cable distance from the servers (the farthest highest); below them the servers side by side,
// each a box with rows: NICs, then VFs and vswitches, then VMs. Edges are straight lines; each
// label takes the first place along its edge that covers no box, title or earlier label. Every
// coordinate comes from the file's order, so the bytes do too.

const CHAR_W = 6.6;
const LINE_H = 14;
const PAD = 8;
const GAP = 24;
const ROW_GAP = 60;
/** Between two physical devices of one layer, and between two servers. */
const PHYS_GAP = 160;
const CLUSTER_GAP = 60;

export function xmlEscape(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

function sizeOf(n: GraphNode): { w: number; h: number } {
  const w = Math.max(...n.label.map((l) => l.length)) * CHAR_W + 2 * PAD;
  return { w: Math.ceil(Math.max(w, 48)), h: n.label.length * LINE_H + 2 * PAD - 4 };
}

const round = (v: number) => Math.round(v * 10) / 10;

export function toSvg(graph: TopologyGraph): string {
  const members = clusterMembers(graph);
  const boxes = new Map<string, Box>();
  const clusterBoxes = new Map<string, Box>();
  const top = graph.caption !== null ? 36 : 12;

  // Physical layers: BFS from the switches cabled to a server NIC.
  const outside = graph.nodes.filter((n) => n.cluster === null);
  const adj = new Map<string, string[]>();
  for (const e of graph.edges)
    if (e.kind === "cable") {
      adj.set(e.from, [...(adj.get(e.from) ?? []), e.to]);
      adj.set(e.to, [...(adj.get(e.to) ?? []), e.from]);
    }
  const rank = new Map<string, number>();
  let queue = outside.filter((n) => (adj.get(n.id) ?? []).some((p) => p.startsWith("nic:"))).map((n) => n.id);
  for (const id of queue) rank.set(id, 0);
  while (queue.length > 0) {
    const next: string[] = [];
    for (const id of queue)
      for (const p of adj.get(id) ?? [])
        if (!p.startsWith("nic:") && !rank.has(p)) {
          rank.set(p, (rank.get(id) ?? 0) + 1);
          next.push(p);
        }
    queue = next;
  }
  const maxRank = Math.max(0, ...rank.values());
  const layers: GraphNode[][] = Array.from({ length: maxRank + 1 }, () => []);
  for (const n of outside) layers[maxRank - (rank.get(n.id) ?? 0)].push(n);

  // Servers first (their width sets the picture's), then the physical layers centred above.
  const clusterRows = graph.clusters.map((c) => {
    const inC = members.get(c.id) ?? [];
    return [
      inC.filter((n) => n.kind === "nic"),
      inC.filter((n) => n.kind === "vf" || n.kind === "vswitch"),
      inC.filter((n) => n.kind === "vm"),
    ].filter((r) => r.length > 0);
  });
  // Inside a server, an edge's label sits just above its lower end (the NIC of a cable, the
  // vswitch of an uplink, the VM of a vNIC): each node's slot in its row is wide enough for the
  // widest label arriving at it, so the labels of side-by-side nodes do not run into each other.
  const rowOf = new Map<string, number>();
  for (const rows of clusterRows) {
    for (const [r, row] of rows.entries()) for (const n of row) rowOf.set(n.id, r);
  }
  const labelRoom = new Map<string, number>();
  for (const e of graph.edges) {
    if (e.kind === "vpn" || e.kind === "tunnel") continue;
    const ra = rowOf.get(e.from) ?? -1;
    const rb = rowOf.get(e.to) ?? -1;
    const lower = ra > rb ? e.from : rb > ra ? e.to : null;
    if (lower !== null) labelRoom.set(lower, Math.max(labelRoom.get(lower) ?? 0, labelSize(e).w + 4));
  }
  const slotWidth = (n: GraphNode) => Math.max(sizeOf(n).w, labelRoom.get(n.id) ?? 0);
  const rowWidth = (row: GraphNode[]) => row.reduce((s, n) => s + slotWidth(n), 0) + GAP * (row.length - 1);
  const rowHeight = (row: GraphNode[]) => Math.max(...row.map((n) => sizeOf(n).h));
  // Cables between physical devices carry two-line labels: their rows get more room.
  // Room for the tallest label of a cable between physical devices above and one below the
  // cables of a layer (neighbours of a layer are often cabled to each other: MLAG peers, rings).
  const physLabelH = Math.max(
    0,
    ...graph.edges
      .filter((e) => e.kind === "cable" && !e.from.startsWith("nic:") && !e.to.startsWith("nic:"))
      .map((e) => labelSize(e).h),
  );
  const physRowGap = Math.max(ROW_GAP * 1.6, 2 * physLabelH + 16);
  const physWidth = (row: GraphNode[]) =>
    row.reduce((s, n) => s + sizeOf(n).w, 0) + PHYS_GAP * (row.length - 1);
  const physHeight = layers.reduce((s, l) => s + (l.length > 0 ? rowHeight(l) + physRowGap : 0), 0);
  let x = GAP;
  const clusterTop = top + physHeight + (layers.some((l) => l.length > 0) ? 0 : 0);
  graph.clusters.forEach((c, i) => {
    const rows = clusterRows[i];
    const w = Math.max(120, c.label.length * CHAR_W + 2 * PAD, ...rows.map(rowWidth)) + 2 * PAD;
    let y = clusterTop + LINE_H + 2 * PAD;
    for (const row of rows) {
      let rx = x + (w - rowWidth(row)) / 2;
      const h = rowHeight(row);
      for (const n of row) {
        const s = sizeOf(n);
        const slot = slotWidth(n);
        boxes.set(n.id, { x: rx + (slot - s.w) / 2, y: y + (h - s.h) / 2, w: s.w, h: s.h });
        rx += slot + GAP;
      }
      y += h + ROW_GAP * 0.75;
    }
    clusterBoxes.set(c.id, { x, y: clusterTop, w, h: y - clusterTop - ROW_GAP * 0.75 + PAD * 2 });
    x += w + CLUSTER_GAP;
  });
  x += GAP - CLUSTER_GAP;
  // Wide enough that a cable label between two neighbours of a layer fits between them.
  const layerWidths = layers.map((l) =>
    l.length <= 1 ? physWidth(l) : l.length * (Math.max(...l.map((n) => sizeOf(n).w)) + PHYS_GAP + 60),
  );
  const width = Math.max(x, ...layerWidths.map((w) => w + 2 * GAP), 200);
  // The servers centred under the wider physical layers.
  const shift = (width - x) / 2;
  if (shift > 0) {
    for (const b of boxes.values()) b.x += shift;
    for (const b of clusterBoxes.values()) b.x += shift;
  }
  let y = top;
  for (const layer of layers) {
    if (layer.length === 0) continue;
    // Spread over the picture's width, each device centred in its share of it.
    const slot = width / layer.length;
    const h = rowHeight(layer);
    layer.forEach((n, i) => {
      const s = sizeOf(n);
      boxes.set(n.id, { x: slot * i + (slot - s.w) / 2, y: y + (h - s.h) / 2, w: s.w, h: s.h });
    });
    y += h + physRowGap;
  }
  const height = Math.max(top + physHeight, ...[...clusterBoxes.values()].map((b) => b.y + b.h + GAP), 80);

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${round(width)}" height="${round(height)}" viewBox="0 0 ${round(width)} ${round(height)}" font-family="monospace" font-size="11">`,
  );
  out.push(`<title>${xmlEscape(graph.name)}</title>`);
  out.push(`<rect width="100%" height="100%" fill="#ffffff"/>`);
  if (graph.caption !== null)
    out.push(`<text x="${GAP}" y="22" font-size="13" font-weight="bold">${xmlEscape(graph.caption)}</text>`);
  for (const c of graph.clusters) {
    const b = clusterBoxes.get(c.id) as Box;
    out.push(
      `<g class="server"><rect x="${round(b.x)}" y="${round(b.y)}" width="${round(b.w)}" height="${round(b.h)}" rx="8" fill="#fafafa" stroke="#888888"/><text x="${round(b.x + PAD)}" y="${round(b.y + LINE_H + 2)}" font-weight="bold">${xmlEscape(c.label)}</text></g>`,
    );
  }
  const center = (id: string) => {
    const b = boxes.get(id);
    return b === undefined ? null : { x: b.x + b.w / 2, y: b.y + b.h / 2 };
  };
  const edgeLabels: string[] = [];
  // What a label must not cover: the boxes, the servers' titles, the caption, the labels placed
  // before it (in edge order, so the bytes stay the same run to run).
  const taken: Box[] = [...boxes.values()].map((b) => ({ x: b.x - 2, y: b.y - 2, w: b.w + 4, h: b.h + 4 }));
  for (const c of graph.clusters) {
    const b = clusterBoxes.get(c.id) as Box;
    taken.push({ x: b.x + PAD - 2, y: b.y + 2, w: c.label.length * CHAR_W + 4, h: LINE_H + 2 });
  }
  if (graph.caption !== null) taken.push({ x: GAP, y: 8, w: graph.caption.length * 7.8, h: 18 });
  // Labels that can only slide along a sloped line go first; a level edge's label can also
  // step off its line, so it takes what room is left.
  const jobs: { e: GraphEdge; at: (k: number) => { x: number; y: number } | null; isFree: boolean }[] = [];
  const place = (e: GraphEdge, at: (k: number) => { x: number; y: number } | null, isFree = false) => {
    jobs.push({ e, at, isFree });
  };
  const placeNow = (e: GraphEdge, at: (k: number) => { x: number; y: number } | null) => {
    if (e.label.length === 0) return;
    const { w, h } = labelSize(e);
    const rectAt = (p: { x: number; y: number }): Box => ({ x: p.x - w / 2, y: p.y - h / 2, w, h });
    let best: { p: { x: number; y: number }; cost: number } | null = null;
    for (let k = 0; k < LABEL_TRIES; k++) {
      const p = at(k);
      if (p === null) continue;
      const r = rectAt(p);
      const outside = r.x < 0 || r.y < 0 || r.x + r.w > width || r.y + r.h > height;
      const cost = taken.reduce((sum, t) => sum + overlapArea(r, t), 0) + (outside ? w * h : 0);
      if (best === null || cost < best.cost) best = { p, cost };
      if (cost === 0) break;
    }
    if (best === null) return;
    taken.push(rectAt(best.p));
    pushLabel(edgeLabels, e, best.p.x, best.p.y);
  };
  /** The k-th place to try: the preferred one, then alternately farther up and down by `step`. */
  const nth = (k: number, step: number) =>
    k === 0 ? 0 : k % 2 === 1 ? -step * ((k + 1) / 2) : step * (k / 2);
  for (const e of graph.edges) {
    const a = center(e.from);
    const b = center(e.to);
    if (a === null || b === null) continue;
    const c = markColor(e.mark) ?? (e.kind === "vpn" || e.kind === "tunnel" ? "#8250df" : "#555555");
    const sw = e.mark !== null ? 3 : e.isLag ? 2.5 : 1.2;
    const dash = e.isDashed ? ` stroke-dasharray="6 4"` : "";
    // Overlays bow sideways so they do not hide the cables under them.
    if (e.kind === "vpn" || e.kind === "tunnel") {
      const mx = (a.x + b.x) / 2;
      const my = Math.min(a.y, b.y) - 40;
      out.push(
        `<path class="edge ${e.kind}" d="M${round(a.x)},${round(a.y)} Q${round(mx)},${round(my)} ${round(b.x)},${round(b.y)}" fill="none" stroke="${c}" stroke-width="${sw}"${dash}/>`,
      );
      const ly = (a.y + b.y) / 2 - 20;
      place(e, (k) => ({ x: mx, y: ly + nth(k, 6) }));
    } else {
      out.push(
        `<line class="edge ${e.kind}" x1="${round(a.x)}" y1="${round(a.y)}" x2="${round(b.x)}" y2="${round(b.y)}" stroke="${c}" stroke-width="${sw}"${dash}/>`,
      );
      // Near the lower end: edges fan out from a parent, so their labels collide at the middle
      // and part at the children, which are laid side by side.
      const [hi, lo, loId] = a.y <= b.y ? [a, b, e.to] : [b, a, e.from];
      const loTop = (boxes.get(loId) as Box).y;
      const ly = Math.max(hi.y + (lo.y - hi.y) * 0.5, loTop - 4 - e.label.length * 6);
      if (lo.y === hi.y) {
        // A level edge: slide along it, then just above or below it (several cables between
        // two neighbours of a layer are drawn on one line).
        const lift = labelSize(e).h + 4;
        place(
          e,
          (k) => {
            const t = 0.5 + nth(k % 16, 0.04);
            const dy = nth(Math.floor(k / 16), lift);
            return t <= 0.05 || t >= 0.95 ? null : { x: hi.x + (lo.x - hi.x) * t, y: ly + dy };
          },
          true,
        );
      } else {
        // Slide along the line, up towards the upper end first, never past either end.
        place(e, (k) => {
          const y = ly + nth(k, 6);
          if (y <= hi.y || y >= lo.y) return null;
          const t = (y - hi.y) / (lo.y - hi.y);
          return { x: hi.x + (lo.x - hi.x) * t, y };
        });
      }
    }
  }
  for (const j of jobs) if (!j.isFree) placeNow(j.e, j.at);
  for (const j of jobs) if (j.isFree) placeNow(j.e, j.at);
  const fills: Record<GraphNodeKind, string> = {
    vm: "#ffffff",
    vswitch: "#eef3fb",
    nic: "#f4f4f4",
    vf: "#ffffff",
    switch: "#e8f4e8",
    router: "#fdf2e0",
  };
  for (const n of graph.nodes) {
    const b = boxes.get(n.id);
    if (b === undefined) continue;
    const stroke = markColor(n.mark) ?? "#333333";
    const sw = n.mark !== null ? 3 : 1;
    const rx = n.kind === "vm" || n.kind === "router" ? 10 : 2;
    const dash = n.kind === "vf" ? ` stroke-dasharray="4 3"` : "";
    out.push(
      `<g class="node ${n.kind}${n.mark !== null ? ` ${n.mark}` : ""}"><rect x="${round(b.x)}" y="${round(b.y)}" width="${round(b.w)}" height="${round(b.h)}" rx="${rx}" fill="${fills[n.kind]}" stroke="${stroke}" stroke-width="${sw}"${dash}/>`,
    );
    n.label.forEach((l, i) => {
      const weight = i === 0 ? ` font-weight="bold"` : "";
      const color = n.mark === "drop" ? ` fill="${DROP_COLOR}"` : "";
      out.push(
        `<text x="${round(b.x + b.w / 2)}" y="${round(b.y + PAD + 8 + i * LINE_H)}" text-anchor="middle"${weight}${color}>${xmlEscape(l)}</text>`,
      );
    });
    out.push("</g>");
  }
  out.push(...edgeLabels);
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}

/** How many places along its edge a label tries before taking the least covered one. */
const LABEL_TRIES = 80;

/** An edge label's size: 10px text in the 11px font's proportion, one 12px line per line. */
function labelSize(e: GraphEdge): { w: number; h: number } {
  if (e.label.length === 0) return { w: 0, h: 0 };
  return { w: Math.max(...e.label.map((l) => l.length)) * CHAR_W * 0.9 + 6, h: e.label.length * 12 + 4 };
}

function overlapArea(a: Box, b: Box): number {
  const w = Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y);
  return w > 0 && h > 0 ? w * h : 0;
}

function pushLabel(out: string[], e: GraphEdge, cx: number, cy: number): void {
  if (e.label.length === 0) return;
  const { w, h } = labelSize(e);
  const y0 = cy - h / 2;
  const color = e.mark === "drop" ? DROP_COLOR : "#333333";
  out.push(
    `<g class="edge-label"><rect x="${round(cx - w / 2)}" y="${round(y0)}" width="${round(w)}" height="${round(h)}" fill="#ffffff" fill-opacity="0.85"/>`,
  );
  e.label.forEach((l, i) => {
    out.push(
      `<text x="${round(cx)}" y="${round(y0 + 12 + i * 12)}" text-anchor="middle" font-size="10" fill="${color}">${xmlEscape(l)}</text>`,
    );
  });
  out.push("</g>");
}

export type GraphFormat = "svg" | "dot" | "mermaid";
export const GRAPH_FORMATS: readonly GraphFormat[] = ["svg", "dot", "mermaid"];

export function renderGraph(graph: TopologyGraph, format: GraphFormat): string {
  return format === "dot" ? toDot(graph) : format === "mermaid" ? toMermaid(graph) : toSvg(graph);
}
