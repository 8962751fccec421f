/**
 * Capture files of either kind: tells pcap from pcapng by the first four bytes and reads the
 * records of whichever it is, from a whole file (`captureRecords`) or from a stream arriving in
 * pieces (`CaptureStream`). The front ends (`vnet decode`, tests) use this instead of choosing
 * a reader themselves.
 */

import { WireError } from "./error.ts";
import {
  type CaptureRecord,
  PCAP_FILE_HEADER_LEN,
  PCAP_MAGIC_NS,
  PCAP_MAGIC_US,
  PCAP_RECORD_HEADER_LEN,
  pcapRecords,
  readPcapHeader,
} from "./pcap.ts";
import { PCAPNG_BYTE_ORDER_MAGIC, PCAPNG_IDB, PCAPNG_SHB, pcapngRecords } from "./pcapng.ts";

export type CaptureFormat = "pcap" | "pcapng";

/** The format of a capture file by its magic, or undefined when it is neither. */
export function detectCaptureFormat(file: Uint8Array): CaptureFormat | undefined {
  if (file.length < 4) return undefined;
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const le = view.getUint32(0, true);
  const be = view.getUint32(0, false);
  if (be === PCAPNG_SHB) return "pcapng"; // a palindrome: the same in both byte orders
  for (const m of [PCAP_MAGIC_NS, PCAP_MAGIC_US]) if (le === m || be === m) return "pcap";
  return undefined;
}

/**
 * Yields the records of a pcap or pcapng file. Throws a `bad-value` WireError at offset 0 for a
 * file that is neither; other errors come from the format's reader after the good records.
 */
export function captureRecords(file: Uint8Array): Generator<CaptureRecord, void, void> {
  const format = detectCaptureFormat(file);
  if (format === "pcap") return pcapRecords(file);
  if (format === "pcapng") return pcapngRecords(file);
  const what = file.length < 4 ? `only ${file.length} bytes long` : "no pcap or pcapng magic";
  throw new WireError("bad-value", 0, `not a capture file: ${what}`);
}

function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b.slice();
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/**
 * A capture arriving in pieces (`dumpcap -w - | vnet decode -`): `push` each chunk as it comes and
 * get back the records it completed; `end` when the input ends. It walks record/block headers to
 * find where each record ends and hands every complete one, with the file header (pcap) or the
 * section and interface blocks seen so far (pcapng), to the ordinary readers, so both paths parse
 * the same way. Records' `data` are copies; `fileOffset` is the offset in the whole stream.
 */
export class CaptureStream {
  private pending: Uint8Array = new Uint8Array(0);
  /** Stream offset of `pending[0]`. */
  private consumed = 0;
  private format: CaptureFormat | undefined;
  /** pcap: the file header. pcapng: the current section's SHB and IDBs. */
  private preamble: Uint8Array = new Uint8Array(0);
  private isLittleEndian = true;

  push(chunk: Uint8Array): CaptureRecord[] {
    this.pending = concatBytes(this.pending, chunk);
    const out: CaptureRecord[] = [];
    if (this.format === undefined) {
      if (this.pending.length < 4) return out;
      this.format = detectCaptureFormat(this.pending);
      if (this.format === undefined)
        throw new WireError("bad-value", 0, "not a capture file: no pcap or pcapng magic");
    }
    if (this.format === "pcap") this.pcap(out);
    else this.pcapng(out);
    return out;
  }

  /** The input ended: anything left over is a record or block cut short. */
  end(): void {
    if (this.format === undefined && this.pending.length > 0) {
      throw new WireError("bad-value", 0, `not a capture file: only ${this.pending.length} bytes long`);
    }
    if (this.pending.length > 0) {
      const what = this.format === "pcap" && this.preamble.length === 0 ? "the file header" : "a record";
      throw new WireError(
        "truncated",
        this.consumed,
        `capture ends inside ${what} at offset ${this.consumed} (${this.pending.length} bytes left)`,
      );
    }
  }

  private take(n: number): Uint8Array {
    const bytes = this.pending.subarray(0, n);
    this.pending = this.pending.subarray(n);
    this.consumed += n;
    return bytes;
  }

  /** Runs `read` over preamble + block and rebases what it yields (and any error) to the stream. */
  private emit(block: Uint8Array, read: (file: Uint8Array) => Iterable<CaptureRecord>, out: CaptureRecord[]) {
    const at = this.consumed - block.length;
    const shift = at - this.preamble.length;
    try {
      for (const r of read(concatBytes(this.preamble, block))) {
        out.push({ ...r, data: r.data.slice(), fileOffset: r.fileOffset + shift });
      }
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
      const offset = e.offset >= this.preamble.length ? e.offset + shift : e.offset;
      throw new WireError(
        e.code,
        offset,
        e.message.replace(/offset (\d+)/g, (_, n) => `offset ${Number(n) + shift}`),
      );
    }
  }

  private pcap(out: CaptureRecord[]): void {
    if (this.preamble.length === 0) {
      if (this.pending.length < PCAP_FILE_HEADER_LEN) return;
      const header = readPcapHeader(this.pending.subarray(0, PCAP_FILE_HEADER_LEN));
      this.isLittleEndian = header.isLittleEndian;
      this.preamble = this.take(PCAP_FILE_HEADER_LEN).slice();
    }
    while (this.pending.length >= PCAP_RECORD_HEADER_LEN) {
      const view = new DataView(this.pending.buffer, this.pending.byteOffset, this.pending.byteLength);
      const total = PCAP_RECORD_HEADER_LEN + view.getUint32(8, this.isLittleEndian);
      if (this.pending.length < total) return;
      this.emit(this.take(total), pcapRecords, out);
    }
  }

  private pcapng(out: CaptureRecord[]): void {
    while (this.pending.length >= 12) {
      const view = new DataView(this.pending.buffer, this.pending.byteOffset, this.pending.byteLength);
      const isSection = view.getUint32(0, true) === PCAPNG_SHB;
      if (isSection) this.isLittleEndian = view.getUint32(8, true) === PCAPNG_BYTE_ORDER_MAGIC;
      const type = view.getUint32(0, this.isLittleEndian);
      const total = view.getUint32(4, this.isLittleEndian);
      if (total < 12 || total % 4 !== 0) {
        throw new WireError(
          "bad-length",
          this.consumed + 4,
          `pcapng block at offset ${this.consumed}: bad total length ${total}`,
        );
      }
      if (this.pending.length < total) return;
      const block = this.take(total).slice();
      if (isSection) {
        this.preamble = new Uint8Array(0);
        this.emit(block, pcapngRecords, out); // validates the section header
        this.preamble = block;
      } else if (type === PCAPNG_IDB) {
        this.emit(block, pcapngRecords, out); // validates the interface block
        this.preamble = concatBytes(this.preamble, block);
      } else {
        this.emit(block, pcapngRecords, out);
      }
    }
  }
}
