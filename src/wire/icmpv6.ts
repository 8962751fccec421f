/**
 * ICMPv6 (RFC 4443) with the neighbor discovery messages a host needs to resolve addresses
 * (RFC 4861 §4.3, §4.4). Every message is type, code, checksum and a body; the checksum covers an
 * IPv6 pseudo-header (RFC 4443 §2.3, RFC 8200 §8.1), so `parse` takes the addresses to verify it
 * and reports `checksumStatus`, and `emit` takes them to compute it. Like ICMPv4, the message has
 * no length field: its length is the upper-layer length the IPv6 header leaves for it.
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |     Type      |     Code      |          Checksum             |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                         Message Body                          |
 *
 * Errors (types 1-4) carry 4 bytes (unused, MTU or pointer) and then as much of the invoking
 * packet as fits in the minimum MTU; it is kept as bytes (`Ipv6Header.parseQuoted` reads it).
 * Types without a dedicated shape parse as "other" with their body bytes.
 */

import { type Mac, readMac, writeMac } from "./addr.ts";
import { type PseudoHeader, pseudoHeaderSum, sumWords } from "./checksum.ts";
import { checkLen, WireError } from "./error.ts";
import { IpProtocol } from "./ipv4.ts";
import { IPV6_HEADER_LEN, IPV6_MIN_MTU } from "./ipv6.ts";

export const ICMPV6_HEADER_LEN = 4;
/** An error quotes as much of the invoking packet as fits in 1280 bytes (RFC 4443 §2.4 (c)). */
export const ICMPV6_ERROR_MAX_QUOTE = IPV6_MIN_MTU - IPV6_HEADER_LEN - 8;

export const Icmpv6Type = {
  DestUnreachable: 1,
  PacketTooBig: 2,
  TimeExceeded: 3,
  ParameterProblem: 4,
  EchoRequest: 128,
  EchoReply: 129,
  MldQuery: 130,
  MldReport: 131,
  MldDone: 132,
  RouterSolicitation: 133,
  RouterAdvertisement: 134,
  NeighborSolicitation: 135,
  NeighborAdvertisement: 136,
  Redirect: 137,
  Mldv2Report: 143,
} as const;

/** RFC 4443 §3.1 (0-6), RFC 7112 (7), RFC 8883 (8). */
export const Icmpv6DestUnreachableCode = {
  NoRoute: 0,
  AdminProhibited: 1,
  BeyondScope: 2,
  Address: 3,
  Port: 4,
  SourcePolicyFailed: 5,
  RejectRoute: 6,
  SourceRoutingHeaderError: 7,
  HeadersTooLong: 8,
} as const;

/** NDP option types (RFC 4861 §4.6). */
export const NdpOption = {
  SourceLinkLayerAddress: 1,
  TargetLinkLayerAddress: 2,
  PrefixInformation: 3,
  RedirectedHeader: 4,
  Mtu: 5,
} as const;

export type Icmpv6ChecksumStatus = "valid" | "invalid" | "unchecked";

export type Icmpv6Repr =
  | {
      kind: "echo-request" | "echo-reply";
      code: number;
      ident: number;
      seq: number;
      data: Uint8Array;
      checksumStatus: Icmpv6ChecksumStatus;
    }
  | {
      kind: "dest-unreachable" | "time-exceeded";
      code: number;
      /** As much of the invoking packet as was quoted. */
      invoking: Uint8Array;
      checksumStatus: Icmpv6ChecksumStatus;
    }
  | {
      kind: "packet-too-big";
      code: number;
      mtu: number;
      invoking: Uint8Array;
      checksumStatus: Icmpv6ChecksumStatus;
    }
  | {
      kind: "parameter-problem";
      code: number;
      /** Offset in the invoking packet of the field in error. */
      pointer: number;
      invoking: Uint8Array;
      checksumStatus: Icmpv6ChecksumStatus;
    }
  | {
      kind: "neighbor-solicitation";
      code: number;
      target: Uint8Array;
      /** NDP options, whole 8-byte units (see `parseNdpOptions`). */
      options: Uint8Array;
      checksumStatus: Icmpv6ChecksumStatus;
    }
  | {
      kind: "neighbor-advertisement";
      code: number;
      isRouter: boolean;
      isSolicited: boolean;
      isOverride: boolean;
      target: Uint8Array;
      options: Uint8Array;
      checksumStatus: Icmpv6ChecksumStatus;
    }
  | { kind: "other"; type: number; code: number; body: Uint8Array; checksumStatus: Icmpv6ChecksumStatus };

/** Highest defined code per error type (IANA "ICMPv6 Parameters"); higher ones are refused. */
const MAX_CODE: Partial<Record<number, number>> = {
  [Icmpv6Type.DestUnreachable]: 8,
  [Icmpv6Type.TimeExceeded]: 1,
  [Icmpv6Type.ParameterProblem]: 10,
};

function u32(buf: Uint8Array, i: number): number {
  return ((buf[i] << 24) | (buf[i + 1] << 16) | (buf[i + 2] << 8) | buf[i + 3]) >>> 0;
}

function setU32(buf: Uint8Array, i: number, v: number): void {
  buf[i] = v >>> 24;
  buf[i + 1] = (v >>> 16) & 0xff;
  buf[i + 2] = (v >>> 8) & 0xff;
  buf[i + 3] = v & 0xff;
}

function fold(sum: number): number {
  let s = sum;
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}

/** Zero-copy accessors over an ICMPv6 message of `length` bytes at `offset` of `buf`. */
export const Icmpv6 = {
  check(buf: Uint8Array, offset = 0, length = buf.length - offset): void {
    if (length < ICMPV6_HEADER_LEN) {
      throw new WireError(
        "truncated",
        Math.max(0, Math.min(offset, buf.length)),
        `icmpv6: ${length} bytes, need 4`,
      );
    }
    checkLen(buf, offset, length, "icmpv6 message");
  },
  type(buf: Uint8Array, offset = 0): number {
    return buf[offset];
  },
  code(buf: Uint8Array, offset = 0): number {
    return buf[offset + 1];
  },
  checksum(buf: Uint8Array, offset = 0): number {
    return (buf[offset + 2] << 8) | buf[offset + 3];
  },
  /** Bytes 4..8 as a uint32: echo id/seq, the MTU of packet-too-big, the pointer, NA flags. */
  word1(buf: Uint8Array, offset = 0): number {
    return u32(buf, offset + 4);
  },
  ident(buf: Uint8Array, offset = 0): number {
    return (buf[offset + 4] << 8) | buf[offset + 5];
  },
  seq(buf: Uint8Array, offset = 0): number {
    return (buf[offset + 6] << 8) | buf[offset + 7];
  },
  /** The target address of NS/NA starts here (16 bytes). */
  targetOffset(offset = 0): number {
    return offset + 8;
  },
  setChecksum(buf: Uint8Array, offset: number, checksum: number): void {
    buf[offset + 2] = checksum >>> 8;
    buf[offset + 3] = checksum & 0xff;
  },
  /** Computes the checksum over `length` bytes given the unfolded pseudo-header sum. */
  fillChecksum(buf: Uint8Array, offset: number, length: number, pseudoSum: number): void {
    buf[offset + 2] = 0;
    buf[offset + 3] = 0;
    Icmpv6.setChecksum(buf, offset, ~fold(sumWords(buf, offset, length, pseudoSum)) & 0xffff);
  },
  isChecksumValid(buf: Uint8Array, offset: number, length: number, pseudoSum: number): boolean {
    return fold(sumWords(buf, offset, length, pseudoSum)) === 0xffff;
  },
  /**
   * Turns an echo request into the reply in place (type 128 -> 129) with an RFC 1624 checksum
   * patch; swapping the IPv6 addresses leaves the pseudo-header sum unchanged.
   */
  echoRequestToReply(buf: Uint8Array, offset = 0): void {
    const code = buf[offset + 1];
    const old = (Icmpv6Type.EchoRequest << 8) | code;
    const now = (Icmpv6Type.EchoReply << 8) | code;
    buf[offset] = Icmpv6Type.EchoReply;
    const sum = (~Icmpv6.checksum(buf, offset) & 0xffff) + (~old & 0xffff) + now;
    Icmpv6.setChecksum(buf, offset, ~fold(sum) & 0xffff);
  },
  /**
   * Builds an error message quoting `quoteLength` bytes of the invoking packet verbatim (at most
   * ICMPV6_ERROR_MAX_QUOTE); `word1` is the MTU (type 2), the pointer (type 4) or 0. Returns the
   * message length. `buf` and `orig` must not overlap.
   */
  emitError(
    buf: Uint8Array,
    offset: number,
    type: number,
    code: number,
    word1: number,
    orig: Uint8Array,
    origOffset: number,
    quoteLength: number,
    pseudo: PseudoHeader,
  ): number {
    if (!(quoteLength >= 0))
      throw new WireError("bad-value", origOffset, `icmpv6 error: quote length ${quoteLength}`);
    checkLen(orig, origOffset, quoteLength, "icmpv6 error quote");
    const length = 8 + quoteLength;
    checkLen(buf, offset, length, "icmpv6 error emit");
    buf[offset] = type;
    buf[offset + 1] = code;
    setU32(buf, offset + 4, word1);
    for (let i = 0; i < quoteLength; i++) buf[offset + 8 + i] = orig[origOffset + i];
    Icmpv6.fillChecksum(buf, offset, length, pseudoHeaderSum(pseudo, IpProtocol.ICMPv6, length));
    return length;
  },

  /** Parses the message; with `pseudo` the checksum is verified. */
  parse(buf: Uint8Array, offset = 0, length = buf.length - offset, pseudo?: PseudoHeader): Icmpv6Repr {
    Icmpv6.check(buf, offset, length);
    const type = Icmpv6.type(buf, offset);
    const code = Icmpv6.code(buf, offset);
    const end = offset + length;
    let checksumStatus: Icmpv6ChecksumStatus = "unchecked";
    if (pseudo) {
      const ok = Icmpv6.isChecksumValid(
        buf,
        offset,
        length,
        pseudoHeaderSum(pseudo, IpProtocol.ICMPv6, length),
      );
      checksumStatus = ok ? "valid" : "invalid";
    }
    const need = (n: number, what: string) => {
      if (length < n) throw new WireError("truncated", end, `icmpv6 ${what}: ${length} bytes, need ${n}`);
    };
    const maxCode = MAX_CODE[type];
    if (maxCode !== undefined && code > maxCode) {
      throw new WireError("bad-value", offset + 1, `icmpv6: code ${code} is not defined for type ${type}`);
    }
    switch (type) {
      case Icmpv6Type.EchoRequest:
      case Icmpv6Type.EchoReply:
        need(8, "echo");
        return {
          kind: type === Icmpv6Type.EchoRequest ? "echo-request" : "echo-reply",
          code,
          ident: Icmpv6.ident(buf, offset),
          seq: Icmpv6.seq(buf, offset),
          data: buf.slice(offset + 8, end),
          checksumStatus,
        };
      case Icmpv6Type.DestUnreachable:
      case Icmpv6Type.TimeExceeded:
        need(8, "error");
        return {
          kind: type === Icmpv6Type.DestUnreachable ? "dest-unreachable" : "time-exceeded",
          code,
          invoking: buf.slice(offset + 8, end),
          checksumStatus,
        };
      case Icmpv6Type.PacketTooBig:
        need(8, "packet too big");
        return {
          kind: "packet-too-big",
          code,
          mtu: Icmpv6.word1(buf, offset),
          invoking: buf.slice(offset + 8, end),
          checksumStatus,
        };
      case Icmpv6Type.ParameterProblem:
        need(8, "parameter problem");
        return {
          kind: "parameter-problem",
          code,
          pointer: Icmpv6.word1(buf, offset),
          invoking: buf.slice(offset + 8, end),
          checksumStatus,
        };
      case Icmpv6Type.NeighborSolicitation:
      case Icmpv6Type.NeighborAdvertisement: {
        need(24, "neighbor discovery");
        validateNdpOptions(buf, offset + 24, end);
        const target = buf.slice(offset + 8, offset + 24);
        const options = buf.slice(offset + 24, end);
        if (type === Icmpv6Type.NeighborSolicitation) {
          return { kind: "neighbor-solicitation", code, target, options, checksumStatus };
        }
        const flags = buf[offset + 4];
        return {
          kind: "neighbor-advertisement",
          code,
          isRouter: (flags & 0x80) !== 0,
          isSolicited: (flags & 0x40) !== 0,
          isOverride: (flags & 0x20) !== 0,
          target,
          options,
          checksumStatus,
        };
      }
      default:
        return { kind: "other", type, code, body: buf.slice(offset + 4, end), checksumStatus };
    }
  },
  lengthOf(repr: Icmpv6Repr): number {
    switch (repr.kind) {
      case "echo-request":
      case "echo-reply":
        return 8 + repr.data.length;
      case "neighbor-solicitation":
      case "neighbor-advertisement":
        return 24 + repr.options.length;
      case "other":
        return 4 + repr.body.length;
      default:
        return 8 + repr.invoking.length;
    }
  },
  /** Writes the message with its checksum at `offset`; returns the bytes written. */
  emit(repr: Icmpv6Repr, buf: Uint8Array, offset: number, pseudo: PseudoHeader): number {
    const length = Icmpv6.lengthOf(repr);
    checkLen(buf, offset, length, "icmpv6 emit");
    buf[offset + 1] = repr.code;
    switch (repr.kind) {
      case "echo-request":
      case "echo-reply":
        buf[offset] = repr.kind === "echo-request" ? Icmpv6Type.EchoRequest : Icmpv6Type.EchoReply;
        setU32(buf, offset + 4, ((repr.ident & 0xffff) << 16) | (repr.seq & 0xffff));
        buf.set(repr.data, offset + 8);
        break;
      case "dest-unreachable":
      case "time-exceeded":
      case "packet-too-big":
      case "parameter-problem": {
        const t = {
          "dest-unreachable": Icmpv6Type.DestUnreachable,
          "time-exceeded": Icmpv6Type.TimeExceeded,
          "packet-too-big": Icmpv6Type.PacketTooBig,
          "parameter-problem": Icmpv6Type.ParameterProblem,
        }[repr.kind];
        buf[offset] = t;
        const w =
          repr.kind === "packet-too-big" ? repr.mtu : repr.kind === "parameter-problem" ? repr.pointer : 0;
        setU32(buf, offset + 4, w);
        buf.set(repr.invoking, offset + 8);
        break;
      }
      case "neighbor-solicitation":
      case "neighbor-advertisement":
        if (repr.target.length !== 16)
          throw new WireError("bad-value", offset + 8, "icmpv6 emit: target is 16 bytes");
        if (repr.options.length % 8 !== 0) {
          throw new WireError("bad-value", offset + 24, "icmpv6 emit: NDP options come in 8-byte units");
        }
        if (repr.kind === "neighbor-solicitation") {
          buf[offset] = Icmpv6Type.NeighborSolicitation;
          setU32(buf, offset + 4, 0);
        } else {
          buf[offset] = Icmpv6Type.NeighborAdvertisement;
          setU32(buf, offset + 4, 0);
          buf[offset + 4] =
            (repr.isRouter ? 0x80 : 0) | (repr.isSolicited ? 0x40 : 0) | (repr.isOverride ? 0x20 : 0);
        }
        buf.set(repr.target, offset + 8);
        buf.set(repr.options, offset + 24);
        break;
      default:
        buf[offset] = repr.type;
        buf.set(repr.body, offset + 4);
    }
    Icmpv6.fillChecksum(buf, offset, length, pseudoHeaderSum(pseudo, IpProtocol.ICMPv6, length));
    return length;
  },
};

/** RFC 4861 §4.6: options are type, length in 8-byte units (never 0), data; they fill the rest. */
function validateNdpOptions(buf: Uint8Array, at: number, end: number): void {
  let i = at;
  while (i < end) {
    if (i + 2 > end) throw new WireError("truncated", i, "ndp option: no length byte");
    const len = buf[i + 1] * 8;
    if (len === 0) throw new WireError("bad-length", i + 1, "ndp option: length 0 (RFC 4861 §4.6)");
    if (i + len > end) throw new WireError("bad-length", i + 1, `ndp option ${buf[i]}: ${len} bytes overrun`);
    i += len;
  }
}

/** The NDP options in `buf[offset, offset + length)` as type + data (data excludes type/len). */
export function parseNdpOptions(
  buf: Uint8Array,
  offset: number,
  length: number,
): { type: number; data: Uint8Array }[] {
  if (!(length >= 0))
    throw new WireError(
      "truncated",
      Math.max(0, Math.min(offset, buf.length)),
      `ndp options: length ${length}`,
    );
  checkLen(buf, offset, length, "ndp options");
  validateNdpOptions(buf, offset, offset + length);
  const out: { type: number; data: Uint8Array }[] = [];
  for (let i = offset; i < offset + length; i += buf[i + 1] * 8) {
    out.push({ type: buf[i], data: buf.slice(i + 2, i + buf[i + 1] * 8) });
  }
  return out;
}

/**
 * The MAC in a source/target link-layer address option (RFC 4861 §4.6.1, Ethernet: length 1)
 * among `options`, or undefined. Options must have been validated (parse does).
 */
export function ndpLinkLayerAddress(options: Uint8Array, type: number): Mac | undefined {
  for (let i = 0; i + 8 <= options.length && options[i + 1] > 0; i += options[i + 1] * 8) {
    if (options[i] === type && options[i + 1] === 1) return readMac(options, i + 2);
  }
  return undefined;
}

/** Writes a link-layer address option (8 bytes) at `offset`; returns 8. */
export function emitNdpLinkLayerAddress(buf: Uint8Array, offset: number, type: number, mac: Mac): number {
  checkLen(buf, offset, 8, "ndp option emit");
  buf[offset] = type;
  buf[offset + 1] = 1;
  writeMac(buf, offset + 2, mac);
  return 8;
}
