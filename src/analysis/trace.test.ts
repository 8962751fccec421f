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
});
