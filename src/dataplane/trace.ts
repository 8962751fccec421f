/**
 * Trace records: what a device did with a frame and why, one record per decision. Devices emit
 * them through `DeviceEnv.trace` only when `DeviceEnv.isTracing` is true, so the forwarding
 * path builds no strings when nobody is looking. `vnet trace` assembles them into hops.
 */

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
}

/** What a VPN gateway did with a packet or datagram (the facts behind its record's text). */
export interface VpnHop {
  vpn: string;
  /** The peer gateway concerned ("" when the datagram came from no known peer). */
  peer: string;
  event: "encrypt" | "queue" | "decrypt" | "handshake" | "keepalive" | "drop";
}

export type TraceSink = (record: HopRecord) => void;
