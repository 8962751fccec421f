/**
 * The smallest IP host a userspace tunnel endpoint needs: it answers ICMP echo requests addressed
 * to one of its own IPv4 addresses (RFC 792 "Echo or Echo Reply Message"; RFC 1122 section 3.2.2.6:
 * a host MUST answer, returning the same identifier, sequence number and data), builds echo
 * requests for `vnet vpn ping`, and recognizes the replies. Pure (no I/O, no clock): it sits on the
 * plaintext side of `WgUdpEndpoint`, where a kernel would have a tun device. Everything it does not
 * handle is counted by reason, never dropped silently.
 */

import { internetChecksum, verifyChecksum } from "../wire/checksum.ts";
import { WireError } from "../wire/error.ts";
import { IPV4_HEADER_LEN, IpProtocol, Ipv4Header } from "../wire/ipv4.ts";

export const ICMP_ECHO_REPLY = 0;
export const ICMP_ECHO_REQUEST = 8;
const ICMP_ECHO_HEADER_LEN = 8;
const DEFAULT_TTL = 64;

/** An echo reply that answered one of our requests. */
export interface EchoReply {
  readonly src: number;
  readonly ident: number;
  readonly seq: number;
  readonly ttl: number;
  /** ICMP bytes (header + data), as ping reports them. */
  readonly icmpBytes: number;
}

export type IcmpHostDrop =
  | "malformed-ip" // not a valid IPv4 header, or an IPv6 packet (this host speaks IPv4 only)
  | "bad-ip-checksum"
  | "fragment" // the host does not reassemble
  | "not-for-us" // destination is none of our addresses
  | "not-icmp" // another protocol: nothing listens
  | "bad-icmp" // short or wrong ICMP checksum
  | "icmp-other"; // an ICMP type the host does not act on

/** What `receive` did with a packet. */
export type IcmpHostOutcome =
  | { kind: "answered"; reply: Uint8Array }
  | { kind: "echo-reply"; reply: EchoReply }
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
  private nextIdent = 1;

  /** `addresses`: the host's own IPv4 addresses (uint32). */
  constructor(private readonly addresses: readonly number[]) {}

  isOwnAddress(ip: number): boolean {
    return this.addresses.includes(ip);
  }

  /** Handles one decrypted IP packet from the tunnel. */
  receive(packet: Uint8Array): IcmpHostOutcome {
    let hl: number;
    try {
      hl = Ipv4Header.validate(packet, 0);
    } catch (e) {
      if (e instanceof WireError) return this.drop("malformed-ip");
      throw e;
    }
    if (!Ipv4Header.isChecksumValid(packet, 0)) return this.drop("bad-ip-checksum");
    if (Ipv4Header.isFragment(packet, 0)) return this.drop("fragment");
    if (!this.isOwnAddress(Ipv4Header.dst(packet, 0))) return this.drop("not-for-us");
    if (Ipv4Header.protocol(packet, 0) !== IpProtocol.ICMP) return this.drop("not-icmp");
    const total = Ipv4Header.totalLength(packet, 0);
    const icmpLen = total - hl;
    if (icmpLen < ICMP_ECHO_HEADER_LEN || !verifyChecksum(packet, hl, icmpLen)) return this.drop("bad-icmp");
    const type = packet[hl];
    const code = packet[hl + 1];
    if (type === ICMP_ECHO_REQUEST && code === 0) {
      this.echoRequestsAnswered++;
      return { kind: "answered", reply: this.buildEchoReply(packet, hl, total) };
    }
    if (type === ICMP_ECHO_REPLY && code === 0) {
      this.echoRepliesReceived++;
      return {
        kind: "echo-reply",
        reply: {
          src: Ipv4Header.src(packet, 0),
          ident: (packet[hl + 4] << 8) | packet[hl + 5],
          seq: (packet[hl + 6] << 8) | packet[hl + 7],
          ttl: Ipv4Header.ttl(packet, 0),
          icmpBytes: icmpLen,
        },
      };
    }
    return this.drop("icmp-other");
  }

  /**
   * An echo request from `src` to `dst`: `dataBytes` of data (the first 8 hold `sentAtNs` when there
   * is room, as ping does, the rest a counting pattern), DF clear, TTL 64.
   */
  buildEchoRequest(
    src: number,
    dst: number,
    ident: number,
    seq: number,
    dataBytes: number,
    sentAtNs = 0,
  ): Uint8Array {
    const icmpLen = ICMP_ECHO_HEADER_LEN + dataBytes;
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
    const o = IPV4_HEADER_LEN;
    p[o] = ICMP_ECHO_REQUEST;
    p[o + 1] = 0;
    p[o + 4] = ident >>> 8;
    p[o + 5] = ident & 0xff;
    p[o + 6] = (seq >>> 8) & 0xff;
    p[o + 7] = seq & 0xff;
    const data = o + ICMP_ECHO_HEADER_LEN;
    for (let i = 0; i < dataBytes; i++) p[data + i] = (i + 8) & 0xff;
    if (dataBytes >= 8) {
      const dv = new DataView(p.buffer, p.byteOffset + data, 8);
      dv.setBigUint64(0, BigInt(Math.max(0, Math.floor(sentAtNs))));
    }
    setIcmpChecksum(p, o, icmpLen);
    return p;
  }

  /** The reply to the echo request in `req`: addresses swapped, type 0, same ident/seq/data. */
  private buildEchoReply(req: Uint8Array, hl: number, total: number): Uint8Array {
    const icmpLen = total - hl;
    const p = new Uint8Array(IPV4_HEADER_LEN + icmpLen);
    Ipv4Header.emit(
      {
        dscp: Ipv4Header.dscp(req, 0),
        ecn: 0,
        ident: this.nextIdent++ & 0xffff,
        dontFragment: false,
        moreFragments: false,
        fragmentOffsetBytes: 0,
        ttl: DEFAULT_TTL,
        protocol: IpProtocol.ICMP,
        src: Ipv4Header.dst(req, 0),
        dst: Ipv4Header.src(req, 0),
        options: new Uint8Array(0),
        payloadLength: icmpLen,
        checksumValid: true,
      },
      p,
      0,
    );
    p.set(req.subarray(hl, total), IPV4_HEADER_LEN);
    p[IPV4_HEADER_LEN] = ICMP_ECHO_REPLY;
    setIcmpChecksum(p, IPV4_HEADER_LEN, icmpLen);
    return p;
  }

  private drop(reason: IcmpHostDrop): IcmpHostOutcome {
    this.drops[reason]++;
    return { kind: "drop", reason };
  }
}

function setIcmpChecksum(p: Uint8Array, offset: number, length: number): void {
  p[offset + 2] = 0;
  p[offset + 3] = 0;
  const c = internetChecksum(p, offset, length);
  p[offset + 2] = c >>> 8;
  p[offset + 3] = c & 0xff;
}
