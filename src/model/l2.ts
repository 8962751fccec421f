/**
 * Layer-2 reasoning over the physical network, for the loader's checks: how a switch port
 * classifies and emits frames of a VLAN (IEEE 802.1Q-2018 §6.9 ingress classification and
 * §6.9.2 egress tagging, in the access/trunk vocabulary of switch vendors), whether a VLAN
 * crosses a cable between two switches, the path between two switches, and layer-2 loops
 * (cycles of switch-to-switch cables that all carry one VLAN, which vnet refuses until it has a
 * spanning tree: parallel trunks carrying disjoint VLANs are no loop).
 * Browser-safe; works on the normalized `SwitchPortSpec` and `LinkSpec`.
 */

import type { LinkSpec, SwitchPortSpec } from "./types.ts";

/** Whether a trunk admits a VLAN at all (its allowed list). */
export function isAllowed(port: SwitchPortSpec, vid: number): boolean {
  if (port.mode === "routed") return false;
  if (port.mode === "access") return port.vlan === vid;
  return port.vlans === null || port.vlans.includes(vid);
}

/**
 * How a port sends a frame of VLAN `vid`: "untagged" (access port of that VLAN, or the trunk's
 * native VLAN), "tagged", or null when the port does not carry the VLAN.
 */
export function egressTagging(port: SwitchPortSpec, vid: number): "tagged" | "untagged" | null {
  if (port.mode === "routed") return null;
  if (port.mode === "access") return port.vlan === vid ? "untagged" : null;
  if (!isAllowed(port, vid)) return null;
  return port.nativeVlan === vid ? "untagged" : "tagged";
}

/**
 * The VLAN a port puts a received frame in: `tag` is the frame's VID or null when untagged.
 * Null: the port drops it (a tagged frame on an access port, a VLAN a trunk does not allow,
 * an untagged frame on a trunk without an allowed native VLAN).
 */
export function ingressVlan(port: SwitchPortSpec, tag: number | null): number | null {
  if (port.mode === "routed") return null;
  if (port.mode === "access") return tag === null ? port.vlan : null;
  if (tag === null)
    return port.nativeVlan !== null && isAllowed(port, port.nativeVlan) ? port.nativeVlan : null;
  return isAllowed(port, tag) ? tag : null;
}

/** How a port is configured, for messages: "access port in VLAN 10", "trunk (VLANs 10, 20)". */
export function describePort(port: SwitchPortSpec): string {
  if (port.mode === "access") return `an access port in VLAN ${port.vlan}`;
  if (port.mode === "routed") return `a routed port (no VLANs)`;
  const vl = port.vlans === null ? "all VLANs" : `VLANs ${formatVlanList(port.vlans)}`;
  return `a trunk (${vl}${port.nativeVlan !== null ? `, native ${port.nativeVlan}` : ""})`;
}

/** [10, 20, 100, 101, 102] -> "10, 20, 100-102". */
export function formatVlanList(vids: readonly number[]): string {
  if (vids.length === 0) return "none";
  const parts: string[] = [];
  let start = vids[0];
  let prev = vids[0];
  for (let i = 1; i <= vids.length; i++) {
    const v = vids[i];
    if (i < vids.length && v === prev + 1) {
      prev = v;
      continue;
    }
    parts.push(start === prev ? String(start) : `${start}-${prev}`);
    start = v;
    prev = v;
  }
  return parts.join(", ");
}

/** A cable between two switches, by link index, with both ends. */
export interface SwitchEdge {
  linkIndex: number;
  a: { node: string; port: string };
  b: { node: string; port: string };
}

export interface Loop {
  /** The link that closes the cycle (the later one in the file). */
  closingLinkIndex: number;
  /** `tor1:eth49 -> spine1:eth1 -> spine1:eth2 -> tor1:eth50 -> tor1` */
  text: string;
  linkIndexes: number[];
}

/** One hop along a path of switch cables: leave `from` at `fromPort`, arrive at `to` on `toPort`. */
export interface Hop {
  linkIndex: number;
  from: string;
  fromPort: string;
  to: string;
  toPort: string;
}

/**
 * The switch graph: cables between switches. Finds the loops (one per cable that closes a
 * cycle, found with union-find in file order) and keeps the spanning forest for paths.
 */
export class SwitchGraph {
  private readonly parent = new Map<string, string>();
  /** Tree adjacency: per switch, the hops of the spanning forest. */
  private readonly tree = new Map<string, Hop[]>();
  readonly loops: Loop[] = [];

  constructor(switchNames: readonly string[], edges: readonly SwitchEdge[]) {
    for (const n of switchNames) {
      this.parent.set(n, n);
      this.tree.set(n, []);
    }
    for (const e of edges) {
      const ra = this.find(e.a.node);
      const rb = this.find(e.b.node);
      if (ra !== rb) {
        this.parent.set(ra, rb);
        this.tree.get(e.a.node)!.push({
          linkIndex: e.linkIndex,
          from: e.a.node,
          fromPort: e.a.port,
          to: e.b.node,
          toPort: e.b.port,
        });
        this.tree.get(e.b.node)!.push({
          linkIndex: e.linkIndex,
          from: e.b.node,
          fromPort: e.b.port,
          to: e.a.node,
          toPort: e.a.port,
        });
        continue;
      }
      // The cable closes a cycle: the tree path from a to b, then back over this cable.
      const path = e.a.node === e.b.node ? [] : (this.path(e.a.node, e.b.node) ?? []);
      const steps: string[] = [];
      for (const h of path) steps.push(`${h.from}:${h.fromPort}`, `${h.to}:${h.toPort}`);
      steps.push(`${e.b.node}:${e.b.port}`, `${e.a.node}:${e.a.port}`, e.a.node);
      this.loops.push({
        closingLinkIndex: e.linkIndex,
        text: steps.join(" -> "),
        linkIndexes: [...path.map((h) => h.linkIndex), e.linkIndex],
      });
    }
  }

  private find(n: string): string {
    let r = n;
    while (this.parent.get(r) !== r) r = this.parent.get(r)!;
    // Path compression keeps large fabrics near-linear.
    let c = n;
    while (c !== r) {
      const next = this.parent.get(c)!;
      this.parent.set(c, r);
      c = next;
    }
    return r;
  }

  isConnected(a: string, b: string): boolean {
    return this.find(a) === this.find(b);
  }

  /** The hops from `from` to `to` along the spanning forest; [] when equal; undefined when apart. */
  path(from: string, to: string): Hop[] | undefined {
    if (from === to) return [];
    if (!this.isConnected(from, to)) return undefined;
    const via = new Map<string, Hop>();
    const seen = new Set<string>([from]);
    const queue = [from];
    for (let qi = 0; qi < queue.length; qi++) {
      const n = queue[qi];
      if (n === to) break;
      for (const h of this.tree.get(n) ?? []) {
        if (seen.has(h.to)) continue;
        seen.add(h.to);
        via.set(h.to, h);
        queue.push(h.to);
      }
    }
    const hops: Hop[] = [];
    for (let n = to; n !== from; ) {
      const h = via.get(n);
      if (h === undefined) return undefined;
      hops.push(h);
      n = h.from;
    }
    return hops.reverse();
  }
}

/** The ends of a link that land on switches, for building `SwitchEdge`s. */
export function switchEdges(links: readonly LinkSpec[], isSwitch: (n: string) => boolean): SwitchEdge[] {
  const out: SwitchEdge[] = [];
  links.forEach((l, i) => {
    if (isSwitch(l.a.node) && isSwitch(l.b.node)) out.push({ linkIndex: i, a: l.a, b: l.b });
  });
  return out;
}

/** Whether a cable between ports `a` and `b` carries VLAN `vid` both ways as that same VLAN. */
export function carriesVlan(a: SwitchPortSpec, b: SwitchPortSpec, vid: number): boolean {
  const oneWay = (from: SwitchPortSpec, to: SwitchPortSpec) => {
    const t = egressTagging(from, vid);
    return t !== null && ingressVlan(to, t === "tagged" ? vid : null) === vid;
  };
  return oneWay(a, b) && oneWay(b, a);
}

/** The switch graph of the VLANs whose frames cross exactly the same cables. */
export interface VlanGraph {
  vlans: number[];
  graph: SwitchGraph;
}

/**
 * Per VLAN, the graph of the switch cables that carry it: VLANs carried by the same cables share
 * one graph (so 4,094 VLANs of identical trunks cost one). A loop is a cycle within one of them.
 * `portOf` gives a cable end's port (undefined: unknown, carries nothing).
 */
export class VlanGraphs {
  readonly groups: VlanGraph[] = [];
  private readonly byVlan = new Map<number, VlanGraph>();

  constructor(
    switchNames: readonly string[],
    edges: readonly SwitchEdge[],
    portOf: (node: string, port: string) => SwitchPortSpec | undefined,
  ) {
    // The VLANs any switch cable end admits; the rest cross no cable.
    const candidates = new Set<number>();
    const ends = edges.map((e) => [portOf(e.a.node, e.a.port), portOf(e.b.node, e.b.port)] as const);
    for (const [a, b] of ends) {
      for (const p of [a, b]) {
        if (p === undefined || p.mode === "routed") continue;
        if (p.mode === "access") candidates.add(p.vlan);
        else if (p.vlans === null) for (let v = 1; v <= 4094; v++) candidates.add(v);
        else for (const v of p.vlans) candidates.add(v);
      }
    }
    const bySignature = new Map<string, VlanGraph>();
    for (const vid of [...candidates].sort((x, y) => x - y)) {
      const carrying: SwitchEdge[] = [];
      const keys: number[] = [];
      edges.forEach((e, i) => {
        const [a, b] = ends[i];
        if (a !== undefined && b !== undefined && carriesVlan(a, b, vid)) {
          carrying.push(e);
          keys.push(i);
        }
      });
      if (carrying.length === 0) continue;
      const sig = keys.join(",");
      let g = bySignature.get(sig);
      if (g === undefined) {
        g = { vlans: [], graph: new SwitchGraph(switchNames, carrying) };
        bySignature.set(sig, g);
        this.groups.push(g);
      }
      g.vlans.push(vid);
      this.byVlan.set(vid, g);
    }
  }

  /** The graph of the cables carrying `vid`, or undefined when no switch cable carries it. */
  of(vid: number): SwitchGraph | undefined {
    return this.byVlan.get(vid)?.graph;
  }

  /** Loops, each with the VLANs whose cables all form it (one entry per closing cable and path). */
  loops(): { loop: Loop; vlans: number[] }[] {
    const out = new Map<string, { loop: Loop; vlans: number[] }>();
    for (const g of this.groups) {
      for (const loop of g.graph.loops) {
        const key = `${loop.closingLinkIndex}\u0001${loop.text}`;
        const seen = out.get(key);
        if (seen === undefined) out.set(key, { loop, vlans: [...g.vlans] });
        else seen.vlans.push(...g.vlans);
      }
    }
    return [...out.values()].map((x) => ({ loop: x.loop, vlans: x.vlans.sort((a, b) => a - b) }));
  }
}
