/**
 * What the web page draws (`vnet ui`): the picture's model of `src/analysis/graph.ts` turned into
 * the elements of one view, with racks and servers collapsed or expanded, and laid out here
 * (positions given, no layout library): switches and routers in layers by cable distance from the
 * servers, the farthest on top, and below them the racks or servers in rows; inside a server its
 * NICs, then its VFs and vswitches, then its VMs. A collapsed server or rack is one node that
 * stands for everything in it, and the cables to it fold into one edge with a count, so the
 * generated 16,000-VM data center opens as 40 racks and a core switch. Pure and browser-safe:
 * the page hands these elements to cytoscape; tests read them in Node.
 */

import type { GraphEdge, GraphNode, GraphNodeKind, TopologyGraph } from "../analysis/graph.ts";

/** A group of servers cabled to the same switches (a top-of-rack switch or an MLAG pair). */
export interface Rack {
  /** "rack:tor1" or "rack:leaf1a+leaf1b" */
  id: string;
  label: string;
  /** Node ids of the rack's own switches (cabled to this rack's servers and no other's). */
  switches: string[];
  /** Cluster ids of its servers ("srv:server1"). */
  servers: string[];
}

export interface Structure {
  graph: TopologyGraph;
  nodeById: Map<string, GraphNode>;
  /** Empty when grouping into racks would not help (fewer than two racks). */
  racks: Rack[];
  rackById: Map<string, Rack>;
  rackOf: Map<string, string>;
  /** Each server's nodes, in file order. */
  members: Map<string, GraphNode[]>;
  /** Switch and router node ids by layer: 0 next to the servers, higher further away. */
  layerOf: Map<string, number>;
  vmCount: number;
}

export type ElementKind = GraphNodeKind | "server" | "rack" | "server-collapsed" | "rack-collapsed";

export interface ViewNode {
  id: string;
  kind: ElementKind;
  label: string;
  /** The compound it sits in (an expanded server or rack), if any. */
  parent: string | null;
  /** Centre, for leaves; compounds take their children's bounds. */
  x: number;
  y: number;
  w: number;
  h: number;
  /** The trace's device names this node answers to (a collapsed node: all of its members'). */
  traceNames: string[];
}

export interface ViewEdge {
  id: string;
  kind: GraphEdge["kind"];
  source: string;
  target: string;
  label: string;
  /** The graph edges it stands for (several when cables fold into a collapsed node). */
  edges: string[];
  traceNames: string[];
  isDashed: boolean;
  isLag: boolean;
}

export interface View {
  nodes: ViewNode[];
  edges: ViewEdge[];
  /** Graph node id -> the view node that shows it (itself, or the collapsed server or rack). */
  shownAs: (graphNodeId: string) => string;
  /** Graph edge id -> the view edge that shows it, or null when it is inside a collapsed node. */
  edgeShownAs: (graphEdgeId: string) => string | null;
}

/** Above this many graph nodes, servers start collapsed. */
export const EXPAND_SERVERS_UP_TO_NODES = 400;
/** Above this many servers, racks start collapsed too. */
export const EXPAND_RACKS_UP_TO_SERVERS = 120;

const FONT_PX = 10;
const CHAR_PX = 6.1;
const LINE_PX = 13;
const GAP = 26;
const PAD = 14;

export function analyse(graph: TopologyGraph): Structure {
  const nodeById = new Map(graph.nodes.map((n) => [n.id, n]));
  const members = new Map<string, GraphNode[]>();
  for (const c of graph.clusters) members.set(c.id, []);
  for (const n of graph.nodes) if (n.cluster !== null) members.get(n.cluster)?.push(n);
  const switchIds = graph.nodes.filter((n) => n.cluster === null).map((n) => n.id);

  // Physical adjacency: cables only (overlays are drawn, not walked).
  const adj = new Map<string, Set<string>>();
  const link = (a: string, b: string) => {
    if (!adj.has(a)) adj.set(a, new Set());
    adj.get(a)!.add(b);
  };
  const serverSwitches = new Map<string, Set<string>>();
  for (const e of graph.edges) {
    if (e.kind !== "cable") continue;
    const a = nodeById.get(e.from);
    const b = nodeById.get(e.to);
    if (a === undefined || b === undefined) continue;
    const ka = a.cluster ?? a.id;
    const kb = b.cluster ?? b.id;
    link(ka, kb);
    link(kb, ka);
    for (const [s, t] of [
      [a, b],
      [b, a],
    ] as const) {
      if (s.cluster !== null && t.cluster === null) {
        if (!serverSwitches.has(s.cluster)) serverSwitches.set(s.cluster, new Set());
        serverSwitches.get(s.cluster)!.add(t.id);
      }
    }
  }

  // Layers: breadth-first from the servers over cables.
  const layerOf = new Map<string, number>();
  let frontier = [...new Set([...serverSwitches.values()].flatMap((s) => [...s]))];
  for (const id of frontier) layerOf.set(id, 0);
  for (let d = 1; frontier.length > 0; d++) {
    const next: string[] = [];
    for (const id of frontier)
      for (const o of adj.get(id) ?? [])
        if (!o.startsWith("srv:") && !layerOf.has(o)) {
          layerOf.set(o, d);
          next.push(o);
        }
    frontier = next;
  }
  const maxLayer = Math.max(0, ...layerOf.values());
  for (const id of switchIds) if (!layerOf.has(id)) layerOf.set(id, maxLayer + 1);

  // Racks: servers grouped by the switches they are cabled to.
  const byKey = new Map<string, Rack>();
  for (const c of graph.clusters) {
    const sw = [...(serverSwitches.get(c.id) ?? [])].sort();
    const key = sw.length === 0 ? "(none)" : sw.map((s) => s.replace(/^sw:/, "")).join("+");
    let rack = byKey.get(key);
    if (rack === undefined) {
      rack = { id: `rack:${key}`, label: `rack ${key}`, switches: [], servers: [] };
      byKey.set(key, rack);
    }
    rack.servers.push(c.id);
  }
  let racks = [...byKey.values()];
  // A switch belongs to a rack when every server cabled to it is in that rack.
  for (const r of racks) {
    const mine = new Set(r.servers);
    const candidates = new Set(r.servers.flatMap((s) => [...(serverSwitches.get(s) ?? [])]));
    for (const sw of candidates) {
      const users = [...serverSwitches.entries()].filter(([, set]) => set.has(sw)).map(([s]) => s);
      if (users.every((u) => mine.has(u))) r.switches.push(sw);
    }
    r.switches.sort((x, y) => switchIds.indexOf(x) - switchIds.indexOf(y));
  }
  if (racks.length < 2) racks = [];
  const rackOf = new Map<string, string>();
  for (const r of racks) for (const id of [...r.switches, ...r.servers]) rackOf.set(id, r.id);
  return {
    graph,
    nodeById,
    racks,
    rackById: new Map(racks.map((r) => [r.id, r])),
    rackOf,
    members,
    layerOf,
    vmCount: graph.nodes.filter((n) => n.kind === "vm").length,
  };
}

/** What starts expanded: everything on a small network; servers, then racks, fold as it grows. */
export function defaultExpanded(s: Structure): Set<string> {
  const out = new Set<string>();
  const areServersOpen = s.graph.nodes.length <= EXPAND_SERVERS_UP_TO_NODES;
  const areRacksOpen = s.graph.clusters.length <= EXPAND_RACKS_UP_TO_SERVERS;
  if (areServersOpen) for (const c of s.graph.clusters) out.add(c.id);
  if (areRacksOpen) for (const r of s.racks) out.add(r.id);
  return out;
}

/** The racks and servers to open so that these graph nodes are shown as themselves. */
export function expansionFor(s: Structure, graphNodeIds: Iterable<string>): string[] {
  const out = new Set<string>();
  for (const id of graphNodeIds) {
    const n = s.nodeById.get(id);
    if (n === undefined) continue;
    const holder = n.cluster ?? n.id;
    if (n.cluster !== null) out.add(n.cluster);
    const rack = s.rackOf.get(holder);
    if (rack !== undefined) out.add(rack);
  }
  return [...out];
}

function textSize(lines: readonly string[]): { w: number; h: number } {
  const longest = Math.max(4, ...lines.map((l) => l.length));
  return { w: Math.ceil(longest * CHAR_PX + 16), h: lines.length * LINE_PX + 10 };
}

interface Box {
  w: number;
  h: number;
  /** Places the box with its top-left corner at (x, y). */
  place(x: number, y: number): void;
}

function leaf(out: ViewNode[], n: Omit<ViewNode, "x" | "y" | "w" | "h">, lines: string[]): Box {
  const size = textSize(lines);
  const node: ViewNode = { ...n, x: 0, y: 0, ...size };
  out.push(node);
  return {
    ...size,
    place(x, y) {
      node.x = x + size.w / 2;
      node.y = y + size.h / 2;
    },
  };
}

/** Rows of boxes, each row centred, wrapping after `perRow`. */
function rows(boxes: Box[][], gap: number): Box {
  const lines = boxes.filter((r) => r.length > 0);
  const widths = lines.map((r) => r.reduce((s, b) => s + b.w, 0) + gap * (r.length - 1));
  const heights = lines.map((r) => Math.max(...r.map((b) => b.h)));
  const w = Math.max(0, ...widths);
  const h = heights.reduce((s, x) => s + x, 0) + gap * Math.max(0, lines.length - 1);
  return {
    w,
    h,
    place(x, y) {
      let cy = y;
      lines.forEach((r, i) => {
        let cx = x + (w - widths[i]) / 2;
        for (const b of r) {
          b.place(cx, cy + (heights[i] - b.h) / 2);
          cx += b.w + gap;
        }
        cy += heights[i] + gap;
      });
    },
  };
}

/** Rows no wider than about a wide rectangle of the boxes' total area (a big box gets a row). */
function wrapByArea(boxes: Box[], gap: number, aspect = 2): Box[][] {
  if (boxes.length === 0) return [];
  const area = boxes.reduce((s, b) => s + (b.w + gap) * (b.h + gap), 0);
  const limit = Math.max(...boxes.map((b) => b.w), Math.sqrt(area * aspect));
  const out: Box[][] = [[]];
  let width = 0;
  for (const b of boxes) {
    const row = out[out.length - 1];
    if (row.length > 0 && width + gap + b.w > limit) {
      out.push([b]);
      width = b.w;
    } else {
      width += (row.length > 0 ? gap : 0) + b.w;
      row.push(b);
    }
  }
  return out;
}

function wrap(boxes: Box[], perRow: number): Box[][] {
  const out: Box[][] = [];
  for (let i = 0; i < boxes.length; i += perRow) out.push(boxes.slice(i, i + perRow));
  return out;
}

/** A compound: its children's box with padding and room for the label on top. */
function compound(inner: Box): Box {
  return {
    w: inner.w + 2 * PAD,
    h: inner.h + 2 * PAD,
    place(x, y) {
      inner.place(x + PAD, y + PAD);
    },
  };
}

const plural = (n: number, what: string) => `${n.toLocaleString("en-US")} ${what}${n === 1 ? "" : "s"}`;

/** The elements of the view with `expanded` racks and servers open. */
export function buildView(s: Structure, expanded: ReadonlySet<string>): View {
  const nodes: ViewNode[] = [];
  const { graph } = s;
  const clusterLabel = new Map(graph.clusters.map((c) => [c.id, c.label]));
  const isServerOpen = (c: string) => expanded.has(c);
  const isRackOpen = (r: string) => expanded.has(r);

  const shownAs = (id: string): string => {
    const n = s.nodeById.get(id);
    if (n === undefined) return id;
    const holder = n.cluster ?? n.id;
    const rack = s.rackOf.get(holder);
    if (rack !== undefined && !isRackOpen(rack)) return rack;
    if (n.cluster !== null && !isServerOpen(n.cluster)) return n.cluster;
    return id;
  };

  const leafOf = (n: GraphNode, parent: string | null) =>
    leaf(
      nodes,
      { id: n.id, kind: n.kind, label: n.label.join("\n"), parent, traceNames: n.traceNames },
      n.label,
    );

  const serverBox = (clusterId: string, parent: string | null): Box => {
    const label = clusterLabel.get(clusterId) ?? clusterId;
    const mem = s.members.get(clusterId) ?? [];
    if (!isServerOpen(clusterId)) {
      const vms = mem.filter((m) => m.kind === "vm").length;
      const lines = [label, plural(vms, "VM")];
      return leaf(
        nodes,
        {
          id: clusterId,
          kind: "server-collapsed",
          label: lines.join("\n"),
          parent,
          traceNames: mem.flatMap((m) => m.traceNames),
        },
        lines,
      );
    }
    nodes.push({ id: clusterId, kind: "server", label, parent, x: 0, y: 0, w: 0, h: 0, traceNames: [] });
    const of = (k: GraphNodeKind) => mem.filter((m) => m.kind === k).map((m) => leafOf(m, clusterId));
    const vms = of("vm");
    const inner = rows([of("nic"), [...of("vf"), ...of("vswitch")], ...wrap(vms, 8)], GAP);
    return compound(inner);
  };

  const rackBox = (r: Rack): Box => {
    if (!isRackOpen(r.id)) {
      const vms = r.servers.reduce(
        (n, c) => n + (s.members.get(c) ?? []).filter((m) => m.kind === "vm").length,
        0,
      );
      const lines = [r.label, plural(r.servers.length, "server"), plural(vms, "VM")];
      return leaf(
        nodes,
        {
          id: r.id,
          kind: "rack-collapsed",
          label: lines.join("\n"),
          parent: null,
          traceNames: [
            ...r.switches.flatMap((id) => s.nodeById.get(id)?.traceNames ?? []),
            ...r.servers.flatMap((c) => (s.members.get(c) ?? []).flatMap((m) => m.traceNames)),
          ],
        },
        lines,
      );
    }
    nodes.push({
      id: r.id,
      kind: "rack",
      label: r.label,
      parent: null,
      x: 0,
      y: 0,
      w: 0,
      h: 0,
      traceNames: [],
    });
    const switches = r.switches.map((id) => leafOf(s.nodeById.get(id)!, r.id));
    const servers = r.servers.map((c) => serverBox(c, r.id));
    return compound(rows([switches, ...wrapByArea(servers, GAP * 1.5)], GAP * 1.5));
  };

  // Bottom: racks (or servers) in rows; top: the other switches by layer, farthest first.
  const units = s.racks.length > 0 ? s.racks.map(rackBox) : graph.clusters.map((c) => serverBox(c.id, null));
  const inRack = new Set(s.racks.flatMap((r) => r.switches));
  const layers = new Map<number, Box[]>();
  for (const n of graph.nodes) {
    if (n.cluster !== null || inRack.has(n.id)) continue;
    const l = s.layerOf.get(n.id) ?? 0;
    if (!layers.has(l)) layers.set(l, []);
    layers.get(l)!.push(leafOf(n, null));
  }
  const layerRows = [...layers.entries()].sort((a, b) => b[0] - a[0]).map(([, b]) => b);
  const top = rows(
    layerRows.flatMap((r) => wrap(r, 12)),
    GAP * 2,
  );
  const bottom = rows(units.length <= 6 ? [units] : wrapByArea(units, GAP * 2, 2.5), GAP * 2);
  rows([[top], [bottom]], GAP * 3).place(0, 0);

  // Edges: each graph edge between what shows its ends; several into one collapsed node fold.
  const edges: ViewEdge[] = [];
  const byPair = new Map<string, ViewEdge>();
  const edgeOf = new Map<string, string>();
  for (const e of graph.edges) {
    const a = shownAs(e.from);
    const b = shownAs(e.to);
    if (a === b) continue;
    const isFolded = a !== e.from || b !== e.to;
    if (!isFolded) {
      const v: ViewEdge = {
        id: e.id,
        kind: e.kind,
        source: a,
        target: b,
        label: e.label.join("\n"),
        edges: [e.id],
        traceNames: e.traceNames,
        isDashed: e.isDashed,
        isLag: e.isLag,
      };
      edges.push(v);
      edgeOf.set(e.id, v.id);
      continue;
    }
    const key = `${a < b ? `${a}|${b}` : `${b}|${a}`}|${e.kind === "cable" ? "cable" : e.kind}`;
    let v = byPair.get(key);
    if (v === undefined) {
      v = {
        id: `fold:${key}`,
        kind: e.kind,
        source: a,
        target: b,
        label: "",
        edges: [],
        traceNames: [],
        isDashed: e.kind === "tunnel" || e.kind === "vpn",
        isLag: false,
      };
      byPair.set(key, v);
      edges.push(v);
    }
    v.edges.push(e.id);
    v.traceNames.push(...e.traceNames);
    edgeOf.set(e.id, v.id);
  }
  const edgeById = new Map(graph.edges.map((e) => [e.id, e]));
  for (const v of byPair.values()) {
    const what = v.kind === "cable" ? "cable" : v.kind === "vpn" ? "VPN" : v.kind;
    v.label =
      v.edges.length === 1 ? (edgeById.get(v.edges[0])?.label[0] ?? "") : plural(v.edges.length, what);
  }
  return { nodes, edges, shownAs, edgeShownAs: (id) => edgeOf.get(id) ?? null };
}

export const VIEW_FONT_PX = FONT_PX;
