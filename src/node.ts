/**
 * vnet's Node entry: everything the browser-safe facade offers, plus what needs the file system:
 * loading a topology file by path, and writing a run's captures into a folder. The CLI and
 * scripts use it.
 */

import { mkdirSync, mkdtempSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { basename, join, resolve, sep } from "node:path";
import { loadTopologyFile } from "./model/load.ts";
import { Network, type NetworkOptions } from "./network.ts";
import type { CaptureOptions } from "./sim/capture.ts";

/**
 * Reads and validates a topology file, then builds it. A file that cannot be read, or has any
 * error, throws `TopologyError` (every diagnostic at `file:line:col`); nothing is built.
 */
export async function loadNetwork(path: string, options: NetworkOptions = {}): Promise<Network> {
  return Network.fromLoaded(loadTopologyFile(path), options);
}

/** A capture file written by `writeCaptures`. */
export interface WrittenCapture {
  path: string;
  frames: number;
  /** The capture points (`device:port`) in the file, in pcapng interface id order. */
  interfaces: string[];
}

/**
 * Writes the run's captures so far (after `net.startCaptures()`) into `dir`, created if needed:
 * `dir/vnet.pcapng`, or with `{ perLink: true }` one pcap per link end (`tor1-eth1.pcap`, names
 * made safe for any file system). All or nothing: the files are written into a temporary folder
 * inside `dir`, then moved into place; on a failure none of this run's files is left in `dir`
 * and the error (a Node `fs` error with its `code`) is thrown. Nothing is written, and `dir` is
 * not created, when nothing was captured. Returns each file's path, frames and interfaces.
 */
/**
 * `mkdir -p`, one level at a time. Node's own recursive mkdir never returns on a path under
 * /proc (it loops on EEXIST/ENOENT there), so it is not used; a component that exists and is not
 * a directory is an ENOTDIR error naming it.
 */
function makeDirectory(dir: string): void {
  const parts = resolve(dir)
    .split(sep)
    .filter((p) => p !== "");
  let path: string = sep;
  for (const part of parts) {
    path = join(path, part);
    let st: ReturnType<typeof statSync> | undefined;
    try {
      st = statSync(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
    if (st === undefined) mkdirSync(path);
    else if (!st.isDirectory()) {
      const err = new Error(`ENOTDIR: ${path} is a file, not a directory`) as NodeJS.ErrnoException;
      err.code = "ENOTDIR";
      throw err;
    }
  }
}

export function writeCaptures(net: Network, dir: string, options: CaptureOptions = {}): WrittenCapture[] {
  const files = net.captures(options);
  if (files.length === 0) return [];
  for (const f of files) {
    if (basename(f.fileName) !== f.fileName || f.fileName.startsWith(".")) {
      throw new Error(`writeCaptures: unsafe capture file name ${JSON.stringify(f.fileName)}`);
    }
  }
  makeDirectory(dir);
  const tmp = mkdtempSync(join(dir, ".vnet-captures-"));
  const placed: string[] = [];
  try {
    for (const f of files) writeFileSync(join(tmp, f.fileName), f.bytes);
    for (const f of files) {
      const path = join(dir, f.fileName);
      renameSync(join(tmp, f.fileName), path);
      placed.push(path);
    }
  } catch (e) {
    for (const p of placed) {
      try {
        unlinkSync(p);
      } catch {
        // Already gone: nothing to undo.
      }
    }
    throw e;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return files.map((f) => ({ path: join(dir, f.fileName), frames: f.frames, interfaces: f.interfaces }));
}
