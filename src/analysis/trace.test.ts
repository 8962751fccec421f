/**
 * Trace analysis tests: the verdict follows the model and the observed path (not assumptions),
 * ARP floods do not count as the data path, failures name the drop that stopped the exchange.
 */
import { describe, expect, it } from "vitest";
import type { HopRecord } from "../dataplane/trace.ts";
import type { FrameLabel } from "./frame-label.ts";
import { analyseTrace, formatTrace, type VmEndpoint } from "./trace.ts";

const vm = (name: string, server: string, pg: string, vlan: number, ip: number): VmEndpoint => ({
  kind: "vm",
  vm: name,
  server,
  nic: "eth0",
  ip,
  attachment: { kind: "portGroup", vswitch: "vs0", portGroup: pg, vlan },
});
const vf = (name: string, server: string, nic: string, ip: number): VmEndpoint => ({
  kind: "vm",
  vm: name,
  server,
  nic: "eth0",
  ip,
  attachment: { kind: "vf", nic, vfIndex: 0, vlan: null },
});

function rec(
  frameId: number,
  device: string,
  kind: HopRecord["kind"],
  action: HopRecord["action"],
  reason = "ok",
): HopRecord {
  return { timeNs: frameId * 10, frameId, device, kind, in: "a", out: "b", vlan: 10, action, reason };
}

const labels = new Map<number, FrameLabel>([
  [1, { kind: "arp-request", text: "ARP request" }],
  [2, { kind: "arp-reply", text: "ARP reply" }],
  [3, { kind: "echo-request", text: "ICMP echo request" }],
  [4, { kind: "echo-reply", text: "ICMP echo reply" }],
]);

describe("analyseTrace", () => {
  it("same port group, same server: an ARP flood on the uplink does not make the echo cross", () => {
    const records = [
      rec(1, "vm1", "vm", "send"),
      rec(1, "server1/vs0", "vswitch", "flood"),
      rec(1, "server1:eth0<->tor1:eth1", "link", "transmit"),
      rec(1, "tor1", "switch", "flood"),
      rec(2, "server1/vs0", "vswitch", "forward"),
      rec(3, "server1/vs0", "vswitch", "forward"),
      rec(4, "server1/vs0", "vswitch", "forward"),
    ];
    const t = analyseTrace({
      source: vm("vm1", "server1", "web", 10, 1),
      target: vm("vm3", "server1", "web", 10, 2),
      targetText: "vm3",
      records,
      labels,
      delivered: true,
      rttNs: 1000,
    });
    expect(t.crossesPhysicalNetwork).toBe(false);
    expect(t.physicalDevices).toEqual([]);
    expect(t.verdict).toBe("same port group, same server: stays inside server1");
    expect(t.hops[2].frame).toBe("ARP request");
  });

  it("different port groups, same server: via the gateway, from the observed route hop", () => {
    const records = [
      rec(3, "server1/vs0", "vswitch", "forward"),
      rec(3, "server1:eth0<->tor1:eth1", "link", "transmit"),
      rec(3, "tor1", "switch", "forward"),
      rec(3, "tor1-gw", "gateway", "route"),
      rec(4, "tor1-gw", "gateway", "route"),
    ];
    const t = analyseTrace({
      source: vm("vm1", "server1", "web", 10, 1),
      target: vm("vm2", "server1", "db", 20, 2),
      targetText: "vm2",
      records,
      labels,
      delivered: true,
      rttNs: 1000,
      gatewaySwitchOf: (d) => d.replace(/-gw$/, ""),
    });
    expect(t.crossesPhysicalNetwork).toBe(true);
    expect(t.physicalDevices).toEqual(["tor1", "tor1-gw"]);
    expect(t.verdict).toBe(
      "different port groups, same server: crosses the physical network via the gateway on tor1",
    );
  });

  it("two port groups of one VLAN on one vswitch, untagged or not: switched locally, never 'the same'", () => {
    const records = [
      rec(3, "server1/vs0", "vswitch", "forward"),
      rec(4, "server1/vs0", "vswitch", "forward"),
    ];
    const run = (a: VmEndpoint, b: VmEndpoint) =>
      analyseTrace({ source: a, target: b, targetText: b.vm, records, labels, delivered: true, rttNs: 1 })
        .verdict;
    expect(run(vm("m1", "server1", "mgmt", 0, 1), vm("b1", "server1", "backup", 0, 2))).toBe(
      "different port groups in the same untagged segment (mgmt and backup, both untagged on vs0), same server: switched locally by server1/vs0, stays inside server1",
    );
    expect(run(vm("w1", "server1", "web", 10, 1), vm("w2", "server1", "web2", 10, 2))).toBe(
      "different port groups in the same VLAN (web and web2, both VLAN 10 on vs0), same server: switched locally by server1/vs0, stays inside server1",
    );
    // The same port group stays the document's "same port group".
    expect(run(vm("m1", "server1", "mgmt", 0, 1), vm("m2", "server1", "mgmt", 0, 2))).toBe(
      "same port group, same server: stays inside server1",
    );
  });

  it("same port group, different servers: via the switches seen", () => {
    const records = [
      rec(3, "l1", "link", "transmit"),
      rec(3, "tor1", "switch", "forward"),
      rec(3, "core1", "switch", "forward"),
    ];
    const t = analyseTrace({
      source: vm("vm1", "server1", "web", 10, 1),
      target: vm("vm3", "server2", "web", 10, 2),
      targetText: "vm3",
      records,
      labels,
      delivered: true,
      rttNs: 5,
    });
    expect(t.verdict).toBe(
      "same port group, different servers: crosses the physical network via tor1 and core1",
    );
  });

  it("VF to VF on one NIC without a vswitch hop: the SR-IOV bypass", () => {
    const t = analyseTrace({
      source: vf("vm5", "server1", "eth1", 1),
      target: vf("vm6", "server1", "eth1", 2),
      targetText: "vm6",
      records: [rec(3, "server1/eth1", "pnic", "forward"), rec(4, "server1/eth1", "pnic", "forward")],
      labels,
      delivered: true,
      rttNs: 5,
    });
    expect(t.verdict).toBe(
      "VF to VF on the same NIC: stays inside server1's eth1 (SR-IOV embedded switch, no vswitch)",
    );
  });

  it("names the drop that stopped an undelivered exchange", () => {
    const t = analyseTrace({
      source: vm("vm1", "server1", "web", 10, 1),
      target: vm("vm3", "server1", "web", 10, 2),
      targetText: "vm3",
      records: [rec(1, "vm1", "vm", "send"), rec(1, "server1/vs0", "vswitch", "drop", "forged transmit")],
      labels,
      delivered: false,
      rttNs: null,
    });
    expect(t.verdict).toBe("not delivered: dropped at server1/vs0: forged transmit");
    expect(formatTrace(t)).toContain("verdict: not delivered: dropped at server1/vs0: forged transmit");
  });

  it("says when nothing answered ARP", () => {
    const t = analyseTrace({
      source: vm("vm1", "server1", "web", 10, 1),
      target: { kind: "address", ip: 0x0a000001 },
      targetText: "10.0.0.1",
      records: [rec(1, "vm1", "vm", "send"), rec(1, "server1/vs0", "vswitch", "flood")],
      labels,
      delivered: false,
      rttNs: null,
    });
    expect(t.verdict).toBe('not delivered: no ARP reply (nobody answered "ARP request")');
  });

  it("a long trace's text leaves out bystanders and off-path floods, and says how many", () => {
    const records: HopRecord[] = [rec(1, "vm1", "vm", "send")];
    for (let i = 0; i < 300; i++) {
      records.push({ ...rec(1, `far${i}`, "vm", "drop", "dropped: ARP who-has 10.0.0.2 is not for us") });
      records.push({ ...rec(1, `server${i}/vs0`, "vswitch", "flood") });
    }
    records.push(rec(3, "server1/vs0", "vswitch", "forward"), rec(4, "server1/vs0", "vswitch", "forward"));
    const t = analyseTrace({
      source: vm("vm1", "server1", "web", 10, 1),
      target: vm("vm3", "server1", "web", 10, 2),
      targetText: "vm3",
      records,
      labels,
      delivered: true,
      rttNs: 1000,
    });
    const text = formatTrace(t);
    expect(t.hops.length).toBe(603);
    expect(text).not.toContain("far0");
    expect(text).not.toContain("server7/vs0");
    expect(text).toContain("server1/vs0 [vswitch]");
    expect(text).toContain("(600 of 603 hops not shown:");
  });

  describe("names only what the exchange's own frames crossed", () => {
    const vni = (v: VmEndpoint, n: number): VmEndpoint =>
      v.attachment.kind === "portGroup" ? { ...v, attachment: { ...v.attachment, vlan: 0, vni: n } } : v;
    const at = (r: HopRecord, timeNs: number, extra: Partial<HopRecord> = {}): HopRecord => ({
      ...r,
      timeNs,
      ...extra,
    });
    const vxlan = (step: "encapsulate" | "decapsulate" | "carried", bridgedVlan?: number) => ({
      type: "vxlan" as const,
      vni: 5001,
      outerSrc: "10.0.0.1",
      outerDst: "10.0.0.2",
      step,
      ...(bridgedVlan === undefined ? {} : { bridgedVlan }),
    });

    it("a hardware VTEP only an ARP flood reached is not in the verdict of an echo inside a server", () => {
      const records = [
        at(rec(1, "hv-a/vds", "vswitch", "send"), 1, { encap: vxlan("encapsulate") }),
        at(rec(1, "hv-a:eth0<->leaf-1:eth1", "link", "transmit"), 2, { encap: vxlan("carried") }),
        at(rec(1, "leaf-2", "switch", "receive"), 3, { vlan: 30, encap: vxlan("decapsulate", 30) }),
        at(rec(3, "hv-a/vds", "vswitch", "forward"), 4),
        at(rec(4, "hv-a/vds", "vswitch", "forward"), 5),
      ];
      const t = analyseTrace({
        source: vni(vm("t1-a", "hv-a", "t1", 0, 1), 5001),
        target: vni(vm("t1-a2", "hv-a", "t1", 0, 2), 5001),
        targetText: "t1-a2",
        records,
        labels,
        delivered: true,
        rttNs: 1000,
      });
      expect(t.verdict).toBe("same VXLAN segment (VNI 5001), same server: stays inside hv-a");
    });

    it("names the VTEPs at each end: a switch's hardware VTEP and a host's", () => {
      const records = [
        at(rec(3, "leaf-2", "switch", "send"), 1, { vlan: 30, encap: vxlan("encapsulate", 30) }),
        at(rec(3, "leaf-2:eth49<->spine-1:eth2", "link", "transmit"), 2, {
          in: "leaf-2:eth49",
          out: "spine-1:eth2",
          encap: vxlan("carried"),
        }),
        at(rec(3, "spine-1", "gateway", "route"), 3, { in: "eth2", out: "eth1", encap: vxlan("carried") }),
        at(rec(3, "hv-a/vds", "vswitch", "deliver"), 4, { encap: vxlan("decapsulate") }),
        at(rec(4, "hv-a/vds", "vswitch", "send"), 5, { encap: vxlan("encapsulate") }),
        at(rec(4, "leaf-2", "switch", "receive"), 6, { vlan: 30, encap: vxlan("decapsulate", 30) }),
      ];
      const t = analyseTrace({
        source: vm("bm1", "bm-host", "bm", 30, 1),
        target: vni(vm("t1-a", "hv-a", "t1", 0, 2), 5001),
        targetText: "t1-a",
        records,
        labels,
        delivered: true,
        rttNs: 1000,
      });
      expect(t.verdict).toBe(
        "same VXLAN segment (VNI 5001), different servers: crosses the physical network inside VXLAN (VNI 5001) between leaf-2's hardware VTEP and hv-a's host VTEP, carried by leaf-2 and spine-1 (leaf-2 bridges vlan 30 into VNI 5001 as a hardware VTEP)",
      );
    });

    it("a router that routes only a GRE tunnel's outer packets carries the tunnel, it is no gateway", () => {
      const gre = (step: "encapsulate" | "decapsulate" | "carried") => ({
        type: "gre" as const,
        outerSrc: "198.51.100.2",
        outerDst: "203.0.113.2",
        step,
      });
      const link = (a: string, b: string, t: number, encap?: HopRecord["encap"]) =>
        at(rec(3, `${a}<->${b}`, "link", "transmit"), t, { in: a, out: b, ...(encap ? { encap } : {}) });
      const records = [
        link("hq-host:eth0", "hq-sw:eth1", 1),
        at(rec(3, "hq-sw", "switch", "forward"), 2, { in: "eth1", out: "eth24" }),
        link("hq-sw:eth24", "hq-rtr:eth1", 2),
        at(rec(3, "hq-rtr", "gateway", "route"), 3, { in: "eth1", out: "gre0" }),
        at(rec(3, "hq-rtr", "gateway", "send"), 3, { in: "gre0", out: null, encap: gre("encapsulate") }),
        link("hq-rtr:eth0", "mid-sw:eth1", 3, gre("carried")),
        // A switch between the routers forwards the outer frames: known from its cables.
        at(rec(3, "mid-sw", "switch", "forward"), 4, { in: "eth1", out: "eth2" }),
        link("mid-sw:eth2", "isp:eth0", 4, gre("carried")),
        at(rec(3, "isp", "gateway", "route"), 5, { in: "eth0", out: "eth1", encap: gre("carried") }),
        link("isp:eth1", "br-rtr:eth0", 5, gre("carried")),
        at(rec(3, "br-rtr", "gateway", "receive"), 6, { in: "gre0", out: null, encap: gre("decapsulate") }),
        at(rec(3, "br-rtr", "gateway", "route"), 6, { in: "gre0", out: "eth1" }),
        link("br-rtr:eth1", "br-sw:eth24", 6),
        at(rec(3, "br-sw", "switch", "forward"), 7, { in: "eth24", out: "eth1" }),
      ];
      const t = analyseTrace({
        source: vm("hq1", "hq-host", "lan", 10, 1),
        target: vm("br1", "br-host", "lan", 20, 2),
        targetText: "br1",
        records,
        labels,
        delivered: true,
        rttNs: 1000,
      });
      expect(t.physicalDevices).toEqual(["hq-sw", "hq-rtr", "mid-sw", "isp", "br-rtr", "br-sw"]);
      expect(t.verdict).toBe(
        "different port groups, different servers: crosses the physical network via hq-sw and br-sw and the gateway on hq-rtr and br-rtr; through a GRE tunnel from hq-rtr to br-rtr, carried by mid-sw and isp, which see only its outer packets",
      );
    });
  });
});
