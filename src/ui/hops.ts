/**
 * A trace as the web page plays it: each hop of `Network.trace` tied to the picture's elements
 * (the node of the device that decided, or the edge of the link that carried the frame and its
 * two ends), what kind of frame it is (ARP request or reply, echo request or reply, other), which
 * link hops are copies of a flooded frame, which hops are on the echo's own path, and where to
 * find the bytes of the frame a hop is about (its own, or the nearest link's that carried the same
 * frame). Pure and browser-safe; the graph ids are those of `src/analysis/graph.ts`.
 */

import type { TopologyGraph } from "../analysis/graph.ts";
import type { TraceHop, TraceResult } from "../analysis/trace.ts";

export type FrameClass = "arp-request" | "arp-reply" | "echo-request" | "echo-reply" | "other";

export function frameClass(text: string): FrameClass {
  if (text.startsWith("ARP request")) return "arp-request";
  if (text.startsWith("ARP reply")) return "arp-reply";
  if (text.startsWith("ICMP echo request")) return "echo-request";
  if (text.startsWith("ICMP echo reply")) return "echo-reply";
  return "other";
}

export interface HopView {
  index: number;
  cls: FrameClass;
  isLink: boolean;
  /** A link hop carrying one of several copies a device flooded at that instant. */
  isFloodCopy: boolean;
  /** On the echo exchange's own path (what `vnet graph --trace` draws), not ARP or flooding. */
  isOnPath: boolean;
  /** Graph node ids of the device that decided (device hops). */
  nodes: string[];
  /** Graph edge ids of the link (link hops). */
  edges: string[];
  /** Link hops: the graph nodes at the sending and the receiving end. */
  fromNode: string | null;
  toNode: string | null;
  /** The hop whose bytes show this hop's frame, and whether it is the frame as it arrived here. */
  bytesHop: number | null;
  bytesWhen: "here" | "arrived" | "sent" | null;
}

const linkName = (a: string, b: string) => (a < b ? `${a}<->${b}` : `${b}<->${a}`);

/** Lookups from the trace's names to the graph's ids. */
export class GraphIndex {
  private readonly nodesByName = new Map<string, string[]>();
  private readonly edgesByName = new Map<string, string[]>();
  private readonly nodeIds: Set<string>;
  private readonly serverNames: Set<string>;

  constructor(graph: TopologyGraph) {
    const add = (m: Map<string, string[]>, key: string, id: string) => {
      const list = m.get(key);
      if (list === undefined) m.set(key, [id]);
      else list.push(id);
    };
    for (const n of graph.nodes) for (const t of n.traceNames) add(this.nodesByName, t, n.id);
    for (const e of graph.edges) for (const t of e.traceNames) add(this.edgesByName, t, e.id);
    this.nodeIds = new Set(graph.nodes.map((n) => n.id));
    this.serverNames = new Set(graph.clusters.map((c) => c.label));
  }

  /** A device's nodes ("tor1", "server1/vs0", "web1"; a decorated name "hq-gw (wg0)" too). */
  device(name: string): string[] {
    return this.nodesByName.get(name) ?? this.nodesByName.get(name.replace(/ \(.*\)$/, "")) ?? [];
  }

  /** A link end ("tor1:eth1", "server1:eth0", "server1/vs0:web1", "server1/eth1:vf0"): its node. */
  end(name: string): string | null {
    const colon = name.indexOf(":");
    const device = colon < 0 ? name : name.slice(0, colon);
    const port = colon < 0 ? "" : name.slice(colon + 1);
    if (this.serverNames.has(device) && this.nodeIds.has(`nic:${device}/${port}`))
      return `nic:${device}/${port}`;
    if (this.nodeIds.has(`vf:${device}/${port}`)) return `vf:${device}/${port}`;
    return this.device(device)[0] ?? null;
  }

  /** A link hop's edges ("a<->b"): a VM's vNIC by its own end, a cable by both ends. */
  link(name: string): string[] {
    const ends = name.split("<->");
    if (ends.length !== 2) return [];
    for (const e of ends) {
      const v = this.edgesByName.get(`vnic:${e}`);
      if (v !== undefined) return v;
    }
    return this.edgesByName.get(linkName(ends[0], ends[1])) ?? [];
  }

  /** Edges a device's port leads into (GRE tunnels and VPNs: `tun:device:port`). */
  tunnel(device: string, port: string): string[] {
    return this.edgesByName.get(`tun:${device}:${port}`) ?? [];
  }
}

export const isLinkHop = (h: TraceHop) => h.device.includes("<->");

/** The echo's own path, as `markTrace` draws it: echo frames, and WireGuard data carrying them. */
const isPathFrame = (h: TraceHop) =>
  h.frame.startsWith("ICMP echo") || h.frame.startsWith("WireGuard transport data");

export function viewHops(index: GraphIndex, trace: TraceResult): HopView[] {
  const hops = trace.hops;
  const hasEcho = hops.some((h) => h.frame.startsWith("ICMP echo"));
  // Copies: the links that carried a frame at the instant a device flooded it.
  const floodAt = new Set<string>();
  for (const h of hops) if (h.action === "flood") floodAt.add(`${h.frameId}@${h.timeNs}`);
  // Bytes: every link hop of each frame, in order.
  const linksOf = new Map<number, number[]>();
  hops.forEach((h, i) => {
    if (h.bytes === undefined) return;
    const list = linksOf.get(h.frameId);
    if (list === undefined) linksOf.set(h.frameId, [i]);
    else list.push(i);
  });
  return hops.map((h, i) => {
    const isLink = isLinkHop(h);
    let bytesHop: number | null = null;
    let bytesWhen: HopView["bytesWhen"] = null;
    if (h.bytes !== undefined) {
      bytesHop = i;
      bytesWhen = "here";
    } else {
      const list = linksOf.get(h.frameId) ?? [];
      // The first link hop after this one, by bisection (a flood has thousands).
      let lo = 0;
      let hi = list.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (list[mid] < i) lo = mid + 1;
        else hi = mid;
      }
      if (lo > 0) [bytesHop, bytesWhen] = [list[lo - 1], "arrived"];
      else if (lo < list.length) [bytesHop, bytesWhen] = [list[lo], "sent"];
    }
    const nodes: string[] = [];
    const edges: string[] = [];
    let fromNode: string | null = null;
    let toNode: string | null = null;
    if (isLink) {
      edges.push(...index.link(h.device));
      fromNode = h.in === null ? null : index.end(h.in);
      toNode = h.out === null ? null : index.end(h.out);
    } else {
      nodes.push(...index.device(h.device));
      for (const port of [h.in, h.out]) {
        if (port === null) continue;
        for (const p of port.split(",")) edges.push(...index.tunnel(h.device, p));
      }
    }
    return {
      index: i,
      cls: frameClass(h.frame),
      isLink,
      isFloodCopy: isLink && floodAt.has(`${h.frameId}@${h.timeNs}`),
      isOnPath: hasEcho ? isPathFrame(h) : true,
      nodes,
      edges,
      fromNode,
      toNode,
      bytesHop,
      bytesWhen,
    };
  });
}

/** "+12.345 µs": a hop's time from the start of the trace. */
export function relativeTime(ns: number): string {
  if (ns < 1_000) return `+${ns.toFixed(0)} ns`;
  if (ns < 1_000_000) return `+${(ns / 1_000).toFixed(3)} µs`;
  return `+${(ns / 1_000_000).toFixed(3)} ms`;
}
