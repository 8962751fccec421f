/**
 * The physical NIC and SR-IOV, from literal frames: pass-through without SR-IOV; with it, the
 * embedded switch (VEB) between VFs, the wire and the PF, port VLANs (tag toward the wire, strip
 * toward the VF, never another VLAN), spoof check, VGT VFs, port state and the VF-count limits.
 */

import { describe, expect, it } from "vitest";
import { DeviceConfigError } from "./config-error.ts";
import { FIRST_VF_PORT, PF_PORT, Pnic, PnicDrop, type PnicOptions, WIRE_PORT } from "./pnic.ts";
import { bindRecording, ethFrame, mac, outerVid, type SentFrame, toHex } from "./testing.ts";

const P = mac("02:00:00:00:e1:00"); // the PF
const V0 = mac("02:00:00:00:f0:00");
const V1 = mac("02:00:00:00:f0:01");
const V2 = mac("02:00:00:00:f0:02");
const V3 = mac("02:00:00:00:f0:03");
const R = mac("02:00:00:00:99:01"); // out on the network
const VMX = mac("02:00:00:00:10:11"); // a VM behind the vswitch on the PF
const BCAST = mac("ff:ff:ff:ff:ff:ff");

const VF0 = FIRST_VF_PORT;
const VF1 = FIRST_VF_PORT + 1;
const VF2 = FIRST_VF_PORT + 2;
const VF3 = FIRST_VF_PORT + 3;

function build(over: Partial<PnicOptions> = {}) {
  const nic = new Pnic({
    name: "server1/eth1",
    wireName: "eth1",
    mac: P,
    sriov: { vfs: 5 },
    vfs: [{ mac: V0, vlan: 10 }, { mac: V1, vlan: 10 }, { mac: V2, vlan: 20 }, { mac: V3 }],
    ...over,
  });
  const env = bindRecording(nic);
  return { nic, env };
}

const where = (sent: SentFrame[]) =>
  sent.map((s) => `${s.portName}${outerVid(s.frame) === null ? "" : `/${outerVid(s.frame)}`}`);

describe("SR-IOV: VF to VF", () => {
  it("never leaves the NIC: the VEB turns it to the other VF, untagged", () => {
    const { nic, env } = build();
    const f = ethFrame({ dst: V1, src: V0 });
    const plain = toHex(f);
    nic.receive(VF0, f, 0);
    const sent = env.take();
    expect(where(sent)).toEqual(["vf1"]);
    expect(toHex(sent[0].frame)).toBe(plain);
    expect(nic.portCounters[WIRE_PORT].txFrames).toBe(0);
    expect(env.traceLines()).toEqual([
      "server1/eth1 vf forward vf0>vf1 vlan 10: vf0 to vf1 through the embedded switch (VEB): 02:00:00:00:f0:01 is vf1's (both in port VLAN 10)",
    ]);
  });

  it("a VF with a port VLAN never sees another VLAN's VF", () => {
    const { nic, env } = build();
    nic.receive(VF0, ethFrame({ dst: V2, src: V0 }), 0);
    // V2 lives in VLAN 20; from VLAN 10 it is unknown: out to the wire and the PF, tagged 10.
    expect(where(env.take())).toEqual(["pf/10", "eth1/10"]);
  });

  it("between a port-VLAN VF and a VGT VF the frame carries the tag on the VGT side only", () => {
    const { nic, env } = build();
    const f = ethFrame({ dst: V3, src: V0 });
    const plain = toHex(f);
    nic.receive(VF0, f, 0);
    const sent = env.take();
    expect(where(sent)).toEqual(["vf3/10"]);
    expect(toHex(sent[0].frame)).toBe(`${plain.slice(0, 24)}8100000a${plain.slice(24)}`);
    nic.receive(VF3, ethFrame({ dst: V0, src: V3, tags: [10] }), 1);
    const back = env.take();
    expect(where(back)).toEqual(["vf0"]);
    expect(toHex(back[0].frame)).toBe(toHex(ethFrame({ dst: V0, src: V3 })));
    // Untagged from the VGT VF it is not VLAN 10: vf0 does not get it.
    nic.receive(VF3, ethFrame({ dst: V0, src: V3 }), 2);
    expect(where(env.take())).toEqual(["pf", "eth1"]);
  });

  it("a frame for the sender itself is dropped", () => {
    const { nic, env } = build();
    nic.receive(VF0, ethFrame({ dst: V0, src: V0 }), 0);
    expect(env.take()).toEqual([]);
    expect(nic.drops.get(PnicDrop.sameSegment)).toBe(1);
  });
});

describe("SR-IOV: VF and the wire, port VLAN", () => {
  it("inserts the port VLAN tag toward the wire and strips it toward the VF", () => {
    const { nic, env } = build();
    const out = ethFrame({ dst: R, src: V0 });
    const plain = toHex(out);
    nic.receive(VF0, out, 0);
    const sent = env.take();
    expect(where(sent)).toEqual(["pf/10", "eth1/10"]);
    expect(toHex(sent[1].frame)).toBe(`${plain.slice(0, 24)}8100000a${plain.slice(24)}`);
    expect(env.traceLines()).toEqual([
      "server1/eth1 vf flood vf0>pf,eth1 vlan 10: no VF has 02:00:00:00:99:01: to the wire and the PF (port VLAN 10 tag inserted)",
    ]);
    // The reply comes in tagged 10 and reaches vf0 untagged; R is now known on the wire.
    nic.receive(WIRE_PORT, ethFrame({ dst: V0, src: R, tags: [10] }), 1);
    const back = env.take();
    expect(where(back)).toEqual(["vf0"]);
    expect(toHex(back[0].frame)).toBe(toHex(ethFrame({ dst: V0, src: R })));
    nic.receive(VF0, ethFrame({ dst: R, src: V0 }), 2);
    expect(where(env.take())).toEqual(["eth1/10"]);
  });

  it("frames for a VF's MAC in another VLAN, or untagged, do not reach it", () => {
    const { nic, env } = build();
    nic.receive(WIRE_PORT, ethFrame({ dst: V0, src: R, tags: [20] }), 0);
    nic.receive(WIRE_PORT, ethFrame({ dst: V0, src: R }), 0);
    expect(where(env.take())).toEqual(["pf/20", "pf"]);
  });

  it("floods a broadcast from the wire to the VLAN's VFs and the PF, not back to the wire", () => {
    const { nic, env } = build();
    nic.receive(WIRE_PORT, ethFrame({ dst: BCAST, src: R, tags: [10] }), 0);
    const sent = env.take();
    // vf3 has no port VLAN (VGT): it gets the frame as it is on the wire.
    expect(where(sent)).toEqual(["vf0", "vf1", "vf3/10", "pf/10"]);
    expect(env.traceLines()).toEqual([
      "server1/eth1 pnic flood eth1>vf0,vf1,vf3,pf vlan 10: flooded (vlan 10) to vf0,vf1,vf3,pf: broadcast",
    ]);
  });

  it("floods a VF's broadcast to the other VFs of its VLAN, the PF and the wire", () => {
    const { nic, env } = build();
    nic.receive(VF1, ethFrame({ dst: BCAST, src: V1, etherType: 0x0806 }), 0);
    expect(where(env.take())).toEqual(["vf0", "vf3/10", "pf/10", "eth1/10"]);
  });

  it("refuses a tagged frame from a VF that has a port VLAN", () => {
    const { nic, env } = build();
    nic.receive(VF0, ethFrame({ dst: R, src: V0, tags: [10] }), 0);
    expect(env.take()).toEqual([]);
    expect(nic.drops.get(PnicDrop.taggedFromVf)).toBe(1);
  });

  it("lets a VF without port VLAN tag its own frames (VGT)", () => {
    const { nic, env } = build();
    nic.receive(VF3, ethFrame({ dst: R, src: V3, tags: [30] }), 0);
    expect(where(env.take())).toEqual(["pf/30", "eth1/30"]);
    nic.receive(WIRE_PORT, ethFrame({ dst: V3, src: R, tags: [30] }), 1);
    expect(where(env.take())).toEqual(["vf3/30"]);
  });
});

describe("SR-IOV: VF and PF", () => {
  it("a VF reaches a VM behind the vswitch on the same NIC through the VEB, not the wire", () => {
    const { nic, env } = build();
    // The vswitch sends a VM's frame out of the PF, tagged with its port group's VLAN.
    nic.receive(PF_PORT, ethFrame({ dst: V0, src: VMX, tags: [10] }), 0);
    expect(where(env.take())).toEqual(["vf0"]);
    nic.receive(VF0, ethFrame({ dst: VMX, src: V0 }), 1);
    expect(where(env.take())).toEqual(["pf/10"]);
    expect(nic.portCounters[WIRE_PORT].txFrames).toBe(0);
    expect(env.traceLines()[1]).toBe(
      "server1/eth1 vf forward vf0>pf vlan 10: 02:00:00:00:10:11 is behind the PF: turned in the embedded switch (port VLAN 10 tag inserted)",
    );
  });

  it("sends the PF's other frames out on the wire, and the wire's to the PF", () => {
    const { nic, env } = build();
    nic.receive(PF_PORT, ethFrame({ dst: R, src: VMX, tags: [10] }), 0);
    nic.receive(WIRE_PORT, ethFrame({ dst: VMX, src: R, tags: [10] }), 0);
    expect(where(env.take())).toEqual(["eth1/10", "pf/10"]);
    expect(env.traceLines()).toEqual([
      "server1/eth1 pnic forward pf>eth1 vlan 10: sent on the wire eth1",
      "server1/eth1 pnic forward eth1>pf vlan 10: to the PF: no VF has 02:00:00:00:10:11",
    ]);
  });
});

describe("SR-IOV: spoof check", () => {
  it("drops and counts frames from a VF whose source is not its MAC", () => {
    const { nic, env } = build();
    nic.receive(VF0, ethFrame({ dst: V1, src: mac("02:00:00:00:66:66") }), 0);
    expect(env.take()).toEqual([]);
    expect(nic.drops.get(PnicDrop.spoofCheck)).toBe(1);
    expect(nic.portCounters[VF0].drops).toBe(1);
    expect(env.traceLines()).toEqual([
      "server1/eth1 vf drop vf0>- vlan 10: dropped: spoof check (source 02:00:00:00:66:66 is not vf0's 02:00:00:00:f0:00)",
    ]);
  });

  it("lets them pass with spoof check off", () => {
    const { nic, env } = build({
      vfs: [
        { mac: V0, vlan: 10, spoofCheck: false },
        { mac: V1, vlan: 10 },
      ],
    });
    nic.receive(VF0, ethFrame({ dst: V1, src: mac("02:00:00:00:66:66") }), 0);
    expect(where(env.take())).toEqual(["vf1"]);
  });

  it("drops frames from a VF with no MAC assigned", () => {
    const { nic, env } = build();
    nic.receive(FIRST_VF_PORT + 4, ethFrame({ dst: V1, src: V0 }), 0);
    expect(env.take()).toEqual([]);
    expect(nic.drops.get(PnicDrop.vfUnassigned)).toBe(1);
  });
});

describe("port state", () => {
  it("with the wire down, VF traffic still switches inside the NIC", () => {
    const { nic, env } = build();
    nic.setPortUp(WIRE_PORT, false, 0);
    nic.receive(VF0, ethFrame({ dst: V1, src: V0 }), 0);
    nic.receive(VF0, ethFrame({ dst: R, src: V0 }), 0);
    expect(where(env.take())).toEqual(["vf1", "pf/10"]);
    nic.setPortUp(VF1, false, 0);
    nic.receive(VF0, ethFrame({ dst: V1, src: V0 }), 0);
    expect(env.take()).toEqual([]);
    expect(nic.drops.get(PnicDrop.portDown)).toBe(1);
  });
});

describe("carrier", () => {
  it("the cable's state is passed on to the PF and to VFs with link state auto", () => {
    const { nic, env } = build({
      vfs: [
        { mac: V0, vlan: 10 },
        { mac: V1, vlan: 10, linkState: "enable" },
        { mac: V2, vlan: 20 },
      ],
    });
    nic.setPortUp(WIRE_PORT, false, 0);
    nic.setPortUp(WIRE_PORT, false, 0); // no change, nothing reported
    nic.setPortUp(WIRE_PORT, true, 5);
    expect(env.carrier).toEqual([
      { port: PF_PORT, isUp: false, timeNs: 0 },
      { port: VF0, isUp: false, timeNs: 0 },
      { port: VF2, isUp: false, timeNs: 0 },
      { port: PF_PORT, isUp: true, timeNs: 0 },
      { port: VF0, isUp: true, timeNs: 0 },
      { port: VF2, isUp: true, timeNs: 0 },
    ]);
    expect(nic.vfConfig(1)?.linkState).toBe("enable");
  });
});

describe("without SR-IOV", () => {
  it("passes frames between the wire and the host unchanged", () => {
    const nic = new Pnic({ name: "server1/eth0", wireName: "eth0", mac: P });
    const env = bindRecording(nic);
    expect(nic.portNames).toEqual(["eth0", "pf"]);
    expect(nic.hasSriov).toBe(false);
    const f = ethFrame({ dst: VMX, src: R, tags: [10] });
    const bytes = toHex(f);
    nic.receive(WIRE_PORT, f, 0);
    nic.receive(PF_PORT, ethFrame({ dst: R, src: VMX, tags: [10] }), 0);
    const sent = env.take();
    expect(where(sent)).toEqual(["pf/10", "eth0/10"]);
    expect(toHex(sent[0].frame)).toBe(bytes);
    expect(env.traceLines()).toEqual([
      "server1/eth0 pnic forward eth0>pf: passed to the host (PF)",
      "server1/eth0 pnic forward pf>eth0: sent on the wire eth0",
    ]);
    expect(nic.processingDelayNs).toBe(500);
  });
});

describe("VF limits and configuration", () => {
  const codeOf = (o: Partial<PnicOptions>) => {
    try {
      new Pnic({ name: "n", mac: P, ...o });
      return "ok";
    } catch (e) {
      expect(e).toBeInstanceOf(DeviceConfigError);
      return (e as DeviceConfigError).code;
    }
  };

  it("presents up to maxVfs VFs (default 128, at most 512)", () => {
    expect(codeOf({ sriov: { vfs: 128 } })).toBe("ok");
    expect(codeOf({ sriov: { vfs: 129 } })).toBe("too-many-vfs");
    expect(codeOf({ sriov: { vfs: 512, maxVfs: 512 } })).toBe("ok");
    expect(codeOf({ sriov: { vfs: 300, maxVfs: 256 } })).toBe("too-many-vfs");
    expect(codeOf({ sriov: { vfs: 1, maxVfs: 513 } })).toBe("bad-value");
    expect(codeOf({ sriov: { vfs: 1, maxVfs: 0 } })).toBe("bad-value");
    expect(codeOf({ sriov: { vfs: -1 } })).toBe("bad-value");
    expect(codeOf({ sriov: { vfs: 1.5 } })).toBe("bad-value");
    const big = new Pnic({ name: "n", wireName: "eth1", mac: P, sriov: { vfs: 512, maxVfs: 512 } });
    expect(big.portNames.length).toBe(514);
    expect(big.portNames[513]).toBe("vf511");
    expect(big.vfPort(511)).toBe(513);
  });

  it("names the limit in the error", () => {
    expect(() => new Pnic({ name: "server1/eth1", mac: P, sriov: { vfs: 200 } })).toThrow(
      "NIC server1/eth1: 200 VFs requested, but this NIC supports at most 128",
    );
  });

  it("refuses VF settings that cannot work", () => {
    expect(codeOf({ sriov: { vfs: 1 }, vfs: [{ mac: V0 }, { mac: V1 }] })).toBe("bad-port");
    expect(
      codeOf({
        sriov: { vfs: 2 },
        vfs: [
          { mac: V0, vlan: 10 },
          { mac: V0, vlan: 10 },
        ],
      }),
    ).toBe("bad-mac");
    expect(
      codeOf({
        sriov: { vfs: 2 },
        vfs: [
          { mac: V0, vlan: 10 },
          { mac: V0, vlan: 20 },
        ],
      }),
    ).toBe("ok");
    expect(codeOf({ sriov: { vfs: 1 }, vfs: [{ mac: V0, vlan: 4095 }] })).toBe("bad-vlan");
    expect(codeOf({ sriov: { vfs: 1 }, vfs: [{ mac: BCAST }] })).toBe("bad-mac");
    const { nic } = build();
    expect(() => nic.configureVf(5, { mac: V0 })).toThrow(DeviceConfigError);
    nic.configureVf(4, { mac: mac("02:00:00:00:f0:04"), vlan: 20, spoofCheck: false });
    expect(nic.vfConfig(4)).toEqual({
      mac: mac("02:00:00:00:f0:04"),
      vlan: 20,
      spoofCheck: false,
      linkState: "auto",
    });
    expect(nic.vfConfig(3)).toEqual({ mac: V3, vlan: null, spoofCheck: true, linkState: "auto" });
  });

  it("reconfiguring a VF moves its address in the VEB", () => {
    const { nic, env } = build();
    nic.configureVf(1, { mac: V1, vlan: 20 });
    nic.receive(VF0, ethFrame({ dst: V1, src: V0 }), 0);
    expect(where(env.take())).toEqual(["pf/10", "eth1/10"]);
    nic.receive(VF2, ethFrame({ dst: V1, src: V2 }), 0);
    expect(where(env.take())).toEqual(["vf1"]);
  });
});

describe("tracing off", () => {
  it("builds no records and forwards the same", () => {
    const { nic, env } = build();
    env.isTracing = false;
    nic.receive(VF0, ethFrame({ dst: V1, src: V0 }), 0);
    nic.receive(VF0, ethFrame({ dst: BCAST, src: V0 }), 0);
    nic.receive(VF0, ethFrame({ dst: V1, src: V2 }), 0);
    nic.receive(WIRE_PORT, ethFrame({ dst: VMX, src: R, tags: [10] }), 0);
    expect(where(env.take())).toEqual(["vf1", "vf1", "vf3/10", "pf/10", "eth1/10", "pf/10"]);
    expect(nic.drops.get(PnicDrop.spoofCheck)).toBe(1);
    expect(env.records).toEqual([]);
  });
});
