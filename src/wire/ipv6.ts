/**
 * IPv6 fixed headers (RFC 8200 §3) and a walk over the extension-header chain (§4), so that a
 * decoder or classifier finds the upper-layer protocol behind hop-by-hop, routing, fragment,
 * destination-options and AH headers. Addresses are 16 bytes read in place; Reprs copy them and
 * `formatIpv6` (addr.ts) shows them. IPv6 has no header checksum: the upper layers cover the
 * addresses through their pseudo-header (`Ipv6Header.pseudoHeaderSum`).
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |Version| Traffic Class |           Flow Label                  |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |         Payload Length        |  Next Header  |   Hop Limit   |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                   Source Address (128 bits)                   |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                 Destination Address (128 bits)                |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */

import { pseudoHeaderSumV6 } from "./checksum.ts";
import { checkLen, WireError } from "./error.ts";
import { IpProtocol } from "./ipv4.ts";

export const IPV6_HEADER_LEN = 40;
/** Every IPv6 link must carry 1280-byte packets (RFC 8200 §5). */
export const IPV6_MIN_MTU = 1280;

export interface Ipv6Repr {
  /** 8 bits: DSCP (upper 6) and ECN (lower 2). */
  trafficClass: number;
  /** 20 bits. */
  flowLabel: number;
  /** Bytes after the fixed header, extension headers included. */
  payloadLength: number;
  nextHeader: number;
  hopLimit: number;
  /** 16 bytes each (copies). */
  src: Uint8Array;
  dst: Uint8Array;
}

/** One extension header found by `parseExtensions`. */
export interface Ipv6ExtensionHeader {
  /** Its type (the previous header's Next Header value). */
  type: number;
  offset: number;
  length: number;
}

/** Where the upper layer sits behind the extension headers. */
export interface Ipv6Chain {
  headers: Ipv6ExtensionHeader[];
  /** The upper-layer protocol (or 59 "no next header", or 50 ESP which cannot be looked into). */
  protocol: number;
  /** Offset of the upper-layer header. */
  payloadOffset: number;
  /** A fragment header was present. */
  isFragment: boolean;
  /** Fragment offset in bytes: when non-zero the upper-layer header is in an earlier fragment. */
  fragmentOffsetBytes: number;
}

/** Extension headers that share the "next header, length in 8-octet units minus 1" format. */
function isGenericExtension(type: number): boolean {
  return type === IpProtocol.HopByHop || type === IpProtocol.IPv6Route || type === IpProtocol.IPv6Opts;
}

/** Zero-copy accessors over an IPv6 header at `offset` of `buf`. */
export const Ipv6Header = {
  check(buf: Uint8Array, offset = 0): void {
    checkLen(buf, offset, IPV6_HEADER_LEN, "ipv6 header");
  },
  version(buf: Uint8Array, offset = 0): number {
    return buf[offset] >>> 4;
  },
  trafficClass(buf: Uint8Array, offset = 0): number {
    return ((buf[offset] & 0x0f) << 4) | (buf[offset + 1] >>> 4);
  },
  dscp(buf: Uint8Array, offset = 0): number {
    return Ipv6Header.trafficClass(buf, offset) >>> 2;
  },
  ecn(buf: Uint8Array, offset = 0): number {
    return Ipv6Header.trafficClass(buf, offset) & 3;
  },
  flowLabel(buf: Uint8Array, offset = 0): number {
    return ((buf[offset + 1] & 0x0f) << 16) | (buf[offset + 2] << 8) | buf[offset + 3];
  },
  payloadLength(buf: Uint8Array, offset = 0): number {
    return (buf[offset + 4] << 8) | buf[offset + 5];
  },
  nextHeader(buf: Uint8Array, offset = 0): number {
    return buf[offset + 6];
  },
  hopLimit(buf: Uint8Array, offset = 0): number {
    return buf[offset + 7];
  },
  /** Offsets of the addresses, for in-place reads (no copy). */
  srcOffset(offset = 0): number {
    return offset + 8;
  },
  dstOffset(offset = 0): number {
    return offset + 24;
  },
  /** A copy of the source address (for edges; hot paths use `srcOffset`). */
  src(buf: Uint8Array, offset = 0): Uint8Array {
    return buf.slice(offset + 8, offset + 24);
  },
  dst(buf: Uint8Array, offset = 0): Uint8Array {
    return buf.slice(offset + 24, offset + 40);
  },
  /** Sets version 6, traffic class and flow label (the first 4 bytes). */
  setVersionClassFlow(buf: Uint8Array, offset: number, trafficClass: number, flowLabel: number): void {
    buf[offset] = 0x60 | ((trafficClass >>> 4) & 0x0f);
    buf[offset + 1] = ((trafficClass & 0x0f) << 4) | ((flowLabel >>> 16) & 0x0f);
    buf[offset + 2] = (flowLabel >>> 8) & 0xff;
    buf[offset + 3] = flowLabel & 0xff;
  },
  setPayloadLength(buf: Uint8Array, offset: number, length: number): void {
    buf[offset + 4] = (length >>> 8) & 0xff;
    buf[offset + 5] = length & 0xff;
  },
  setNextHeader(buf: Uint8Array, offset: number, nextHeader: number): void {
    buf[offset + 6] = nextHeader;
  },
  setHopLimit(buf: Uint8Array, offset: number, hopLimit: number): void {
    buf[offset + 7] = hopLimit;
  },
  setSrc(buf: Uint8Array, offset: number, addr: Uint8Array, addrOffset = 0): void {
    for (let i = 0; i < 16; i++) buf[offset + 8 + i] = addr[addrOffset + i];
  },
  setDst(buf: Uint8Array, offset: number, addr: Uint8Array, addrOffset = 0): void {
    for (let i = 0; i < 16; i++) buf[offset + 24 + i] = addr[addrOffset + i];
  },
  /**
   * The router's per-hop step (no checksum to patch in IPv6). Returns the new hop limit; the
   * caller must have refused a hop limit <= 1 (RFC 8200 §3: send Time Exceeded instead).
   */
  decrementHopLimit(buf: Uint8Array, offset = 0): number {
    const h = buf[offset + 7];
    if (h === 0) throw new WireError("bad-value", offset + 7, "ipv6: cannot decrement a hop limit of 0");
    buf[offset + 7] = h - 1;
    return h - 1;
  },
  /** The unfolded upper-layer pseudo-header sum (RFC 8200 §8.1) from this header's addresses. */
  pseudoHeaderSum(buf: Uint8Array, offset: number, nextHeader: number, upperLength: number): number {
    return pseudoHeaderSumV6(buf, offset + 8, buf, offset + 24, nextHeader, upperLength);
  },

  /**
   * Checks version and payload length against the buffer (unless `isQuoted`: a header inside an
   * ICMPv6 error may describe more than was quoted). Allocates nothing.
   */
  validate(buf: Uint8Array, offset = 0, isQuoted = false): void {
    Ipv6Header.check(buf, offset);
    const version = Ipv6Header.version(buf, offset);
    if (version !== 6) throw new WireError("bad-version", offset, `ipv6: version ${version}`);
    const len = Ipv6Header.payloadLength(buf, offset);
    if (len === 0 && Ipv6Header.nextHeader(buf, offset) === IpProtocol.HopByHop && !isQuoted) {
      // A zero payload length with a hop-by-hop header is a jumbogram (RFC 2675): no link here
      // carries one, and its real length is in an option we do not read.
      throw new WireError("unsupported", offset + 4, "ipv6: jumbogram (payload length 0 with hop-by-hop)");
    }
    if (!isQuoted && offset + IPV6_HEADER_LEN + len > buf.length) {
      throw new WireError(
        "bad-length",
        offset + 4,
        `ipv6: payload length ${len} exceeds the ${buf.length - offset - IPV6_HEADER_LEN} bytes present`,
      );
    }
  },
  parse(buf: Uint8Array, offset = 0): Ipv6Repr {
    Ipv6Header.validate(buf, offset);
    return readRepr(buf, offset);
  },
  /** Parses a header quoted in an ICMPv6 error: the payload may be cut short. */
  parseQuoted(buf: Uint8Array, offset = 0): Ipv6Repr {
    Ipv6Header.validate(buf, offset, true);
    return readRepr(buf, offset);
  },
  /** Writes the 40-byte header at `offset`; returns the number of bytes written. */
  emit(repr: Ipv6Repr, buf: Uint8Array, offset = 0): number {
    checkLen(buf, offset, IPV6_HEADER_LEN, "ipv6 emit");
    if (repr.src.length !== 16 || repr.dst.length !== 16) {
      throw new WireError("bad-value", offset + 8, "ipv6 emit: addresses must be 16 bytes");
    }
    if (!(repr.payloadLength >= 0 && repr.payloadLength <= 0xffff)) {
      throw new WireError("bad-length", offset + 4, `ipv6 emit: payload length ${repr.payloadLength}`);
    }
    Ipv6Header.setVersionClassFlow(buf, offset, repr.trafficClass, repr.flowLabel);
    Ipv6Header.setPayloadLength(buf, offset, repr.payloadLength);
    Ipv6Header.setNextHeader(buf, offset, repr.nextHeader);
    Ipv6Header.setHopLimit(buf, offset, repr.hopLimit);
    Ipv6Header.setSrc(buf, offset, repr.src);
    Ipv6Header.setDst(buf, offset, repr.dst);
    return IPV6_HEADER_LEN;
  },

  /**
   * Walks the extension headers of the packet at `offset` (RFC 8200 §4, in whatever order they
   * come) up to the upper-layer header, within the payload length. Stops at ESP (encrypted),
   * "no next header" and at a non-first fragment (whose upper-layer header is elsewhere).
   */
  parseExtensions(buf: Uint8Array, offset = 0): Ipv6Chain {
    Ipv6Header.validate(buf, offset);
    const end = offset + IPV6_HEADER_LEN + Ipv6Header.payloadLength(buf, offset);
    const headers: Ipv6ExtensionHeader[] = [];
    let type = Ipv6Header.nextHeader(buf, offset);
    let at = offset + IPV6_HEADER_LEN;
    let isFragment = false;
    let fragmentOffsetBytes = 0;
    for (;;) {
      let len: number;
      if (isGenericExtension(type)) {
        if (type === IpProtocol.HopByHop && headers.length > 0) {
          throw new WireError("bad-value", at, "ipv6: hop-by-hop header not first (RFC 8200 §4.3)");
        }
        if (at + 2 > end) throw new WireError("truncated", at, `ipv6: extension header ${type} cut short`);
        len = (buf[at + 1] + 1) * 8;
      } else if (type === IpProtocol.IPv6Frag) {
        len = 8;
      } else if (type === IpProtocol.AH) {
        if (at + 2 > end) throw new WireError("truncated", at, "ipv6: AH header cut short");
        len = (buf[at + 1] + 2) * 4; // RFC 4302 §2.2: 32-bit words minus 2
      } else break;
      if (at + len > end) {
        throw new WireError(
          "bad-length",
          at,
          `ipv6: extension header ${type} of ${len} bytes overruns the payload`,
        );
      }
      headers.push({ type, offset: at, length: len });
      const next = buf[at];
      if (type === IpProtocol.IPv6Frag) {
        isFragment = true;
        fragmentOffsetBytes = ((buf[at + 2] << 8) | buf[at + 3]) & 0xfff8;
        if (fragmentOffsetBytes !== 0) {
          type = next;
          at += len;
          break;
        }
      }
      type = next;
      at += len;
    }
    return { headers, protocol: type, payloadOffset: at, isFragment, fragmentOffsetBytes };
  },
};

function readRepr(buf: Uint8Array, offset: number): Ipv6Repr {
  return {
    trafficClass: Ipv6Header.trafficClass(buf, offset),
    flowLabel: Ipv6Header.flowLabel(buf, offset),
    payloadLength: Ipv6Header.payloadLength(buf, offset),
    nextHeader: Ipv6Header.nextHeader(buf, offset),
    hopLimit: Ipv6Header.hopLimit(buf, offset),
    src: Ipv6Header.src(buf, offset),
    dst: Ipv6Header.dst(buf, offset),
  };
}

export interface Ipv6Option {
  /** The option type byte (its top two bits say what to do if unknown, RFC 8200 §4.2). */
  type: number;
  data: Uint8Array;
}

/** Option types seen in practice (IANA "Destination Options and Hop-by-Hop Options"). */
export const Ipv6OptionType = {
  Pad1: 0,
  PadN: 1,
  JumboPayload: 0xc2,
  RouterAlert: 0x05,
} as const;

/**
 * The options of the hop-by-hop or destination-options header at `headerOffset` (RFC 8200 §4.2:
 * Pad1 is one zero byte, every other option is type, length, data). Padding is reported too, so
 * the list accounts for every byte of the header.
 */
export function parseIpv6Options(buf: Uint8Array, headerOffset: number): Ipv6Option[] {
  checkLen(buf, headerOffset, 2, "ipv6 options header");
  const end = headerOffset + (buf[headerOffset + 1] + 1) * 8;
  checkLen(buf, headerOffset, end - headerOffset, "ipv6 options header");
  const out: Ipv6Option[] = [];
  let i = headerOffset + 2;
  while (i < end) {
    const type = buf[i];
    if (type === Ipv6OptionType.Pad1) {
      out.push({ type, data: new Uint8Array(0) });
      i++;
      continue;
    }
    if (i + 2 > end) throw new WireError("truncated", i, `ipv6 option ${type}: no length byte`);
    const len = buf[i + 1];
    if (i + 2 + len > end)
      throw new WireError("bad-length", i + 1, `ipv6 option ${type}: length ${len} overruns`);
    out.push({ type, data: buf.slice(i + 2, i + 2 + len) });
    i += 2 + len;
  }
  return out;
}
