import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { MAC_BROADCAST } from "../wire/addr.ts";
import { ArpOp } from "../wire/arp.ts";
import { ETHERNET_HEADER_LEN } from "../wire/ethernet.ts";
import { ICMP_HEADER_LEN, Icmpv4, Icmpv4Type } from "../wire/icmp.ts";
import { IPV4_HEADER_LEN, IpProtocol, Ipv4Header } from "../wire/ipv4.ts";
import { UDP_HEADER_LEN } from "../wire/udp.ts";
import { DeviceConfigError } from "./config-error.ts";
import { Frame } from "./frame.ts";
import { fragmentIpv4, type PingResult, type UdpDatagram } from "./ip-host.ts";
import {
  arpFrame,
  decodeChecked,
  echoMessage,
  echoRequestFrame,
  ip,
  ipv4Frame,
  mac,
  udpMessage,
} from "./ip-testing.ts";
import { bindRecording, hexFrame, TestNet, toHex } from "./testing.ts";
import { Vm, type VmConfig } from "./vm.ts";

const VM1_MAC = mac("02:00:00:00:10:11");
const VM1_IP = ip("192.168.10.11");
const VM2_MAC = mac("02:00:00:00:10:12");
const VM2_IP = ip("192.168.10.12");
const GW_MAC = mac("02:00:00:00:00:01");
const GW_IP = ip("192.168.10.1");
const S = 1_000_000_000;

function newVm(extra: Partial<VmConfig> = {}, isTracing = true) {
  const vm = new Vm({
    name: "vm1",
    nics: [{ mac: VM1_MAC, ip: VM1_IP, prefixLen: 24, gateway: GW_IP }],
    ...extra,
  });
  const env = bindRecording(vm, { isTracing });
  env.take(); // the gratuitous ARP of start(), tested on its own
  env.takeRecords();
  return { vm, env };
}

function arpReplyFromVm2(): Frame {
  return arpFrame({
    op: ArpOp.Reply,
    dst: VM1_MAC,
    senderMac: VM2_MAC,
    senderIp: VM2_IP,
    targetMac: VM1_MAC,
    targetIp: VM1_IP,
  });
}

function arpRequestFromVm2(targetIp = VM1_IP): Frame {
  return arpFrame({ op: ArpOp.Request, dst: MAC_BROADCAST, senderMac: VM2_MAC, senderIp: VM2_IP, targetIp });
}

describe("vm: ARP", () => {
  it("announces its address with a gratuitous ARP at start (RFC 5227 announcement)", () => {
    const vm = new Vm({ name: "vm1", nics: [{ mac: VM1_MAC, ip: VM1_IP, prefixLen: 24, gateway: GW_IP }] });
    const env = bindRecording(vm);
    const sent = env.take();
    expect(sent).toHaveLength(1);
    expect(sent[0].portName).toBe("eth0");
    expect(toHex(sent[0].frame)).toBe(
      "ffffffffffff020000001011" +
        "0806" +
        "0001080006040001" +
        "020000001011c0a80a0b" +
        "000000000000c0a80a0b",
    );
    expect(env.traceLines()).toEqual([
      "vm1 vm send ->eth0: ARP announcement 192.168.10.11 is-at 02:00:00:00:10:11",
      "vm1 vnic send ->eth0: leaves the guest via eth0 (02:00:00:00:10:11)",
    ]);
  });

  it("resolves the next hop, sends the queued packet, then uses the cache", () => {
    const { vm, env } = newVm();
    const results: PingResult[] = [];
    expect(vm.ping(VM2_IP, { id: 1, seq: 1 }, 0, (r) => results.push(r))).toBeNull();
    let sent = env.take();
    expect(sent).toHaveLength(1);
    const req = decodeChecked(sent[0].frame);
    expect(req.eth).toEqual({ dst: MAC_BROADCAST, src: VM1_MAC, etherType: 0x0806 });
    expect(req.arp).toEqual({
      op: ArpOp.Request,
      senderMac: VM1_MAC,
      senderIp: VM1_IP,
      targetMac: 0,
      targetIp: VM2_IP,
    });
    expect(vm.neighborTable(0)).toEqual([
      { interface: "eth0", ip: VM2_IP, mac: null, state: "incomplete", queuedFrames: 1 },
    ]);

    env.advanceTo(100_000);
    vm.receive(0, arpReplyFromVm2(), env.nowNs);
    sent = env.take();
    expect(sent).toHaveLength(1);
    const echo = decodeChecked(sent[0].frame);
    expect(echo.eth).toEqual({ dst: VM2_MAC, src: VM1_MAC, etherType: 0x0800 });
    expect(echo.ip).toMatchObject({
      src: VM1_IP,
      dst: VM2_IP,
      ttl: 64,
      protocol: IpProtocol.ICMP,
      dontFragment: true,
    });
    expect(echo.icmp).toMatchObject({ kind: "echo-request", ident: 1, seq: 1 });
    expect(echo.icmp?.kind === "echo-request" && echo.icmp.data.length).toBe(56);
    expect(vm.neighborTable(env.nowNs)[0]).toMatchObject({
      mac: VM2_MAC,
      state: "reachable",
      queuedFrames: 0,
    });

    // The peer answers with the same id, seq and data.
    env.advanceTo(300_000);
    const data = echo.icmp?.kind === "echo-request" ? echo.icmp.data : new Uint8Array(0);
    const reply = ipv4Frame({
      srcMac: VM2_MAC,
      dstMac: VM1_MAC,
      src: VM2_IP,
      dst: VM1_IP,
      protocol: IpProtocol.ICMP,
      ttl: 64,
      payload: echoMessage(1, 1, data, Icmpv4Type.EchoReply),
    });
    vm.receive(0, reply, env.nowNs);
    expect(results).toEqual([
      {
        kind: "reply",
        id: 1,
        seq: 1,
        from: VM2_IP,
        rttNs: 300_000,
        ttl: 64,
        sizeBytes: 56,
        isDataIntact: true,
      },
    ]);
    expect(vm.stack.pendingPings).toBe(0);

    // Cached now: the next request leaves at once, no ARP.
    vm.ping(VM2_IP, { id: 1, seq: 2 }, env.nowNs);
    sent = env.take();
    expect(sent).toHaveLength(1);
    expect(decodeChecked(sent[0].frame).icmp).toMatchObject({ kind: "echo-request", seq: 2 });
  });

  it("retries ARP 3 times 1 s apart, then drops with arp-failed and reports host unreachable", () => {
    const { vm, env } = newVm();
    const results: PingResult[] = [];
    const ghost = ip("192.168.10.99");
    vm.ping(ghost, { id: 7, seq: 1 }, 0, (r) => results.push(r));
    env.advanceTo(2_999_999_999);
    const sent = env.take();
    expect(sent.map((s) => s.timeNs)).toEqual([0, S, 2 * S]);
    for (const s of sent) expect(decodeChecked(s.frame).arp?.targetIp).toBe(ghost);
    expect(results).toEqual([]);
    env.takeRecords();
    env.advanceTo(3 * S);
    expect(env.take()).toEqual([]); // the error is looped back inside the guest, not sent
    expect(results).toEqual([
      {
        kind: "error",
        id: 7,
        seq: 1,
        from: VM1_IP,
        icmpType: 3,
        icmpCode: 1,
        mtu: 0,
        text: "Destination Host Unreachable",
      },
    ]);
    expect(vm.drops.get("arp-failed")).toBe(1);
    expect(vm.neighborTable(env.nowNs)).toEqual([]);
    expect(env.traceLines()).toEqual([
      "vm1 vm drop ->-: ARP for 192.168.10.99 failed: no reply",
      "vm1 vm drop eth0>-: dropped: ARP for 192.168.10.99 failed",
      "vm1 vm reply ->eth0: ICMP Destination Host Unreachable 192.168.10.11 -> 192.168.10.11",
      "vm1 vm deliver eth0>-: ICMP Destination Host Unreachable from 192.168.10.11 about 192.168.10.11 -> 192.168.10.99",
    ]);
  });

  it("expires entries lazily, keeps using a stale entry, probes it by unicast, then forgets it", () => {
    const { vm, env } = newVm();
    vm.sendUdp(VM2_IP, 4000, 5000, 10, 0);
    vm.receive(0, arpReplyFromVm2(), 0);
    env.take();
    expect(vm.neighborTable(0)[0].state).toBe("reachable");
    // Reachable for 15..45 s (30 s base randomised); at 46 s it is stale, noticed lazily.
    env.advanceTo(46 * S);
    expect(env.pendingTimers).toBe(0);
    expect(vm.neighborTable(env.nowNs)[0].state).toBe("stale");
    vm.sendUdp(VM2_IP, 4000, 5000, 10, env.nowNs);
    let sent = env.take();
    expect(sent).toHaveLength(1);
    expect(decodeChecked(sent[0].frame).eth.dst).toBe(VM2_MAC); // still used, no ARP first
    expect(vm.neighborTable(env.nowNs)[0].state).toBe("delay");
    // delay_first_probe_time 5 s, then 3 unicast probes 1 s apart to the cached MAC.
    env.advanceTo(54 * S);
    sent = env.take();
    expect(sent.map((s) => s.timeNs)).toEqual([51 * S, 52 * S, 53 * S]);
    for (const s of sent) {
      const d = decodeChecked(s.frame);
      expect(d.eth.dst).toBe(VM2_MAC);
      expect(d.arp).toMatchObject({ op: ArpOp.Request, targetIp: VM2_IP });
    }
    expect(vm.neighborTable(env.nowNs)).toEqual([]);
    // Gone: the next packet starts a broadcast resolution.
    vm.sendUdp(VM2_IP, 4000, 5000, 10, env.nowNs);
    sent = env.take();
    expect(decodeChecked(sent[0].frame).eth.dst).toBe(MAC_BROADCAST);
  });

  it("a reply to a probe makes the entry reachable again", () => {
    const { vm, env } = newVm();
    vm.sendUdp(VM2_IP, 4000, 5000, 10, 0);
    vm.receive(0, arpReplyFromVm2(), 0);
    env.advanceTo(46 * S);
    vm.sendUdp(VM2_IP, 4000, 5000, 10, env.nowNs);
    env.advanceTo(51 * S);
    env.take();
    vm.receive(0, arpReplyFromVm2(), env.nowNs);
    expect(vm.neighborTable(env.nowNs)[0].state).toBe("reachable");
    env.advanceTo(60 * S);
    expect(env.take()).toEqual([]);
  });

  it("bounds the queue per unresolved next hop, dropping the oldest", () => {
    const { vm, env } = newVm({ arp: { queueFrames: 3 } });
    for (let i = 0; i < 5; i++) vm.sendUdp(VM2_IP, 4000, 5000, 16, 0);
    expect(env.take()).toHaveLength(1); // one ARP request
    expect(vm.drops.get("arp-queue-full")).toBe(2);
    vm.receive(0, arpReplyFromVm2(), 0);
    const sent = env.take().map((s) => s.frame);
    expect(sent).toHaveLength(3);
    // The payload's first 8 bytes count datagrams: 0 and 1 were the oldest, dropped.
    const po = ETHERNET_HEADER_LEN + IPV4_HEADER_LEN + UDP_HEADER_LEN;
    expect(sent.map((f) => decodeChecked(f).udp?.dstPort)).toEqual([5000, 5000, 5000]);
    expect(sent.map((f) => f.bytes()[po + 7])).toEqual([2, 3, 4]);
    const drops = env.records.filter((r) => r.action === "drop").map((r) => r.reason);
    expect(drops).toEqual([
      "dropped: ARP queue for 192.168.10.12 full",
      "dropped: ARP queue for 192.168.10.12 full",
    ]);
  });

  it("answers ARP for its own address and learns the asker (RFC 826 merge)", () => {
    const { vm, env } = newVm();
    vm.receive(0, arpRequestFromVm2(), 0);
    const sent = env.take();
    expect(sent).toHaveLength(1);
    expect(toHex(sent[0].frame)).toBe(
      "020000001012020000001011" +
        "0806" +
        "0001080006040002" +
        "020000001011c0a80a0b" +
        "020000001012c0a80a0c",
    );
    expect(vm.neighborTable(0)).toEqual([
      { interface: "eth0", ip: VM2_IP, mac: VM2_MAC, state: "stale", queuedFrames: 0 },
    ]);
    expect(env.traceLines()).toEqual([
      "vm1 vnic receive eth0>-: enters the guest via eth0 (02:00:00:00:10:11)",
      "vm1 vm deliver eth0>-: ARP who-has 192.168.10.11 tell 192.168.10.12",
      "vm1 vm reply ->eth0: ARP reply 192.168.10.11 is-at 02:00:00:00:10:11",
      "vm1 vnic send ->eth0: leaves the guest via eth0 (02:00:00:00:10:11)",
    ]);
  });

  it("ignores ARP requests for other addresses without learning, and updates a known sender's MAC", () => {
    const { vm, env } = newVm();
    vm.receive(0, arpRequestFromVm2(ip("192.168.10.13")), 0);
    expect(env.take()).toEqual([]);
    expect(vm.drops.get("arp-not-for-us")).toBe(1);
    expect(vm.neighborTable(0)).toEqual([]);
    // Known sender: a gratuitous ARP with a new MAC updates the entry (merge).
    vm.receive(0, arpRequestFromVm2(), 0);
    const moved = mac("02:00:00:00:99:99");
    vm.receive(
      0,
      arpFrame({
        op: ArpOp.Request,
        dst: MAC_BROADCAST,
        senderMac: moved,
        senderIp: VM2_IP,
        targetIp: VM2_IP,
      }),
      0,
    );
    expect(vm.neighborTable(0)[0].mac).toBe(moved);
  });

  it("counts another station claiming its address", () => {
    const { vm, env } = newVm();
    vm.receive(
      0,
      arpFrame({
        op: ArpOp.Request,
        dst: MAC_BROADCAST,
        senderMac: VM2_MAC,
        senderIp: VM1_IP,
        targetIp: VM1_IP,
      }),
      0,
    );
    expect(env.take()).toEqual([]);
    expect(vm.drops.get("arp-address-conflict")).toBe(1);
    // Its own announcement coming back is not a conflict.
    vm.receive(
      0,
      arpFrame({
        op: ArpOp.Request,
        dst: MAC_BROADCAST,
        senderMac: VM1_MAC,
        senderIp: VM1_IP,
        targetIp: VM1_IP,
      }),
      0,
    );
    expect(vm.drops.get("arp-own")).toBe(1);
    expect(vm.drops.get("arp-address-conflict")).toBe(1);
  });

  it("refuses a malformed ARP packet with a reason", () => {
    const { vm } = newVm();
    // A 20-byte ARP body: truncated.
    vm.receive(0, hexFrame("ffffffffffff 020000001012 0806 0001080006040001020000001012c0a80a0c00000000"), 0);
    expect(vm.drops.get("arp-malformed")).toBe(1);
  });
});

describe("vm: IPv4, ICMP, UDP", () => {
  it("answers an echo request with the same id, seq and data", () => {
    const { vm, env } = newVm();
    vm.receive(0, arpRequestFromVm2(), 0);
    env.take();
    const request = echoRequestFrame({
      srcMac: VM2_MAC,
      dstMac: VM1_MAC,
      src: VM2_IP,
      dst: VM1_IP,
      id: 0x42,
      seq: 9,
      dataLen: 100,
    });
    const requestIcmp = decodeChecked(request).icmp;
    vm.receive(0, request, 10);
    const sent = env.take();
    expect(sent).toHaveLength(1);
    const d = decodeChecked(sent[0].frame);
    expect(d.eth).toEqual({ dst: VM2_MAC, src: VM1_MAC, etherType: 0x0800 });
    expect(d.ip).toMatchObject({ src: VM1_IP, dst: VM2_IP, ttl: 64, protocol: 1 });
    expect(d.icmp).toEqual({ ...requestIcmp, kind: "echo-reply" });
    expect(vm.stats.icmpTx).toBe(1);
  });

  it("drops a packet with a bad header checksum, and a unicast frame for another MAC", () => {
    const { vm, env } = newVm();
    const f = echoRequestFrame({ srcMac: VM2_MAC, dstMac: VM1_MAC, src: VM2_IP, dst: VM1_IP, id: 1, seq: 1 });
    f.buf[f.start + ETHERNET_HEADER_LEN + 10] ^= 0xff;
    vm.receive(0, f, 0);
    expect(vm.drops.get("ip-bad-checksum")).toBe(1);
    const other = echoRequestFrame({
      srcMac: VM2_MAC,
      dstMac: GW_MAC,
      src: VM2_IP,
      dst: VM1_IP,
      id: 1,
      seq: 1,
    });
    vm.receive(0, other, 0);
    expect(vm.drops.get("not-our-mac")).toBe(1);
    expect(vm.portCounters[0]).toMatchObject({ rxFrames: 2, drops: 1 });
    expect(env.take()).toEqual([]);
  });

  it("sends UDP with a valid checksum and a datagram counter in the payload", () => {
    const { vm, env } = newVm();
    vm.receive(0, arpRequestFromVm2(), 0);
    env.take();
    expect(vm.sendUdp(VM2_IP, 40000, 5001, 100, 0)).toBeNull();
    expect(vm.sendUdp(VM2_IP, 40000, 5001, new Uint8Array([1, 2, 3]), 0)).toBeNull();
    const [a, b] = env.take().map((s) => s.frame);
    const da = decodeChecked(a);
    expect(da.udp).toEqual({ srcPort: 40000, dstPort: 5001, payloadLength: 100, checksumStatus: "valid" });
    const po = ETHERNET_HEADER_LEN + IPV4_HEADER_LEN + UDP_HEADER_LEN;
    expect([...a.bytes().subarray(po, po + 8)]).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect([...b.bytes().subarray(po)]).toEqual([1, 2, 3]);
    expect(decodeChecked(b).udp?.checksumStatus).toBe("valid");
    expect(vm.stats).toMatchObject({ udpTxDatagrams: 2, udpTxBytes: 103 });
    expect(vm.sendUdp(VM2_IP, 40000, 0, 1, 0)).toBe("bad-port");
  });

  it("delivers UDP to a bound port and answers an unbound one with port unreachable", () => {
    const { vm, env } = newVm();
    vm.receive(0, arpRequestFromVm2(), 0);
    env.take();
    const got: UdpDatagram[] = [];
    vm.onUdp(5001, (d) => got.push({ ...d, payload: d.payload.slice() }));
    const data = new Uint8Array([0xde, 0xad, 0xbe, 0xef]);
    const toBound = ipv4Frame({
      srcMac: VM2_MAC,
      dstMac: VM1_MAC,
      src: VM2_IP,
      dst: VM1_IP,
      protocol: IpProtocol.UDP,
      payload: udpMessage(VM2_IP, VM1_IP, 33333, 5001, data),
    });
    vm.receive(0, toBound, 5);
    expect(got).toEqual([
      {
        src: VM2_IP,
        dst: VM1_IP,
        srcPort: 33333,
        dstPort: 5001,
        payload: data,
        ttl: 64,
        interfaceName: "eth0",
        nowNs: 5,
        frameId: toBound.id,
      },
    ]);
    expect(env.take()).toEqual([]);
    const toUnbound = ipv4Frame({
      srcMac: VM2_MAC,
      dstMac: VM1_MAC,
      src: VM2_IP,
      dst: VM1_IP,
      protocol: IpProtocol.UDP,
      payload: udpMessage(VM2_IP, VM1_IP, 33333, 5002, data),
    });
    const quoted = toUnbound.bytes().slice(ETHERNET_HEADER_LEN);
    vm.receive(0, toUnbound, 6);
    const sent = env.take();
    expect(sent).toHaveLength(1);
    const d = decodeChecked(sent[0].frame);
    expect(d.ip).toMatchObject({ src: VM1_IP, dst: VM2_IP, dscp: 0x30 });
    expect(d.icmp).toMatchObject({ kind: "dest-unreachable", code: 3 });
    // The whole offending datagram is quoted (it is far below 576 bytes).
    const icmpStart = ETHERNET_HEADER_LEN + IPV4_HEADER_LEN + ICMP_HEADER_LEN;
    expect(sent[0].frame.bytes().slice(icmpStart)).toEqual(quoted);
    expect(vm.drops.get("udp-port-unreachable")).toBe(1);
  });

  it("reports ICMP errors about its pings with ping's texts", () => {
    const { vm, env } = newVm();
    vm.receive(
      0,
      arpFrame({
        op: ArpOp.Request,
        dst: MAC_BROADCAST,
        senderMac: GW_MAC,
        senderIp: GW_IP,
        targetIp: VM1_IP,
      }),
      0,
    );
    env.take();
    const results: PingResult[] = [];
    vm.ping(ip("10.0.0.5"), { id: 3, seq: 1, ttl: 1 }, 0, (r) => results.push(r));
    vm.ping(ip("10.0.0.5"), { id: 3, seq: 2, sizeBytes: 1400 }, 0, (r) => results.push(r));
    const [r1, r2] = env.take().map((s) => s.frame);
    expect(decodeChecked(r1).eth.dst).toBe(GW_MAC); // off-link: to the gateway
    const errorAbout = (orig: Frame, type: number, code: number, rest: number) => {
      const ipPart = orig.bytes().subarray(ETHERNET_HEADER_LEN, ETHERNET_HEADER_LEN + 28);
      const m = new Uint8Array(ICMP_HEADER_LEN + ipPart.length);
      Icmpv4.emitError(m, 0, type, code, rest, ipPart, 0, ipPart.length);
      return ipv4Frame({ srcMac: GW_MAC, dstMac: VM1_MAC, src: GW_IP, dst: VM1_IP, protocol: 1, payload: m });
    };
    vm.receive(0, errorAbout(r1, 11, 0, 0), 1000);
    vm.receive(0, errorAbout(r2, 3, 4, 1300), 2000);
    expect(results).toEqual([
      {
        kind: "error",
        id: 3,
        seq: 1,
        from: GW_IP,
        icmpType: 11,
        icmpCode: 0,
        mtu: 0,
        text: "Time to live exceeded",
      },
      {
        kind: "error",
        id: 3,
        seq: 2,
        from: GW_IP,
        icmpType: 3,
        icmpCode: 4,
        mtu: 1300,
        text: "Frag needed and DF set (mtu = 1300)",
      },
    ]);
  });

  it("applies a redirect from its gateway, refuses one from anyone else (RFC 1122 §3.2.2.2)", () => {
    const { vm, env } = newVm();
    vm.receive(
      0,
      arpFrame({
        op: ArpOp.Request,
        dst: MAC_BROADCAST,
        senderMac: GW_MAC,
        senderIp: GW_IP,
        targetIp: VM1_IP,
      }),
      0,
    );
    env.take();
    const far = ip("10.0.0.5");
    const other = ip("192.168.10.254");
    vm.ping(far, { id: 2, seq: 1 }, 0);
    const [sentFrame] = env.take().map((s) => s.frame);
    const quote = sentFrame.bytes().subarray(ETHERNET_HEADER_LEN, ETHERNET_HEADER_LEN + 28);
    const redirectFrom = (from: number, fromMac: number) => {
      const m = new Uint8Array(ICMP_HEADER_LEN + quote.length);
      Icmpv4.emitError(m, 0, 5, 1, other, quote, 0, quote.length);
      return ipv4Frame({ srcMac: fromMac, dstMac: VM1_MAC, src: from, dst: VM1_IP, protocol: 1, payload: m });
    };
    vm.receive(0, redirectFrom(VM2_IP, VM2_MAC), 10);
    expect(vm.drops.get("icmp-redirect-refused")).toBe(1);
    vm.receive(0, redirectFrom(GW_IP, GW_MAC), 20);
    expect(vm.stats.redirectsApplied).toBe(1);
    vm.ping(far, { id: 2, seq: 2 }, 30);
    expect(decodeChecked(env.take()[0].frame).arp?.targetIp).toBe(other); // the new first hop
    // Forgotten after 300 s: back to the default gateway.
    vm.ping(far, { id: 2, seq: 3 }, 301 * S);
    expect(decodeChecked(env.take()[0].frame).eth.dst).toBe(GW_MAC);
  });

  it("times out a ping nobody answers", () => {
    const { vm, env } = newVm();
    vm.receive(0, arpRequestFromVm2(), 0);
    const results: PingResult[] = [];
    vm.ping(VM2_IP, { id: 1, seq: 1, timeoutNs: 2 * S }, 0, (r) => results.push(r));
    env.advanceTo(2 * S);
    expect(results).toEqual([{ kind: "timeout", id: 1, seq: 1 }]);
    // A late reply matches nothing and is counted.
    vm.receive(
      0,
      ipv4Frame({
        srcMac: VM2_MAC,
        dstMac: VM1_MAC,
        src: VM2_IP,
        dst: VM1_IP,
        protocol: 1,
        payload: echoMessage(1, 1, new Uint8Array(56), Icmpv4Type.EchoReply),
      }),
      env.nowNs,
    );
    expect(vm.drops.get("echo-reply-unexpected")).toBe(1);
    expect(results).toHaveLength(1);
  });

  it("pings its own address through the loopback, without the wire", () => {
    const { vm, env } = newVm();
    const results: PingResult[] = [];
    vm.ping(VM1_IP, { id: 1, seq: 1 }, 0, (r) => results.push(r));
    env.advanceTo(0);
    expect(env.take()).toEqual([]);
    expect(results).toEqual([
      { kind: "reply", id: 1, seq: 1, from: VM1_IP, rttNs: 0, ttl: 64, sizeBytes: 56, isDataIntact: true },
    ]);
  });

  it("refuses what it cannot send: no route, bad sizes and ports", () => {
    const { vm } = newVm({ nics: [{ mac: VM1_MAC, ip: VM1_IP, prefixLen: 24 }] });
    expect(vm.ping(ip("8.8.8.8"), { id: 1, seq: 1 }, 0)).toBe("no-route");
    expect(vm.ping(VM2_IP, { id: 1, seq: 1, sizeBytes: 65508 }, 0)).toBe("bad-size");
    expect(vm.ping(VM2_IP, { id: 70000, seq: 1 }, 0)).toBe("bad-port");
    expect(vm.drops.get("no-route")).toBe(1);
  });

  it("fragments what exceeds the MTU (DF clear), sets DF on what fits", () => {
    const { vm, env } = newVm();
    vm.receive(0, arpRequestFromVm2(), 0);
    env.take();
    vm.ping(VM2_IP, { id: 1, seq: 1, sizeBytes: 1472 }, 0);
    vm.ping(VM2_IP, { id: 1, seq: 2, sizeBytes: 3000 }, 0);
    const sent = env.take().map((s) => decodeChecked(s.frame).ip!);
    expect(
      sent.map((i) => [i.payloadLength, i.fragmentOffsetBytes, i.moreFragments, i.dontFragment]),
    ).toEqual([
      [1480, 0, false, true],
      [1480, 0, true, false],
      [1480, 1480, true, false],
      [48, 2960, false, false],
    ]);
    expect(new Set(sent.slice(1).map((i) => i.ident)).size).toBe(1);
  });

  it("reassembles fragments in any order, refuses overlaps, times out incomplete datagrams", () => {
    const { vm, env } = newVm();
    vm.receive(0, arpRequestFromVm2(), 0);
    env.take();
    const got: UdpDatagram[] = [];
    vm.onUdp(5001, (d) => got.push({ ...d, payload: d.payload.slice() }));
    const data = Uint8Array.from({ length: 3000 }, (_, i) => (i * 7) & 0xff);
    const whole = ipv4Frame({
      srcMac: VM2_MAC,
      dstMac: VM1_MAC,
      src: VM2_IP,
      dst: VM1_IP,
      protocol: IpProtocol.UDP,
      payload: udpMessage(VM2_IP, VM1_IP, 40000, 5001, data),
      isDontFragment: false,
      ident: 77,
    });
    const frags = fragmentIpv4(whole, whole.start + ETHERNET_HEADER_LEN, 1000);
    expect(frags).toHaveLength(4);
    for (const f of [frags[3], frags[1], frags[0], frags[2]]) vm.receive(0, f, 10);
    expect(got).toHaveLength(1);
    expect(got[0].payload).toEqual(data);
    expect(vm.stats.ipReassembled).toBe(1);
    // Overlap: the datagram is discarded.
    const again = fragmentIpv4(whole, whole.start + ETHERNET_HEADER_LEN, 1000);
    const overlapping = fragmentIpv4(whole, whole.start + ETHERNET_HEADER_LEN, 600);
    vm.receive(0, again[0], 20);
    vm.receive(0, overlapping[1], 20);
    expect(vm.drops.get("ip-fragment-overlap")).toBe(1);
    // Incomplete: after 30 s dropped, time exceeded (code 1) quoting the first fragment.
    vm.receive(0, again[0], 30);
    env.take();
    env.advanceTo(30 + 30 * S);
    expect(vm.drops.get("ip-reassembly-timeout")).toBe(1);
    const errs = env.take().map((s) => decodeChecked(s.frame));
    expect(errs).toHaveLength(1);
    expect(errs[0].icmp).toMatchObject({ kind: "time-exceeded", code: 1 });
    expect(errs[0].ip).toMatchObject({ src: VM1_IP, dst: VM2_IP });
    expect(got).toHaveLength(1);
  });

  it("bounds the memory reassembly holds: a flood of tiny fragments is refused beyond 4 MB", () => {
    const { vm } = newVm();
    const first = ipv4Frame({
      srcMac: VM2_MAC,
      dstMac: VM1_MAC,
      src: VM2_IP,
      dst: VM1_IP,
      protocol: IpProtocol.UDP,
      payload: new Uint8Array(8),
      isDontFragment: false,
    });
    // 8-byte fragments of distinct datagrams, each holding its slot (MF set, never completed).
    for (let id = 0; id < 5000; id++) {
      const f = first.clone();
      const o = f.start + ETHERNET_HEADER_LEN;
      Ipv4Header.setIdent(f.buf, o, id);
      Ipv4Header.setFragment(f.buf, o, false, true, 0);
      Ipv4Header.fillChecksum(f.buf, o);
      vm.receive(0, f, 0);
    }
    const held = Math.floor((4 * 1024 * 1024) / (8 + 1024));
    expect(vm.drops.get("ip-reassembly-full")).toBe(5000 - held);
  });

  it("learns a path MTU from fragmentation needed and fragments to it afterwards (RFC 1191)", () => {
    const { vm, env } = newVm();
    vm.receive(
      0,
      arpFrame({
        op: ArpOp.Request,
        dst: MAC_BROADCAST,
        senderMac: GW_MAC,
        senderIp: GW_IP,
        targetIp: VM1_IP,
      }),
      0,
    );
    env.take();
    const far = ip("10.0.0.5");
    const results: PingResult[] = [];
    vm.ping(far, { id: 9, seq: 1, sizeBytes: 1422 }, 0, (r) => results.push(r));
    const [first] = env.take().map((s) => s.frame);
    expect(decodeChecked(first).ip).toMatchObject({ dontFragment: true, payloadLength: 1430 });
    const quote = first.bytes().subarray(ETHERNET_HEADER_LEN, ETHERNET_HEADER_LEN + 28);
    const m = new Uint8Array(ICMP_HEADER_LEN + quote.length);
    Icmpv4.emitError(m, 0, 3, 4, 1400, quote, 0, quote.length);
    vm.receive(
      0,
      ipv4Frame({ srcMac: GW_MAC, dstMac: VM1_MAC, src: GW_IP, dst: VM1_IP, protocol: 1, payload: m }),
      100,
    );
    expect(results[0]).toMatchObject({ kind: "error", text: "Frag needed and DF set (mtu = 1400)" });
    vm.ping(far, { id: 9, seq: 2, sizeBytes: 1422 }, 200);
    const next = env.take().map((s) => decodeChecked(s.frame).ip!);
    expect(next.map((i) => [i.payloadLength + 20, i.moreFragments])).toEqual([
      [1396, true],
      [74, false],
    ]);
    expect(vm.stack.pathMtu(vm.interfaces[0], far, 200)).toBe(1400);
    expect(vm.stack.pathMtu(vm.interfaces[0], far, 200 + 600 * S)).toBe(1500);
  });
});

describe("vm: next hop and vNICs", () => {
  const twoNics: Partial<VmConfig> = {
    nics: [
      { mac: VM1_MAC, ip: VM1_IP, prefixLen: 24, gateway: GW_IP },
      { mac: mac("02:00:00:00:20:11"), ip: ip("192.168.20.11"), prefixLen: 24, attachment: "vf" },
    ],
  };

  it("picks the vNIC whose subnet holds the destination, else the one with a gateway", () => {
    const { vm, env } = newVm(twoNics);
    expect(vm.portNames).toEqual(["eth0", "eth1"]);
    vm.ping(ip("192.168.20.12"), { id: 1, seq: 1 }, 0);
    vm.ping(ip("8.8.8.8"), { id: 1, seq: 2 }, 0);
    vm.ping(VM2_IP, { id: 1, seq: 3 }, 0);
    const sent = env.take();
    expect(sent.map((s) => [s.portName, decodeChecked(s.frame).arp?.targetIp])).toEqual([
      ["eth1", ip("192.168.20.12")],
      ["eth0", GW_IP],
      ["eth0", VM2_IP],
    ]);
    expect(decodeChecked(sent[0].frame).arp?.senderMac).toBe(mac("02:00:00:00:20:11"));
    expect(vm.processingDelayNs).toBe(4_000); // a virtio vNIC among them
  });

  it("sends to a multicast group without ARP, to the RFC 1112 MAC", () => {
    const { vm, env } = newVm();
    expect(vm.sendUdp(ip("239.1.2.3"), 4000, 5000, 10, 0)).toBeNull();
    const d = decodeChecked(env.take()[0].frame);
    expect(d.eth.dst).toBe(mac("01:00:5e:01:02:03"));
    expect(d.ip?.dst).toBe(ip("239.1.2.3"));
  });

  it("answers ARP only for the address of the vNIC asked on (arp_ignore=1)", () => {
    const { vm, env } = newVm(twoNics);
    vm.receive(0, arpRequestFromVm2(ip("192.168.20.11")), 0);
    expect(env.take()).toEqual([]);
    expect(vm.drops.get("arp-not-for-us")).toBe(1);
  });

  it("uses a changed MAC as source and filter; sends raw frames as given", () => {
    const { vm, env } = newVm();
    const newMac = mac("02:aa:00:00:00:01");
    vm.setMac(0, newMac);
    vm.ping(VM2_IP, { id: 1, seq: 1 }, 0);
    expect(decodeChecked(env.take()[0].frame).eth.src).toBe(newMac);
    vm.receive(0, arpReplyFromVm2(), 0); // addressed to the old MAC: filtered
    expect(vm.drops.get("not-our-mac")).toBe(1);
    const raw = hexFrame("ffffffffffff 020000009999 8100 000a 0800 4500");
    vm.sendRaw(0, raw, 0);
    expect(env.take().map((s) => toHex(s.frame))).toEqual(["ffffffffffff0200000099998100000a08004500"]);
    expect(() => vm.setMac(0, mac("01:00:5e:00:00:01"))).toThrow(DeviceConfigError);
    expect(() => vm.sendRaw(3, raw, 0)).toThrow(DeviceConfigError);
  });

  it("on carrier loss flushes the vNIC's neighbours and drops what it sends", () => {
    const { vm, env } = newVm();
    vm.receive(0, arpRequestFromVm2(), 0);
    env.take();
    vm.setPortUp(0, false, 0);
    expect(vm.neighborTable(0)).toEqual([]);
    const results: PingResult[] = [];
    vm.ping(VM2_IP, { id: 1, seq: 1 }, 0, (r) => results.push(r));
    env.advanceTo(3 * S);
    expect(env.take()).toEqual([]);
    expect(vm.drops.get("link-down")).toBe(3); // the three ARP requests
    expect(results[0]).toMatchObject({ kind: "error", text: "Destination Host Unreachable" });
    vm.setPortUp(0, true, env.nowNs);
    vm.ping(VM2_IP, { id: 1, seq: 2 }, env.nowNs);
    expect(env.take()).toHaveLength(1);
  });

  it("builds no trace records when nobody traces", () => {
    const { vm, env } = newVm({}, false);
    vm.ping(VM2_IP, { id: 1, seq: 1 }, 0);
    vm.receive(0, arpReplyFromVm2(), 0);
    expect(env.take()).toHaveLength(2);
    expect(env.records).toEqual([]);
  });

  it("rejects a gateway outside the vNIC's subnet", () => {
    expect(
      () =>
        new Vm({ name: "bad", nics: [{ mac: VM1_MAC, ip: VM1_IP, prefixLen: 24, gateway: ip("10.0.0.1") }] }),
    ).toThrow(/not in 192.168.10.0\/24/);
  });
});

describe("vm: two guests back to back", () => {
  it("ping: ARP both ways, echo, reply, with the trace in order", () => {
    const net = new TestNet(1, 1_000);
    const vm1 = net.add(new Vm({ name: "vm1", nics: [{ mac: VM1_MAC, ip: VM1_IP, prefixLen: 24 }] }));
    const vm2 = net.add(new Vm({ name: "vm2", nics: [{ mac: VM2_MAC, ip: VM2_IP, prefixLen: 24 }] }));
    net.connect(vm1, 0, vm2, 0);
    net.isTracing = false;
    net.start();
    net.run();
    net.isTracing = true;
    const results: PingResult[] = [];
    vm1.ping(VM2_IP, { id: 1, seq: 1 }, net.nowNs, (r) => results.push(r));
    net.runUntil(net.nowNs + 1_000_000);
    // Each frame: 1 us of link + 4 us of virtio receive; four frames (ARP, ARP, echo, reply).
    expect(results).toEqual([
      {
        kind: "reply",
        id: 1,
        seq: 1,
        from: VM2_IP,
        rttNs: 20_000,
        ttl: 64,
        sizeBytes: 56,
        isDataIntact: true,
      },
    ]);
    expect(net.traceLines()).toEqual([
      "vm1 vm send ->eth0: echo request 192.168.10.11 -> 192.168.10.12 id 1 seq 1",
      "vm1 vm send ->eth0: ARP who-has 192.168.10.12 tell 192.168.10.11",
      "vm1 vnic send ->eth0: leaves the guest via eth0 (02:00:00:00:10:11)",
      "vm2 vnic receive eth0>-: enters the guest via eth0 (02:00:00:00:10:12)",
      "vm2 vm deliver eth0>-: ARP who-has 192.168.10.12 tell 192.168.10.11",
      "vm2 vm reply ->eth0: ARP reply 192.168.10.12 is-at 02:00:00:00:10:12",
      "vm2 vnic send ->eth0: leaves the guest via eth0 (02:00:00:00:10:12)",
      "vm1 vnic receive eth0>-: enters the guest via eth0 (02:00:00:00:10:11)",
      "vm1 vm deliver eth0>-: ARP reply 192.168.10.12 is-at 02:00:00:00:10:12",
      "vm1 vnic send ->eth0: leaves the guest via eth0 (02:00:00:00:10:11)",
      "vm2 vnic receive eth0>-: enters the guest via eth0 (02:00:00:00:10:12)",
      "vm2 vm deliver eth0>-: echo request 192.168.10.11 -> 192.168.10.12 id 1 seq 1",
      "vm2 vm reply ->eth0: echo reply 192.168.10.12 -> 192.168.10.11 id 1 seq 1",
      "vm2 vnic send ->eth0: leaves the guest via eth0 (02:00:00:00:10:12)",
      "vm1 vnic receive eth0>-: enters the guest via eth0 (02:00:00:00:10:11)",
      "vm1 vm deliver eth0>-: echo reply 192.168.10.12 -> 192.168.10.11 id 1 seq 1",
    ]);
    for (const t of net.transmitted) decodeChecked(t.frame);
  });

  it("a 3000-byte ping is fragmented, reassembled, answered in fragments and reassembled again", () => {
    const net = new TestNet(1, 1_000);
    const vm1 = net.add(new Vm({ name: "vm1", nics: [{ mac: VM1_MAC, ip: VM1_IP, prefixLen: 24 }] }));
    const vm2 = net.add(
      new Vm({ name: "vm2", nics: [{ mac: VM2_MAC, ip: VM2_IP, prefixLen: 24, mtu: 1400 }] }),
    );
    net.connect(vm1, 0, vm2, 0);
    net.start();
    net.run();
    const results: PingResult[] = [];
    vm1.ping(VM2_IP, { id: 1, seq: 1, sizeBytes: 3000 }, net.nowNs, (r) => results.push(r));
    net.runUntil(net.nowNs + 1_000_000);
    expect(results).toMatchObject([{ kind: "reply", sizeBytes: 3000, isDataIntact: true }]);
    const ipSizes = net.transmitted
      .map((t) => decodeChecked(t.frame))
      .filter((d) => d.ip !== undefined)
      .map((d) => [d.ip!.src === VM1_IP ? "vm1" : "vm2", 20 + d.ip!.payloadLength]);
    expect(ipSizes).toEqual([
      ["vm1", 1500],
      ["vm1", 1500],
      ["vm1", 68],
      ["vm2", 1396],
      ["vm2", 1396],
      ["vm2", 276],
    ]);
    expect(vm1.stats.ipReassembled + vm2.stats.ipReassembled).toBe(2);
  });

  test.prop([
    fc.integer({ min: 1, max: 4000 }),
    fc.integer({ min: 68, max: 1500 }),
    fc.integer({ min: 0, max: 1_000_000 }),
  ])("fragments of any size for any MTU reassemble, in any order, into the datagram", (len, mtu, seed) => {
    const { vm } = newVm();
    const got: Uint8Array[] = [];
    vm.onUdp(5001, (d) => got.push(d.payload.slice()));
    const data = Uint8Array.from({ length: len }, (_, i) => (i * 31 + seed) & 0xff);
    const whole = ipv4Frame({
      srcMac: VM2_MAC,
      dstMac: VM1_MAC,
      src: VM2_IP,
      dst: VM1_IP,
      protocol: IpProtocol.UDP,
      payload: udpMessage(VM2_IP, VM1_IP, 40000, 5001, data),
      isDontFragment: false,
    });
    const frags = fragmentIpv4(whole, whole.start + ETHERNET_HEADER_LEN, mtu);
    for (const f of frags) {
      const d = decodeChecked(f).ip!;
      expect(20 + d.payloadLength).toBeLessThanOrEqual(mtu);
      if (d.moreFragments) expect(d.payloadLength % 8).toBe(0);
    }
    // A deterministic shuffle from the seed.
    const order = frags
      .map((_, i) => i)
      .sort((a, b) => ((a * 7919 + seed) % 101) - ((b * 7919 + seed) % 101) || a - b);
    for (const i of order) vm.receive(0, frags[i], 0);
    expect(got).toEqual([data]);
  });

  test.prop([fc.uint8Array({ minLength: 0, maxLength: 120 }), fc.boolean()])(
    "any bytes are handled or dropped with a reason, never thrown",
    (bytes, isToUs) => {
      const { vm } = newVm();
      const frame = Frame.fromBytes(bytes);
      if (isToUs && bytes.length >= 6) {
        frame.buf.set([0x02, 0, 0, 0, 0x10, 0x11], frame.start);
      }
      const before =
        vm.drops.total + vm.stats.ipRxPackets + vm.stats.arpRequestsReceived + vm.stats.arpRepliesReceived;
      vm.receive(0, frame, 0);
      const after =
        vm.drops.total + vm.stats.ipRxPackets + vm.stats.arpRequestsReceived + vm.stats.arpRepliesReceived;
      expect(after).toBeGreaterThan(before);
    },
  );
});
