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
  type PcapHeader,
  pcapRecords,
  pcapRecordsIn,
  readPcapHeader,
} from "./pcap.ts";
import { PCAPNG_SHB, PcapngReader, pcapngRecords } from "./pcapng.ts";

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
  const what =
    file.length === 0
      ? "it is empty"
      : file.length < 4
        ? `only ${file.length} bytes long`
        : "no pcap or pcapng magic";
  throw new WireError("bad-value", 0, `not a capture file: ${what}`);
}

/**
 * How many capture interfaces a file declares (a pcapng's Interface Description Blocks in all
 * sections; 1 for classic pcap). A file broken part way counts those before the break.
 */
export function captureInterfaceCount(file: Uint8Array): number {
  if (detectCaptureFormat(file) !== "pcapng") return 1;
  const reader = new PcapngReader();
  try {
    for (const _ of reader.blocksIn(file, 0)) {
      // walking the blocks counts the interfaces
    }
  } catch {
    // the records' reader reports the fault; what came before it counts
  }
  return reader.interfacesSeen;
}

/**
 * A capture arriving in pieces (`dumpcap -w - | vnet decode -`): `feed` each chunk as it comes,
 * with a function that receives every record the chunk completes, and `end` when the input
 * ends. The same readers as for a whole file (`pcapRecordsIn`, `PcapngReader`) walk the bytes
 * held, so the stream yields the same records and the same errors, at the same offsets, as the
 * file would: the records before a fault are handed out before the fault is thrown. A record or
 * block header claiming more than a record may hold is refused as soon as it arrives.
 *
 * The bytes not yet consumed live in one buffer that grows by doubling and is compacted (what
 * was consumed is dropped) before it grows, so buffering a large record costs time linear in
 * its size. Records' `data` are copies; `fileOffset` is the offset in the whole stream.
 */
export class CaptureStream {
  private buf = new Uint8Array(64 * 1024);
  /** `buf[head, tail)` holds the bytes not yet consumed; `buf[head]` is at stream offset `consumed`. */
  private head = 0;
  private tail = 0;
  private consumed = 0;
  private format: CaptureFormat | undefined;
  private pcapHeader: PcapHeader | undefined;
  private pcapng: PcapngReader | undefined;
  /** A fault found by `push` after records it returned, thrown by the next call. */
  private fault: unknown;

  /**
   * Takes `chunk` and hands each record it completes to `onRecord`, in order; throws a WireError
   * at the first fault, after handing out the records before it.
   */
  feed(chunk: Uint8Array, onRecord: (record: CaptureRecord) => void): void {
    if (this.fault !== undefined) throw this.fault;
    this.append(chunk);
    if (this.format === undefined) {
      if (this.tail - this.head < 4) return;
      this.format = detectCaptureFormat(this.held());
      if (this.format === undefined)
        throw new WireError("bad-value", 0, "not a capture file: no pcap or pcapng magic");
    }
    this.walk(false, onRecord);
  }

  /**
   * `feed` that returns the records instead: when a fault follows some of them, those are
   * returned and the fault is thrown by the next `push` or `end`.
   */
  push(chunk: Uint8Array): CaptureRecord[] {
    const out: CaptureRecord[] = [];
    try {
      this.feed(chunk, (r) => out.push(r));
    } catch (e) {
      if (out.length === 0) throw e;
      this.fault = e;
    }
    return out;
  }

  /**
   * The input ended: what is left is a record or block cut short, reported as the file reader
   * reports the same bytes; no input at all is no capture, as an empty file is not.
   */
  end(onRecord: (record: CaptureRecord) => void = () => {}): void {
    if (this.fault !== undefined) throw this.fault;
    if (this.format === undefined) {
      const n = this.tail - this.head;
      throw new WireError(
        "bad-value",
        0,
        n === 0 ? "not a capture file: it is empty" : `not a capture file: only ${n} bytes long`,
      );
    }
    this.walk(true, onRecord);
  }

  /** The capture interfaces declared so far (1 for classic pcap, which has one). */
  get interfacesSeen(): number {
    return this.pcapng === undefined ? 1 : this.pcapng.interfacesSeen;
  }

  private held(): Uint8Array {
    return this.buf.subarray(this.head, this.tail);
  }

  private append(chunk: Uint8Array): void {
    if (this.tail + chunk.length > this.buf.length) {
      const live = this.tail - this.head;
      if (live + chunk.length <= this.buf.length / 2) {
        // Plenty of room once the consumed bytes are dropped.
        this.buf.copyWithin(0, this.head, this.tail);
      } else {
        let size = this.buf.length * 2;
        while (size < live + chunk.length) size *= 2;
        const grown = new Uint8Array(size);
        grown.set(this.buf.subarray(this.head, this.tail));
        this.buf = grown;
      }
      this.head = 0;
      this.tail = live;
    }
    this.buf.set(chunk, this.tail);
    this.tail += chunk.length;
  }

  /** Runs the format's reader over the held bytes, consuming the complete records. */
  private walk(isWhole: boolean, onRecord: (record: CaptureRecord) => void): void {
    const held = this.held();
    let from = 0;
    if (this.format === "pcap" && this.pcapHeader === undefined) {
      if (held.length < PCAP_FILE_HEADER_LEN && !isWhole) return;
      this.pcapHeader = readPcapHeader(held); // a short one is the file reader's error
      from = PCAP_FILE_HEADER_LEN;
    }
    if (this.format === "pcapng" && this.pcapng === undefined) this.pcapng = new PcapngReader();
    const records =
      this.pcapng !== undefined
        ? this.pcapng.blocksIn(held, from, this.consumed, isWhole)
        : pcapRecordsIn(held, from, this.pcapHeader as PcapHeader, this.consumed, isWhole);
    let step = records.next();
    for (; !step.done; step = records.next()) {
      const r = step.value;
      // The buffer is reused: hand out a copy of the bytes, not a view.
      onRecord({ ...r, data: r.data.slice() });
    }
    this.consume(step.value);
  }

  private consume(n: number): void {
    this.head += n;
    this.consumed += n;
    if (this.head === this.tail) this.head = this.tail = 0;
  }
}
