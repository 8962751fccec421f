/** Layer-2 reasoning: port tagging, VLAN lists, switch paths and loops. */

import { describe, expect, it } from "vitest";
import {
  carriesVlan,
  egressTagging,
  formatVlanList,
  ingressVlan,
  type SwitchEdge,
  SwitchGraph,
  VlanGraphs,
} from "./l2.ts";
import type { SwitchPortSpec } from "./types.ts";

const access10: SwitchPortSpec = { name: "a", mode: "access", vlan: 10 };
const trunk: SwitchPortSpec = { name: "t", mode: "trunk", vlans: [10, 20], nativeVlan: 20 };
const trunkAll: SwitchPortSpec = { name: "u", mode: "trunk", vlans: null, nativeVlan: null };

describe("port tagging (IEEE 802.1Q ingress classification / egress tagging)", () => {
  it("access ports carry their VLAN untagged and drop tagged frames", () => {
    expect(egressTagging(access10, 10)).toBe("untagged");
    expect(egressTagging(access10, 20)).toBeNull();
    expect(ingressVlan(access10, null)).toBe(10);
    expect(ingressVlan(access10, 10)).toBeNull();
  });
  it("trunks carry allowed VLANs tagged and the native VLAN untagged", () => {
    expect(egressTagging(trunk, 10)).toBe("tagged");
    expect(egressTagging(trunk, 20)).toBe("untagged");
    expect(egressTagging(trunk, 30)).toBeNull();
    expect(ingressVlan(trunk, null)).toBe(20);
    expect(ingressVlan(trunk, 10)).toBe(10);
    expect(ingressVlan(trunk, 30)).toBeNull();
    expect(ingressVlan(trunkAll, 4094)).toBe(4094);
    expect(ingressVlan(trunkAll, null)).toBeNull();
  });
});

it("formats VLAN lists with ranges", () => {
  expect(formatVlanList([10, 20, 100, 101, 102, 104])).toBe("10, 20, 100-102, 104");
  expect(formatVlanList([])).toBe("none");
});

describe("SwitchGraph", () => {
  const e = (i: number, a: string, pa: string, b: string, pb: string) => ({
    linkIndex: i,
    a: { node: a, port: pa },
    b: { node: b, port: pb },
  });

  it("finds paths along a tree and none between components", () => {
    const g = new SwitchGraph(
      ["tor1", "tor2", "core", "lone"],
      [e(0, "tor1", "eth49", "core", "eth1"), e(1, "tor2", "eth49", "core", "eth2")],
    );
    expect(g.loops).toEqual([]);
    expect(g.path("tor1", "tor2")).toEqual([
      { linkIndex: 0, from: "tor1", fromPort: "eth49", to: "core", toPort: "eth1" },
      { linkIndex: 1, from: "core", fromPort: "eth2", to: "tor2", toPort: "eth49" },
    ]);
    expect(g.path("tor1", "tor1")).toEqual([]);
    expect(g.path("tor1", "lone")).toBeUndefined();
  });

  it("spells out loops: parallel links, rings, a cable between two ports of one switch", () => {
    const parallel = new SwitchGraph(["a", "b"], [e(0, "a", "p1", "b", "p1"), e(1, "a", "p2", "b", "p2")]);
    expect(parallel.loops).toEqual([
      { closingLinkIndex: 1, text: "a:p1 -> b:p1 -> b:p2 -> a:p2 -> a", linkIndexes: [0, 1] },
    ]);
    const ring = new SwitchGraph(
      ["a", "b", "c"],
      [e(0, "a", "p1", "b", "p1"), e(1, "b", "p2", "c", "p1"), e(2, "c", "p2", "a", "p2")],
    );
    expect(ring.loops.map((l) => l.text)).toEqual(["c:p1 -> b:p2 -> b:p1 -> a:p1 -> a:p2 -> c:p2 -> c"]);
    const self = new SwitchGraph(["a"], [e(3, "a", "p1", "a", "p2")]);
    expect(self.loops.map((l) => l.text)).toEqual(["a:p2 -> a:p1 -> a"]);
  });
});

describe("VlanGraphs: loops are per VLAN", () => {
  const trunk = (vlans: number[] | null, nativeVlan: number | null = null): SwitchPortSpec => ({
    name: "x",
    mode: "trunk",
    vlans,
    nativeVlan,
  });
  const edges: SwitchEdge[] = [
    { linkIndex: 0, a: { node: "s1", port: "p1" }, b: { node: "s2", port: "p1" } },
    { linkIndex: 1, a: { node: "s1", port: "p2" }, b: { node: "s2", port: "p2" } },
  ];

  it("parallel trunks with disjoint VLANs form no loop, and each VLAN has its own path", () => {
    const ports: Record<string, SwitchPortSpec> = { p1: trunk([10]), p2: trunk([20]) };
    const g = new VlanGraphs(["s1", "s2"], edges, (_n, p) => ports[p]);
    expect(g.loops()).toEqual([]);
    expect(g.of(10)?.isConnected("s1", "s2")).toBe(true);
    expect(g.of(20)?.isConnected("s1", "s2")).toBe(true);
    expect(g.of(30)).toBeUndefined();
  });

  it("a VLAN both trunks carry loops, and only that one is named", () => {
    const ports: Record<string, SwitchPortSpec> = { p1: trunk([10, 20]), p2: trunk([20, 30]) };
    const loops = new VlanGraphs(["s1", "s2"], edges, (_n, p) => ports[p]).loops();
    expect(loops.map((l) => l.vlans)).toEqual([[20]]);
    expect(loops[0].loop.closingLinkIndex).toBe(1);
  });

  it("all-VLAN trunks loop in every VLAN, computed once for identical cables", () => {
    const g = new VlanGraphs(["s1", "s2"], edges, () => trunk(null));
    expect(g.groups.length).toBe(1);
    expect(g.loops()[0].vlans.length).toBe(4094);
  });

  it("a cable carries a VLAN only when both ends keep it that VLAN (native mismatch does not)", () => {
    expect(carriesVlan(trunk([10]), trunk([10]), 10)).toBe(true);
    expect(carriesVlan(trunk([10], 10), trunk([10]), 10)).toBe(false);
    expect(carriesVlan({ name: "a", mode: "access", vlan: 10 }, trunk([10], 10), 10)).toBe(true);
  });
});
