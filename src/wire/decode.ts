/**
 * The layered dissector: one frame in, the list of its layers out, each a plain object named by
 * `layer` with its fields in camelCase and addresses as text. It is what `vnet decode` prints
 * (JSON, or one tcpdump-like line through `summarizeLayers`), and what `vnet trace` and tests use
 * to describe a frame. It sits on top of the codecs in this folder and has no logic of its own
 * about the protocols beyond choosing the next layer: fields are read through the codecs (the
 * Linux cooked capture header, a capture artefact rather than a protocol, is read here).
 *
 * It goes into the frame a VXLAN packet carries (UDP port 4789, RFC 7348 §5) and keeps going,
 * shows an ICMP/ICMPv6 error's quoted datagram, and WireGuard's clear header on UDP 51820.
 * A frame that breaks partway keeps the layers decoded so far and ends with an `error` layer
 * whose offset is relative to the start of the (outermost) frame. Decoding never throws for any
 * input; it is not a forwarding path and allocates freely.
 */

import { formatIpv4, formatIpv6, formatMac } from "./addr.ts";
import { Arp, ArpOp } from "./arp.ts";
import type { PseudoHeader } from "./checksum.ts";
import { checkLen, WireError, type WireErrorCode } from "./error.ts";
import { Ethernet, EtherType } from "./ethernet.ts";
import { Gre } from "./gre.ts";
import { DestUnreachableCode, ICMP_HEADER_LEN, Icmpv4, Icmpv4Type } from "./icmp.ts";
import { ICMPV6_HEADER_LEN, Icmpv6, Icmpv6Type, NdpOption, ndpLinkLayerAddress } from "./icmpv6.ts";
import { IPV4_HEADER_LEN, IpProtocol, Ipv4Header } from "./ipv4.ts";
import { IPV6_HEADER_LEN, Ipv6Header } from "./ipv6.ts";
import { formatLacpState, Lacp, type LacpParticipant } from "./lacp.ts";
import {
  type BpduKind,
  type BpduPortRole,
  formatStpFlags,
  LLC_HEADER_LEN,
  Stp,
  stpFlagWords,
} from "./stp.ts";
import {
  formatTcpFlags,
  parseTcpOptions,
  TCP_HEADER_LEN,
  Tcp,
  type TcpChecksumStatus,
  type TcpOption,
} from "./tcp.ts";
import { type ChecksumStatus, UDP_HEADER_LEN, Udp, type UdpRepr } from "./udp.ts";
import { isVlanTpid, MAX_VLAN_TAGS, VLAN_TAG_LEN, Vlan } from "./vlan.ts";
import { VXLAN_FLAG_I, VXLAN_HEADER_LEN, VXLAN_UDP_PORT, Vxlan } from "./vxlan.ts";
import {
  WgCookieReply,
  WgInitiation,
  WgMessageType,
  WgResponse,
  WgTransport,
  wgMessageType,
} from "./wireguard.ts";

export interface EthernetLayer {
  layer: "ethernet";
  src: string;
  dst: string;
  /** The Length/Type field: an EtherType, or below 0x600 an IEEE 802.3 length (LLC follows). */
  etherType: number;
}

export interface VlanLayer {
  layer: "vlan";
  tpid: number;
  vid: number;
  pcp: number;
  dei: boolean;
  /** The EtherType that follows this tag. */
  etherType: number;
}

/**
 * The Linux "cooked" header a capture on `any` (or a non-Ethernet device) writes instead of a
 * link-layer header: link types 113 (SLL, 16 bytes) and 276 (SLL2, 20 bytes).
 */
export interface SllLayer {
  layer: "sll";
  /** "host", "broadcast", "multicast", "otherhost" or "outgoing" (or the number if unknown). */
  packetType: string | number;
  /** The device's ARPHRD type: 1 Ethernet, 772 loopback, 65534 none (tun, WireGuard). */
  addressType: number;
  /** The link-layer source address, as a MAC when it is 6 bytes, otherwise hex. */
  address: string;
  /** The EtherType of what follows. */
  protocol: number;
  /** SLL2 only: the capturing interface's index. */
  ifIndex?: number;
}

export interface ArpLayer {
  layer: "arp";
  op: number;
  senderMac: string;
  senderIp: string;
  targetMac: string;
  targetIp: string;
}

export interface Ipv4Layer {
  layer: "ipv4";
  src: string;
  dst: string;
  ttl: number;
  protocol: number;
  dontFragment: boolean;
  checksumValid: boolean;
  /** Total length (header and payload), from the header. */
  length: number;
  headerLength: number;
  id: number;
  dscp: number;
  ecn: number;
  moreFragments: boolean;
  fragmentOffset: number;
  /** Bytes of options (0 for a plain 20-byte header). */
  optionsLength: number;
  /** Present and true for the header an ICMP error quotes (RFC 792): its datagram is cut short. */
  isQuoted?: boolean;
}

export interface Ipv6Layer {
  layer: "ipv6";
  src: string;
  dst: string;
  /** The Next Header field of the fixed header. */
  nextHeader: number;
  hopLimit: number;
  payloadLength: number;
  trafficClass: number;
  flowLabel: number;
  /** Extension header types stepped over (RFC 8200 §4), when there are any. */
  extensionHeaders?: number[];
  /** The upper-layer protocol behind the extension headers (= nextHeader without any). */
  protocol: number;
  isQuoted?: boolean;
}

export interface IcmpLayer {
  layer: "icmp";
  type: number;
  code: number;
  /** Echo request/reply identifier and sequence number. */
  id?: number;
  seq?: number;
  /** Next-hop MTU of "fragmentation needed" (type 3 code 4, RFC 1191 §4). */
  nextHopMtu?: number;
  /** Redirect's gateway (type 5). */
  gateway?: string;
  /** Parameter problem's pointer (type 12). */
  pointer?: number;
  /** Absent for a quoted ICMP header (its checksum covers bytes the quote leaves out). */
  checksumValid?: boolean;
  /** The ICMP message length (header and body). */
  length: number;
  isQuoted?: boolean;
}

export interface Icmpv6Layer {
  layer: "icmpv6";
  type: number;
  code: number;
  /** Absent for a quoted header. */
  checksumValid?: boolean;
  length: number;
  /** Echo request/reply. */
  id?: number;
  seq?: number;
  /** Packet too big (RFC 4443 §3.2). */
  mtu?: number;
  /** Parameter problem (RFC 4443 §3.4). */
  pointer?: number;
  /** Neighbor solicitation/advertisement target (RFC 4861 §4.3, §4.4). */
  targetAddress?: string;
  /** From the source/target link-layer address options. */
  sourceMac?: string;
  targetMac?: string;
  /** Neighbor advertisement flags. */
  isRouter?: boolean;
  isSolicited?: boolean;
  isOverride?: boolean;
  isQuoted?: boolean;
}

export interface UdpLayer {
  layer: "udp";
  srcPort: number;
  dstPort: number;
  /** The UDP length field (header and data). */
  length: number;
  /** "valid", "invalid", "absent" (zero: none sent, allowed over IPv4) or "unchecked". */
  checksumStatus: ChecksumStatus;
  /** Present when the checksum was verified: true when it matched (as ipv4/icmp report it). */
  checksumValid?: boolean;
  isQuoted?: boolean;
}

export interface TcpLayer {
  layer: "tcp";
  srcPort: number;
  dstPort: number;
  seq: number;
  /** Flag names in wire order, "SYN|ACK" ("none" when no flag is set). Absent when quoted. */
  flags?: string;
  ack?: number;
  window?: number;
  headerLength?: number;
  checksumStatus?: TcpChecksumStatus;
  /** Present when the checksum was verified: true when it matched. */
  checksumValid?: boolean;
  /** Options as tcpdump shows them ("mss 1460", "sackOK", "ts 1 0", "wscale 7", "nop"). */
  options?: string[];
  /** The header an ICMP error quotes: only its first 8 bytes (ports, sequence) are shown. */
  isQuoted?: boolean;
}

/** A GRE header (RFC 2784); the carried packet's layers follow. */
export interface GreLayer {
  layer: "gre";
  /** The payload's EtherType (0x0800: IPv4). */
  protocolType: number;
  hasChecksum: boolean;
  /** Present when the header carries a checksum: whether it verified. */
  checksumValid?: boolean;
}

export interface VxlanLayer {
  layer: "vxlan";
  vni: number;
  /** The flags byte (0x08: only the I flag, as RFC 7348 §5 sends it). */
  flags: number;
}

/** A WireGuard message (whitepaper §5.4): only its clear header; the rest is encrypted. */
export interface WireguardLayer {
  layer: "wireguard";
  type: "handshake-initiation" | "handshake-response" | "cookie-reply" | "transport-data";
  senderIndex?: number;
  receiverIndex?: number;
  /** Transport data: the nonce counter (exact below 2^53, which any live keypair stays under). */
  counter?: number;
  /** The message length (the UDP payload). */
  length: number;
}

export interface LacpParticipantLayer {
  systemPriority: number;
  /** The system identifier, a MAC address as text. */
  system: string;
  key: number;
  portPriority: number;
  port: number;
  /** The eight state bits (IEEE 802.1AX-2014 §6.4.2.3): activity 0x01 ... expired 0x80. */
  state: number;
}

export interface LacpLayer {
  layer: "lacp";
  version: number;
  actor: LacpParticipantLayer;
  partner: LacpParticipantLayer;
  /** Tens of microseconds. */
  collectorMaxDelay: number;
}

/**
 * A spanning tree BPDU (IEEE 802.1D-2004 §9.3) from an 802.3 frame with LLC 42 42 03. A TCN has
 * only version and type; a config BPDU only the TC and TCA flags; an RST BPDU all of them.
 */
export interface StpLayer {
  layer: "stp";
  protocolId: number;
  version: number;
  type: BpduKind;
  /** The flags byte, and in words ("tc,proposal,designated,learning,forwarding"). */
  flags?: number;
  flagsText?: string;
  isTopologyChange?: boolean;
  isTopologyChangeAck?: boolean;
  isProposal?: boolean;
  portRole?: BpduPortRole;
  isLearning?: boolean;
  isForwarding?: boolean;
  isAgreement?: boolean;
  /** Priority in steps of 4096 and the 12-bit system id extension, then the MAC. */
  rootPriority?: number;
  rootSystemIdExtension?: number;
  rootMac?: string;
  rootPathCost?: number;
  bridgePriority?: number;
  bridgeSystemIdExtension?: number;
  bridgeMac?: string;
  /** The port identifier as sent (priority in the top 4 bits), then split. */
  portId?: number;
  portPriority?: number;
  portNumber?: number;
  messageAgeS?: number;
  maxAgeS?: number;
  helloTimeS?: number;
  forwardDelayS?: number;
  /** RST BPDUs: always 0 (no version 1 protocol information). */
  version1Length?: number;
}

export interface PayloadLayer {
  layer: "payload";
  /** Bytes not decoded further (application data, or a protocol vnet does not dissect). */
  length: number;
}

export interface ErrorLayer {
  layer: "error";
  code: WireErrorCode;
  /** Byte offset from the start of the frame where decoding stopped. */
  offset: number;
  message: string;
}

export type Layer =
  | EthernetLayer
  | VlanLayer
  | SllLayer
  | ArpLayer
  | Ipv4Layer
  | IcmpLayer
  | Ipv6Layer
  | Icmpv6Layer
  | UdpLayer
  | TcpLayer
  | VxlanLayer
  | GreLayer
  | WireguardLayer
  | LacpLayer
  | StpLayer
  | PayloadLayer
  | ErrorLayer;

/**
 * Decodes one Ethernet frame (`frame` is the frame's bytes, starting at its destination MAC).
 * Never throws: a malformed frame yields the layers decoded up to the fault and an error layer.
 */
export function decodeFrame(frame: Uint8Array, options: DecodeOptions = {}): Layer[] {
  return decodeWith(frame, decodeEthernet, options);
}

export interface DecodeOptions {
  /**
   * UDP destination ports whose payload is VXLAN. Default: 4789 (IANA, RFC 7348 §5). Add 8472
   * for Linux vxlan devices created without `dstport` (the kernel's pre-IANA default).
   */
  vxlanPorts?: readonly number[];
  /** UDP ports (source or destination) whose payload is WireGuard. Default: 51820. */
  wireguardPorts?: readonly number[];
}

const DEFAULT_VXLAN_PORTS: readonly number[] = [VXLAN_UDP_PORT];
/**
 * The options of the decode in progress. Decoding is synchronous and never re-entered, so one
 * module-level slot (set and restored by `decodeWith`) saves threading them through every layer.
 */
let vxlanPorts: readonly number[] = DEFAULT_VXLAN_PORTS;
const DEFAULT_WIREGUARD_PORTS: readonly number[] = [51820];
let wireguardPorts: readonly number[] = DEFAULT_WIREGUARD_PORTS;

/** Link-layer header types (tcpdump.org "LINKTYPE_" values) that `decodePacket` understands. */
export const LinkType = {
  Ethernet: 1,
  /** Raw IP: the packet starts with an IPv4 or IPv6 header (the version nibble says which). */
  Raw: 101,
  Ipv4: 228,
  Ipv6: 229,
  /** Linux cooked capture v1 and v2 (`tcpdump -i any`, `tshark -i any`). */
  LinuxSll: 113,
  LinuxSll2: 276,
} as const;

/**
 * Decodes a captured packet of the given link type: Ethernet frames as `decodeFrame`, raw IP
 * packets (link types 101, 228, 229, as `tcpdump -i` on a tun device or WireGuard interface
 * writes them) from their IP header. Any other link type is one `unsupported` error layer.
 */
export function decodePacket(data: Uint8Array, linkType: number, options: DecodeOptions = {}): Layer[] {
  switch (linkType) {
    case LinkType.Ethernet:
      return decodeFrame(data, options);
    case LinkType.Raw:
    case LinkType.Ipv4:
    case LinkType.Ipv6:
      return decodeWith(
        data,
        (buf, offset, end, layers) => {
          checkLen(buf, offset, 1, "ip header");
          const version = buf[offset] >>> 4;
          if (version === 4) decodeIpv4(buf, offset, end, layers, false);
          else if (version === 6) decodeIpv6(buf, offset, end, layers, false);
          else throw new WireError("bad-version", offset, `raw ip: version ${version}`);
        },
        options,
      );
    case LinkType.LinuxSll:
    case LinkType.LinuxSll2:
      return decodeWith(
        data,
        (buf, offset, end, layers) => decodeSll(buf, offset, end, layers, linkType === LinkType.LinuxSll2),
        options,
      );
    default:
      return [
        {
          layer: "error",
          code: "unsupported",
          offset: 0,
          message: `link type ${linkType} is not decoded (Ethernet 1, raw IP 101/228/229, Linux cooked 113/276 are)`,
        },
      ];
  }
}

/**
 * How many VXLAN packets inside VXLAN packets the decoder follows. Real networks nest one (an
 * overlay over an underlay); the bound keeps a crafted frame from recursing without end.
 */
export const MAX_VXLAN_NESTING = 8;

type Decoder = (buf: Uint8Array, offset: number, end: number, layers: Layer[]) => void;

/** Runs a decoder, turning the WireError that stops it into the final error layer. */
function decodeWith(data: Uint8Array, decode: Decoder, options: DecodeOptions): Layer[] {
  const layers: Layer[] = [];
  const saved = [vxlanPorts, wireguardPorts] as const;
  vxlanPorts = options.vxlanPorts ?? DEFAULT_VXLAN_PORTS;
  wireguardPorts = options.wireguardPorts ?? DEFAULT_WIREGUARD_PORTS;
  try {
    decode(data, 0, data.length, layers);
  } catch (e) {
    if (!(e instanceof WireError)) throw e;
    layers.push({ layer: "error", code: e.code, offset: e.offset, message: e.message });
  } finally {
    [vxlanPorts, wireguardPorts] = saved;
  }
  return layers;
}

const HEX_BYTE = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));

/**
 * The MAC address stored at `at` as text, like `formatMac` but straight from the bytes: the
 * dissector formats two to four MACs a frame, and this is most of its cost otherwise.
 */
function macAt(buf: Uint8Array, at: number): string {
  return `${HEX_BYTE[buf[at]]}:${HEX_BYTE[buf[at + 1]]}:${HEX_BYTE[buf[at + 2]]}:${HEX_BYTE[buf[at + 3]]}:${HEX_BYTE[buf[at + 4]]}:${HEX_BYTE[buf[at + 5]]}`;
}

const SLL_PACKET_TYPES = ["host", "broadcast", "multicast", "otherhost", "outgoing"];

/**
 * Linux cooked headers (tcpdump.org LINKTYPE_LINUX_SLL and LINKTYPE_LINUX_SLL2): the kernel's
 * packet type, device type and source address, then the EtherType of the packet that follows.
 */
function decodeSll(buf: Uint8Array, offset: number, end: number, layers: Layer[], isV2: boolean): void {
  const len = isV2 ? 20 : 16;
  checkLen(buf, offset, len, isV2 ? "linux sll2 header" : "linux sll header");
  const u16 = (at: number) => (buf[offset + at] << 8) | buf[offset + at + 1];
  const protocol = isV2 ? u16(0) : u16(14);
  const packetType = isV2 ? buf[offset + 10] : u16(0);
  const addressType = isV2 ? u16(8) : u16(2);
  const addrLen = Math.min(isV2 ? buf[offset + 11] : u16(4), 8);
  const addrAt = offset + (isV2 ? 12 : 6);
  const address =
    addrLen === 6
      ? macAt(buf, addrAt)
      : Array.from(buf.subarray(addrAt, addrAt + addrLen), (b) => b.toString(16).padStart(2, "0")).join(":");
  const layer: SllLayer = {
    layer: "sll",
    packetType: SLL_PACKET_TYPES[packetType] ?? packetType,
    addressType,
    address,
    protocol,
  };
  if (isV2)
    layer.ifIndex =
      ((buf[offset + 4] << 24) | (buf[offset + 5] << 16) | (buf[offset + 6] << 8) | buf[offset + 7]) >>> 0;
  layers.push(layer);
  decodeEtherPayload(buf, protocol, offset + len, end, layers);
}

/** Decodes the Ethernet frame in [offset, end) of `buf`, appending to `layers`. */
function decodeEthernet(buf: Uint8Array, offset: number, end: number, layers: Layer[]): void {
  const frame = end === buf.length ? buf : buf.subarray(0, end);
  Ethernet.check(frame, offset);
  layers.push({
    layer: "ethernet",
    src: macAt(frame, offset + 6),
    dst: macAt(frame, offset),
    etherType: Ethernet.etherType(frame, offset),
  });
  let typeAt = offset + 12;
  let type = Ethernet.etherType(frame, offset);
  for (let tags = 0; isVlanTpid(type); tags++) {
    if (tags === MAX_VLAN_TAGS) {
      throw new WireError("unsupported", typeAt, `more than ${MAX_VLAN_TAGS} stacked vlan tags`);
    }
    const tag = Vlan.parse(frame, typeAt);
    const next = typeAt + VLAN_TAG_LEN;
    if (next + 2 > end) throw new WireError("truncated", next, "ethertype after vlan tag: frame ends");
    type = (frame[next] << 8) | frame[next + 1];
    layers.push({ layer: "vlan", tpid: tag.tpid, vid: tag.vid, pcp: tag.pcp, dei: tag.dei, etherType: type });
    typeAt = next;
  }
  // Below 0x600 the field is an IEEE 802.3 length and an LLC header follows; 42 42 03 is STP.
  if (type < 0x600) {
    const llcAt = typeAt + 2;
    if (llcAt + LLC_HEADER_LEN <= end && Stp.isStpFrame(frame, typeAt - 12)) {
      decodeStp(frame, typeAt - 12, layers);
      return;
    }
    pushPayload(llcAt, end, layers);
    return;
  }
  decodeEtherPayload(frame, type, typeAt + 2, end, layers);
}

/** The BPDU of an 802.3/LLC frame whose (virtual) Ethernet header starts at `headerAt`. */
function decodeStp(buf: Uint8Array, headerAt: number, layers: Layer[]): void {
  const pdu = Stp.parseFrame(buf, headerAt);
  const layer: StpLayer = { layer: "stp", protocolId: 0, version: pdu.version, type: pdu.type };
  if (pdu.type !== "tcn") {
    const isRst = pdu.type === "rst";
    const w = stpFlagWords(pdu.flags);
    layer.flags = pdu.flags;
    layer.flagsText = formatStpFlags(pdu.flags, isRst);
    layer.isTopologyChange = w.isTopologyChange;
    if (isRst) {
      layer.isProposal = w.isProposal;
      layer.portRole = w.portRole;
      layer.isLearning = w.isLearning;
      layer.isForwarding = w.isForwarding;
      layer.isAgreement = w.isAgreement;
    }
    layer.isTopologyChangeAck = w.isTopologyChangeAck;
    layer.rootPriority = pdu.rootId.priority;
    layer.rootSystemIdExtension = pdu.rootId.systemIdExtension;
    layer.rootMac = formatMac(pdu.rootId.mac);
    layer.rootPathCost = pdu.rootPathCost;
    layer.bridgePriority = pdu.bridgeId.priority;
    layer.bridgeSystemIdExtension = pdu.bridgeId.systemIdExtension;
    layer.bridgeMac = formatMac(pdu.bridgeId.mac);
    layer.portId = (pdu.portId.priority << 8) | pdu.portId.number;
    layer.portPriority = pdu.portId.priority;
    layer.portNumber = pdu.portId.number;
    layer.messageAgeS = pdu.messageAgeS;
    layer.maxAgeS = pdu.maxAgeS;
    layer.helloTimeS = pdu.helloTimeS;
    layer.forwardDelayS = pdu.forwardDelayS;
    if (isRst) layer.version1Length = 0;
  }
  layers.push(layer);
}

function decodeEtherPayload(
  buf: Uint8Array,
  type: number,
  offset: number,
  end: number,
  layers: Layer[],
): void {
  switch (type) {
    case EtherType.ARP: {
      const arp = Arp.parse(buf, offset);
      layers.push({
        layer: "arp",
        op: arp.op,
        senderMac: macAt(buf, offset + 8),
        senderIp: formatIpv4(arp.senderIp),
        targetMac: macAt(buf, offset + 18),
        targetIp: formatIpv4(arp.targetIp),
      });
      return;
    }
    case EtherType.IPv4:
      decodeIpv4(buf, offset, end, layers, false);
      return;
    case EtherType.IPv6:
      decodeIpv6(buf, offset, end, layers, false);
      return;
    case EtherType.SlowProtocols: {
      const pdu = Lacp.parse(buf, offset);
      const side = (p: LacpParticipant): LacpParticipantLayer => ({
        systemPriority: p.systemPriority,
        system: formatMac(p.system),
        key: p.key,
        portPriority: p.portPriority,
        port: p.port,
        state: p.state,
      });
      layers.push({
        layer: "lacp",
        version: pdu.version,
        actor: side(pdu.actor),
        partner: side(pdu.partner),
        collectorMaxDelay: pdu.collectorMaxDelay,
      });
      return;
    }
    default:
      pushPayload(offset, end, layers);
  }
}

/**
 * Decodes an IPv4 datagram at `offset`; its end is its total length (bytes after it in the frame
 * are Ethernet padding). A quoted datagram (inside an ICMP error) may end before its length says.
 */
function decodeIpv4(buf: Uint8Array, offset: number, end: number, layers: Layer[], isQuoted: boolean): void {
  const ip = isQuoted ? Ipv4Header.parseQuoted(buf, offset) : Ipv4Header.parse(buf, offset);
  const hl = IPV4_HEADER_LEN + ip.options.length;
  const layer: Ipv4Layer = {
    layer: "ipv4",
    src: formatIpv4(ip.src),
    dst: formatIpv4(ip.dst),
    ttl: ip.ttl,
    protocol: ip.protocol,
    dontFragment: ip.dontFragment,
    checksumValid: ip.checksumValid,
    length: hl + ip.payloadLength,
    headerLength: hl,
    id: ip.ident,
    dscp: ip.dscp,
    ecn: ip.ecn,
    moreFragments: ip.moreFragments,
    fragmentOffset: ip.fragmentOffsetBytes,
    optionsLength: ip.options.length,
  };
  if (isQuoted) layer.isQuoted = true;
  layers.push(layer);
  const payloadAt = offset + hl;
  const payloadEnd = Math.min(end, offset + hl + ip.payloadLength);
  // Only a first fragment carries the transport header; later ones are opaque data.
  if (ip.fragmentOffsetBytes !== 0) {
    pushPayload(payloadAt, payloadEnd, layers);
    return;
  }
  if (isQuoted) decodeQuotedTransport(buf, ip.protocol, payloadAt, payloadEnd, layers);
  else decodeIpv4Payload(buf, ip.protocol, payloadAt, payloadEnd, ip.src, ip.dst, layers, ip.moreFragments);
}

function decodeIpv4Payload(
  buf: Uint8Array,
  protocol: number,
  offset: number,
  end: number,
  src: number,
  dst: number,
  layers: Layer[],
  isFirstFragment = false,
): void {
  // A first fragment holds the transport header but not the whole datagram its checksum
  // covers: the checksum cannot be judged here (tshark judges it after reassembly).
  const pseudo = isFirstFragment ? undefined : ({ version: 4, src, dst } as const);
  switch (protocol) {
    case IpProtocol.ICMP: {
      const at = layers.length;
      decodeIcmp(buf, offset, end, layers);
      if (isFirstFragment && layers[at]?.layer === "icmp") delete (layers[at] as IcmpLayer).checksumValid;
      return;
    }
    case IpProtocol.UDP: {
      const udp = Udp.parse(buf, offset, pseudo, end - offset);
      decodeUdp(buf, offset, udp, layers);
      return;
    }
    case IpProtocol.TCP:
      decodeTcp(buf, offset, end, pseudo, layers);
      return;
    case IpProtocol.GRE: {
      if (isFirstFragment) {
        pushPayload(offset, end, layers);
        return;
      }
      const gre = Gre.parse(buf, offset, end);
      const layer: GreLayer = { layer: "gre", protocolType: gre.protocolType, hasChecksum: gre.hasChecksum };
      if (gre.hasChecksum) layer.checksumValid = gre.checksumValid;
      layers.push(layer);
      const inner = offset + Gre.headerLength(buf, offset, end);
      if (gre.protocolType === 0x0800) decodeIpv4(buf, inner, end, layers, false);
      else pushPayload(inner, end, layers);
      return;
    }
    default:
      pushPayload(offset, end, layers);
  }
}

/**
 * Decodes an IPv6 packet at `offset`: the fixed header, the extension headers stepped over, then
 * the upper layer. A quoted packet (inside an ICMPv6 error) shows only what the quote holds.
 */
function decodeIpv6(buf: Uint8Array, offset: number, end: number, layers: Layer[], isQuoted: boolean): void {
  const region = end === buf.length ? buf : buf.subarray(0, end);
  const ip = isQuoted ? Ipv6Header.parseQuoted(region, offset) : Ipv6Header.parse(region, offset);
  const layer: Ipv6Layer = {
    layer: "ipv6",
    src: formatIpv6(region, offset + 8),
    dst: formatIpv6(region, offset + 24),
    nextHeader: ip.nextHeader,
    hopLimit: ip.hopLimit,
    payloadLength: ip.payloadLength,
    trafficClass: ip.trafficClass,
    flowLabel: ip.flowLabel,
    protocol: ip.nextHeader,
  };
  if (isQuoted) {
    layer.isQuoted = true;
    layers.push(layer);
    decodeQuotedTransport(region, ip.nextHeader, offset + IPV6_HEADER_LEN, end, layers);
    return;
  }
  layers.push(layer);
  const packetEnd = offset + IPV6_HEADER_LEN + ip.payloadLength;
  const chain = Ipv6Header.parseExtensions(region, offset);
  layer.protocol = chain.protocol;
  if (chain.headers.length > 0) layer.extensionHeaders = chain.headers.map((h) => h.type);
  if (chain.fragmentOffsetBytes !== 0) {
    pushPayload(chain.payloadOffset, packetEnd, layers);
    return;
  }
  const at = chain.payloadOffset;
  const pseudo: PseudoHeader = { version: 6, src: ip.src, dst: ip.dst };
  switch (chain.protocol) {
    case IpProtocol.ICMPv6:
      decodeIcmpv6(region, at, packetEnd, pseudo, layers);
      return;
    case IpProtocol.UDP:
      decodeUdp(region, at, Udp.parse(region, at, pseudo, packetEnd - at), layers);
      return;
    case IpProtocol.TCP:
      decodeTcp(region, at, packetEnd, pseudo, layers);
      return;
    default:
      pushPayload(at, packetEnd, layers);
  }
}

function decodeIcmpv6(
  buf: Uint8Array,
  offset: number,
  end: number,
  pseudo: PseudoHeader,
  layers: Layer[],
): void {
  const length = end - offset;
  const m = Icmpv6.parse(buf, offset, length, pseudo);
  const layer: Icmpv6Layer = {
    layer: "icmpv6",
    type: Icmpv6.type(buf, offset),
    code: m.code,
    checksumValid: m.checksumStatus === "valid",
    length,
  };
  layers.push(layer);
  switch (m.kind) {
    case "echo-request":
    case "echo-reply":
      layer.id = m.ident;
      layer.seq = m.seq;
      pushPayload(offset + 8, end, layers);
      return;
    case "packet-too-big":
    case "dest-unreachable":
    case "time-exceeded":
    case "parameter-problem":
      if (m.kind === "packet-too-big") layer.mtu = m.mtu;
      if (m.kind === "parameter-problem") layer.pointer = m.pointer;
      // The invoking packet, as much as was quoted (RFC 4443 §2.4 (c)).
      if (end - (offset + 8) >= IPV6_HEADER_LEN) decodeIpv6(buf, offset + 8, end, layers, true);
      else pushPayload(offset + 8, end, layers);
      return;
    case "neighbor-solicitation":
    case "neighbor-advertisement": {
      layer.targetAddress = formatIpv6(m.target, 0);
      const src = ndpLinkLayerAddress(m.options, NdpOption.SourceLinkLayerAddress);
      const dst = ndpLinkLayerAddress(m.options, NdpOption.TargetLinkLayerAddress);
      if (src !== undefined) layer.sourceMac = formatMac(src);
      if (dst !== undefined) layer.targetMac = formatMac(dst);
      if (m.kind === "neighbor-advertisement") {
        layer.isRouter = m.isRouter;
        layer.isSolicited = m.isSolicited;
        layer.isOverride = m.isOverride;
      }
      return;
    }
    default:
      pushPayload(offset + ICMPV6_HEADER_LEN, end, layers);
  }
}

function decodeTcp(
  buf: Uint8Array,
  offset: number,
  end: number,
  pseudo: PseudoHeader | undefined,
  layers: Layer[],
): void {
  const tcp = Tcp.parse(buf, offset, pseudo, end - offset);
  const layer: TcpLayer = {
    layer: "tcp",
    srcPort: tcp.srcPort,
    dstPort: tcp.dstPort,
    flags: formatTcpFlags(tcp.flags),
    seq: tcp.seq,
    ack: tcp.ack,
    window: tcp.window,
    headerLength: TCP_HEADER_LEN + tcp.options.length,
    checksumStatus: tcp.checksumStatus,
    ...verdict(tcp.checksumStatus),
  };
  layers.push(layer);
  if (tcp.options.length > 0) {
    // Options are read from the frame so that a bad one is reported at its frame offset.
    layer.options = parseTcpOptions(buf, offset + TCP_HEADER_LEN, tcp.options.length).map(formatTcpOption);
  }
  pushPayload(offset + TCP_HEADER_LEN + tcp.options.length, end, layers);
}

function formatTcpOption(o: TcpOption): string {
  switch (o.kind) {
    case "eol":
      return "eol";
    case "nop":
      return "nop";
    case "mss":
      return `mss ${o.mss}`;
    case "window-scale":
      return `wscale ${o.shift}`;
    case "sack-permitted":
      return "sackOK";
    case "sack":
      return `sack ${o.blocks.map((b) => `${b.left}:${b.right}`).join(" ")}`;
    case "timestamps":
      return `ts ${o.tsVal} ${o.tsEcr}`;
    case "unknown":
      return `opt-${o.type} len ${o.data.length + 2}`;
  }
}

function decodeIcmp(buf: Uint8Array, offset: number, end: number, layers: Layer[]): void {
  const length = end - offset;
  const icmp = Icmpv4.parse(buf, offset, length);
  const layer: IcmpLayer = {
    layer: "icmp",
    type: Icmpv4.type(buf, offset),
    code: icmp.code,
    checksumValid: icmp.checksumValid,
    length,
  };
  switch (icmp.kind) {
    case "echo-request":
    case "echo-reply":
      layer.id = icmp.ident;
      layer.seq = icmp.seq;
      break;
    case "dest-unreachable":
      if (icmp.code === DestUnreachableCode.FragmentationNeeded) layer.nextHopMtu = icmp.nextHopMtu;
      break;
    case "redirect":
      layer.gateway = formatIpv4(icmp.gateway);
      break;
    case "parameter-problem":
      layer.pointer = icmp.pointer;
      break;
  }
  layers.push(layer);
  if (icmp.kind === "echo-request" || icmp.kind === "echo-reply" || icmp.kind === "other") {
    pushPayload(offset + ICMP_HEADER_LEN, end, layers);
  } else {
    // An error quotes the offending datagram: show which flow it is about (RFC 792).
    decodeIpv4(buf, offset + ICMP_HEADER_LEN, end, layers, true);
  }
}

/**
 * The transport header inside an ICMP error's quote: RFC 792 guarantees only its first 8 bytes,
 * so the fields are read directly rather than through a parser that checks the whole segment.
 */
function decodeQuotedTransport(
  buf: Uint8Array,
  protocol: number,
  offset: number,
  end: number,
  layers: Layer[],
) {
  if (end - offset < 8) {
    pushPayload(offset, end, layers);
    return;
  }
  switch (protocol) {
    case IpProtocol.UDP:
      layers.push({
        layer: "udp",
        srcPort: Udp.srcPort(buf, offset),
        dstPort: Udp.dstPort(buf, offset),
        length: Udp.length(buf, offset),
        checksumStatus: "unchecked",
        isQuoted: true,
      });
      return;
    case IpProtocol.TCP:
      // The first 8 bytes: ports and sequence number (enough to name the connection).
      layers.push({
        layer: "tcp",
        srcPort: Tcp.srcPort(buf, offset),
        dstPort: Tcp.dstPort(buf, offset),
        seq: Tcp.seq(buf, offset),
        isQuoted: true,
      });
      return;
    case IpProtocol.ICMPv6: {
      const type = Icmpv6.type(buf, offset);
      const q: Icmpv6Layer = {
        layer: "icmpv6",
        type,
        code: Icmpv6.code(buf, offset),
        length: end - offset,
        isQuoted: true,
      };
      if (type === Icmpv6Type.EchoRequest || type === Icmpv6Type.EchoReply) {
        q.id = Icmpv6.ident(buf, offset);
        q.seq = Icmpv6.seq(buf, offset);
      }
      layers.push(q);
      return;
    }
    case IpProtocol.ICMP: {
      const type = Icmpv4.type(buf, offset);
      const q: IcmpLayer = {
        layer: "icmp",
        type,
        code: Icmpv4.code(buf, offset),
        length: end - offset,
        isQuoted: true,
      };
      if (type === Icmpv4Type.EchoRequest || type === Icmpv4Type.EchoReply) {
        q.id = Icmpv4.ident(buf, offset);
        q.seq = Icmpv4.seq(buf, offset);
      }
      layers.push(q);
      return;
    }
    default:
      pushPayload(offset, end, layers);
  }
}

function decodeUdp(buf: Uint8Array, offset: number, udp: UdpRepr, layers: Layer[]): void {
  layers.push({
    layer: "udp",
    srcPort: udp.srcPort,
    dstPort: udp.dstPort,
    length: UDP_HEADER_LEN + udp.payloadLength,
    checksumStatus: udp.checksumStatus,
    ...verdict(udp.checksumStatus),
  });
  const dataAt = offset + UDP_HEADER_LEN;
  const end = dataAt + udp.payloadLength;
  if (vxlanPorts.includes(udp.dstPort) && udp.payloadLength > 0) {
    const depth = layers.reduce((n, l) => (l.layer === "vxlan" ? n + 1 : n), 0);
    if (depth === MAX_VXLAN_NESTING) {
      throw new WireError("unsupported", dataAt, `more than ${MAX_VXLAN_NESTING} nested VXLAN headers`);
    }
    const vx = Vxlan.parse(buf, dataAt);
    layers.push({ layer: "vxlan", vni: vx.vni, flags: Vxlan.flags(buf, dataAt) });
    // The carried frame, bounded by the UDP length; its layers follow in the same list.
    decodeEthernet(buf, dataAt + VXLAN_HEADER_LEN, end, layers);
    return;
  }
  if (
    (wireguardPorts.includes(udp.dstPort) || wireguardPorts.includes(udp.srcPort)) &&
    udp.payloadLength > 0
  ) {
    decodeWireguard(buf, dataAt, end, layers);
    return;
  }
  pushPayload(dataAt, end, layers);
}

function decodeWireguard(buf: Uint8Array, offset: number, end: number, layers: Layer[]): void {
  const length = end - offset;
  switch (wgMessageType(buf, offset)) {
    case WgMessageType.HandshakeInitiation: {
      const m = WgInitiation.parse(buf, offset, length);
      layers.push({ layer: "wireguard", type: "handshake-initiation", senderIndex: m.senderIndex, length });
      return;
    }
    case WgMessageType.HandshakeResponse: {
      const m = WgResponse.parse(buf, offset, length);
      const { senderIndex, receiverIndex } = m;
      layers.push({ layer: "wireguard", type: "handshake-response", senderIndex, receiverIndex, length });
      return;
    }
    case WgMessageType.CookieReply: {
      const m = WgCookieReply.parse(buf, offset, length);
      layers.push({ layer: "wireguard", type: "cookie-reply", receiverIndex: m.receiverIndex, length });
      return;
    }
    default: {
      WgTransport.check(buf, offset, length);
      layers.push({
        layer: "wireguard",
        type: "transport-data",
        receiverIndex: WgTransport.receiverIndex(buf, offset),
        counter: WgTransport.counter(buf, offset),
        length,
      });
    }
  }
}

/** `checksumValid` for a transport checksum that was verified, nothing when it was not. */
function verdict(status: ChecksumStatus | TcpChecksumStatus): { checksumValid?: boolean } {
  return status === "valid" || status === "invalid" ? { checksumValid: status === "valid" } : {};
}

function pushPayload(offset: number, end: number, layers: Layer[]): void {
  if (end > offset) layers.push({ layer: "payload", length: end - offset });
}

const hex = (n: number, width: number) => `0x${n.toString(16).padStart(width, "0")}`;

const ETHER_TYPE_NAMES: Record<number, string> = {
  [EtherType.IPv4]: "IPv4",
  [EtherType.ARP]: "ARP",
  [EtherType.VLAN]: "802.1Q",
  [EtherType.QinQ]: "802.1ad",
  [EtherType.IPv6]: "IPv6",
  [EtherType.SlowProtocols]: "slow-protocols",
};

/** "IPv4", or the hex value of a type without a name here. */
export function etherTypeName(type: number): string {
  return ETHER_TYPE_NAMES[type] ?? hex(type, 4);
}

/** One layer as a short tcpdump-like phrase. */
export function summarizeLayer(l: Layer): string {
  switch (l.layer) {
    case "ethernet":
      return `${l.src} > ${l.dst} ${l.etherType < 0x600 ? `802.3 len ${l.etherType}` : etherTypeName(l.etherType)}`;
    case "sll": {
      const dir = { host: "In", broadcast: "B", multicast: "M", otherhost: "P", outgoing: "Out" }[
        String(l.packetType)
      ];
      return `${dir ?? `type ${l.packetType}`} ${l.address} ${etherTypeName(l.protocol)}`;
    }
    case "vlan":
      return `${l.tpid === EtherType.QinQ ? "s-vlan" : "vlan"} ${l.vid} p${l.pcp}${l.dei ? " dei" : ""}`;
    case "arp":
      if (l.op === ArpOp.Request) return `ARP who-has ${l.targetIp} tell ${l.senderIp}`;
      if (l.op === ArpOp.Reply) return `ARP reply ${l.senderIp} is-at ${l.senderMac}`;
      return `ARP op ${l.op}`;
    case "ipv4": {
      const flags = `${l.dontFragment ? " DF" : ""}${l.moreFragments ? " MF" : ""}`;
      const frag = l.fragmentOffset !== 0 ? ` frag ${l.fragmentOffset}` : "";
      const opts = l.optionsLength ? ` options ${l.optionsLength}` : "";
      const bad = l.checksumValid ? "" : " bad-cksum";
      const quoted = l.isQuoted ? "quoted " : "";
      return `${quoted}IP ${l.src} > ${l.dst} ttl ${l.ttl} id ${l.id}${flags}${frag}${opts} len ${l.length}${bad}`;
    }
    case "icmp":
      return summarizeIcmp(l);
    case "ipv6": {
      const ext = l.extensionHeaders ? ` ext ${l.extensionHeaders.join(",")}` : "";
      return `${l.isQuoted ? "quoted " : ""}IP6 ${l.src} > ${l.dst} hlim ${l.hopLimit} next ${l.protocol}${ext} plen ${l.payloadLength}`;
    }
    case "icmpv6":
      return summarizeIcmpv6(l);
    case "udp": {
      const ck = l.checksumStatus === "invalid" ? " bad-cksum" : "";
      return `${l.isQuoted ? "quoted " : ""}UDP ${l.srcPort} > ${l.dstPort} len ${l.length}${ck}`;
    }
    case "tcp":
      return summarizeTcp(l);
    case "wireguard": {
      const ids = [
        l.senderIndex !== undefined ? `sender ${hex(l.senderIndex, 8)}` : "",
        l.receiverIndex !== undefined ? `receiver ${hex(l.receiverIndex, 8)}` : "",
        l.counter !== undefined ? `counter ${l.counter}` : "",
      ].filter(Boolean);
      return `WireGuard ${l.type} ${ids.join(" ")} len ${l.length}`;
    }
    case "gre":
      return `GRE ${hex(l.protocolType, 4)}${l.hasChecksum ? ` checksum ${l.checksumValid ? "ok" : "bad"}` : ""}`;
    case "vxlan":
      return `VXLAN vni ${l.vni}${l.flags !== VXLAN_FLAG_I ? ` flags ${hex(l.flags, 2)}` : ""}`;
    case "lacp": {
      const side = (p: LacpParticipantLayer) =>
        `${p.systemPriority},${p.system} key ${p.key} port ${p.portPriority},${p.port} [${formatLacpState(p.state)}]`;
      return `LACP actor ${side(l.actor)} partner ${side(l.partner)}`;
    }
    case "stp": {
      if (l.type === "tcn") return "STP topology change notification";
      const id = (prio?: number, ext?: number, mac?: string) => `${(prio ?? 0) + (ext ?? 0)}.${mac}`;
      return (
        `${l.type === "rst" ? "RSTP" : "STP config"} [${l.flagsText}] root ${id(l.rootPriority, l.rootSystemIdExtension, l.rootMac)}` +
        ` cost ${l.rootPathCost} bridge ${id(l.bridgePriority, l.bridgeSystemIdExtension, l.bridgeMac)}` +
        ` port ${hex(l.portId ?? 0, 4)} age ${l.messageAgeS} max ${l.maxAgeS} hello ${l.helloTimeS} fwd ${l.forwardDelayS}`
      );
    }
    case "payload":
      return `payload ${l.length} bytes`;
    case "error":
      return `[malformed: ${l.code} at ${l.offset}: ${l.message}]`;
  }
}

const ICMPV6_NAMES: Record<number, string> = {
  1: "unreachable",
  2: "packet too big",
  3: "time exceeded",
  4: "parameter problem",
  128: "echo request",
  129: "echo reply",
  130: "multicast listener query",
  131: "multicast listener report",
  132: "multicast listener done",
  133: "router solicitation",
  134: "router advertisement",
  135: "neighbor solicitation",
  136: "neighbor advertisement",
  137: "redirect",
  143: "multicast listener report v2",
};

function summarizeIcmpv6(l: Icmpv6Layer): string {
  const q = l.isQuoted ? "quoted " : "";
  let s = `${q}ICMP6 ${ICMPV6_NAMES[l.type] ?? `type ${l.type}`}`;
  if (l.type === 1 || l.type === 3 || l.type === 4 || ICMPV6_NAMES[l.type] === undefined)
    s += ` code ${l.code}`;
  if (l.id !== undefined) s += ` id ${l.id} seq ${l.seq}`;
  if (l.mtu !== undefined) s += ` mtu ${l.mtu}`;
  if (l.pointer !== undefined) s += ` pointer ${l.pointer}`;
  if (l.targetAddress !== undefined)
    s += l.type === 135 ? ` who-has ${l.targetAddress}` : ` tgt ${l.targetAddress}`;
  if (l.sourceMac !== undefined) s += ` from ${l.sourceMac}`;
  if (l.targetMac !== undefined) s += ` is-at ${l.targetMac}`;
  if (l.isSolicited) s += " solicited";
  if (l.isRouter) s += " router";
  if (l.isOverride) s += " override";
  if (l.checksumValid === false) s += " bad-cksum";
  return s;
}

/** tcpdump's flag letters: S F R P U E W, "." for ACK. */
function summarizeTcp(l: TcpLayer): string {
  const q = l.isQuoted ? "quoted " : "";
  if (l.isQuoted) return `${q}TCP ${l.srcPort} > ${l.dstPort} seq ${l.seq}`;
  const letters: Array<[string, string]> = [
    ["SYN", "S"],
    ["FIN", "F"],
    ["RST", "R"],
    ["PSH", "P"],
    ["URG", "U"],
    ["ECE", "E"],
    ["CWR", "W"],
    ["ACK", "."],
  ];
  const names = (l.flags ?? "").split("|");
  const f =
    letters
      .filter(([n]) => names.includes(n))
      .map(([, c]) => c)
      .join("") || "none";
  const ack = names.includes("ACK") ? ` ack ${l.ack}` : "";
  const opts = l.options ? ` options [${l.options.join(",")}]` : "";
  const bad = l.checksumStatus === "invalid" ? " bad-cksum" : "";
  return `TCP ${l.srcPort} > ${l.dstPort} [${f}] seq ${l.seq}${ack} win ${l.window}${opts}${bad}`;
}

/** Destination unreachable codes 0..15 (RFC 792, RFC 1122 §3.2.2.1, RFC 1812 §5.2.7.1). */
const UNREACHABLE = [
  "net",
  "host",
  "protocol",
  "port",
  "frag-needed",
  "source-route-failed",
  "net-unknown",
  "host-unknown",
  "source-isolated",
  "net-prohibited",
  "host-prohibited",
  "net-tos",
  "host-tos",
  "admin-prohibited",
  "host-precedence-violation",
  "precedence-cutoff",
];

function summarizeIcmp(l: IcmpLayer): string {
  const q = l.isQuoted ? "quoted " : "";
  const bad = l.checksumValid === false ? " bad-cksum" : "";
  switch (l.type) {
    case Icmpv4Type.EchoRequest:
    case Icmpv4Type.EchoReply: {
      const what = l.type === Icmpv4Type.EchoRequest ? "request" : "reply";
      return `${q}ICMP echo ${what} id ${l.id} seq ${l.seq} len ${l.length}${bad}`;
    }
    case Icmpv4Type.DestUnreachable: {
      const why = UNREACHABLE[l.code] ?? `code ${l.code}`;
      const mtu = l.nextHopMtu !== undefined ? ` mtu ${l.nextHopMtu}` : "";
      return `${q}ICMP unreachable ${why}${mtu}${bad}`;
    }
    case Icmpv4Type.TimeExceeded:
      return `${q}ICMP time exceeded ${l.code === 0 ? "in-transit" : "reassembly"}${bad}`;
    case Icmpv4Type.Redirect:
      return `${q}ICMP redirect to ${l.gateway}${bad}`;
    case Icmpv4Type.ParameterProblem:
      return `${q}ICMP parameter problem pointer ${l.pointer}${bad}`;
    default:
      return `${q}ICMP type ${l.type} code ${l.code}${bad}`;
  }
}

/** The layers of a frame as one line, layer phrases joined by " | ". */
export function summarizeLayers(layers: readonly Layer[]): string {
  return layers.map(summarizeLayer).join(" | ");
}

/** A frame as one line: `decodeFrame` then `summarizeLayers`. */
export function describeFrame(frame: Uint8Array): string {
  return summarizeLayers(decodeFrame(frame));
}
