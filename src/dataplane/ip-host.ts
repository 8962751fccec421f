/**
 * The IPv4 host logic shared by layer-3 devices: the VM's guest stack (one interface per vNIC)
 * and the router behind a physical switch's SVIs (one interface per SVI). It sits in
 * `src/dataplane/` beside the devices that wrap it (`vm.ts`, `router.ts`): pure logic, time
 * passed in, frames out through a per-interface output callback, timers and randomness from the
 * bound `DeviceEnv`, and a reason code plus a counter for every packet it refuses.
 *
 * What it does, and where the behaviour comes from:
 * - ARP per interface: `ip-interface.ts` (the neighbour cache and its Linux state machine); when
 *   resolution fails, every queued packet is answered with an ICMP host unreachable to its
 *   source, as Linux does: back to the sender for a router, looped back for a host's own packet,
 *   so `ping` prints "Destination Host Unreachable" from the host's own address.
 * - IPv4 input (RFC 1122 §3.2.1, RFC 1812 §5.2.2 for the router): header, length and checksum
 *   checked; weak host model (RFC 1122 §3.3.4.2: an address of any interface is ours); limited
 *   and directed broadcasts accepted; fragments reassembled (RFC 791 §3.2); packets not
 *   for us are dropped by a host or handed to the forwarding hook of a router.
 * - ICMP (RFC 792): echo reply; echo replies and errors matched to outstanding pings (by id and
 *   seq of the quoted echo request) and reported to the application; every ICMP error is also
 *   offered to `onIcmpError`. ICMP errors are generated under RFC 1812 §4.3.2.7 / RFC 1122
 *   §3.2.2 (never about an ICMP error, a broadcast or multicast, a non-first fragment or a
 *   source that is not a unicast host) and quote as much of the datagram as fits in 576 bytes
 *   (RFC 1812 §4.3.2.3); rate-limited like Linux (a burst of 6 per destination, then one a
 *   second; never fragmentation needed, never errors to the host itself).
 * - UDP (RFC 768): bind a port with a callback, send datagrams of a given payload, checksum
 *   always computed and verified when present, port unreachable for unbound ports.
 *
 * Packets this stack originates carry TTL 64, an identification counter seeded from
 * `env.random()`, and DF when they fit the path MTU (Linux's IP_PMTUDISC_WANT, RFC 1191); larger
 * ones are fragmented, and fragmentation-needed errors lower the path MTU per destination.
 * Frames are built with the wire codecs into `Frame.alloc` with the Ethernet header in front.
 * Fragmentation itself is `ip-fragment.ts`.
 */

import { formatIpv4, type Ipv4 } from "../wire/addr.ts";
import { WireError } from "../wire/error.ts";
import { ETHERNET_HEADER_LEN, Ethernet, EtherType } from "../wire/ethernet.ts";
import { ICMP_HEADER_LEN, Icmpv4, Icmpv4Type } from "../wire/icmp.ts";
import { IPV4_HEADER_LEN, IpProtocol, Ipv4Header } from "../wire/ipv4.ts";
import { UDP_HEADER_LEN, Udp } from "../wire/udp.ts";
import { DeviceConfigError } from "./config-error.ts";
import { DropCounters } from "./counters.ts";
import type { DeviceEnv } from "./device.ts";
import { Fib, prefixMask } from "./fib.ts";
import { DEFAULT_HEADROOM, Frame } from "./frame.ts";
import { fragmentIpv4 } from "./ip-fragment.ts";
import {
  ARP_DEFAULTS,
  type ArpConfig,
  type ArpStats,
  type FrameOutput,
  type InterfaceHost,
  IpInterface,
  type IpInterfaceConfig,
  isMulticastIp,
  isUnicastAddress,
  type NeighborInfo,
} from "./ip-interface.ts";
import type { HopAction, HopFacts, HopKind } from "./trace.ts";

// Re-exported so that users of the stack need one import.
export { fragmentIpv4 } from "./ip-fragment.ts";
export {
  ARP_DEFAULTS,
  type ArpConfig,
  type FrameOutput,
  IpInterface,
  type IpInterfaceConfig,
  isUnicastAddress,
  type NeighborInfo,
  type NeighborState,
} from "./ip-interface.ts";

/** Linux's default TTL (net.ipv4.ip_default_ttl). */
export const DEFAULT_TTL = 64;
/** RFC 1812 §4.3.2.3: an ICMP error holds as much of the datagram as fits in 576 bytes. */
export const ICMP_ERROR_MAX_LEN = 576;
/** iputils ping's default wait for a reply when it is given no -W: 10 s. */
export const DEFAULT_PING_TIMEOUT_NS = 10e9;
/** iputils ping's default payload (-s 56: 64 bytes of ICMP). */
export const DEFAULT_PING_SIZE_BYTES = 56;

/** An answer to a ping: a reply, an ICMP error about it, a local error, or silence. */
export type PingResult =
  | {
      kind: "reply";
      id: number;
      seq: number;
      from: Ipv4;
      rttNs: number;
      ttl: number;
      /** ICMP payload bytes of the reply (ping's "64 bytes" minus the 8-byte ICMP header). */
      sizeBytes: number;
      /** False when the reply's payload differs from what was sent (ping's "wrong data byte"). */
      isDataIntact: boolean;
    }
  | {
      kind: "error";
      id: number;
      seq: number;
      from: Ipv4;
      icmpType: number;
      icmpCode: number;
      /** Next-hop MTU of a fragmentation-needed error (RFC 1191), else 0. */
      mtu: number;
      /** What ping prints: "Destination Host Unreachable", "Time to live exceeded". */
      text: string;
    }
  | { kind: "timeout"; id: number; seq: number };

export interface PingOptions {
  id: number;
  seq: number;
  /** ICMP payload bytes (ping -s), default 56. */
  sizeBytes?: number;
  /** Default 64. */
  ttl?: number;
  /** How long to wait for an answer before reporting a timeout, default 10 s. */
  timeoutNs?: number;
}

/** A UDP datagram delivered to a bound port. `payload` is a view valid only during the call. */
export interface UdpDatagram {
  src: Ipv4;
  dst: Ipv4;
  srcPort: number;
  dstPort: number;
  payload: Uint8Array;
  ttl: number;
  /** The interface it arrived on. */
  interfaceName: string;
  nowNs: number;
  /** The frame that carried it (for trace records about it). */
  frameId?: number;
}

/** An ICMP error received by this stack, with the quoted datagram's key fields. */
export interface IcmpErrorReport {
  from: Ipv4;
  icmpType: number;
  icmpCode: number;
  mtu: number;
  text: string;
  /** The quoted datagram: who sent what to whom. */
  quotedSrc: Ipv4;
  quotedDst: Ipv4;
  quotedProtocol: number;
  /** UDP/TCP ports of the quoted datagram, or ICMP id/seq for a quoted echo; 0 when absent. */
  quotedSrcPort: number;
  quotedDstPort: number;
  nowNs: number;
}

/** Why a send was refused before any frame existed; the same code is counted as a drop. */
export type SendError = "no-route" | "bad-port" | "bad-size";

export interface IpStats extends ArpStats {
  ipRxPackets: number;
  ipTxPackets: number;
  ipForwarded: number;
  ipFragmentsCreated: number;
  ipReassembled: number;
  icmpRx: number;
  icmpTx: number;
  icmpErrorsSent: number;
  icmpErrorsSuppressed: number;
  icmpErrorsRateLimited: number;
  redirectsApplied: number;
  udpRxDatagrams: number;
  udpRxBytes: number;
  udpTxDatagrams: number;
  udpTxBytes: number;
  arpRequestsSent: number;
  arpRepliesSent: number;
  arpRepliesReceived: number;
  arpRequestsReceived: number;
}

function newStats(): IpStats {
  return {
    ipRxPackets: 0,
    ipTxPackets: 0,
    ipForwarded: 0,
    ipFragmentsCreated: 0,
    ipReassembled: 0,
    icmpRx: 0,
    icmpTx: 0,
    icmpErrorsSent: 0,
    icmpErrorsSuppressed: 0,
    icmpErrorsRateLimited: 0,
    redirectsApplied: 0,
    udpRxDatagrams: 0,
    udpRxBytes: 0,
    udpTxDatagrams: 0,
    udpTxBytes: 0,
    arpRequestsSent: 0,
    arpRepliesSent: 0,
    arpRepliesReceived: 0,
    arpRequestsReceived: 0,
  };
}

const OFF_IP = ETHERNET_HEADER_LEN;

interface OutstandingPing {
  dst: Ipv4;
  sentNs: number;
  sizeBytes: number;
  timer: number;
  onResult: (result: PingResult) => void;
}

export interface IpHostOptions {
  /** Device name in trace records (the VM's name, or the switch's for its router). */
  name: string;
  /** Hop kind of the trace records: "vm" for a guest, "gateway" for an SVI router. */
  hopKind: HopKind;
  /** Neighbour-cache parameters (defaults: `ARP_DEFAULTS`). */
  arp?: Partial<ArpConfig>;
  /** Drop counters to count into (the owning device's). */
  drops?: DropCounters;
}

/**
 * Called for an IPv4 packet that is not addressed to this stack. A host leaves it unset (the
 * packet is dropped as "not-our-address"); a router forwards it. The header is validated.
 */
/** What `IpHost.route` chose: the egress interface and the next hop. */
export interface RouteChoice {
  iface: IpInterface;
  nextHop: Ipv4;
}

export type ForwardHook = (iface: IpInterface, frame: Frame, ipOffset: number, nowNs: number) => void;
/** Takes a GRE packet addressed to the stack (true when it was a tunnel's and handled). */
export type GreHook = (iface: IpInterface, frame: Frame, ipOffset: number, nowNs: number) => boolean;

/** The IPv4 stack of one device: its interfaces, ARP, ICMP, UDP and the routing choice. */
export class IpHost implements InterfaceHost {
  readonly name: string;
  readonly hopKind: HopKind;
  readonly arp: ArpConfig;
  readonly interfaces: IpInterface[] = [];
  /** The forwarding table: a connected route per interface, a default route per gateway, static routes. */
  readonly fib = new Fib<IpInterface>();
  readonly drops: DropCounters;
  readonly stats: IpStats = newStats();
  forwardHook: ForwardHook | null = null;
  /**
   * Called for every valid IPv4 packet received, before the stack decides whether it is its own
   * (a NAT translating a reply's destination back to an inside host sits here, as Linux's
   * PREROUTING); it may rewrite the packet in place.
   */
  preRouteHook: ForwardHook | null = null;
  /** A router with GRE tunnels decapsulates through this (ip protocol 47 to one of our addresses). */
  greHook: GreHook | null = null;
  /** The one answer `route` fills in and returns. */
  private readonly routeChoice = { iface: null as unknown as IpInterface, nextHop: 0 };
  private envOrNull: DeviceEnv | null = null;
  private ident = 0;
  private readonly pings = new Map<number, OutstandingPing>();
  private readonly udpPorts = new Map<number, (d: UdpDatagram) => void>();
  /** Replaced, never mutated, so a listener may unsubscribe while being called. */
  private icmpErrorListeners: ((e: IcmpErrorReport) => void)[] = [];
  /** Path MTUs learned from fragmentation-needed errors (RFC 1191), keyed by `dst | 0`. */
  private readonly pmtus = new Map<number, { mtu: number; expiresNs: number }>();
  private readonly reassemblies = new Map<string, Reassembly>();
  private reassemblyBytes = 0;
  private readonly icmpBuckets = new Map<number, { tokensNs: number; lastNs: number }>();
  /** First hops learned from ICMP redirects, keyed by `dst | 0`. */
  private readonly redirects = new Map<number, { iface: IpInterface; gateway: Ipv4; expiresNs: number }>();
  private icmpGlobalTokens = ICMP_GLOBAL_BURST;
  private icmpGlobalLastNs = 0;

  constructor(options: IpHostOptions) {
    this.name = options.name;
    this.hopKind = options.hopKind;
    this.arp = { ...ARP_DEFAULTS, ...options.arp };
    this.drops = options.drops ?? new DropCounters();
  }

  get env(): DeviceEnv {
    if (this.envOrNull === null) throw new Error(`${this.name}: IP stack used before bind()`);
    return this.envOrNull;
  }

  addInterface(config: IpInterfaceConfig, output: FrameOutput): IpInterface {
    for (const other of this.interfaces) {
      if (other.name === config.name)
        throw new DeviceConfigError("bad-port", `${this.name}: duplicate interface ${config.name}`);
      if (other.ip === config.ip) {
        throw new DeviceConfigError(
          "bad-value",
          `${this.name}: ${formatIpv4(config.ip)} is on ${other.name} already`,
        );
      }
    }
    const iface = new IpInterface(this, this.interfaces.length, config, output);
    this.interfaces.push(iface);
    // The connected route (the first interface on a subnet keeps it, as Linux prefers the first),
    // and a default route through the first interface that has a gateway.
    const net = (iface.ip & prefixMask(iface.prefixLen)) >>> 0;
    const connected = this.fib.lookup(net);
    if (connected === null || connected.prefixLen !== iface.prefixLen || connected.kind !== "connected")
      this.fib.add(net, iface.prefixLen, [{ iface, gateway: null }], "connected");
    if (iface.gateway !== null) {
      const dflt = this.fib.lookup(0);
      if (dflt === null || dflt.prefixLen !== 0)
        this.fib.add(0, 0, [{ iface, gateway: iface.gateway }], "static");
    }
    return iface;
  }

  /**
   * A static route: `prefix/prefixLen` through the given gateways (several: ECMP). Each gateway
   * must be on the subnet of one of this stack's interfaces.
   */
  addRoute(prefix: Ipv4, prefixLen: number, gateways: readonly Ipv4[]): void {
    const hops = gateways.map((gw) => {
      const iface = this.connectedInterface(gw);
      if (iface === null)
        throw new DeviceConfigError(
          "bad-value",
          `${this.name}: gateway ${formatIpv4(gw)} of route ${formatIpv4(prefix)}/${prefixLen} is on no interface's subnet`,
        );
      return { iface, gateway: gw };
    });
    this.fib.add(prefix, prefixLen, hops, "static");
  }

  bind(env: DeviceEnv): void {
    this.envOrNull = env;
    // Linux seeds IP ids per destination from a random secret; one random start is enough here.
    this.ident = Math.floor(env.random() * 0x10000);
  }

  /**
   * Power lost: the stack forgets what lived in memory (neighbour caches, with the packets queued
   * on them dropped as "powered-off"; outstanding pings, whose results never come: the program
   * died too; fragments in reassembly, learned path MTUs and redirects, ICMP rate-limit
   * buckets). Interfaces, routes and bound UDP ports are configuration and stay.
   */
  powerOff(nowNs: number): void {
    for (const iface of this.interfaces)
      iface.flushNeighbors(nowNs, "powered-off", "dropped: the device lost power");
    for (const p of this.pings.values()) this.env.cancelTimer(p.timer);
    this.pings.clear();
    for (const r of this.reassemblies.values()) if (r.timer !== 0) this.env.cancelTimer(r.timer);
    this.reassemblies.clear();
    this.reassemblyBytes = 0;
    this.pmtus.clear();
    this.redirects.clear();
    this.icmpBuckets.clear();
    this.icmpGlobalTokens = ICMP_GLOBAL_BURST;
    this.icmpGlobalLastNs = 0;
  }

  /** Announces every interface's address with a gratuitous ARP. */
  start(nowNs: number): void {
    for (const iface of this.interfaces) iface.announce(nowNs);
  }

  /** True when `ip` is an address of one of this stack's interfaces. */
  isOwnAddress(ip: Ipv4): boolean {
    return this.interfaceByAddress(ip) !== null;
  }

  /**
   * Where a packet for `dst` stays on this host: an own address, or 127.0.0.0/8, which Linux
   * answers on its loopback (`lo`, the local route for the whole /8) and never sends to a
   * gateway. The loopback has no interface of its own here; the first one carries its traffic.
   */
  localInterfaceFor(dst: Ipv4): IpInterface | null {
    const own = this.interfaceByAddress(dst);
    if (own !== null) return own;
    if (dst >>> 24 === 127 && this.interfaces.length > 0) return this.interfaces[0];
    return null;
  }

  interfaceByAddress(ip: Ipv4): IpInterface | null {
    const k = ip | 0;
    const ifaces = this.interfaces;
    for (let i = 0; i < ifaces.length; i++) if (ifaces[i].ipInt32 === k) return ifaces[i];
    return null;
  }

  /** The connected interface whose subnet holds `dst`, longest prefix first; null if none. */
  connectedInterface(dst: Ipv4): IpInterface | null {
    let best: IpInterface | null = null;
    const ifaces = this.interfaces;
    for (let i = 0; i < ifaces.length; i++) {
      const iface = ifaces[i];
      if (iface.contains(dst) && (best === null || iface.prefixLen > best.prefixLen)) best = iface;
    }
    return best;
  }

  /**
   * The routing choice, from the forwarding table: the longest-prefix route for `dst`; on a
   * connected route the next hop is `dst` itself, else the route's gateway (of an ECMP group,
   * the one `flow` hashes to: `flowHash` of the packet's 5-tuple). A first hop learned from an
   * ICMP redirect overrides a gateway route for its destination. The limited broadcast and
   * multicast groups leave by the first interface. Null when nothing fits ("Network is
   * unreachable"). The answer is one object reused by every call: read it before routing again.
   */
  /**
   * Changes whenever `route`'s answer may change (a route added or removed, an interface added),
   * or -1 while redirects are held (their answers expire with time): a caller may keep `route`'s
   * answer for a destination and flow while this stays the same number, >= 0.
   */
  get routeGeneration(): number {
    return this.redirects.size > 0 ? -1 : this.fib.version;
  }

  route(dst: Ipv4, nowNs = 0, flow = 0): RouteChoice | null {
    if (((dst | 0) === -1 || isMulticastIp(dst)) && this.interfaces.length > 0) {
      // Link-local delivery: the limited broadcast and groups leave by the first interface.
      return this.choose(this.interfaces[0], dst);
    }
    const r = this.fib.lookup(dst);
    if (r !== null && r.kind === "connected") return this.choose(r.nextHops[0].iface, dst);
    if (this.redirects.size > 0) {
      const red = this.redirects.get(dst | 0);
      if (red !== undefined) {
        if (nowNs < red.expiresNs) return this.choose(red.iface, red.gateway);
        this.redirects.delete(dst | 0);
      }
    }
    if (r === null) return null;
    const hop = Fib.pick(r, flow);
    return this.choose(hop.iface, hop.gateway ?? dst);
  }
  /** Fills the one reused answer of `route` (the forwarding path allocates nothing per packet). */
  private choose(iface: IpInterface, nextHop: Ipv4): RouteChoice {
    const c = this.routeChoice;
    c.iface = iface;
    c.nextHop = nextHop;
    return c;
  }

  /** Every interface's neighbour cache, for `show arp`. */
  neighborTable(nowNs: number): NeighborInfo[] {
    return this.interfaces.flatMap((i) => i.neighborTable(nowNs));
  }

  // ---- input -------------------------------------------------------------------------------

  /**
   * Takes an untagged Ethernet frame that arrived on `iface` (the caller has checked that it is
   * addressed to the interface's MAC or is broadcast).
   */
  receive(iface: IpInterface, frame: Frame, nowNs: number): void {
    const b = frame.buf;
    const s = frame.start;
    if (frame.length < ETHERNET_HEADER_LEN) {
      this.dropFrame(iface, frame, "runt", "dropped: shorter than an Ethernet header", nowNs);
      return;
    }
    const type = Ethernet.etherType(b, s);
    if (type === EtherType.ARP) {
      iface.receiveArp(frame, s + ETHERNET_HEADER_LEN, nowNs);
      return;
    }
    if (type === EtherType.IPv4) {
      this.receiveIpv4(iface, frame, s + OFF_IP, nowNs);
      return;
    }
    if (type === EtherType.VLAN || type === EtherType.QinQ) {
      this.dropFrame(iface, frame, "vlan-tagged", "dropped: tagged frame, no VLAN interface here", nowNs);
      return;
    }
    this.dropFrame(
      iface,
      frame,
      "unsupported-ethertype",
      `dropped: EtherType 0x${type.toString(16).padStart(4, "0")} not handled`,
      nowNs,
    );
  }

  private receiveIpv4(iface: IpInterface, frame: Frame, off: number, nowNs: number): void {
    const b = frame.buf;
    let hl: number;
    try {
      if (off + IPV4_HEADER_LEN > frame.end) throw new WireError("truncated", off, "ipv4: header truncated");
      // "Quoted" skips the buffer-length check: the frame's end, not the buffer's, bounds it.
      hl = Ipv4Header.validate(b, off, true);
      const total = Ipv4Header.totalLength(b, off);
      if (off + total > frame.end) {
        throw new WireError(
          "bad-length",
          off + 2,
          `ipv4: total length ${total} exceeds the ${frame.end - off} bytes present`,
        );
      }
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
      this.dropFrame(iface, frame, "ip-malformed", `dropped: malformed IPv4 (${e.message})`, nowNs);
      return;
    }
    if (!Ipv4Header.isChecksumValid(b, off)) {
      this.dropFrame(iface, frame, "ip-bad-checksum", "dropped: IPv4 header checksum", nowNs);
      return;
    }
    // Anything past the total length is Ethernet padding: not part of the packet.
    frame.end = off + Ipv4Header.totalLength(b, off);
    this.stats.ipRxPackets++;
    if (this.preRouteHook !== null) this.preRouteHook(iface, frame, off, nowNs);
    const dst = Ipv4Header.dst(b, off) | 0;
    if (this.isOwnAddress(dst) || iface.isBroadcast(dst)) {
      this.deliverLocal(iface, frame, off, hl, nowNs);
      return;
    }
    if (this.forwardHook !== null) {
      this.forwardHook(iface, frame, off, nowNs);
      return;
    }
    const reason = isMulticastIp(dst)
      ? `dropped: multicast ${formatIpv4(dst >>> 0)} not joined`
      : `dropped: ${formatIpv4(dst >>> 0)} is not our address`;
    this.dropFrame(
      iface,
      frame,
      isMulticastIp(dst) ? "multicast-not-joined" : "not-our-address",
      reason,
      nowNs,
    );
  }

  /** A packet addressed to this stack (an own address or a broadcast). */
  private deliverLocal(iface: IpInterface, frameIn: Frame, offIn: number, hl: number, nowNs: number): void {
    let frame = frameIn;
    let off = offIn;
    if (Ipv4Header.isFragment(frame.buf, off)) {
      const whole = this.reassemble(iface, frame, off, hl, nowNs);
      if (whole === null) return;
      frame = whole;
      off = whole.start + OFF_IP;
    }
    const b = frame.buf;
    const proto = Ipv4Header.protocol(b, off);
    if (proto === IpProtocol.ICMP) {
      this.receiveIcmp(iface, frame, off, hl, nowNs);
      return;
    }
    if (proto === IpProtocol.UDP) {
      this.receiveUdp(iface, frame, off, hl, nowNs);
      return;
    }
    if (proto === IpProtocol.GRE && this.greHook !== null && this.greHook(iface, frame, off, nowNs)) return;
    this.dropFrame(iface, frame, "ip-unknown-protocol", `dropped: IP protocol ${proto} not handled`, nowNs);
    // RFC 1122 §3.2.2.1: a host SHOULD answer an unknown protocol with protocol unreachable.
    this.sendIcmpError(frame, off, Icmpv4Type.DestUnreachable, 2, 0, nowNs);
  }

  private receiveIcmp(iface: IpInterface, frame: Frame, off: number, hl: number, nowNs: number): void {
    const b = frame.buf;
    const icmpOff = off + hl;
    const icmpLen = frame.end - icmpOff;
    this.stats.icmpRx++;
    if (icmpLen < ICMP_HEADER_LEN) {
      this.dropFrame(iface, frame, "icmp-malformed", "dropped: ICMP message shorter than its header", nowNs);
      return;
    }
    if (!Icmpv4.isChecksumValid(b, icmpOff, icmpLen)) {
      this.dropFrame(iface, frame, "icmp-bad-checksum", "dropped: ICMP checksum", nowNs);
      return;
    }
    const type = Icmpv4.type(b, icmpOff);
    const src = Ipv4Header.src(b, off);
    const dst = Ipv4Header.dst(b, off);
    if (type === Icmpv4Type.EchoRequest) {
      if (iface.isBroadcast(dst)) {
        // Linux icmp_echo_ignore_broadcasts=1 (RFC 1122 §3.2.2.6 leaves it to the host).
        this.dropFrame(iface, frame, "echo-broadcast-ignored", "dropped: echo request to a broadcast", nowNs);
        return;
      }
      this.replyEcho(iface, frame, off, hl, nowNs);
      return;
    }
    if (type === Icmpv4Type.EchoReply) {
      const id = Icmpv4.ident(b, icmpOff);
      const seq = Icmpv4.seq(b, icmpOff);
      const ping = this.pings.get(pingKey(id, seq));
      if (ping === undefined || ping.dst !== src) {
        this.dropFrame(
          iface,
          frame,
          "echo-reply-unexpected",
          `dropped: echo reply id ${id} seq ${seq} matches no ping`,
          nowNs,
        );
        return;
      }
      this.pings.delete(pingKey(id, seq));
      this.env.cancelTimer(ping.timer);
      const dataLen = icmpLen - ICMP_HEADER_LEN;
      let isDataIntact = dataLen === ping.sizeBytes;
      for (let i = 0; isDataIntact && i < dataLen; i++) {
        if (b[icmpOff + ICMP_HEADER_LEN + i] !== pingPattern(i)) isDataIntact = false;
      }
      if (this.env.isTracing) {
        this.record(
          frame,
          iface,
          "deliver",
          `echo reply ${formatIpv4(src)} -> ${formatIpv4(dst)} id ${id} seq ${seq}`,
          nowNs,
        );
      }
      ping.onResult({
        kind: "reply",
        id,
        seq,
        from: src,
        rttNs: nowNs - ping.sentNs,
        ttl: Ipv4Header.ttl(b, off),
        sizeBytes: dataLen,
        isDataIntact,
      });
      return;
    }
    if (isIcmpError(type)) {
      this.receiveIcmpError(iface, frame, off, icmpOff, nowNs);
      return;
    }
    this.dropFrame(iface, frame, "icmp-type-unsupported", `dropped: ICMP type ${type} not handled`, nowNs);
  }

  private receiveIcmpError(
    iface: IpInterface,
    frame: Frame,
    off: number,
    icmpOff: number,
    nowNs: number,
  ): void {
    const b = frame.buf;
    const type = Icmpv4.type(b, icmpOff);
    const code = Icmpv4.code(b, icmpOff);
    const from = Ipv4Header.src(b, off);
    const qOff = icmpOff + ICMP_HEADER_LEN;
    let qhl: number;
    try {
      if (qOff + IPV4_HEADER_LEN > frame.end)
        throw new WireError("truncated", qOff, "quoted header truncated");
      qhl = Ipv4Header.validate(b, qOff, true);
      // RFC 792: the quote holds the header and at least 64 bits of the original data.
      const need = Math.min(8, Ipv4Header.totalLength(b, qOff) - qhl);
      if (qOff + qhl + need > frame.end)
        throw new WireError("truncated", qOff + qhl, "quote shorter than 8 data bytes");
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
      this.dropFrame(
        iface,
        frame,
        "icmp-malformed",
        `dropped: ICMP error with a bad quote (${e.message})`,
        nowNs,
      );
      return;
    }
    if (type === Icmpv4Type.Redirect) {
      this.applyRedirect(iface, frame, off, icmpOff, qOff, nowNs);
      return;
    }
    const mtu = type === Icmpv4Type.DestUnreachable && code === 4 ? Icmpv4.nextHopMtu(b, icmpOff) : 0;
    const text = icmpErrorText(type, code, mtu);
    const qProto = Ipv4Header.protocol(b, qOff);
    const qSrc = Ipv4Header.src(b, qOff);
    const qDst = Ipv4Header.dst(b, qOff);
    const l4 = qOff + qhl;
    let qSrcPort = 0;
    let qDstPort = 0;
    if (qProto === IpProtocol.UDP || qProto === IpProtocol.TCP) {
      qSrcPort = (b[l4] << 8) | b[l4 + 1];
      qDstPort = (b[l4 + 2] << 8) | b[l4 + 3];
    } else if (qProto === IpProtocol.ICMP) {
      qSrcPort = Icmpv4.ident(b, l4);
      qDstPort = Icmpv4.seq(b, l4);
    }
    if (this.env.isTracing) {
      this.record(
        frame,
        iface,
        "deliver",
        `ICMP ${text} from ${formatIpv4(from)} about ${formatIpv4(qSrc)} -> ${formatIpv4(qDst)}`,
        nowNs,
      );
    }
    if (mtu >= 68 && this.isOwnAddress(qSrc)) this.learnPathMtu(qDst, mtu, nowNs);
    if (qProto === IpProtocol.ICMP && b[l4] === Icmpv4Type.EchoRequest) {
      const key = pingKey(qSrcPort, qDstPort);
      const ping = this.pings.get(key);
      if (ping !== undefined && ping.dst === qDst) {
        this.pings.delete(key);
        this.env.cancelTimer(ping.timer);
        ping.onResult({
          kind: "error",
          id: qSrcPort,
          seq: qDstPort,
          from,
          icmpType: type,
          icmpCode: code,
          mtu,
          text,
        });
      }
    }
    if (this.icmpErrorListeners.length > 0) {
      const report: IcmpErrorReport = {
        from,
        icmpType: type,
        icmpCode: code,
        mtu,
        text,
        quotedSrc: qSrc,
        quotedDst: qDst,
        quotedProtocol: qProto,
        quotedSrcPort: qSrcPort,
        quotedDstPort: qDstPort,
        nowNs,
      };
      for (const l of this.icmpErrorListeners) l(report);
    }
  }

  /**
   * RFC 1122 §3.2.2.2 / RFC 792: a redirect teaches a host a better first hop for the quoted
   * destination (net redirects are taken as host redirects, as RFC 1122 says). Accepted, as by
   * Linux (`accept_redirects` on a host, secure checks of `ip_rt_redirect`), only from the
   * current first hop for that destination, towards an on-link unicast address that is not
   * ours; kept for 300 s. A router (forwarding) ignores redirects.
   */
  private applyRedirect(
    iface: IpInterface,
    frame: Frame,
    off: number,
    icmpOff: number,
    qOff: number,
    nowNs: number,
  ) {
    const b = frame.buf;
    const from = Ipv4Header.src(b, off);
    const target = Ipv4Header.dst(b, qOff);
    const gateway = Icmpv4.restOfHeader(b, icmpOff);
    const text = `ICMP redirect from ${formatIpv4(from)}: ${formatIpv4(target)} via ${formatIpv4(gateway)}`;
    if (this.forwardHook !== null) {
      this.dropFrame(
        iface,
        frame,
        "icmp-redirect-ignored",
        `dropped: ${text} (a router ignores redirects)`,
        nowNs,
      );
      return;
    }
    const current = this.route(target, nowNs);
    const isAcceptable =
      current !== null &&
      current.iface === iface &&
      current.nextHop === from &&
      iface.contains(gateway) &&
      !iface.isBroadcast(gateway) &&
      isUnicastAddress(gateway) &&
      !this.isOwnAddress(gateway) &&
      gateway !== current.nextHop;
    if (!isAcceptable) {
      this.dropFrame(
        iface,
        frame,
        "icmp-redirect-refused",
        `dropped: ${text} (not from our first hop, or not on-link)`,
        nowNs,
      );
      return;
    }
    this.redirects.set(target | 0, { iface, gateway, expiresNs: nowNs + REDIRECT_EXPIRES_NS });
    this.stats.redirectsApplied++;
    if (this.env.isTracing) this.record(frame, iface, "deliver", `${text}: applied`, nowNs);
  }

  private replyEcho(iface: IpInterface, req: Frame, off: number, hl: number, nowNs: number): void {
    const b = req.buf;
    const src = Ipv4Header.src(b, off);
    const dst = Ipv4Header.dst(b, off);
    const icmpOff = off + hl;
    const icmpLen = req.end - icmpOff;
    const id = Icmpv4.ident(b, icmpOff);
    const seq = Icmpv4.seq(b, icmpOff);
    if (this.env.isTracing) {
      this.record(
        req,
        iface,
        "deliver",
        `echo request ${formatIpv4(src)} -> ${formatIpv4(dst)} id ${id} seq ${seq}`,
        nowNs,
      );
    }
    const reply = this.allocIpv4(icmpLen);
    const ro = reply.start + OFF_IP;
    const rIcmp = ro + IPV4_HEADER_LEN;
    // RFC 792: the reply carries the request's identifier, sequence number and data.
    reply.buf.set(b.subarray(icmpOff + ICMP_HEADER_LEN, req.end), rIcmp + ICMP_HEADER_LEN);
    writeEchoHeader(Icmpv4Type.EchoReply, id, seq, reply.buf, rIcmp, icmpLen);
    this.emitIpv4Header(reply, dst, src, IpProtocol.ICMP, icmpLen, DEFAULT_TTL, Ipv4Header.dscp(b, off));
    this.stats.icmpTx++;
    if (this.env.isTracing) {
      this.record(
        reply,
        iface,
        "reply",
        `echo reply ${formatIpv4(dst)} -> ${formatIpv4(src)} id ${id} seq ${seq}`,
        nowNs,
      );
    }
    this.output(reply, nowNs);
  }

  private receiveUdp(iface: IpInterface, frame: Frame, off: number, hl: number, nowNs: number): void {
    const b = frame.buf;
    const udpOff = off + hl;
    const ipPayloadLen = frame.end - udpOff;
    let udpLen: number;
    try {
      udpLen = Udp.validate(b, udpOff, ipPayloadLen);
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
      this.dropFrame(iface, frame, "udp-malformed", `dropped: malformed UDP (${e.message})`, nowNs);
      return;
    }
    // A zero checksum means the sender computed none (RFC 768).
    if (
      Udp.checksum(b, udpOff) !== 0 &&
      !Udp.isChecksumValid(b, udpOff, Ipv4Header.pseudoHeaderSum(b, off, IpProtocol.UDP, udpLen))
    ) {
      this.dropFrame(iface, frame, "udp-bad-checksum", "dropped: UDP checksum", nowNs);
      return;
    }
    const src = Ipv4Header.src(b, off);
    const dst = Ipv4Header.dst(b, off);
    const srcPort = Udp.srcPort(b, udpOff);
    const dstPort = Udp.dstPort(b, udpOff);
    const handler = this.udpPorts.get(dstPort);
    if (handler === undefined) {
      const what = `dropped: UDP ${formatIpv4(src)}:${srcPort} -> ${formatIpv4(dst)}:${dstPort}, port unreachable`;
      this.dropFrame(iface, frame, "udp-port-unreachable", what, nowNs);
      if (!iface.isBroadcast(dst)) this.sendIcmpError(frame, off, Icmpv4Type.DestUnreachable, 3, 0, nowNs);
      return;
    }
    this.stats.udpRxDatagrams++;
    this.stats.udpRxBytes += udpLen - UDP_HEADER_LEN;
    if (this.env.isTracing) {
      this.record(
        frame,
        iface,
        "deliver",
        `UDP ${formatIpv4(src)}:${srcPort} -> ${formatIpv4(dst)}:${dstPort}, ${udpLen - UDP_HEADER_LEN} bytes`,
        nowNs,
      );
    }
    handler({
      src,
      dst,
      srcPort,
      dstPort,
      payload: b.subarray(udpOff + UDP_HEADER_LEN, udpOff + udpLen),
      ttl: Ipv4Header.ttl(b, off),
      interfaceName: iface.name,
      nowNs,
      frameId: frame.id,
    });
  }

  // ---- applications ------------------------------------------------------------------------

  /**
   * Sends an ICMP echo request (what `ping -c 1 -s size -t ttl` sends) and reports exactly one
   * result through `onResult`: the reply with its RTT, an ICMP error about the request (also the
   * local "Destination Host Unreachable" when ARP fails), or a timeout. Returns null when the
   * request left (or waits for ARP), else why it could not be sent.
   */
  ping(dst: Ipv4, options: PingOptions, nowNs: number, onResult: (r: PingResult) => void): SendError | null {
    const sizeBytes = options.sizeBytes ?? DEFAULT_PING_SIZE_BYTES;
    const ttl = options.ttl ?? DEFAULT_TTL;
    const { id, seq } = options;
    if (!isU16(id) || !isU16(seq) || !Number.isInteger(ttl) || ttl < 1 || ttl > 255) {
      this.drops.add("bad-port");
      return "bad-port";
    }
    if (!Number.isInteger(sizeBytes) || sizeBytes < 0 || sizeBytes > 65507) {
      this.drops.add("bad-size");
      return "bad-size";
    }
    const path = this.pathTo(dst, nowNs);
    if (typeof path === "string") return path;
    const { iface, src } = path;
    const icmpLen = ICMP_HEADER_LEN + sizeBytes;
    const f = this.allocIpv4(icmpLen);
    const io = f.start + OFF_IP + IPV4_HEADER_LEN;
    for (let i = 0; i < sizeBytes; i++) f.buf[io + ICMP_HEADER_LEN + i] = pingPattern(i);
    writeEchoHeader(Icmpv4Type.EchoRequest, id, seq, f.buf, io, icmpLen);
    this.emitIpv4Header(f, src, dst, IpProtocol.ICMP, icmpLen, ttl, 0);
    const key = pingKey(id, seq);
    const previous = this.pings.get(key);
    if (previous !== undefined) this.env.cancelTimer(previous.timer);
    const timeoutNs = options.timeoutNs ?? DEFAULT_PING_TIMEOUT_NS;
    const timer = this.env.setTimer(timeoutNs, () => {
      const p = this.pings.get(key);
      if (p === undefined || p.timer !== timer) return;
      this.pings.delete(key);
      p.onResult({ kind: "timeout", id, seq });
    });
    this.pings.set(key, { dst, sentNs: nowNs, sizeBytes, timer, onResult });
    this.stats.icmpTx++;
    if (this.env.isTracing) {
      this.record(
        f,
        iface,
        "send",
        `echo request ${formatIpv4(src)} -> ${formatIpv4(dst)} id ${id} seq ${seq}`,
        nowNs,
      );
    }
    this.output(f, nowNs);
    return null;
  }

  /**
   * RFC 1191 §6.3: a fragmentation-needed error lowers the path MTU to its destination, for
   * Linux's mtu_expires (10 min), never below Linux's min_pmtu (552).
   */
  private learnPathMtu(dst: Ipv4, mtu: number, nowNs: number): void {
    const clamped = Math.max(mtu, MIN_PMTU);
    const known = this.pmtus.get(dst | 0);
    if (known !== undefined && nowNs < known.expiresNs && known.mtu <= clamped) return;
    this.pmtus.set(dst | 0, { mtu: clamped, expiresNs: nowNs + PMTU_EXPIRES_NS });
  }

  /**
   * Collects a fragment (RFC 791 §3.2 reassembly, RFC 815's idea of filling holes); returns the
   * whole datagram as a new frame once every byte is there, else null. Fragments that overlap
   * are refused with their whole datagram (what Linux does since FragmentSmack, as RFC 5722
   * prescribes for IPv6); a datagram not complete after 30 s (ipfrag_time) is dropped with an
   * ICMP time exceeded (code 1) if its first fragment came (RFC 1122 §3.3.2).
   */
  private reassemble(iface: IpInterface, frame: Frame, off: number, hl: number, nowNs: number): Frame | null {
    const b = frame.buf;
    const fragOffset = Ipv4Header.fragmentOffsetBytes(b, off);
    const len = frame.end - off - hl;
    const isLast = !Ipv4Header.moreFragments(b, off);
    if (!isLast && len % 8 !== 0) {
      this.dropFrame(
        iface,
        frame,
        "ip-fragment-malformed",
        "dropped: fragment length not a multiple of 8",
        nowNs,
      );
      return null;
    }
    if (hl + fragOffset + len > 0xffff) {
      this.dropFrame(iface, frame, "ip-fragment-too-big", "dropped: fragment beyond 65535 bytes", nowNs);
      return null;
    }
    const src = Ipv4Header.src(b, off);
    const dst = Ipv4Header.dst(b, off);
    const id = Ipv4Header.ident(b, off);
    const key = `${src}>${dst}/${Ipv4Header.protocol(b, off)}#${id}`;
    // Charged like Linux's skb truesize: a flood of tiny fragments cannot hold a million entries.
    const cost = len + FRAGMENT_OVERHEAD_BYTES;
    if (this.reassemblyBytes + cost > REASSEMBLY_MAX_BYTES) {
      this.dropFrame(iface, frame, "ip-reassembly-full", "dropped: reassembly memory full", nowNs);
      return null;
    }
    let r = this.reassemblies.get(key);
    if (r === undefined) {
      const created: Reassembly = { key, first: null, pieces: [], payloadLength: -1, bytes: 0, timer: 0 };
      created.timer = this.env.setTimer(REASSEMBLY_TIMEOUT_NS, (t) =>
        this.reassemblyTimedOut(iface, created, t),
      );
      this.reassemblies.set(key, created);
      r = created;
    }
    for (const p of r.pieces) {
      if (fragOffset < p.offset + p.data.length && p.offset < fragOffset + len) {
        const isDuplicate = p.offset === fragOffset && p.data.length === len;
        this.dropFrame(
          iface,
          frame,
          isDuplicate ? "ip-fragment-duplicate" : "ip-fragment-overlap",
          isDuplicate
            ? "dropped: duplicate fragment"
            : `dropped: fragment overlaps, datagram id ${id} discarded`,
          nowNs,
        );
        if (!isDuplicate) this.discardReassembly(r);
        return null;
      }
    }
    const end = fragOffset + len;
    if (
      (isLast && r.payloadLength >= 0 && r.payloadLength !== end) ||
      (r.payloadLength >= 0 && end > r.payloadLength)
    ) {
      this.dropFrame(
        iface,
        frame,
        "ip-fragment-overlap",
        `dropped: fragments disagree on the length of id ${id}`,
        nowNs,
      );
      this.discardReassembly(r);
      return null;
    }
    if (isLast) r.payloadLength = end;
    if (fragOffset === 0) r.first = b.slice(off, frame.end);
    let at = r.pieces.length;
    while (at > 0 && r.pieces[at - 1].offset > fragOffset) at--;
    r.pieces.splice(at, 0, { offset: fragOffset, data: b.slice(off + hl, frame.end) });
    r.bytes += cost;
    this.reassemblyBytes += cost;
    if (this.env.isTracing) {
      this.record(
        frame,
        iface,
        "receive",
        `fragment of id ${id}: bytes ${fragOffset}..${end}${isLast ? " (last)" : ""}`,
        nowNs,
      );
    }
    if (r.first === null || r.payloadLength < 0) return null;
    let covered = 0;
    for (const p of r.pieces) {
      if (p.offset !== covered) return null;
      covered += p.data.length;
    }
    if (covered !== r.payloadLength) return null;
    this.discardReassembly(r);
    const firstHl = Ipv4Header.headerLength(r.first, 0);
    const whole = new Frame(
      new Uint8Array(DEFAULT_HEADROOM + ETHERNET_HEADER_LEN + firstHl + r.payloadLength),
      DEFAULT_HEADROOM,
      DEFAULT_HEADROOM + ETHERNET_HEADER_LEN + firstHl + r.payloadLength,
      frame.id,
    );
    const o = whole.start + OFF_IP;
    whole.buf.set(frame.buf.subarray(frame.start, frame.start + ETHERNET_HEADER_LEN), whole.start);
    whole.buf.set(r.first.subarray(0, firstHl), o);
    for (const p of r.pieces) whole.buf.set(p.data, o + firstHl + p.offset);
    Ipv4Header.setTotalLength(whole.buf, o, firstHl + r.payloadLength);
    Ipv4Header.setFragment(whole.buf, o, Ipv4Header.dontFragment(r.first, 0), false, 0);
    Ipv4Header.fillChecksum(whole.buf, o);
    this.stats.ipReassembled++;
    if (this.env.isTracing) {
      this.record(
        whole,
        iface,
        "receive",
        `reassembled id ${id}: ${r.pieces.length} fragments, ${r.payloadLength} bytes`,
        nowNs,
      );
    }
    return whole;
  }

  private discardReassembly(r: Reassembly): void {
    if (r.timer !== 0) this.env.cancelTimer(r.timer);
    r.timer = 0;
    this.reassemblies.delete(r.key);
    this.reassemblyBytes -= r.bytes;
    r.bytes = 0;
  }

  private reassemblyTimedOut(iface: IpInterface, r: Reassembly, nowNs: number): void {
    r.timer = 0;
    if (this.reassemblies.get(r.key) !== r) return;
    this.discardReassembly(r);
    this.drops.add("ip-reassembly-timeout");
    if (this.env.isTracing)
      this.recordNoFrame(iface, "drop", `dropped: reassembly timed out (${r.key})`, nowNs);
    if (r.first !== null) {
      const first = Frame.fromBytes(r.first);
      this.sendIcmpError(first, first.start, Icmpv4Type.TimeExceeded, 1, 0, nowNs);
    }
  }

  /** Outstanding pings (sent, no answer yet). */
  get pendingPings(): number {
    return this.pings.size;
  }

  /**
   * Sends one UDP datagram. `payload` is the bytes, or a length for a patterned payload whose
   * first 8 bytes carry a per-host datagram counter (so a receiver can see loss and order).
   * Returns null when it left (or waits for ARP), else why it could not be sent.
   */
  sendUdp(
    dst: Ipv4,
    srcPort: number,
    dstPort: number,
    payload: number | Uint8Array,
    nowNs: number,
    ttl = DEFAULT_TTL,
  ): SendError | null {
    if (!isU16(srcPort) || !isU16(dstPort) || dstPort === 0) {
      this.drops.add("bad-port");
      return "bad-port";
    }
    const payloadLen = typeof payload === "number" ? payload : payload.length;
    if (!Number.isInteger(payloadLen) || payloadLen < 0 || payloadLen > 65507) {
      this.drops.add("bad-size");
      return "bad-size";
    }
    const udpLen = UDP_HEADER_LEN + payloadLen;
    const path = this.pathTo(dst, nowNs);
    if (typeof path === "string") return path;
    const { iface, src } = path;
    const f = this.allocIpv4(udpLen);
    const uo = f.start + OFF_IP + IPV4_HEADER_LEN;
    const po = uo + UDP_HEADER_LEN;
    if (typeof payload === "number") {
      // The datagram counter as a 64-bit big-endian number, then a fixed pattern. The counter
      // is split into two 32-bit halves once rather than divided by a power of 256 per byte.
      const counter = this.stats.udpTxDatagrams;
      const hi = Math.floor(counter / 0x100000000);
      const lo = counter - hi * 0x100000000;
      const b = f.buf;
      for (let i = 0; i < 8 && i < payloadLen; i++) {
        const half = i < 4 ? hi : lo;
        b[po + i] = (half >>> (8 * (3 - (i & 3)))) & 0xff;
      }
      for (let i = 8; i < payloadLen; i++) b[po + i] = (i + 0x10) & 0xff;
    } else {
      f.buf.set(payload, po);
    }
    Udp.setSrcPort(f.buf, uo, srcPort);
    Udp.setDstPort(f.buf, uo, dstPort);
    Udp.setLength(f.buf, uo, udpLen);
    Udp.fillChecksumV4(f.buf, uo, src, dst);
    this.emitIpv4Header(f, src, dst, IpProtocol.UDP, udpLen, ttl, 0);
    this.stats.udpTxDatagrams++;
    this.stats.udpTxBytes += payloadLen;
    if (this.env.isTracing) {
      this.record(
        f,
        iface,
        "send",
        `UDP ${formatIpv4(src)}:${srcPort} -> ${formatIpv4(dst)}:${dstPort}, ${payloadLen} bytes`,
        nowNs,
      );
    }
    this.output(f, nowNs);
    return null;
  }

  /** Binds a UDP port; `handler` gets every datagram to it. Rebinding replaces the handler. */
  bindUdp(port: number, handler: (d: UdpDatagram) => void): void {
    if (!isU16(port) || port === 0)
      throw new DeviceConfigError("bad-value", `${this.name}: UDP port must be 1..65535, got ${port}`);
    this.udpPorts.set(port, handler);
  }

  unbindUdp(port: number): void {
    this.udpPorts.delete(port);
  }

  /** Every ICMP error this stack receives (ping's are also reported to the ping). */
  onIcmpError(listener: (e: IcmpErrorReport) => void): void {
    this.icmpErrorListeners = [...this.icmpErrorListeners, listener];
  }

  offIcmpError(listener: (e: IcmpErrorReport) => void): void {
    this.icmpErrorListeners = this.icmpErrorListeners.filter((l) => l !== listener);
  }

  // ---- output ------------------------------------------------------------------------------

  /**
   * Routes and sends a packet this stack built (IPv4 header complete, Ethernet header room in
   * front). Packets for an own address loop back through a zero-delay timer (Linux's `lo`).
   */
  output(frame: Frame, nowNs: number): void {
    const off = frame.start + OFF_IP;
    const dst = Ipv4Header.dst(frame.buf, off);
    this.stats.ipTxPackets++;
    const local = this.localInterfaceFor(dst);
    if (local !== null) {
      this.env.setTimer(0, (t) => {
        this.stats.ipRxPackets++;
        this.deliverLocal(local, frame, off, Ipv4Header.headerLength(frame.buf, off), t);
      });
      return;
    }
    const r = this.route(dst, nowNs);
    if (r === null) {
      this.dropNoIface(frame, "no-route", `dropped: no route to ${formatIpv4(dst)}`, nowNs);
      return;
    }
    const mtu = this.pathMtu(r.iface, dst, nowNs);
    if (frame.length - ETHERNET_HEADER_LEN <= mtu) {
      r.iface.sendIpv4(frame, r.nextHop, nowNs);
      return;
    }
    // Linux's IP_PMTUDISC_WANT: DF is set only on what fits; larger packets are fragmented.
    const fragments = fragmentIpv4(frame, off, mtu);
    this.stats.ipFragmentsCreated += fragments.length;
    if (this.env.isTracing) {
      this.record(frame, r.iface, "send", `fragmented into ${fragments.length} for MTU ${mtu}`, nowNs);
    }
    for (const f of fragments) r.iface.sendIpv4(f, r.nextHop, nowNs);
  }

  /** The MTU towards `dst`: the interface's, or less if an ICMP error taught a path MTU. */
  pathMtu(iface: IpInterface, dst: Ipv4, nowNs: number): number {
    const learned = this.pmtus.get(dst | 0);
    if (learned === undefined) return iface.mtu;
    if (nowNs >= learned.expiresNs) {
      this.pmtus.delete(dst | 0);
      return iface.mtu;
    }
    return Math.min(iface.mtu, learned.mtu);
  }

  /**
   * Sends an ICMP error about the datagram at `off` of `orig` (RFC 792), from the address of the
   * interface the error leaves by, unless RFC 1812 §4.3.2.7 forbids an error about it. `rest` is
   * the 32-bit field after the checksum (the next-hop MTU for fragmentation needed).
   */
  sendIcmpError(orig: Frame, off: number, type: number, code: number, rest: number, nowNs: number): void {
    const b = orig.buf;
    const src = Ipv4Header.src(b, off);
    const dst = Ipv4Header.dst(b, off);
    const proto = Ipv4Header.protocol(b, off);
    const hl = Ipv4Header.headerLength(b, off);
    const isAboutError = proto === IpProtocol.ICMP && (off + hl >= orig.end || isIcmpError(b[off + hl]));
    if (
      isAboutError ||
      !isUnicastAddress(src) ||
      isMulticastIp(dst) ||
      dst === 0xffffffff ||
      Ipv4Header.fragmentOffsetBytes(b, off) !== 0 ||
      this.interfaces.some((i) => i.isBroadcast(dst) || i.isBroadcast(src))
    ) {
      this.stats.icmpErrorsSuppressed++;
      return;
    }
    let from: Ipv4;
    const isLoopback = this.isOwnAddress(src);
    if (isLoopback) from = src;
    else {
      const r = this.route(src, nowNs);
      if (r === null) {
        this.stats.icmpErrorsSuppressed++;
        return;
      }
      // About a packet addressed to us (port or protocol unreachable, reassembly time exceeded):
      // from the address it was sent to, as Linux's icmp_send does for a local destination, so
      // a traceroute to a router's loopback or far interface sees its target answer.
      from = this.isOwnAddress(dst) ? dst : r.iface.ip;
    }
    // Linux never limits errors to itself (loopback) nor fragmentation needed (path MTU discovery).
    const isLimited = !isLoopback && !(type === Icmpv4Type.DestUnreachable && code === 4);
    if (isLimited && !this.allowIcmpError(src, nowNs)) {
      this.stats.icmpErrorsRateLimited++;
      if (this.env.isTracing) {
        const iface = this.interfaceByAddress(from) ?? this.interfaces[0];
        const text = icmpErrorText(type, code, 0);
        this.record(orig, iface, "drop", `ICMP ${text} to ${formatIpv4(src)} not sent: rate limit`, nowNs);
      }
      return;
    }
    const quoteLen = Math.min(orig.end - off, ICMP_ERROR_MAX_LEN - IPV4_HEADER_LEN - ICMP_HEADER_LEN);
    const icmpLen = ICMP_HEADER_LEN + quoteLen;
    const f = this.allocIpv4(icmpLen);
    const io = f.start + OFF_IP + IPV4_HEADER_LEN;
    Icmpv4.emitError(f.buf, io, type, code, rest, b, off, quoteLen);
    // RFC 1812 §4.3.2.5: ICMP errors go with precedence 6 (internetwork control), as Linux does.
    this.emitIpv4Header(f, from, src, IpProtocol.ICMP, icmpLen, DEFAULT_TTL, 0x30, false);
    this.stats.icmpErrorsSent++;
    this.stats.icmpTx++;
    if (this.env.isTracing) {
      const iface = this.interfaceByAddress(from) ?? this.interfaces[0];
      const text = icmpErrorText(type, code, type === Icmpv4Type.DestUnreachable && code === 4 ? rest : 0);
      this.record(f, iface, "reply", `ICMP ${text} ${formatIpv4(from)} -> ${formatIpv4(src)}`, nowNs);
    }
    this.output(f, nowNs);
  }

  /**
   * ICMP error rate limiting as Linux does it (`icmp_ratelimit`, `icmp_msgs_per_sec`): a token
   * bucket per destination, one token a second and at most 6 (XRLIM_BURST_FACTOR), inside a
   * host-wide bucket of 1000 a second and at most 50. RFC 1812 §4.3.2.8 asks routers to limit.
   */
  private allowIcmpError(dst: Ipv4, nowNs: number): boolean {
    const globalTokens = Math.min(
      ICMP_GLOBAL_BURST,
      this.icmpGlobalTokens + ((nowNs - this.icmpGlobalLastNs) * ICMP_GLOBAL_PER_SEC) / 1e9,
    );
    this.icmpGlobalLastNs = nowNs;
    if (globalTokens < 1) {
      this.icmpGlobalTokens = globalTokens;
      return false;
    }
    const key = dst | 0;
    let bucket = this.icmpBuckets.get(key);
    if (bucket === undefined) {
      if (this.icmpBuckets.size >= ICMP_BUCKETS_MAX) this.sweepIcmpBuckets(nowNs);
      bucket = { tokensNs: ICMP_RATE_BURST * ICMP_RATE_TOKEN_NS, lastNs: nowNs };
      this.icmpBuckets.set(key, bucket);
    }
    const tokensNs = Math.min(
      ICMP_RATE_BURST * ICMP_RATE_TOKEN_NS,
      bucket.tokensNs + (nowNs - bucket.lastNs),
    );
    bucket.lastNs = nowNs;
    if (tokensNs < ICMP_RATE_TOKEN_NS) {
      bucket.tokensNs = tokensNs;
      this.icmpGlobalTokens = globalTokens;
      return false;
    }
    bucket.tokensNs = tokensNs - ICMP_RATE_TOKEN_NS;
    this.icmpGlobalTokens = globalTokens - 1;
    return true;
  }

  /** Forgets buckets that have refilled (they are the same as new); bounds the table. */
  private sweepIcmpBuckets(nowNs: number): void {
    for (const [key, b] of this.icmpBuckets) {
      if (b.tokensNs + (nowNs - b.lastNs) >= ICMP_RATE_BURST * ICMP_RATE_TOKEN_NS)
        this.icmpBuckets.delete(key);
    }
    if (this.icmpBuckets.size >= ICMP_BUCKETS_MAX) this.icmpBuckets.clear();
  }

  /** ARP gave up on `ip`: drop what waited for it and say so to each packet's source. */
  neighborFailed(iface: IpInterface, ip: Ipv4, pending: Frame[], nowNs: number): void {
    if (this.env.isTracing)
      this.recordNoFrame(iface, "drop", `ARP for ${formatIpv4(ip)} failed: no reply`, nowNs);
    for (const f of pending) {
      this.dropFrame(iface, f, "arp-failed", `dropped: ARP for ${formatIpv4(ip)} failed`, nowNs);
      // RFC 1812 §5.2.7.1 / Linux arp_error_report: host unreachable back to the source.
      this.sendIcmpError(f, f.start + OFF_IP, Icmpv4Type.DestUnreachable, 1, 0, nowNs);
    }
  }

  // ---- helpers -----------------------------------------------------------------------------

  /** Where a packet of `ipLen` bytes to `dst` goes, or why it cannot (counted as a drop). */
  private pathTo(dst: Ipv4, nowNs: number): { iface: IpInterface; src: Ipv4 } | SendError {
    const local = this.localInterfaceFor(dst);
    if (local !== null) return { iface: local, src: dst };
    const r = this.route(dst, nowNs);
    if (r === null) {
      this.drops.add("no-route");
      return "no-route";
    }
    return { iface: r.iface, src: r.iface.ip };
  }

  /** A frame with room for Ethernet + a 20-byte IPv4 header + `l4Len` bytes. */
  allocIpv4(l4Len: number): Frame {
    return Frame.alloc(ETHERNET_HEADER_LEN + IPV4_HEADER_LEN + l4Len);
  }

  /** Writes a 20-byte IPv4 header (with checksum) after the Ethernet header room of `f`. */
  emitIpv4Header(
    f: Frame,
    src: Ipv4,
    dst: Ipv4,
    protocol: number,
    payloadLength: number,
    ttl: number,
    dscp: number,
    isDontFragment = true,
  ): void {
    this.ident = (this.ident + 1) & 0xffff;
    Ipv4Header.emit(
      {
        dscp,
        ecn: 0,
        ident: this.ident,
        dontFragment: isDontFragment,
        moreFragments: false,
        fragmentOffsetBytes: 0,
        ttl,
        protocol,
        src,
        dst,
        options: NO_OPTIONS,
        payloadLength,
        checksumValid: true,
      },
      f.buf,
      f.start + OFF_IP,
    );
  }

  /** Counts a drop and traces it. */
  dropFrame(
    iface: IpInterface,
    frame: Frame,
    code: string,
    reason: string,
    nowNs: number,
    facts?: HopFacts,
  ): void {
    this.drops.add(code);
    if (this.env.isTracing) this.record(frame, iface, "drop", reason, nowNs, code, facts);
  }

  private dropNoIface(frame: Frame, code: string, reason: string, nowNs: number): void {
    this.drops.add(code);
    if (this.env.isTracing) {
      this.env.trace({
        timeNs: nowNs,
        frameId: frame.id,
        device: this.name,
        kind: this.hopKind,
        in: null,
        out: null,
        vlan: null,
        action: "drop",
        reason,
        code,
      });
    }
  }

  /** Emits a trace record about `frame` on `iface`. Call only when `env.isTracing`. */
  record(
    frame: Frame,
    iface: IpInterface,
    action: HopAction,
    reason: string,
    nowNs: number,
    code?: string,
    facts?: HopFacts,
  ): void {
    const isOutgoing = action === "send" || action === "reply" || action === "route";
    // Traffic of 127.0.0.0/8 is the loopback's, whichever interface carries it here (the
    // Ethernet header may not be written yet: the IPv4 version nibble tells an IP packet).
    const ipOff = frame.start + OFF_IP;
    const isLoopback =
      frame.end >= ipOff + IPV4_HEADER_LEN &&
      frame.buf[ipOff] >> 4 === 4 &&
      Ipv4Header.dst(frame.buf, ipOff) >>> 24 === 127;
    const name = isLoopback ? "lo" : iface.name;
    this.env.trace({
      timeNs: nowNs,
      frameId: frame.id,
      device: this.name,
      kind: this.hopKind,
      in: isOutgoing ? null : name,
      out: isOutgoing ? name : null,
      vlan: iface.vid,
      action,
      reason,
      ...(code === undefined ? {} : { code }),
      ...facts,
    });
  }

  recordNoFrame(iface: IpInterface, action: HopAction, reason: string, nowNs: number): void {
    this.env.trace({
      timeNs: nowNs,
      frameId: 0,
      device: this.name,
      kind: this.hopKind,
      in: null,
      out: null,
      vlan: iface.vid,
      action,
      reason,
    });
  }
}

const NO_OPTIONS = new Uint8Array(0);

/** Linux's icmp_ratelimit (1000 ms a token) and XRLIM_BURST_FACTOR (6 tokens). */
const ICMP_RATE_TOKEN_NS = 1e9;
const ICMP_RATE_BURST = 6;
/** Linux's icmp_msgs_per_sec and icmp_msgs_burst: the host-wide budget. */
const ICMP_GLOBAL_PER_SEC = 1000;
const ICMP_GLOBAL_BURST = 50;
/** Destinations with a rate-limit bucket at most (Linux bounds its inet_peer cache too). */
const ICMP_BUCKETS_MAX = 4096;

/** How long a redirect-learned first hop is kept (Linux's ip_rt_gc_timeout, 300 s). */
const REDIRECT_EXPIRES_NS = 300e9;

/** Linux's ipfrag_time: how long a datagram's fragments are waited for. */
export const REASSEMBLY_TIMEOUT_NS = 30e9;
/** Linux's ipfrag_high_thresh (4 MB): fragment bytes a stack holds at most. */
export const REASSEMBLY_MAX_BYTES = 4 * 1024 * 1024;
/** What one held fragment costs beyond its data (about a small sk_buff's truesize). */
const FRAGMENT_OVERHEAD_BYTES = 1024;
/** Linux's min_pmtu and mtu_expires. */
const MIN_PMTU = 552;
const PMTU_EXPIRES_NS = 600e9;

interface Reassembly {
  key: string;
  /** The first fragment (header and data) once it came: its header becomes the datagram's. */
  first: Uint8Array | null;
  pieces: { offset: number; data: Uint8Array }[];
  /** Known once the last fragment came; -1 before. */
  payloadLength: number;
  bytes: number;
  timer: number;
}

/** Error messages (RFC 792 / RFC 1122 §3.2.2): never answered with another error. */
function isIcmpError(type: number): boolean {
  return type === 3 || type === 4 || type === 5 || type === 11 || type === 12;
}

/** Writes an echo header in front of data already in place and checksums the message. */
function writeEchoHeader(
  type: number,
  id: number,
  seq: number,
  buf: Uint8Array,
  offset: number,
  length: number,
) {
  Icmpv4.setType(buf, offset, type);
  Icmpv4.setCode(buf, offset, 0);
  Icmpv4.setIdent(buf, offset, id);
  Icmpv4.setSeq(buf, offset, seq);
  Icmpv4.fillChecksum(buf, offset, length);
}

function isU16(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= 0xffff;
}

function pingKey(id: number, seq: number): number {
  return id * 0x10000 + seq;
}

/** The byte at `i` of a ping payload (iputils fills with an incrementing pattern). */
function pingPattern(i: number): number {
  return (i + 0x10) & 0xff;
}

/** What iputils ping prints for an ICMP error (its pr_icmph texts). */
export function icmpErrorText(type: number, code: number, mtu: number): string {
  if (type === Icmpv4Type.DestUnreachable) {
    switch (code) {
      case 0:
        return "Destination Net Unreachable";
      case 1:
        return "Destination Host Unreachable";
      case 2:
        return "Destination Protocol Unreachable";
      case 3:
        return "Destination Port Unreachable";
      case 4:
        return `Frag needed and DF set (mtu = ${mtu})`;
      case 5:
        return "Source Route Failed";
      case 9:
      case 10:
      case 13:
        return "Packet filtered";
      default:
        return `Dest Unreachable, Bad Code: ${code}`;
    }
  }
  if (type === Icmpv4Type.TimeExceeded)
    return code === 0 ? "Time to live exceeded" : "Frag reassembly time exceeded";
  if (type === Icmpv4Type.ParameterProblem) return "Parameter problem";
  if (type === 4) return "Source Quench";
  if (type === Icmpv4Type.Redirect) return code === 0 ? "Redirect Network" : "Redirect Host";
  return `ICMP type ${type} code ${code}`;
}
