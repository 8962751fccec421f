import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { MAC_BROADCAST } from "../wire/addr.ts";
import { ArpOp } from "../wire/arp.ts";
import { ETHERNET_HEADER_LEN } from "../wire/ethernet.ts";
import { ICMP_HEADER_LEN } from "../wire/icmp.ts";
import { IPV4_HEADER_LEN, IpProtocol, Ipv4Header } from "../wire/ipv4.ts";
import { DeviceConfigError } from "./config-error.ts";
import { DropCounters, newPortCounters } from "./counters.ts";
import type { Device, DeviceEnv } from "./device.ts";
import { Frame } from "./frame.ts";
import type { PingResult } from "./ip-host.ts";
import { arpFrame, decodeChecked, echoRequestFrame, ip, ipv4Frame, mac } from "./ip-testing.ts";
import { type SviConfig, SviRouter } from "./router.ts";
import type { SviHost } from "./svi.ts";
import { RecordingEnv, TestNet, toHex } from "./testing.ts";
import type { TracerouteResult } from "./traceroute.ts";
import { Vm } from "./vm.ts";

const SW_MAC = mac("02:00:00:00:fe:01");
const GW10 = ip("192.168.10.1");
const GW20 = ip("192.168.20.1");
const VM1_MAC = mac("02:00:00:00:10:11");
const VM1_IP = ip("192.168.10.11");
const VM2_MAC = mac("02:00:00:00:20:12");
const VM2_IP = ip("192.168.20.12");
const S = 1_000_000_000;

const SVIS: SviConfig[] = [
  { vid: 10, ip: GW10, prefixLen: 24 },
  { vid: 20, ip: GW20, prefixLen: 24 },
];

class FakeSwitch implements SviHost {
  readonly name = "tor1";
  readonly mac = SW_MAC;
  readonly sent: { vid: number; frame: Frame; timeNs: number }[] = [];
  sendFromSvi(vid: number, frame: Frame, nowNs: number): void {
    this.sent.push({ vid, frame, timeNs: nowNs });
  }
  /** Routed ports are sent as VLAN -1 - port, so a test tells them from SVIs. */
  sendFromRoutedPort(port: number, frame: Frame, nowNs: number): void {
    this.sent.push({ vid: -1 - port, frame, timeNs: nowNs });
  }
  take() {
    return this.sent.splice(0, this.sent.length);
  }
}

function newRouter(svis: SviConfig[] = SVIS) {
  const sw = new FakeSwitch();
  const router = new SviRouter(sw, svis);
  const env = new RecordingEnv();
  router.bind(env);
  router.start(0);
  const announcements = sw.take();
  env.takeRecords();
  return { sw, router, env, announcements };
}

/** VM2 asks for its gateway: the router learns VM2 (and answers). */
function primeVm2(router: SviRouter, sw: FakeSwitch, env: RecordingEnv): void {
  router.receiveOnSvi(
    20,
    arpFrame({ op: ArpOp.Request, dst: MAC_BROADCAST, senderMac: VM2_MAC, senderIp: VM2_IP, targetIp: GW20 }),
    env.nowNs,
  );
  sw.take();
  env.takeRecords();
}

function arpReplyFromVm1(): Frame {
  return arpFrame({
    op: ArpOp.Reply,
    dst: SW_MAC,
    senderMac: VM1_MAC,
    senderIp: VM1_IP,
    targetMac: SW_MAC,
    targetIp: GW10,
  });
}

function fromVm2(
  dst: number,
  opts: { ttl?: number; dataLen?: number; isDontFragment?: boolean } = {},
): Frame {
  return echoRequestFrame({ srcMac: VM2_MAC, dstMac: SW_MAC, src: VM2_IP, dst, id: 5, seq: 1, ...opts });
}

describe("router: ARP on the SVIs", () => {
  it("announces each SVI address on its VLAN with the switch's MAC", () => {
    const { announcements } = newRouter();
    expect(announcements.map((s) => [s.vid, decodeChecked(s.frame).arp])).toEqual([
      [10, { op: ArpOp.Request, senderMac: SW_MAC, senderIp: GW10, targetMac: 0, targetIp: GW10 }],
      [20, { op: ArpOp.Request, senderMac: SW_MAC, senderIp: GW20, targetMac: 0, targetIp: GW20 }],
    ]);
  });

  it("answers ARP for the SVI address of the VLAN asked on, not for another VLAN's", () => {
    const { sw, router, env } = newRouter();
    router.receiveOnSvi(
      20,
      arpFrame({
        op: ArpOp.Request,
        dst: MAC_BROADCAST,
        senderMac: VM2_MAC,
        senderIp: VM2_IP,
        targetIp: GW20,
      }),
      0,
    );
    const sent = sw.take();
    expect(sent).toHaveLength(1);
    expect(sent[0].vid).toBe(20);
    expect(toHex(sent[0].frame)).toBe(
      "02000000201202000000fe01" +
        "0806" +
        "0001080006040002" +
        "02000000fe01c0a81401" +
        "020000002012c0a8140c",
    );
    expect(env.traceLines()).toEqual([
      "tor1 gateway deliver vlan20>- vlan 20: ARP who-has 192.168.20.1 tell 192.168.20.12",
      "tor1 gateway reply ->vlan20 vlan 20: ARP reply 192.168.20.1 is-at 02:00:00:00:fe:01",
    ]);
    router.receiveOnSvi(
      20,
      arpFrame({
        op: ArpOp.Request,
        dst: MAC_BROADCAST,
        senderMac: VM2_MAC,
        senderIp: VM2_IP,
        targetIp: GW10,
      }),
      0,
    );
    expect(sw.take()).toEqual([]);
    expect(router.drops.get("arp-not-for-us")).toBe(1);
  });
});

describe("router: forwarding", () => {
  it("routes vlan 20 -> vlan 10 after ARP, TTL 64 -> 63 with a valid incremental checksum", () => {
    const { sw, router, env } = newRouter();
    const packet = fromVm2(VM1_IP);
    const original = packet.bytes().slice(ETHERNET_HEADER_LEN);
    router.receiveOnSvi(20, packet, 1000);
    let sent = sw.take();
    expect(sent).toHaveLength(1);
    expect(sent[0].vid).toBe(10);
    expect(decodeChecked(sent[0].frame).arp).toEqual({
      op: ArpOp.Request,
      senderMac: SW_MAC,
      senderIp: GW10,
      targetMac: 0,
      targetIp: VM1_IP,
    });
    expect(router.neighborTable(1000)).toEqual([
      { interface: "vlan10", ip: VM1_IP, mac: null, state: "incomplete", queuedFrames: 1 },
    ]);
    router.receiveOnSvi(10, arpReplyFromVm1(), 2000);
    sent = sw.take();
    expect(sent).toHaveLength(1);
    expect(sent[0].vid).toBe(10);
    const d = decodeChecked(sent[0].frame); // header checksum verified
    expect(d.eth).toEqual({ dst: VM1_MAC, src: SW_MAC, etherType: 0x0800 });
    expect(d.ip).toMatchObject({ src: VM2_IP, dst: VM1_IP, ttl: 63 });
    // Only the TTL and the checksum changed.
    const out = sent[0].frame.bytes().slice(ETHERNET_HEADER_LEN);
    const changed = [...out].flatMap((b, i) => (b !== original[i] ? [i] : []));
    expect(changed.every((i) => i === 8 || i === 10 || i === 11)).toBe(true);
    expect(out[8]).toBe(63);
    expect(router.stats.ipForwarded).toBe(1);
    expect(env.traceLines()).toEqual([
      "tor1 gateway route vlan20>vlan10 vlan 20: routed vlan 20 -> vlan 10 (192.168.20.12 -> 192.168.10.11), ttl 64 -> 63",
      "tor1 gateway send ->vlan10 vlan 10: ARP who-has 192.168.10.11 on vlan 10 tell 192.168.10.1",
      "tor1 gateway deliver vlan10>- vlan 10: ARP reply 192.168.10.11 is-at 02:00:00:00:10:11",
    ]);
  });

  it("sends time exceeded quoting the datagram as it arrived (RFC 792, RFC 1812 §5.3.1)", () => {
    const { sw, router, env } = newRouter();
    primeVm2(router, sw, env);
    const packet = fromVm2(VM1_IP, { ttl: 1 });
    const original = packet.bytes().slice(ETHERNET_HEADER_LEN);
    router.receiveOnSvi(20, packet, 0);
    const sent = sw.take();
    expect(sent).toHaveLength(1);
    expect(sent[0].vid).toBe(20);
    const d = decodeChecked(sent[0].frame);
    expect(d.eth).toEqual({ dst: VM2_MAC, src: SW_MAC, etherType: 0x0800 });
    expect(d.ip).toMatchObject({ src: GW20, dst: VM2_IP, protocol: IpProtocol.ICMP, ttl: 64 });
    expect(d.icmp).toMatchObject({ kind: "time-exceeded", code: 0 });
    expect(sent[0].frame.bytes().slice(ETHERNET_HEADER_LEN + IPV4_HEADER_LEN + ICMP_HEADER_LEN)).toEqual(
      original,
    );
    expect(router.drops.get("ttl-exceeded")).toBe(1);
    expect(env.traceLines()).toEqual([
      "tor1 gateway drop vlan20>- vlan 20: dropped: ttl exceeded",
      "tor1 gateway reply ->vlan20 vlan 20: ICMP Time to live exceeded 192.168.20.1 -> 192.168.20.12",
    ]);
  });

  it("answers host unreachable for the queued packets when ARP on the egress VLAN fails", () => {
    const { sw, router, env } = newRouter();
    primeVm2(router, sw, env);
    const ghost = ip("192.168.10.99");
    router.receiveOnSvi(20, fromVm2(ghost), 0);
    router.receiveOnSvi(20, fromVm2(ghost), 0);
    env.advanceTo(3 * S);
    const sent = sw.take();
    expect(sent.map((s) => [s.vid, s.timeNs])).toEqual([
      [10, 0],
      [10, S],
      [10, 2 * S],
      [20, 3 * S],
      [20, 3 * S],
    ]);
    const err = decodeChecked(sent[3].frame);
    expect(err.ip).toMatchObject({ src: GW20, dst: VM2_IP });
    expect(err.icmp).toMatchObject({ kind: "dest-unreachable", code: 1 });
    // The quote is the packet as it waited: already forwarded once, TTL 63.
    expect(err.icmp?.kind === "dest-unreachable" && err.icmp.original).toMatchObject({
      src: VM2_IP,
      dst: ghost,
      ttl: 63,
    });
    expect(router.drops.get("arp-failed")).toBe(2);
  });

  it("packets larger than the egress MTU: frag needed with the MTU when DF is set, else fragments", () => {
    const { sw, router, env } = newRouter([{ vid: 10, ip: GW10, prefixLen: 24, mtu: 1400 }, SVIS[1]]);
    primeVm2(router, sw, env);
    router.receiveOnSvi(20, fromVm2(VM1_IP, { dataLen: 1472 }), 0);
    const sent = sw.take();
    expect(sent).toHaveLength(1);
    const d = decodeChecked(sent[0].frame);
    expect(d.icmp).toMatchObject({ kind: "dest-unreachable", code: 4, nextHopMtu: 1400 });
    expect(d.ip?.payloadLength).toBe(ICMP_HEADER_LEN + 548); // quote capped at 576 bytes in all
    expect(router.drops.get("frag-needed")).toBe(1);
    // 1400 bytes exactly fit (queued behind ARP for VM1).
    router.receiveOnSvi(20, fromVm2(VM1_IP, { dataLen: 1372 }), 0);
    expect(decodeChecked(sw.take()[0].frame).arp?.targetIp).toBe(VM1_IP);
    // Without DF: fragmented after the TTL decrement (RFC 1812 §5.2.6).
    const big = fromVm2(VM1_IP, { dataLen: 1472, isDontFragment: false });
    const payload = big.bytes().slice(ETHERNET_HEADER_LEN + IPV4_HEADER_LEN);
    router.receiveOnSvi(20, big, 0);
    router.receiveOnSvi(10, arpReplyFromVm1(), 0);
    const fragSent = sw.take();
    const out = fragSent.map((s) => decodeChecked(s.frame));
    expect(out.map((d) => d.ip?.payloadLength)).toEqual([1372 + 8, 1376, 104]);
    const frags = out.slice(1).map((d) => d.ip!);
    expect(frags.map((ip) => [ip.fragmentOffsetBytes, ip.moreFragments, ip.dontFragment, ip.ttl])).toEqual([
      [0, true, false, 63],
      [1376, false, false, 63],
    ]);
    expect(frags[0].ident).toBe(frags[1].ident);
    const joined = [...fragSent[1].frame.bytes().slice(34), ...fragSent[2].frame.bytes().slice(34)];
    expect(joined).toEqual([...payload]);
    expect(router.stats.ipFragmentsCreated).toBe(2);
    expect(env.traceLines().filter((l) => l.includes("fragmented"))).toEqual([
      "tor1 gateway route vlan20>vlan10 vlan 20: routed vlan 20 -> vlan 10 (192.168.20.12 -> 192.168.10.11), ttl 64 -> 63, fragmented into 2 for MTU 1400",
    ]);
  });

  it("rate-limits ICMP errors like Linux: 6 per destination in a burst, then one a second", () => {
    const { sw, router, env } = newRouter([{ vid: 10, ip: GW10, prefixLen: 24, mtu: 1400 }, SVIS[1]]);
    primeVm2(router, sw, env);
    for (let i = 0; i < 10; i++) router.receiveOnSvi(20, fromVm2(VM1_IP, { ttl: 1 }), 0);
    expect(sw.take()).toHaveLength(6);
    expect(router.stats.icmpErrorsRateLimited).toBe(4);
    expect(router.drops.get("ttl-exceeded")).toBe(10);
    env.advanceTo(S / 2);
    router.receiveOnSvi(20, fromVm2(VM1_IP, { ttl: 1 }), env.nowNs);
    expect(sw.take()).toHaveLength(0);
    env.advanceTo(S);
    router.receiveOnSvi(20, fromVm2(VM1_IP, { ttl: 1 }), env.nowNs);
    expect(sw.take()).toHaveLength(1);
    // Fragmentation needed is never limited: path MTU discovery depends on it.
    for (let i = 0; i < 10; i++) router.receiveOnSvi(20, fromVm2(VM1_IP, { dataLen: 1472 }), env.nowNs);
    expect(sw.take()).toHaveLength(10);
    expect(env.traceLines().filter((l) => l.includes("rate limit"))[0]).toBe(
      "tor1 gateway drop vlan20>- vlan 20: ICMP Time to live exceeded to 192.168.20.12 not sent: rate limit",
    );
  });

  it("forwards a packet back into its own VLAN and sends the sender a host redirect", () => {
    const { sw, router, env } = newRouter();
    const peer = ip("192.168.10.12");
    const peerMac = mac("02:00:00:00:10:12");
    for (const [m, a] of [
      [VM1_MAC, VM1_IP],
      [peerMac, peer],
    ]) {
      router.receiveOnSvi(
        10,
        arpFrame({ op: ArpOp.Request, dst: MAC_BROADCAST, senderMac: m, senderIp: a, targetIp: GW10 }),
        0,
      );
    }
    sw.take();
    // VM1 (with a wrong /32 mask, say) sends to its neighbour through the gateway.
    router.receiveOnSvi(
      10,
      echoRequestFrame({ srcMac: VM1_MAC, dstMac: SW_MAC, src: VM1_IP, dst: peer, id: 1, seq: 1 }),
      env.nowNs,
    );
    const sent = sw.take().map((s) => [s.vid, decodeChecked(s.frame)] as const);
    expect(sent).toHaveLength(2);
    const [redirect, forwarded] = sent;
    expect(redirect[0]).toBe(10);
    expect(redirect[1].ip).toMatchObject({ src: GW10, dst: VM1_IP });
    expect(redirect[1].icmp).toMatchObject({ kind: "redirect", code: 1, gateway: peer });
    expect(forwarded[1].eth.dst).toBe(peerMac);
    expect(forwarded[1].ip?.ttl).toBe(63);
  });

  it("answers net unreachable when no SVI covers the destination", () => {
    const { sw, router, env } = newRouter();
    primeVm2(router, sw, env);
    router.receiveOnSvi(20, fromVm2(ip("10.1.2.3")), 0);
    const d = decodeChecked(sw.take()[0].frame);
    expect(d.ip).toMatchObject({ src: GW20, dst: VM2_IP });
    expect(d.icmp).toMatchObject({ kind: "dest-unreachable", code: 0 });
    expect(router.drops.get("no-route")).toBe(1);
  });

  it("answers pings to its SVI addresses, from the address pinged", () => {
    const { sw, router, env } = newRouter();
    primeVm2(router, sw, env);
    router.receiveOnSvi(20, fromVm2(GW20), 0);
    router.receiveOnSvi(20, fromVm2(GW10), 0);
    const [a, b] = sw.take();
    expect(a.vid).toBe(20);
    expect(decodeChecked(a.frame).ip).toMatchObject({ src: GW20, dst: VM2_IP });
    expect(decodeChecked(a.frame).icmp).toMatchObject({ kind: "echo-reply", ident: 5, seq: 1 });
    expect(b.vid).toBe(20);
    expect(decodeChecked(b.frame).ip).toMatchObject({ src: GW10, dst: VM2_IP });
    expect(router.stats.ipForwarded).toBe(0);
  });

  it("does not route broadcasts, multicast, martians or frames for another MAC", () => {
    const { sw, router, env } = newRouter();
    primeVm2(router, sw, env);
    router.receiveOnSvi(20, fromVm2(ip("192.168.10.255")), 0);
    router.receiveOnSvi(20, fromVm2(ip("224.0.0.5")), 0);
    router.receiveOnSvi(20, fromVm2(ip("127.0.0.1")), 0);
    const notForUs = fromVm2(VM1_IP);
    notForUs.buf[notForUs.start + 5] = 0x99; // destination MAC changed
    router.receiveOnSvi(20, notForUs, 0);
    router.receiveOnSvi(30, fromVm2(VM1_IP), 0);
    expect(sw.take()).toEqual([]);
    expect(router.drops.entries()).toEqual([
      ["directed-broadcast", 1],
      ["martian-destination", 1],
      ["multicast-not-routed", 1],
      ["no-svi", 1],
      ["not-our-mac", 1],
    ]);
  });

  it("checks its configuration", () => {
    const sw = new FakeSwitch();
    expect(() => new SviRouter(sw, [{ vid: 4095, ip: GW10, prefixLen: 24 }])).toThrow(DeviceConfigError);
    expect(() => new SviRouter(sw, [SVIS[0], { ...SVIS[1], vid: 10 }])).toThrow(/two SVIs on VLAN 10/);
  });
});

/** A switch for the test: port 0 is an access port of VLAN 10, port 1 of VLAN 20, one host each. */
class TwoVlanSwitch implements Device, SviHost {
  readonly kind = "switch" as const;
  readonly name = "tor1";
  readonly mac = SW_MAC;
  readonly portNames = ["eth1", "eth2"];
  readonly portCounters = [newPortCounters(), newPortCounters()];
  readonly drops = new DropCounters();
  readonly processingDelayNs = 1_000;
  readonly router = new SviRouter(this, SVIS);
  private env: DeviceEnv | null = null;
  bind(env: DeviceEnv): void {
    this.env = env;
    this.router.bind(env);
  }
  start(nowNs: number): void {
    this.router.start(nowNs);
  }
  receive(port: number, frame: Frame, nowNs: number): void {
    // Nothing to bridge with one host per VLAN: every frame is the SVI's business.
    this.router.receiveOnSvi(port === 0 ? 10 : 20, frame, nowNs);
  }
  sendFromSvi(vid: number, frame: Frame): void {
    this.env?.transmit(vid === 10 ? 0 : 1, frame);
  }
}

describe("router: end to end between two VMs", () => {
  it("ping vm1 -> vm2 across VLANs: ARP for the gateway, routed both ways, TTL 63 on arrival", () => {
    const net = new TestNet(1, 1_000);
    const vm1 = net.add(
      new Vm({ name: "vm1", nics: [{ mac: VM1_MAC, ip: VM1_IP, prefixLen: 24, gateway: GW10 }] }),
    );
    const vm2 = net.add(
      new Vm({ name: "vm2", nics: [{ mac: VM2_MAC, ip: VM2_IP, prefixLen: 24, gateway: GW20 }] }),
    );
    const sw = net.add(new TwoVlanSwitch());
    net.connect(vm1, 0, sw, 0);
    net.connect(vm2, 0, sw, 1);
    net.isTracing = false;
    net.start();
    net.run();
    net.isTracing = true;
    const results: PingResult[] = [];
    vm1.ping(VM2_IP, { id: 1, seq: 1 }, net.nowNs, (r) => results.push(r));
    net.runUntil(net.nowNs + 1_000_000);
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({ kind: "reply", from: VM2_IP, ttl: 63, isDataIntact: true });
    for (const t of net.transmitted) decodeChecked(t.frame);
    const routed = net.traceLines().filter((l) => l.includes(" route "));
    expect(routed).toEqual([
      "tor1 gateway route vlan10>vlan20 vlan 10: routed vlan 10 -> vlan 20 (192.168.10.11 -> 192.168.20.12), ttl 64 -> 63",
      "tor1 gateway route vlan20>vlan10 vlan 20: routed vlan 20 -> vlan 10 (192.168.20.12 -> 192.168.10.11), ttl 64 -> 63",
    ]);
    // vm1's traceroute-like probe with TTL 1 dies at the gateway.
    vm1.ping(VM2_IP, { id: 1, seq: 2, ttl: 1 }, net.nowNs, (r) => results.push(r));
    net.runUntil(net.nowNs + 1_000_000);
    expect(results[1]).toMatchObject({ kind: "error", from: GW10, text: "Time to live exceeded" });
    // A host that does not exist on vlan 20: the gateway's ARP fails after 3 s.
    vm1.ping(ip("192.168.20.99"), { id: 1, seq: 3 }, net.nowNs, (r) => results.push(r));
    net.runUntil(net.nowNs + 4 * S);
    expect(results[2]).toMatchObject({ kind: "error", from: GW10, text: "Destination Host Unreachable" });
  });

  it("traceroute vm1 -> vm2: the gateway, then the destination; to a ghost: the gateway, then !H", () => {
    const net = new TestNet(1, 1_000);
    const vm1 = net.add(
      new Vm({ name: "vm1", nics: [{ mac: VM1_MAC, ip: VM1_IP, prefixLen: 24, gateway: GW10 }] }),
    );
    const vm2 = net.add(
      new Vm({ name: "vm2", nics: [{ mac: VM2_MAC, ip: VM2_IP, prefixLen: 24, gateway: GW20 }] }),
    );
    const sw = net.add(new TwoVlanSwitch());
    net.connect(vm1, 0, sw, 0);
    net.connect(vm2, 0, sw, 1);
    net.isTracing = false;
    net.start();
    net.run();
    const done: TracerouteResult[] = [];
    expect(vm1.traceroute(VM2_IP, {}, net.nowNs, (r) => done.push(r))).toBeNull();
    net.runUntil(net.nowNs + S);
    expect(done).toHaveLength(1);
    expect(done[0].isReached).toBe(true);
    expect(done[0].hops.map((h) => [h.ttl, h.probes.map((p) => [p.from, p.annotation])])).toEqual([
      [
        1,
        [
          [GW10, ""],
          [GW10, ""],
          [GW10, ""],
        ],
      ],
      [
        2,
        [
          [VM2_IP, ""],
          [VM2_IP, ""],
          [VM2_IP, ""],
        ],
      ],
    ]);
    expect(done[0].hops[1].probes.every((p) => p.rttNs > 0)).toBe(true);
    const ghost = ip("192.168.20.99");
    vm1.traceroute(ghost, { probesPerHop: 1 }, net.nowNs, (r) => done.push(r));
    net.runUntil(net.nowNs + 10 * S);
    expect(done[1].isReached).toBe(false);
    expect(done[1].hops.map((h) => h.probes.map((p) => [p.from, p.annotation]))).toEqual([
      [[GW10, ""]],
      [[GW10, "!H"]],
    ]);
    // Nothing answers at all: stars until maxHops.
    vm2.setPortUp(0, false, net.nowNs);
    vm1.traceroute(VM2_IP, { probesPerHop: 1, maxHops: 3, timeoutNs: S }, net.nowNs, (r) => done.push(r));
    net.runUntil(net.nowNs + 10 * S);
    expect(done[2].hops.map((h) => h.probes[0].from)).toEqual([GW10, null, null]);
  });
});

describe("router: properties", () => {
  test.prop([fc.uint8Array({ minLength: 0, maxLength: 120 }), fc.constantFrom(10, 20, 30)])(
    "any bytes on an SVI are handled or dropped with a reason, never thrown",
    (bytes, vid) => {
      const { router } = newRouter();
      const frame = Frame.fromBytes(bytes);
      if (bytes.length >= 6) frame.buf.set([0x02, 0, 0, 0, 0xfe, 0x01], frame.start);
      const before = router.drops.total + router.stats.ipRxPackets + router.stats.arpRequestsReceived;
      router.receiveOnSvi(vid, frame, 0);
      const after =
        router.drops.total +
        router.stats.ipRxPackets +
        router.stats.arpRequestsReceived +
        router.stats.arpRepliesReceived;
      expect(after).toBeGreaterThan(before);
    },
  );

  test.prop([
    fc.integer({ min: 2, max: 255 }),
    fc.uint8Array({ minLength: 0, maxLength: 1400 }),
    fc.integer({ min: 0, max: 0xffff }),
    fc.integer({ min: 0, max: 255 }),
  ])(
    "a routed packet changes only in TTL (-1) and a checksum that still verifies",
    (ttl, payload, ident, proto) => {
      const { sw, router, env } = newRouter();
      router.receiveOnSvi(
        10,
        arpFrame({
          op: ArpOp.Request,
          dst: MAC_BROADCAST,
          senderMac: VM1_MAC,
          senderIp: VM1_IP,
          targetIp: GW10,
        }),
        0,
      );
      sw.take();
      const packet = ipv4Frame({
        srcMac: VM2_MAC,
        dstMac: SW_MAC,
        src: VM2_IP,
        dst: VM1_IP,
        protocol: proto,
        payload,
        ttl,
        ident,
      });
      const before = packet.bytes().slice(ETHERNET_HEADER_LEN);
      router.receiveOnSvi(20, packet, env.nowNs);
      const [out] = sw.take();
      const after = out.frame.bytes().slice(ETHERNET_HEADER_LEN);
      const ipOut = Ipv4Header.parse(out.frame.bytes(), ETHERNET_HEADER_LEN); // random L4: header only
      expect(ipOut.checksumValid).toBe(true);
      expect(ipOut.ttl).toBe(ttl - 1);
      expect([...after.subarray(12)]).toEqual([...before.subarray(12)]);
      expect([...after.subarray(0, 8)]).toEqual([...before.subarray(0, 8)]);
      expect(after[9]).toBe(before[9]);
    },
  );
});
