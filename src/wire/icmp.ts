/**
 * ICMP for IPv4 (RFC 792, with the router rules of RFC 1812 §4.3 and the next-hop MTU of
 * RFC 1191 §4). The messages a network engine sends and must explain: echo request/reply (ping),
 * destination unreachable (every code, including fragmentation needed with the next-hop MTU),
 * time exceeded, redirect and parameter problem, whose body quotes the offending datagram (its
 * IP header and at least the first 8 bytes of its payload). The quote is parsed, so a decoder can
 * say which flow an error is about. Other types parse generically. The ICMP message has no length
 * field: its length is the IP payload length, so `parse` and the checksum helpers take it.
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |     Type      |     Code      |          Checksum             |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   | echo: Identifier | Sequence   | frag needed: unused | MTU     |  (rest of header)
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   | echo: data ...   errors: original IP header + first payload bytes ...
 *
 * The checksum covers the whole ICMP message (RFC 792); `checksumValid` reports it, `emit` and
 * the builders compute it. RFC 4884 extension objects, when present, stay inside `originalData`.
 */

import { type Ipv4, readIpv4, writeIpv4 } from "./addr.ts";
import { internetChecksum, updateChecksum16, verifyChecksum } from "./checksum.ts";
import { checkLen, WireError } from "./error.ts";
import { Ipv4Header, type Ipv4Repr } from "./ipv4.ts";

export const ICMP_HEADER_LEN = 8;
/**
 * The most of the offending datagram an error quotes: RFC 1812 §4.3.2.3 says as much as fits
 * without the ICMP error datagram exceeding 576 bytes (576 - 20 IP - 8 ICMP).
 */
export const ICMP_ERROR_MAX_QUOTE = 548;

export const Icmpv4Type = {
  EchoReply: 0,
  DestUnreachable: 3,
  Redirect: 5,
  EchoRequest: 8,
  TimeExceeded: 11,
  ParameterProblem: 12,
} as const;

/** Destination unreachable codes (RFC 792, RFC 1122 §3.2.2.1, RFC 1812 §5.2.7.1). */
export const DestUnreachableCode = {
  Net: 0,
  Host: 1,
  Protocol: 2,
  Port: 3,
  FragmentationNeeded: 4,
  SourceRouteFailed: 5,
  NetUnknown: 6,
  HostUnknown: 7,
  SourceHostIsolated: 8,
  NetProhibited: 9,
  HostProhibited: 10,
  NetUnreachableForTos: 11,
  HostUnreachableForTos: 12,
  AdminProhibited: 13,
  HostPrecedenceViolation: 14,
  PrecedenceCutoff: 15,
} as const;

export const TimeExceededCode = {
  TtlExceeded: 0,
  FragmentReassembly: 1,
} as const;

/** Which codes each error type defines (IANA "ICMP Type Numbers"); others are refused. */
const MAX_CODE: Record<number, number> = {
  [Icmpv4Type.DestUnreachable]: 15,
  [Icmpv4Type.Redirect]: 3,
  [Icmpv4Type.TimeExceeded]: 1,
  [Icmpv4Type.ParameterProblem]: 2,
};

interface Quote {
  /** The offending datagram's IP header as quoted (its payloadLength is the original one). */
  original: Ipv4Repr;
  /** The quoted payload bytes that follow that header (at least 8, or all of a shorter one). */
  originalData: Uint8Array;
}

export type Icmpv4Repr =
  | {
      kind: "echo-request" | "echo-reply";
      code: number;
      ident: number;
      seq: number;
      data: Uint8Array;
      checksumValid: boolean;
    }
  | ({ kind: "dest-unreachable"; code: number; nextHopMtu: number; checksumValid: boolean } & Quote)
  | ({ kind: "time-exceeded"; code: number; checksumValid: boolean } & Quote)
  | ({ kind: "redirect"; code: number; gateway: Ipv4; checksumValid: boolean } & Quote)
  | ({ kind: "parameter-problem"; code: number; pointer: number; checksumValid: boolean } & Quote)
  | {
      kind: "other";
      type: number;
      code: number;
      /** Bytes 4..8 of the message as a uint32. */
      restOfHeader: number;
      data: Uint8Array;
      checksumValid: boolean;
    };

const KIND_OF_TYPE: Record<number, Icmpv4Repr["kind"]> = {
  [Icmpv4Type.EchoReply]: "echo-reply",
  [Icmpv4Type.EchoRequest]: "echo-request",
  [Icmpv4Type.DestUnreachable]: "dest-unreachable",
  [Icmpv4Type.TimeExceeded]: "time-exceeded",
  [Icmpv4Type.Redirect]: "redirect",
  [Icmpv4Type.ParameterProblem]: "parameter-problem",
};

const TYPE_OF_KIND: Record<Exclude<Icmpv4Repr["kind"], "other">, number> = {
  "echo-reply": Icmpv4Type.EchoReply,
  "echo-request": Icmpv4Type.EchoRequest,
  "dest-unreachable": Icmpv4Type.DestUnreachable,
  "time-exceeded": Icmpv4Type.TimeExceeded,
  redirect: Icmpv4Type.Redirect,
  "parameter-problem": Icmpv4Type.ParameterProblem,
};

/** Zero-copy accessors over an ICMPv4 message of `length` bytes at `offset` of `buf`. */
export const Icmpv4 = {
  check(buf: Uint8Array, offset = 0, length = buf.length - offset): void {
    if (length < ICMP_HEADER_LEN) {
      throw new WireError(
        "truncated",
        Math.max(0, Math.min(offset, buf.length)),
        `icmp: ${length} bytes, need 8`,
      );
    }
    checkLen(buf, offset, length, "icmp message");
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
  /** Echo identifier (bytes 4..6). */
  ident(buf: Uint8Array, offset = 0): number {
    return (buf[offset + 4] << 8) | buf[offset + 5];
  },
  /** Echo sequence number (bytes 6..8). */
  seq(buf: Uint8Array, offset = 0): number {
    return (buf[offset + 6] << 8) | buf[offset + 7];
  },
  /** Next-hop MTU of a fragmentation-needed message (RFC 1191 §4), bytes 6..8. */
  nextHopMtu(buf: Uint8Array, offset = 0): number {
    return (buf[offset + 6] << 8) | buf[offset + 7];
  },
  restOfHeader(buf: Uint8Array, offset = 0): number {
    return readIpv4(buf, offset + 4);
  },
  setType(buf: Uint8Array, offset: number, type: number): void {
    buf[offset] = type;
  },
  setCode(buf: Uint8Array, offset: number, code: number): void {
    buf[offset + 1] = code;
  },
  setChecksum(buf: Uint8Array, offset: number, checksum: number): void {
    buf[offset + 2] = checksum >>> 8;
    buf[offset + 3] = checksum & 0xff;
  },
  setIdent(buf: Uint8Array, offset: number, ident: number): void {
    buf[offset + 4] = (ident >>> 8) & 0xff;
    buf[offset + 5] = ident & 0xff;
  },
  setSeq(buf: Uint8Array, offset: number, seq: number): void {
    buf[offset + 6] = (seq >>> 8) & 0xff;
    buf[offset + 7] = seq & 0xff;
  },
  setRestOfHeader(buf: Uint8Array, offset: number, rest: number): void {
    writeIpv4(buf, offset + 4, rest);
  },
  fillChecksum(buf: Uint8Array, offset: number, length: number): void {
    buf[offset + 2] = 0;
    buf[offset + 3] = 0;
    Icmpv4.setChecksum(buf, offset, internetChecksum(buf, offset, length));
  },
  isChecksumValid(buf: Uint8Array, offset: number, length: number): boolean {
    return verifyChecksum(buf, offset, length);
  },
  /**
   * Turns an echo request into the reply in place (type 8 -> 0), patching the checksum per
   * RFC 1624 instead of re-summing the data. The caller swaps the IP addresses.
   */
  echoRequestToReply(buf: Uint8Array, offset = 0): void {
    const code = buf[offset + 1];
    const old = (Icmpv4Type.EchoRequest << 8) | code;
    const now = (Icmpv4Type.EchoReply << 8) | code;
    buf[offset] = Icmpv4Type.EchoReply;
    Icmpv4.setChecksum(buf, offset, updateChecksum16(Icmpv4.checksum(buf, offset), old, now));
  },
  /**
   * Builds an error message (dest-unreachable, time-exceeded, ...) quoting `quoteLength` bytes of
   * the offending datagram at `orig[origOffset]` verbatim, the way a router does (RFC 1812
   * §4.3.2.3); `restOfHeader` is bytes 4..8 (the MTU for code 4, the pointer << 24 for parameter
   * problem, the gateway for redirect). Returns the ICMP message length. `buf` and `orig` must not
   * overlap.
   */
  emitError(
    buf: Uint8Array,
    offset: number,
    type: number,
    code: number,
    restOfHeader: number,
    orig: Uint8Array,
    origOffset: number,
    quoteLength: number,
  ): number {
    if (!(quoteLength >= 0))
      throw new WireError("bad-value", origOffset, `icmp error: quote length ${quoteLength}`);
    checkLen(orig, origOffset, quoteLength, "icmp error quote");
    const length = ICMP_HEADER_LEN + quoteLength;
    checkLen(buf, offset, length, "icmp error emit");
    buf[offset] = type;
    buf[offset + 1] = code;
    Icmpv4.setRestOfHeader(buf, offset, restOfHeader);
    for (let i = 0; i < quoteLength; i++) buf[offset + ICMP_HEADER_LEN + i] = orig[origOffset + i];
    Icmpv4.fillChecksum(buf, offset, length);
    return length;
  },

  parse(buf: Uint8Array, offset = 0, length = buf.length - offset): Icmpv4Repr {
    Icmpv4.check(buf, offset, length);
    const type = Icmpv4.type(buf, offset);
    const code = Icmpv4.code(buf, offset);
    const checksumValid = Icmpv4.isChecksumValid(buf, offset, length);
    const kind = KIND_OF_TYPE[type];
    const end = offset + length;
    switch (kind) {
      case "echo-request":
      case "echo-reply":
        return {
          kind,
          code,
          ident: Icmpv4.ident(buf, offset),
          seq: Icmpv4.seq(buf, offset),
          data: buf.slice(offset + ICMP_HEADER_LEN, end),
          checksumValid,
        };
      case "dest-unreachable":
      case "time-exceeded":
      case "redirect":
      case "parameter-problem": {
        if (code > MAX_CODE[type]) {
          throw new WireError("bad-value", offset + 1, `icmp: code ${code} is not defined for type ${type}`);
        }
        const quote = parseQuote(buf, offset + ICMP_HEADER_LEN, end);
        if (kind === "dest-unreachable") {
          const nextHopMtu =
            code === DestUnreachableCode.FragmentationNeeded ? Icmpv4.nextHopMtu(buf, offset) : 0;
          return { kind, code, nextHopMtu, checksumValid, ...quote };
        }
        if (kind === "time-exceeded") return { kind, code, checksumValid, ...quote };
        if (kind === "redirect") {
          return { kind, code, gateway: Icmpv4.restOfHeader(buf, offset), checksumValid, ...quote };
        }
        return { kind, code, pointer: buf[offset + 4], checksumValid, ...quote };
      }
      default:
        return {
          kind: "other",
          type,
          code,
          restOfHeader: Icmpv4.restOfHeader(buf, offset),
          data: buf.slice(offset + ICMP_HEADER_LEN, end),
          checksumValid,
        };
    }
  },
  /** The message length `emit` will write for `repr`. */
  lengthOf(repr: Icmpv4Repr): number {
    if ("data" in repr) return ICMP_HEADER_LEN + repr.data.length;
    return ICMP_HEADER_LEN + Ipv4Header.headerLengthOf(repr.original) + repr.originalData.length;
  },
  /** Writes the whole message (with its checksum) at `offset`; returns the bytes written. */
  emit(repr: Icmpv4Repr, buf: Uint8Array, offset = 0): number {
    const length = Icmpv4.lengthOf(repr);
    checkLen(buf, offset, length, "icmp emit");
    const type = repr.kind === "other" ? repr.type : TYPE_OF_KIND[repr.kind];
    buf[offset] = type;
    buf[offset + 1] = repr.code;
    switch (repr.kind) {
      case "echo-request":
      case "echo-reply":
      case "other":
        if (repr.kind === "other") Icmpv4.setRestOfHeader(buf, offset, repr.restOfHeader);
        else {
          Icmpv4.setIdent(buf, offset, repr.ident);
          Icmpv4.setSeq(buf, offset, repr.seq);
        }
        buf.set(repr.data, offset + ICMP_HEADER_LEN);
        break;
      default: {
        let rest = 0;
        if (repr.kind === "dest-unreachable") rest = repr.nextHopMtu & 0xffff;
        else if (repr.kind === "redirect") rest = repr.gateway;
        else if (repr.kind === "parameter-problem") rest = (repr.pointer & 0xff) * 0x1000000;
        Icmpv4.setRestOfHeader(buf, offset, rest);
        const hl = Ipv4Header.emit(repr.original, buf, offset + ICMP_HEADER_LEN);
        buf.set(repr.originalData, offset + ICMP_HEADER_LEN + hl);
      }
    }
    Icmpv4.fillChecksum(buf, offset, length);
    return length;
  },
};

/** Parses the quoted datagram in `buf[at, end)`; it must hold the header and 8 payload bytes. */
function parseQuote(buf: Uint8Array, at: number, end: number): Quote {
  // Bound the view at the message's end so the quote cannot read trailing Ethernet padding.
  const region = end === buf.length ? buf : buf.subarray(0, end);
  const original = Ipv4Header.parseQuoted(region, at);
  const hl = Ipv4Header.headerLength(region, at);
  const need = Math.min(8, original.payloadLength);
  if (end - at - hl < need) {
    throw new WireError(
      "truncated",
      end,
      `icmp: quoted datagram has ${end - at - hl} payload bytes, RFC 792 requires ${need}`,
    );
  }
  return { original, originalData: buf.slice(at + hl, end) };
}
