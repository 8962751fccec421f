/**
 * Link aggregation on the physical switch and the vswitch, devices back to back (TestNet):
 * a static LAG is one port for learning and flooding (two cables between two switches are not a
 * loop), flows spread by the documented hash, a member's carrier loss moves traffic at once;
 * LACP (IEEE 802.1AX) forms the LAG only between active ends, keeps members of another partner
 * out, and takes a member out when its LACPDUs stop (3 s fast, 90 s slow) though its carrier
 * stays up; a vswitch with teaming policy lacp bonds to a switch's LAG.
 */

import { describe, expect, it } from "vitest";
import { Lacp } from "../wire/lacp.ts";
import { Bundle, lagHash } from "./bundle.ts";
import { Frame } from "./frame.ts";
import { type LagConfig, PhysicalSwitch, SwitchDrop } from "./switch.ts";
import { ethFrame, mac, TestNet } from "./testing.ts";
import { Vswitch } from "./vswitch.ts";

const S = 1e9;
const HA = mac("02:00:00:00:10:0a");
const HB = mac("02:00:00:00:10:0b");
const BCAST = mac("ff:ff:ff:ff:ff:ff");

/** An untagged IPv4/UDP frame (checksums left zero: switches do not read them). */
function udpFrame(
  src: number,
  dst: number,
  srcIp: number,
  dstIp: number,
  sport: number,
  dport: number,
): Frame {
  const p = new Uint8Array(46);
  p[0] = 0x45;
  p[3] = 46;
  p[8] = 64;
  p[9] = 17;
  for (let i = 0; i < 4; i++) {
    p[12 + i] = (srcIp >>> (24 - 8 * i)) & 0xff;
    p[16 + i] = (dstIp >>> (24 - 8 * i)) & 0xff;
  }
  p[20] = sport >> 8;
  p[21] = sport & 0xff;
  p[22] = dport >> 8;
  p[23] = dport & 0xff;
  return ethFrame({ dst, src, payload: p });
}

/** Two switches joined by two cables, both sides a LAG po1 over eth1, eth2; a host port eth5 each. */
function pair(lacpA: LagConfig["lacp"], lacpB: LagConfig["lacp"], rate: "fast" | "slow" = "fast") {
  const net = new TestNet(1, 1000);
  const mk = (name: string, m: string, lacp: LagConfig["lacp"]) =>
    net.add(
      new PhysicalSwitch({
        name,
        mac: mac(m),
        ports: [
          { name: "po1", mode: "trunk", vlans: [10] },
          { name: "eth5", mode: "access", vlan: 10 },
        ],
        lags: [{ name: "po1", members: ["eth1", "eth2"], lacp, rate }],
      }),
    );
  const a = mk("sw1", "02:5e:00:00:00:01", lacpA);
  const b = mk("sw2", "02:5e:00:00:00:02", lacpB);
  // Device ports: eth1 = 0, eth2 = 1 (the LAG's members, where po1 is configured), eth5 = 2.
  net.connect(a, 0, b, 0);
  net.connect(a, 1, b, 1);
  net.start();
  return { net, a, b };
}

const distributing = (sw: PhysicalSwitch) =>
  sw
    .lagSummary()[0]
    .members.filter((m) => m.isDistributing)
    .map((m) => m.name);

describe("bundle and hashes", () => {
  it("chooses among the members that are up and enabled, by hash modulo their count", () => {
    const b = new Bundle("po1", [3, 5, 7]);
    expect([0, 1, 2, 3].map((h) => b.chooseOutput(h))).toEqual([3, 5, 7, 3]);
    b.setMemberUp(5, false);
    expect([0, 1, 2].map((h) => b.chooseOutput(h))).toEqual([3, 7, 3]);
    expect(b.isAdmissible(5)).toBe(false);
    const lacp = new Bundle("po2", [0, 1], true);
    expect(lacp.chooseOutput(0)).toBe(-1);
    lacp.setMemberEnabled(1, true);
    expect(lacp.chooseOutput(0)).toBe(1);
    expect(lacp.isAdmissible(0)).toBe(false);
  });

  it("computes the Linux bonding layer2, layer2+3 and layer3+4 formulas", () => {
    const f = udpFrame(HA, HB, 0x0a000001, 0x0a000002, 1000, 2000);
    const b = f.buf;
    const s = f.start;
    const l2 = b[s + 5] ^ b[s + 11] ^ 0x0800;
    expect(lagHash("l2", b, s, f.length)).toBe(l2);
    let h = (l2 ^ 0x0a000001 ^ 0x0a000002) >>> 0;
    h ^= h >>> 16;
    h ^= h >>> 8;
    expect(lagHash("l3", b, s, f.length)).toBe(h >>> 0);
    let k = (((1000 << 16) | 2000) ^ 0x0a000001 ^ 0x0a000002) >>> 0;
    k ^= k >>> 16;
    k ^= k >>> 8;
    expect(lagHash("l3l4", b, s, f.length)).toBe((k >>> 0) >>> 1);
    // A tag is stepped over: the same frame tagged hashes the same.
    f.pushVlanTag(10);
    expect(lagHash("l3l4", f.buf, f.start, f.length)).toBe((k >>> 0) >>> 1);
    // Not IPv4: layer2.
    const arp = ethFrame({ dst: BCAST, src: HA, etherType: 0x0806, payload: 28 });
    expect(lagHash("l3l4", arp.buf, arp.start, arp.length)).toBe(
      arp.buf[arp.start + 5] ^ arp.buf[arp.start + 11] ^ 0x0806,
    );
  });
});

describe("a static LAG between two switches", () => {
  it("is one port: a broadcast crosses once (no loop), and comes out of the far host port once", () => {
    const { net, a, b } = pair("off", "off");
    net.inject(a, 2, ethFrame({ dst: BCAST, src: HA, etherType: 0x0806, payload: 28 }));
    net.run();
    const fromA = net.transmitted.filter((t) => t.from === "sw1");
    expect(fromA).toHaveLength(1);
    expect(["eth1", "eth2"]).toContain(fromA[0].port);
    expect(net.unconnected.filter((t) => t.from === "sw2").map((t) => t.port)).toEqual(["eth5"]);
    // Learned on the LAG, not on a member.
    expect(b.macTable.lookup(10, HA, net.nowNs)).toBe(0);
    expect(b.logicalPortName(0)).toBe("po1");
  });

  it("spreads flows over the members by hash, and moves them at once when a member loses carrier", () => {
    const { net, a } = pair("off", "off");
    // sw1 learns HB behind po1.
    net.inject(a, 0, ethFrame({ dst: BCAST, src: HB, tags: [10], etherType: 0x0806, payload: 28 }));
    net.run();
    net.transmitted.length = 0;
    for (let i = 0; i < 32; i++) net.inject(a, 2, udpFrame(HA, HB, 0x0a000001, 0x0a000002, 40000 + i, 80));
    net.run();
    const used = new Set(net.transmitted.filter((t) => t.from === "sw1").map((t) => t.port));
    expect(used).toEqual(new Set(["eth1", "eth2"]));
    net.setLinkUp(a, 1, false);
    net.transmitted.length = 0;
    for (let i = 0; i < 32; i++) net.inject(a, 2, udpFrame(HA, HB, 0x0a000001, 0x0a000002, 40000 + i, 80));
    net.run();
    const after = net.transmitted.filter((t) => t.from === "sw1").map((t) => t.port);
    expect(after).toHaveLength(32);
    expect(new Set(after)).toEqual(new Set(["eth1"]));
    expect(net.lost).toHaveLength(0);
  });
});

describe("LACP", () => {
  it("active-active forms the LAG within a millisecond; LACPDUs are well-formed frames", () => {
    const { net, a, b } = pair("active", "active");
    net.runUntil(1e6);
    expect(distributing(a)).toEqual(["eth1", "eth2"]);
    expect(distributing(b)).toEqual(["eth1", "eth2"]);
    const pdus = net.transmitted.filter((t) => Lacp.isLacpFrame(t.frame.buf, t.frame.start));
    expect(pdus.length).toBeGreaterThan(0);
    for (const p of pdus) {
      expect(p.frame.length).toBe(124);
      const pdu = Lacp.parse(p.frame.buf, p.frame.start + 14);
      expect(pdu.actor.system).toBe(p.from === "sw1" ? mac("02:5e:00:00:00:01") : mac("02:5e:00:00:00:02"));
    }
    const st = a.lacpStatus(net.nowNs)[0];
    expect(st.members.map((m) => m.partner?.system)).toEqual([
      mac("02:5e:00:00:00:02"),
      mac("02:5e:00:00:00:02"),
    ]);
  });

  it("passive-passive never forms: data is refused with a reason on both sides", () => {
    const { net, a, b } = pair("passive", "passive");
    net.runUntil(5 * S);
    expect(distributing(a)).toEqual([]);
    net.inject(a, 2, ethFrame({ dst: BCAST, src: HA, etherType: 0x0806, payload: 28 }));
    net.run(1000);
    expect(a.drops.get(SwitchDrop.noReceiver)).toBe(1);
    net.inject(b, 0, ethFrame({ dst: BCAST, src: HB, tags: [10], etherType: 0x0806, payload: 28 }));
    net.run(1000);
    expect(b.drops.get(SwitchDrop.notCollecting)).toBe(1);
  });

  it("active-passive forms (the passive end answers)", () => {
    const { net, a, b } = pair("active", "passive");
    net.runUntil(1e6);
    expect(distributing(a)).toEqual(["eth1", "eth2"]);
    expect(distributing(b)).toEqual(["eth1", "eth2"]);
  });

  it("a member whose LACPDUs stop (carrier up) leaves within the fast timeout (3 s), traffic moves", () => {
    const { net, a, b } = pair("active", "active", "fast");
    net.runUntil(1e6);
    net.setBlackhole(b, 1, true); // sw2's eth2 stops sending; sw1 still has carrier
    const changes: string[] = [];
    a.onLacpChange = (lag, member, isEnabled, t) =>
      changes.push(`${(t / S).toFixed(3)} ${lag} ${member} ${isEnabled}`);
    net.runUntil(10 * S);
    expect(distributing(a)).toEqual(["eth1"]);
    expect(changes).toHaveLength(1);
    const at = Number(changes[0].split(" ")[0]);
    expect(at).toBeGreaterThan(2);
    expect(at).toBeLessThanOrEqual(3.01); // 3 x the 1 s fast period after the last PDU heard
    expect(changes[0]).toMatch(/po1 eth2 false$/);
    // sw2 sees its partner on eth2 fall out of sync too and stops distributing there.
    expect(distributing(b)).toEqual(["eth1"]);
  });

  it("with the slow rate, the same silent failure takes up to 90 s", () => {
    const { net, a, b } = pair("active", "active", "slow");
    net.runUntil(1e6);
    net.setBlackhole(b, 1, true);
    net.runUntil(60 * S);
    expect(distributing(a)).toEqual(["eth1", "eth2"]);
    net.runUntil(95 * S);
    expect(distributing(a)).toEqual(["eth1"]);
  });

  it("members facing two different partners: only one aggregator's members distribute", () => {
    const net = new TestNet(1, 1000);
    const a = net.add(
      new PhysicalSwitch({
        name: "sw1",
        mac: mac("02:5e:00:00:00:01"),
        ports: [{ name: "po1", mode: "access", vlan: 10 }],
        lags: [{ name: "po1", members: ["eth1", "eth2"], lacp: "active", rate: "fast" }],
      }),
    );
    const far = (name: string, m: string) =>
      net.add(
        new PhysicalSwitch({
          name,
          mac: mac(m),
          ports: [{ name: "po1", mode: "access", vlan: 10 }],
          lags: [{ name: "po1", members: ["eth1"], lacp: "active", rate: "fast" }],
        }),
      );
    const b = far("sw2", "02:5e:00:00:00:02");
    const c = far("sw3", "02:5e:00:00:00:03");
    net.connect(a, 0, b, 0);
    net.connect(a, 1, c, 0);
    net.start();
    net.runUntil(1e6);
    expect(distributing(a)).toEqual(["eth1"]);
    const why = a.lacpStatus(net.nowNs)[0].members[1];
    expect(why.isSelected).toBe(false);
    expect(why.why).toMatch(/partner system or key differs/);
  });

  it("a LACPDU on a port outside any LAG and a BPDU are refused with reasons, never forwarded", () => {
    const net = new TestNet(1, 1000);
    const sw = net.add(
      new PhysicalSwitch({
        name: "sw1",
        mac: mac("02:5e:00:00:00:01"),
        ports: [
          { name: "eth1", mode: "access", vlan: 1 },
          { name: "eth2", mode: "access", vlan: 1 },
        ],
      }),
    );
    const f = Frame.alloc(124);
    Lacp.emitFrame(
      {
        version: 1,
        actor: { systemPriority: 1, system: HA, key: 1, portPriority: 1, port: 1, state: 0x3d },
        partner: { systemPriority: 0, system: 0, key: 0, portPriority: 0, port: 0, state: 0 },
        collectorMaxDelay: 0,
      },
      f.buf,
      f.start,
      HA,
    );
    net.inject(sw, 0, f);
    net.inject(sw, 0, ethFrame({ dst: mac("01:80:c2:00:00:00"), src: HA, etherType: 0x0026, payload: 46 }));
    net.run();
    expect(net.unconnected).toHaveLength(0);
    expect(sw.drops.get(SwitchDrop.lacpOff)).toBe(1);
    expect(sw.drops.get(SwitchDrop.linkLocal)).toBe(1);
  });
});

describe("a vswitch bonded by LACP to a switch's LAG", () => {
  function build() {
    const net = new TestNet(1, 1000);
    const sw = net.add(
      new PhysicalSwitch({
        name: "leaf1",
        mac: mac("02:5e:00:00:00:01"),
        ports: [
          { name: "po1", mode: "trunk", vlans: [10] },
          { name: "eth5", mode: "access", vlan: 10 },
        ],
        lags: [{ name: "po1", members: ["eth1", "eth2"], lacp: "active", rate: "fast" }],
      }),
    );
    const vs = net.add(
      new Vswitch({
        name: "esx1/vs0",
        uplinks: ["uplink:eth0", "uplink:eth1"],
        portGroups: [{ name: "web", vlan: 10 }],
        vmPorts: [
          { name: "vm1", portGroup: "web", mac: HA },
          { name: "vm2", portGroup: "web", mac: mac("02:00:00:00:10:0c") },
        ],
        teaming: { policy: "lacp" },
        lacp: { mode: "active", rate: "fast", system: mac("02:00:00:00:ee:01") },
      }),
    );
    net.connect(vs, 0, sw, 0);
    net.connect(vs, 1, sw, 1);
    net.start();
    return { net, sw, vs };
  }

  it("negotiates, then a broadcast from the switch reaches each VM once (any member is taken)", () => {
    const { net, sw, vs } = build();
    net.runUntil(1e6);
    expect(distributing(sw)).toEqual(["eth1", "eth2"]);
    expect(vs.lacpStatus(net.nowNs)?.map((m) => m.isEnabled)).toEqual([true, true]);
    net.unconnected.length = 0;
    net.inject(sw, 2, ethFrame({ dst: BCAST, src: HB, etherType: 0x0806, payload: 28 }));
    net.run(1000);
    expect(net.unconnected.map((u) => u.port).sort()).toEqual(["vm1", "vm2"]);
  });

  it("without LACP on the vswitch side the switch's LAG never forms", () => {
    const net = new TestNet(1, 1000);
    const sw = net.add(
      new PhysicalSwitch({
        name: "leaf1",
        mac: mac("02:5e:00:00:00:01"),
        ports: [{ name: "po1", mode: "trunk", vlans: [10] }],
        lags: [{ name: "po1", members: ["eth1", "eth2"], lacp: "active", rate: "fast" }],
      }),
    );
    const vs = net.add(
      new Vswitch({
        name: "esx1/vs0",
        uplinks: ["uplink:eth0", "uplink:eth1"],
        portGroups: [{ name: "web", vlan: 10 }],
        vmPorts: [{ name: "vm1", portGroup: "web", mac: HA }],
      }),
    );
    net.connect(vs, 0, sw, 0);
    net.connect(vs, 1, sw, 1);
    net.start();
    net.runUntil(5 * S);
    expect(distributing(sw)).toEqual([]);
    expect(vs.drops.get("lacp-not-running")).toBeGreaterThan(0);
  });
});
