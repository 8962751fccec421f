/**
 * VXLAN (RFC 7348): an Ethernet frame carried in UDP (destination port 4789) over IPv4, with an
 * 8-byte header naming the 24-bit VXLAN network identifier (VNI). Layout (RFC 7348 §5):
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |R|R|R|R|I|R|R|R|               Reserved (24 bits)              |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |          VXLAN Network Identifier (VNI)       | Reserved (8)  |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * The I flag must be 1 for the VNI to be valid; the R bits are sent as zero and ignored on
 * receipt (they are still reported in the Repr, so a decoder can show them).
 *
 * A VTEP's fast path is `vxlanEncapsulate` / `vxlanDecapsulate`, which work in place over a
 * buffer with headroom (see `Frame`): encapsulation writes the outer Ethernet + IPv4 + UDP +
 * VXLAN headers (50 bytes) in front of the inner frame, built inside-out; decapsulation checks
 * the outer headers and returns where the inner frame starts. Neither allocates. ECN follows
 * RFC 6040 normal mode: copied inward-out on encapsulation, and `vxlanApplyOuterEcn` carries an
 * outer CE mark into the inner packet after decapsulation.
 */

import type { Ipv4, Mac } from "./addr.ts";
import { fold, pseudoHeaderSumV4, sumWords, updateChecksum16 } from "./checksum.ts";
import { checkLen, WireError } from "./error.ts";
import { ETHERNET_HEADER_LEN, EtherType } from "./ethernet.ts";
import { IPV4_HEADER_LEN, IpProtocol } from "./ipv4.ts";
import { UDP_HEADER_LEN, UdpPort } from "./udp.ts";
import { isVlanTpid, VLAN_TAG_LEN } from "./vlan.ts";

export const VXLAN_HEADER_LEN = 8;
export const VXLAN_UDP_PORT = UdpPort.Vxlan;
/** Outer Ethernet + IPv4 (no options) + UDP + VXLAN: what encapsulation adds (RFC 7348 §4). */
export const VXLAN_OVERHEAD = ETHERNET_HEADER_LEN + IPV4_HEADER_LEN + UDP_HEADER_LEN + VXLAN_HEADER_LEN;
/** The I flag: bit 4 (from the left) of the first byte. */
export const VXLAN_FLAG_I = 0x08;
export const VNI_MAX = 0xffffff;
/** RFC 7348 §5: the source port should come from the dynamic/private range 49152-65535. */
export const VXLAN_SRC_PORT_MIN = 49152;

export interface VxlanRepr {
  vni: number;
  /** The 7 R bits of the flags byte (everything but I), as they were; 0 when sending. */
  reservedFlags: number;
  /** Bytes 1..4 (24 reserved bits). */
  reserved1: number;
  /** Byte 7 (8 reserved bits). */
  reserved2: number;
}

/** Zero-copy accessors over a VXLAN header at `offset` of `buf`. */
export const Vxlan = {
  check(buf: Uint8Array, offset = 0): void {
    checkLen(buf, offset, VXLAN_HEADER_LEN, "vxlan header");
  },
  flags(buf: Uint8Array, offset = 0): number {
    return buf[offset];
  },
  hasValidVni(buf: Uint8Array, offset = 0): boolean {
    return (buf[offset] & VXLAN_FLAG_I) !== 0;
  },
  vni(buf: Uint8Array, offset = 0): number {
    return (buf[offset + 4] << 16) | (buf[offset + 5] << 8) | buf[offset + 6];
  },
  reserved1(buf: Uint8Array, offset = 0): number {
    return (buf[offset + 1] << 16) | (buf[offset + 2] << 8) | buf[offset + 3];
  },
  reserved2(buf: Uint8Array, offset = 0): number {
    return buf[offset + 7];
  },
  /** Writes a clean header: I set, all R bits zero, the VNI. */
  setHeader(buf: Uint8Array, offset: number, vni: number): void {
    buf[offset] = VXLAN_FLAG_I;
    buf[offset + 1] = 0;
    buf[offset + 2] = 0;
    buf[offset + 3] = 0;
    buf[offset + 4] = (vni >>> 16) & 0xff;
    buf[offset + 5] = (vni >>> 8) & 0xff;
    buf[offset + 6] = vni & 0xff;
    buf[offset + 7] = 0;
  },
  setVni(buf: Uint8Array, offset: number, vni: number): void {
    buf[offset + 4] = (vni >>> 16) & 0xff;
    buf[offset + 5] = (vni >>> 8) & 0xff;
    buf[offset + 6] = vni & 0xff;
  },

  /** Parses the header; the I flag must be set (RFC 7348 §5), R bits are reported as found. */
  parse(buf: Uint8Array, offset = 0): VxlanRepr {
    Vxlan.check(buf, offset);
    if (!Vxlan.hasValidVni(buf, offset)) {
      throw new WireError("bad-value", offset, "vxlan: I flag is clear, the VNI is not valid (RFC 7348 §5)");
    }
    return {
      vni: Vxlan.vni(buf, offset),
      reservedFlags: buf[offset] & ~VXLAN_FLAG_I & 0xff,
      reserved1: Vxlan.reserved1(buf, offset),
      reserved2: Vxlan.reserved2(buf, offset),
    };
  },
  emit(repr: VxlanRepr, buf: Uint8Array, offset = 0): number {
    checkLen(buf, offset, VXLAN_HEADER_LEN, "vxlan emit");
    if (!Number.isInteger(repr.vni) || repr.vni < 0 || repr.vni > VNI_MAX) {
      throw new WireError("bad-value", offset + 4, `vxlan emit: VNI ${repr.vni} is not 0..16777215`);
    }
    Vxlan.setHeader(buf, offset, repr.vni);
    buf[offset] |= repr.reservedFlags & ~VXLAN_FLAG_I & 0xff;
    buf[offset + 1] = (repr.reserved1 >>> 16) & 0xff;
    buf[offset + 2] = (repr.reserved1 >>> 8) & 0xff;
    buf[offset + 3] = repr.reserved1 & 0xff;
    buf[offset + 7] = repr.reserved2 & 0xff;
    return VXLAN_HEADER_LEN;
  },
};

/** What a VTEP writes around each frame it sends to one remote VTEP. */
export interface VxlanOuter {
  /** Outer Ethernet source (this VTEP's underlay MAC) and destination (the next hop's MAC). */
  srcMac: Mac;
  dstMac: Mac;
  /** This VTEP's and the remote VTEP's underlay addresses. */
  srcIp: Ipv4;
  dstIp: Ipv4;
  vni: number;
  ttl: number;
  /** Outer DSCP. The outer ECN is copied from an inner IPv4 header (RFC 6040 normal mode). */
  dscp: number;
  dontFragment: boolean;
  /**
   * The IPv4 identification of the next datagram. `vxlanEncapsulate` writes it and advances it,
   * so one `VxlanOuter` per remote VTEP is also that tunnel's ID counter (RFC 6864).
   */
  ipId: number;
  /** Normally 4789. */
  dstPort: number;
}

/** Fields `vxlanDecapsulate` fills in for its caller, to reuse across calls (no allocation). */
export interface VxlanDecapInfo {
  vni: number;
  srcIp: Ipv4;
  dstIp: Ipv4;
  srcPort: number;
  /** Outer source MAC (the underlay next hop that delivered it). */
  srcMac: Mac;
  /** The inner frame is `[innerStart, innerEnd)`: the UDP length, not the buffer end, bounds it. */
  innerEnd: number;
  /** The outer header's ECN field, for `vxlanApplyOuterEcn` (RFC 6040 §4.2). */
  outerEcn: number;
}

export function newVxlanDecapInfo(): VxlanDecapInfo {
  return { vni: 0, srcIp: 0, dstIp: 0, srcPort: 0, srcMac: 0, innerEnd: 0, outerEcn: 0 };
}

/**
 * A hash of the inner frame's flow: MACs and EtherType, and for untagged IPv4 the addresses,
 * protocol and (unfragmented TCP/UDP) ports. RFC 7348 §5 recommends such a hash for the outer
 * UDP source port so that underlay ECMP spreads tunnels' flows: one multiply-xorshift step per
 * input word (h = x ^ (x >>> 15), x = imul(h ^ word, 0x9e3779b1)), then the murmur3 finalizer.
 * The result has 30 bits, so it is always a small integer and returning it never allocates a
 * heap number. The steps are written out rather than called: inside `vxlanEncapsulate` the
 * JIT's inlining budget is spent before small helpers, and 16 calls per frame were a tenth of
 * the encapsulation's cost (measured).
 */
export function innerFlowHash(buf: Uint8Array, start: number, length: number): number {
  if (length < ETHERNET_HEADER_LEN) return 0;
  const o = start;
  let x = Math.imul(
    0x9747b28c ^ ((buf[o] << 24) | (buf[o + 1] << 16) | (buf[o + 2] << 8) | buf[o + 3]),
    0x9e3779b1,
  );
  let h = x ^ (x >>> 15);
  x = Math.imul(h ^ ((buf[o + 4] << 24) | (buf[o + 5] << 16) | (buf[o + 6] << 8) | buf[o + 7]), 0x9e3779b1);
  h = x ^ (x >>> 15);
  x = Math.imul(h ^ ((buf[o + 8] << 24) | (buf[o + 9] << 16) | (buf[o + 10] << 8) | buf[o + 11]), 0x9e3779b1);
  h = x ^ (x >>> 15);
  const type = (buf[o + 12] << 8) | buf[o + 13];
  x = Math.imul(h ^ type, 0x9e3779b1);
  h = x ^ (x >>> 15);
  const ip = o + ETHERNET_HEADER_LEN;
  if (type === EtherType.IPv4 && length >= ETHERNET_HEADER_LEN + IPV4_HEADER_LEN) {
    const proto = buf[ip + 9];
    x = Math.imul(
      h ^ ((buf[ip + 12] << 24) | (buf[ip + 13] << 16) | (buf[ip + 14] << 8) | buf[ip + 15]),
      0x9e3779b1,
    );
    h = x ^ (x >>> 15);
    x = Math.imul(
      h ^ ((buf[ip + 16] << 24) | (buf[ip + 17] << 16) | (buf[ip + 18] << 8) | buf[ip + 19]),
      0x9e3779b1,
    );
    h = x ^ (x >>> 15);
    x = Math.imul(h ^ proto, 0x9e3779b1);
    h = x ^ (x >>> 15);
    const hl = (buf[ip] & 0x0f) * 4;
    const isFragment = (buf[ip + 6] & 0x3f) !== 0 || buf[ip + 7] !== 0;
    if (
      (proto === IpProtocol.TCP || proto === IpProtocol.UDP) &&
      !isFragment &&
      hl >= IPV4_HEADER_LEN &&
      length >= ETHERNET_HEADER_LEN + hl + 4
    ) {
      const p = ip + hl;
      x = Math.imul(h ^ ((buf[p] << 24) | (buf[p + 1] << 16) | (buf[p + 2] << 8) | buf[p + 3]), 0x9e3779b1);
      h = x ^ (x >>> 15);
    }
  }
  // murmur3 finalizer: every input bit affects the top bits that pick the port
  h ^= 4;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 2;
}

/**
 * Encapsulates the inner Ethernet frame `buf[innerStart, innerStart + innerLen)` for `outer`:
 * writes VXLAN, UDP (checksum 0, allowed over IPv4 by RFC 7348 §5), IPv4 (checksum computed) and
 * Ethernet headers into the 50 bytes in front of it and returns the new frame start. The caller
 * guarantees the headroom (`Frame.prepend(VXLAN_OVERHEAD)` does) and that the result fits the
 * underlay MTU (RFC 7348 §4.3: VTEPs must not fragment). Advances `outer.ipId`.
 */
export function vxlanEncapsulate(
  buf: Uint8Array,
  innerStart: number,
  innerLen: number,
  outer: VxlanOuter,
): number {
  const start = innerStart - VXLAN_OVERHEAD;
  if (start < 0) {
    throw new WireError("truncated", 0, `vxlan encapsulate: need ${VXLAN_OVERHEAD} bytes of headroom`);
  }
  checkLen(buf, innerStart, innerLen, "vxlan inner frame");
  if (innerLen < ETHERNET_HEADER_LEN) {
    throw new WireError("truncated", innerStart, `vxlan encapsulate: inner frame of ${innerLen} bytes`);
  }
  const ipTotal = IPV4_HEADER_LEN + UDP_HEADER_LEN + VXLAN_HEADER_LEN + innerLen;
  if (ipTotal > 0xffff) {
    throw new WireError(
      "bad-length",
      innerStart,
      `vxlan encapsulate: ${innerLen}-byte inner frame too large`,
    );
  }
  // Inside-out: VXLAN, then UDP, then IPv4, then Ethernet.
  const vx = innerStart - VXLAN_HEADER_LEN;
  Vxlan.setHeader(buf, vx, outer.vni);

  const udp = vx - UDP_HEADER_LEN;
  const udpLen = ipTotal - IPV4_HEADER_LEN;
  const srcPort = VXLAN_SRC_PORT_MIN + (innerFlowHash(buf, innerStart, innerLen) >>> 16);
  buf[udp] = srcPort >>> 8;
  buf[udp + 1] = srcPort & 0xff;
  buf[udp + 2] = outer.dstPort >>> 8;
  buf[udp + 3] = outer.dstPort & 0xff;
  buf[udp + 4] = udpLen >>> 8;
  buf[udp + 5] = udpLen & 0xff;
  buf[udp + 6] = 0;
  buf[udp + 7] = 0;

  const ip = udp - IPV4_HEADER_LEN;
  const innerType = (buf[innerStart + 12] << 8) | buf[innerStart + 13];
  const ecn =
    innerType === EtherType.IPv4 && innerLen > ETHERNET_HEADER_LEN + 1 ? buf[innerStart + 15] & 3 : 0;
  const id = outer.ipId & 0xffff;
  outer.ipId = (id + 1) & 0xffff;
  const tos = ((outer.dscp & 0x3f) << 2) | ecn;
  const ttl = outer.ttl & 0xff;
  const flags = outer.dontFragment ? 0x40 : 0;
  buf[ip] = 0x45;
  buf[ip + 1] = tos;
  buf[ip + 2] = ipTotal >>> 8;
  buf[ip + 3] = ipTotal & 0xff;
  buf[ip + 4] = id >>> 8;
  buf[ip + 5] = id & 0xff;
  buf[ip + 6] = flags;
  buf[ip + 7] = 0;
  buf[ip + 8] = ttl;
  buf[ip + 9] = IpProtocol.UDP;
  buf[ip + 10] = 0;
  buf[ip + 11] = 0;
  const s = outer.srcIp;
  const d = outer.dstIp;
  buf[ip + 12] = s >>> 24;
  buf[ip + 13] = (s >>> 16) & 0xff;
  buf[ip + 14] = (s >>> 8) & 0xff;
  buf[ip + 15] = s & 0xff;
  buf[ip + 16] = d >>> 24;
  buf[ip + 17] = (d >>> 16) & 0xff;
  buf[ip + 18] = (d >>> 8) & 0xff;
  buf[ip + 19] = d & 0xff;
  // The header checksum (RFC 791) summed from the values just written, word by word, rather
  // than read back from the buffer: the same sum, without 20 byte loads.
  const sum =
    (0x4500 | tos) +
    ipTotal +
    id +
    (flags << 8) +
    ((ttl << 8) | IpProtocol.UDP) +
    (s >>> 16) +
    (s & 0xffff) +
    (d >>> 16) +
    (d & 0xffff);
  const c = ~fold(sum) & 0xffff;
  buf[ip + 10] = c >>> 8;
  buf[ip + 11] = c & 0xff;

  // MACs written inline rather than through writeMac: passing a 48-bit number to a call the JIT
  // does not inline boxes it, and this function must not allocate.
  const dm = outer.dstMac;
  const dHi = Math.floor(dm / 0x1000000);
  const dLo = dm - dHi * 0x1000000;
  buf[start] = dHi >>> 16;
  buf[start + 1] = (dHi >>> 8) & 0xff;
  buf[start + 2] = dHi & 0xff;
  buf[start + 3] = dLo >>> 16;
  buf[start + 4] = (dLo >>> 8) & 0xff;
  buf[start + 5] = dLo & 0xff;
  const sm = outer.srcMac;
  const sHi = Math.floor(sm / 0x1000000);
  const sLo = sm - sHi * 0x1000000;
  buf[start + 6] = sHi >>> 16;
  buf[start + 7] = (sHi >>> 8) & 0xff;
  buf[start + 8] = sHi & 0xff;
  buf[start + 9] = sLo >>> 16;
  buf[start + 10] = (sLo >>> 8) & 0xff;
  buf[start + 11] = sLo & 0xff;
  buf[start + 12] = EtherType.IPv4 >>> 8;
  buf[start + 13] = EtherType.IPv4 & 0xff;
  return start;
}

/**
 * Checks the outer headers of the VXLAN frame `buf[start, end)` and returns where the inner
 * Ethernet frame starts; fills `info` (VNI, outer addresses, inner end) when given. Refuses with
 * a WireError: not IPv4 / not UDP / another port / a fragment (`unsupported`: a VTEP does not
 * reassemble, RFC 7348 §4.3), a bad IPv4 or non-zero UDP checksum (`bad-checksum`), lengths that
 * disagree (`bad-length`, `truncated`), the I flag clear (`bad-value`). Outer 802.1Q tags are
 * stepped over. Allocates nothing.
 */
export function vxlanDecapsulate(
  buf: Uint8Array,
  start: number,
  end: number,
  info?: VxlanDecapInfo,
  dstPort: number = VXLAN_UDP_PORT,
): number {
  if (start < 0 || end > buf.length || start + ETHERNET_HEADER_LEN > end) {
    throw new WireError(
      "truncated",
      Math.max(0, Math.min(start, buf.length)),
      "vxlan decapsulate: no outer header",
    );
  }
  let at = start + 12;
  let type = (buf[at] << 8) | buf[at + 1];
  for (let n = 0; isVlanTpid(type) && n < 2; n++) {
    at += VLAN_TAG_LEN;
    if (at + 2 > end)
      throw new WireError("truncated", Math.min(at, end), "vxlan decapsulate: tagged outer frame cut short");
    type = (buf[at] << 8) | buf[at + 1];
  }
  if (type !== EtherType.IPv4) {
    throw new WireError(
      "unsupported",
      at,
      `vxlan decapsulate: outer EtherType 0x${type.toString(16)} is not IPv4`,
    );
  }
  const ip = at + 2;
  if (ip + IPV4_HEADER_LEN > end)
    throw new WireError("truncated", ip, "vxlan decapsulate: outer IPv4 cut short");
  if (buf[ip] >>> 4 !== 4)
    throw new WireError("bad-version", ip, `vxlan decapsulate: IP version ${buf[ip] >>> 4}`);
  const hl = (buf[ip] & 0x0f) * 4;
  const total = (buf[ip + 2] << 8) | buf[ip + 3];
  if (hl < IPV4_HEADER_LEN || ip + hl > end) {
    throw new WireError("bad-length", ip, `vxlan decapsulate: outer IPv4 header length ${hl}`);
  }
  if (total < hl + UDP_HEADER_LEN + VXLAN_HEADER_LEN + ETHERNET_HEADER_LEN || ip + total > end) {
    throw new WireError("bad-length", ip + 2, `vxlan decapsulate: outer IPv4 total length ${total}`);
  }
  if (fold(sumWords(buf, ip, hl)) !== 0xffff) {
    throw new WireError("bad-checksum", ip + 10, "vxlan decapsulate: outer IPv4 header checksum");
  }
  if ((buf[ip + 6] & 0x3f) !== 0 || buf[ip + 7] !== 0) {
    throw new WireError(
      "unsupported",
      ip + 6,
      "vxlan decapsulate: outer IPv4 fragment (VTEPs do not reassemble)",
    );
  }
  if (buf[ip + 9] !== IpProtocol.UDP) {
    throw new WireError("unsupported", ip + 9, `vxlan decapsulate: outer protocol ${buf[ip + 9]} is not UDP`);
  }
  const udp = ip + hl;
  const port = (buf[udp + 2] << 8) | buf[udp + 3];
  if (port !== dstPort) {
    throw new WireError("unsupported", udp + 2, `vxlan decapsulate: UDP port ${port} is not ${dstPort}`);
  }
  const udpLen = (buf[udp + 4] << 8) | buf[udp + 5];
  if (udpLen < UDP_HEADER_LEN + VXLAN_HEADER_LEN + ETHERNET_HEADER_LEN || udpLen > total - hl) {
    throw new WireError("bad-length", udp + 4, `vxlan decapsulate: UDP length ${udpLen}`);
  }
  const srcIp = ((buf[ip + 12] << 24) | (buf[ip + 13] << 16) | (buf[ip + 14] << 8) | buf[ip + 15]) >>> 0;
  const dstIp = ((buf[ip + 16] << 24) | (buf[ip + 17] << 16) | (buf[ip + 18] << 8) | buf[ip + 19]) >>> 0;
  if (
    (buf[udp + 6] | buf[udp + 7]) !== 0 &&
    fold(sumWords(buf, udp, udpLen, pseudoHeaderSumV4(srcIp, dstIp, IpProtocol.UDP, udpLen))) !== 0xffff
  ) {
    throw new WireError("bad-checksum", udp + 6, "vxlan decapsulate: UDP checksum");
  }
  const vx = udp + UDP_HEADER_LEN;
  if ((buf[vx] & VXLAN_FLAG_I) === 0) {
    throw new WireError("bad-value", vx, "vxlan decapsulate: I flag clear, VNI not valid (RFC 7348 §5)");
  }
  const inner = vx + VXLAN_HEADER_LEN;
  if (info) {
    info.vni = (buf[vx + 4] << 16) | (buf[vx + 5] << 8) | buf[vx + 6];
    info.srcIp = srcIp;
    info.dstIp = dstIp;
    info.srcPort = (buf[udp] << 8) | buf[udp + 1];
    info.srcMac =
      (buf[start + 6] * 0x10000 + buf[start + 7] * 0x100 + buf[start + 8]) * 0x1000000 +
      buf[start + 9] * 0x10000 +
      buf[start + 10] * 0x100 +
      buf[start + 11];
    info.innerEnd = udp + udpLen;
    info.outerEcn = buf[ip + 1] & 3;
  }
  return inner;
}

const ECN_CE = 3;

/**
 * Carries congestion marked on the underlay into the inner packet after decapsulation (RFC 6040
 * §4.2, normal mode): when the outer ECN is CE and the inner IPv4/IPv6 packet is ECN-capable, the
 * inner ECN becomes CE (the IPv4 checksum patched per RFC 1624). Returns false when the frame
 * must be dropped instead: outer CE over a packet that is not ECN-capable, since the congestion
 * signal cannot be passed on. Inner frames that are neither IPv4 nor IPv6, or too short to tell,
 * are left alone. Inner 802.1Q tags are stepped over. Allocates nothing.
 */
export function vxlanApplyOuterEcn(
  buf: Uint8Array,
  innerStart: number,
  innerEnd: number,
  outerEcn: number,
): boolean {
  if (outerEcn !== ECN_CE) return true;
  let at = innerStart + 12;
  if (at + 2 > innerEnd) return true;
  let type = (buf[at] << 8) | buf[at + 1];
  for (let n = 0; isVlanTpid(type) && n < 2 && at + 6 <= innerEnd; n++) {
    at += VLAN_TAG_LEN;
    type = (buf[at] << 8) | buf[at + 1];
  }
  const ip = at + 2;
  if (type === EtherType.IPv4 && ip + IPV4_HEADER_LEN <= innerEnd && buf[ip] >>> 4 === 4) {
    const tos = buf[ip + 1];
    if ((tos & 3) === 0) return false;
    if ((tos & 3) === ECN_CE) return true;
    const old = (buf[ip] << 8) | tos;
    buf[ip + 1] = tos | ECN_CE;
    const c = updateChecksum16((buf[ip + 10] << 8) | buf[ip + 11], old, (buf[ip] << 8) | buf[ip + 1]);
    buf[ip + 10] = c >>> 8;
    buf[ip + 11] = c & 0xff;
    return true;
  }
  if (type === EtherType.IPv6 && ip + 2 <= innerEnd && buf[ip] >>> 4 === 6) {
    // the ECN bits are bits 2..3 of the second nibble pair: byte 1, mask 0x30
    const ecn = (buf[ip + 1] >>> 4) & 3;
    if (ecn === 0) return false;
    buf[ip + 1] |= ECN_CE << 4;
    return true;
  }
  return true;
}
