/**
 * Capture files of either kind: tells pcap from pcapng by the first four bytes and reads the
 * records of whichever it is. The front ends (`vnet decode`, tests) use this instead of
 * choosing a reader themselves.
 */

import { WireError } from "./error.ts";
import { type CaptureRecord, PCAP_MAGIC_NS, PCAP_MAGIC_US, pcapRecords } from "./pcap.ts";
import { PCAPNG_SHB, pcapngRecords } from "./pcapng.ts";

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
