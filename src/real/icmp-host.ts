/**
 * The smallest IP host a userspace tunnel endpoint needs: it answers echo requests addressed to
 * one of its own addresses, IPv4 (RFC 792 "Echo or Echo Reply Message"; RFC 1122 section 3.2.2.6:
 * a host MUST answer with the same identifier, sequence number and data) and IPv6 (RFC 4443
 * section 4.2), builds echo requests for `vnet vpn ping`, and recognizes the replies. Pure (no I/O,
 * no clock): it sits on the plaintext side of `WgUdpEndpoint`, where a kernel would have a tun
 * device. Built on the wire codecs (`ipv4.ts`, `ipv6.ts`, `icmp.ts`, `icmpv6.ts`). Everything it does
 * not handle is counted by reason, never dropped silently.
 */

import { formatIpv4, formatIpv6 } from "../wire/addr.ts";
import { WireError } from "../wire/error.ts";
import { ICMP_HEADER_LEN, Icmpv4, Icmpv4Type } from "../wire/icmp.ts";
import { Icmpv6, Icmpv6Type } from "../wire/icmpv6.ts";
import { IPV4_HEADER_LEN, IpProtocol, Ipv4Header } from "../wire/ipv4.ts";
import { IPV6_HEADER_LEN, Ipv6Header } from "../wire/ipv6.ts";

const ECHO_HEADER_LEN = 8;
const DEFAULT_TTL = 64;

/** An echo reply that answered one of our requests. */
export interface EchoReply {
  readonly family: 4 | 6;
  /** The replying address, as text. */
  readonly src: string;
  readonly ident: number;
  readonly seq: number;
  /** TTL (IPv4) or hop limit (IPv6) of the reply. */
  readonly ttl: number;
  /** ICMP bytes (header + data), as ping reports them. */
  readonly icmpBytes: number;
}

export type IcmpHostDrop =
  | "malformed-ip" // neither a valid IPv4 nor a valid IPv6 header
  | "bad-ip-checksum"
  | "fragment" // the host does not reassemble
  | "not-for-us" // destination is none of our addresses
  | "not-icmp" // another protocol (or IPv6 extension headers): nothing listens
  | "bad-icmp" // short or wrong ICMP checksum
  | "icmp-other"; // an ICMP type the host does not act on

/**
 * An ICMP error (RFC 792 destination unreachable or time exceeded; RFC 4443 section 3 for IPv6)
 * about one of our echo requests, identified from the quoted datagram (its IP header and at least
 * the first 8 bytes: our echo header with identifier and sequence number, RFC 792 / RFC 1812
 * 4.3.2.3 / RFC 4443 2.4(c)).
 */
export interface EchoError {
  readonly family: 4 | 6;
  /** The router or host that reported the error. */
  readonly src: string;
  readonly ident: number;
  readonly seq: number;
  /** "packet-too-big" is ICMPv6 only (RFC 4443 3.2). */
  readonly type: "dest-unreachable" | "time-exceeded" | "packet-too-big";
  readonly code: number;
  /** IPv4 "fragmentation needed" (RFC 1191) or ICMPv6 packet too big: the MTU; else 0. */
  readonly nextHopMtu: number;
}

/** What `receive` did with a packet. */
export type IcmpHostOutcome =
  | { kind: "answered"; reply: Uint8Array }
  | { kind: "echo-reply"; reply: EchoReply }
  | { kind: "echo-error"; error: EchoError }
  | { kind: "drop"; reason: IcmpHostDrop };

export class IcmpHost {
  readonly drops: Record<IcmpHostDrop, number> = {
    "malformed-ip": 0,
    "bad-ip-checksum": 0,
    fragment: 0,
    "not-for-us": 0,
    "not-icmp": 0,
    "bad-icmp": 0,
    "icmp-other": 0,
  };
  echoRequestsAnswered = 0;
  echoRepliesReceived = 0;
  echoErrorsReceived = 0;
  private nextIdent = 1;

  /** `ipv4`: own IPv4 addresses (uint32); `ipv6`: own IPv6 addresses (16 bytes each). */
  constructor(
    private readonly ipv4: readonly number[],
    private readonly ipv6: readonly Uint8Array[] = [],
  ) {}

  /** Handles one decrypted IP packet from the tunnel. */
  receive(packet: Uint8Array): IcmpHostOutcome {
    const version = packet.length > 0 ? packet[0] >>> 4 : 0;
    try {
      if (version === 4) return this.receive4(packet);
      if (version === 6) return this.receive6(packet);
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
    }
    return this.drop("malformed-ip");
  }

  private receive4(packet: Uint8Array): IcmpHostOutcome {
    const hl = Ipv4Header.validate(packet, 0);
    if (!Ipv4Header.isChecksumValid(packet, 0)) return this.drop("bad-ip-checksum");
    if (Ipv4Header.isFragment(packet, 0)) return this.drop("fragment");
    if (!this.ipv4.includes(Ipv4Header.dst(packet, 0))) return this.drop("not-for-us");
    if (Ipv4Header.protocol(packet, 0) !== IpProtocol.ICMP) return this.drop("not-icmp");
    const total = Ipv4Header.totalLength(packet, 0);
    const icmpLen = total - hl;
    if (icmpLen < ICMP_HEADER_LEN || !Icmpv4.isChecksumValid(packet, hl, icmpLen))
      return this.drop("bad-icmp");
    const type = Icmpv4.type(packet, hl);
    const code = Icmpv4.code(packet, hl);
    if (type === Icmpv4Type.EchoRequest && code === 0) {
      // The reply: the request's header with addresses swapped and a fresh TTL (no options echoed,
      // RFC 1122 3.2.2.6 allows dropping them), its ICMP message turned around in place.
      const reply = new Uint8Array(IPV4_HEADER_LEN + icmpLen);
      reply.set(packet.subarray(0, IPV4_HEADER_LEN), 0);
      reply.set(packet.subarray(hl, total), IPV4_HEADER_LEN);
      Ipv4Header.setHeaderLength(reply, 0, IPV4_HEADER_LEN);
      Ipv4Header.setTotalLength(reply, 0, IPV4_HEADER_LEN + icmpLen);
      Ipv4Header.setIdent(reply, 0, this.nextIdent++ & 0xffff);
      Ipv4Header.setFragment(reply, 0, false, false, 0);
      Ipv4Header.setTtl(reply, 0, DEFAULT_TTL);
      Ipv4Header.setSrc(reply, 0, Ipv4Header.dst(packet, 0));
      Ipv4Header.setDst(reply, 0, Ipv4Header.src(packet, 0));
      Ipv4Header.setEcn(reply, 0, 0);
      Ipv4Header.fillChecksum(reply, 0);
      Icmpv4.echoRequestToReply(reply, IPV4_HEADER_LEN);
      this.echoRequestsAnswered++;
      return { kind: "answered", reply };
    }
    if (type === Icmpv4Type.EchoReply && code === 0) {
      this.echoRepliesReceived++;
      return {
        kind: "echo-reply",
        reply: {
          family: 4,
          src: formatIpv4(Ipv4Header.src(packet, 0)),
          ident: Icmpv4.ident(packet, hl),
          seq: Icmpv4.seq(packet, hl),
          ttl: Ipv4Header.ttl(packet, 0),
          icmpBytes: icmpLen,
        },
      };
    }
    if (type === Icmpv4Type.DestUnreachable || type === Icmpv4Type.TimeExceeded) {
      const error = this.echoErrorOf(packet, hl, icmpLen);
      if (error) {
        this.echoErrorsReceived++;
        return { kind: "echo-error", error };
      }
    }
    return this.drop("icmp-other");
  }

  /** The echo request an ICMP error is about, if it quotes one of ours (else undefined). */
  private echoErrorOf(packet: Uint8Array, hl: number, icmpLen: number): EchoError | undefined {
    let r: ReturnType<typeof Icmpv4.parse>;
    try {
      r = Icmpv4.parse(packet, hl, icmpLen);
    } catch (e) {
      if (e instanceof WireError) return undefined; // a quote too mangled to say whose it is
      throw e;
    }
    if (r.kind !== "dest-unreachable" && r.kind !== "time-exceeded") return undefined;
    const q = r.originalData;
    if (
      r.original.protocol !== IpProtocol.ICMP ||
      q.length < ECHO_HEADER_LEN ||
      q[0] !== Icmpv4Type.EchoRequest
    ) {
      return undefined;
    }
    if (!this.ipv4.includes(r.original.src)) return undefined;
    return {
      family: 4,
      src: formatIpv4(Ipv4Header.src(packet, 0)),
      ident: (q[4] << 8) | q[5],
      seq: (q[6] << 8) | q[7],
      type: r.kind,
      code: r.code,
      nextHopMtu: r.kind === "dest-unreachable" ? r.nextHopMtu : 0,
    };
  }

  /** The IPv6 counterpart of `echoErrorOf`: the invoking packet must be one of our echo requests. */
  private echoErrorOf6(packet: Uint8Array, icmpLen: number): EchoError | undefined {
    let r: ReturnType<typeof Icmpv6.parse>;
    try {
      r = Icmpv6.parse(packet, IPV6_HEADER_LEN, icmpLen);
    } catch (e) {
      if (e instanceof WireError) return undefined;
      throw e;
    }
    if (r.kind !== "dest-unreachable" && r.kind !== "time-exceeded" && r.kind !== "packet-too-big")
      return undefined;
    const q = r.invoking;
    const echo = IPV6_HEADER_LEN;
    if (q.length < echo + ECHO_HEADER_LEN || q[0] >>> 4 !== 6 || q[6] !== IpProtocol.ICMPv6) return undefined;
    if (q[echo] !== Icmpv6Type.EchoRequest) return undefined;
    if (!this.ipv6.some((a) => sameBytes(a, q, 8))) return undefined;
    return {
      family: 6,
      src: formatIpv6(packet, Ipv6Header.srcOffset(0)),
      ident: (q[echo + 4] << 8) | q[echo + 5],
      seq: (q[echo + 6] << 8) | q[echo + 7],
      type: r.kind,
      code: r.code,
      nextHopMtu: r.kind === "packet-too-big" ? r.mtu : 0,
    };
  }

  private receive6(packet: Uint8Array): IcmpHostOutcome {
    Ipv6Header.validate(packet, 0);
    const dstAt = Ipv6Header.dstOffset(0);
    if (!this.ipv6.some((a) => sameBytes(a, packet, dstAt))) return this.drop("not-for-us");
    if (Ipv6Header.nextHeader(packet, 0) !== IpProtocol.ICMPv6) return this.drop("not-icmp");
    const icmpLen = Ipv6Header.payloadLength(packet, 0);
    const pseudo = Ipv6Header.pseudoHeaderSum(packet, 0, IpProtocol.ICMPv6, icmpLen);
    if (icmpLen < ECHO_HEADER_LEN || !Icmpv6.isChecksumValid(packet, IPV6_HEADER_LEN, icmpLen, pseudo)) {
      return this.drop("bad-icmp");
    }
    const type = Icmpv6.type(packet, IPV6_HEADER_LEN);
    const code = Icmpv6.code(packet, IPV6_HEADER_LEN);
    if (type === Icmpv6Type.EchoRequest && code === 0) {
      // A copy: `packet` may be a Node Buffer (node:crypto's plaintext), whose slice() is a view,
      // and the address swap below reads the request while it writes the reply.
      const reply = Uint8Array.prototype.slice.call(packet, 0, IPV6_HEADER_LEN + icmpLen);
      Ipv6Header.setSrc(reply, 0, packet, dstAt);
      Ipv6Header.setDst(reply, 0, packet, Ipv6Header.srcOffset(0));
      Ipv6Header.setHopLimit(reply, 0, DEFAULT_TTL);
      // Swapping the addresses leaves the pseudo-header sum as it was: patch the type only.
      Icmpv6.echoRequestToReply(reply, IPV6_HEADER_LEN);
      this.echoRequestsAnswered++;
      return { kind: "answered", reply };
    }
    if (
      type === Icmpv6Type.DestUnreachable ||
      type === Icmpv6Type.TimeExceeded ||
      type === Icmpv6Type.PacketTooBig
    ) {
      const error = this.echoErrorOf6(packet, icmpLen);
      if (error) {
        this.echoErrorsReceived++;
        return { kind: "echo-error", error };
      }
      return this.drop("icmp-other");
    }
    if (type === Icmpv6Type.EchoReply && code === 0) {
      this.echoRepliesReceived++;
      return {
        kind: "echo-reply",
        reply: {
          family: 6,
          src: formatIpv6(packet, Ipv6Header.srcOffset(0)),
          ident: Icmpv6.ident(packet, IPV6_HEADER_LEN),
          seq: Icmpv6.seq(packet, IPV6_HEADER_LEN),
          ttl: Ipv6Header.hopLimit(packet, 0),
          icmpBytes: icmpLen,
        },
      };
    }
    return this.drop("icmp-other");
  }

  /**
   * An IPv4 echo request from `src` to `dst`: `dataBytes` of data (the first 8 hold `sentAtNs` when
   * there is room, as ping does, the rest a counting pattern), DF clear, TTL 64.
   */
  buildEchoRequest(
    src: number,
    dst: number,
    ident: number,
    seq: number,
    dataBytes: number,
    sentAtNs = 0,
  ): Uint8Array {
    const icmpLen = ECHO_HEADER_LEN + dataBytes;
    const p = new Uint8Array(IPV4_HEADER_LEN + icmpLen);
    Ipv4Header.emit(
      {
        dscp: 0,
        ecn: 0,
        ident: this.nextIdent++ & 0xffff,
        dontFragment: false,
        moreFragments: false,
        fragmentOffsetBytes: 0,
        ttl: DEFAULT_TTL,
        protocol: IpProtocol.ICMP,
        src,
        dst,
        options: new Uint8Array(0),
        payloadLength: icmpLen,
        checksumValid: true,
      },
      p,
      0,
    );
    writeEcho(p, IPV4_HEADER_LEN, Icmpv4Type.EchoRequest, ident, seq, dataBytes, sentAtNs);
    Icmpv4.fillChecksum(p, IPV4_HEADER_LEN, icmpLen);
    return p;
  }

  /** The IPv6 counterpart of `buildEchoRequest` (hop limit 64, flow label 0). */
  buildEchoRequest6(
    src: Uint8Array,
    dst: Uint8Array,
    ident: number,
    seq: number,
    dataBytes: number,
    sentAtNs = 0,
  ): Uint8Array {
    const icmpLen = ECHO_HEADER_LEN + dataBytes;
    const p = new Uint8Array(IPV6_HEADER_LEN + icmpLen);
    Ipv6Header.emit(
      {
        trafficClass: 0,
        flowLabel: 0,
        payloadLength: icmpLen,
        nextHeader: IpProtocol.ICMPv6,
        hopLimit: DEFAULT_TTL,
        src,
        dst,
      },
      p,
      0,
    );
    writeEcho(p, IPV6_HEADER_LEN, Icmpv6Type.EchoRequest, ident, seq, dataBytes, sentAtNs);
    Icmpv6.fillChecksum(
      p,
      IPV6_HEADER_LEN,
      icmpLen,
      Ipv6Header.pseudoHeaderSum(p, 0, IpProtocol.ICMPv6, icmpLen),
    );
    return p;
  }

  private drop(reason: IcmpHostDrop): IcmpHostOutcome {
    this.drops[reason]++;
    return { kind: "drop", reason };
  }
}

/** Echo header (checksum left zero) and data at `o`. */
function writeEcho(
  p: Uint8Array,
  o: number,
  type: number,
  ident: number,
  seq: number,
  dataBytes: number,
  sentAtNs: number,
): void {
  p[o] = type;
  p[o + 1] = 0;
  p[o + 4] = (ident >>> 8) & 0xff;
  p[o + 5] = ident & 0xff;
  p[o + 6] = (seq >>> 8) & 0xff;
  p[o + 7] = seq & 0xff;
  const data = o + ECHO_HEADER_LEN;
  for (let i = 0; i < dataBytes; i++) p[data + i] = (i + 8) & 0xff;
  if (dataBytes >= 8) {
    new DataView(p.buffer, p.byteOffset + data, 8).setBigUint64(0, BigInt(Math.max(0, Math.floor(sentAtNs))));
  }
}

function sameBytes(a: Uint8Array, buf: Uint8Array, offset: number): boolean {
  for (let i = 0; i < 16; i++) if (a[i] !== buf[offset + i]) return false;
  return true;
}
