/**
 * Scenario tests for the source document's forwarding rules (section 5) and the SR-IOV bypass
 * (section 1.2), run through the `vnet` command in-process on a whole topology under the
 * simulated clock. Each test compares the JSON a user would get: whether the echo was
 * delivered, whether any of its frames crossed the physical network, which physical devices it
 * went through, and the verdict sentence.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { memoryIo } from "../../src/cli/io.ts";
import { main } from "../../src/cli/main.ts";
import { generateDatacenter } from "../../src/model/generate.ts";
import { loadNetwork } from "../../src/node.ts";

const RULES = fileURLToPath(new URL("./topologies/rules.yaml", import.meta.url));

interface TraceJson {
  delivered: boolean;
  hops: {
    frame: string;
    device: string;
    kind: string;
    in: string | null;
    out: string | null;
    vlan: number | null;
    action: string;
    reason: string;
  }[];
  crossesPhysicalNetwork: boolean;
  physicalDevices: string[];
  verdict: string;
}

async function trace(from: string, to: string): Promise<{ code: number; json: TraceJson }> {
  const io = memoryIo();
  const code = await main(["trace", RULES, from, to, "--json"], io);
  expect(io.stderr()).toBe("");
  return { code, json: JSON.parse(io.stdout()) as TraceJson };
}

describe("section 5: forwarding paths", () => {
  it("same port group, same server: stays inside the server", async () => {
    const { code, json } = await trace("vm1", "vm3");
    expect(code).toBe(0);
    expect(json.delivered).toBe(true);
    expect(json.crossesPhysicalNetwork).toBe(false);
    expect(json.physicalDevices).toEqual([]);
    expect(json.verdict).toBe("same port group, same server: stays inside server1");
    // The echo went through server1's vswitch and nothing physical.
    const echoDevices = new Set(json.hops.filter((h) => h.kind !== "link").map((h) => h.device));
    expect(echoDevices.has("server1/vs0")).toBe(true);
  });

  it("same port group, different servers: crosses the physical network via the ToR", async () => {
    const { code, json } = await trace("vm1", "vm4");
    expect(code).toBe(0);
    expect(json.crossesPhysicalNetwork).toBe(true);
    expect(json.physicalDevices).toEqual(["tor1"]);
    expect(json.verdict).toBe("same port group, different servers: crosses the physical network via tor1");
  });

  it("different port groups, same server: crosses the physical network via the gateway", async () => {
    const { code, json } = await trace("vm1", "vm2");
    expect(code).toBe(0);
    expect(json.crossesPhysicalNetwork).toBe(true);
    expect(json.verdict).toBe(
      "different port groups, same server: crosses the physical network via the gateway on tor1",
    );
    expect(json.hops.some((h) => h.kind === "gateway" && h.action === "route")).toBe(true);
    // The request leaves server1 tagged VLAN 10 and comes back tagged VLAN 20.
    const cableVlans = json.hops
      .filter((h) => h.kind === "link" && h.action === "transmit")
      .map((h) => h.vlan);
    expect(cableVlans).toContain(10);
    expect(cableVlans).toContain(20);
  });
});

describe("section 1.2: SR-IOV", () => {
  it("VF to VF on the same NIC stays in the NIC's embedded switch, no vswitch", async () => {
    const { code, json } = await trace("vf1", "vf2");
    expect(code).toBe(0);
    expect(json.crossesPhysicalNetwork).toBe(false);
    // The echo request and reply never meet a vswitch (ARP broadcasts are flooded everywhere).
    const echo = json.hops.filter((h) => h.frame.startsWith("ICMP echo"));
    expect(echo.length).toBeGreaterThan(0);
    expect(echo.some((h) => h.kind === "vswitch")).toBe(false);
    const devices = new Set(echo.filter((h) => !h.device.includes("<->")).map((h) => h.device));
    expect([...devices].sort()).toEqual(["server1/eth1", "vf1", "vf2"]);
    expect(json.verdict).toBe(
      "VF to VF on the same NIC: stays inside server1's eth1 (SR-IOV embedded switch, no vswitch)",
    );
  });

  it("VF to a VM behind the vswitch of the same server goes out to the ToR and back", async () => {
    const { code, json } = await trace("vf1", "vm1");
    expect(code).toBe(0);
    expect(json.crossesPhysicalNetwork).toBe(true);
    expect(json.verdict).toBe(
      "VF to vswitch port group web, same server: crosses the physical network via tor1",
    );
  });
});

describe("isolation", () => {
  it("VLAN 30 has no gateway: vm7 cannot reach VLAN 10, and nothing leaks", async () => {
    const { code, json } = await trace("vm7", "vm1");
    expect(code).toBe(1);
    expect(json.delivered).toBe(false);
    expect(json.verdict).toMatch(/^not delivered: /);
    // Nothing of VLAN 30 reached a VLAN 10 port.
    expect(json.hops.some((h) => h.device === "vm1" && h.action === "deliver")).toBe(false);
  });

  it("the same VLAN without a gateway still works at layer 2 across servers", async () => {
    const { code, json } = await trace("vm7", "vm8");
    expect(code).toBe(0);
    expect(json.verdict).toBe("same port group, different servers: crosses the physical network via tor1");
  });
});

describe("a generated data center (racks, ToRs, a core gateway)", () => {
  it("names every physical device a cross-rack echo passes, and routes on the core", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vnet-gen-"));
    try {
      const file = join(dir, "dc.yaml");
      writeFileSync(file, generateDatacenter({ racks: 3, serversPerRack: 2, vmsPerServer: 4 }));
      // Quiet and announcing starts give the same verdicts (switches learn from the traffic).
      for (const isAnnouncing of [true, false]) {
        const net = await loadNetwork(file, { isAnnouncing });
        const same = net.trace("vm-r1s1-1", "vm-r3s2-1");
        expect(same.delivered).toBe(true);
        expect(same.physicalDevices).toEqual(["tor1", "core1", "tor3"]);
        expect(same.verdict).toBe(
          "same port group, different servers: crosses the physical network via tor1, core1 and tor3",
        );
        const routed = net.trace("vm-r1s1-1", "vm-r1s1-2");
        expect(routed.verdict).toBe(
          "different port groups, same server: crosses the physical network via tor1 and the gateway on core1",
        );
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
