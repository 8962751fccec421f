/**
 * The seam between a physical switch's layer-2 engine and the router behind its SVIs (the
 * `gateway:` of a switch in the topology file). The switch hands the router the frames of a VLAN
 * that are addressed to the switch's own MAC (or broadcast, e.g. ARP for an SVI address); the
 * router sends frames back into a VLAN through the switch, which forwards them like any frame
 * arriving on an internal port of that VLAN (learning, tagging per egress port, flooding).
 * Frames crossing this seam are untagged Ethernet frames; the VLAN travels beside them.
 */

import type { Frame } from "./frame.ts";

/** Implemented by the physical switch. */
export interface SviHost {
  readonly name: string;
  /** The switch's own MAC, the source of every frame the router sends. */
  readonly mac: number;
  sendFromSvi(vid: number, frame: Frame, nowNs: number): void;
  /** A frame out of routed port `port` (a device port in `mode: routed`), untagged. */
  sendFromRoutedPort?(port: number, frame: Frame, nowNs: number): void;
  /** UDP 4789 for the switch's hardware VTEP address (the router received it). */
  receiveVxlan?(src: number, payload: Uint8Array, nowNs: number): void;
}

/** Implemented by the router. */
export interface SviHandler {
  receiveOnSvi(vid: number, frame: Frame, nowNs: number): void;
  /** An untagged frame that arrived on routed port `port`. */
  receiveOnRoutedPort?(port: number, frame: Frame, nowNs: number): void;
  /** Routes a packet the switch built (an encapsulated VXLAN frame of its hardware VTEP). */
  sendUnderlay?(frame: Frame, nowNs: number): void;
}
