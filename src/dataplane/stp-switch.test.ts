/**
 * Spanning tree on the physical switch, devices back to back (TestNet): a ring of three RSTP
 * switches blocks one port within a second and a broadcast reaches every host port once (no
 * storm); a cut cable re-converges by proposal and agreement in well under 100 ms; a silent
 * failure (carrier up, no BPDUs) is found by information aging within 6 s; BPDU guard
 * err-disables an edge port that hears a BPDU; a topology change flushes what the switch
 * learned; a LAG is one spanning-tree port; without STP a BPDU is still refused.
 */

import { describe, expect, it } from "vitest";
import { bpduPortRoleBits, STP_FRAME_LEN, Stp, StpFlag } from "../wire/stp.ts";
import { Frame } from "./frame.ts";
import { PhysicalSwitch, SwitchDrop, type SwitchPortConfig, type SwitchStpEvent } from "./switch.ts";
import { ethFrame, mac, TestNet } from "./testing.ts";

const S = 1e9;
const MS = 1e6;
const HA = mac("02:00:00:00:10:0a");
const HB = mac("02:00:00:00:10:0b");
const HC = mac("02:00:00:00:10:0c");
const BCAST = mac("ff:ff:ff:ff:ff:ff");
/** Device ports of every ring switch: eth1 = 0 (to the next), eth2 = 1 (to the previous), eth5 = 2 (host). */
const ETH1 = 0;
const ETH2 = 1;
const ETH5 = 2;

function isBpdu(f: Frame): boolean {
  return Stp.isStpFrame(f.buf, f.start);
}

function arp(src: number): Frame {
  return ethFrame({ dst: BCAST, src, etherType: 0x0806, payload: 28 });
}

/** sw1 -> sw2 -> sw3 -> sw1 over trunks of VLAN 10, a host (edge) port eth5 on each; sw1 has the lowest MAC. */
function ring(hostPort: Partial<SwitchPortConfig> = {}) {
  const net = new TestNet(1, 1000);
  const events: (SwitchStpEvent & { sw: string })[] = [];
  const mk = (n: number) => {
    const sw = net.add(
      new PhysicalSwitch({
        name: `sw${n}`,
        mac: mac(`02:5e:00:00:00:0${n}`),
        ports: [
          { name: "eth1", mode: "trunk", vlans: [10] },
          { name: "eth2", mode: "trunk", vlans: [10] },
          { name: "eth5", mode: "access", vlan: 10, isEdge: true, ...hostPort } as SwitchPortConfig,
        ],
        stp: { mode: "rstp" },
      }),
    );
    sw.onStpEvent = (e) => events.push({ ...e, sw: sw.name });
    return sw;
  };
  const [a, b, c] = [mk(1), mk(2), mk(3)];
  net.connect(a, ETH1, b, ETH2);
  net.connect(b, ETH1, c, ETH2);
  net.connect(c, ETH1, a, ETH2);
  net.start();
  return { net, a, b, c, events };
}

/** "sw2 eth1 designated forwarding" for every inter-switch port. */
function roles(...sws: PhysicalSwitch[]): string[] {
  return sws.flatMap((sw) =>
    sw
      .stpStatus()!
      .ports.filter((p) => p.port !== "eth5")
      .map((p) => `${sw.name} ${p.port} ${p.role} ${p.state}`),
  );
}

/** Data frames (not BPDUs) that left a host port, by switch. */
function hostDeliveries(net: TestNet): string[] {
  return net.unconnected.filter((t) => !isBpdu(t.frame)).map((t) => `${t.from}:${t.port}`);
}

function lastStateChangeNs(events: SwitchStpEvent[], afterNs = 0): number {
  return Math.max(...events.filter((e) => e.kind === "state" && e.timeNs >= afterNs).map((e) => e.timeNs));
}

describe("a ring of three RSTP switches", () => {
  it("converges within a second with one port discarding, and a broadcast reaches each host port once", () => {
    const { net, a, b, c, events } = ring();
    net.runUntil(1 * S);
    expect(lastStateChangeNs(events)).toBeLessThan(1 * S);
    expect(a.stpStatus()!.isRoot).toBe(true);
    expect(roles(a, b, c)).toEqual([
      "sw1 eth1 designated forwarding",
      "sw1 eth2 designated forwarding",
      "sw2 eth1 designated forwarding",
      "sw2 eth2 root forwarding",
      "sw3 eth1 root forwarding",
      "sw3 eth2 alternate discarding",
    ]);
    net.unconnected.length = 0;
    const dataBefore = net.transmitted.filter((t) => !isBpdu(t.frame)).length;
    net.inject(a, ETH5, arp(HA));
    net.runUntil(net.nowNs + 10 * MS);
    expect(hostDeliveries(net).sort()).toEqual(["sw2:eth5", "sw3:eth5"]);
    // Three cables, one blocked at sw3: the broadcast crosses two of them (sw1 -> sw2, sw1 -> sw3)
    // and sw2's copy towards sw3 is discarded there, counted.
    expect(net.transmitted.filter((t) => !isBpdu(t.frame)).length - dataBefore).toBe(3);
    expect(c.drops.get(SwitchDrop.stpDiscarding)).toBe(1);
    expect(net.traceLines()).toContain(
      "sw3 switch drop eth2>-: dropped: eth2 is discarding (RSTP alternate)",
    );
  });

  it("re-converges in well under 100 ms when a forwarding cable is cut, and hosts reach each other again", () => {
    const { net, a, b, c, events } = ring();
    net.runUntil(3 * S);
    // sw3 learned sw2's host through sw1 (its root port), the only open way.
    net.inject(b, ETH5, arp(HB));
    net.runUntil(net.nowNs + 10 * MS);
    expect(c.macTable.lookup(10, HB, net.nowNs)).toBe(ETH1);
    const cutNs = net.nowNs;
    net.setLinkUp(a, ETH1, false);
    net.runUntil(cutNs + 1 * S);
    const took = lastStateChangeNs(events, cutNs) - cutNs;
    expect(took).toBeGreaterThanOrEqual(0);
    expect(took).toBeLessThan(100 * MS);
    expect(roles(b, c)).toEqual([
      "sw2 eth1 root forwarding",
      "sw2 eth2 disabled discarding",
      "sw3 eth1 root forwarding",
      "sw3 eth2 designated forwarding",
    ]);
    // sw3's eth2 went forwarding: a topology change that flushed what sw3 had learned on eth1.
    expect(
      events.some(
        (e) =>
          e.sw === "sw3" &&
          e.kind === "topology-change" &&
          e.timeNs >= cutNs &&
          e.flushPorts.includes("eth1"),
      ),
    ).toBe(true);
    expect(c.macTable.lookup(10, HB, net.nowNs)).toBe(-1);
    net.unconnected.length = 0;
    net.inject(a, ETH5, arp(HA));
    net.runUntil(net.nowNs + 10 * MS);
    expect(hostDeliveries(net).sort()).toEqual(["sw2:eth5", "sw3:eth5"]);
  });

  it("loses at most the frames of the re-convergence when a cable is cut under traffic", () => {
    const { net, a, b } = ring();
    net.runUntil(3 * S);
    net.inject(b, ETH5, arp(HB));
    net.runUntil(net.nowNs + 10 * MS);
    net.unconnected.length = 0;
    // A frame from sw1's host to sw2's host every millisecond for 200 ms; the cable goes at 50 ms.
    const startNs = net.nowNs;
    for (let i = 0; i < 200; i++) {
      net.runUntil(startNs + i * MS);
      if (i === 50) net.setLinkUp(a, ETH1, false);
      net.inject(a, ETH5, ethFrame({ dst: HB, src: HA, payload: 46 }));
    }
    net.runUntil(net.nowNs + 10 * MS);
    const delivered = net.unconnected.filter((t) => t.from === "sw2" && !isBpdu(t.frame)).length;
    expect(delivered).toBeGreaterThanOrEqual(195);
    expect(delivered).toBeLessThanOrEqual(200);
  });

  it("finds a silent failure (carrier up, no BPDUs from the root) by information aging within 6 s", () => {
    const { net, a, b, events } = ring();
    net.runUntil(3 * S);
    const failNs = net.nowNs;
    net.setBlackhole(a, ETH1, true);
    net.runUntil(failNs + 7 * S);
    const aged = events.find((e) => e.kind === "info-aged" && e.sw === "sw2" && e.timeNs >= failNs);
    expect(aged).toBeDefined();
    expect(aged!.timeNs - failNs).toBeLessThanOrEqual(6 * S);
    expect(b.stpStatus()!.rootPort).toBe("eth1");
    net.unconnected.length = 0;
    net.inject(a, ETH5, arp(HA));
    net.runUntil(net.nowNs + 10 * MS);
    expect(hostDeliveries(net).sort()).toEqual(["sw2:eth5", "sw3:eth5"]);
  });
});

describe("edge ports and BPDU guard", () => {
  const bpdu = (): Frame => {
    const f = Frame.alloc(STP_FRAME_LEN);
    Stp.emitFrame(
      {
        type: "rst",
        version: 2,
        flags: bpduPortRoleBits("designated") | StpFlag.Proposal,
        rootId: { priority: 0, systemIdExtension: 0, mac: mac("02:99:00:00:00:01") },
        rootPathCost: 0,
        bridgeId: { priority: 0, systemIdExtension: 0, mac: mac("02:99:00:00:00:01") },
        portId: { priority: 128, number: 1 },
        messageAgeS: 0,
        maxAgeS: 20,
        helloTimeS: 2,
        forwardDelayS: 15,
      },
      f.buf,
      f.start,
      mac("02:99:00:00:00:01"),
    );
    return f;
  };

  it("err-disables an edge port with BPDU guard that hears a BPDU, until it is re-enabled", () => {
    const { net, a, events } = ring({ hasBpduGuard: true });
    net.runUntil(1 * S);
    expect(a.stpStatus()!.ports.find((p) => p.port === "eth5")).toMatchObject({
      isEdge: true,
      state: "forwarding",
    });
    net.inject(a, ETH5, bpdu());
    net.runUntil(net.nowNs + 1 * MS);
    expect(events.some((e) => e.sw === "sw1" && e.kind === "bpdu-guard" && e.port === "eth5")).toBe(true);
    const eth5 = a.stpStatus()!.ports.find((p) => p.port === "eth5")!;
    expect(eth5.isErrDisabled).toBe(true);
    expect(eth5.state).toBe("discarding");
    // The root stays sw1: the BPDU that tripped the guard was not listened to.
    expect(a.stpStatus()!.isRoot).toBe(true);
    net.unconnected.length = 0;
    net.inject(a, ETH5, arp(HA));
    net.runUntil(net.nowNs + 10 * MS);
    expect(hostDeliveries(net)).toEqual([]);
    expect(a.drops.get(SwitchDrop.errDisabled)).toBe(1);
    expect(net.traceLines()).toContain("sw1 switch drop eth5>-: dropped: eth5 is err-disabled (BPDU guard)");
    a.reenableStpPort("eth5", net.nowNs);
    net.runUntil(net.nowNs + 1 * MS);
    net.inject(a, ETH5, arp(HA));
    net.runUntil(net.nowNs + 10 * MS);
    expect(hostDeliveries(net).sort()).toEqual(["sw2:eth5", "sw3:eth5"]);
  });

  it("takes a BPDU on an edge port without guard as a bridge behind it: the port leaves the edge role", () => {
    const { net, a, events } = ring();
    net.runUntil(1 * S);
    net.inject(a, ETH5, bpdu());
    net.runUntil(net.nowNs + 1 * MS);
    expect(events.some((e) => e.sw === "sw1" && e.kind === "edge-lost" && e.port === "eth5")).toBe(true);
    // The foreign bridge has priority 0: it is the root now, through eth5.
    expect(a.stpStatus()!.rootPort).toBe("eth5");
  });

  it("a non-edge host port waits for forward delay (no agreement comes from a host)", () => {
    const { net, a } = ring({ isEdge: false });
    net.runUntil(1 * S);
    expect(a.stpStatus()!.ports.find((p) => p.port === "eth5")!.state).toBe("discarding");
    net.unconnected.length = 0;
    net.inject(a, ETH5, arp(HA));
    net.runUntil(net.nowNs + 1 * MS);
    expect(a.drops.get(SwitchDrop.stpDiscarding)).toBe(1);
    net.runUntil(16 * S);
    expect(a.stpStatus()!.ports.find((p) => p.port === "eth5")!.state).toBe("learning");
    net.inject(a, ETH5, arp(HA));
    net.runUntil(net.nowNs + 1 * MS);
    expect(a.drops.get(SwitchDrop.stpLearning)).toBe(1);
    expect(a.macTable.lookup(10, HA, net.nowNs)).toBe(ETH5);
    net.runUntil(31 * S);
    expect(a.stpStatus()!.ports.find((p) => p.port === "eth5")!.state).toBe("forwarding");
  });
});

describe("LAGs and STP off", () => {
  it("a LAG is one spanning-tree port: a LAG and a cable in parallel, one of them blocked", () => {
    const net = new TestNet(1, 1000);
    const mk = (n: number) =>
      net.add(
        new PhysicalSwitch({
          name: `sw${n}`,
          mac: mac(`02:5e:00:00:00:0${n}`),
          ports: [
            { name: "po1", mode: "trunk", vlans: [10] },
            { name: "eth3", mode: "trunk", vlans: [10] },
            { name: "eth5", mode: "access", vlan: 10, isEdge: true },
          ],
          lags: [{ name: "po1", members: ["eth1", "eth2"], lacp: "off" }],
          stp: { mode: "rstp" },
        }),
      );
    const [a, b] = [mk(1), mk(2)];
    // Device ports: eth1 = 0, eth2 = 1 (po1), eth3 = 2, eth5 = 3.
    net.connect(a, 0, b, 0);
    net.connect(a, 1, b, 1);
    net.connect(a, 2, b, 2);
    net.start();
    net.runUntil(1 * S);
    const st = b.stpStatus()!;
    // The LAG's path cost is lower (two 10 Gb/s members): it is the root port, the cable the alternate.
    expect(st.ports.map((p) => `${p.port} ${p.role} ${p.state} ${p.pathCost}`)).toEqual([
      "po1 root forwarding 1000",
      "eth3 alternate discarding 2000",
      "eth5 designated forwarding 2000",
    ]);
    net.unconnected.length = 0;
    net.inject(a, 3, arp(HC));
    net.runUntil(net.nowNs + 10 * MS);
    expect(hostDeliveries(net)).toEqual(["sw2:eth5"]);
    // Both members down: the LAG's STP port goes down and the cable takes over.
    net.setLinkUp(a, 0, false);
    net.setLinkUp(a, 1, false);
    net.runUntil(net.nowNs + 100 * MS);
    expect(b.stpStatus()!.rootPort).toBe("eth3");
    net.unconnected.length = 0;
    net.inject(a, 3, arp(HC));
    net.runUntil(net.nowNs + 10 * MS);
    expect(hostDeliveries(net)).toEqual(["sw2:eth5"]);
  });

  it("without STP, a BPDU is refused as a reserved address and nothing else changes", () => {
    const net = new TestNet(1, 1000);
    const sw = net.add(
      new PhysicalSwitch({
        name: "sw1",
        mac: mac("02:5e:00:00:00:01"),
        ports: [
          { name: "eth1", mode: "access", vlan: 10 },
          { name: "eth2", mode: "access", vlan: 10 },
        ],
      }),
    );
    net.start();
    expect(sw.stpStatus()).toBeNull();
    const f = Frame.alloc(STP_FRAME_LEN);
    Stp.emitFrame(
      {
        type: "rst",
        version: 2,
        flags: 0,
        rootId: { priority: 0, systemIdExtension: 0, mac: 2 },
        rootPathCost: 0,
        bridgeId: { priority: 0, systemIdExtension: 0, mac: 2 },
        portId: { priority: 128, number: 1 },
        messageAgeS: 0,
        maxAgeS: 20,
        helloTimeS: 2,
        forwardDelayS: 15,
      },
      f.buf,
      f.start,
      2,
    );
    net.inject(sw, 0, f);
    net.run();
    expect(sw.drops.get(SwitchDrop.linkLocal)).toBe(1);
    expect(net.unconnected).toEqual([]);
  });
});
