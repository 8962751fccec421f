/**
 * IPv4 headers (RFC 791, with DSCP/ECN from RFC 2474 and RFC 3168). The view reads and writes
 * fields in place and includes the forwarding fast path (`decrementTtl`, which updates the header
 * checksum incrementally per RFC 1624 instead of re-summing the header). The Repr describes a
 * header; its `checksumValid` reports what the bytes said: a parser never trusts or repairs a
 * checksum, and `emit` always computes it.
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |Version|  IHL  |   DSCP    |ECN|          Total Length         |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |         Identification        |0|D|M|      Fragment Offset    |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |  Time to Live |    Protocol   |         Header Checksum       |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                       Source Address                          |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                    Destination Address                        |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                    Options (IHL > 5)                          |
 *
 * Options are kept as bytes (the Repr copies them; the view gives their offset and length):
 * nothing in a data-center fabric acts on them, but a decoder must show them.
 */

import { type Ipv4, readIpv4, writeIpv4 } from "./addr.ts";
import { internetChecksum, pseudoHeaderSumV4, updateChecksum16, verifyChecksum } from "./checksum.ts";
import { checkLen, WireError } from "./error.ts";

export const IPV4_HEADER_LEN = 20;
/** IHL is 4 bits of 32-bit words: at most 60 bytes of header, 40 of options. */
export const IPV4_MAX_HEADER_LEN = 60;

/** IANA protocol numbers (also IPv6 next-header values) the codecs know. */
export const IpProtocol = {
  HopByHop: 0,
  ICMP: 1,
  TCP: 6,
  UDP: 17,
  IPv6Route: 43,
  IPv6Frag: 44,
  GRE: 47,
  ESP: 50,
  AH: 51,
  ICMPv6: 58,
  IPv6NoNext: 59,
  IPv6Opts: 60,
} as const;

export interface Ipv4Repr {
  /** Differentiated services code point, 0..63 (RFC 2474). */
  dscp: number;
  /** Explicit congestion notification, 0..3 (RFC 3168). */
  ecn: number;
  /** Identification, used to reassemble fragments. */
  ident: number;
  dontFragment: boolean;
  moreFragments: boolean;
  /** Where this fragment's data starts in the original payload, in bytes (a multiple of 8). */
  fragmentOffsetBytes: number;
  ttl: number;
  protocol: number;
  src: Ipv4;
  dst: Ipv4;
  /** Option bytes, padded to a multiple of 4 (at most 40). Empty for a 20-byte header. */
  options: Uint8Array;
  /** Total length minus header length: the bytes that follow the header in this datagram. */
  payloadLength: number;
  /** Whether the header checksum verified. Ignored by `emit`, which computes it. */
  checksumValid: boolean;
}

/** Zero-copy accessors over an IPv4 header at `offset` of `buf`. */
export const Ipv4Header = {
  /** Guarantees the fixed 20 bytes; `validate` checks the header against itself. */
  check(buf: Uint8Array, offset = 0): void {
    checkLen(buf, offset, IPV4_HEADER_LEN, "ipv4 header");
  },
  version(buf: Uint8Array, offset = 0): number {
    return buf[offset] >>> 4;
  },
  /** IHL in bytes (IHL field * 4). */
  headerLength(buf: Uint8Array, offset = 0): number {
    return (buf[offset] & 0x0f) * 4;
  },
  dscp(buf: Uint8Array, offset = 0): number {
    return buf[offset + 1] >>> 2;
  },
  ecn(buf: Uint8Array, offset = 0): number {
    return buf[offset + 1] & 3;
  },
  totalLength(buf: Uint8Array, offset = 0): number {
    return (buf[offset + 2] << 8) | buf[offset + 3];
  },
  ident(buf: Uint8Array, offset = 0): number {
    return (buf[offset + 4] << 8) | buf[offset + 5];
  },
  /** The three flag bits (reserved, DF, MF) as a number 0..7. */
  flags(buf: Uint8Array, offset = 0): number {
    return buf[offset + 6] >>> 5;
  },
  dontFragment(buf: Uint8Array, offset = 0): boolean {
    return (buf[offset + 6] & 0x40) !== 0;
  },
  moreFragments(buf: Uint8Array, offset = 0): boolean {
    return (buf[offset + 6] & 0x20) !== 0;
  },
  fragmentOffsetBytes(buf: Uint8Array, offset = 0): number {
    return (((buf[offset + 6] & 0x1f) << 8) | buf[offset + 7]) * 8;
  },
  /** True for any fragment (first, middle or last): MF set or a non-zero offset. */
  isFragment(buf: Uint8Array, offset = 0): boolean {
    return (buf[offset + 6] & 0x3f) !== 0 || buf[offset + 7] !== 0;
  },
  ttl(buf: Uint8Array, offset = 0): number {
    return buf[offset + 8];
  },
  protocol(buf: Uint8Array, offset = 0): number {
    return buf[offset + 9];
  },
  checksum(buf: Uint8Array, offset = 0): number {
    return (buf[offset + 10] << 8) | buf[offset + 11];
  },
  src(buf: Uint8Array, offset = 0): Ipv4 {
    return readIpv4(buf, offset + 12);
  },
  dst(buf: Uint8Array, offset = 0): Ipv4 {
    return readIpv4(buf, offset + 16);
  },

  /** Sets version 4 and IHL from a header length in bytes (20..60, a multiple of 4). */
  setHeaderLength(buf: Uint8Array, offset: number, headerLength: number): void {
    buf[offset] = 0x40 | ((headerLength >>> 2) & 0x0f);
  },
  setDscp(buf: Uint8Array, offset: number, dscp: number): void {
    buf[offset + 1] = ((dscp & 0x3f) << 2) | (buf[offset + 1] & 3);
  },
  setEcn(buf: Uint8Array, offset: number, ecn: number): void {
    buf[offset + 1] = (buf[offset + 1] & 0xfc) | (ecn & 3);
  },
  setTotalLength(buf: Uint8Array, offset: number, length: number): void {
    buf[offset + 2] = (length >>> 8) & 0xff;
    buf[offset + 3] = length & 0xff;
  },
  setIdent(buf: Uint8Array, offset: number, ident: number): void {
    buf[offset + 4] = (ident >>> 8) & 0xff;
    buf[offset + 5] = ident & 0xff;
  },
  /** Writes DF, MF and the fragment offset (bytes, a multiple of 8); the reserved bit is cleared. */
  setFragment(
    buf: Uint8Array,
    offset: number,
    dontFragment: boolean,
    moreFragments: boolean,
    offsetBytes: number,
  ) {
    const units = offsetBytes >>> 3;
    buf[offset + 6] = (dontFragment ? 0x40 : 0) | (moreFragments ? 0x20 : 0) | ((units >>> 8) & 0x1f);
    buf[offset + 7] = units & 0xff;
  },
  /** Sets the TTL without touching the checksum (use `fillChecksum` or `decrementTtl`). */
  setTtl(buf: Uint8Array, offset: number, ttl: number): void {
    buf[offset + 8] = ttl;
  },
  setProtocol(buf: Uint8Array, offset: number, protocol: number): void {
    buf[offset + 9] = protocol;
  },
  setChecksum(buf: Uint8Array, offset: number, checksum: number): void {
    buf[offset + 10] = checksum >>> 8;
    buf[offset + 11] = checksum & 0xff;
  },
  setSrc(buf: Uint8Array, offset: number, ip: Ipv4): void {
    writeIpv4(buf, offset + 12, ip);
  },
  setDst(buf: Uint8Array, offset: number, ip: Ipv4): void {
    writeIpv4(buf, offset + 16, ip);
  },

  /** Computes and writes the header checksum over IHL*4 bytes. */
  fillChecksum(buf: Uint8Array, offset = 0): void {
    buf[offset + 10] = 0;
    buf[offset + 11] = 0;
    Ipv4Header.setChecksum(buf, offset, internetChecksum(buf, offset, Ipv4Header.headerLength(buf, offset)));
  },
  /** True when the header checksum verifies. The caller has validated the header length. */
  isChecksumValid(buf: Uint8Array, offset = 0): boolean {
    return verifyChecksum(buf, offset, Ipv4Header.headerLength(buf, offset));
  },
  /**
   * The router's per-hop step: TTL minus one, checksum patched per RFC 1624 (the TTL shares a
   * 16-bit word with the protocol). Returns the new TTL. The caller must have refused TTL <= 1
   * (RFC 1812 §5.3.1: send Time Exceeded instead of forwarding); a TTL of 0 throws.
   */
  decrementTtl(buf: Uint8Array, offset = 0): number {
    const ttl = buf[offset + 8];
    if (ttl === 0) throw new WireError("bad-value", offset + 8, "ipv4: cannot decrement a TTL of 0");
    const proto = buf[offset + 9];
    Ipv4Header.setChecksum(
      buf,
      offset,
      updateChecksum16(Ipv4Header.checksum(buf, offset), (ttl << 8) | proto, ((ttl - 1) << 8) | proto),
    );
    buf[offset + 8] = ttl - 1;
    return ttl - 1;
  },
  /** The unfolded UDP/TCP pseudo-header sum for this header's addresses and `protocol`. */
  pseudoHeaderSum(buf: Uint8Array, offset: number, protocol: number, length: number): number {
    return pseudoHeaderSumV4(Ipv4Header.src(buf, offset), Ipv4Header.dst(buf, offset), protocol, length);
  },

  /**
   * Checks version, IHL and total length against each other and against the buffer, allocating
   * nothing; returns the header length. A router calls this, then `isChecksumValid`. With
   * `isQuoted` (the header quoted inside an ICMP error) the datagram may extend past the buffer.
   */
  validate(buf: Uint8Array, offset = 0, isQuoted = false): number {
    Ipv4Header.check(buf, offset);
    const version = Ipv4Header.version(buf, offset);
    if (version !== 4) throw new WireError("bad-version", offset, `ipv4: version ${version}`);
    const hl = Ipv4Header.headerLength(buf, offset);
    if (hl < IPV4_HEADER_LEN) throw new WireError("bad-length", offset, `ipv4: IHL ${hl / 4} is below 5`);
    checkLen(buf, offset, hl, "ipv4 header with options");
    const total = Ipv4Header.totalLength(buf, offset);
    if (total < hl) {
      throw new WireError(
        "bad-length",
        offset + 2,
        `ipv4: total length ${total} is below the header (${hl})`,
      );
    }
    if (!isQuoted && offset + total > buf.length) {
      throw new WireError(
        "bad-length",
        offset + 2,
        `ipv4: total length ${total} exceeds the ${buf.length - offset} bytes present`,
      );
    }
    return hl;
  },

  /** Parses the header at `offset`. The payload is `buf[offset + hl, offset + totalLength)`. */
  parse(buf: Uint8Array, offset = 0): Ipv4Repr {
    return readRepr(buf, offset, Ipv4Header.validate(buf, offset));
  },
  /** Parses a header quoted in an ICMP error: the original payload may be cut short. */
  parseQuoted(buf: Uint8Array, offset = 0): Ipv4Repr {
    return readRepr(buf, offset, Ipv4Header.validate(buf, offset, true));
  },
  /** The header length `emit` will write for `repr`. */
  headerLengthOf(repr: Ipv4Repr): number {
    return IPV4_HEADER_LEN + repr.options.length;
  },
  /**
   * Writes the header (with its checksum) at `offset`; the payload, of `repr.payloadLength`
   * bytes, goes after it. Returns the number of header bytes written.
   */
  emit(repr: Ipv4Repr, buf: Uint8Array, offset = 0): number {
    const hl = Ipv4Header.headerLengthOf(repr);
    if (repr.options.length % 4 !== 0 || hl > IPV4_MAX_HEADER_LEN) {
      throw new WireError("bad-value", offset, `ipv4 emit: ${repr.options.length} option bytes`);
    }
    if (!(repr.payloadLength >= 0 && hl + repr.payloadLength <= 0xffff)) {
      throw new WireError("bad-length", offset + 2, `ipv4 emit: payload length ${repr.payloadLength}`);
    }
    if (
      repr.fragmentOffsetBytes % 8 !== 0 ||
      !(repr.fragmentOffsetBytes >= 0 && repr.fragmentOffsetBytes <= 65528)
    ) {
      throw new WireError("bad-value", offset + 6, `ipv4 emit: fragment offset ${repr.fragmentOffsetBytes}`);
    }
    checkLen(buf, offset, hl, "ipv4 emit");
    Ipv4Header.setHeaderLength(buf, offset, hl);
    buf[offset + 1] = ((repr.dscp & 0x3f) << 2) | (repr.ecn & 3);
    Ipv4Header.setTotalLength(buf, offset, hl + repr.payloadLength);
    Ipv4Header.setIdent(buf, offset, repr.ident);
    Ipv4Header.setFragment(buf, offset, repr.dontFragment, repr.moreFragments, repr.fragmentOffsetBytes);
    Ipv4Header.setTtl(buf, offset, repr.ttl & 0xff);
    Ipv4Header.setProtocol(buf, offset, repr.protocol & 0xff);
    Ipv4Header.setSrc(buf, offset, repr.src);
    Ipv4Header.setDst(buf, offset, repr.dst);
    buf.set(repr.options, offset + IPV4_HEADER_LEN);
    Ipv4Header.fillChecksum(buf, offset);
    return hl;
  },
};

function readRepr(buf: Uint8Array, offset: number, hl: number): Ipv4Repr {
  return {
    dscp: Ipv4Header.dscp(buf, offset),
    ecn: Ipv4Header.ecn(buf, offset),
    ident: Ipv4Header.ident(buf, offset),
    dontFragment: Ipv4Header.dontFragment(buf, offset),
    moreFragments: Ipv4Header.moreFragments(buf, offset),
    fragmentOffsetBytes: Ipv4Header.fragmentOffsetBytes(buf, offset),
    ttl: Ipv4Header.ttl(buf, offset),
    protocol: Ipv4Header.protocol(buf, offset),
    src: Ipv4Header.src(buf, offset),
    dst: Ipv4Header.dst(buf, offset),
    options: buf.slice(offset + IPV4_HEADER_LEN, offset + hl),
    payloadLength: Ipv4Header.totalLength(buf, offset) - hl,
    checksumValid: Ipv4Header.isChecksumValid(buf, offset),
  };
}

/** IPv4 option types (RFC 791 §3.1; IANA "IP Option Numbers"), with the copy bit included. */
export const Ipv4OptionType = {
  EndOfList: 0,
  NoOperation: 1,
  RecordRoute: 7,
  Timestamp: 68,
  Security: 130,
  LooseSourceRoute: 131,
  StreamId: 136,
  StrictSourceRoute: 137,
  RouterAlert: 148, // RFC 2113
} as const;

export interface Ipv4Option {
  /** The whole option-type byte (copied flag, class, number). */
  type: number;
  /** Copied into every fragment (the high bit of the type, RFC 791 §3.1). */
  isCopied: boolean;
  /** The option's data after type and length (empty for EOL and NOP). */
  data: Uint8Array;
}

/**
 * Splits option bytes (`Ipv4Repr.options`, or `buf[offset, offset + length)`) into options. Stops
 * after an end-of-list option; the padding after it is not reported. A length byte below 2 or
 * past the end is refused with `bad-length`, a missing one with `truncated`.
 */
export function parseIpv4Options(buf: Uint8Array, offset = 0, length = buf.length - offset): Ipv4Option[] {
  if (!(length >= 0))
    throw new WireError(
      "truncated",
      Math.max(0, Math.min(offset, buf.length)),
      `ipv4 options: length ${length}`,
    );
  checkLen(buf, offset, length, "ipv4 options");
  const out: Ipv4Option[] = [];
  const end = offset + length;
  let i = offset;
  while (i < end) {
    const type = buf[i];
    if (type === Ipv4OptionType.EndOfList || type === Ipv4OptionType.NoOperation) {
      out.push({ type, isCopied: false, data: new Uint8Array(0) });
      i++;
      if (type === Ipv4OptionType.EndOfList) break;
      continue;
    }
    if (i + 2 > end) throw new WireError("truncated", i, `ipv4 option ${type}: no length byte`);
    const len = buf[i + 1];
    if (len < 2 || i + len > end)
      throw new WireError("bad-length", i + 1, `ipv4 option ${type}: length ${len}`);
    out.push({ type, isCopied: (type & 0x80) !== 0, data: buf.slice(i + 2, i + len) });
    i += len;
  }
  return out;
}
