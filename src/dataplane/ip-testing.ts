/**
 * Test helpers for the layer-3 devices (VM, SVI router): literal ARP, ICMP and UDP frames built
 * with the wire codecs, and `decodeChecked`, which parses a frame a device emitted back through
 * the codecs and fails unless every checksum in it verifies. Used by tests only, like
 * `testing.ts`; browser-safe.
 */

import { type Ipv4, type Mac, parseIpv4, parseMac } from "../wire/addr.ts";
import { ARP_LEN, Arp, type ArpOpCode, type ArpRepr } from "../wire/arp.ts";
import { ETHERNET_HEADER_LEN, Ethernet, type EthernetRepr, EtherType } from "../wire/ethernet.ts";
import { ICMP_HEADER_LEN, Icmpv4, type Icmpv4Repr, Icmpv4Type } from "../wire/icmp.ts";
import { IPV4_HEADER_LEN, IpProtocol, Ipv4Header, type Ipv4Repr } from "../wire/ipv4.ts";
import { UDP_HEADER_LEN, Udp, type UdpRepr } from "../wire/udp.ts";
import { Frame } from "./frame.ts";

export const ip = parseIpv4;
export const mac = parseMac;

export function arpFrame(a: {
  op: ArpOpCode;
  dst: Mac;
  senderMac: Mac;
  senderIp: Ipv4;
  targetMac?: Mac;
  targetIp: Ipv4;
}): Frame {
  const f = Frame.alloc(ETHERNET_HEADER_LEN + ARP_LEN);
  Ethernet.emit({ dst: a.dst, src: a.senderMac, etherType: EtherType.ARP }, f.buf, f.start);
  Arp.emit(
    {
      op: a.op,
      senderMac: a.senderMac,
      senderIp: a.senderIp,
      targetMac: a.targetMac ?? 0,
      targetIp: a.targetIp,
    },
    f.buf,
    f.start + ETHERNET_HEADER_LEN,
  );
  return f;
}

export interface Ipv4FrameSpec {
  srcMac: Mac;
  dstMac: Mac;
  src: Ipv4;
  dst: Ipv4;
  protocol: number;
  /** The IP payload (ICMP or UDP message, already checksummed). */
  payload: Uint8Array;
  ttl?: number;
  isDontFragment?: boolean;
  ident?: number;
}

export function ipv4Frame(s: Ipv4FrameSpec): Frame {
  const f = Frame.alloc(ETHERNET_HEADER_LEN + IPV4_HEADER_LEN + s.payload.length);
  Ethernet.emit({ dst: s.dstMac, src: s.srcMac, etherType: EtherType.IPv4 }, f.buf, f.start);
  Ipv4Header.emit(
    {
      dscp: 0,
      ecn: 0,
      ident: s.ident ?? 0x1234,
      dontFragment: s.isDontFragment ?? true,
      moreFragments: false,
      fragmentOffsetBytes: 0,
      ttl: s.ttl ?? 64,
      protocol: s.protocol,
      src: s.src,
      dst: s.dst,
      options: new Uint8Array(0),
      payloadLength: s.payload.length,
      checksumValid: true,
    },
    f.buf,
    f.start + ETHERNET_HEADER_LEN,
  );
  f.buf.set(s.payload, f.start + ETHERNET_HEADER_LEN + IPV4_HEADER_LEN);
  return f;
}

/** An ICMP echo message (request by default) with `data`. */
export function echoMessage(
  id: number,
  seq: number,
  data: Uint8Array,
  type: number = Icmpv4Type.EchoRequest,
): Uint8Array {
  const m = new Uint8Array(ICMP_HEADER_LEN + data.length);
  Icmpv4.emit(
    {
      kind: type === Icmpv4Type.EchoRequest ? "echo-request" : "echo-reply",
      code: 0,
      ident: id,
      seq,
      data,
      checksumValid: true,
    },
    m,
  );
  return m;
}

export function udpMessage(
  src: Ipv4,
  dst: Ipv4,
  srcPort: number,
  dstPort: number,
  data: Uint8Array,
): Uint8Array {
  const m = new Uint8Array(UDP_HEADER_LEN + data.length);
  m.set(data, UDP_HEADER_LEN);
  Udp.emit({ srcPort, dstPort, payloadLength: data.length, checksumStatus: "valid" }, m, 0, {
    version: 4,
    src,
    dst,
  });
  return m;
}

/** An echo request frame as a guest would send it. */
export function echoRequestFrame(
  spec: Omit<Ipv4FrameSpec, "protocol" | "payload"> & { id: number; seq: number; dataLen?: number },
): Frame {
  const data = Uint8Array.from({ length: spec.dataLen ?? 56 }, (_, i) => i & 0xff);
  return ipv4Frame({ ...spec, protocol: IpProtocol.ICMP, payload: echoMessage(spec.id, spec.seq, data) });
}

export interface Decoded {
  eth: EthernetRepr;
  arp?: ArpRepr;
  ip?: Ipv4Repr;
  icmp?: Icmpv4Repr;
  udp?: UdpRepr;
  /** Offset of the IP header in `frame.bytes()`. */
  ipOffset?: number;
}

/** Parses a frame with the codecs; throws unless every checksum verifies and lengths agree. */
export function decodeChecked(frame: Frame): Decoded {
  const b = frame.bytes();
  const eth = Ethernet.parse(b, 0);
  if (eth.etherType === EtherType.ARP) {
    if (b.length !== ETHERNET_HEADER_LEN + ARP_LEN) throw new Error(`ARP frame of ${b.length} bytes`);
    return { eth, arp: Arp.parse(b, ETHERNET_HEADER_LEN) };
  }
  if (eth.etherType !== EtherType.IPv4) return { eth };
  const ipRepr = Ipv4Header.parse(b, ETHERNET_HEADER_LEN);
  if (!ipRepr.checksumValid) throw new Error("IPv4 header checksum invalid");
  const hl = Ipv4Header.headerLength(b, ETHERNET_HEADER_LEN);
  const l4 = ETHERNET_HEADER_LEN + hl;
  if (l4 + ipRepr.payloadLength !== b.length)
    throw new Error(`IP total length disagrees with the frame (${b.length})`);
  const out: Decoded = { eth, ip: ipRepr, ipOffset: ETHERNET_HEADER_LEN };
  // A fragment's transport checksum covers the whole datagram: only the header is checked.
  if (ipRepr.moreFragments || ipRepr.fragmentOffsetBytes > 0) return out;
  if (ipRepr.protocol === IpProtocol.ICMP) {
    out.icmp = Icmpv4.parse(b, l4, ipRepr.payloadLength);
    if (!out.icmp.checksumValid) throw new Error("ICMP checksum invalid");
  } else if (ipRepr.protocol === IpProtocol.UDP) {
    out.udp = Udp.parse(b, l4, { version: 4, src: ipRepr.src, dst: ipRepr.dst }, ipRepr.payloadLength);
    if (out.udp.checksumStatus !== "valid") throw new Error(`UDP checksum ${out.udp.checksumStatus}`);
  }
  return out;
}
