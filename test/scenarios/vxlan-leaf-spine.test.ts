/**
 * Scenario at the shape: a generated leaf-spine fabric of 4 leaves and 2 spines with
 * hypervisor VTEPs on 8 servers (`generateDatacenter({ vxlan: true })`), two tenant VNIs. Every
 * pair of VMs on one VNI reaches the other across racks and no pair across VNIs does; the
 * tunnels spread over both spines (outer UDP source ports from the inner flows, ECMP at the
 * leaves); reach's classes agree with pingall pair for pair.
 */

import { describe, expect, it } from "vitest";
import { generateDatacenter } from "../../src/model/generate.ts";
import { Network } from "../../src/network.ts";

const TEXT = generateDatacenter({ racks: 4, serversPerRack: 2, vmsPerServer: 2, portGroups: 2, vxlan: true });

describe("VXLAN over a 4-leaf, 2-spine fabric with 8 hypervisor VTEPs", () => {
  it("same VNI reaches across racks, two VNIs never meet, and both spines carry tunnels", () => {
    const net = Network.fromText(TEXT, "fabric.yaml");
    expect(net.warnings).toEqual([]);
    const r = net.pingAll();
    expect(r.pairs).toBe(16 * 15);
    // The generator spreads a server's VMs over the port groups (VNIs) in turn: VMs of one VNI
    // are half of the 16, so 2 x 8 x 7 pairs reach.
    expect(r.received).toBe(2 * 8 * 7);
    const spineTx = (spine: string) =>
      net.show("ports", spine).reduce((n, row) => n + Number(row.txFrames), 0);
    expect(spineTx("spine1")).toBeGreaterThan(0);
    expect(spineTx("spine2")).toBeGreaterThan(0);
  });

  it("reach's classes agree with pingall", () => {
    const ping = Network.fromText(TEXT, "fabric.yaml").pingAll();
    const reach = Network.fromText(TEXT, "fabric.yaml").reach();
    expect(reach.deliveredPairs).toBe(ping.received);
  });
});
