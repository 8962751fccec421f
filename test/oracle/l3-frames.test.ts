/**
 * The wire oracle for what the layer-3 devices emit (not what the codecs can build): a guest
 * stack and an SVI router are driven through ARP, echo, routing, every ICMP error they generate
 * (time exceeded, host/net/port unreachable, fragmentation needed, reassembly time exceeded,
 * redirect),
 * UDP and fragmentation; every frame they send is copied at the moment it leaves, written to a
 * pcap and read back by tshark with checksum checks on. tshark must find nothing malformed,
 * raise no expert warning, verify every checksum (after reassembling the fragments), and agree
 * on the fields that matter (TTLs, ICMP types and codes, the next-hop MTU, fragment offsets).
 * Skipped with one line when tshark is absent.
 */

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { Frame } from "../../src/dataplane/frame.ts";
import { fragmentIpv4 } from "../../src/dataplane/ip-host.ts";
import {
  arpFrame,
  echoRequestFrame,
  ip,
  ipv4Frame,
  mac,
  udpMessage,
} from "../../src/dataplane/ip-testing.ts";
import { SviRouter } from "../../src/dataplane/router.ts";
import type { SviHost } from "../../src/dataplane/svi.ts";
import { bindRecording, RecordingEnv } from "../../src/dataplane/testing.ts";
import { Vm } from "../../src/dataplane/vm.ts";
import { MAC_BROADCAST } from "../../src/wire/addr.ts";
import { ArpOp } from "../../src/wire/arp.ts";
import { IpProtocol } from "../../src/wire/ipv4.ts";
import { PcapWriter } from "../../src/wire/pcap.ts";
import { hasTshark, show, type TsharkPacket, tsharkPdml } from "./tshark.ts";

const SW_MAC = mac("02:00:00:00:fe:01");
const GW10 = ip("192.168.10.1");
const GW20 = ip("192.168.20.1");
const VM1_MAC = mac("02:00:00:00:10:11");
const VM1_IP = ip("192.168.10.11");
const VM2_MAC = mac("02:00:00:00:20:12");
const VM2_IP = ip("192.168.20.12");
const PEER_MAC = mac("02:00:00:00:10:12");
const PEER_IP = ip("192.168.10.12");
const S = 1_000_000_000;

/** Every frame a device sent, copied when it left (a router rewrites frames in place later). */
const captured: { what: string; bytes: Uint8Array }[] = [];

class CapturingSwitch implements SviHost {
  readonly name = "tor1";
  readonly mac = SW_MAC;
  what = "";
  sendFromSvi(_vid: number, frame: Frame): void {
    captured.push({ what: `router: ${this.what}`, bytes: frame.bytes().slice() });
  }
}

function drainVm(env: RecordingEnv, what: string): void {
  for (const s of env.take()) captured.push({ what: `vm: ${what}`, bytes: s.frame.bytes().slice() });
}

function buildCapture(): void {
  // --- the guest: announcement, ARP, echo both ways, UDP, port unreachable, fragments ---
  const vm = new Vm({ name: "vm1", nics: [{ mac: VM1_MAC, ip: VM1_IP, prefixLen: 24, gateway: GW10 }] });
  const venv = bindRecording(vm);
  drainVm(venv, "gratuitous ARP");
  vm.ping(PEER_IP, { id: 1, seq: 1 }, 0);
  drainVm(venv, "ARP request");
  vm.receive(
    0,
    arpFrame({
      op: ArpOp.Reply,
      dst: VM1_MAC,
      senderMac: PEER_MAC,
      senderIp: PEER_IP,
      targetMac: VM1_MAC,
      targetIp: VM1_IP,
    }),
    0,
  );
  drainVm(venv, "echo request");
  vm.receive(
    0,
    arpFrame({
      op: ArpOp.Request,
      dst: MAC_BROADCAST,
      senderMac: PEER_MAC,
      senderIp: PEER_IP,
      targetIp: VM1_IP,
    }),
    0,
  );
  drainVm(venv, "ARP reply");
  vm.receive(
    0,
    echoRequestFrame({ srcMac: PEER_MAC, dstMac: VM1_MAC, src: PEER_IP, dst: VM1_IP, id: 7, seq: 3 }),
    0,
  );
  drainVm(venv, "echo reply");
  vm.sendUdp(PEER_IP, 40000, 5001, 200, 0);
  drainVm(venv, "UDP");
  vm.receive(
    0,
    ipv4Frame({
      srcMac: PEER_MAC,
      dstMac: VM1_MAC,
      src: PEER_IP,
      dst: VM1_IP,
      protocol: IpProtocol.UDP,
      payload: udpMessage(PEER_IP, VM1_IP, 33333, 9, new Uint8Array(20)),
    }),
    0,
  );
  drainVm(venv, "port unreachable");
  vm.ping(PEER_IP, { id: 1, seq: 2, sizeBytes: 3000 }, 0);
  drainVm(venv, "3000-byte echo in fragments");
  // A first fragment alone: after 30 s, time exceeded (code 1).
  const lone = ipv4Frame({
    srcMac: PEER_MAC,
    dstMac: VM1_MAC,
    src: PEER_IP,
    dst: VM1_IP,
    protocol: IpProtocol.UDP,
    payload: udpMessage(PEER_IP, VM1_IP, 33333, 5001, new Uint8Array(2000)),
    isDontFragment: false,
  });
  vm.receive(0, fragmentIpv4(lone, lone.start + 14, 1500)[0], venv.nowNs);
  venv.advance(31 * S);
  drainVm(venv, "reassembly time exceeded");

  // --- the router: routed, time exceeded, net/host unreachable, frag needed, fragments ---
  const sw = new CapturingSwitch();
  const router = new SviRouter(sw, [
    { vid: 10, ip: GW10, prefixLen: 24, mtu: 1400 },
    { vid: 20, ip: GW20, prefixLen: 24 },
  ]);
  const renv = new RecordingEnv();
  router.bind(renv);
  sw.what = "gratuitous ARP";
  router.start(0);
  sw.what = "ARP reply";
  router.receiveOnSvi(
    20,
    arpFrame({ op: ArpOp.Request, dst: MAC_BROADCAST, senderMac: VM2_MAC, senderIp: VM2_IP, targetIp: GW20 }),
    0,
  );
  sw.what = "ARP request";
  const fromVm2 = (dst: number, o: { ttl?: number; dataLen?: number; isDontFragment?: boolean } = {}) =>
    echoRequestFrame({ srcMac: VM2_MAC, dstMac: SW_MAC, src: VM2_IP, dst, id: 5, seq: 1, ...o });
  router.receiveOnSvi(20, fromVm2(VM1_IP), 0);
  sw.what = "routed echo (ttl 63)";
  router.receiveOnSvi(
    10,
    arpFrame({
      op: ArpOp.Reply,
      dst: SW_MAC,
      senderMac: VM1_MAC,
      senderIp: VM1_IP,
      targetMac: SW_MAC,
      targetIp: GW10,
    }),
    0,
  );
  sw.what = "ARP reply";
  router.receiveOnSvi(
    10,
    arpFrame({
      op: ArpOp.Request,
      dst: MAC_BROADCAST,
      senderMac: PEER_MAC,
      senderIp: PEER_IP,
      targetIp: GW10,
    }),
    0,
  );
  sw.what = "redirect, then the hairpinned echo";
  router.receiveOnSvi(
    10,
    echoRequestFrame({ srcMac: VM1_MAC, dstMac: SW_MAC, src: VM1_IP, dst: PEER_IP, id: 3, seq: 1 }),
    0,
  );
  sw.what = "time exceeded";
  router.receiveOnSvi(20, fromVm2(VM1_IP, { ttl: 1 }), 0);
  sw.what = "net unreachable";
  router.receiveOnSvi(20, fromVm2(ip("10.1.2.3")), 0);
  sw.what = "frag needed";
  router.receiveOnSvi(20, fromVm2(VM1_IP, { dataLen: 1472 }), 0);
  sw.what = "fragments";
  router.receiveOnSvi(20, fromVm2(VM1_IP, { dataLen: 1472, isDontFragment: false }), 0);
  sw.what = "echo reply from the SVI";
  router.receiveOnSvi(20, fromVm2(GW20), 0);
  sw.what = "ARP for a ghost";
  router.receiveOnSvi(20, fromVm2(ip("192.168.10.99")), 0);
  renv.advanceTo(2 * S);
  sw.what = "host unreachable";
  renv.advanceTo(3 * S);
}

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function field(p: TsharkPacket, proto: string, name: string): string[] {
  return p.protos.filter((x) => x.name === proto).flatMap((x) => x.fields.get(name) ?? []);
}

describe.skipIf(!hasTshark())("layer-3 frames through tshark", () => {
  it("are well formed, with valid checksums and the fields we meant", () => {
    buildCapture();
    const w = new PcapWriter();
    captured.forEach((c, i) => {
      w.append(1_000_000_000 + i * 1_000, c.bytes);
    });
    const dir = mkdtempSync(join(tmpdir(), "vnet-l3-"));
    dirs.push(dir);
    const file = join(dir, "l3.pcap");
    writeFileSync(file, w.bytes());
    const packets = tsharkPdml(file);
    expect(packets).toHaveLength(captured.length);
    const problems = packets.flatMap((p, i) =>
      p.isMalformed || p.expertProblems.length > 0
        ? [`${i} ${captured[i].what}: ${p.expertProblems.join("; ")}`]
        : [],
    );
    expect(problems).toEqual([]);
    // Every IP header checksum (outer and quoted) and every ICMP/UDP checksum tshark checked is good.
    for (const [i, p] of packets.entries()) {
      const what = `${i} ${captured[i].what}`;
      for (const v of field(p, "ip", "ip.checksum.status")) expect(v, `${what} ip`).toBe("1");
      // The outer ICMP checksum must verify; tshark leaves a quoted one unverified (2) at times.
      field(p, "icmp", "icmp.checksum.status").forEach((v, k) => {
        expect(k === 0 ? ["1"] : ["1", "2"], `${what} icmp`).toContain(v);
      });
      // A UDP datagram quoted in part by an ICMP error cannot be verified (2), but is never bad.
      const isError = field(p, "icmp", "icmp.type").some((t) => t === "3" || t === "11");
      for (const v of field(p, "udp", "udp.checksum.status")) {
        expect(isError ? ["1", "2"] : ["1"], `${what} udp`).toContain(v);
      }
    }
    const byWhat = (w: string) => packets.filter((_, i) => captured[i].what === w);
    const icmp = (p: TsharkPacket) => {
      const proto = p.protos.find((x) => x.name === "icmp")!;
      return [show(proto, "icmp.type"), show(proto, "icmp.code")];
    };
    expect(byWhat("router: routed echo (ttl 63)").map((p) => field(p, "ip", "ip.ttl")[0])).toEqual(["63"]);
    expect(byWhat("router: time exceeded").map(icmp)).toEqual([["11", "0"]]);
    const hairpin = byWhat("router: redirect, then the hairpinned echo");
    expect(hairpin.map(icmp)).toEqual([
      ["5", "1"],
      ["8", "0"],
    ]);
    expect(field(hairpin[0], "icmp", "icmp.redir_gw")).toEqual(["192.168.10.12"]);
    expect(byWhat("router: net unreachable").map(icmp)).toEqual([["3", "0"]]);
    expect(byWhat("router: host unreachable").map(icmp)).toEqual([["3", "1"]]);
    expect(byWhat("vm: port unreachable").map(icmp)).toEqual([["3", "3"]]);
    expect(byWhat("vm: reassembly time exceeded").map(icmp)).toEqual([["11", "1"]]);
    const fragNeeded = byWhat("router: frag needed");
    expect(fragNeeded.map(icmp)).toEqual([["3", "4"]]);
    expect(field(fragNeeded[0], "icmp", "icmp.mtu")).toEqual(["1400"]);
    // The router's fragments and the guest's: tshark reassembles them into a good echo request.
    for (const w of ["router: fragments", "vm: 3000-byte echo in fragments"]) {
      const frags = byWhat(w);
      expect(frags.length, w).toBeGreaterThan(1);
      const last = frags[frags.length - 1];
      expect(
        last.protos.some((x) => x.name === "icmp"),
        w,
      ).toBe(true);
      expect(icmp(last), w).toEqual(["8", "0"]);
    }
    expect(
      byWhat("router: fragments").map((p) => [
        field(p, "ip", "ip.frag_offset")[0],
        field(p, "ip", "ip.flags.mf")[0],
      ]),
    ).toEqual([
      ["0", "1"],
      ["172", "0"], // tshark shows the offset in 8-byte units: 1376 bytes
    ]);
  });
});
