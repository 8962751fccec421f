/**
 * pcapng capture files (draft-ietf-opsawg-pcapng): a streaming writer (one Section Header Block,
 * one Interface Description Block per capture point with `if_name` and nanosecond `if_tsresol`,
 * one Enhanced Packet Block per frame) and a reader that also accepts several sections, either
 * byte order, several interfaces with their own time resolution and offset, Simple Packet
 * Blocks, and skips block types it does not know. Browser-safe, beside `pcap.ts`.
 *
 *   Every block:  type (4) | total length (4) | body ... padded to 32 bits | total length (4)
 *   SHB 0x0a0d0d0a: byte-order magic 0x1a2b3c4d, version 1.0, section length (-1), options
 *   IDB 0x00000001: link type (2), reserved (2), snaplen (4), options
 *   EPB 0x00000006: interface id, timestamp high, low, captured length, original length,
 *                   data padded to 32 bits, options
 *   SPB 0x00000003: original length, data (interface 0, no timestamp)
 *   option:        code (2) | length (2) | value padded to 32 bits; code 0 ends the list
 */

import { WireError } from "./error.ts";
import { ByteSink, type CaptureRecord, DEFAULT_SNAPLEN, LINKTYPE_ETHERNET } from "./pcap.ts";

export const PCAPNG_SHB = 0x0a0d0d0a;
export const PCAPNG_IDB = 0x00000001;
export const PCAPNG_SPB = 0x00000003;
export const PCAPNG_EPB = 0x00000006;
export const PCAPNG_BYTE_ORDER_MAGIC = 0x1a2b3c4d;

/** Option codes used here (draft-ietf-opsawg-pcapng 4.2). */
const OPT_ENDOFOPT = 0;
const OPT_COMMENT = 1;
const OPT_SHB_USERAPPL = 4;
const OPT_IF_NAME = 2;
const OPT_IF_DESCRIPTION = 3;
const OPT_IF_TSRESOL = 9;
const OPT_IF_TSOFFSET = 14;
const OPT_EPB_FLAGS = 2;

/** Per-packet annotations an Enhanced Packet Block can carry. */
export interface PacketMeta {
  /** Whether the capture point saw the frame arrive or leave (tshark: frame.packet_flags_direction). */
  direction?: "inbound" | "outbound";
  comment?: string;
}

export interface PcapngInterfaceOptions {
  name: string;
  description?: string;
  linkType?: number;
  snapLen?: number;
}

const textEncoder = new TextEncoder();
/** Shared by every packet without annotations, so appending one allocates nothing. */
const NO_OPTIONS: Array<[number, Uint8Array]> = [];

function pad4(n: number): number {
  return (n + 3) & ~3;
}

/**
 * Writes a pcapng file in little-endian order. Interfaces may be added at any time (an IDB is
 * written when added, before any packet that names it); timestamps are nanoseconds.
 */
export class PcapngWriter {
  private readonly sink = new ByteSink();
  private readonly snapLens: number[] = [];
  private count = 0;

  constructor(options: { application?: string; comment?: string } = {}) {
    const opts: Array<[number, Uint8Array]> = [];
    if (options.comment) opts.push([OPT_COMMENT, textEncoder.encode(options.comment)]);
    opts.push([OPT_SHB_USERAPPL, textEncoder.encode(options.application ?? "vnet")]);
    const body = 16;
    const at = this.beginBlock(PCAPNG_SHB, body, opts);
    const s = this.sink;
    s.u32(at + 8, PCAPNG_BYTE_ORDER_MAGIC);
    s.u16(at + 12, 1);
    s.u16(at + 14, 0);
    s.u32(at + 16, 0xffffffff); // section length -1: not given (we stream)
    s.u32(at + 20, 0xffffffff);
  }

  /** Adds a capture point; returns its interface id for `append`. */
  addInterface(options: PcapngInterfaceOptions): number {
    const snapLen = options.snapLen ?? DEFAULT_SNAPLEN;
    const opts: Array<[number, Uint8Array]> = [[OPT_IF_NAME, textEncoder.encode(options.name)]];
    if (options.description) opts.push([OPT_IF_DESCRIPTION, textEncoder.encode(options.description)]);
    opts.push([OPT_IF_TSRESOL, new Uint8Array([9])]); // 10^-9: nanoseconds
    const at = this.beginBlock(PCAPNG_IDB, 8, opts);
    const s = this.sink;
    s.u16(at + 8, options.linkType ?? LINKTYPE_ETHERNET);
    s.u16(at + 10, 0);
    s.u32(at + 12, snapLen);
    this.snapLens.push(snapLen);
    return this.snapLens.length - 1;
  }

  get interfaceCount(): number {
    return this.snapLens.length;
  }

  get recordCount(): number {
    return this.count;
  }

  /** Appends one frame seen on `interfaceId` at `timeNs`. */
  append(
    interfaceId: number,
    timeNs: number | bigint,
    frame: Uint8Array,
    originalLength = frame.length,
    meta?: PacketMeta,
  ): void {
    const snapLen = this.snapLens[interfaceId];
    if (snapLen === undefined) throw new RangeError(`pcapng: no interface ${interfaceId}`);
    const stored = Math.min(frame.length, snapLen);
    let hi: number;
    let lo: number;
    if (typeof timeNs === "bigint") {
      if (timeNs < 0n) throw new RangeError(`negative capture time ${timeNs} ns`);
      hi = Number((timeNs >> 32n) & 0xffffffffn);
      lo = Number(timeNs & 0xffffffffn);
    } else {
      if (!(timeNs >= 0) || !Number.isFinite(timeNs)) throw new RangeError(`bad capture time ${timeNs} ns`);
      hi = Math.floor(timeNs / 0x100000000);
      lo = timeNs - hi * 0x100000000;
    }
    const opts: Array<[number, Uint8Array]> = meta ? [] : NO_OPTIONS;
    if (meta?.direction) {
      // epb_flags bits 0-1: 01 inbound, 10 outbound (draft-ietf-opsawg-pcapng 4.3.1), LE like the file.
      opts.push([OPT_EPB_FLAGS, new Uint8Array([meta.direction === "inbound" ? 1 : 2, 0, 0, 0])]);
    }
    if (meta?.comment) opts.push([OPT_COMMENT, textEncoder.encode(meta.comment)]);
    const at = this.beginBlock(PCAPNG_EPB, 20 + pad4(stored), opts);
    const s = this.sink;
    s.u32(at + 8, interfaceId);
    s.u32(at + 12, hi);
    s.u32(at + 16, lo);
    s.u32(at + 20, stored);
    s.u32(at + 24, Math.max(originalLength, stored));
    s.bytesAt(at + 28, stored === frame.length ? frame : frame.subarray(0, stored));
    s.zero(at + 28 + stored, pad4(stored) - stored);
    this.count++;
  }

  /** The file so far (everything not yet drained), as a copy. */
  bytes(): Uint8Array {
    return this.sink.bytes();
  }

  /** The bytes since the previous drain (the section header first), released from the writer. */
  drain(): Uint8Array {
    return this.sink.drain();
  }

  /**
   * Reserves a whole block with a fixed body of `fixedLen` bytes followed by `options` (and an
   * end-of-options marker when there are any); writes type, both lengths and the options.
   * Returns the block's offset; the caller fills the fixed body at offset + 8.
   */
  private beginBlock(type: number, fixedLen: number, options: Array<[number, Uint8Array]>): number {
    let optLen = 0;
    for (const [, v] of options) optLen += 4 + pad4(v.length);
    if (options.length > 0) optLen += 4;
    const total = 12 + fixedLen + optLen;
    const s = this.sink;
    const at = s.reserve(total);
    s.u32(at, type);
    s.u32(at + 4, total);
    let o = at + 8 + fixedLen;
    for (const [code, v] of options) {
      s.u16(o, code);
      s.u16(o + 2, v.length);
      s.bytesAt(o + 4, v);
      s.zero(o + 4 + v.length, pad4(v.length) - v.length);
      o += 4 + pad4(v.length);
    }
    if (options.length > 0) {
      s.u16(o, OPT_ENDOFOPT);
      s.u16(o + 2, 0);
    }
    s.u32(at + total - 4, total);
    return at;
  }
}

/** What the reader learned about one interface from its IDB. */
export interface PcapngInterface {
  linkType: number;
  snapLen: number;
  name?: string;
  description?: string;
  /** Timestamp units: ns = ticks * nsPerTickNum / nsPerTickDen. */
  tsresol: number;
  tsoffsetSec: bigint;
  nsPerTickNum: bigint;
  nsPerTickDen: bigint;
}

/**
 * The largest block the reader takes (16 MiB, as pcap.ts's `MAX_RECORD_BYTES`): a packet block
 * holds at most a 256 KiB snapshot in practice. A block header claiming more is refused as soon
 * as it is read, so a reader of standard input does not wait for gigabytes that are not coming.
 */
export const MAX_BLOCK_BYTES = 16 * 1024 * 1024;

function tsresolToFraction(raw: number, at: number): [bigint, bigint] {
  if (raw & 0x80) {
    // A negative power of two (rare: some hardware capture cards).
    const exp = raw & 0x7f;
    if (exp > 63) throw new WireError("bad-value", at, `if_tsresol 2^-${exp} is out of range`);
    return [1_000_000_000n, 1n << BigInt(exp)];
  }
  if (raw > 18) throw new WireError("bad-value", at, `if_tsresol 10^-${raw} is out of range`);
  return raw <= 9 ? [10n ** BigInt(9 - raw), 1n] : [1n, 10n ** BigInt(raw - 9)];
}

interface BlockCursor {
  view: DataView;
  le: boolean;
  /** Added to positions in the buffer to give offsets in the file (a stream hands over a part). */
  base: number;
}

/** Reads the options list in [start, end), calling `onOption(code, valueOffset, length)`. */
function readOptions(
  c: BlockCursor,
  start: number,
  end: number,
  onOption: (code: number, at: number, len: number) => void,
): void {
  let o = start;
  while (o + 4 <= end) {
    const code = c.view.getUint16(o, c.le);
    const len = c.view.getUint16(o + 2, c.le);
    if (code === OPT_ENDOFOPT) return;
    if (o + 4 + len > end) {
      throw new WireError(
        "bad-length",
        c.base + o,
        `pcapng option ${code} at offset ${c.base + o}: length ${len} overruns its block`,
      );
    }
    onOption(code, o + 4, len);
    o += 4 + pad4(len);
  }
}

const textDecoder = new TextDecoder("utf-8", { fatal: false });

/** Parses an Interface Description Block whose options end at `end`. */
function parseInterface(file: Uint8Array, c: BlockCursor, at: number, end: number): PcapngInterface {
  const { view, le } = c;
  const iface: PcapngInterface = {
    linkType: view.getUint16(at + 8, le),
    snapLen: view.getUint32(at + 12, le),
    tsresol: 6, // default: microseconds
    tsoffsetSec: 0n,
    nsPerTickNum: 1000n,
    nsPerTickDen: 1n,
  };
  readOptions(c, at + 16, end, (code, o, len) => {
    if (code === OPT_IF_NAME) iface.name = textDecoder.decode(file.subarray(o, o + len));
    else if (code === OPT_IF_DESCRIPTION) iface.description = textDecoder.decode(file.subarray(o, o + len));
    else if (code === OPT_IF_TSRESOL && len >= 1) {
      iface.tsresol = file[o];
      [iface.nsPerTickNum, iface.nsPerTickDen] = tsresolToFraction(file[o], c.base + o);
    } else if (code === OPT_IF_TSOFFSET && len >= 8) {
      iface.tsoffsetSec = view.getBigInt64(o, le);
    }
  });
  return iface;
}

/**
 * Reads pcapng blocks in order, keeping what a section has declared (its byte order, its
 * interfaces) from one block to the next, so a file can be handed over whole or in parts as it
 * arrives. Each interface block is parsed once: the cost is linear in the blocks, however many
 * interfaces a section declares.
 */
export class PcapngReader {
  private interfaces: PcapngInterface[] = [];
  /** Interface blocks read so far, in every section. */
  interfacesSeen = 0;
  private isLittleEndian = true;
  private isFirst = true;

  constructor(private readonly onInterface?: (iface: PcapngInterface, interfaceId: number) => void) {}

  /**
   * Yields the packets of the blocks in `buf[from, buf.length)`; offsets in records and errors
   * are `base +` the position in `buf`. When `isWhole` is false, a block not yet complete ends
   * the walk (the generator returns where it starts) instead of being a truncated file; a block
   * header that is wrong (a length no block can have) is an error either way.
   */
  *blocksIn(buf: Uint8Array, from: number, base = 0, isWhole = true): Generator<CaptureRecord, number, void> {
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    const c: BlockCursor = { view, le: this.isLittleEndian, base };
    let at = from;
    while (at < buf.length) {
      const offset = base + at;
      if (at + 12 > buf.length) {
        if (!isWhole) return at;
        throw new WireError(
          "truncated",
          offset,
          `pcapng block at offset ${offset}: need 12 bytes, have ${buf.length - at}`,
        );
      }
      const typeLe = view.getUint32(at, true);
      const isSection = typeLe === PCAPNG_SHB;
      if (isSection) {
        // The byte order of a section is set by its SHB's magic, read in either order.
        if (view.getUint32(at + 8, true) === PCAPNG_BYTE_ORDER_MAGIC) c.le = true;
        else if (view.getUint32(at + 8, false) === PCAPNG_BYTE_ORDER_MAGIC) c.le = false;
        else
          throw new WireError(
            "bad-value",
            offset + 8,
            `pcapng section at offset ${offset}: bad byte-order magic`,
          );
        this.isLittleEndian = c.le;
      } else if (this.isFirst) {
        throw new WireError(
          "bad-value",
          0,
          `not a pcapng file (first block type 0x${view.getUint32(at, false).toString(16).padStart(8, "0")}, expected 0a0d0d0a)`,
        );
      }
      const type = view.getUint32(at, c.le);
      const total = view.getUint32(at + 4, c.le);
      if (total < 12 || total % 4 !== 0) {
        throw new WireError(
          "bad-length",
          offset + 4,
          `pcapng block at offset ${offset}: bad total length ${total}`,
        );
      }
      if (total > MAX_BLOCK_BYTES) {
        throw new WireError(
          "bad-length",
          offset + 4,
          `pcapng block at offset ${offset}: claims ${total} bytes, more than the ${MAX_BLOCK_BYTES} a block may hold`,
        );
      }
      if (at + total > buf.length) {
        if (!isWhole) return at;
        throw new WireError(
          "truncated",
          offset,
          `pcapng block at offset ${offset}: length ${total}, file has ${buf.length - at} bytes left`,
        );
      }
      // The block is all here: from now on it belongs to the file, whatever it holds.
      this.isFirst = false;
      if (isSection) this.interfaces = [];
      const record = this.block(buf, c, at, type, total);
      if (record) yield record;
      at += total;
    }
    return at;
  }

  /** The packet of the complete block at `at`, if it is one; interface blocks are remembered. */
  private block(
    file: Uint8Array,
    c: BlockCursor,
    at: number,
    type: number,
    total: number,
  ): CaptureRecord | undefined {
    const { view } = c;
    const offset = c.base + at;
    if (view.getUint32(at + total - 4, c.le) !== total) {
      throw new WireError(
        "bad-length",
        offset + total - 4,
        `pcapng block at offset ${offset}: trailing length differs from leading length ${total}`,
      );
    }
    const end = at + total - 4;
    if (type === PCAPNG_SHB) {
      if (total < 28)
        throw new WireError("bad-length", offset + 4, `pcapng section header at offset ${offset}: too short`);
      const major = view.getUint16(at + 12, c.le);
      if (major !== 1) {
        throw new WireError(
          "bad-version",
          offset + 12,
          `pcapng section at offset ${offset}: version ${major}, expected 1`,
        );
      }
    } else if (type === PCAPNG_IDB) {
      if (total < 20)
        throw new WireError(
          "bad-length",
          offset + 4,
          `pcapng interface block at offset ${offset}: too short`,
        );
      const iface = parseInterface(file, c, at, end);
      this.interfaces.push(iface);
      this.interfacesSeen++;
      this.onInterface?.(iface, this.interfaces.length - 1);
    } else if (type === PCAPNG_EPB) {
      if (total < 32)
        throw new WireError("bad-length", offset + 4, `pcapng packet block at offset ${offset}: too short`);
      const ifId = view.getUint32(at + 8, c.le);
      const iface = this.interfaces[ifId];
      if (!iface) {
        throw new WireError(
          "bad-value",
          offset + 8,
          `pcapng packet at offset ${offset}: no interface ${ifId} in this section`,
        );
      }
      const ticks = (BigInt(view.getUint32(at + 12, c.le)) << 32n) | BigInt(view.getUint32(at + 16, c.le));
      const capLen = view.getUint32(at + 20, c.le);
      const origLen = view.getUint32(at + 24, c.le);
      if (at + 28 + capLen > end) {
        throw new WireError(
          "bad-length",
          offset + 20,
          `pcapng packet at offset ${offset}: captured length ${capLen} overruns its block`,
        );
      }
      const record: CaptureRecord = {
        timeNs: iface.tsoffsetSec * 1_000_000_000n + (ticks * iface.nsPerTickNum) / iface.nsPerTickDen,
        data: file.subarray(at + 28, at + 28 + capLen),
        originalLength: origLen,
        linkType: iface.linkType,
        interfaceId: ifId,
        fileOffset: offset,
      };
      if (iface.name !== undefined) record.interfaceName = iface.name;
      readOptions(c, at + 28 + pad4(capLen), end, (code, o, len) => {
        if (code === OPT_EPB_FLAGS && len >= 4) {
          const dir = view.getUint32(o, c.le) & 3;
          if (dir === 1) record.direction = "inbound";
          else if (dir === 2) record.direction = "outbound";
        } else if (code === OPT_COMMENT) record.comment = textDecoder.decode(file.subarray(o, o + len));
      });
      return record;
    } else if (type === PCAPNG_SPB) {
      if (total < 16)
        throw new WireError("bad-length", offset + 4, `pcapng simple packet at offset ${offset}: too short`);
      const iface = this.interfaces[0];
      if (!iface)
        throw new WireError("bad-value", offset, `pcapng simple packet at offset ${offset}: no interface 0`);
      const origLen = view.getUint32(at + 8, c.le);
      // The stored length is implied: the smaller of the original length, snaplen and the block.
      let capLen = Math.min(origLen, end - (at + 12));
      if (iface.snapLen > 0) capLen = Math.min(capLen, iface.snapLen);
      return {
        timeNs: 0n,
        data: file.subarray(at + 12, at + 12 + capLen),
        originalLength: origLen,
        linkType: iface.linkType,
        interfaceId: 0,
        fileOffset: offset,
        ...(iface.name === undefined ? {} : { interfaceName: iface.name }),
      };
    }
    // Any other block (name resolution, statistics, decryption secrets, custom) is skipped.
    return undefined;
  }
}

/**
 * Yields the packets of a pcapng file in order. A file that ends inside a block, or a block
 * whose lengths contradict each other, yields the packets before it and then throws a WireError
 * with the offset of the bad block.
 */
export function* pcapngRecords(
  file: Uint8Array,
  onInterface?: (iface: PcapngInterface, interfaceId: number) => void,
): Generator<CaptureRecord, void, void> {
  yield* new PcapngReader(onInterface).blocksIn(file, 0);
}

/** The interfaces of a pcapng file, in the order their blocks appear (all sections). */
export function pcapngInterfaces(file: Uint8Array): PcapngInterface[] {
  const out: PcapngInterface[] = [];
  for (const _ of pcapngRecords(file, (iface) => out.push(iface))) {
    // walking the file surfaces its errors in order
  }
  return out;
}

/** Reads a whole pcapng file; throws a WireError at the first problem. */
export function readPcapng(file: Uint8Array): CaptureRecord[] {
  return [...pcapngRecords(file)];
}
