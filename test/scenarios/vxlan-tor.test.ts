/**
 * Scenario: a ToR hardware VTEP and hypervisor VTEPs in one VNI (`examples/vxlan-tor.yaml`):
 * leaf2 bridges its VLAN 30 into VNI 5001 from its loopback. A VM of a host without a VTEP
 * (bm1, VLAN 30) and the VMs behind hypervisor VTEPs (a1, a2, a3) are one segment: they reach
 * each other, floods go head-end from leaf2 to every hypervisor VTEP and back, remote MACs are
 * learned on leaf2's tunnel port, and the verdict names the hardware VTEP.
 */

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { Network } from "../../src/network.ts";

const TOR = fileURLToPath(new URL("../../examples/vxlan-tor.yaml", import.meta.url));
const load = () => Network.fromText(readFileSync(TOR, "utf8"), "vxlan-tor.yaml");
const ONE_HOST = fileURLToPath(new URL("./topologies/hw-vtep-one-host.yaml", import.meta.url));

describe("a hardware VTEP and hypervisor VTEPs in one VNI", () => {
  it("a VLAN host behind the ToR reaches the VMs of the VNI, both ways", () => {
    const net = load();
    for (const vm of ["a1", "a2", "a3"]) {
      expect(net.ping("bm1", vm, { count: 2 }).received).toBe(2);
      expect(net.ping(vm, "bm1", { count: 1 }).received).toBe(1);
    }
  });

  it("floods head-end from the ToR to every hypervisor VTEP of the VNI; the verdict names the ToR", () => {
    const t = load().trace("bm1", "a1");
    expect(t.delivered).toBe(true);
    const fromTor = t.hops.filter((h) => h.device === "leaf2" && h.reason.includes("head-end replication"));
    expect(fromTor.map((h) => /to VTEP (\S+)/.exec(h.reason)?.[1]).sort()).toEqual([
      "10.100.0.11",
      "10.100.0.13",
      "10.100.1.12",
    ]);
    expect(t.verdict).toContain("same VXLAN segment (VNI 5001)");
    expect(t.verdict).toContain("leaf2 bridges vlan 30 into VNI 5001 as a hardware VTEP");
    expect(t.verdict).toContain("between leaf2's hardware VTEP and esx1's host VTEP");
  });

  it("two VMs of one host: the hardware VTEP only their ARP flood reached is not in the verdict", () => {
    const net = Network.fromText(readFileSync(ONE_HOST, "utf8"), "hw-vtep-one-host.yaml");
    expect(net.trace("t1-a", "t1-a2").verdict).toBe(
      "same VXLAN segment (VNI 5001), same server: stays inside hv-a",
    );
    expect(net.trace("bm1", "t1-a").verdict).toBe(
      "same VXLAN segment (VNI 5001), different servers: crosses the physical network inside VXLAN (VNI 5001) between leaf-2's hardware VTEP and hv-a's host VTEP, carried by leaf-2, spine-1 and leaf-1 (leaf-2 bridges vlan 30 into VNI 5001 as a hardware VTEP)",
    );
  });

  it("the ToR learns the remote VMs on its tunnel port", () => {
    const net = load();
    net.ping("bm1", "a2", { count: 1 });
    const fdb = net.show("fdb", "leaf2").filter((r) => r.vlan === 30);
    expect(fdb.some((r) => r.port === "vxlan")).toBe(true);
    expect(fdb.some((r) => r.port === "eth3")).toBe(true);
  });

  it("VNI isolation holds: the VLAN host does not reach VNI 5010's VMs of the same subnet", () => {
    const net = load();
    expect(net.ping("bm1", "b2", { count: 1 }).received).toBe(0);
  });
});
