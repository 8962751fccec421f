/**
 * Loading a topology file from disk: the one part of the loader that touches `node:fs`. The
 * work itself is `loadTopologyText` (load-text.ts, browser-safe), re-exported here so Node
 * callers need one import.
 */

import { readFileSync, statSync } from "node:fs";
import { type DiagnosticCode, TopologyError } from "./diagnostics.ts";
import { type LoadResult, loadTopologyText } from "./load-text.ts";

export { type Diagnostic, formatDiagnostic, TopologyError } from "./diagnostics.ts";
export { type LoadResult, loadTopologyText } from "./load-text.ts";

/**
 * The largest topology file read: about 10 times the generated 16,000-VM data center (1.7 MB),
 * which the fast reader loads in about 1 GB of heap. Past it the file is refused before it is
 * read, so a wrong path (a disk image, a log) costs nothing.
 */
export const MAX_TOPOLOGY_BYTES = 16 * 1024 * 1024;

/** Reads and loads a topology file; an unreadable file is a `TopologyError` with one diagnostic. */
export function loadTopologyFile(path: string): LoadResult {
  const fail = (code: DiagnosticCode, message: string, line = 0, col = 0): never => {
    throw new TopologyError([{ file: path, line, col, path: "", message, severity: "error", code }]);
  };
  let bytes: Uint8Array;
  try {
    const size = statSync(path).size;
    if (size > MAX_TOPOLOGY_BYTES)
      fail(
        "file-too-large",
        `the file is ${(size / 1024 / 1024).toFixed(1)} MiB; a topology file may be at most ${MAX_TOPOLOGY_BYTES / 1024 / 1024} MiB`,
      );
    bytes = readFileSync(path);
  } catch (e) {
    if (e instanceof TopologyError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === "ENOENT"
        ? "no such file"
        : code === "EISDIR"
          ? "is a directory, not a topology file"
          : code === "EACCES"
            ? "permission denied"
            : ((e as Error).message ?? String(e));
    return fail("unreadable-file", `cannot read the topology file: ${why}`);
  }
  // A capture, an image or an archive given by mistake: say so rather than point at a byte.
  if (bytes.subarray(0, 8192).includes(0))
    fail("bad-encoding", "the file is binary (it holds NUL bytes), not a YAML topology file", 0, 0);
  const bad = firstInvalidUtf8(bytes);
  if (bad !== undefined) {
    // A YAML file is Unicode text; silently replacing a stray byte would put U+FFFD in a name.
    const lineStart = bytes.lastIndexOf(0x0a, bad - 1) + 1;
    const line = countNewlines(bytes, bad) + 1;
    const col = utf8.decode(bytes.subarray(lineStart, bad)).length + 1;
    const isUtf16 = (bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff);
    fail(
      "bad-encoding",
      isUtf16
        ? "the file is UTF-16 text; save it as UTF-8"
        : `the file is not UTF-8 text: byte 0x${bytes[bad].toString(16).padStart(2, "0")} does not belong here; save it as UTF-8`,
      line,
      col,
    );
  }
  return loadTopologyText(utf8.decode(bytes), path);
}

const utf8 = new TextDecoder("utf-8");

function countNewlines(bytes: Uint8Array, end: number): number {
  let n = 0;
  for (let i = bytes.indexOf(0x0a); i >= 0 && i < end; i = bytes.indexOf(0x0a, i + 1)) n++;
  return n;
}

/**
 * Offset of the first byte that is not part of well-formed UTF-8 (RFC 3629 §4: no overlong
 * forms, no surrogates, nothing above U+10FFFF), or undefined when the whole text is UTF-8.
 */
export function firstInvalidUtf8(b: Uint8Array): number | undefined {
  let i = 0;
  while (i < b.length) {
    const c = b[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    let n: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) n = 1;
    else if (c >= 0xe0 && c <= 0xef) {
      n = 2;
      if (c === 0xe0) lo = 0xa0;
      else if (c === 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3;
      if (c === 0xf0) lo = 0x90;
      else if (c === 0xf4) hi = 0x8f;
    } else return i;
    for (let k = 1; k <= n; k++) {
      const d = b[i + k];
      if (d === undefined || d < (k === 1 ? lo : 0x80) || d > (k === 1 ? hi : 0xbf)) return i;
    }
    i += n + 1;
  }
  return undefined;
}
