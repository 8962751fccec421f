/**
 * Source NAT (masquerade) on a router's outside interface, as Linux's `iptables -t nat -A
 * POSTROUTING -o eth0 -j MASQUERADE` with conntrack does it:
 * - a packet routed out of the outside interface from another interface leaves with the outside
 *   address as its source; its source port (UDP, TCP) or echo identifier (ICMP) is kept when no
 *   other flow to the same remote address and port holds it, else the next free one from 1024
 *   (Linux keeps the port when the tuple stays unique);
 * - the mapping is a connection: (protocol, inside address and port, remote address and port).
 *   A packet arriving on the outside interface for the outside address is translated back only
 *   when it comes from that remote address and port (address- and port-dependent filtering,
 *   RFC 4787 §5): anything else is the router's own (and answered or refused as such);
 * - ICMP errors about a translated flow (fragmentation needed, TTL exceeded, unreachable) are
 *   translated back too, with the packet they quote (RFC 5508 §7), so path-MTU discovery works
 *   through the NAT;
 * - connections expire as Linux's defaults: UDP 30 s until a reply, then 120 s
 *   (nf_conntrack_udp_timeout, _stream); ICMP 30 s; TCP 120 s until a reply, then 5 days
 *   (established); other protocols 600 s. Each packet of the flow refreshes it. Expired entries
 *   are dropped when met and in a sweep when the table grows; a full table refuses new flows.
 * Non-first fragments carry no ports: they are dropped and counted (vnet's NAT does not
 * reassemble, where Linux would). Checksums are updated incrementally (RFC 1624). Lookups
 * allocate nothing: keys are numbers (addresses and ports packed in 48 or 50 bits).
 */

import { formatIpv4, type Ipv4 } from "../wire/addr.ts";
import { updateChecksum16, updateChecksum32 } from "../wire/checksum.ts";

/** Linux's default conntrack timeouts, in ns. */
export const NAT_TIMEOUTS = {
  udpNs: 30e9,
  udpStreamNs: 120e9,
  icmpNs: 30e9,
  tcpUnrepliedNs: 120e9,
  tcpEstablishedNs: 432_000e9,
  otherNs: 600e9,
} as const;

/** Connections the table holds at most (a modest nf_conntrack_max). */
export const NAT_MAX_ENTRIES = 65_536;

const TCP = 0;
const UDP = 1;
const ICMP = 2;
const OTHER = 3;
const PROTO_NAMES = ["tcp", "udp", "icmp", "other"] as const;

interface NatEntry {
  proto: number;
  /** The IP protocol number (for OTHER). */
  ipProto: number;
  insideIp: Ipv4;
  insidePort: number;
  remoteIp: Ipv4;
  remotePort: number;
  outsidePort: number;
  expiresNs: number;
  isReplied: boolean;
  packetsOut: number;
  packetsIn: number;
}

/** One connection as `vnet show FILE nat` prints it (conntrack -L's facts). */
export interface NatEntryInfo {
  protocol: string;
  inside: string;
  outside: string;
  remote: string;
  isReplied: boolean;
  expiresInNs: number;
  packetsOut: number;
  packetsIn: number;
}

/** Why a packet could not be translated (each a drop code of the router). */
export type NatDrop = "nat-fragment" | "nat-table-full" | "nat-no-port";

export class Masquerade {
  private readonly byInside = new Map<number, Map<number, NatEntry>>();
  private readonly byOutside = new Map<number, Map<number, NatEntry>>();
  private count = 0;
  private sweepAt = 1024;
  /** Translations done, both ways. */
  translatedOut = 0;
  translatedIn = 0;

  constructor(
    /** The outside interface's address: the source translated packets leave with. */
    readonly outsideIp: Ipv4,
    private readonly maxEntries = NAT_MAX_ENTRIES,
  ) {}

  /** Forgets every translation (the router lost power); the counts of translations done stay. */
  clear(): void {
    this.byInside.clear();
    this.byOutside.clear();
    this.count = 0;
  }

  /**
   * A packet at `off` about to leave by the outside interface: its source becomes the outside
   * address. Returns null when translated (or nothing to do), else why it must be dropped.
   */
  outbound(b: Uint8Array, off: number, nowNs: number): NatDrop | null {
    const src = readU32(b, off + 12);
    if (src === this.outsideIp) return null; // the router's own, or already translated
    const ipProto = b[off + 9];
    const frag = ((b[off + 6] & 0x1f) << 8) | b[off + 7];
    if (frag !== 0) return "nat-fragment";
    const l4 = off + (b[off] & 0x0f) * 4;
    const proto = protoIndex(ipProto);
    if (proto === ICMP && b[l4] !== 8) return null; // only echo requests open a mapping
    const sport = portOf(proto, b, l4, true);
    const dst = readU32(b, off + 16);
    const dport = portOf(proto, b, l4, false);
    const remote = remoteKey(dst, dport);
    let e = this.byInside.get(remote)?.get(localKey(proto, src, sport));
    if (e !== undefined && e.expiresNs <= nowNs) {
      this.remove(e);
      e = undefined;
    }
    if (e === undefined) {
      if (this.count >= this.sweepAt) this.sweep(nowNs);
      if (this.count >= this.maxEntries) return "nat-table-full";
      const port = this.freePort(remote, proto, sport, nowNs);
      if (port < 0) return "nat-no-port";
      e = {
        proto,
        ipProto,
        insideIp: src,
        insidePort: sport,
        remoteIp: dst,
        remotePort: dport,
        outsidePort: port,
        expiresNs: 0,
        isReplied: false,
        packetsOut: 0,
        packetsIn: 0,
      };
      this.add(e, remote);
    }
    e.packetsOut++;
    e.expiresNs = nowNs + timeoutOf(e);
    rewriteAddress(b, off, l4, 12, this.outsideIp, proto);
    if (e.outsidePort !== sport) rewritePort(b, l4, proto, true, e.outsidePort);
    this.translatedOut++;
    return null;
  }

  /**
   * A packet at `off` that arrived on the outside interface: when it belongs to a translated
   * connection (or is an ICMP error about one), its destination becomes the inside host's.
   * Returns true when it was translated (it is to be forwarded, not delivered to the router).
   */
  inbound(b: Uint8Array, off: number, nowNs: number): boolean {
    if (readU32(b, off + 16) !== this.outsideIp || this.count === 0) return false;
    const ipProto = b[off + 9];
    const frag = ((b[off + 6] & 0x1f) << 8) | b[off + 7];
    if (frag !== 0) return false;
    const l4 = off + (b[off] & 0x0f) * 4;
    if (ipProto === 1 && isIcmpError(b[l4])) return this.inboundIcmpError(b, off, l4, nowNs);
    const proto = protoIndex(ipProto);
    if (proto === ICMP && b[l4] !== 0) return false; // only echo replies belong to a mapping
    const src = readU32(b, off + 12);
    // An echo reply carries the identifier the request left with: our side's "port".
    const sport = proto === ICMP ? 0 : portOf(proto, b, l4, true);
    const dport = proto === ICMP ? portOf(proto, b, l4, true) : portOf(proto, b, l4, false);
    const e = this.lookupOutside(remoteKey(src, sport), proto, dport, nowNs);
    if (e === undefined) return false;
    e.packetsIn++;
    e.isReplied = true;
    e.expiresNs = nowNs + timeoutOf(e);
    rewriteAddress(b, off, l4, 16, e.insideIp, proto);
    if (e.outsidePort !== e.insidePort) rewritePort(b, l4, proto, false, e.insidePort);
    this.translatedIn++;
    return true;
  }

  /**
   * An ICMP error to the outside address quoting a packet we translated (its source the outside
   * address): the outer destination and the quoted source go back to the inside host.
   */
  private inboundIcmpError(b: Uint8Array, off: number, l4: number, nowNs: number): boolean {
    const q = l4 + 8;
    const end = off + ((b[off + 2] << 8) | b[off + 3]);
    if (q + 20 > end || b[q] >> 4 !== 4) return false;
    const qhl = (b[q] & 0x0f) * 4;
    const qIpProto = b[q + 9];
    const ql4 = q + qhl;
    if (readU32(b, q + 12) !== this.outsideIp || ql4 + 8 > end) return false;
    const proto = protoIndex(qIpProto);
    const qsport = portOf(proto, b, ql4, true);
    const qdport = portOf(proto, b, ql4, false);
    const e = this.lookupOutside(remoteKey(readU32(b, q + 16), qdport), proto, qsport, nowNs);
    if (e === undefined) return false;
    e.packetsIn++;
    const icmpSum = l4 + 2;
    // The quoted header's source and checksum change; the ICMP checksum covers both.
    const oldQSum = (b[q + 10] << 8) | b[q + 11];
    const newQSum = updateChecksum32(oldQSum, this.outsideIp, e.insideIp);
    writeU32(b, q + 12, e.insideIp);
    b[q + 10] = newQSum >>> 8;
    b[q + 11] = newQSum & 0xff;
    let ic = (b[icmpSum] << 8) | b[icmpSum + 1];
    ic = updateChecksum32(ic, this.outsideIp, e.insideIp);
    ic = updateChecksum16(ic, oldQSum, newQSum);
    if (e.outsidePort !== e.insidePort) {
      const at = proto === ICMP ? ql4 + 4 : ql4;
      ic = updateChecksum16(ic, e.outsidePort, e.insidePort);
      b[at] = e.insidePort >>> 8;
      b[at + 1] = e.insidePort & 0xff;
    }
    b[icmpSum] = ic >>> 8;
    b[icmpSum + 1] = ic & 0xff;
    // The outer header's destination (no pseudo-header in ICMP's checksum).
    rewriteAddress(b, off, l4, 16, e.insideIp, OTHER);
    this.translatedIn++;
    return true;
  }

  private lookupOutside(
    remote: number,
    proto: number,
    outsidePort: number,
    nowNs: number,
  ): NatEntry | undefined {
    const e = this.byOutside.get(remote)?.get(proto * 0x10000 + outsidePort);
    if (e === undefined) return undefined;
    if (e.expiresNs <= nowNs) {
      this.remove(e);
      return undefined;
    }
    return e;
  }

  /** The inside port if free towards this remote, else the next free one from 1024. */
  private freePort(remote: number, proto: number, want: number, nowNs: number): number {
    const used = this.byOutside.get(remote);
    const isFree = (p: number): boolean => {
      const e = used?.get(proto * 0x10000 + p);
      if (e === undefined) return true;
      if (e.expiresNs > nowNs) return false;
      this.remove(e);
      return true;
    };
    if (isFree(want)) return want;
    for (let i = 0; i < 64512; i++) {
      const p = 1024 + ((want + i) % 64512);
      if (isFree(p)) return p;
    }
    return -1;
  }

  private add(e: NatEntry, remote: number): void {
    let a = this.byInside.get(remote);
    if (a === undefined) {
      a = new Map();
      this.byInside.set(remote, a);
    }
    a.set(localKey(e.proto, e.insideIp, e.insidePort), e);
    let o = this.byOutside.get(remote);
    if (o === undefined) {
      o = new Map();
      this.byOutside.set(remote, o);
    }
    o.set(e.proto * 0x10000 + e.outsidePort, e);
    this.count++;
  }

  private remove(e: NatEntry): void {
    const remote = remoteKey(e.remoteIp, e.remotePort);
    const a = this.byInside.get(remote);
    a?.delete(localKey(e.proto, e.insideIp, e.insidePort));
    if (a !== undefined && a.size === 0) this.byInside.delete(remote);
    const o = this.byOutside.get(remote);
    o?.delete(e.proto * 0x10000 + e.outsidePort);
    if (o !== undefined && o.size === 0) this.byOutside.delete(remote);
    this.count--;
  }

  private sweep(nowNs: number): void {
    for (const m of [...this.byInside.values()])
      for (const e of [...m.values()]) if (e.expiresNs <= nowNs) this.remove(e);
    this.sweepAt = Math.max(1024, this.count * 2);
  }

  /** Live connections, oldest mapping first within a remote, for `vnet show FILE nat`. */
  entries(nowNs: number): NatEntryInfo[] {
    const out: NatEntryInfo[] = [];
    for (const m of this.byInside.values())
      for (const e of m.values()) {
        if (e.expiresNs <= nowNs) continue;
        const port = (p: number) => (e.proto === OTHER ? "" : `:${p}`);
        out.push({
          protocol: e.proto === OTHER ? `ip proto ${e.ipProto}` : PROTO_NAMES[e.proto],
          inside: `${formatIpv4(e.insideIp)}${port(e.insidePort)}`,
          outside: `${formatIpv4(this.outsideIp)}${port(e.outsidePort)}`,
          remote: `${formatIpv4(e.remoteIp)}${port(e.remotePort)}`,
          isReplied: e.isReplied,
          expiresInNs: e.expiresNs - nowNs,
          packetsOut: e.packetsOut,
          packetsIn: e.packetsIn,
        });
      }
    return out.sort((a, b) => (a.inside < b.inside ? -1 : a.inside > b.inside ? 1 : 0));
  }

  get size(): number {
    return this.count;
  }
}

function protoIndex(ipProto: number): number {
  return ipProto === 6 ? TCP : ipProto === 17 ? UDP : ipProto === 1 ? ICMP : OTHER;
}

/** The source or destination "port": TCP/UDP ports, the echo identifier (both ways), 0 else. */
function portOf(proto: number, b: Uint8Array, l4: number, isSource: boolean): number {
  if (proto === TCP || proto === UDP)
    return isSource ? (b[l4] << 8) | b[l4 + 1] : (b[l4 + 2] << 8) | b[l4 + 3];
  if (proto === ICMP) return isSource ? (b[l4 + 4] << 8) | b[l4 + 5] : 0;
  return 0;
}

function isIcmpError(type: number): boolean {
  return type === 3 || type === 11 || type === 12;
}

function timeoutOf(e: NatEntry): number {
  switch (e.proto) {
    case UDP:
      return e.isReplied ? NAT_TIMEOUTS.udpStreamNs : NAT_TIMEOUTS.udpNs;
    case TCP:
      return e.isReplied ? NAT_TIMEOUTS.tcpEstablishedNs : NAT_TIMEOUTS.tcpUnrepliedNs;
    case ICMP:
      return NAT_TIMEOUTS.icmpNs;
    default:
      return NAT_TIMEOUTS.otherNs;
  }
}

/** 48 bits: the remote address and port. */
function remoteKey(ip: Ipv4, port: number): number {
  return ip * 0x10000 + port;
}

/** 50 bits: the protocol class, the inside address and port. */
function localKey(proto: number, ip: Ipv4, port: number): number {
  return proto * 0x1000000000000 + ip * 0x10000 + port;
}

function readU32(b: Uint8Array, at: number): number {
  return ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
}

function writeU32(b: Uint8Array, at: number, v: number): void {
  b[at] = v >>> 24;
  b[at + 1] = (v >>> 16) & 0xff;
  b[at + 2] = (v >>> 8) & 0xff;
  b[at + 3] = v & 0xff;
}

/** The L4 checksum field's offset from the L4 header, or -1 when it has no pseudo-header. */
function l4ChecksumAt(proto: number): number {
  return proto === TCP ? 16 : proto === UDP ? 6 : -1;
}

/** Rewrites the source (field 12) or destination (16) address; the IP and TCP/UDP checksums follow. */
function rewriteAddress(
  b: Uint8Array,
  off: number,
  l4: number,
  field: 12 | 16,
  ip: Ipv4,
  proto: number,
): void {
  const old = readU32(b, off + field);
  writeU32(b, off + field, ip);
  const ipSum = updateChecksum32((b[off + 10] << 8) | b[off + 11], old, ip);
  b[off + 10] = ipSum >>> 8;
  b[off + 11] = ipSum & 0xff;
  const at = l4ChecksumAt(proto);
  if (at < 0) return;
  const c = (b[l4 + at] << 8) | b[l4 + at + 1];
  if (proto === UDP && c === 0) return; // no checksum sent (RFC 768)
  let n = updateChecksum32(c, old, ip);
  if (proto === UDP && n === 0) n = 0xffff;
  b[l4 + at] = n >>> 8;
  b[l4 + at + 1] = n & 0xff;
}

/** Rewrites the source or destination port (the echo identifier for ICMP); checksums follow. */
function rewritePort(b: Uint8Array, l4: number, proto: number, isSource: boolean, port: number): void {
  const at = proto === ICMP ? l4 + 4 : isSource ? l4 : l4 + 2;
  const old = (b[at] << 8) | b[at + 1];
  b[at] = port >>> 8;
  b[at + 1] = port & 0xff;
  const sumAt = proto === ICMP ? 2 : l4ChecksumAt(proto);
  if (sumAt < 0) return;
  const c = (b[l4 + sumAt] << 8) | b[l4 + sumAt + 1];
  if (proto === UDP && c === 0) return;
  let n = updateChecksum16(c, old, port);
  if (proto === UDP && n === 0) n = 0xffff;
  b[l4 + sumAt] = n >>> 8;
  b[l4 + sumAt + 1] = n & 0xff;
}
