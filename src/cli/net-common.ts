/**
 * What the commands that run a network share: loading a topology file into a `Network` (a broken
 * file prints the loader's `file:line:col: message` lines and exits 2), parsing numeric options
 * strictly, and writing the captures of a run to `--pcap DIR` (`--pcap-per-link`). Node-only
 * (files); the facade itself stays browser-safe.
 */

import { writeFileSync } from "node:fs";
import { loadTopologyFile } from "../model/load.ts";
import { Network, NetworkError } from "../network.ts";
import { type WrittenCapture, writeCaptures as writeCaptureFiles } from "../node.ts";
import { ExitCode, UserError } from "./errors.ts";
import type { Io } from "./io.ts";
import { progressUpdate } from "./progress.ts";

export interface LoadCliOptions {
  seed?: string;
  pcap?: string;
  pcapPerLink?: boolean;
}

/**
 * Loads FILE. A broken file throws the loader's TopologyError, which `main` prints as its
 * `file:line:col: message` lines (exit 2); an unreadable file is a UserError.
 */
export async function loadNetwork(file: string, io: Io, opts: LoadCliOptions = {}): Promise<Network> {
  const seed = opts.seed === undefined ? 1 : parseIntOption("--seed", opts.seed, 0, 0xffffffff);
  if (opts.pcapPerLink === true && opts.pcap === undefined) {
    throw new UserError("--pcap-per-link goes with --pcap DIR (where to write the files)");
  }
  try {
    progressUpdate(`loading ${file}`);
    const loaded = loadTopologyFile(file);
    const vms = loaded.topology.servers.reduce((n, s) => n + s.vms.length, 0);
    progressUpdate(`building ${vms.toLocaleString("en-US")} VMs`);
    const net = Network.fromLoaded(loaded, { seed });
    for (const w of net.warnings) io.err(`${w}\n`);
    if (opts.pcap !== undefined) net.startCaptures();
    return net;
  } catch (e) {
    if (isNodeFsError(e)) throw new UserError(`${file}: ${e.message}`, ExitCode.usage);
    throw e;
  }
}

export function isNodeFsError(e: unknown): e is Error & { code: string } {
  const code = (e as { code?: unknown } | null)?.code;
  return e instanceof Error && typeof code === "string" && /^E[A-Z]+$/.test(code);
}

/**
 * `--pcap DIR`: writes the run's captures into `dir` (created if needed), `DIR/vnet.pcapng` or
 * with `--pcap-per-link` one pcap per link end, all or nothing; returns the files written. A
 * folder that cannot be made or written is the user's: one line, exit 2.
 */
export function writeCaptures(
  net: Network,
  dir: string,
  opts: { pcapPerLink?: boolean } = {},
): WrittenCapture[] {
  try {
    return writeCaptureFiles(net, dir, { perLink: opts.pcapPerLink === true });
  } catch (e) {
    if (isNodeFsError(e)) throw new UserError(`--pcap ${dir}: ${e.message}`, ExitCode.usage);
    throw e;
  }
}

/** A strict integer option: the whole text is a number within [min, max]. */
export function parseIntOption(name: string, text: string, min: number, max: number): number {
  if (!/^-?\d+$/.test(text.trim())) throw new UserError(`${name}: "${text}" is not an integer`);
  const v = Number(text);
  if (v < min || v > max) throw new UserError(`${name}: ${v} is out of range (${min}..${max})`);
  return v;
}

/** A strict decimal option (e.g. seconds): the whole text is a number within [min, max]. */
export function parseNumberOption(name: string, text: string, min: number, max: number): number {
  if (!/^\d+(\.\d+)?$/.test(text.trim())) throw new UserError(`${name}: "${text}" is not a number`);
  const v = Number(text);
  if (v < min || v > max) throw new UserError(`${name}: ${v} is out of range (${min}..${max})`);
  return v;
}

/** Text output of `--pcap`: where the captures went. */
export function captureSummary(files: readonly WrittenCapture[], dir: string): string {
  if (files.length === 0) return `no frames were captured (nothing written to ${dir})\n`;
  if (files.length === 1 && files[0].interfaces.length > 1) {
    const f = files[0];
    return `capture: ${f.path} (${plural(f.frames, "frame")} at ${plural(f.interfaces.length, "link end")}, one interface each)\n`;
  }
  const lines = files.map((f) => `  ${f.path} (${f.interfaces.join(", ")}, ${plural(f.frames, "frame")})`);
  return `captures (${plural(files.length, "file")}) in ${dir}:\n${lines.join("\n")}\n`;
}

function plural(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? "" : "s"}`;
}

/** Runs a facade call; a NetworkError (an unknown VM, a bad target) is the user's: exit 2. */
export function guard<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof NetworkError) throw new UserError(e.message, ExitCode.usage, e.code);
    throw e;
  }
}

/** `-o FILE`: the text goes to FILE, or to standard output without one; a FILE that cannot be written is the user's mistake. */
export function writeOutput(io: Io, output: string | undefined, text: string): void {
  if (output === undefined) {
    io.out(text);
    return;
  }
  try {
    writeFileSync(output, text);
  } catch (e) {
    throw new UserError(`-o ${output}: ${e instanceof Error ? e.message : String(e)}`);
  }
}
