/**
 * The VTEP from literal frames: ARP for its gateway, head-end replication, static and learned
 * MAC -> VTEP entries, the outer headers it writes (DF, UDP 4789, source port from the inner
 * flow), decapsulation to the VNI, and every refusal with its code.
 */

import { describe, expect, it } from "vitest";
import { ArpOp } from "../wire/arp.ts";
import { newVxlanDecapInfo, VXLAN_OVERHEAD, vxlanDecapsulate, vxlanEncapsulate } from "../wire/vxlan.ts";
import { DropCounters } from "./counters.ts";
import type { Frame } from "./frame.ts";
import { arpFrame, ip } from "./ip-testing.ts";
import { ethFrame, mac, RecordingEnv } from "./testing.ts";
import { Vtep, VtepDrop } from "./vtep.ts";

const VTEP_MAC = mac("02:00:00:00:0e:11");
const GW_MAC = mac("02:00:00:00:0e:01");
const REMOTE_VM = mac("02:00:00:00:20:02");
const STATIC_VM = mac("02:00:00:00:10:01");
const LOCAL_VM = mac("02:00:00:00:10:0a");

function setup() {
  const env = new RecordingEnv();
  const drops = new DropCounters();
  const out: Frame[] = [];
  const delivered: { vni: number; frame: Frame }[] = [];
  const vtep = new Vtep(
    {
      name: "esx1/vs0",
      mac: VTEP_MAC,
      ip: ip("10.100.0.11"),
      prefixLen: 24,
      gateway: ip("10.100.0.1"),
      drops,
      vnis: [
        { vni: 5001, flood: [ip("10.100.1.12"), ip("10.100.2.13"), ip("10.100.0.11")], isLearning: true },
        { vni: 5010, flood: [], isLearning: false, static: [{ mac: STATIC_VM, vtep: ip("10.100.1.12") }] },
      ],
    },
    (f) => out.push(f),
    (vni, frame) => delivered.push({ vni, frame }),
  );
  vtep.bind(env);
  // The gateway answers the first ARP, so the queued packets go out.
  const resolve = () => {
    const req = out.shift();
    expect(req && (req.buf[req.start + 12] << 8) | req.buf[req.start + 13]).toBe(0x0806);
    vtep.receiveUnderlay(
      arpFrame({
        op: ArpOp.Reply,
        dst: VTEP_MAC,
        senderMac: GW_MAC,
        senderIp: ip("10.100.0.1"),
        targetMac: VTEP_MAC,
        targetIp: ip("10.100.0.11"),
      }),
      env.nowNs,
    );
  };
  return { env, drops, out, delivered, vtep, resolve };
}

/** The outer fields of a VXLAN frame the VTEP sent. */
function outerOf(f: Frame) {
  const info = newVxlanDecapInfo();
  const inner = vxlanDecapsulate(f.buf, f.start, f.end, info);
  const ipAt = f.start + 14;
  return {
    dstMac: f.buf.subarray(f.start, f.start + 6).join(","),
    vni: info.vni,
    dst: info.dstIp,
    src: info.srcIp,
    srcPort: info.srcPort,
    isDf: (f.buf[ipAt + 6] & 0x40) !== 0,
    innerLen: info.innerEnd - inner,
  };
}

/** A VXLAN frame from `fromIp` to our VTEP carrying `inner`. */
function vxlanTo(inner: Frame, vni: number, fromIp: number, toIp = ip("10.100.0.11")): Frame {
  const len = inner.length;
  inner.prepend(VXLAN_OVERHEAD);
  inner.start = vxlanEncapsulate(inner.buf, inner.start + VXLAN_OVERHEAD, len, {
    srcMac: GW_MAC,
    dstMac: VTEP_MAC,
    srcIp: fromIp,
    dstIp: toIp,
    vni,
    ttl: 61,
    dscp: 0,
    dontFragment: true,
    ipId: 7,
    dstPort: 4789,
  });
  return inner;
}

describe("Vtep", () => {
  it("floods a broadcast head-end: one unicast copy per remote VTEP (not itself), after ARP for the gateway", () => {
    const { out, vtep, resolve, env } = setup();
    vtep.send(5001, ethFrame({ dst: "ff:ff:ff:ff:ff:ff", src: LOCAL_VM, etherType: 0x0806, payload: 28 }), 0);
    resolve();
    expect(out.length).toBe(2);
    const o = out.map(outerOf);
    expect(o.map((x) => x.dst)).toEqual([ip("10.100.1.12"), ip("10.100.2.13")]);
    for (const x of o) {
      expect(x).toMatchObject({ vni: 5001, src: ip("10.100.0.11"), isDf: true, innerLen: 42 });
      expect(x.dstMac).toBe("2,0,0,0,14,1");
      expect(x.srcPort).toBeGreaterThanOrEqual(49152);
    }
    expect(env.traceLines()).toContain(
      `esx1/vs0 vswitch send ->vtep: encapsulated in VXLAN VNI 5001 to VTEP 10.100.1.12 (outer UDP 4789, sport ${o[0].srcPort}, head-end replication)`,
    );
  });

  it("different inner flows get different outer source ports (RFC 7348 §5)", () => {
    const { out, vtep, resolve } = setup();
    const ports = new Set<number>();
    vtep.send(5010, ethFrame({ dst: STATIC_VM, src: LOCAL_VM }), 0);
    resolve();
    for (let i = 0; i < 16; i++) vtep.send(5010, ethFrame({ dst: STATIC_VM, src: LOCAL_VM + i + 1 }), 0);
    for (const f of out) ports.add(outerOf(f).srcPort);
    expect(ports.size).toBeGreaterThan(8);
  });

  it("sends known unicast to the static entry's VTEP only, and drops unknown unicast without a flood list", () => {
    const { out, vtep, resolve, drops } = setup();
    vtep.send(5010, ethFrame({ dst: STATIC_VM, src: LOCAL_VM }), 0);
    resolve();
    expect(out.map((f) => outerOf(f).dst)).toEqual([ip("10.100.1.12")]);
    vtep.send(5010, ethFrame({ dst: REMOTE_VM, src: LOCAL_VM }), 0);
    expect(out.length).toBe(1);
    expect(drops.get(VtepDrop.noRemote)).toBe(1);
  });

  it("decapsulates to the VNI, learns the inner source behind the outer source, then sends unicast there", () => {
    const { out, vtep, resolve, delivered, env } = setup();
    const inner = ethFrame({ dst: LOCAL_VM, src: REMOTE_VM, payload: 50 });
    const bytes = inner.bytes().slice();
    vtep.receiveUnderlay(vxlanTo(inner, 5001, ip("10.100.2.13")), 0);
    expect(delivered.map((d) => d.vni)).toEqual([5001]);
    expect(delivered[0].frame.bytes()).toEqual(bytes);
    expect(env.traceLines()).toContain(
      "esx1/vs0 vswitch deliver vtep>-: decapsulated VNI 5001 from 10.100.2.13",
    );
    expect(vtep.remoteOf(5001, REMOTE_VM)).toBe(ip("10.100.2.13"));
    vtep.send(5001, ethFrame({ dst: REMOTE_VM, src: LOCAL_VM }), 0);
    resolve();
    expect(out.map((f) => outerOf(f).dst)).toEqual([ip("10.100.2.13")]);
  });

  it("ages learned entries (300 s by default): an idle entry expires and the MAC is flooded head-end again", () => {
    const { out, vtep, resolve, env } = setup();
    const S = 1e9;
    vtep.receiveUnderlay(vxlanTo(ethFrame({ dst: LOCAL_VM, src: REMOTE_VM }), 5001, ip("10.100.2.13")), 0);
    vtep.send(5001, ethFrame({ dst: REMOTE_VM, src: LOCAL_VM }), 0);
    resolve();
    expect(out.splice(0).map((f) => outerOf(f).dst)).toEqual([ip("10.100.2.13")]);
    // A frame from the MAC at 200 s refreshes the entry: at 499 s it is still known.
    env.advanceTo(200 * S);
    vtep.receiveUnderlay(
      vxlanTo(ethFrame({ dst: LOCAL_VM, src: REMOTE_VM }), 5001, ip("10.100.2.13")),
      env.nowNs,
    );
    env.advanceTo(499 * S);
    vtep.send(5001, ethFrame({ dst: REMOTE_VM, src: LOCAL_VM }), env.nowNs);
    expect(out.splice(0).map((f) => outerOf(f).dst)).toEqual([ip("10.100.2.13")]);
    expect(vtep.table().find((e) => e.vni === 5001)).toMatchObject({
      vtep: ip("10.100.2.13"),
      ageNs: 299 * S,
    });
    // 300 s after the last frame from it, the entry is gone: unknown unicast, one copy per VTEP.
    env.advanceTo(500 * S);
    expect(vtep.remoteOf(5001, REMOTE_VM)).toBeNull();
    vtep.send(5001, ethFrame({ dst: REMOTE_VM, src: LOCAL_VM }), env.nowNs);
    expect(out.splice(0).map((f) => outerOf(f).dst)).toEqual([ip("10.100.1.12"), ip("10.100.2.13")]);
    expect(env.traceLines().at(-1)).toContain("unknown unicast, head-end replication");
  });

  it("ages per VNI (ageing) and never ages static entries", () => {
    const env = new RecordingEnv();
    const out: Frame[] = [];
    const vtep = new Vtep(
      {
        name: "esx1/vs0",
        mac: VTEP_MAC,
        ip: ip("10.100.0.11"),
        prefixLen: 24,
        gateway: ip("10.100.0.1"),
        vnis: [
          {
            vni: 5001,
            flood: [ip("10.100.1.12"), ip("10.100.2.13")],
            isLearning: true,
            ageingNs: 10e9,
            static: [{ mac: STATIC_VM, vtep: ip("10.100.1.12") }],
          },
        ],
      },
      (f) => out.push(f),
      () => {},
    );
    vtep.bind(env);
    vtep.receiveUnderlay(vxlanTo(ethFrame({ dst: LOCAL_VM, src: REMOTE_VM }), 5001, ip("10.100.2.13")), 0);
    env.advanceTo(9e9);
    expect(vtep.remoteOf(5001, REMOTE_VM)).toBe(ip("10.100.2.13"));
    env.advanceTo(10e9);
    expect(vtep.remoteOf(5001, REMOTE_VM)).toBeNull();
    env.advanceTo(1e15);
    expect(vtep.remoteOf(5001, STATIC_VM)).toBe(ip("10.100.1.12"));
    expect(vtep.table()).toEqual([
      { vni: 5001, mac: STATIC_VM, vtep: ip("10.100.1.12"), isStatic: true, ageNs: 0 },
    ]);
  });

  it("does not learn on a VNI with learning off, nor over a static entry", () => {
    const { vtep, delivered } = setup();
    vtep.receiveUnderlay(vxlanTo(ethFrame({ dst: LOCAL_VM, src: REMOTE_VM }), 5010, ip("10.100.2.13")), 0);
    vtep.receiveUnderlay(vxlanTo(ethFrame({ dst: LOCAL_VM, src: STATIC_VM }), 5010, ip("10.100.2.13")), 0);
    expect(delivered.length).toBe(2);
    expect(vtep.remoteOf(5010, REMOTE_VM)).toBeNull();
    expect(vtep.remoteOf(5010, STATIC_VM)).toBe(ip("10.100.1.12"));
  });

  it("drops an unknown VNI, a broken outer header and a frame too big to encapsulate, each with its code", () => {
    const { vtep, delivered, drops, env } = setup();
    vtep.receiveUnderlay(vxlanTo(ethFrame({ dst: LOCAL_VM, src: REMOTE_VM }), 7777, ip("10.100.2.13")), 0);
    expect(drops.get(VtepDrop.unknownVni)).toBe(1);
    expect(env.traceLines()).toContain(
      "esx1/vs0 vswitch drop vtep>-: dropped: VXLAN VNI 7777 from 10.100.2.13 is not carried by this VTEP",
    );
    const bad = vxlanTo(ethFrame({ dst: LOCAL_VM, src: REMOTE_VM }), 5001, ip("10.100.2.13"));
    bad.buf[bad.start + 14 + 10] ^= 0xff; // the outer IPv4 checksum
    vtep.receiveUnderlay(bad, 0);
    expect(drops.get(VtepDrop.malformed)).toBe(1);
    vtep.send(5001, ethFrame({ dst: "ff:ff:ff:ff:ff:ff", src: LOCAL_VM, payload: 1480 }), 0);
    expect(drops.get(VtepDrop.tooBig)).toBe(2);
    vtep.send(4242, ethFrame({ dst: REMOTE_VM, src: LOCAL_VM }), 0);
    expect(drops.get(VtepDrop.unknownVni)).toBe(2);
    expect(delivered.length).toBe(0);
  });

  it("answers ARP and ping for its own address through the shared stack", () => {
    const { vtep, out } = setup();
    vtep.receiveUnderlay(
      arpFrame({
        op: ArpOp.Request,
        dst: 0xffffffffffff,
        senderMac: GW_MAC,
        senderIp: ip("10.100.0.1"),
        targetIp: ip("10.100.0.11"),
      }),
      0,
    );
    expect(out.length).toBe(1);
    const r = out[0];
    expect(r.buf[r.start + 14 + 7]).toBe(2); // ARP reply
  });
});
