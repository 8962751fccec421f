/**
 * Untagged port groups (a port group without vlan or vni, or with vlan 0: vSphere's VLAN ID
 * "None (0)") through the CLI and the facade on `topologies/untagged.yaml`: server1's uplink is
 * cabled to an access port in VLAN 10 (two untagged port groups, mgmt and backup), server2 has a
 * VLAN 10 port group on a trunk and an untagged VF on an access port, server3 an untagged port
 * group and a VLAN 10 one on a trunk whose native VLAN is 20. The file passes `check`, every pair
 * pings, the verdicts say what happened, and the cables carry no 802.1Q tag where they should not.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { memoryIo } from "../../src/cli/io.ts";
import { main } from "../../src/cli/main.ts";
import { TopologyError } from "../../src/model/diagnostics.ts";
import { loadTopologyText } from "../../src/model/load-text.ts";
import { Network } from "../../src/network.ts";
import { captureRecords } from "../../src/wire/capture.ts";
import { decodeFrame } from "../../src/wire/decode.ts";

const FILE = fileURLToPath(new URL("./topologies/untagged.yaml", import.meta.url));
const TEXT = readFileSync(FILE, "utf8");
const load = () => Network.fromText(TEXT, "untagged.yaml");

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = memoryIo();
  const code = await main(argv, io);
  return { code, out: io.stdout(), err: io.stderr() };
}

function errorsOf(text: string): string[] {
  try {
    loadTopologyText(text, "t.yaml");
  } catch (e) {
    if (e instanceof TopologyError) return e.errors.map((d) => d.message);
    throw e;
  }
  return [];
}

describe("untagged port groups", () => {
  it("`mgmt: {}` and `vlan: 0` load as untagged and the file passes check without a warning", async () => {
    const r = await run(["check", FILE]);
    expect(r.code).toBe(0);
    expect(r.err).toBe("");
    expect(r.out).toContain("ok: untagged-port-groups");
    expect(r.out).not.toContain("warning");
    const pgs = loadTopologyText(TEXT, "t.yaml").topology.servers[0].vswitches[0].portGroups;
    expect(pgs.map((p) => [p.name, p.vlan, p.vni])).toEqual([
      ["mgmt", 0, null],
      ["backup", 0, null],
    ]);
  });

  it("keeps errors for real mistakes: VLAN 4095, a string, and untagged frames into a trunk without native VLAN", () => {
    expect(errorsOf(TEXT.replace("backup: { vlan: 0 }", "backup: { vlan: 4095 }"))).toEqual([
      "servers.server1.vswitches.vs0.portGroups.backup.vlan: 4095 is not a usable port group VLAN: 1..4094 for a VLAN the vswitch tags, or 0 (or no vlan at all) for an untagged port group (4095, vSphere's guest VLAN tagging, is not supported)",
    ]);
    expect(errorsOf(TEXT.replace("backup: { vlan: 0 }", 'backup: { vlan: "none" }'))).toEqual([
      'servers.server1.vswitches.vs0.portGroups.backup.vlan: expected a VLAN id (1..4094, or 0 for untagged), got "none"',
    ]);
    expect(
      errorsOf(TEXT.replace("eth1: { mode: access, vlan: 10 }", "eth1: { mode: trunk, vlans: [10] }")),
    ).toEqual([
      "switches.tor1.ports.eth1: tor1:eth1 is a trunk (VLANs 10), but server1:eth0 sends untagged frames for port group mgmt (untagged) of server1/vs0, used by m1; make it an access port or give the trunk a native VLAN",
    ]);
  });

  it("every pair pings: untagged VMs reach VMs of VLAN 10 on other servers, the VF on an access port and the gateways", async () => {
    const r = await run(["pingall", FILE]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("0% dropped (42/42 received; 42 pairs)");
    const net = load();
    expect(net.ping("m1", "192.168.10.1").received).toBe(3);
    expect(net.ping("u3", "192.168.20.1").received).toBe(3); // the trunk's native VLAN 20
  });

  it("reach agrees: every class pair delivered, the two untagged groups switched locally", async () => {
    const r = await run(["reach", FILE]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("mgmt (untagged) 192.168.10.0/24");
    expect(r.out).toMatch(/m1 -> b1 +delivered: switched locally by server1\/vs0, stays inside server1/);
    expect(r.out).not.toMatch(/NOT delivered|not delivered/);
  });

  it("two untagged port groups on one vswitch are switched locally, and the verdict says so", () => {
    const t = load().trace("m1", "b1");
    expect(t.delivered).toBe(true);
    expect(t.crossesPhysicalNetwork).toBe(false);
    expect(t.verdict).toBe(
      "different port groups in the same untagged segment (mgmt and backup, both untagged on vs0), same server: switched locally by server1/vs0, stays inside server1",
    );
    expect(load().trace("m1", "m2").verdict).toBe("same port group, same server: stays inside server1");
  });

  it("an untagged VM reaches VLAN 10 across the access port: a VM on another server and a VF", () => {
    const net = load();
    const t = net.trace("m1", "w2");
    expect(t.delivered).toBe(true);
    expect(t.verdict).toBe("different port groups, different servers: crosses the physical network via tor1");
    const echo = t.hops.filter((h) => h.frame.startsWith("ICMP echo request"));
    // Untagged on server1's cable, in VLAN 10 on the switch, tagged 10 toward server2.
    expect(echo.find((h) => h.device === "server1:eth0<->tor1:eth1")?.vlan).toBeNull();
    expect(echo.find((h) => h.device === "tor1")?.vlan).toBe(10);
    expect(echo.find((h) => h.device === "server2:eth0<->tor1:eth2")?.vlan).toBe(10);
    expect(echo.find((h) => h.device === "server1/vs0")?.reason).toMatch(/^forwarded to uplink:eth0/);
    const v = net.trace("m1", "v2");
    expect(v.delivered).toBe(true);
    expect(v.verdict).toBe(
      "vswitch port group to VF mgmt, different servers: crosses the physical network via tor1",
    );
  });

  it("an untagged port group and a VLAN 10 one on one vswitch stay apart: routed by the gateway", () => {
    const t = load().trace("u3", "w3");
    expect(t.delivered).toBe(true);
    expect(t.verdict).toBe(
      "different port groups, same server: crosses the physical network via the gateway on tor1",
    );
    expect(t.hops.some((h) => h.kind === "gateway" && h.action === "route")).toBe(true);
  });

  it("frames of the untagged segment carry no 802.1Q tag on the uplink cables; VLAN 10 stays tagged on trunks", () => {
    const net = load();
    net.startCaptures();
    expect(net.ping("m1", "w2", { count: 2 }).received).toBe(2);
    expect(net.ping("u3", "w3", { count: 1 }).received).toBe(1);
    const file = net.captures()[0];
    const tagsOn = new Map<string, Set<string>>();
    for (const r of captureRecords(file.bytes)) {
      const name = file.interfaces[r.interfaceId];
      const vlans = decodeFrame(r.data)
        .filter((l) => l.layer === "vlan")
        .map((l) => String((l as { vid: number }).vid));
      const set = tagsOn.get(name) ?? new Set<string>();
      set.add(vlans.length === 0 ? "untagged" : vlans.join("/"));
      tagsOn.set(name, set);
    }
    expect([...(tagsOn.get("server1:eth0") ?? [])]).toEqual(["untagged"]);
    expect([...(tagsOn.get("tor1:eth1") ?? [])]).toEqual(["untagged"]);
    expect([...(tagsOn.get("tor1:eth2") ?? [])]).toEqual(["10"]);
    // server3's trunk: its untagged group in native VLAN 20 untagged, web in VLAN 10 tagged.
    expect([...(tagsOn.get("server3:eth0") ?? [])].sort()).toEqual(["10", "untagged"]);
  });

  it("show fdb names the untagged segment; the graph labels say untagged, never vlan 0", async () => {
    const net = load();
    net.pingAll();
    const fdb = net.show("fdb", "server1/vs0");
    expect(fdb.length).toBeGreaterThan(0);
    expect(new Set(fdb.map((r) => r.vlan))).toEqual(new Set(["untagged"]));
    const g = await run(["graph", FILE, "--format", "dot"]);
    expect(g.code).toBe(0);
    expect(g.out).toContain("mgmt: untagged");
    expect(g.out).toContain("eth0: mgmt (untagged)");
    expect(g.out).not.toMatch(/vlan 0|VLAN 0/);
  });

  it("beside a VTEP: the untagged web group lands in the trunk's native VLAN 10, the VXLAN segments still work", async () => {
    const fabric = fileURLToPath(new URL("../../examples/vxlan-fabric.yaml", import.meta.url));
    const text = readFileSync(fabric, "utf8")
      .replace(
        "eth1: { mode: trunk, vlans: [10, 100] }",
        "eth1: { mode: trunk, vlans: [10, 100], native: 10 }",
      )
      .replace("          web: { vlan: 10 }\n          tenant-a", "          web: {}\n          tenant-a");
    const loaded = loadTopologyText(text, "fabric.yaml");
    expect(loaded.warnings).toEqual([]);
    expect(loaded.topology.servers[0].vswitches[0].portGroups[0]).toMatchObject({
      name: "web",
      vlan: 0,
      vni: null,
    });
    const net = Network.fromText(text, "fabric.yaml");
    expect(net.ping("web1", "10.1.10.1").received).toBe(3);
    expect(net.ping("web1", "app1").received).toBe(3);
    expect(net.ping("a1", "a2").received).toBe(3);
    expect(net.ping("b1", "b2").received).toBe(3);
    const t = net.trace("a1", "a3");
    expect(t.delivered).toBe(true);
    // The VTEP's vmkernel port still leaves tagged VLAN 100 beside the untagged group.
    const cable = t.hops.find(
      (h) => h.device === "esx1:eth0<->leaf1:eth1" && h.frame.startsWith("ICMP echo request"),
    );
    expect(cable?.vlan).toBe(100);
  });

  it("an untagged port group and an untagged VF on one SR-IOV NIC meet in its embedded switch", () => {
    const net = Network.fromText(VEB, "veb.yaml");
    const t = net.trace("m1", "v1");
    expect(t.delivered).toBe(true);
    expect(t.verdict).toBe("vswitch port group to VF mgmt, same server: stays inside s1");
    expect(net.ping("v1", "192.168.10.1").received).toBe(3);
  });
});

const VEB = `name: veb-untagged
switches:
  tor1:
    ports:
      eth1: { mode: access, vlan: 10 }
    gateway:
      10: 192.168.10.1/24
servers:
  s1:
    nics: [{ name: eth1, sriov: { vfs: 2 } }]
    vswitches:
      vs0:
        uplinks: [eth1]
        portGroups:
          mgmt: {}
    vms:
      m1: { nics: [{ portGroup: mgmt, ip: 192.168.10.11/24, gateway: 192.168.10.1 }] }
      v1: { nics: [{ vf: eth1, ip: 192.168.10.12/24, gateway: 192.168.10.1 }] }
links:
  - endpoints: [s1:eth1, tor1:eth1]
`;
