/** The generated data center: valid, deterministic, the size asked for. */

import { describe, expect, it } from "vitest";
import { Network } from "../network.ts";
import { generateDatacenter } from "./generate.ts";
import { loadTopologyText } from "./load-text.ts";
import { summarize } from "./summary.ts";

describe("generateDatacenter", () => {
  it("builds a valid topology of the requested size, without warnings", () => {
    const text = generateDatacenter({ racks: 3, serversPerRack: 4, vmsPerServer: 5, portGroups: 3 });
    const { topology, warnings } = loadTopologyText(text, "gen.yaml");
    expect(warnings).toEqual([]);
    expect(summarize(topology)).toMatchObject({
      servers: 12,
      vms: 60,
      switches: 4,
      links: 12 + 3,
      portGroups: 12 * 3,
      vfs: 0,
      gateways: 3,
    });
    const core = topology.switches.find((s) => s.name === "core1")!;
    expect(core.gateway.map((g) => g.vid)).toEqual([100, 101, 102]);
    // VMs are spread round-robin over the port groups.
    const perPg = new Map<string, number>();
    for (const s of topology.servers)
      for (const vm of s.vms) {
        const a = vm.nics[0].attachment;
        if (a.kind === "portGroup") perPg.set(a.portGroup, (perPg.get(a.portGroup) ?? 0) + 1);
      }
    expect(Object.fromEntries(perPg)).toEqual({ web: 20, app: 20, db: 20 });
  });

  it("puts VMs on SR-IOV VFs when asked", () => {
    const text = generateDatacenter({
      racks: 2,
      serversPerRack: 2,
      vmsPerServer: 4,
      portGroups: 2,
      sriovVmsPerServer: 2,
    });
    const { topology, warnings } = loadTopologyText(text, "gen.yaml");
    expect(warnings).toEqual([]);
    expect(summarize(topology)).toMatchObject({ vms: 16, vfs: 8, vfsInUse: 8, links: 2 * 2 * 2 + 2 });
  });

  it("with mlag, bonds every server to its rack's MLAG leaf pair; it loads clean and every VM reaches every other", () => {
    const text = generateDatacenter({
      racks: 2,
      serversPerRack: 2,
      vmsPerServer: 3,
      portGroups: 2,
      sriovVmsPerServer: 1,
      mlag: true,
    });
    const { topology, warnings } = loadTopologyText(text, "gen.yaml");
    expect(warnings).toEqual([]);
    // Per rack: 2 servers x (2 bonded NICs + 1 SR-IOV NIC), 2 peer-link cables, the keepalive, 2 uplinks.
    expect(summarize(topology)).toMatchObject({
      servers: 4,
      vms: 12,
      switches: 5,
      links: 2 * (6 + 2 + 1 + 2),
      vfsInUse: 4,
    });
    expect((topology.mlag ?? []).map((d) => [d.domain, d.switches, d.lags.map((l) => l.name)])).toEqual([
      [1, ["leaf1a", "leaf1b"], ["po1", "po2", "uplink"]],
      [2, ["leaf2a", "leaf2b"], ["po1", "po2", "uplink"]],
    ]);
    const net = Network.fromText(text, "gen.yaml");
    expect(net.warnings).toEqual([]);
    // Past the first periodic LACPDU (fast: 1 s). With the SR-IOV NICs present, the servers'
    // eth1 member is still "defaulted" 1 ms after start while the secondary leaf already
    // distributes into it, so a frame in that first second can be lost (without SR-IOV it is not).
    net.world.runFor(1.5e9);
    const r = net.pingAll();
    expect(r.failures).toEqual([]);
    expect(r.lossPercent).toBe(0);
    expect(r.pairs).toBe(12 * 11);
  });

  it("is deterministic and defaults to 40 x 20 x 20", () => {
    const a = generateDatacenter();
    expect(generateDatacenter()).toBe(a);
    expect(a.match(/^ {6}vm-/gm)?.length).toBe(16_000);
  });

  it("refuses sizes no topology can hold", () => {
    expect(() => generateDatacenter({ racks: 0 })).toThrow(RangeError);
    expect(() => generateDatacenter({ vmsPerServer: 2, sriovVmsPerServer: 3 })).toThrow(RangeError);
    expect(() =>
      generateDatacenter({ racks: 100, serversPerRack: 100, vmsPerServer: 100, portGroups: 1 }),
    ).toThrow("1000000 VMs over 1 port groups do not fit a /16 each; add port groups");
  });

  it("with vxlan, puts every port group on a VNI over VTEPs on a routed leaf-spine; it loads clean and VMs reach exactly the VMs of their VNI", () => {
    const text = generateDatacenter({
      racks: 2,
      serversPerRack: 2,
      vmsPerServer: 3,
      portGroups: 2,
      vxlan: true,
    });
    const { topology, warnings } = loadTopologyText(text, "gen.yaml");
    expect(warnings).toEqual([]);
    // 2 leaves + 2 spines; per rack 2 server cables and 2 leaf-to-spine cables.
    expect(summarize(topology)).toMatchObject({
      servers: 4,
      vms: 12,
      switches: 4,
      links: 2 * (2 + 2),
      vfs: 0,
    });
    const leaf1 = topology.switches.find((s) => s.name === "leaf1")!;
    expect(leaf1.gateway.map((g) => g.vid)).toEqual([100]);
    const vniOf = new Map<string, number>();
    for (const s of topology.servers) {
      const vs = s.vswitches[0];
      expect(vs.vtep).not.toBeNull();
      for (const vm of s.vms) {
        const a = vm.nics[0].attachment;
        if (a.kind !== "portGroup") throw new Error("expected a port group");
        const pg = vs.portGroups.find((g) => g.name === a.portGroup)!;
        vniOf.set(vm.name, pg.vni as number);
      }
    }
    expect(new Set(vniOf.values())).toEqual(new Set([5001, 5002]));
    const net = Network.fromText(text, "gen.yaml");
    expect(net.warnings).toEqual([]);
    const r = net.pingAll();
    expect(r.pairs).toBe(12 * 11);
    // Reached exactly when both VMs are on the same VNI (6 VMs each: 2 x 6 x 5 pairs); the other
    // pairs fail, since an overlay segment has no router.
    const m = r.matrix!;
    for (let i = 0; i < r.senders.length; i++)
      for (let j = 0; j < r.vms.length; j++)
        expect([r.senders[i], r.vms[j], m[i][j]]).toEqual([
          r.senders[i],
          r.vms[j],
          vniOf.get(r.senders[i]) === vniOf.get(r.vms[j]),
        ]);
    expect(r.received).toBe(2 * 6 * 5);
  });

  it("refuses vxlan with SR-IOV or MLAG", () => {
    expect(() => generateDatacenter({ vxlan: true, sriovVmsPerServer: 1 })).toThrow(RangeError);
    expect(() => generateDatacenter({ vxlan: true, mlag: true })).toThrow(RangeError);
  });
});
