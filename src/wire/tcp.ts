/**
 * TCP segment headers (RFC 9293 §3.1, with the ECN flags CWR/ECE of RFC 3168 and the
 * NS bit of RFC 3540, historic now and reused as "AE" by Accurate ECN). Enough for a switch to classify
 * flows, a decoder to explain a handshake and a host to build segments: the codec does not run
 * TCP. The checksum covers the pseudo-header (RFC 9293 §3.1: addresses, protocol 6, TCP length),
 * header and data; it is mandatory, so zero is just a wrong value.
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |          Source Port          |       Destination Port        |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                        Sequence Number                        |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                    Acknowledgment Number                      |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |  Data |     |N|C|E|U|A|P|R|S|F|                               |
 *   | Offset| Rsvd|S|W|C|R|C|S|S|Y|I|            Window             |
 *   |       |     | |R|E|G|K|H|T|N|N|                               |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |           Checksum            |         Urgent Pointer        |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                    Options (data offset > 5)                  |
 *
 * Options are kept as bytes in the Repr; `parseTcpOptions`/`emitTcpOptions` read and write the
 * common ones (MSS, window scale, SACK, timestamps) for decoders and hosts.
 */

import { type PseudoHeader, pseudoHeaderSum, sumWords } from "./checksum.ts";
import { checkLen, WireError } from "./error.ts";
import { IpProtocol } from "./ipv4.ts";

export const TCP_HEADER_LEN = 20;
export const TCP_MAX_HEADER_LEN = 60;

/** The nine flag bits, as the low 9 bits of bytes 12..14. */
export const TcpFlags = {
  FIN: 0x001,
  SYN: 0x002,
  RST: 0x004,
  PSH: 0x008,
  ACK: 0x010,
  URG: 0x020,
  ECE: 0x040,
  CWR: 0x080,
  NS: 0x100,
} as const;

/** "SYN|ACK" style text for traces and decoders, in wire order from NS down to FIN. */
export function formatTcpFlags(flags: number): string {
  const names: string[] = [];
  for (const name of ["NS", "CWR", "ECE", "URG", "ACK", "PSH", "RST", "SYN", "FIN"] as const) {
    if (flags & TcpFlags[name]) names.push(name);
  }
  return names.length ? names.join("|") : "none";
}

export type TcpChecksumStatus = "valid" | "invalid" | "unchecked";

export interface TcpRepr {
  srcPort: number;
  dstPort: number;
  /** Sequence and acknowledgment numbers, uint32. */
  seq: number;
  ack: number;
  /** The 9 flag bits (see TcpFlags). */
  flags: number;
  window: number;
  urgentPointer: number;
  /** Option bytes, padded to a multiple of 4 (at most 40). */
  options: Uint8Array;
  /** Segment data bytes after the header. */
  payloadLength: number;
  /** What parse found; ignored by emit, which always computes the checksum. */
  checksumStatus: TcpChecksumStatus;
}

export type TcpOption =
  | { kind: "eol" }
  | { kind: "nop" }
  | { kind: "mss"; mss: number }
  | { kind: "window-scale"; shift: number }
  | { kind: "sack-permitted" }
  | { kind: "sack"; blocks: { left: number; right: number }[] }
  | { kind: "timestamps"; tsVal: number; tsEcr: number }
  | { kind: "unknown"; type: number; data: Uint8Array };

function u32(buf: Uint8Array, i: number): number {
  return ((buf[i] << 24) | (buf[i + 1] << 16) | (buf[i + 2] << 8) | buf[i + 3]) >>> 0;
}

function setU32(buf: Uint8Array, i: number, v: number): void {
  buf[i] = v >>> 24;
  buf[i + 1] = (v >>> 16) & 0xff;
  buf[i + 2] = (v >>> 8) & 0xff;
  buf[i + 3] = v & 0xff;
}

/** Zero-copy accessors over a TCP header at `offset` of `buf`. */
export const Tcp = {
  check(buf: Uint8Array, offset = 0): void {
    checkLen(buf, offset, TCP_HEADER_LEN, "tcp header");
  },
  srcPort(buf: Uint8Array, offset = 0): number {
    return (buf[offset] << 8) | buf[offset + 1];
  },
  dstPort(buf: Uint8Array, offset = 0): number {
    return (buf[offset + 2] << 8) | buf[offset + 3];
  },
  seq(buf: Uint8Array, offset = 0): number {
    return u32(buf, offset + 4);
  },
  ack(buf: Uint8Array, offset = 0): number {
    return u32(buf, offset + 8);
  },
  /** Data offset in bytes (the field times 4): where the data starts. */
  headerLength(buf: Uint8Array, offset = 0): number {
    return (buf[offset + 12] >>> 4) * 4;
  },
  flags(buf: Uint8Array, offset = 0): number {
    return ((buf[offset + 12] & 1) << 8) | buf[offset + 13];
  },
  hasFlag(buf: Uint8Array, offset: number, flag: number): boolean {
    return (Tcp.flags(buf, offset) & flag) !== 0;
  },
  window(buf: Uint8Array, offset = 0): number {
    return (buf[offset + 14] << 8) | buf[offset + 15];
  },
  checksum(buf: Uint8Array, offset = 0): number {
    return (buf[offset + 16] << 8) | buf[offset + 17];
  },
  urgentPointer(buf: Uint8Array, offset = 0): number {
    return (buf[offset + 18] << 8) | buf[offset + 19];
  },
  setSrcPort(buf: Uint8Array, offset: number, port: number): void {
    buf[offset] = (port >>> 8) & 0xff;
    buf[offset + 1] = port & 0xff;
  },
  setDstPort(buf: Uint8Array, offset: number, port: number): void {
    buf[offset + 2] = (port >>> 8) & 0xff;
    buf[offset + 3] = port & 0xff;
  },
  setSeq(buf: Uint8Array, offset: number, seq: number): void {
    setU32(buf, offset + 4, seq);
  },
  setAck(buf: Uint8Array, offset: number, ack: number): void {
    setU32(buf, offset + 8, ack);
  },
  /** Sets the data offset (header length in bytes, 20..60, a multiple of 4) and the flags. */
  setHeaderLengthAndFlags(buf: Uint8Array, offset: number, headerLength: number, flags: number): void {
    buf[offset + 12] = ((headerLength >>> 2) << 4) | ((flags >>> 8) & 1);
    buf[offset + 13] = flags & 0xff;
  },
  setWindow(buf: Uint8Array, offset: number, window: number): void {
    buf[offset + 14] = (window >>> 8) & 0xff;
    buf[offset + 15] = window & 0xff;
  },
  setChecksum(buf: Uint8Array, offset: number, checksum: number): void {
    buf[offset + 16] = checksum >>> 8;
    buf[offset + 17] = checksum & 0xff;
  },
  setUrgentPointer(buf: Uint8Array, offset: number, pointer: number): void {
    buf[offset + 18] = (pointer >>> 8) & 0xff;
    buf[offset + 19] = pointer & 0xff;
  },
  /** Computes and writes the checksum over `segmentLength` bytes (header + data). */
  fillChecksum(buf: Uint8Array, offset: number, segmentLength: number, pseudoSum: number): void {
    buf[offset + 16] = 0;
    buf[offset + 17] = 0;
    let s = sumWords(buf, offset, segmentLength, pseudoSum);
    while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
    Tcp.setChecksum(buf, offset, ~s & 0xffff);
  },
  isChecksumValid(buf: Uint8Array, offset: number, segmentLength: number, pseudoSum: number): boolean {
    let s = sumWords(buf, offset, segmentLength, pseudoSum);
    while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
    return s === 0xffff;
  },

  /** Checks the data offset against the segment; returns the header length. No allocation. */
  validate(buf: Uint8Array, offset = 0, segmentLength = buf.length - offset): number {
    Tcp.check(buf, offset);
    checkLen(buf, offset, segmentLength, "tcp segment");
    const hl = Tcp.headerLength(buf, offset);
    if (hl < TCP_HEADER_LEN) {
      throw new WireError("bad-length", offset + 12, `tcp: data offset ${hl / 4} is below 5`);
    }
    if (hl > segmentLength) {
      throw new WireError(
        "bad-length",
        offset + 12,
        `tcp: header of ${hl} bytes in a ${segmentLength}-byte segment`,
      );
    }
    return hl;
  },

  /**
   * Parses the header of the segment `buf[offset, offset + segmentLength)` (the IP payload).
   * With a pseudo-header the checksum is verified.
   */
  parse(buf: Uint8Array, offset = 0, pseudo?: PseudoHeader, segmentLength = buf.length - offset): TcpRepr {
    const hl = Tcp.validate(buf, offset, segmentLength);
    let checksumStatus: TcpChecksumStatus = "unchecked";
    if (pseudo) {
      const ok = Tcp.isChecksumValid(
        buf,
        offset,
        segmentLength,
        pseudoHeaderSum(pseudo, IpProtocol.TCP, segmentLength),
      );
      checksumStatus = ok ? "valid" : "invalid";
    }
    return {
      srcPort: Tcp.srcPort(buf, offset),
      dstPort: Tcp.dstPort(buf, offset),
      seq: Tcp.seq(buf, offset),
      ack: Tcp.ack(buf, offset),
      flags: Tcp.flags(buf, offset),
      window: Tcp.window(buf, offset),
      urgentPointer: Tcp.urgentPointer(buf, offset),
      options: buf.slice(offset + TCP_HEADER_LEN, offset + hl),
      payloadLength: segmentLength - hl,
      checksumStatus,
    };
  },
  headerLengthOf(repr: TcpRepr): number {
    return TCP_HEADER_LEN + repr.options.length;
  },
  /**
   * Writes the header at `offset` and the checksum over it and the `repr.payloadLength` data
   * bytes, which must already be in place after the header. Returns the header length.
   */
  emit(repr: TcpRepr, buf: Uint8Array, offset: number, pseudo: PseudoHeader): number {
    const hl = Tcp.headerLengthOf(repr);
    if (repr.options.length % 4 !== 0 || hl > TCP_MAX_HEADER_LEN) {
      throw new WireError("bad-value", offset + 12, `tcp emit: ${repr.options.length} option bytes`);
    }
    const segmentLength = hl + repr.payloadLength;
    if (!(repr.payloadLength >= 0 && segmentLength <= 0xffff)) {
      throw new WireError("bad-length", offset, `tcp emit: payload length ${repr.payloadLength}`);
    }
    checkLen(buf, offset, segmentLength, "tcp emit");
    Tcp.setSrcPort(buf, offset, repr.srcPort);
    Tcp.setDstPort(buf, offset, repr.dstPort);
    Tcp.setSeq(buf, offset, repr.seq);
    Tcp.setAck(buf, offset, repr.ack);
    Tcp.setHeaderLengthAndFlags(buf, offset, hl, repr.flags);
    Tcp.setWindow(buf, offset, repr.window);
    Tcp.setUrgentPointer(buf, offset, repr.urgentPointer);
    buf.set(repr.options, offset + TCP_HEADER_LEN);
    Tcp.fillChecksum(buf, offset, segmentLength, pseudoHeaderSum(pseudo, IpProtocol.TCP, segmentLength));
    return hl;
  },
};

/** Options whose length is fixed by their RFC: MSS, window scale, SACK-permitted, timestamps. */
const FIXED_OPTION_LEN: Partial<Record<number, number>> = { 2: 4, 3: 3, 4: 2, 8: 10 };

/**
 * Reads the options in `buf[offset, offset + length)` (RFC 9293 §3.2, RFC 7323, RFC 2018).
 * Parsing stops after an end-of-list option; the padding after it is not reported.
 */
export function parseTcpOptions(buf: Uint8Array, offset: number, length: number): TcpOption[] {
  if (!(length >= 0))
    throw new WireError(
      "truncated",
      Math.max(0, Math.min(offset, buf.length)),
      `tcp options: length ${length}`,
    );
  checkLen(buf, offset, length, "tcp options");
  const out: TcpOption[] = [];
  const end = offset + length;
  let i = offset;
  while (i < end) {
    const type = buf[i];
    if (type === 0) {
      out.push({ kind: "eol" });
      break;
    }
    if (type === 1) {
      out.push({ kind: "nop" });
      i++;
      continue;
    }
    if (i + 2 > end) throw new WireError("truncated", i, `tcp option ${type}: no length byte`);
    const len = buf[i + 1];
    if (len < 2 || i + len > end)
      throw new WireError("bad-length", i + 1, `tcp option ${type}: length ${len}`);
    const fixed = FIXED_OPTION_LEN[type];
    if (fixed !== undefined && len !== fixed) {
      throw new WireError("bad-length", i + 1, `tcp option ${type}: length ${len}, must be ${fixed}`);
    }
    if (type === 2) out.push({ kind: "mss", mss: (buf[i + 2] << 8) | buf[i + 3] });
    else if (type === 3) out.push({ kind: "window-scale", shift: buf[i + 2] });
    else if (type === 4) out.push({ kind: "sack-permitted" });
    else if (type === 8) out.push({ kind: "timestamps", tsVal: u32(buf, i + 2), tsEcr: u32(buf, i + 6) });
    else if (type === 5) {
      if ((len - 2) % 8 !== 0) throw new WireError("bad-length", i + 1, `tcp SACK option: length ${len}`);
      const blocks: { left: number; right: number }[] = [];
      for (let b = i + 2; b < i + len; b += 8) blocks.push({ left: u32(buf, b), right: u32(buf, b + 4) });
      out.push({ kind: "sack", blocks });
    } else out.push({ kind: "unknown", type, data: buf.slice(i + 2, i + len) });
    i += len;
  }
  return out;
}

/** The bytes `emitTcpOptions` writes for `options`, before padding. */
export function tcpOptionsLength(options: TcpOption[]): number {
  let n = 0;
  for (const o of options) {
    if (o.kind === "eol" || o.kind === "nop") n += 1;
    else if (o.kind === "mss") n += 4;
    else if (o.kind === "window-scale") n += 3;
    else if (o.kind === "sack-permitted") n += 2;
    else if (o.kind === "timestamps") n += 10;
    else if (o.kind === "sack") n += 2 + 8 * o.blocks.length;
    else n += 2 + o.data.length;
  }
  return n;
}

/**
 * Writes `options` at `offset`, padded with zeros (end-of-list) to a multiple of 4; returns the
 * padded length, which is what goes into `TcpRepr.options`.
 */
export function emitTcpOptions(options: TcpOption[], buf: Uint8Array, offset: number): number {
  const raw = tcpOptionsLength(options);
  const padded = (raw + 3) & ~3;
  if (padded > TCP_MAX_HEADER_LEN - TCP_HEADER_LEN) {
    throw new WireError("bad-length", offset, `tcp options: ${raw} bytes exceed 40`);
  }
  checkLen(buf, offset, padded, "tcp options emit");
  let i = offset;
  for (const o of options) {
    switch (o.kind) {
      case "eol":
        buf[i++] = 0;
        break;
      case "nop":
        buf[i++] = 1;
        break;
      case "mss":
        buf.set([2, 4, (o.mss >>> 8) & 0xff, o.mss & 0xff], i);
        i += 4;
        break;
      case "window-scale":
        buf.set([3, 3, o.shift & 0xff], i);
        i += 3;
        break;
      case "sack-permitted":
        buf.set([4, 2], i);
        i += 2;
        break;
      case "timestamps":
        buf[i] = 8;
        buf[i + 1] = 10;
        setU32(buf, i + 2, o.tsVal);
        setU32(buf, i + 6, o.tsEcr);
        i += 10;
        break;
      case "sack":
        buf[i] = 5;
        buf[i + 1] = 2 + 8 * o.blocks.length;
        for (let b = 0; b < o.blocks.length; b++) {
          setU32(buf, i + 2 + 8 * b, o.blocks[b].left);
          setU32(buf, i + 6 + 8 * b, o.blocks[b].right);
        }
        i += 2 + 8 * o.blocks.length;
        break;
      default:
        buf[i] = o.type;
        buf[i + 1] = 2 + o.data.length;
        buf.set(o.data, i + 2);
        i += 2 + o.data.length;
    }
  }
  buf.fill(0, i, offset + padded);
  return padded;
}
