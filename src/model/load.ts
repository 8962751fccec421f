/**
 * Loading a topology file from disk: the one part of the loader that touches `node:fs`. The
 * work itself is `loadTopologyText` (load-text.ts, browser-safe), re-exported here so Node
 * callers need one import.
 */

import { readFileSync } from "node:fs";
import { TopologyError } from "./diagnostics.ts";
import { type LoadResult, loadTopologyText } from "./load-text.ts";

export { type Diagnostic, formatDiagnostic, TopologyError } from "./diagnostics.ts";
export { type LoadResult, loadTopologyText } from "./load-text.ts";

/** Reads and loads a topology file; an unreadable file is a `TopologyError` with one diagnostic. */
export function loadTopologyFile(path: string): LoadResult {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === "ENOENT"
        ? "no such file"
        : code === "EISDIR"
          ? "is a directory, not a topology file"
          : code === "EACCES"
            ? "permission denied"
            : ((e as Error).message ?? String(e));
    throw new TopologyError([
      {
        file: path,
        line: 0,
        col: 0,
        path: "",
        message: `cannot read the topology file: ${why}`,
        severity: "error",
        code: "unreadable-file",
      },
    ]);
  }
  return loadTopologyText(text, path);
}
