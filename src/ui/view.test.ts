/**
 * The web page's view model: small networks open in full, large ones fold servers and racks,
 * folded cables count what they stand for, every graph element is shown by something, and the
 * hops of a trace land on the picture's elements (ARP flood copies told apart from the echo).
 */

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { buildGraph } from "../analysis/graph.ts";
import { generateDatacenter } from "../model/generate.ts";
import { loadTopologyText } from "../model/load-text.ts";
import { Network } from "../network.ts";
import { GraphIndex, viewHops } from "./hops.ts";
import { analyse, buildView, defaultExpanded, expansionFor } from "./view.ts";

const SEED = readFileSync(new URL("../../examples/seed-datacenter.yaml", import.meta.url), "utf8");

describe("view", () => {
  it("opens the seed data center in full: no racks, every node as itself", () => {
    const net = Network.fromText(SEED);
    const s = analyse(buildGraph(net.topology));
    expect(s.racks).toEqual([]);
    const v = buildView(s, defaultExpanded(s));
    for (const n of s.graph.nodes) expect(v.shownAs(n.id)).toBe(n.id);
    expect(v.edges.length).toBe(s.graph.edges.length);
    expect(v.nodes.filter((n) => n.kind === "server").map((n) => n.id)).toEqual([
      "srv:server1",
      "srv:server2",
    ]);
    // Leaves do not overlap.
    const leaves = v.nodes.filter((n) => n.w > 0);
    for (const a of leaves)
      for (const b of leaves)
        if (a !== b)
          expect(
            Math.abs(a.x - b.x) * 2 >= a.w + b.w || Math.abs(a.y - b.y) * 2 >= a.h + b.h,
            `${a.id} overlaps ${b.id}`,
          ).toBe(true);
  });

  it("folds racks and servers of a data center, and opens what a path needs", () => {
    const text = generateDatacenter({ racks: 3, serversPerRack: 4, vmsPerServer: 5 });
    const s = analyse(buildGraph(Network.fromText(text).topology));
    expect(s.racks.map((r) => r.id)).toEqual(["rack:tor1", "rack:tor2", "rack:tor3"]);
    expect(s.racks[0].switches).toEqual(["sw:tor1"]);
    expect(s.racks[0].servers.length).toBe(4);
    const folded = buildView(s, new Set());
    expect(folded.nodes.map((n) => n.kind).sort()).toEqual([
      "rack-collapsed",
      "rack-collapsed",
      "rack-collapsed",
      "switch",
    ]);
    const vm = s.graph.nodes.find((n) => n.kind === "vm")!;
    expect(folded.shownAs(vm.id)).toBe("rack:tor1");
    const open = buildView(s, new Set(expansionFor(s, [vm.id])));
    expect(open.shownAs(vm.id)).toBe(vm.id);
    const elsewhere = s.members.get(s.racks[1].servers[0])!.find((n) => n.kind === "vm")!;
    expect(open.shownAs(elsewhere.id)).toBe("rack:tor2");
    // The servers of the open rack that stay folded: one edge for their cable each.
    const other = s.racks[0].servers[1];
    expect(open.nodes.find((n) => n.id === other)?.label).toBe(`${other.slice(4)}\n5 VMs`);
  });

  it("the generated 16,000-VM data center opens as its racks", () => {
    const s = analyse(buildGraph(loadTopologyText(generateDatacenter(), "dc.yaml").topology));
    const v = buildView(s, defaultExpanded(s));
    expect(v.nodes.length).toBe(41);
    expect(v.nodes.find((n) => n.id === "rack:tor1")?.label).toBe("rack tor1\n20 servers\n400 VMs");
  });

  it("every hop of a trace lands on the picture; ARP flood copies are told apart", () => {
    const net = Network.fromText(SEED);
    const g = buildGraph(net.topology);
    const t = net.trace("web1", "db1", { withBytes: true });
    const hops = viewHops(new GraphIndex(g), t);
    for (const h of hops) {
      const hop = t.hops[h.index];
      if (h.isLink) {
        expect(h.edges.length, hop.device).toBeGreaterThan(0);
        expect(h.fromNode !== null && h.toNode !== null, hop.device).toBe(true);
      } else expect(h.nodes.length, hop.device).toBeGreaterThan(0);
      expect(h.bytesHop, `${hop.device} has a frame to show`).not.toBeNull();
    }
    expect(hops.some((h) => h.isFloodCopy && h.cls === "arp-request")).toBe(true);
    expect(hops.some((h) => h.isFloodCopy && h.cls.startsWith("echo"))).toBe(false);
    expect(hops.filter((h) => h.isOnPath).every((h) => h.cls.startsWith("echo"))).toBe(true);
  });
});
