/**
 * vnet's Node entry: everything the browser-safe facade offers, plus what needs the file system
 * (loading a topology file by path). The CLI and scripts use it.
 */

import { loadTopologyFile } from "./model/load.ts";
import { Network, type NetworkOptions } from "./network.ts";

/**
 * Reads and validates a topology file, then builds it. A file that cannot be read, or has any
 * error, throws `TopologyError` (every diagnostic at `file:line:col`); nothing is built.
 */
export async function loadNetwork(path: string, options: NetworkOptions = {}): Promise<Network> {
  return Network.fromLoaded(loadTopologyFile(path), options);
}
