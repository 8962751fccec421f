/**
 * vnet's Node entry (`import ... from "vnet"`): everything the browser entry offers
 * (`src/browser.ts`), plus what needs the file system: loading a topology file by path
 * (`loadNetwork`, from `src/node.ts`) and writing a run's captures into a folder. Scripts and
 * tools built on vnet import this; the `vnet` command is one such front end.
 */

import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Network } from "./network.ts";

export * from "./browser.ts";
export { loadTopologyFile } from "./model/load.ts";
export { loadNetwork } from "./node.ts";

/**
 * Writes every capture of the run so far (after `net.startCaptures()`) into `dir`, created if
 * needed, one pcap per link end; returns each file's path and frame count.
 */
export function writeCaptures(net: Network, dir: string): { path: string; frames: number }[] {
  mkdirSync(dir, { recursive: true });
  return net.captures().map((f) => {
    const path = join(dir, f.fileName);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, f.bytes);
    return { path, frames: f.frames };
  });
}
