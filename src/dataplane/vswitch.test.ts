/**
 * The virtual switch, from literal frames through a recording env: learning, flooding and
 * forwarding per VLAN, VLAN isolation, uplink trunks, teaming by originating port, the
 * reverse-path check, each security policy, tagged frames from VMs, port state and the trace
 * text.
 */

import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { DeviceConfigError } from "./config-error.ts";
import { bindRecording, ethFrame, mac, outerVid, type SentFrame, toHex } from "./testing.ts";
import { Vswitch, VswitchDrop, type VswitchOptions } from "./vswitch.ts";

const M1 = mac("02:00:00:00:10:11");
const M2 = mac("02:00:00:00:10:12");
const M3 = mac("02:00:00:00:20:13");
const R = mac("02:00:00:00:99:01"); // a host out on the physical network
const BCAST = mac("ff:ff:ff:ff:ff:ff");
const S = 1e9;

const UP = 0;
const VM1 = 1;
const VM2 = 2;
const VM3 = 3;

function build(over: Partial<VswitchOptions> = {}, webSecurity = {}) {
  const vs = new Vswitch({
    name: "vs0",
    uplinks: ["uplink:eth0"],
    portGroups: [
      { name: "web", vlan: 10, security: webSecurity },
      { name: "db", vlan: 20 },
    ],
    vmPorts: [
      { name: "vm1", portGroup: "web", mac: M1 },
      { name: "vm2", portGroup: "web", mac: M2 },
      { name: "vm3", portGroup: "db", mac: M3 },
    ],
    ...over,
  });
  const env = bindRecording(vs);
  return { vs, env };
}

const where = (sent: SentFrame[]) =>
  sent.map((s) => `${s.portName}${outerVid(s.frame) === null ? "" : `/${outerVid(s.frame)}`}`);

describe("forwarding within a port group", () => {
  it("delivers known unicast to one VM port, untouched", () => {
    const { vs, env } = build();
    const f = ethFrame({ dst: M2, src: M1 });
    const bytes = toHex(f);
    vs.receive(VM1, f, 0);
    const sent = env.take();
    expect(where(sent)).toEqual(["vm2"]);
    expect(sent[0].frame).toBe(f); // no copy for a single egress
    expect(toHex(sent[0].frame)).toBe(bytes);
    expect(env.traceLines()).toEqual([
      "vs0 vswitch forward vm1>vm2 vlan 10: forwarded to vm2: 02:00:00:00:10:12 is its vNIC",
    ]);
    expect(vs.portCounters[VM1].rxFrames).toBe(1);
    expect(vs.portCounters[VM2].txFrames).toBe(1);
  });

  it("floods a broadcast to the VLAN's other VMs and the uplink (tagged), never back or across VLANs", () => {
    const { vs, env } = build();
    const f = ethFrame({ dst: BCAST, src: M1, etherType: 0x0806, payload: 28 });
    const untagged = toHex(f);
    vs.receive(VM1, f, 0);
    const sent = env.take();
    expect(where(sent)).toEqual(["vm2", "uplink:eth0/10"]);
    expect(toHex(sent[0].frame)).toBe(untagged);
    expect(toHex(sent[1].frame)).toBe(`${untagged.slice(0, 24)}8100000a${untagged.slice(24)}`);
    expect(env.traceLines()).toEqual([
      "vs0 vswitch flood vm1>vm2,uplink:eth0 vlan 10: flooded in vlan 10: broadcast",
    ]);
  });

  it("sends unknown unicast to the uplink only (other VMs do not take others' frames)", () => {
    const { vs, env } = build();
    vs.receive(VM1, ethFrame({ dst: R, src: M1 }), 0);
    expect(where(env.take())).toEqual(["uplink:eth0/10"]);
    expect(env.traceLines()).toEqual([
      "vs0 vswitch flood vm1>uplink:eth0 vlan 10: flooded in vlan 10: no entry for 02:00:00:00:99:01",
    ]);
  });
});

describe("uplinks are 802.1Q trunks", () => {
  it("learns a remote MAC on the uplinks, strips the tag toward the VM, tags toward the uplink", () => {
    const { vs, env } = build();
    const f = ethFrame({ dst: M1, src: R, tags: [10] });
    vs.receive(UP, f, 0);
    const sent = env.take();
    expect(where(sent)).toEqual(["vm1"]);
    expect(toHex(sent[0].frame)).toBe(toHex(ethFrame({ dst: M1, src: R })));
    vs.receive(VM1, ethFrame({ dst: R, src: M1 }), 1000);
    expect(where(env.take())).toEqual(["uplink:eth0/10"]);
    expect(env.traceLines()).toEqual([
      "vs0 vswitch receive uplink:eth0>- vlan 10: learned 02:00:00:00:99:01 on the uplinks",
      "vs0 vswitch forward uplink:eth0>vm1 vlan 10: forwarded to vm1: 02:00:00:00:10:11 is its vNIC",
      "vs0 vswitch forward vm1>uplink:eth0 vlan 10: forwarded to uplink:eth0: 02:00:00:00:99:01 learned on the uplinks (vm1 pinned to uplink:eth0, originating-port)",
    ]);
    expect(vs.macTable.entries(1000)).toContainEqual({
      vid: 10,
      mac: R,
      port: vs.teamPort,
      ageNs: 1000,
      isStatic: false,
    });
  });

  it("drops untagged, S-tagged, priority-tagged and unknown-VLAN frames on an uplink", () => {
    const { vs, env } = build();
    vs.receive(UP, ethFrame({ dst: M1, src: R }), 0);
    vs.receive(UP, ethFrame({ dst: M1, src: R, tags: [{ vid: 10, tpid: 0x88a8 }] }), 0);
    vs.receive(UP, ethFrame({ dst: M1, src: R, tags: [0] }), 0);
    vs.receive(UP, ethFrame({ dst: M1, src: R, tags: [30] }), 0);
    vs.receive(UP, ethFrame({ dst: M1, src: R, tags: [10, 10] }), 0);
    expect(env.take()).toEqual([]);
    expect(vs.drops.get(VswitchDrop.untaggedOnUplink)).toBe(3);
    expect(vs.drops.get(VswitchDrop.unknownVlanOnUplink)).toBe(1);
    expect(vs.drops.get(VswitchDrop.stackedTagOnUplink)).toBe(1);
    expect(vs.portCounters[UP].drops).toBe(5);
    expect(env.traceLines()).toEqual([
      "vs0 vswitch drop uplink:eth0>-: dropped: an untagged frame on uplink uplink:eth0 (uplinks are 802.1Q trunks)",
      "vs0 vswitch drop uplink:eth0>-: dropped: an 802.1ad S-tagged frame on uplink uplink:eth0 (uplinks are 802.1Q trunks)",
      "vs0 vswitch drop uplink:eth0>-: dropped: priority-tagged frame on uplink uplink:eth0 (no port group is untagged)",
      "vs0 vswitch drop uplink:eth0>- vlan 30: dropped: VLAN 30 on uplink uplink:eth0 belongs to no port group",
      "vs0 vswitch drop uplink:eth0>- vlan 10: dropped: stacked VLAN tags on uplink (a port group carries one VLAN)",
    ]);
  });

  it("drops a truncated tag and an S-tag even when a port group is untagged", () => {
    const { vs, env } = build({
      portGroups: [
        { name: "web", vlan: 10 },
        { name: "mgmt", vlan: 0 },
      ],
      vmPorts: [{ name: "vm1", portGroup: "mgmt", mac: M1 }],
    });
    vs.receive(UP, ethFrame({ dst: M1, src: R, tags: [{ vid: 10, tpid: 0x88a8 }] }), 0);
    vs.receive(UP, ethFrame({ dst: M1, src: R, tags: [0, 10] }), 0);
    expect(env.take()).toEqual([]);
    expect(vs.drops.get(VswitchDrop.untaggedOnUplink)).toBe(1);
    expect(vs.drops.get(VswitchDrop.stackedTagOnUplink)).toBe(1);
  });

  it("never sends a frame from the uplinks back to the uplinks", () => {
    const { vs, env } = build();
    vs.receive(UP, ethFrame({ dst: BCAST, src: R, tags: [10] }), 0);
    expect(where(env.take())).toEqual(["vm1", "vm2"]);
    const R2 = mac("02:00:00:00:99:02");
    vs.receive(UP, ethFrame({ dst: R2, src: R, tags: [10] }), 0); // unknown: no VM has it
    vs.receive(UP, ethFrame({ dst: R, src: R2, tags: [10] }), 0); // R is behind the uplinks
    expect(env.take()).toEqual([]);
    expect(vs.drops.get(VswitchDrop.noReceiver)).toBe(1);
    expect(vs.drops.get(VswitchDrop.uplinkToUplink)).toBe(1);
  });
});

describe("VLAN isolation", () => {
  it("a frame for a VM in another port group goes out to the physical network, never across", () => {
    const { vs, env } = build();
    vs.receive(VM1, ethFrame({ dst: M3, src: M1 }), 0);
    expect(where(env.take())).toEqual(["uplink:eth0/10"]);
    // The router would send it back tagged 20; only then does vm3 get it.
    vs.receive(UP, ethFrame({ dst: M3, src: R, tags: [20] }), 1);
    expect(where(env.take())).toEqual(["vm3"]);
    // A VLAN-20 frame for vm1's MAC never reaches vm1.
    vs.receive(UP, ethFrame({ dst: M1, src: R, tags: [20] }), 2);
    expect(env.take()).toEqual([]);
    expect(vs.drops.get(VswitchDrop.noReceiver)).toBe(1);
  });

  it("a broadcast stays in its VLAN", () => {
    const { vs, env } = build();
    vs.receive(VM3, ethFrame({ dst: BCAST, src: M3 }), 0);
    expect(where(env.take())).toEqual(["uplink:eth0/20"]);
  });
});

describe("frames a VM may not send", () => {
  it("drops tagged and double-tagged frames from a VM, with reasons", () => {
    const { vs, env } = build();
    vs.receive(VM1, ethFrame({ dst: M2, src: M1, tags: [10] }), 0);
    vs.receive(VM1, ethFrame({ dst: M2, src: M1, tags: [20] }), 0);
    vs.receive(VM1, ethFrame({ dst: M2, src: M1, tags: [{ vid: 100, tpid: 0x88a8 }, 10] }), 0);
    vs.receive(VM1, ethFrame({ dst: M2, src: M1, tags: [100, 10] }), 0);
    vs.receive(VM1, ethFrame({ dst: M2, src: M1, tags: [{ vid: 100, tpid: 0x88a8 }] }), 0);
    expect(env.take()).toEqual([]);
    expect(vs.drops.get(VswitchDrop.taggedOnAccess)).toBe(3);
    expect(vs.drops.get(VswitchDrop.doubleTaggedFromVm)).toBe(2);
    expect(env.traceLines()[0]).toBe(
      "vs0 vswitch drop vm1>- vlan 10: dropped: tagged frame on access port (VLAN 10; port group web is VLAN 10)",
    );
    expect(env.traceLines()[2]).toBe("vs0 vswitch drop vm1>- vlan 10: dropped: double-tagged frame from VM");
  });

  it("drops runts and multicast sources", () => {
    const { vs, env } = build();
    const runt = ethFrame({ dst: M2, src: M1, payload: 0 });
    runt.end -= 3;
    vs.receive(VM1, runt, 0);
    vs.receive(VM1, ethFrame({ dst: M2, src: "03:00:00:00:00:01" }), 0);
    expect(env.take()).toEqual([]);
    expect(vs.drops.entries()).toEqual([
      [VswitchDrop.multicastSource, 1],
      [VswitchDrop.runt, 1],
    ]);
  });
});

describe("security policy: forged transmits", () => {
  const FORGED = mac("02:00:00:00:66:66");

  it("reject (default): a VM forging its source MAC is blocked and counted", () => {
    const { vs, env } = build();
    vs.receive(VM1, ethFrame({ dst: M2, src: FORGED }), 0);
    vs.receive(VM1, ethFrame({ dst: BCAST, src: M2 }), 0); // impersonating vm2
    expect(env.take()).toEqual([]);
    expect(vs.drops.get(VswitchDrop.forgedTransmit)).toBe(2);
    expect(vs.portCounters[VM1].drops).toBe(2);
    expect(vs.macTable.lookup(10, FORGED, 0)).toBe(-1);
    expect(env.traceLines()).toEqual([
      "vs0 vswitch drop vm1>- vlan 10: dropped: forged transmit (source 02:00:00:00:66:66 is not vm1's 02:00:00:00:10:11)",
      "vs0 vswitch drop vm1>- vlan 10: dropped: forged transmit (source 02:00:00:00:10:12 is not vm1's 02:00:00:00:10:11)",
    ]);
  });

  it("accept: the frame passes and its source is learned on the VM's port", () => {
    const { vs, env } = build({}, { allowForgedTransmits: true });
    vs.receive(VM1, ethFrame({ dst: M2, src: FORGED }), 0);
    expect(where(env.take())).toEqual(["vm2"]);
    expect(vs.macTable.lookup(10, FORGED, 0)).toBe(VM1);
    // Another VM's static address is not stolen.
    vs.receive(VM1, ethFrame({ dst: BCAST, src: M2 }), 1);
    expect(vs.macTable.lookup(10, M2, 1)).toBe(VM2);
    expect(env.traceLines()[2]).toBe(
      "vs0 vswitch receive vm1>- vlan 10: not learned: 02:00:00:00:10:12 is a vNIC address of this switch",
    );
    // With promiscuous mode rejected, vm1 does not receive frames for the extra MAC.
    vs.receive(VM2, ethFrame({ dst: FORGED, src: M2 }), 2);
    expect(env.take().filter((s) => s.portName === "vm1")).toEqual([]);
    expect(vs.drops.get(VswitchDrop.notForThisVnic)).toBe(1);
    // And a frame for an address on the ingress port itself is not sent back.
    vs.receive(VM1, ethFrame({ dst: FORGED, src: M1 }), 3);
    expect(env.take()).toEqual([]);
    expect(vs.drops.get(VswitchDrop.sameSegment)).toBe(1);
  });
});

describe("security policy: promiscuous mode", () => {
  it("reject (default): a VM port only gets its own unicast, broadcast and multicast", () => {
    const { vs, env } = build();
    vs.receive(UP, ethFrame({ dst: M1, src: R, tags: [10] }), 0);
    vs.receive(UP, ethFrame({ dst: "01:00:5e:00:00:01", src: R, tags: [10] }), 0);
    expect(where(env.take())).toEqual(["vm1", "vm1", "vm2"]);
  });

  it("accept: the port gets every frame of its VLAN, including unicast between others", () => {
    const vs = new Vswitch({
      name: "vs0",
      uplinks: ["uplink:eth0"],
      portGroups: [
        { name: "web", vlan: 10 },
        { name: "ids", vlan: 10, security: { allowPromiscuous: true } },
        { name: "db", vlan: 20 },
      ],
      vmPorts: [
        { name: "vm1", portGroup: "web", mac: M1 },
        { name: "vm2", portGroup: "web", mac: M2 },
        { name: "sniffer", portGroup: "ids", mac: mac("02:00:00:00:10:99") },
        { name: "vm3", portGroup: "db", mac: M3 },
      ],
    });
    const env = bindRecording(vs);
    vs.receive(VM1, ethFrame({ dst: M2, src: M1 }), 0);
    expect(where(env.take())).toEqual(["vm2", "sniffer"]);
    vs.receive(VM1, ethFrame({ dst: R, src: M1 }), 0); // unknown unicast
    expect(where(env.take())).toEqual(["sniffer", "uplink:eth0/10"]);
    vs.receive(UP, ethFrame({ dst: M1, src: R, tags: [10] }), 0);
    expect(where(env.take())).toEqual(["vm1", "sniffer"]);
    vs.receive(VM1, ethFrame({ dst: R, src: M1 }), 0); // now known behind the uplinks
    expect(where(env.take())).toEqual(["sniffer", "uplink:eth0/10"]);
    // Never another VLAN's frames.
    vs.receive(4, ethFrame({ dst: BCAST, src: M3 }), 0);
    expect(where(env.take())).toEqual(["uplink:eth0/20"]);
  });
});

describe("security policy: MAC address changes", () => {
  const NEW = mac("02:00:00:00:77:77");

  it("reject (default): while the guest's MAC differs, the port receives nothing", () => {
    const { vs, env } = build();
    vs.setEffectiveMac(VM2, NEW);
    vs.receive(VM1, ethFrame({ dst: NEW, src: M1 }), 0);
    vs.receive(VM1, ethFrame({ dst: M2, src: M1 }), 0);
    vs.receive(VM1, ethFrame({ dst: BCAST, src: M1 }), 0);
    expect(where(env.take())).toEqual(["uplink:eth0/10", "uplink:eth0/10"]);
    expect(vs.drops.get(VswitchDrop.macChangeRejected)).toBe(1);
    expect(env.traceLines()[1]).toBe(
      "vs0 vswitch drop vm1>- vlan 10: dropped: MAC address change rejected (vm2's guest uses 02:00:00:00:77:77, vNIC is 02:00:00:00:10:12)",
    );
    // Sending with the new address is a forged transmit (the switch still honours the vNIC's MAC).
    vs.receive(VM2, ethFrame({ dst: M1, src: NEW }), 0);
    expect(vs.drops.get(VswitchDrop.forgedTransmit)).toBe(1);
    // Back to the configured MAC: the port receives again.
    vs.setEffectiveMac(VM2, M2);
    vs.receive(VM1, ethFrame({ dst: M2, src: M1 }), 0);
    expect(where(env.take())).toEqual(["vm2"]);
  });

  it("accept: the switch honours the new MAC for delivery and as a source", () => {
    const { vs, env } = build({}, { allowMacChanges: true });
    vs.setEffectiveMac(VM2, NEW);
    vs.receive(VM1, ethFrame({ dst: NEW, src: M1 }), 0);
    expect(where(env.take())).toEqual(["vm2"]);
    vs.receive(VM2, ethFrame({ dst: M1, src: NEW }), 0);
    expect(where(env.take())).toEqual(["vm1"]);
    expect(vs.drops.total).toBe(0);
    // The old address is no longer the port's.
    vs.receive(VM1, ethFrame({ dst: M2, src: M1 }), 0);
    expect(where(env.take())).toEqual(["uplink:eth0/10"]);
  });
});

describe("teaming: route based on originating virtual port", () => {
  function twoUplinks() {
    const vs = new Vswitch({
      name: "vs0",
      uplinks: ["uplink:eth0", "uplink:eth1"],
      portGroups: [{ name: "web", vlan: 10 }],
      vmPorts: [
        { name: "vm1", portGroup: "web", mac: M1 },
        { name: "vm2", portGroup: "web", mac: M2 },
      ],
    });
    return { vs, env: bindRecording(vs) };
  }
  const U0 = 0;
  const U1 = 1;
  const V1 = 2;
  const V2 = 3;

  it("pins each VM port to one uplink; its broadcasts leave by that one only", () => {
    const { vs, env } = twoUplinks();
    expect(vs.pinnedUplink(V1)).toBe(U0);
    expect(vs.pinnedUplink(V2)).toBe(U1);
    vs.receive(V1, ethFrame({ dst: BCAST, src: M1 }), 0);
    expect(where(env.take())).toEqual(["vm2", "uplink:eth0/10"]);
    vs.receive(V2, ethFrame({ dst: BCAST, src: M2 }), 0);
    expect(where(env.take())).toEqual(["vm1", "uplink:eth1/10"]);
  });

  it("a VM takes flooded frames only from its own uplink, unicast from any", () => {
    const { vs, env } = twoUplinks();
    // The physical switch floods one broadcast to both uplinks: each VM sees it once.
    vs.receive(U0, ethFrame({ dst: BCAST, src: R, tags: [10] }), 0);
    vs.receive(U1, ethFrame({ dst: BCAST, src: R, tags: [10] }), 0);
    expect(where(env.take())).toEqual(["vm1", "vm2"]);
    vs.receive(U1, ethFrame({ dst: M1, src: R, tags: [10] }), 0);
    expect(where(env.take())).toEqual(["vm1"]);
  });

  it("fails over when an uplink goes down and forgets the uplinks' MACs when all are down", () => {
    const { vs, env } = twoUplinks();
    vs.receive(U0, ethFrame({ dst: M1, src: R, tags: [10] }), 0);
    env.take();
    vs.setPortUp(U0, false, 1);
    expect(vs.pinnedUplink(V1)).toBe(U1);
    // Notify switches: a RARP from vm1's MAC on its new uplink (vm2 stayed where it was).
    const notes = env.take();
    expect(where(notes)).toEqual(["uplink:eth1/10"]);
    expect(toHex(notes[0].frame)).toBe(
      "ffffffffffff" +
        "020000001011" +
        "8100000a" +
        "8035" +
        "0001080006040003" +
        "020000001011" +
        "00000000" +
        "020000001011" +
        "00000000" +
        "00".repeat(18),
    );
    expect(env.traceLines().slice(-1)).toEqual([
      "vs0 vswitch send vm1>uplink:eth1 vlan 10: notify switches: RARP for 02:00:00:00:10:11 (vm1) on uplink:eth1",
    ]);
    vs.receive(V1, ethFrame({ dst: R, src: M1 }), 2);
    expect(where(env.take())).toEqual(["uplink:eth1/10"]);
    vs.setPortUp(U1, false, 3);
    expect(vs.macTable.lookup(10, R, 3)).toBe(-1);
    vs.receive(V1, ethFrame({ dst: R, src: M1 }), 4);
    expect(where(env.take())).toEqual([]);
    expect(vs.drops.get(VswitchDrop.noReceiver)).toBe(1);
    vs.setPortUp(U0, true, 5);
    expect(vs.pinnedUplink(V1)).toBe(U0);
    // eth0 is the only active uplink now: both VMs are pinned to it and announced there.
    expect(where(env.take())).toEqual(["uplink:eth0/10", "uplink:eth0/10"]);
  });

  it("can be told not to notify switches", () => {
    const vs = new Vswitch({
      name: "vs0",
      uplinks: ["uplink:eth0", "uplink:eth1"],
      portGroups: [{ name: "web", vlan: 10 }],
      vmPorts: [{ name: "vm1", portGroup: "web", mac: M1 }],
      notifySwitches: false,
    });
    const env = bindRecording(vs);
    vs.setPortUp(0, false, 0);
    expect(env.take()).toEqual([]);
    expect(vs.pinnedUplink(2)).toBe(1);
  });

  it("notifies when a VM port comes up", () => {
    const { vs, env } = twoUplinks();
    vs.setPortUp(V2, false, 0);
    vs.setPortUp(V2, true, 1);
    expect(where(env.take())).toEqual(["uplink:eth1/10"]);
  });
});

describe("teaming: explicit failover order (a second policy through the same interface)", () => {
  it("all VMs use the first active uplink; the standby takes over", () => {
    const vs = new Vswitch({
      name: "vs0",
      uplinks: ["uplink:eth0", "uplink:eth1"],
      portGroups: [{ name: "web", vlan: 10 }],
      vmPorts: [
        { name: "vm1", portGroup: "web", mac: M1 },
        { name: "vm2", portGroup: "web", mac: M2 },
      ],
      teaming: { policy: "explicit-failover" },
    });
    const env = bindRecording(vs);
    vs.receive(3, ethFrame({ dst: BCAST, src: M2 }), 0);
    expect(where(env.take())).toEqual(["vm1", "uplink:eth0/10"]);
    // Floods from the standby uplink are not taken (the physical switch sent one down each).
    vs.receive(1, ethFrame({ dst: BCAST, src: R, tags: [10] }), 0);
    expect(env.take()).toEqual([]);
    vs.setPortUp(0, false, 1);
    expect(where(env.take())).toEqual(["uplink:eth1/10", "uplink:eth1/10"]); // notify switches
    vs.receive(3, ethFrame({ dst: BCAST, src: M2 }), 2);
    expect(where(env.take())).toEqual(["vm1", "uplink:eth1/10"]);
  });
});

describe("reverse-path check", () => {
  it("drops our own broadcast reflected back on an uplink and keeps the VM's entry", () => {
    const { vs, env } = build();
    vs.receive(UP, ethFrame({ dst: BCAST, src: M1, tags: [10] }), 0);
    vs.receive(UP, ethFrame({ dst: "01:00:5e:00:00:fb", src: M2, tags: [10] }), 0);
    expect(env.take()).toEqual([]);
    expect(vs.drops.get(VswitchDrop.reflectedBroadcast)).toBe(2);
    expect(vs.macTable.lookup(10, M1, 0)).toBe(VM1);
    expect(env.traceLines()[0]).toBe(
      "vs0 vswitch drop uplink:eth0>- vlan 10: dropped: reverse-path check (02:00:00:00:10:11 is vm1's; our own broadcast came back on uplink:eth0)",
    );
  });

  it("also for an address learned on a VM port", () => {
    const { vs, env } = build({}, { allowForgedTransmits: true });
    const EXTRA = mac("02:00:00:00:55:55");
    vs.receive(VM1, ethFrame({ dst: BCAST, src: EXTRA }), 0);
    env.take();
    vs.receive(UP, ethFrame({ dst: BCAST, src: EXTRA, tags: [10] }), 1);
    expect(env.take()).toEqual([]);
    expect(vs.drops.get(VswitchDrop.reflectedBroadcast)).toBe(1);
    expect(vs.macTable.lookup(10, EXTRA, 1)).toBe(VM1);
  });
});

describe("aging and port state", () => {
  it("a remote MAC idle for the aging time is flooded again", () => {
    const { vs, env } = build({ macAgingNs: 300 * S });
    vs.receive(UP, ethFrame({ dst: M1, src: R, tags: [10] }), 0);
    vs.receive(VM1, ethFrame({ dst: R, src: M1 }), 299 * S);
    env.advanceTo(300 * S);
    vs.receive(VM1, ethFrame({ dst: R, src: M1 }), 300 * S);
    expect(env.traceLines().slice(-1)).toEqual([
      "vs0 vswitch flood vm1>uplink:eth0 vlan 10: flooded in vlan 10: no entry for 02:00:00:00:99:01",
    ]);
  });

  it("a down VM port receives nothing and its learned addresses are flushed", () => {
    const { vs, env } = build({}, { allowForgedTransmits: true });
    const EXTRA = mac("02:00:00:00:55:55");
    vs.receive(VM2, ethFrame({ dst: BCAST, src: EXTRA }), 0);
    vs.setPortUp(VM2, false, 1);
    expect(vs.macTable.lookup(10, EXTRA, 1)).toBe(-1);
    env.take();
    vs.receive(VM1, ethFrame({ dst: M2, src: M1 }), 2);
    vs.receive(VM1, ethFrame({ dst: BCAST, src: M1 }), 2);
    expect(where(env.take())).toEqual(["uplink:eth0/10"]);
    expect(vs.drops.get(VswitchDrop.portDown)).toBe(1);
  });
});

describe("tracing", () => {
  it("builds no records when nobody traces, and forwards the same", () => {
    const vs = new Vswitch({
      name: "vs0",
      uplinks: ["uplink:eth0"],
      portGroups: [{ name: "web", vlan: 10 }],
      vmPorts: [{ name: "vm1", portGroup: "web", mac: M1 }],
    });
    const env = bindRecording(vs, { isTracing: false });
    vs.receive(1, ethFrame({ dst: R, src: M1 }), 0);
    vs.receive(1, ethFrame({ dst: R, src: M2 }), 0);
    expect(where(env.take())).toEqual(["uplink:eth0/10"]);
    expect(env.records).toEqual([]);
    expect(vs.drops.get(VswitchDrop.forgedTransmit)).toBe(1);
  });
});

describe("configuration", () => {
  const base: VswitchOptions = {
    name: "vs0",
    uplinks: ["uplink:eth0"],
    portGroups: [{ name: "web", vlan: 10 }],
    vmPorts: [{ name: "vm1", portGroup: "web", mac: M1 }],
  };

  it("refuses mistakes with typed errors", () => {
    const codeOf = (o: VswitchOptions) => {
      try {
        new Vswitch(o);
        return "ok";
      } catch (e) {
        expect(e).toBeInstanceOf(DeviceConfigError);
        return (e as DeviceConfigError).code;
      }
    };
    expect(codeOf(base)).toBe("ok");
    expect(codeOf({ ...base, vmPorts: [{ name: "vm1", portGroup: "dbb", mac: M1 }] })).toBe(
      "unknown-port-group",
    );
    expect(codeOf({ ...base, portGroups: [{ name: "web", vlan: 4095 }] })).toBe("bad-vlan");
    expect(codeOf({ ...base, portGroups: [{ name: "web", vlan: 0 }] })).toBe("ok"); // untagged
    expect(codeOf({ ...base, uplinks: ["vm1"] })).toBe("bad-port");
    expect(codeOf({ ...base, vmPorts: [{ name: "vm1", portGroup: "web", mac: BCAST }] })).toBe("bad-mac");
    const vs = new Vswitch(base);
    expect(() => vs.setEffectiveMac(0, M2)).toThrow(DeviceConfigError);
    expect(() => vs.setPortUp(9, false, 0)).toThrow(DeviceConfigError);
  });

  it("names ports uplinks first, then VM ports", () => {
    const vs = new Vswitch(base);
    expect(vs.portNames).toEqual(["uplink:eth0", "vm1"]);
    expect(vs.portIndex("vm1")).toBe(1);
    expect(vs.portVlan(1)).toBe(10);
    expect(vs.portVlan(0)).toBeNull();
    expect(vs.processingDelayNs).toBe(5000);
  });
});

describe("invariants under random traffic", () => {
  test.prop([
    fc.array(
      fc.record({
        port: fc.integer({ min: 0, max: 4 }), // 0, 1: uplinks; 2..4: vm1, vm2 (web), vm3 (db)
        src: fc.integer({ min: 0, max: 5 }),
        dst: fc.integer({ min: 0, max: 6 }), // 6: broadcast
        tag: fc.constantFrom(null, 10, 20, 30),
        isUplinkDown: fc.boolean(),
      }),
      { maxLength: 60 },
    ),
    fc.boolean(),
  ])(
    "VLANs stay apart, never back out, never uplink to uplink, one uplink per frame",
    (frames, isPermissive) => {
      const security = isPermissive
        ? { allowForgedTransmits: true, allowPromiscuous: true, allowMacChanges: true }
        : {};
      const macs = [M1, M2, M3, R, mac("02:00:00:00:99:02"), mac("02:00:00:00:99:03"), BCAST];
      const vs = new Vswitch({
        name: "vs0",
        uplinks: ["uplink:eth0", "uplink:eth1"],
        portGroups: [
          { name: "web", vlan: 10, security },
          { name: "db", vlan: 20, security },
        ],
        vmPorts: [
          { name: "vm1", portGroup: "web", mac: M1 },
          { name: "vm2", portGroup: "web", mac: M2 },
          { name: "vm3", portGroup: "db", mac: M3 },
        ],
        notifySwitches: false,
      });
      const env = bindRecording(vs, { isTracing: false });
      const vlanOfPort = [null, null, 10, 10, 20];
      for (const f of frames) {
        vs.setPortUp(1, !f.isUplinkDown, 0);
        vs.receive(
          f.port,
          ethFrame({ dst: macs[f.dst], src: macs[f.src], tags: f.tag === null ? [] : [f.tag] }),
          0,
        );
        const sent = env.take();
        const isFromUplink = f.port < 2;
        const uplinkCopies = sent.filter((s) => s.port < 2);
        expect(uplinkCopies.length).toBeLessThanOrEqual(1);
        if (isFromUplink) expect(uplinkCopies).toEqual([]);
        if (!isFromUplink && f.tag !== null) expect(sent).toEqual([]);
        if (isFromUplink && f.tag !== 10 && f.tag !== 20) expect(sent).toEqual([]);
        if (f.isUplinkDown) expect(sent.filter((s) => s.port === 1)).toEqual([]);
        const vid = isFromUplink ? f.tag : vlanOfPort[f.port];
        for (const s of sent) {
          expect(s.port).not.toBe(f.port);
          if (s.port < 2) expect(outerVid(s.frame)).toBe(vid);
          else {
            expect(outerVid(s.frame)).toBeNull();
            expect(vlanOfPort[s.port]).toBe(vid);
          }
        }
      }
    },
  );
});

describe("untagged port groups (VLAN 0, vSphere's 'None')", () => {
  // mgmt and backup are both untagged: one segment, as port groups of one VLAN on one vswitch.
  function untagged(over: Partial<VswitchOptions> = {}) {
    return build({
      portGroups: [
        { name: "mgmt", vlan: 0 },
        { name: "backup", vlan: 0 },
        { name: "web", vlan: 10 },
      ],
      vmPorts: [
        { name: "vm1", portGroup: "mgmt", mac: M1 },
        { name: "vm2", portGroup: "backup", mac: M2 },
        { name: "vm3", portGroup: "web", mac: M3 },
      ],
      ...over,
    });
  }

  it("floods a broadcast to both untagged groups and the uplink untagged, never into VLAN 10", () => {
    const { vs, env } = untagged();
    const f = ethFrame({ dst: BCAST, src: M1, etherType: 0x0806, payload: 28 });
    const bytes = toHex(f);
    vs.receive(VM1, f, 0);
    const sent = env.take();
    expect(where(sent)).toEqual(["vm2", "uplink:eth0"]);
    expect(toHex(sent[1].frame)).toBe(bytes); // no 802.1Q tag on the wire
    expect(env.traceLines()).toEqual([
      "vs0 vswitch flood vm1>vm2,uplink:eth0: flooded in the untagged segment: broadcast",
    ]);
  });

  it("switches unicast between two untagged port groups locally", () => {
    const { vs, env } = untagged();
    vs.receive(VM1, ethFrame({ dst: M2, src: M1 }), 0);
    expect(where(env.take())).toEqual(["vm2"]);
  });

  it("keeps the untagged segment and VLAN 10 apart", () => {
    const { vs, env } = untagged();
    vs.receive(VM1, ethFrame({ dst: M3, src: M1 }), 0);
    // vm3's MAC is a static entry of VLAN 10, not of the untagged segment: unknown here.
    expect(where(env.take())).toEqual(["uplink:eth0"]);
    vs.receive(VM3, ethFrame({ dst: BCAST, src: M3 }), 0);
    expect(where(env.take())).toEqual(["uplink:eth0/10"]);
    vs.receive(UP, ethFrame({ dst: M3, src: R }), 0);
    expect(where(env.take())).toEqual([]);
    expect(vs.drops.get(VswitchDrop.noReceiver)).toBe(1);
  });

  it("takes untagged and priority-tagged frames from the uplink into the untagged segment", () => {
    const { vs, env } = untagged();
    vs.receive(UP, ethFrame({ dst: M1, src: R }), 0);
    let sent = env.take();
    expect(where(sent)).toEqual(["vm1"]);
    expect(toHex(sent[0].frame)).toBe(toHex(ethFrame({ dst: M1, src: R })));
    vs.receive(UP, ethFrame({ dst: M2, src: R, tags: [0] }), 0);
    sent = env.take();
    expect(where(sent)).toEqual(["vm2"]);
    expect(toHex(sent[0].frame)).toBe(toHex(ethFrame({ dst: M2, src: R }))); // priority tag popped
    expect(vs.macTable.entries(0)).toContainEqual({
      vid: 0,
      mac: R,
      port: vs.teamPort,
      ageNs: 0,
      isStatic: false,
    });
    vs.receive(VM1, ethFrame({ dst: R, src: M1 }), 10);
    sent = env.take();
    expect(where(sent)).toEqual(["uplink:eth0"]);
    expect(outerVid(sent[0].frame)).toBeNull();
    vs.receive(UP, ethFrame({ dst: BCAST, src: R }), 20);
    expect(where(env.take())).toEqual(["vm1", "vm2"]);
    expect(vs.segmentName(0)).toBe("untagged");
  });

  it("still drops tagged frames from a VM of an untagged group, and its own broadcast reflected", () => {
    const { vs, env } = untagged();
    vs.receive(VM1, ethFrame({ dst: M2, src: M1, tags: [10] }), 0);
    vs.receive(UP, ethFrame({ dst: BCAST, src: M1 }), 0);
    expect(env.take()).toEqual([]);
    expect(vs.drops.get(VswitchDrop.taggedOnAccess)).toBe(1);
    expect(vs.drops.get(VswitchDrop.reflectedBroadcast)).toBe(1);
    expect(env.traceLines()[0]).toContain("port group mgmt is untagged");
  });

  it("refuses VLAN 4095 and non-integers as a port group's VLAN", () => {
    for (const vlan of [4095, -1, 1.5])
      expect(() => build({ portGroups: [{ name: "web", vlan }], vmPorts: [] })).toThrow(DeviceConfigError);
  });
});
