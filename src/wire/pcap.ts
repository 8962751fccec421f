/**
 * Classic pcap capture files (the libpcap format, draft-ietf-opsawg-pcap): a streaming writer
 * for the nanosecond variant and a reader for both the nanosecond and microsecond variants in
 * either byte order. It sits at the bottom of `src/wire/` beside the codecs: bytes in, records
 * out, browser-safe (Uint8Array/DataView only). The simulator appends one record per frame a
 * port sees, with simulated nanoseconds; `vnet decode` reads files written by anyone.
 *
 *   File header (24 bytes)                  Record header (16 bytes), then incl_len bytes
 *   0  magic        0xa1b23c4d (ns)         0  ts_sec
 *                   0xa1b2c3d4 (us)         4  ts_frac   (ns or us, per the magic)
 *   4  version      2.4                     8  incl_len  (bytes stored)
 *   8  thiszone, sigfigs (both 0)           12 orig_len  (bytes on the wire)
 *   16 snaplen
 *   20 linktype     (1 = Ethernet)
 *
 * Timestamps are `bigint` nanoseconds since the epoch on the way out of the reader (a real
 * capture's epoch time in ns does not fit a double exactly); the writer takes a number (the
 * simulator's clock) or a bigint.
 */

import { WireError } from "./error.ts";

export const PCAP_MAGIC_NS = 0xa1b23c4d;
export const PCAP_MAGIC_US = 0xa1b2c3d4;
export const PCAP_FILE_HEADER_LEN = 24;
export const PCAP_RECORD_HEADER_LEN = 16;
/** LINKTYPE_ETHERNET (tcpdump.org link-layer header types). */
export const LINKTYPE_ETHERNET = 1;
/** The snapshot length tcpdump and Wireshark use by default. */
export const DEFAULT_SNAPLEN = 262144;

/** One captured frame as a reader returns it. `data` is a view into the file's bytes. */
export interface CaptureRecord {
  /** Time of capture in nanoseconds (since the epoch for real captures, simulated time otherwise). */
  timeNs: bigint;
  /** The bytes stored (at most the snapshot length). */
  data: Uint8Array;
  /** The frame's length on the wire; larger than `data.length` when the capture truncated it. */
  originalLength: number;
  /** The link-layer header type of the interface the record was captured on. */
  linkType: number;
  /** Index of the capture interface (always 0 in classic pcap). */
  interfaceId: number;
  /** pcapng only, when its Interface Description Block names it (`if_name`): that name. */
  interfaceName?: string;
  /** Byte offset of the record's header in the file, so tools can say where a frame lives. */
  fileOffset: number;
  /** pcapng only, when the capture recorded it: did the frame arrive or leave. */
  direction?: "inbound" | "outbound";
  /** pcapng only: the packet's comment option. */
  comment?: string;
}

export interface PcapHeader {
  isNanosecond: boolean;
  isLittleEndian: boolean;
  versionMajor: number;
  versionMinor: number;
  snapLen: number;
  linkType: number;
}

/**
 * A growable byte sink shared by the pcap and pcapng writers: append-only, doubling, with a
 * `drain` that hands out what was written since the last drain and forgets it, so a capture
 * streamed to a file holds only the bytes not yet written out.
 */
export class ByteSink {
  private buf: Uint8Array;
  private view: DataView;
  private len = 0;

  constructor(initialBytes = 4096) {
    this.buf = new Uint8Array(initialBytes);
    this.view = new DataView(this.buf.buffer);
  }

  get length(): number {
    return this.len;
  }

  /** Reserves `n` bytes at the end and returns the offset where they start. */
  reserve(n: number): number {
    const need = this.len + n;
    if (need > this.buf.length) {
      let size = this.buf.length * 2;
      while (size < need) size *= 2;
      const next = new Uint8Array(size);
      next.set(this.buf.subarray(0, this.len));
      this.buf = next;
      this.view = new DataView(next.buffer);
    }
    const at = this.len;
    this.len = need;
    return at;
  }

  u8(at: number, v: number): void {
    this.buf[at] = v;
  }
  u16(at: number, v: number): void {
    this.view.setUint16(at, v, true);
  }
  u32(at: number, v: number): void {
    this.view.setUint32(at, v >>> 0, true);
  }
  bytesAt(at: number, src: Uint8Array): void {
    this.buf.set(src, at);
  }
  /** Zeroes `n` bytes at `at` (padding; the buffer may hold old bytes after a growth copy). */
  zero(at: number, n: number): void {
    this.buf.fill(0, at, at + n);
  }

  /** Everything held (written and not drained: the whole file if never drained), as a copy. */
  bytes(): Uint8Array {
    return this.buf.slice(0, this.len);
  }

  /** What was written since the previous drain, as a copy, released from the sink. */
  drain(): Uint8Array {
    const out = this.buf.slice(0, this.len);
    this.len = 0;
    return out;
  }
}

/** Splits nanoseconds into whole seconds and the nanoseconds within the second. */
export function splitNs(timeNs: number | bigint): [sec: number, nsec: number] {
  if (typeof timeNs === "bigint") {
    if (timeNs < 0n) throw new RangeError(`negative capture time ${timeNs} ns`);
    return [Number(timeNs / 1_000_000_000n), Number(timeNs % 1_000_000_000n)];
  }
  if (!(timeNs >= 0) || !Number.isFinite(timeNs)) throw new RangeError(`bad capture time ${timeNs} ns`);
  const sec = Math.floor(timeNs / 1e9);
  return [sec, Math.floor(timeNs - sec * 1e9)];
}

export interface PcapWriterOptions {
  snapLen?: number;
  linkType?: number;
}

/**
 * Writes a classic pcap file, nanosecond variant, little-endian. Append records as frames are
 * seen; take the whole file with `bytes()`, or stream it with `drain()`, which returns the bytes
 * since the previous drain (the file header first) and releases them: the drained pieces, in
 * order, are the file.
 */
export class PcapWriter {
  readonly snapLen: number;
  readonly linkType: number;
  private readonly sink = new ByteSink();
  private count = 0;

  constructor(options: PcapWriterOptions = {}) {
    this.snapLen = options.snapLen ?? DEFAULT_SNAPLEN;
    this.linkType = options.linkType ?? LINKTYPE_ETHERNET;
    const s = this.sink;
    const at = s.reserve(PCAP_FILE_HEADER_LEN);
    s.u32(at, PCAP_MAGIC_NS);
    s.u16(at + 4, 2);
    s.u16(at + 6, 4);
    s.u32(at + 8, 0); // thiszone: always UTC
    s.u32(at + 12, 0); // sigfigs: always 0 in practice
    s.u32(at + 16, this.snapLen);
    s.u32(at + 20, this.linkType);
  }

  /** Number of records appended. */
  get recordCount(): number {
    return this.count;
  }

  /**
   * Appends one frame seen at `timeNs`. Bytes beyond the snapshot length are not stored;
   * `originalLength` (default: the frame's length) records what was on the wire.
   */
  append(timeNs: number | bigint, frame: Uint8Array, originalLength = frame.length): void {
    // Split without allocating: the simulator appends one record per frame a port sees.
    let sec: number;
    let nsec: number;
    if (typeof timeNs === "number" && timeNs >= 0 && timeNs <= Number.MAX_SAFE_INTEGER) {
      sec = Math.floor(timeNs / 1e9);
      nsec = Math.floor(timeNs - sec * 1e9);
    } else [sec, nsec] = splitNs(timeNs);
    if (sec > 0xffffffff) throw new RangeError(`capture time ${timeNs} ns is past what pcap can store`);
    const stored = Math.min(frame.length, this.snapLen);
    const s = this.sink;
    const at = s.reserve(PCAP_RECORD_HEADER_LEN + stored);
    s.u32(at, sec);
    s.u32(at + 4, nsec);
    s.u32(at + 8, stored);
    s.u32(at + 12, Math.max(originalLength, stored));
    s.bytesAt(at + PCAP_RECORD_HEADER_LEN, stored === frame.length ? frame : frame.subarray(0, stored));
    this.count++;
  }

  bytes(): Uint8Array {
    return this.sink.bytes();
  }

  drain(): Uint8Array {
    return this.sink.drain();
  }
}

/** A whole pcap file (nanosecond variant) from records in the order given. */
export function writePcap(
  records: Iterable<{ timeNs: number | bigint; data: Uint8Array; originalLength?: number }>,
  options: PcapWriterOptions = {},
): Uint8Array {
  const w = new PcapWriter(options);
  for (const r of records) w.append(r.timeNs, r.data, r.originalLength);
  return w.bytes();
}

/** Reads the 24-byte file header; throws a WireError for a short or foreign file. */
export function readPcapHeader(file: Uint8Array): PcapHeader {
  if (file.length < 4) {
    throw new WireError("truncated", file.length, `pcap file header: need 24 bytes, have ${file.length}`);
  }
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const magicBe = view.getUint32(0, false);
  let isLittleEndian: boolean;
  let isNanosecond: boolean;
  const magicLe = view.getUint32(0, true);
  if (magicLe === PCAP_MAGIC_NS || magicLe === PCAP_MAGIC_US) {
    isLittleEndian = true;
    isNanosecond = magicLe === PCAP_MAGIC_NS;
  } else if (magicBe === PCAP_MAGIC_NS || magicBe === PCAP_MAGIC_US) {
    isLittleEndian = false;
    isNanosecond = magicBe === PCAP_MAGIC_NS;
  } else {
    throw new WireError(
      "bad-value",
      0,
      `not a pcap file (magic 0x${magicBe.toString(16).padStart(8, "0")}, expected a1b2c3d4 or a1b23c4d)`,
    );
  }
  if (file.length < PCAP_FILE_HEADER_LEN) {
    throw new WireError("truncated", file.length, `pcap file header: need 24 bytes, have ${file.length}`);
  }
  const versionMajor = view.getUint16(4, isLittleEndian);
  const versionMinor = view.getUint16(6, isLittleEndian);
  if (versionMajor !== 2) {
    throw new WireError("bad-version", 4, `pcap version ${versionMajor}.${versionMinor}, expected 2.4`);
  }
  const snapLen = view.getUint32(16, isLittleEndian);
  // The link type shares its word with FCS flags in the upper bits (draft-ietf-opsawg-pcap 4).
  const linkType = view.getUint32(20, isLittleEndian) & 0x0fffffff;
  return { isNanosecond, isLittleEndian, versionMajor, versionMinor, snapLen, linkType };
}

/**
 * The most bytes one record may store: 256 KiB (libpcap's and Wireshark's largest snapshot
 * length, so what any capture tool writes), or the file's own snapshot length when that is
 * larger, but never more than `MAX_RECORD_BYTES`. A record header claiming more is refused as
 * soon as it is read: a reader of standard input would otherwise wait for (and buffer) up to
 * 4 GiB that are not coming.
 */
export const MAX_RECORD_BYTES = 16 * 1024 * 1024;

export function maxStoredBytes(snapLen: number): number {
  return Math.min(MAX_RECORD_BYTES, Math.max(DEFAULT_SNAPLEN, snapLen));
}

/**
 * Yields the records in `buf[from, buf.length)`, which follow a file header `header`. Offsets
 * (in records and in errors) are `base +` the position in `buf`, so a reader of a stream can
 * hand over the part it holds. When `isWhole` is false, a record not yet complete ends the walk
 * (the generator returns where it starts) instead of being a truncated file; a header that is
 * wrong is an error either way.
 */
export function* pcapRecordsIn(
  buf: Uint8Array,
  from: number,
  header: PcapHeader,
  base = 0,
  isWhole = true,
): Generator<CaptureRecord, number, void> {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const le = header.isLittleEndian;
  const fracToNs = header.isNanosecond ? 1n : 1000n;
  const fracLimit = header.isNanosecond ? 1_000_000_000 : 1_000_000;
  const maxStored = maxStoredBytes(header.snapLen);
  let at = from;
  while (at < buf.length) {
    const offset = base + at;
    if (at + PCAP_RECORD_HEADER_LEN > buf.length) {
      if (!isWhole) return at;
      throw new WireError(
        "truncated",
        offset,
        `pcap record header at offset ${offset}: need 16 bytes, have ${buf.length - at}`,
      );
    }
    const sec = view.getUint32(at, le);
    const frac = view.getUint32(at + 4, le);
    const inclLen = view.getUint32(at + 8, le);
    const origLen = view.getUint32(at + 12, le);
    if (frac >= fracLimit) {
      throw new WireError(
        "bad-value",
        offset + 4,
        `pcap record at offset ${offset}: fraction ${frac} is not below one second (${fracLimit})`,
      );
    }
    if (inclLen > maxStored) {
      throw new WireError(
        "bad-length",
        offset + 8,
        `pcap record at offset ${offset}: claims ${inclLen} stored bytes, more than the ${maxStored} a record may hold (snapshot length ${header.snapLen})`,
      );
    }
    if (at + PCAP_RECORD_HEADER_LEN + inclLen > buf.length) {
      if (!isWhole) return at;
      throw new WireError(
        "truncated",
        offset,
        `pcap record at offset ${offset}: stores ${inclLen} bytes, file has ${buf.length - at - PCAP_RECORD_HEADER_LEN}`,
      );
    }
    const start = at + PCAP_RECORD_HEADER_LEN;
    yield {
      timeNs: BigInt(sec) * 1_000_000_000n + BigInt(frac) * fracToNs,
      data: buf.subarray(start, start + inclLen),
      originalLength: origLen,
      linkType: header.linkType,
      interfaceId: 0,
      fileOffset: offset,
    };
    at = start + inclLen;
  }
  return at;
}

/**
 * Yields the records of a pcap file in order. A file that ends inside a record yields the
 * records before it and then throws a `truncated` WireError naming the offset of the bad record.
 */
export function* pcapRecords(file: Uint8Array): Generator<CaptureRecord, void, void> {
  yield* pcapRecordsIn(file, PCAP_FILE_HEADER_LEN, readPcapHeader(file));
}

/** Reads a whole pcap file; throws a WireError at the first problem. */
export function readPcap(file: Uint8Array): { header: PcapHeader; records: CaptureRecord[] } {
  const header = readPcapHeader(file);
  return { header, records: [...pcapRecords(file)] };
}
