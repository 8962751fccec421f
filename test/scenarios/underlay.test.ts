/**
 * Scenario: a routed leaf-spine underlay (`examples/leaf-spine.yaml`): routed /31 links, SVIs on
 * the leaves, equal-cost static routes over both spines, a standalone router with a loopback.
 * Every VM reaches every other; flows between the racks use both spines (ECMP by the 5-tuple);
 * each router on the way decrements the TTL; a router's loopback answers.
 */

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { Network } from "../../src/network.ts";

const FABRIC = fileURLToPath(new URL("../../examples/leaf-spine.yaml", import.meta.url));
const load = () => Network.fromText(readFileSync(FABRIC, "utf8"), "leaf-spine.yaml");

describe("a routed leaf-spine underlay", () => {
  it("every VM reaches every other, and the racks' traffic crosses both spines (ECMP)", () => {
    const net = load();
    expect(net.pingAll().lossPercent).toBe(0);
    const tx = (dev: string) =>
      net
        .show("ports", dev)
        .filter((r) => r.port === "eth1" || r.port === "eth2")
        .reduce((n, r) => n + Number(r.txFrames), 0);
    expect(tx("spine1")).toBeGreaterThan(0);
    expect(tx("spine2")).toBeGreaterThan(0);
  });

  it("a trace across the racks is routed leaf -> spine -> leaf, TTL down by one at each", () => {
    const t = load().trace("web1", "app1");
    expect(t.delivered).toBe(true);
    const routed = t.hops.filter((h) => h.action === "route" && h.frame.startsWith("ICMP echo request"));
    expect(routed.map((h) => h.device)).toEqual(["leaf1", expect.stringMatching(/^spine[12]$/), "leaf2"]);
    expect(routed.map((h) => /ttl (\d+) -> (\d+)/.exec(h.reason)?.slice(1).join(">"))).toEqual([
      "64>63",
      "63>62",
      "62>61",
    ]);
    expect(routed[0].reason).toMatch(/via 10\.0\.[12]\.0$/);
  });

  it("a standalone router's loopback answers through the fabric", () => {
    const net = load();
    const t = net.trace("web1", "10.255.9.9");
    expect(t.delivered).toBe(true);
    expect(t.physicalDevices).toEqual(expect.arrayContaining(["leaf1", "spine1", "edge1"]));
    expect(net.ping("app2", "10.255.9.9", { count: 2 }).received).toBe(2);
  });

  it("an address no route covers is answered with net unreachable by the first router", () => {
    const t = load().trace("web1", "10.9.9.9");
    expect(t.delivered).toBe(false);
    expect(t.hops.some((h) => h.device === "leaf1" && h.reason.includes("no route to 10.9.9.9"))).toBe(true);
  });

  it("traceroute names each router, reaches a router's loopback, and shows ECMP per probe", () => {
    const net = load();
    const t = net.traceroute("web1", "10.255.9.9");
    expect(t.isReached).toBe(true);
    expect(t.hops.map((h) => h.probes[0].name)).toEqual(["leaf1", "spine1", "edge1"]);
    // The probes of one hop differ in destination port: ECMP may send them over either spine.
    const back = net.traceroute("app2", "web1");
    expect(back.isReached).toBe(true);
    const spines = new Set(back.hops[1].probes.map((p) => p.name));
    for (const s of spines) expect(s).toMatch(/^spine[12]$/);
  });
});
