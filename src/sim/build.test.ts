/**
 * Builder tests: the seed data center becomes the devices and connections the topology says,
 * named as documented, in file order, with cables carrying the file's properties and captures
 * named after the ends; two builds are identical.
 */
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { loadTopologyFile, loadTopologyText } from "../model/load.ts";
import { buildWorld } from "./build.ts";

const SEED = fileURLToPath(new URL("../../examples/seed-datacenter.yaml", import.meta.url));

describe("buildWorld", () => {
  const { topology } = loadTopologyFile(SEED);

  it("creates a device per switch, NIC, vswitch and VM, in file order", () => {
    const b = buildWorld(topology);
    expect(b.world.devices.map((d) => `${d.kind}:${d.name}`)).toEqual([
      "switch:tor1",
      "pnic:server1/eth0",
      "pnic:server1/eth1",
      "vswitch:server1/vs0",
      "vm:web1",
      "vm:web2",
      "vm:db1",
      "vm:sriov1",
      "vm:sriov2",
      "pnic:server2/eth0",
      "vswitch:server2/vs0",
      "vm:web3",
      "vm:db2",
    ]);
    expect([...b.vms.keys()]).toEqual(["web1", "web2", "db1", "sriov1", "sriov2", "web3", "db2"]);
  });

  it("connects vNICs, VFs, uplinks and cables, and names captures after the ends", () => {
    const b = buildWorld(topology);
    const links = b.world.links.map((l) => [
      l.hopKind,
      l.name,
      l.isInternal,
      l.ends[0].captureName,
      l.ends[1].captureName,
    ]);
    expect(links).toContainEqual(["pnic", "server1/vs0:uplink:eth0<->server1/eth0:pf", true, null, null]);
    expect(links).toContainEqual(["vnic", "web1:eth0<->server1/vs0:web1", true, "web1:eth0", null]);
    expect(links).toContainEqual(["vf", "sriov2:eth0<->server1/eth1:vf1", true, "sriov2:eth0", null]);
    expect(links).toContainEqual(["link", "server1:eth1<->tor1:eth3", false, "server1:eth1", "tor1:eth3"]);
    const cable = b.world.links.find((l) => l.name === "server1:eth1<->tor1:eth3");
    expect(cable?.rateBps).toBe(25e9);
    expect(cable?.delayNs).toBe(2000);
    expect(cable?.mtu).toBe(1500);
    // 7 vNICs + 2 uplinks + 3 cables.
    expect(b.world.links.length).toBe(12);
  });

  it("gives MAC tables and ARP caches to show", () => {
    const b = buildWorld(topology);
    expect(b.macTables.map((t) => t.device)).toEqual(["tor1", "server1/eth1", "server1/vs0", "server2/vs0"]);
    expect(b.arpCaches.map((a) => a.device)).toEqual([
      "tor1 (gateway)",
      "web1",
      "web2",
      "db1",
      "sriov1",
      "sriov2",
      "web3",
      "db2",
    ]);
  });

  it("marks ports with nothing attached down at start (the unused PF of the SR-IOV NIC)", () => {
    const b = buildWorld(topology);
    b.world.start();
    const nic = b.world.device("server1/eth1");
    expect(nic).toBeDefined();
    expect(b.world.linkAt(nic!, 1)).toBeNull();
    b.world.runFor(1e6);
    // Start-up announcements were flooded by the NIC's embedded switch without touching the PF.
    expect(nic!.drops.get("port-not-connected")).toBe(0);
  });

  it("names a multi-NIC VM's vswitch ports so no other VM's name can collide", () => {
    // VM "a" has two NICs on vs0 and VM "a-eth0" one: "a-eth0" must not clash with a's first port.
    const text = `name: collide
servers:
  s1:
    nics: [eth0]
    vswitches:
      vs0:
        uplinks: [eth0]
        portGroups: { pg: { vlan: 10 } }
    vms:
      a:
        nics:
          - { portGroup: pg, ip: 10.0.0.1/24 }
          - { portGroup: pg, ip: 10.0.0.2/24 }
      a-eth0:
        nics:
          - { portGroup: pg, ip: 10.0.0.3/24 }
`;
    const b = buildWorld(loadTopologyText(text, "collide.yaml").topology);
    const vs = b.world.devices.find((d) => d.kind === "vswitch")!;
    expect(vs.portNames).toEqual(expect.arrayContaining(["a/eth0", "a/eth1", "a-eth0"]));
  });
});
