/**
 * What the commands that run a network share: loading a topology file into a `Network` (a broken
 * file prints the loader's `file:line:col: message` lines and exits 2), parsing numeric options
 * strictly, and writing the captures of a run to `--pcap DIR`. Node-only (files); the facade
 * itself stays browser-safe.
 */

import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Network, NetworkError } from "../network.ts";
import { loadNetwork as loadNetworkFile } from "../node.ts";
import { ExitCode, UserError } from "./errors.ts";
import type { Io } from "./io.ts";

export interface LoadCliOptions {
  seed?: string;
  pcap?: string;
}

/**
 * Loads FILE. A broken file throws the loader's TopologyError, which `main` prints as its
 * `file:line:col: message` lines (exit 2); an unreadable file is a UserError.
 */
export async function loadNetwork(file: string, io: Io, opts: LoadCliOptions = {}): Promise<Network> {
  const seed = opts.seed === undefined ? 1 : parseIntOption("--seed", opts.seed, 0, 0xffffffff);
  try {
    const net = await loadNetworkFile(file, { seed });
    for (const w of net.warnings) io.err(`${w}\n`);
    if (opts.pcap !== undefined) net.startCaptures();
    return net;
  } catch (e) {
    if (isNodeFsError(e)) throw new UserError(`${file}: ${e.message}`, ExitCode.usage);
    throw e;
  }
}

function isNodeFsError(e: unknown): e is Error & { code: string } {
  const code = (e as { code?: unknown } | null)?.code;
  return e instanceof Error && typeof code === "string" && /^E[A-Z]+$/.test(code);
}

/** Writes every capture of the run into `dir` (created if needed); returns the file paths. */
export function writeCaptures(net: Network, dir: string): { path: string; frames: number }[] {
  const files = net.captures();
  try {
    mkdirSync(dir, { recursive: true });
    return files.map((f) => {
      const path = join(dir, f.fileName);
      writeFileSync(path, f.bytes);
      return { path, frames: f.frames };
    });
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
export function captureSummary(files: { path: string; frames: number }[], dir: string): string {
  if (files.length === 0) return `no frames were captured (nothing written to ${dir})\n`;
  return `captures (${files.length} files) in ${dir}:\n${files.map((f) => `  ${f.path} (${f.frames} frames)`).join("\n")}\n`;
}

/** Runs a facade call; a NetworkError (an unknown VM, a bad target) is the user's: exit 2. */
export function guard<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof NetworkError) throw new UserError(e.message, ExitCode.usage);
    throw e;
  }
}
