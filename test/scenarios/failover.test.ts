/**
 * Scenario: a NIC's cable is pulled under a vswitch with two uplinks. The NIC loses carrier, the
 * world tells the vswitch (DeviceEnv.setCarrier -> setPortUp), and the vswitch moves the VM to
 * the surviving uplink, so the path through the physical network survives the failure. Also what
 * a failed trace says: the cables that are down, and a drop's reason once.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { Network } from "../../src/network.ts";
import { loadNetwork } from "../../src/node.ts";

const FAILOVER = fileURLToPath(new URL("./topologies/failover.yaml", import.meta.url));

/** The uplink server1's vswitch sends web1's echo request out of, e.g. "uplink:eth0". */
function uplinkOfEchoRequest(net: Network): string {
  const t = net.trace("web1", "web2");
  expect(t.delivered).toBe(true);
  const hop = t.hops.find(
    (h) =>
      h.device === "server1/vs0" &&
      h.action === "forward" &&
      h.in === "web1" &&
      /echo request/.test(h.frame ?? ""),
  );
  expect(hop).toBeDefined();
  return hop!.out!;
}

describe("uplink failover", () => {
  it("a pulled cable moves the VM to the other uplink and traffic keeps flowing", async () => {
    const net = await loadNetwork(FAILOVER);
    const before = uplinkOfEchoRequest(net);
    const nic = before.replace("uplink:", "");
    const cable = net.world.links.find((l) => l.name.startsWith(`server1:${nic}<->`));
    expect(cable).toBeDefined();
    net.world.setLinkUp(cable!, false);
    const after = uplinkOfEchoRequest(net);
    expect(after).toMatch(/^uplink:eth[01]$/);
    expect(after).not.toBe(before);
    expect(net.ping("web1", "web2", { count: 3 }).received).toBe(3);
  });

  it("a failed trace names the cable that is down", async () => {
    const net = await loadNetwork(FAILOVER);
    const cable = net.world.links.find((l) => l.name.startsWith("server2:eth0<->"))!;
    net.world.setLinkUp(cable, false);
    const t = net.trace("web1", "web2");
    expect(t.delivered).toBe(false);
    expect(t.verdict).toMatch(/^not delivered: no ARP reply .*; cable down: server2:eth0<->tor1:eth3$/);
  });

  it("a drop's reason is said once in the verdict", async () => {
    const seed = fileURLToPath(new URL("../../examples/seed-datacenter.yaml", import.meta.url));
    const t = (await loadNetwork(seed)).trace("web1", "10.9.9.9");
    expect(t.verdict).toBe("not delivered: dropped at tor1: no route to 10.9.9.9");
  });
});

describe("MAC table moves and evictions are counted and shown", () => {
  /** The failover topology with forged transmits accepted on server1 (a guest may forge sources). */
  function forging(extra = ""): Network {
    const text = readFileSync(FAILOVER, "utf8")
      .replace("  tor1:\n", `  tor1:\n${extra}`)
      .replace(
        "        uplinks: [eth0, eth1]\n",
        "        uplinks: [eth0, eth1]\n        security: { forgedTransmits: accept }\n",
      );
    return Network.fromText(text, "forging.yaml");
  }
  function frameFrom(src: number[]): Uint8Array {
    const f = new Uint8Array(60);
    f.fill(0xff, 0, 6);
    f.set(src, 6);
    f.set([0x88, 0xb5], 12); // local experimental EtherType: a payload nobody parses
    return f;
  }

  it("a MAC seen on another port moves: show counters says mac-moved at the switch", () => {
    const net = forging();
    expect(net.trace("web2", "web1").delivered).toBe(true);
    const web2 = net.topology.servers[1].vms[0].nics[0].mac;
    const bytes = [0, 1, 2, 3, 4, 5].map((i) => Math.floor(web2 / 2 ** (8 * (5 - i))) % 256);
    net.sendRaw("web1", frameFrom(bytes));
    const moved = net.show("counters", "tor1").find((r) => r.reason === "mac-moved");
    expect(moved).toMatchObject({ device: "tor1", kind: "fdb", count: 1 });
  });

  it("a MAC flood from a guest evicts entries of a small table: show counters says mac-evicted", () => {
    const net = forging("    macTableSize: 8\n");
    for (let i = 0; i < 40; i++) net.sendRaw("web1", frameFrom([0x02, 0xee, 0, 0, 0, i]), 0, 1);
    const evicted = net.show("counters", "tor1").find((r) => r.reason === "mac-evicted");
    expect(evicted?.count).toBeGreaterThan(0);
  });
});
