/**
 * Scenario: `vnet mtu` finds the path MTU as tracepath does (DF echoes, ICMP fragmentation
 * needed lowering the size) and names a black hole (a link that drops big frames without an
 * ICMP error); the delivered echo's frame is shown on every cable with what each layer adds.
 */

import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { memoryIo } from "../../src/cli/io.ts";
import { main } from "../../src/cli/main.ts";
import { Network } from "../../src/network.ts";

const SITES = fileURLToPath(new URL("../../examples/gre-sites.yaml", import.meta.url));
const SEED = fileURLToPath(new URL("../../examples/seed-datacenter.yaml", import.meta.url));
const HW_VTEP = fileURLToPath(new URL("./topologies/leafspine-vxlan-hw-vtep.yaml", import.meta.url));

describe("vnet mtu", () => {
  it("a plain VLAN path: 1500, the frames 1518 on tagged cables", () => {
    const r = Network.fromText(readFileSync(SEED, "utf8"), "seed.yaml").mtu("web1", "db2");
    expect(r.pathMtu).toBe(1500);
    expect(r.hops.every((h) => h.frameBytes === 1518 && h.layers === "Ethernet 14 + 802.1Q 4")).toBe(true);
  });

  it("through a GRE tunnel: the tunnel's router says 1476 (fragmentation needed), the outer headers add 24", () => {
    const r = Network.fromText(readFileSync(SITES, "utf8"), "sites.yaml").mtu("hq1", "br1");
    expect(r.pathMtu).toBe(1476);
    expect(r.steps.map((s) => s.outcome)).toEqual(["frag-needed", "delivered"]);
    expect(r.steps[0].text).toContain("from 10.1.0.1 (hq-edge): next-hop MTU 1476");
    const provider = r.hops.filter((h) => h.layers.includes("GRE"));
    expect(provider.map((h) => h.frameBytes)).toEqual([1514, 1514]);
  });

  it("a link smaller than its routers think: a black hole, named, and the size that gets through", () => {
    const text = readFileSync(SITES, "utf8").replace(
      "  - endpoints: [isp:eth1, br-edge:eth0]",
      "  - endpoints: [isp:eth1, br-edge:eth0]\n    mtu: 1400",
    );
    const r = Network.fromText(text, "small.yaml").mtu("hq1", "br1");
    expect(r.pathMtu).toBe(1376);
    expect(r.steps[1]).toMatchObject({ sizeBytes: 1476, outcome: "black-hole" });
    expect(r.steps[1].text).toContain("isp:eth1<->br-edge:eth0 (link MTU 1400)");
  });

  it("VXLAN over routers with MTU 1500: the ICMP error goes to the VTEP, so the guest sees a black hole; 1450 found", async () => {
    // The routed ports back at their default 1500 (the cables between them stay 1500).
    const text = readFileSync(HW_VTEP, "utf8").replace(/(mode: routed, ip: [0-9./]+), mtu: 9000/g, "$1");
    const r = Network.fromText(text, "routed1500.yaml").mtu("t1-a", "t1-b");
    expect(r.pathMtu).toBe(1450);
    expect(r.failure).toBeNull();
    expect(r.steps[0]).toMatchObject({ sizeBytes: 1500, outcome: "black-hole" });
    expect(r.steps[0].text).toContain("dropped by leaf-1: 1550 bytes exceed the MTU 1500 of eth49, DF set");
    expect(r.steps[0].text).toContain("went to the tunnel's source, not to t1-a");
    // The ping of the same sizes agrees: 1422 bytes of payload (1450) pass, 1423 do not.
    const net = Network.fromText(text, "routed1500.yaml");
    expect(net.ping("t1-a", "t1-b", { count: 1, sizeBytes: 1422 }).received).toBe(1);
    expect(net.ping("t1-a", "t1-b", { count: 1, sizeBytes: 1423 }).received).toBe(0);
    const io = memoryIo();
    const file = HW_VTEP.replace(".yaml", "-routed1500.yaml");
    writeFileSync(file, text);
    try {
      expect(await main(["mtu", file, "t1-a", "t1-b"], io)).toBe(0);
    } finally {
      rmSync(file);
    }
  });

  it("through a hardware VTEP: the last cable, after leaf-2 decapsulates into VLAN 30, is listed", () => {
    const r = Network.fromText(readFileSync(HW_VTEP, "utf8"), "hw.yaml").mtu("t1-a", "bm1");
    expect(r.pathMtu).toBe(1450);
    expect(r.hops.at(-1)).toEqual({
      link: "leaf-2:eth2 -> bm-host:eth0",
      frameBytes: 1468,
      layers: "Ethernet 14 + 802.1Q 4",
    });
  });

  it("through the CLI: text, --json, and a one-line error for an unknown VM", async () => {
    const io = memoryIo();
    expect(await main(["mtu", SITES, "hq1", "br1"], io)).toBe(0);
    expect(io.stdout()).toContain("path MTU 1476 bytes");
    const j = memoryIo();
    expect(await main(["mtu", SITES, "hq1", "br1", "--json"], j)).toBe(0);
    expect(JSON.parse(j.stdout()).pathMtu).toBe(1476);
    const bad = memoryIo();
    expect(await main(["mtu", SITES, "hq1", "br9"], bad)).toBe(2);
    expect(bad.stderr()).toMatch(/^vnet: no VM named "br9"; did you mean "br1"\?\n$/);
  });

  it("over VXLAN: 1500 on a 1600 underlay; a VTEP left at 1500 drops full-size packets silently (50 too many)", () => {
    const FABRIC = fileURLToPath(new URL("../../examples/vxlan-fabric.yaml", import.meta.url));
    const text = readFileSync(FABRIC, "utf8");
    const ok = Network.fromText(text, "fabric.yaml").mtu("a1", "a2");
    expect(ok.pathMtu).toBe(1500);
    expect(ok.hops[0]).toMatchObject({ frameBytes: 1568 });
    expect(ok.hops[0].layers).toContain("VXLAN 8 + inner Ethernet 14");
    const small = text.replace(
      "vtep: { ip: 10.100.0.11/24, gateway: 10.100.0.1, vlan: 100, mtu: 1600 }",
      "vtep: { ip: 10.100.0.11/24, gateway: 10.100.0.1, vlan: 100 }",
    );
    const r = Network.fromText(small, "small.yaml").mtu("a1", "a2");
    expect(r.pathMtu).toBe(1450);
    expect(r.steps[0].outcome).toBe("black-hole");
    expect(r.steps[0].text).toContain("esx1/vs0's VTEP: 1550 bytes once in VXLAN, over its MTU 1500");
  });
});
