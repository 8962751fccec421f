/**
 * Every frame type vnet speaks, built inside-out with the codecs' `emit` functions (never by
 * hand), for the tshark oracle and the decoder's tests. Each entry names the frame and the
 * layers our decoder must find in it, outermost first.
 */

import { parseIpv4, parseIpv6, parseMac } from "../../src/wire/addr.ts";
import { Arp, ArpOp, type ArpRepr } from "../../src/wire/arp.ts";
import type { PseudoHeader } from "../../src/wire/checksum.ts";
import { Ethernet, EtherType } from "../../src/wire/ethernet.ts";
import { DestUnreachableCode, Icmpv4, type Icmpv4Repr, TimeExceededCode } from "../../src/wire/icmp.ts";
import { emitNdpLinkLayerAddress, Icmpv6, type Icmpv6Repr, NdpOption } from "../../src/wire/icmpv6.ts";
import { IpProtocol, Ipv4Header, type Ipv4Repr } from "../../src/wire/ipv4.ts";
import { Ipv6Header } from "../../src/wire/ipv6.ts";
import { LACP_FRAME_LEN, Lacp, LacpState } from "../../src/wire/lacp.ts";
import { STP_FRAME_LEN, Stp, StpFlag, type StpRepr } from "../../src/wire/stp.ts";
import { emitTcpOptions, Tcp, TcpFlags, type TcpOption } from "../../src/wire/tcp.ts";
import { Udp } from "../../src/wire/udp.ts";
import { Vlan, type VlanTagRepr } from "../../src/wire/vlan.ts";
import { VXLAN_OVERHEAD, VXLAN_UDP_PORT, type VxlanOuter, vxlanEncapsulate } from "../../src/wire/vxlan.ts";
import {
  WG_COOKIE_REPLY_LEN,
  WG_INITIATION_LEN,
  WG_RESPONSE_LEN,
  WgCookieReply,
  WgInitiation,
  WgResponse,
  WgTransport,
} from "../../src/wire/wireguard.ts";

export interface OracleFrame {
  name: string;
  bytes: Uint8Array;
  /** The `layer` names decodeFrame must return, in order. */
  layers: string[];
  /** Built with a wrong checksum on purpose: tshark's "bad checksum" expert error is expected. */
  hasBadChecksum?: boolean;
}

export const MAC_A = parseMac("02:00:00:00:0a:01");
export const MAC_B = parseMac("02:00:00:00:0b:02");
const IP_A = parseIpv4("10.0.1.1");
const IP_B = parseIpv4("10.0.2.2");

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** An Ethernet frame with optional tags, padded to the 60-byte minimum (IEEE 802.3 §3.2.8). */
export function ether(
  dst: number,
  src: number,
  etherType: number,
  payload: Uint8Array,
  tags: VlanTagRepr[] = [],
) {
  const head = new Uint8Array(14 + 4 * tags.length);
  Ethernet.emit({ dst, src, etherType: tags.length ? tags[0].tpid : etherType }, head, 0);
  tags.forEach((t, i) => {
    Vlan.emit(t, head, 12 + 4 * i);
  });
  // The type after the last tag: each tag's TPID sits at 12 + 4i; the real type follows them.
  const typeAt = 12 + 4 * tags.length;
  head[typeAt] = etherType >>> 8;
  head[typeAt + 1] = etherType & 0xff;
  const frame = concat(head, payload);
  return frame.length >= 60 ? frame : concat(frame, new Uint8Array(60 - frame.length));
}

export function ipv4Header(
  protocol: number,
  src: number,
  dst: number,
  payloadLength: number,
  extra: Partial<Ipv4Repr> = {},
): Ipv4Repr {
  return {
    dscp: 0,
    ecn: 0,
    ident: 0x1234,
    dontFragment: true,
    moreFragments: false,
    fragmentOffsetBytes: 0,
    ttl: 64,
    protocol,
    src,
    dst,
    options: new Uint8Array(0),
    payloadLength,
    checksumValid: true,
    ...extra,
  };
}

/** An IPv4 datagram (header with its checksum, then the payload). */
export function ipv4(
  protocol: number,
  src: number,
  dst: number,
  payload: Uint8Array,
  extra: Partial<Ipv4Repr> = {},
) {
  const repr = ipv4Header(protocol, src, dst, payload.length, extra);
  const out = new Uint8Array(Ipv4Header.headerLengthOf(repr) + payload.length);
  const hl = Ipv4Header.emit(repr, out, 0);
  out.set(payload, hl);
  return out;
}

/** A UDP datagram inside IPv4 with a computed checksum (or none). */
export function udpIpv4(
  src: number,
  dst: number,
  srcPort: number,
  dstPort: number,
  data: Uint8Array,
  hasChecksum = true,
) {
  const seg = new Uint8Array(8 + data.length);
  seg.set(data, 8);
  Udp.emit(
    { srcPort, dstPort, payloadLength: data.length, checksumStatus: hasChecksum ? "valid" : "absent" },
    seg,
    0,
    { version: 4, src, dst },
  );
  return ipv4(IpProtocol.UDP, src, dst, seg);
}

/** A TCP segment inside IPv4 with options and a computed checksum. */
export function tcpIpv4(
  src: number,
  dst: number,
  seg: { srcPort: number; dstPort: number; seq: number; ack: number; flags: number; window: number },
  options: TcpOption[],
  data: Uint8Array,
) {
  const opts = new Uint8Array(40);
  const optLen = emitTcpOptions(options, opts, 0);
  const out = new Uint8Array(20 + optLen + data.length);
  out.set(data, 20 + optLen);
  Tcp.emit(
    {
      ...seg,
      urgentPointer: 0,
      options: opts.slice(0, optLen),
      payloadLength: data.length,
      checksumStatus: "valid",
    },
    out,
    0,
    { version: 4, src, dst },
  );
  return ipv4(IpProtocol.TCP, src, dst, out);
}

/** An IPv6 packet (fixed header, no extensions) around `payload`. */
export function ipv6(
  nextHeader: number,
  src: Uint8Array,
  dst: Uint8Array,
  payload: Uint8Array,
  hopLimit = 64,
) {
  const out = new Uint8Array(40 + payload.length);
  Ipv6Header.emit(
    { trafficClass: 0, flowLabel: 0x12345, payloadLength: payload.length, nextHeader, hopLimit, src, dst },
    out,
    0,
  );
  out.set(payload, 40);
  return out;
}

export function icmpv6(repr: Icmpv6Repr, src: Uint8Array, dst: Uint8Array, hopLimit = 64): Uint8Array {
  const msg = new Uint8Array(Icmpv6.lengthOf(repr));
  const pseudo: PseudoHeader = { version: 6, src, dst };
  Icmpv6.emit(repr, msg, 0, pseudo);
  return ipv6(IpProtocol.ICMPv6, src, dst, msg, hopLimit);
}

export function icmpv4(repr: Icmpv4Repr): Uint8Array {
  const out = new Uint8Array(Icmpv4.lengthOf(repr));
  Icmpv4.emit(repr, out, 0);
  return out;
}

export function arp(repr: ArpRepr): Uint8Array {
  const out = new Uint8Array(28);
  Arp.emit(repr, out, 0);
  return out;
}

const pattern = (n: number, seed = 1) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff);

/** A VXLAN packet carrying `inner`, built by the VTEP's own encapsulation (inside-out). */
export function vxlan(inner: Uint8Array, vni: number): Uint8Array {
  const outer: VxlanOuter = {
    srcMac: parseMac("02:00:00:00:f0:01"),
    dstMac: parseMac("02:00:00:00:f0:02"),
    srcIp: parseIpv4("192.168.0.1"),
    dstIp: parseIpv4("192.168.0.2"),
    vni,
    ttl: 64,
    dscp: 0,
    dontFragment: true,
    ipId: 7,
    dstPort: VXLAN_UDP_PORT,
  };
  const buf = new Uint8Array(VXLAN_OVERHEAD + inner.length);
  buf.set(inner, VXLAN_OVERHEAD);
  const start = vxlanEncapsulate(buf, VXLAN_OVERHEAD, inner.length, outer);
  return buf.subarray(start);
}

/** Ports no tshark dissector claims, so the payload stays "data". */
const PORT_X = 49999;
const PORT_Y = 50001;

export function oracleFrames(): OracleFrame[] {
  const frames: OracleFrame[] = [];
  const add = (name: string, bytes: Uint8Array, layers: string[]) => frames.push({ name, bytes, layers });

  add("ethernet, unknown type", ether(MAC_B, MAC_A, 0x88b5, pattern(46)), ["ethernet", "payload"]);

  const arpRequest: ArpRepr = {
    op: ArpOp.Request,
    senderMac: MAC_A,
    senderIp: IP_A,
    targetMac: 0,
    targetIp: IP_B,
  };
  const arpReply: ArpRepr = {
    op: ArpOp.Reply,
    senderMac: MAC_B,
    senderIp: IP_B,
    targetMac: MAC_A,
    targetIp: IP_A,
  };
  add("arp request", ether(0xffffffffffff, MAC_A, EtherType.ARP, arp(arpRequest)), ["ethernet", "arp"]);
  add("arp reply", ether(MAC_A, MAC_B, EtherType.ARP, arp(arpReply)), ["ethernet", "arp"]);

  const udp = udpIpv4(IP_A, IP_B, PORT_X, PORT_Y, pattern(40));
  add(
    "802.1Q ipv4/udp",
    ether(MAC_B, MAC_A, EtherType.IPv4, udp, [{ tpid: EtherType.VLAN, vid: 100, pcp: 5, dei: false }]),
    ["ethernet", "vlan", "ipv4", "udp", "payload"],
  );
  add(
    "QinQ arp",
    ether(0xffffffffffff, MAC_A, EtherType.ARP, arp(arpRequest), [
      { tpid: EtherType.QinQ, vid: 200, pcp: 1, dei: true },
      { tpid: EtherType.VLAN, vid: 10, pcp: 0, dei: false },
    ]),
    ["ethernet", "vlan", "vlan", "arp"],
  );
  add("ipv4/udp", ether(MAC_B, MAC_A, EtherType.IPv4, udp), ["ethernet", "ipv4", "udp", "payload"]);
  add(
    "ipv4/udp without checksum",
    ether(MAC_B, MAC_A, EtherType.IPv4, udpIpv4(IP_A, IP_B, PORT_X, PORT_Y, pattern(10), false)),
    ["ethernet", "ipv4", "udp", "payload"],
  );

  const echo = icmpv4({
    kind: "echo-request",
    code: 0,
    ident: 0x4242,
    seq: 7,
    data: pattern(56),
    checksumValid: true,
  });
  // Router alert (RFC 2113): 0x94 0x04 0x00 0x00; a NOP-padded option list stays a multiple of 4.
  const routerAlert = new Uint8Array([0x94, 0x04, 0x00, 0x00]);
  add(
    "ipv4 with options, icmp echo request",
    ether(
      MAC_B,
      MAC_A,
      EtherType.IPv4,
      ipv4(IpProtocol.ICMP, IP_A, IP_B, echo, { options: routerAlert, ttl: 1 }),
    ),
    ["ethernet", "ipv4", "icmp", "payload"],
  );
  const reply = icmpv4({
    kind: "echo-reply",
    code: 0,
    ident: 0x4242,
    seq: 7,
    data: pattern(56),
    checksumValid: true,
  });
  add("icmp echo reply", ether(MAC_A, MAC_B, EtherType.IPv4, ipv4(IpProtocol.ICMP, IP_B, IP_A, reply)), [
    "ethernet",
    "ipv4",
    "icmp",
    "payload",
  ]);

  // Errors quote the offending datagram's header and the first 8 bytes of its payload.
  const big = udpIpv4(IP_A, IP_B, PORT_X, PORT_Y, pattern(1472));
  const quoteOf = (dgram: Uint8Array) => {
    const original = Ipv4Header.parse(dgram, 0);
    const hl = Ipv4Header.headerLength(dgram, 0);
    return { original, originalData: dgram.slice(hl, hl + 8) };
  };
  const router = parseIpv4("10.0.0.254");
  const fragNeeded = icmpv4({
    kind: "dest-unreachable",
    code: DestUnreachableCode.FragmentationNeeded,
    nextHopMtu: 1450,
    checksumValid: true,
    ...quoteOf(big),
  });
  add(
    "icmp unreachable, fragmentation needed",
    ether(
      MAC_A,
      MAC_B,
      EtherType.IPv4,
      ipv4(IpProtocol.ICMP, router, IP_A, fragNeeded, { dontFragment: false }),
    ),
    ["ethernet", "ipv4", "icmp", "ipv4", "udp"],
  );
  const portUnreach = icmpv4({
    kind: "dest-unreachable",
    code: DestUnreachableCode.Port,
    nextHopMtu: 0,
    checksumValid: true,
    ...quoteOf(udp),
  });
  add(
    "icmp port unreachable",
    ether(MAC_A, MAC_B, EtherType.IPv4, ipv4(IpProtocol.ICMP, IP_B, IP_A, portUnreach)),
    ["ethernet", "ipv4", "icmp", "ipv4", "udp"],
  );
  const pingDgram = ipv4(IpProtocol.ICMP, IP_A, IP_B, echo, { ttl: 1 });
  const timeExceeded = icmpv4({
    kind: "time-exceeded",
    code: TimeExceededCode.TtlExceeded,
    checksumValid: true,
    ...quoteOf(pingDgram),
  });
  add(
    "icmp time exceeded",
    ether(MAC_A, MAC_B, EtherType.IPv4, ipv4(IpProtocol.ICMP, router, IP_A, timeExceeded)),
    ["ethernet", "ipv4", "icmp", "ipv4", "icmp"],
  );

  const syn = tcpIpv4(
    IP_A,
    IP_B,
    { srcPort: PORT_X, dstPort: PORT_Y, seq: 0xdeadbeef, ack: 0, flags: TcpFlags.SYN, window: 64240 },
    [
      { kind: "mss", mss: 1460 },
      { kind: "sack-permitted" },
      { kind: "timestamps", tsVal: 123456, tsEcr: 0 },
      { kind: "nop" },
      { kind: "window-scale", shift: 7 },
    ],
    new Uint8Array(0),
  );
  add("tcp syn with options", ether(MAC_B, MAC_A, EtherType.IPv4, syn), ["ethernet", "ipv4", "tcp"]);
  const data = tcpIpv4(
    IP_B,
    IP_A,
    {
      srcPort: PORT_Y,
      dstPort: PORT_X,
      seq: 1000,
      ack: 0xdeadbef0,
      flags: TcpFlags.ACK | TcpFlags.PSH,
      window: 501,
    },
    [{ kind: "nop" }, { kind: "nop" }, { kind: "timestamps", tsVal: 99, tsEcr: 123456 }],
    pattern(100),
  );
  add("tcp data", ether(MAC_A, MAC_B, EtherType.IPv4, data), ["ethernet", "ipv4", "tcp", "payload"]);
  const prohibited = icmpv4({
    kind: "dest-unreachable",
    code: DestUnreachableCode.AdminProhibited,
    nextHopMtu: 0,
    checksumValid: true,
    ...quoteOf(syn),
  });
  add(
    "icmp admin prohibited, quoting tcp",
    ether(MAC_A, MAC_B, EtherType.IPv4, ipv4(IpProtocol.ICMP, router, IP_A, prohibited)),
    ["ethernet", "ipv4", "icmp", "ipv4", "tcp"],
  );

  const v6a = parseIpv6("2001:db8::a");
  const v6b = parseIpv6("2001:db8::b");
  add(
    "ipv6 icmpv6 echo request",
    ether(
      MAC_B,
      MAC_A,
      EtherType.IPv6,
      icmpv6(
        { kind: "echo-request", code: 0, ident: 77, seq: 3, data: pattern(32), checksumStatus: "valid" },
        v6a,
        v6b,
      ),
    ),
    ["ethernet", "ipv6", "icmpv6", "payload"],
  );
  const slla = new Uint8Array(8);
  emitNdpLinkLayerAddress(slla, 0, NdpOption.SourceLinkLayerAddress, MAC_A);
  // Solicited-node multicast address and MAC for 2001:db8::b (RFC 4291 §2.7.1, RFC 2464 §7).
  const solicited = parseIpv6("ff02::1:ff00:b");
  add(
    "ipv6 neighbor solicitation",
    ether(
      parseMac("33:33:ff:00:00:0b"),
      MAC_A,
      EtherType.IPv6,
      icmpv6(
        { kind: "neighbor-solicitation", code: 0, target: v6b, options: slla, checksumStatus: "valid" },
        v6a,
        solicited,
        255,
      ),
    ),
    ["ethernet", "ipv6", "icmpv6"],
  );
  const tlla = new Uint8Array(8);
  emitNdpLinkLayerAddress(tlla, 0, NdpOption.TargetLinkLayerAddress, MAC_B);
  add(
    "ipv6 neighbor advertisement",
    ether(
      MAC_A,
      MAC_B,
      EtherType.IPv6,
      icmpv6(
        {
          kind: "neighbor-advertisement",
          code: 0,
          isRouter: false,
          isSolicited: true,
          isOverride: true,
          target: v6b,
          options: tlla,
          checksumStatus: "valid",
        },
        v6b,
        v6a,
        255,
      ),
    ),
    ["ethernet", "ipv6", "icmpv6"],
  );
  // A 1400-byte UDP datagram over IPv6, refused by a 1280-byte link: the quote fills the minimum MTU.
  const udpSeg = new Uint8Array(8 + 1352);
  udpSeg.set(pattern(1352), 8);
  Udp.emit({ srcPort: PORT_X, dstPort: PORT_Y, payloadLength: 1352, checksumStatus: "valid" }, udpSeg, 0, {
    version: 6,
    src: v6a,
    dst: v6b,
  });
  const bigV6 = ipv6(IpProtocol.UDP, v6a, v6b, udpSeg);
  add(
    "icmpv6 packet too big",
    ether(
      MAC_A,
      MAC_B,
      EtherType.IPv6,
      icmpv6(
        {
          kind: "packet-too-big",
          code: 0,
          mtu: 1280,
          invoking: bigV6.slice(0, 1280 - 48),
          checksumStatus: "valid",
        },
        parseIpv6("2001:db8::fe"),
        v6a,
      ),
    ),
    ["ethernet", "ipv6", "icmpv6", "ipv6", "udp"],
  );
  add("ipv6 udp", ether(MAC_B, MAC_A, EtherType.IPv6, bigV6), ["ethernet", "ipv6", "udp", "payload"]);

  const lacp = new Uint8Array(LACP_FRAME_LEN);
  Lacp.emitFrame(
    {
      version: 1,
      actor: {
        systemPriority: 32768,
        system: parseMac("02:00:00:00:aa:01"),
        key: 13,
        portPriority: 255,
        port: 2,
        state:
          LacpState.Activity |
          LacpState.Aggregation |
          LacpState.Synchronization |
          LacpState.Collecting |
          LacpState.Distributing,
      },
      partner: {
        systemPriority: 65535,
        system: parseMac("02:00:00:00:bb:01"),
        key: 7,
        portPriority: 128,
        port: 5,
        state: LacpState.Activity | LacpState.Timeout | LacpState.Aggregation | LacpState.Defaulted,
      },
      collectorMaxDelay: 0,
    },
    lacp,
    0,
    MAC_A,
  );
  add("lacpdu", lacp, ["ethernet", "lacp"]);

  // Spanning tree BPDUs (802.3 length + LLC 42 42 03): config and TCN of STP, RST of RSTP with
  // the flag combinations a handshake goes through.
  const bpdu = (repr: StpRepr) => {
    const b = new Uint8Array(STP_FRAME_LEN);
    Stp.emitFrame(repr, b, 0, MAC_A);
    return b;
  };
  const vector = {
    rootId: { priority: 4096, systemIdExtension: 0, mac: parseMac("02:00:00:00:aa:01") },
    rootPathCost: 20000,
    bridgeId: { priority: 32768, systemIdExtension: 10, mac: parseMac("02:00:00:00:bb:02") },
    portId: { priority: 128, number: 7 },
    messageAgeS: 1,
    maxAgeS: 20,
    helloTimeS: 2,
    forwardDelayS: 15,
  };
  add("stp config", bpdu({ type: "config", version: 0, flags: 0, ...vector }), ["ethernet", "stp"]);
  add(
    "stp config tc tca",
    bpdu({
      type: "config",
      version: 0,
      flags: StpFlag.TopologyChange | StpFlag.TopologyChangeAck,
      ...vector,
      messageAgeS: 2.5,
      helloTimeS: 1,
    }),
    ["ethernet", "stp"],
  );
  add("stp tcn", bpdu({ type: "tcn", version: 0 }), ["ethernet", "stp"]);
  const rst = (flags: number) => bpdu({ type: "rst", version: 2, flags, ...vector });
  add("rstp proposal designated", rst(StpFlag.Proposal | (3 << 2)), ["ethernet", "stp"]);
  add(
    "rstp agreement root forwarding",
    rst(StpFlag.Agreement | (2 << 2) | StpFlag.Learning | StpFlag.Forwarding),
    ["ethernet", "stp"],
  );
  add("rstp alternate", rst(1 << 2), ["ethernet", "stp"]);
  add(
    "rstp tc designated forwarding",
    rst(StpFlag.TopologyChange | (3 << 2) | StpFlag.Learning | StpFlag.Forwarding),
    ["ethernet", "stp"],
  );
  add("rstp all flags", rst(0xff), ["ethernet", "stp"]);

  // WireGuard's four messages on its port (contents are opaque bytes here: only the clear header
  // is dissected, by us and by tshark).
  const wg = (msg: Uint8Array, fromPeer: boolean) =>
    ether(
      MAC_B,
      MAC_A,
      EtherType.IPv4,
      udpIpv4(IP_A, IP_B, fromPeer ? 51820 : 43210, fromPeer ? 43210 : 51820, msg),
    );
  const wgHead = ["ethernet", "ipv4", "udp", "wireguard"];
  const init = new Uint8Array(WG_INITIATION_LEN);
  WgInitiation.emit(
    {
      senderIndex: 0x11223344,
      ephemeral: pattern(32, 3),
      encryptedStatic: pattern(48, 5),
      encryptedTimestamp: pattern(28, 7),
      mac1: pattern(16, 9),
      mac2: new Uint8Array(16),
    },
    init,
  );
  add("wireguard handshake initiation", wg(init, false), wgHead);
  const resp = new Uint8Array(WG_RESPONSE_LEN);
  WgResponse.emit(
    {
      senderIndex: 0x55667788,
      receiverIndex: 0x11223344,
      ephemeral: pattern(32, 11),
      encryptedNothing: pattern(16, 13),
      mac1: pattern(16, 15),
      mac2: new Uint8Array(16),
    },
    resp,
  );
  add("wireguard handshake response", wg(resp, true), wgHead);
  const cookie = new Uint8Array(WG_COOKIE_REPLY_LEN);
  WgCookieReply.emit(
    { receiverIndex: 0x11223344, nonce: pattern(24, 17), encryptedCookie: pattern(32, 19) },
    cookie,
  );
  add("wireguard cookie reply", wg(cookie, true), wgHead);
  const transport = new Uint8Array(16 + 96);
  WgTransport.emit({ receiverIndex: 0x55667788, counter: 41n, encrypted: pattern(96, 21) }, transport);
  add("wireguard transport data", wg(transport, false), wgHead);

  const vxlanHead = ["ethernet", "ipv4", "udp", "vxlan"];
  add("vxlan carrying arp", vxlan(ether(0xffffffffffff, MAC_A, EtherType.ARP, arp(arpRequest)), 5001), [
    ...vxlanHead,
    "ethernet",
    "arp",
  ]);
  add(
    "vxlan carrying icmp echo",
    vxlan(ether(MAC_B, MAC_A, EtherType.IPv4, ipv4(IpProtocol.ICMP, IP_A, IP_B, echo)), 0xabcdef),
    [...vxlanHead, "ethernet", "ipv4", "icmp", "payload"],
  );

  // The same frames with one checksum broken each: both decoders must call it bad.
  const corrupt = (name: string, from: string, byteAt: number) => {
    const base = frames.find((f) => f.name === from)!;
    const bytes = base.bytes.slice();
    bytes[byteAt] ^= 0x5a;
    frames.push({ name, bytes, layers: base.layers, hasBadChecksum: true });
  };
  corrupt("ipv4 bad header checksum", "ipv4/udp", 14 + 10);
  corrupt("udp bad checksum", "ipv4/udp", 34 + 6);
  corrupt("tcp bad checksum", "tcp syn with options", 34 + 16);
  corrupt("icmp bad checksum", "icmp echo reply", 34 + 2);
  corrupt("icmpv6 bad checksum", "ipv6 icmpv6 echo request", 54 + 2);
  return frames;
}
