/**
 * vnet's Node entry (`import ... from "vnet"`): everything the browser entry offers
 * (`src/browser.ts`), plus what needs the file system, from `src/node.ts`: loading a topology
 * file by path (`loadNetwork`) and writing a run's captures into a folder (`writeCaptures`).
 * Scripts and tools built on vnet import this; the `vnet` command is one such front end.
 */

export * from "./browser.ts";
export { loadTopologyFile } from "./model/load.ts";
export { loadNetwork, type WrittenCapture, writeCaptures } from "./node.ts";
