/**
 * Trace records: what a device did with a frame and why, one record per decision. Devices emit
 * them through `DeviceEnv.trace` only when `DeviceEnv.isTracing` is true, so the forwarding
 * path builds no strings when nobody is looking. `vnet trace` assembles them into hops.
 */

import type { Encapsulation } from "../wire/encapsulation.ts";

/** What a hop is, as `vnet trace` names it. */
export type HopKind = "vm" | "vnic" | "vf" | "vswitch" | "pnic" | "switch" | "gateway" | "link";

export type HopAction =
  | "send" // a VM/stack originated the frame
  | "receive" // a frame arrived and was accepted for processing
  | "forward" // sent out of exactly one port (known unicast)
  | "flood" // sent out of several ports (unknown unicast, broadcast, multicast)
  | "route" // an IP router moved the packet between subnets/VLANs
  | "deliver" // handed to the VM's stack / the gateway's own address
  | "reply" // the stack answered (ARP reply, echo reply, ICMP error)
  | "transmit" // a link carried the frame
  | "drop"; // refused: `reason` says why and a counter went up

export interface HopRecord {
  timeNs: number;
  frameId: number;
  device: string;
  kind: HopKind;
  /** Ingress port name, or null when the device originated the frame. */
  in: string | null;
  /** Egress port name(s) joined by ",", or null when the frame ended here. */
  out: string | null;
  /** The VLAN the decision was made in, or null (untagged/none). */
  vlan: number | null;
  action: HopAction;
  /** A human sentence fragment: "learned 02:00:00:00:10:11 on port vm1", "flooded: no entry". */
  reason: string;
  /** On drop records, where the device gives it: the reason code its drop counter is kept under. */
  code?: string;
  /** On a VPN gateway's records: which VPN and peer, and what the gateway did. */
  vpn?: VpnHop;
  /** A NAT translated the packet here: its source on the way out, its destination on a reply. */
  nat?: "source" | "destination";
  /**
   * The tunnel facts of a record about one: the device put the frame into a VXLAN or GRE tunnel
   * (`step: "encapsulate"`), took it out (`"decapsulate"`), or a cable carried it inside one, or
   * a router routed the tunnel's outer packet (`"carried"`). The same facts as the reason's text, as data for tools (`Network.mtu`, the
   * trace verdict) and `--json`.
   */
  encap?: HopEncapsulation;
  /** A cable's record (not an internal connection's): the frame's size on the cable, in bytes. */
  frameBytes?: number;
  /**
   * A drop for size: the packet or frame was `sizeBytes`, over what fits, `mtuBytes` plus
   * `allowanceBytes` (a cable allows its layer-2 headers over the MTU; a VTEP allows nothing
   * over the MTU of its outer IPv4 packet).
   */
  mtu?: { sizeBytes: number; mtuBytes: number; allowanceBytes: number };
}

/** What a VPN gateway did with a packet or datagram (the facts behind its record's text). */
export interface VpnHop {
  vpn: string;
  /** The peer gateway concerned ("" when the datagram came from no known peer). */
  peer: string;
  event: "encrypt" | "queue" | "decrypt" | "handshake" | "keepalive" | "drop";
}

/** `HopRecord.encap`. */
export interface HopEncapsulation extends Encapsulation {
  step: "encapsulate" | "decapsulate" | "carried";
  /** A switch's hardware VTEP: the local VLAN it bridges into the VNI. */
  bridgedVlan?: number;
  /** GRE: the tunnel interface's name. */
  tunnel?: string;
}

/** The optional facts a device adds to a record beside its text. */
export type HopFacts = Pick<HopRecord, "encap" | "frameBytes" | "mtu">;

export type TraceSink = (record: HopRecord) => void;
