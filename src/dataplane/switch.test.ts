/**
 * The physical switch, from literal frames: access and trunk ports, VLAN classification and
 * admission drops, learning and flooding per VLAN, never back out of the ingress port, the SVI
 * seam to a router (broadcasts and frames for the switch's MAC go up, the router's frames are
 * forwarded like an internal port's), port state and configuration errors.
 */

import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { DeviceConfigError } from "./config-error.ts";
import type { Frame } from "./frame.ts";
import type { SviHandler } from "./svi.ts";
import { PhysicalSwitch, SwitchDrop, type SwitchOptions } from "./switch.ts";
import { bindRecording, ethFrame, mac, outerVid, type SentFrame, toHex } from "./testing.ts";

const SW_MAC = mac("02:5e:00:00:00:01");
const A = mac("02:00:00:00:10:0a");
const B = mac("02:00:00:00:10:0b");
const C = mac("02:00:00:00:20:0c");
const BCAST = mac("ff:ff:ff:ff:ff:ff");
const S = 1e9;

// Ports: eth1 trunk 10,20; eth2 trunk all, native 10; eth5, eth6 access 10; eth7 access 20.
const ETH1 = 0;
const ETH2 = 1;
const ETH5 = 2;
const ETH6 = 3;
const ETH7 = 4;

function build(over: Partial<SwitchOptions> = {}) {
  const sw = new PhysicalSwitch({
    name: "tor1",
    mac: SW_MAC,
    ports: [
      { name: "eth1", mode: "trunk", vlans: [10, 20] },
      { name: "eth2", mode: "trunk", vlans: null, nativeVlan: 10 },
      { name: "eth5", mode: "access", vlan: 10 },
      { name: "eth6", mode: "access", vlan: 10 },
      { name: "eth7", mode: "access", vlan: 20 },
    ],
    ...over,
  });
  const env = bindRecording(sw);
  return { sw, env };
}

const where = (sent: SentFrame[]) =>
  sent.map((s) => `${s.portName}${outerVid(s.frame) === null ? "" : `/${outerVid(s.frame)}`}`);

describe("learning and flooding per VLAN", () => {
  it("floods a broadcast to the VLAN's other ports, tagging per port, never back", () => {
    const { sw, env } = build();
    const f = ethFrame({ dst: BCAST, src: A, etherType: 0x0806, payload: 28 });
    const plain = toHex(f);
    sw.receive(ETH5, f, 0);
    const sent = env.take();
    expect(where(sent)).toEqual(["eth1/10", "eth2", "eth6"]);
    expect(toHex(sent[0].frame)).toBe(`${plain.slice(0, 24)}8100000a${plain.slice(24)}`);
    expect(toHex(sent[1].frame)).toBe(plain); // native VLAN: untagged
    expect(toHex(sent[2].frame)).toBe(plain);
    expect(env.traceLines()).toEqual([
      "tor1 switch receive eth5>- vlan 10: learned 02:00:00:00:10:0a on eth5",
      "tor1 switch flood eth5>eth1,eth2,eth6 vlan 10: flooded in vlan 10 to eth1,eth2,eth6: broadcast",
    ]);
  });

  it("forwards known unicast to its one port", () => {
    const { sw, env } = build();
    sw.receive(ETH5, ethFrame({ dst: BCAST, src: A }), 0);
    env.take();
    env.takeRecords();
    sw.receive(ETH1, ethFrame({ dst: A, src: B, tags: [10] }), 1);
    const sent = env.take();
    expect(where(sent)).toEqual(["eth5"]);
    expect(toHex(sent[0].frame)).toBe(toHex(ethFrame({ dst: A, src: B })));
    expect(env.traceLines()).toEqual([
      "tor1 switch receive eth1>- vlan 10: learned 02:00:00:00:10:0b on eth1",
      "tor1 switch forward eth1>eth5 vlan 10: forwarded to eth5: learned",
    ]);
    // Back the other way: B is known on the trunk.
    sw.receive(ETH5, ethFrame({ dst: B, src: A }), 2);
    expect(where(env.take())).toEqual(["eth1/10"]);
  });

  it("floods unknown unicast and names the missing entry", () => {
    const { sw, env } = build();
    sw.receive(ETH6, ethFrame({ dst: B, src: A }), 0);
    expect(where(env.take())).toEqual(["eth1/10", "eth2", "eth5"]);
    expect(env.traceLines()[1]).toBe(
      "tor1 switch flood eth6>eth1,eth2,eth5 vlan 10: flooded in vlan 10 to eth1,eth2,eth5: no entry for 02:00:00:00:10:0b",
    );
  });

  it("never sends a frame back out of its ingress port", () => {
    const { sw, env } = build();
    sw.receive(ETH5, ethFrame({ dst: BCAST, src: A }), 0);
    sw.receive(ETH5, ethFrame({ dst: BCAST, src: B }), 0);
    env.take();
    sw.receive(ETH5, ethFrame({ dst: B, src: A }), 1);
    expect(env.take()).toEqual([]);
    expect(sw.drops.get(SwitchDrop.sameSegment)).toBe(1);
  });

  it("keeps VLANs apart: no forwarding across VLANs without a router", () => {
    const { sw, env } = build();
    sw.receive(ETH7, ethFrame({ dst: BCAST, src: C }), 0);
    expect(where(env.take())).toEqual(["eth1/20", "eth2/20"]);
    // C is known in VLAN 20 only; from VLAN 10 it is unknown and eth7 never gets it.
    sw.receive(ETH5, ethFrame({ dst: C, src: A }), 1);
    expect(where(env.take())).toEqual(["eth1/10", "eth2", "eth6"]);
    expect(sw.macTable.lookup(10, C, 1)).toBe(-1);
    expect(sw.macTable.lookup(20, C, 1)).toBe(ETH7);
  });

  it("moves a station and ages entries on a stepped clock", () => {
    const { sw, env } = build({ macAgingNs: 300 * S });
    sw.receive(ETH5, ethFrame({ dst: BCAST, src: A }), 0);
    sw.receive(ETH6, ethFrame({ dst: BCAST, src: A }), 1 * S);
    expect(env.traceLines()[2]).toBe(
      "tor1 switch receive eth6>- vlan 10: moved 02:00:00:00:10:0a from eth5 to eth6",
    );
    env.take();
    sw.receive(ETH1, ethFrame({ dst: A, src: B, tags: [10] }), 300 * S);
    expect(where(env.take())).toEqual(["eth6"]);
    env.advanceTo(601 * S);
    sw.receive(ETH1, ethFrame({ dst: A, src: B, tags: [10] }), 601 * S);
    expect(where(env.take())).toEqual(["eth2", "eth5", "eth6"]);
  });
});

describe("port admission", () => {
  it("drops a VLAN not allowed on a trunk, untagged frames on a trunk without native VLAN, VID 4095", () => {
    const { sw, env } = build();
    sw.receive(ETH1, ethFrame({ dst: BCAST, src: B, tags: [30] }), 0);
    sw.receive(ETH1, ethFrame({ dst: BCAST, src: B }), 0);
    sw.receive(ETH2, ethFrame({ dst: BCAST, src: B, tags: [4095] }), 0);
    sw.receive(ETH1, ethFrame({ dst: BCAST, src: B, tags: [{ vid: 10, tpid: 0x88a8 }] }), 0);
    expect(env.take()).toEqual([]);
    expect(sw.drops.entries()).toEqual([
      [SwitchDrop.stagOnPort, 1],
      [SwitchDrop.untaggedOnTrunk, 1],
      [SwitchDrop.vlanNotAllowed, 2],
    ]);
    expect(env.traceLines().slice(0, 2)).toEqual([
      "tor1 switch drop eth1>- vlan 30: dropped: VLAN 30 is not allowed on trunk eth1",
      "tor1 switch drop eth1>-: dropped: untagged frame on trunk eth1 without native VLAN",
    ]);
    expect(sw.portCounters[ETH1].drops).toBe(3);
  });

  it("admits any VLAN on an all-VLAN trunk and carries it only where allowed", () => {
    const { sw, env } = build();
    sw.receive(ETH2, ethFrame({ dst: BCAST, src: B, tags: [300] }), 0);
    expect(env.take()).toEqual([]);
    expect(sw.drops.get(SwitchDrop.noReceiver)).toBe(1);
    sw.receive(ETH2, ethFrame({ dst: BCAST, src: B, tags: [20] }), 0);
    expect(where(env.take())).toEqual(["eth1/20", "eth7"]);
  });

  it("drops tagged frames on an access port; a priority tag is read as untagged", () => {
    const { sw, env } = build();
    sw.receive(ETH5, ethFrame({ dst: BCAST, src: A, tags: [10] }), 0);
    expect(env.take()).toEqual([]);
    expect(sw.drops.get(SwitchDrop.taggedOnAccess)).toBe(1);
    expect(env.traceLines()).toEqual([
      "tor1 switch drop eth5>- vlan 10: dropped: tagged frame (VLAN 10) on access port eth5 (VLAN 10)",
    ]);
    sw.receive(ETH5, ethFrame({ dst: BCAST, src: A, tags: [{ vid: 0, pcp: 5 }] }), 0);
    const sent = env.take();
    expect(where(sent)).toEqual(["eth1/10", "eth2", "eth6"]);
    expect(toHex(sent[2].frame)).toBe(toHex(ethFrame({ dst: BCAST, src: A })));
  });

  it("drops runts and multicast sources", () => {
    const { sw, env } = build();
    const runt = ethFrame({ dst: BCAST, src: A, payload: 0 });
    runt.end -= 1;
    sw.receive(ETH5, runt, 0);
    sw.receive(ETH5, ethFrame({ dst: BCAST, src: "01:00:00:00:00:01" }), 0);
    expect(env.take()).toEqual([]);
    expect(sw.drops.get(SwitchDrop.runt)).toBe(1);
    expect(sw.drops.get(SwitchDrop.multicastSource)).toBe(1);
  });
});

/** A router stand-in that records what it gets and can answer at once (re-entrantly). */
class RecordingRouter implements SviHandler {
  readonly got: { vid: number; hex: string }[] = [];
  reply: ((vid: number, frame: Frame, nowNs: number) => void) | null = null;
  receiveOnSvi(vid: number, frame: Frame, nowNs: number): void {
    this.got.push({ vid, hex: toHex(frame) });
    this.reply?.(vid, frame, nowNs);
  }
}

describe("gateway (SVIs)", () => {
  function withGateway() {
    const { sw, env } = build({ sviVlans: [10] });
    const router = new RecordingRouter();
    sw.attachSvi(router);
    return { sw, env, router };
  }

  it("gives the router a copy of a VLAN's broadcasts (ARP) besides flooding them", () => {
    const { sw, env, router } = withGateway();
    const f = ethFrame({ dst: BCAST, src: A, etherType: 0x0806, payload: 28 });
    const plain = toHex(f);
    sw.receive(ETH5, f, 0);
    expect(where(env.take())).toEqual(["eth1/10", "eth2", "eth6"]);
    expect(router.got).toEqual([{ vid: 10, hex: plain }]);
    expect(env.traceLines()[1]).toBe(
      "tor1 switch flood eth5>eth1,eth2,eth6,vlan10 vlan 10: flooded in vlan 10 to eth1,eth2,eth6,vlan10: broadcast",
    );
  });

  it("hands frames for the switch's MAC to the router only, untagged", () => {
    const { sw, env, router } = withGateway();
    sw.receive(ETH1, ethFrame({ dst: SW_MAC, src: B, tags: [10] }), 0);
    expect(env.take()).toEqual([]);
    expect(router.got).toEqual([{ vid: 10, hex: toHex(ethFrame({ dst: SW_MAC, src: B })) }]);
    expect(env.traceLines()[1]).toBe("tor1 switch deliver eth1>vlan10 vlan 10: to the gateway on vlan 10");
    // Not in VLAN 20: there is no SVI there.
    sw.receive(ETH7, ethFrame({ dst: SW_MAC, src: C }), 0);
    expect(router.got.length).toBe(1);
    expect(sw.drops.get(SwitchDrop.noSvi)).toBe(1);
  });

  it("forwards the router's frames like an internal port's, and never learns its own MAC on a front port", () => {
    const { sw, env, router } = withGateway();
    sw.receive(ETH1, ethFrame({ dst: BCAST, src: B, tags: [10] }), 0);
    env.take();
    env.takeRecords();
    router.got.length = 0;
    sw.sendFromSvi(10, ethFrame({ dst: B, src: SW_MAC }), 1);
    expect(where(env.take())).toEqual(["eth1/10"]);
    sw.sendFromSvi(10, ethFrame({ dst: BCAST, src: SW_MAC }), 2);
    expect(where(env.take())).toEqual(["eth1/10", "eth2", "eth5", "eth6"]);
    expect(env.traceLines()).toEqual([
      "tor1 switch forward vlan10>eth1 vlan 10: forwarded to eth1: learned",
      "tor1 switch flood vlan10>eth1,eth2,eth5,eth6 vlan 10: flooded in vlan 10 to eth1,eth2,eth5,eth6: broadcast",
    ]);
    expect(router.got).toEqual([]); // its own broadcast does not come back to it
    // The switch's own MAC arriving from outside is dropped and stays on the SVI port.
    sw.receive(ETH5, ethFrame({ dst: BCAST, src: SW_MAC }), 3);
    expect(env.take()).toEqual([]);
    expect(sw.drops.get(SwitchDrop.ownMacAsSource)).toBe(1);
    expect(sw.macTable.lookup(10, SW_MAC, 3)).toBe(sw.sviPort);
  });

  it("lets the router answer synchronously (ARP reply) without disturbing the flood", () => {
    const { sw, env, router } = withGateway();
    router.reply = (vid, _frame, nowNs) =>
      sw.sendFromSvi(vid, ethFrame({ dst: A, src: SW_MAC, etherType: 0x0806 }), nowNs);
    sw.receive(ETH5, ethFrame({ dst: BCAST, src: A, etherType: 0x0806 }), 0);
    expect(where(env.take())).toEqual(["eth1/10", "eth2", "eth6", "eth5"]);
    expect(sw.sviCounters.txFrames).toBe(1);
    expect(sw.sviCounters.rxFrames).toBe(1);
  });

  it("refuses router frames for a VLAN without SVI, and counts frames with no gateway attached", () => {
    const { sw, env } = build({ sviVlans: [10] });
    sw.sendFromSvi(20, ethFrame({ dst: BCAST, src: SW_MAC }), 0);
    expect(sw.drops.get(SwitchDrop.noSvi)).toBe(1);
    sw.receive(ETH5, ethFrame({ dst: SW_MAC, src: A }), 0);
    expect(sw.drops.get(SwitchDrop.noSvi)).toBe(2);
    expect(env.take()).toEqual([]);
  });
});

describe("port state", () => {
  it("a down port takes no frames and its learned entries are flushed", () => {
    const { sw, env } = build();
    sw.receive(ETH6, ethFrame({ dst: BCAST, src: B }), 0);
    env.take();
    sw.setPortUp(ETH6, false, 1);
    expect(sw.macTable.lookup(10, B, 1)).toBe(-1);
    sw.receive(ETH5, ethFrame({ dst: BCAST, src: A }), 2);
    expect(where(env.take())).toEqual(["eth1/10", "eth2"]);
  });
});

describe("configuration", () => {
  it("refuses mistakes with typed errors", () => {
    const codeOf = (ports: SwitchOptions["ports"], sviVlans?: number[]) => {
      try {
        new PhysicalSwitch({ name: "s", mac: SW_MAC, ports, sviVlans });
        return "ok";
      } catch (e) {
        expect(e).toBeInstanceOf(DeviceConfigError);
        return (e as DeviceConfigError).code;
      }
    };
    expect(codeOf([{ name: "eth1", mode: "trunk", vlans: [10], nativeVlan: 20 }])).toBe("bad-vlan");
    expect(codeOf([{ name: "eth1", mode: "trunk", vlans: [0] }])).toBe("bad-vlan");
    expect(codeOf([{ name: "eth1", mode: "access", vlan: 5000 }])).toBe("bad-vlan");
    expect(codeOf([{ name: "eth1", mode: "access", vlan: 1 }], [4095])).toBe("bad-vlan");
    expect(
      codeOf([
        { name: "eth1", mode: "access", vlan: 1 },
        { name: "eth1", mode: "access", vlan: 2 },
      ]),
    ).toBe("bad-port");
    expect(codeOf([{ name: "eth1", mode: "trunk", vlans: null, nativeVlan: 1 }])).toBe("ok");
    expect(() => new PhysicalSwitch({ name: "s", mac: BCAST, ports: [] })).toThrow(DeviceConfigError);
  });
});

describe("invariants under random traffic", () => {
  test.prop([
    fc.array(
      fc.record({
        port: fc.integer({ min: 0, max: 4 }),
        src: fc.integer({ min: 0, max: 5 }),
        dst: fc.integer({ min: 0, max: 6 }), // 6: broadcast
        tag: fc.constantFrom(null, 0, 10, 20, 30),
      }),
      { maxLength: 60 },
    ),
  ])("never back out of ingress, only ports carrying the VLAN, tagged exactly where due", (frames) => {
    const { sw, env } = build();
    const macOf = (i: number) => (i === 6 ? BCAST : 0x020000000a00 + i);
    for (const f of frames) {
      const input = ethFrame({ dst: macOf(f.dst), src: macOf(f.src), tags: f.tag === null ? [] : [f.tag] });
      const untagged = toHex(ethFrame({ dst: macOf(f.dst), src: macOf(f.src) }));
      sw.receive(f.port, input, 0);
      const sent = env.take();
      if (sent.length === 0) continue;
      // Which VLAN did the switch put it in? Every copy must agree.
      const vids = new Set(
        sent.map((s) => outerVid(s.frame) ?? (s.port === ETH2 ? 10 : s.port === ETH7 ? 20 : 10)),
      );
      expect(vids.size).toBe(1);
      const vid = [...vids][0];
      for (const s of sent) {
        expect(s.port).not.toBe(f.port);
        expect(sw.carries(s.port, vid)).toBe(true);
        const isTagged = s.port === ETH1 || (s.port === ETH2 && vid !== 10);
        expect(outerVid(s.frame)).toBe(isTagged ? vid : null);
        const body = toHex(s.frame);
        expect(isTagged ? body.slice(0, 24) + body.slice(32) : body).toBe(untagged);
      }
      // The ingress port admitted that VLAN.
      expect(sw.carries(f.port, vid)).toBe(true);
    }
  });
});

describe("tracing off", () => {
  it("builds no records and forwards the same", () => {
    const sw = new PhysicalSwitch({
      name: "tor1",
      mac: SW_MAC,
      ports: [
        { name: "eth1", mode: "trunk", vlans: [10] },
        { name: "eth5", mode: "access", vlan: 10 },
      ],
      sviVlans: [10],
    });
    const env = bindRecording(sw, { isTracing: false });
    sw.attachSvi(new RecordingRouter());
    sw.receive(1, ethFrame({ dst: BCAST, src: A }), 0);
    sw.receive(0, ethFrame({ dst: A, src: B, tags: [10] }), 0);
    sw.receive(0, ethFrame({ dst: A, src: B, tags: [20] }), 0);
    sw.sendFromSvi(10, ethFrame({ dst: A, src: SW_MAC }), 0);
    expect(where(env.take())).toEqual(["eth1/10", "eth5", "eth5"]);
    expect(sw.drops.get(SwitchDrop.vlanNotAllowed)).toBe(1);
    expect(env.records).toEqual([]);
  });
});
