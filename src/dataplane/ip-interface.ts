/**
 * One IPv4 interface of a layer-3 device (a VM's vNIC, a router's SVI): its address on a link,
 * its way out (an output callback), and its ARP neighbour cache. The stack that owns it
 * (`IpHost` in ip-host.ts) provides time, counters, traces and what to do when resolution fails.
 *
 * - ARP (RFC 826) with a neighbour cache per interface modelled on Linux's neighbour state
 *   machine (ip-sysctl `neigh/default/*`): INCOMPLETE (broadcast requests, `broadcastTries`
 *   of them `retransNs` apart, packets queued per next hop up to `queueFrames`, the oldest
 *   dropped first) -> REACHABLE for a lifetime drawn from [0.5, 1.5) x `baseReachableNs` (Linux
 *   randomises base_reachable_time the same way, like RFC 4861 §6.3.2) -> STALE (expiry is lazy:
 *   noticed at the next lookup) -> on use DELAY (`delayFirstProbeNs`, packets still flow to the
 *   cached MAC) -> PROBE (`unicastTries` unicast requests to the cached MAC) -> deleted. When
 *   resolution fails every queued packet is dropped ("arp-failed") and answered with an ICMP
 *   host unreachable to its source, as Linux does: for a router that goes back to the sender,
 *   for a host's own packet it is looped back, so `ping` prints "Destination Host Unreachable"
 *   from the host's own address.
 * - ARP input: the RFC 826 merge (a known sender's MAC is updated by any ARP from it; a request
 *   addressed to us creates the entry), answers to requests for the interface's own address
 *   only (Linux `arp_ignore=1`: a multi-homed host does not answer for its other interfaces),
 *   a gratuitous ARP (RFC 5227 §3 announcement: request with sender = target = own address) on
 *   start and on demand, and a counter for another host claiming our address.
 */

import {
  formatIpv4,
  formatMac,
  type Ipv4,
  isMulticastMac,
  MAC_BROADCAST,
  type Mac,
  prefixMask,
  writeMac,
} from "../wire/addr.ts";
import { ARP_LEN, Arp, ArpOp } from "../wire/arp.ts";
import { WireError } from "../wire/error.ts";
import { ETHERNET_HEADER_LEN, Ethernet, EtherType } from "../wire/ethernet.ts";
import { DeviceConfigError } from "./config-error.ts";
import type { DeviceEnv } from "./device.ts";
import { Frame } from "./frame.ts";
import type { HopAction } from "./trace.ts";

/**
 * Writes the 6 bytes of `mac` at `at`: byte stores, not `Uint8Array.prototype.set`, whose
 * builtin call costs about 15 ns more per MAC on the per-packet path (measured).
 */
function copyMac(b: Uint8Array, at: number, mac: Uint8Array): void {
  b[at] = mac[0];
  b[at + 1] = mac[1];
  b[at + 2] = mac[2];
  b[at + 3] = mac[3];
  b[at + 4] = mac[4];
  b[at + 5] = mac[5];
}

/** The neighbour-cache parameters, named after and defaulting to Linux's `neigh/default/*`. */
export interface ArpConfig {
  /** base_reachable_time (30 s): an entry stays REACHABLE for 0.5..1.5 times this. */
  baseReachableNs: number;
  /** retrans_time (1 s): the gap between requests for one address. */
  retransNs: number;
  /** mcast_solicit (3): broadcast requests sent before resolution fails. */
  broadcastTries: number;
  /** ucast_solicit (3): unicast probes of a stale entry before it is deleted. */
  unicastTries: number;
  /** delay_first_probe_time (5 s): how long a used stale entry waits before probing. */
  delayFirstProbeNs: number;
  /** unres_qlen (101 since Linux 3.3): packets queued per unresolved next hop. */
  queueFrames: number;
  /** gc_thresh3 (1024): entries per interface; beyond it the least recently confirmed goes. */
  maxEntries: number;
}

export const ARP_DEFAULTS: Readonly<ArpConfig> = {
  baseReachableNs: 30e9,
  retransNs: 1e9,
  broadcastTries: 3,
  unicastTries: 3,
  delayFirstProbeNs: 5e9,
  queueFrames: 101,
  maxEntries: 1024,
};

export type NeighborState = "incomplete" | "reachable" | "stale" | "delay" | "probe";

/** One neighbour-cache entry as `show arp` reports it. */
export interface NeighborInfo {
  interface: string;
  ip: Ipv4;
  /** null while incomplete. */
  mac: Mac | null;
  state: NeighborState;
  /** Packets waiting for resolution. */
  queuedFrames: number;
}

/** Sends a finished Ethernet frame out of an interface (a VM port, a switch's SVI). */
export type FrameOutput = (frame: Frame, nowNs: number) => void;

export interface IpInterfaceConfig {
  /** "eth0" for a vNIC, "vlan10" for an SVI: the name traces use. */
  name: string;
  mac: Mac;
  ip: Ipv4;
  prefixLen: number;
  /** Default gateway reached through this interface (hosts only). */
  gateway?: Ipv4 | null;
  /** Largest IPv4 packet the interface sends (default 1500). */
  mtu?: number;
  /** The VLAN of an SVI, for trace records; null for a host's NIC. */
  vid?: number | null;
  /**
   * A point-to-point interface (a tunnel): no ARP; every packet is handed to the output with
   * an Ethernet header the output removes (destination 0).
   */
  isPointToPoint?: boolean;
  /** A loopback: holds an address and sends nothing, so it announces nothing either. */
  isLoopback?: boolean;
}

/** The ARP counters an interface keeps in its stack's statistics. */
export interface ArpStats {
  arpRequestsSent: number;
  arpRepliesSent: number;
  arpRequestsReceived: number;
  arpRepliesReceived: number;
}

/** What an interface needs from the stack that owns it. */
export interface InterfaceHost {
  readonly env: DeviceEnv;
  readonly arp: ArpConfig;
  readonly stats: ArpStats;
  dropFrame(iface: IpInterface, frame: Frame, code: string, reason: string, nowNs: number): void;
  /** Emits a trace record about `frame`; called only when `env.isTracing`. */
  record(frame: Frame, iface: IpInterface, action: HopAction, reason: string, nowNs: number): void;
  recordNoFrame(iface: IpInterface, action: HopAction, reason: string, nowNs: number): void;
  /** Resolution of `ip` failed: the frames that waited for it are the stack's to answer. */
  neighborFailed(iface: IpInterface, ip: Ipv4, pending: Frame[], nowNs: number): void;
}

/** True for an address a packet may come from (RFC 1122 §3.2.1.3, RFC 1812 §5.3.7). */
export function isUnicastAddress(ip: Ipv4): boolean {
  const first = ip >>> 24;
  return first !== 0 && first !== 127 && first < 224;
}

/** True for a class D (multicast group) address. */
export function isMulticastIp(ip: Ipv4): boolean {
  return ip >>> 28 === 0xe;
}

/**
 * Addresses in the hot path are compared and used as Map keys in their int32 form (`ip | 0`):
 * a uint32 above 2^31 is a heap number in V8, and a Map lookup or a call with one boxes it (an
 * allocation per packet). MACs go into frames from their 6 wire bytes for the same reason.
 */
class Neighbor {
  private macValue: Mac = 0;
  readonly macBytes = new Uint8Array(6);
  state: NeighborState = "incomplete";
  triesSent = 0;
  timer = 0;
  reachableUntilNs = 0;
  confirmedNs = 0;
  pending: Frame[] = [];
  readonly ip: Ipv4;
  constructor(ip: Ipv4) {
    this.ip = ip >>> 0;
  }
  get mac(): Mac {
    return this.macValue;
  }
  set mac(mac: Mac) {
    this.macValue = mac;
    writeMac(this.macBytes, 0, mac);
  }
}

/** One layer-3 interface: an address on a link, its neighbour cache and its way out. */
export class IpInterface {
  private macValue: Mac = 0;
  /** The interface's MAC as it goes on the wire (see `Neighbor`). */
  readonly macBytes = new Uint8Array(6);
  readonly ip: Ipv4;
  /** `ip | 0`: the form hot paths compare (see `Neighbor`). */
  readonly ipInt32: number;
  private readonly maskInt32: number;
  private readonly networkInt32: number;
  private readonly broadcastInt32: number;
  readonly prefixLen: number;
  readonly mask: number;
  readonly network: Ipv4;
  /** The directed broadcast address; equal to `ip`'s network for /31 and /32 (none). */
  readonly broadcast: Ipv4;
  readonly gateway: Ipv4 | null;
  readonly mtu: number;
  readonly vid: number | null;
  readonly isPointToPoint: boolean;
  readonly isLoopback: boolean;
  readonly name: string;
  private readonly neighbors = new Map<Ipv4, Neighbor>();
  private resolved: Neighbor | null = null;

  constructor(
    private readonly host: InterfaceHost,
    readonly index: number,
    config: IpInterfaceConfig,
    readonly output: FrameOutput,
  ) {
    if (!Number.isInteger(config.prefixLen) || config.prefixLen < 0 || config.prefixLen > 32) {
      throw new DeviceConfigError(
        "bad-value",
        `${config.name}: prefix length must be 0..32, got ${config.prefixLen}`,
      );
    }
    if (!isUnicastAddress(config.ip)) {
      throw new DeviceConfigError(
        "bad-value",
        `${config.name}: ${formatIpv4(config.ip)} is not a unicast address`,
      );
    }
    const mtu = config.mtu ?? 1500;
    if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) {
      // RFC 791: every internet module must be able to forward a datagram of 68 octets.
      throw new DeviceConfigError("bad-value", `${config.name}: MTU must be 68..65535, got ${mtu}`);
    }
    this.name = config.name;
    this.mac = config.mac;
    this.ip = config.ip;
    this.ipInt32 = config.ip | 0;
    this.prefixLen = config.prefixLen;
    this.mask = prefixMask(config.prefixLen);
    this.network = (config.ip & this.mask) >>> 0;
    this.broadcast = config.prefixLen >= 31 ? this.network : (this.network | ~this.mask) >>> 0;
    this.maskInt32 = this.mask | 0;
    this.networkInt32 = this.network | 0;
    this.broadcastInt32 = this.broadcast | 0;
    this.gateway = config.gateway ?? null;
    this.mtu = mtu;
    this.vid = config.vid ?? null;
    this.isPointToPoint = config.isPointToPoint ?? false;
    this.isLoopback = config.isLoopback ?? false;
    if (this.gateway !== null && !this.contains(this.gateway)) {
      throw new DeviceConfigError(
        "bad-value",
        `${config.name}: gateway ${formatIpv4(this.gateway)} is not in ${formatIpv4(this.network)}/${this.prefixLen}`,
      );
    }
  }

  get mac(): Mac {
    return this.macValue;
  }
  set mac(mac: Mac) {
    this.macValue = mac;
    writeMac(this.macBytes, 0, mac);
  }

  /** Whether `ip` (uint32 or its int32 form) is in this interface's subnet. */
  contains(ip: Ipv4): boolean {
    return (ip & this.maskInt32) === this.networkInt32;
  }

  /** Limited broadcast, or this subnet's directed broadcast (none on /31 and /32, RFC 3021). */
  isBroadcast(ip: Ipv4): boolean {
    const k = ip | 0;
    return k === -1 || (this.prefixLen < 31 && k === this.broadcastInt32);
  }

  /**
   * Sends the IPv4 packet that follows the Ethernet header at `frame.start` to `nextHop` on
   * this link: fills the Ethernet header, resolving the next hop's MAC (or queueing the frame
   * while ARP asks).
   */
  sendIpv4(frame: Frame, nextHop: Ipv4, nowNs: number): void {
    const b = frame.buf;
    const s = frame.start;
    copyMac(b, s + 6, this.macBytes);
    Ethernet.setEtherType(b, s, EtherType.IPv4);
    if (this.isPointToPoint) {
      Ethernet.setDst(b, s, 0);
      this.output(frame, nowNs);
      return;
    }
    if (this.isBroadcast(nextHop)) {
      Ethernet.setDst(b, s, MAC_BROADCAST);
      this.output(frame, nowNs);
      return;
    }
    if (nextHop >>> 28 === 0xe) {
      // RFC 1112 §6.4: a group address maps to 01:00:5e plus its low 23 bits; no ARP.
      Ethernet.setDst(b, s, 0x01005e000000 + (nextHop & 0x7fffff));
      this.output(frame, nowNs);
      return;
    }
    let n = this.neighbors.get(nextHop | 0);
    if (n !== undefined && n.state === "reachable" && nowNs >= n.reachableUntilNs) n.state = "stale";
    if (n === undefined) {
      const created = this.createNeighbor(nextHop, nowNs);
      if (created === null) {
        this.host.dropFrame(this, frame, "arp-table-full", "dropped: neighbour table full", nowNs);
        return;
      }
      n = created;
      n.pending.push(frame);
      this.solicit(n, nowNs);
      return;
    }
    switch (n.state) {
      case "incomplete":
        if (n.pending.length >= this.host.arp.queueFrames) {
          const oldest = n.pending.shift()!;
          this.host.dropFrame(
            this,
            oldest,
            "arp-queue-full",
            `dropped: ARP queue for ${formatIpv4(nextHop)} full`,
            nowNs,
          );
        }
        n.pending.push(frame);
        return;
      case "stale":
        this.startDelay(n);
        break;
      default:
        break;
    }
    copyMac(b, s, n.macBytes);
    this.output(frame, nowNs);
  }

  /**
   * Linux NUD_STALE -> NUD_DELAY: the cached address is used, and verified a little later. A
   * method of its own so that `sendIpv4` creates no closure (and so allocates no context).
   */
  private startDelay(n: Neighbor): void {
    n.state = "delay";
    n.triesSent = 0;
    n.timer = this.host.env.setTimer(this.host.arp.delayFirstProbeNs, (t) => this.probe(n, t));
  }

  /** Sends a gratuitous ARP (RFC 5227 §3 announcement) for this interface's address. */
  announce(nowNs: number): void {
    if (this.isPointToPoint || this.isLoopback) return;
    const f = this.buildArp(ArpOp.Request, MAC_BROADCAST, this.ip, 0, nowNs);
    this.host.stats.arpRequestsSent++;
    if (this.host.env.isTracing) {
      this.host.record(
        f,
        this,
        "send",
        `ARP announcement ${formatIpv4(this.ip)} is-at ${formatMac(this.mac)}`,
        nowNs,
      );
    }
    this.output(f, nowNs);
  }

  /** Handles an ARP packet at `offset` of `frame` (RFC 826 "Packet Reception"). */
  receiveArp(frame: Frame, offset: number, nowNs: number): void {
    const b = frame.buf;
    try {
      // The frame's bytes end at frame.end; check against a view-less bound.
      if (offset + ARP_LEN > frame.end) throw new WireError("truncated", offset, "arp packet truncated");
      Arp.validate(b, offset);
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
      this.host.dropFrame(this, frame, "arp-malformed", `dropped: malformed ARP (${e.message})`, nowNs);
      return;
    }
    const op = Arp.op(b, offset);
    const senderMac = Arp.senderMac(b, offset);
    const senderIp = Arp.senderIp(b, offset);
    const targetIp = Arp.targetIp(b, offset);
    if (op === ArpOp.Request) this.host.stats.arpRequestsReceived++;
    else this.host.stats.arpRepliesReceived++;
    if (senderMac === this.mac) {
      // Our own ARP came back (a hairpin or a loop in the layer-2 network): nothing to learn.
      this.host.dropFrame(this, frame, "arp-own", "dropped: our own ARP came back", nowNs);
      return;
    }
    if (senderIp === this.ip) {
      // Another station claims our address (RFC 5227 §2.4 conflict).
      const reason = `dropped: ${formatMac(senderMac)} claims our address ${formatIpv4(this.ip)}`;
      this.host.dropFrame(this, frame, "arp-address-conflict", reason, nowNs);
      return;
    }
    if (isMulticastMac(senderMac) || senderMac === 0) {
      this.host.dropFrame(this, frame, "arp-bad-sender", "dropped: ARP sender MAC is not unicast", nowNs);
      return;
    }
    const isForUs = targetIp === this.ip;
    // RFC 826: merge first (update a known sender), then add the sender if the packet is for us.
    const hasUpdated = isUnicastAddress(senderIp)
      ? this.learn(senderIp, senderMac, op === ArpOp.Reply && isForUs, op === ArpOp.Request && isForUs, nowNs)
      : false;
    if (op === ArpOp.Request && isForUs) {
      const reply = this.buildArp(ArpOp.Reply, senderMac, senderIp, senderMac, nowNs);
      this.host.stats.arpRepliesSent++;
      if (this.host.env.isTracing) {
        this.host.record(
          frame,
          this,
          "deliver",
          `ARP who-has ${formatIpv4(targetIp)} tell ${formatIpv4(senderIp)}`,
          nowNs,
        );
        this.host.record(
          reply,
          this,
          "reply",
          `ARP reply ${formatIpv4(this.ip)} is-at ${formatMac(this.mac)}`,
          nowNs,
        );
      }
      this.output(reply, nowNs);
      this.flushResolved(nowNs);
      return;
    }
    if (isForUs || hasUpdated) {
      if (this.host.env.isTracing) {
        const what =
          op === ArpOp.Reply
            ? `ARP reply ${formatIpv4(senderIp)} is-at ${formatMac(senderMac)}`
            : `ARP ${formatIpv4(senderIp)} is-at ${formatMac(senderMac)}${senderIp === targetIp ? " (gratuitous)" : ""}`;
        this.host.record(frame, this, "deliver", what, nowNs);
      }
      this.flushResolved(nowNs);
      return;
    }
    const reason =
      op === ArpOp.Request
        ? `dropped: ARP who-has ${formatIpv4(targetIp)} is not for us`
        : `dropped: ARP reply for ${formatIpv4(targetIp)} is not for us`;
    this.host.dropFrame(this, frame, "arp-not-for-us", reason, nowNs);
  }

  /** The cache, sorted by address, for `show arp`. Lazily expired entries show as stale. */
  neighborTable(nowNs: number): NeighborInfo[] {
    const out: NeighborInfo[] = [];
    for (const n of this.neighbors.values()) {
      const state = n.state === "reachable" && nowNs >= n.reachableUntilNs ? "stale" : n.state;
      out.push({
        interface: this.name,
        ip: n.ip,
        mac: n.state === "incomplete" ? null : n.mac,
        state,
        queuedFrames: n.pending.length,
      });
    }
    return out.sort((a, b) => a.ip - b.ip);
  }

  /** The cached MAC of `ip` if the entry is usable (not incomplete), without side effects. */
  cachedMac(ip: Ipv4): Mac | null {
    const n = this.neighbors.get(ip | 0);
    return n === undefined || n.state === "incomplete" ? null : n.mac;
  }

  /**
   * Forgets every entry (link down, address change, power lost); queued packets are dropped,
   * by default as "arp-flushed".
   */
  flushNeighbors(nowNs: number, code = "arp-flushed", why = "dropped: neighbour cache flushed"): void {
    for (const n of this.neighbors.values()) {
      if (n.timer !== 0) this.host.env.cancelTimer(n.timer);
      for (const f of n.pending) this.host.dropFrame(this, f, code, why, nowNs);
    }
    this.neighbors.clear();
    this.resolved = null;
  }

  /** Sends the packets that waited for the entry the last ARP packet resolved. */
  private flushResolved(nowNs: number): void {
    const n = this.resolved;
    if (n === null) return;
    this.resolved = null;
    const pending = n.pending;
    n.pending = [];
    for (const f of pending) {
      f.buf.set(n.macBytes, f.start);
      this.output(f, nowNs);
    }
  }

  private createNeighbor(ip: Ipv4, nowNs: number): Neighbor | null {
    if (this.neighbors.size >= this.host.arp.maxEntries) {
      // Evict the least recently confirmed resolved entry; incomplete ones hold queued packets.
      let victim: Neighbor | null = null;
      for (const n of this.neighbors.values()) {
        if (n.state !== "incomplete" && (victim === null || n.confirmedNs < victim.confirmedNs)) victim = n;
      }
      if (victim === null) return null;
      this.deleteNeighbor(victim);
    }
    const n = new Neighbor(ip);
    n.confirmedNs = nowNs;
    this.neighbors.set(ip | 0, n);
    return n;
  }

  private deleteNeighbor(n: Neighbor): void {
    if (n.timer !== 0) this.host.env.cancelTimer(n.timer);
    n.timer = 0;
    this.neighbors.delete(n.ip | 0);
  }

  /** Sends the next broadcast request of an incomplete entry, or gives up. */
  private solicit(n: Neighbor, nowNs: number): void {
    n.timer = 0;
    if (this.neighbors.get(n.ip | 0) !== n || n.state !== "incomplete") return;
    if (n.triesSent >= this.host.arp.broadcastTries) {
      this.deleteNeighbor(n);
      const pending = n.pending;
      n.pending = [];
      this.host.neighborFailed(this, n.ip, pending, nowNs);
      return;
    }
    n.triesSent++;
    this.sendRequest(n.ip, MAC_BROADCAST, nowNs);
    n.timer = this.host.env.setTimer(this.host.arp.retransNs, (t) => this.solicit(n, t));
  }

  /** DELAY -> PROBE: unicast requests to the cached MAC; deleted when none is answered. */
  private probe(n: Neighbor, nowNs: number): void {
    n.timer = 0;
    if (this.neighbors.get(n.ip | 0) !== n || (n.state !== "delay" && n.state !== "probe")) return;
    if (n.state === "probe" && n.triesSent >= this.host.arp.unicastTries) {
      this.deleteNeighbor(n);
      if (this.host.env.isTracing) {
        this.host.recordNoFrame(
          this,
          "drop",
          `ARP entry ${formatIpv4(n.ip)} failed: no answer to probes`,
          nowNs,
        );
      }
      return;
    }
    n.state = "probe";
    n.triesSent++;
    this.sendRequest(n.ip, n.mac, nowNs);
    n.timer = this.host.env.setTimer(this.host.arp.retransNs, (t) => this.probe(n, t));
  }

  private sendRequest(targetIp: Ipv4, dstMac: Mac, nowNs: number): void {
    const f = this.buildArp(ArpOp.Request, dstMac, targetIp, 0, nowNs);
    this.host.stats.arpRequestsSent++;
    if (this.host.env.isTracing) {
      const where = this.vid === null ? "" : ` on vlan ${this.vid}`;
      const how = dstMac === MAC_BROADCAST ? "" : ` (unicast probe to ${formatMac(dstMac)})`;
      this.host.record(
        f,
        this,
        "send",
        `ARP who-has ${formatIpv4(targetIp)}${where} tell ${formatIpv4(this.ip)}${how}`,
        nowNs,
      );
    }
    this.output(f, nowNs);
  }

  private buildArp(op: 1 | 2, dstMac: Mac, targetIp: Ipv4, targetMac: Mac, _nowNs: number): Frame {
    const f = Frame.alloc(ETHERNET_HEADER_LEN + ARP_LEN);
    Ethernet.emit({ dst: dstMac, src: this.mac, etherType: EtherType.ARP }, f.buf, f.start);
    Arp.emit(
      { op, senderMac: this.mac, senderIp: this.ip, targetMac, targetIp },
      f.buf,
      f.start + ETHERNET_HEADER_LEN,
    );
    return f;
  }

  /**
   * Applies what an ARP packet says about its sender. `isConfirmation`: a reply addressed to us
   * (Linux makes the entry REACHABLE); `mayCreate`: a request addressed to us (RFC 826 adds the
   * sender; Linux as STALE). Returns whether an entry was created or changed.
   */
  private learn(ip: Ipv4, mac: Mac, isConfirmation: boolean, mayCreate: boolean, nowNs: number): boolean {
    let n = this.neighbors.get(ip | 0);
    if (n === undefined) {
      if (!mayCreate) return false;
      const created = this.createNeighbor(ip, nowNs);
      if (created === null) return false;
      n = created;
      n.mac = mac;
      n.state = "stale";
      return true;
    }
    if (n.state === "incomplete") {
      if (n.timer !== 0) this.host.env.cancelTimer(n.timer);
      n.timer = 0;
      n.mac = mac;
      this.confirm(n, isConfirmation, nowNs);
      // Sent by `flushResolved` once the ARP packet's own handling (and its trace) is done.
      this.resolved = n;
      return true;
    }
    if (isConfirmation || n.mac !== mac) {
      if (n.timer !== 0) this.host.env.cancelTimer(n.timer);
      n.timer = 0;
      n.mac = mac;
      this.confirm(n, isConfirmation, nowNs);
      return true;
    }
    return false;
  }

  private confirm(n: Neighbor, isConfirmation: boolean, nowNs: number): void {
    n.triesSent = 0;
    n.confirmedNs = nowNs;
    if (isConfirmation) {
      n.state = "reachable";
      n.reachableUntilNs = nowNs + Math.floor(this.host.arp.baseReachableNs * (0.5 + this.host.env.random()));
    } else {
      n.state = "stale";
    }
  }
}
