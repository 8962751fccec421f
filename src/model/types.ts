/**
 * The normalized topology: what the loader (`src/model/load.ts`) produces from a user's YAML file
 * once it has been validated, with every default filled in and every name resolved. The world
 * builders (simulator, real, analysis) consume only this, never the raw YAML. Addresses are in
 * their hot-path form (MAC as number, IPv4 as uint32). Arrays keep the order of the file, so
 * builds are deterministic.
 */

import type { Ipv4, Mac } from "../wire/addr.ts";

export interface Topology {
  name: string;
  description: string;
  /** Absolute or as-given path of the file, for messages. */
  sourcePath: string;
  switches: SwitchSpec[];
  servers: ServerSpec[];
  links: LinkSpec[];
  /** Tunnels between routers; absent or empty when the file has none. */
  tunnels?: TunnelSpec[];
  /** WireGuard VPNs between sites; absent or empty when the file has none. */
  vpns?: VpnSpec[];
  /** MLAG (vPC) domains; absent or empty when the file has none. */
  mlag?: MlagSpec[];
  /** Scheduled failures (`faults:`), in file order; absent or empty when the file has none. */
  faults?: FaultSpec[];
  /** Every VNI a port group uses, with its flooding and learning; absent when there is none. */
  overlay?: VniSpec[];
  /** Ports joined to the world outside vnet (`external:`); absent or empty when none. */
  external?: ExternalPortSpec[];
}

/** A cable end that leaves vnet: unconnected in the simulator, a TAP in real mode. */
export interface ExternalPortSpec {
  end: LinkEndSpec;
  /** The TAP's name in real mode. */
  interface: string;
  /** The namespace the TAP moves into, or null (vnet's own). */
  netns: string | null;
  mtu: number;
}

/** One VXLAN segment (`overlay.vnis`, defaults filled in). */
export interface VniSpec {
  vni: number;
  replication: "head-end";
  isLearning: boolean;
  /** The VTEPs flooded frames go to (given, or every VTEP with a port group of the VNI). */
  flood: Ipv4[];
  static: { mac: Mac; vtep: Ipv4 }[];
  /** Seconds a learned MAC -> VTEP entry lives without traffic (`ageing`, default 300). */
  ageingSec: number;
}

/** A hypervisor VTEP (`vswitches.*.vtep`): a vmkernel port on `vlan` out of the uplinks. */
export interface VtepSpec {
  ip: Ipv4;
  prefixLen: number;
  gateway: Ipv4 | null;
  vlan: number;
  /** The vmkernel port's MAC, assigned deterministically. */
  mac: Mac;
  /** The largest outer IPv4 packet it sends. */
  mtu: number;
}

export type SwitchPortSpec = (
  | { name: string; mode: "access"; vlan: number }
  /** `vlans: null` means all VLANs (1..4094). `nativeVlan`: untagged frames belong to it. */
  | { name: string; mode: "trunk"; vlans: number[] | null; nativeVlan: number | null }
  /** A layer-3 port: its own address, in no VLAN. */
  | { name: string; mode: "routed"; ip: Ipv4; prefixLen: number; mtu: number }
) & {
  stormControl?: StormControlSpec | null;
  /** A LAG member: the LAG's name (the member carries the LAG's configuration). */
  lag?: string;
  /** Spanning tree (set on switches that run it): an edge port, configured or cabled to a server. */
  isEdge?: boolean;
  /** Spanning tree: a BPDU err-disables the port. */
  hasBpduGuard?: boolean;
};

/** Spanning tree of a switch (`stp:`). */
export interface StpSpec {
  mode: "rstp";
  /** Bridge priority, a multiple of 4096 in 0..61440. */
  priority: number;
}

/** A link aggregation group of a switch; its members are ports of `SwitchSpec.ports` with `lag` set. */
export interface LagSpec {
  name: string;
  members: string[];
  lacp: "active" | "passive" | "off";
  rate: "fast" | "slow";
  hash: "l2" | "l3" | "l3l4";
  /** One half of a multi-chassis LAG (the `mlag` domain pairs it with the same name on the peer). */
  isMlag: boolean;
}

/** One end of a tunnel: its interface on `device` and the outer addresses. */
export interface TunnelEndSpec {
  device: string;
  /** The tunnel interface's name on the device ("gre0", "gre1", ...). */
  name: string;
  ip: Ipv4;
  prefixLen: number;
  /** Outer source (this end's underlay address) and destination (the other end's). */
  source: Ipv4;
  destination: Ipv4;
}

export interface TunnelSpec {
  type: "gre";
  ends: [TunnelEndSpec, TunnelEndSpec];
  mtu: number;
}

/** A VPN (`vpns:`): its gateways, each with a WireGuard interface, and who peers with whom. */
export interface VpnSpec {
  name: string;
  type: "wireguard";
  /** Hub and spoke: the hub's device name; null: a full mesh. */
  hub: string | null;
  /** The WireGuard interfaces' MTU. */
  mtu: number;
  peers: VpnPeerSpec[];
}

/** One gateway of a VPN. */
export interface VpnPeerSpec {
  /** The router (or routing switch) that runs it. */
  device: string;
  /** Its WireGuard interface on the device ("wg0", "wg1", ...). */
  iface: string;
  ip: Ipv4;
  prefixLen: number;
  listenPort: number;
  /** Where the others send to; null: learned from its first authenticated packet. */
  endpoint: { ip: Ipv4; port: number } | null;
  /** The site networks behind it (host bits cleared). */
  networks: { prefix: Ipv4; prefixLen: number }[];
  /** Persistent keepalive to its peers in seconds; 0: none. */
  keepaliveSec: number;
  /** Raw 32-byte keys as given; null: derived from the run's seed. */
  privateKey: Uint8Array | null;
  publicKey: Uint8Array | null;
  /** A real WireGuard outside vnet (`external: true`): no gateway is built for it. */
  isExternal: boolean;
}

/** A static route: `prefix/prefixLen` through one or more next hops (several: ECMP). */
export interface RouteSpec {
  prefix: Ipv4;
  prefixLen: number;
  via: Ipv4[];
}

/** An MLAG (vPC) domain: two switches, their peer link (a LAG on both) and keepalive ports. */
export interface MlagSpec {
  domain: number;
  switches: [string, string];
  peerLink: string;
  /** The keepalive port of each switch (same order as `switches`), or null. */
  keepalive: [string, string] | null;
  /** Role priority of each switch (same order). */
  priority: [number, number];
  /** The multi-chassis LAGs (names with mlag: true on both switches) and their ids. */
  lags: { name: string; id: number }[];
}

/** NIC teaming of a vswitch or a port group (uplinks by NIC name). */
export interface TeamingSpec {
  policy: "originating-port" | "source-mac" | "ip-hash" | "explicit-failover" | "lacp";
  /** Active uplinks in failover order; uplinks in neither list are unused. */
  active: string[];
  standby: string[];
  failback: boolean;
  notifySwitches: boolean;
  /** With policy lacp (vswitch level only). */
  lacp: { mode: "active" | "passive"; rate: "fast" | "slow"; hash: "l2" | "l3" | "l3l4" } | null;
}

/** Storm-control levels in packets per second; null: that class is not limited. */
export interface StormControlSpec {
  broadcastPps: number | null;
  multicastPps: number | null;
  unknownUnicastPps: number | null;
}

export interface SviSpec {
  vid: number;
  ip: Ipv4;
  prefixLen: number;
  /** The largest IPv4 packet routed out of it (default 1500). */
  mtu: number;
}

export interface SwitchSpec {
  name: string;
  /** Every port that a link names or `ports:` configures; unconfigured linked ports: access VLAN 1. */
  ports: SwitchPortSpec[];
  /** SVIs when the switch routes between its VLANs; empty when it does not. */
  gateway: SviSpec[];
  /** Link aggregation groups (their members are in `ports`, each with `lag`). */
  lags: LagSpec[];
  /** The loopback address, or null. */
  loopback: { ip: Ipv4; prefixLen: number } | null;
  /** Static routes, in file order. */
  routes: RouteSpec[];
  /** A standalone router of `routers:` (every port routed), not a switch. */
  isRouter: boolean;
  /** Source NAT (masquerade) out of the port named `outside`; absent or null: none. */
  nat?: { outside: string } | null;
  /** A hardware VTEP: its underlay address and which VLAN is which VNI; null when none. */
  vtep: { ip: Ipv4; map: { vid: number; vni: number }[] } | null;
  /** The switch's own MAC (used by its SVIs), assigned deterministically. */
  mac: Mac;
  macTableSize: number;
  macAgingSec: number;
  /** Spanning tree, or null when the switch runs none. */
  stp: StpSpec | null;
}

export interface NicSpec {
  name: string;
  mac: Mac;
  /** SR-IOV: number of virtual functions and the NIC's limit (default 128, at most 512). */
  sriov: { vfs: number; maxVfs: number } | null;
}

export interface SecurityPolicy {
  /** Deliver every frame of the port group's VLAN to the VM (vSphere "promiscuous mode"). */
  allowPromiscuous: boolean;
  /** Let the guest change its effective MAC and still receive (vSphere "MAC address changes"). */
  allowMacChanges: boolean;
  /** Let the guest send with a source MAC other than its vNIC's (vSphere "forged transmits"). */
  allowForgedTransmits: boolean;
  /** ARP and IPv4 from a vNIC must carry its configured IP (and MAC): NSX SpoofGuard, OpenStack port security. */
  spoofGuard: boolean;
}

export interface PortGroupSpec {
  name: string;
  /**
   * The VLAN; 0 with `vni: null` is an untagged port group (vSphere's VLAN ID "None (0)": its
   * frames leave the uplinks untagged and untagged frames from them are its); 0 for a VNI port
   * group too (its frames never leave tagged).
   */
  vlan: number;
  /** The VXLAN network id of an overlay port group, or null. */
  vni: number | null;
  security: SecurityPolicy;
  /** The port group's own teaming, or null to use the vswitch's. */
  teaming: TeamingSpec | null;
}

export interface VswitchSpec {
  name: string;
  /** Names of server NICs that are this vswitch's uplinks, in order. */
  uplinks: string[];
  portGroups: PortGroupSpec[];
  /** The hypervisor VTEP, or null. */
  vtep: VtepSpec | null;
  teaming: TeamingSpec;
  /** Storm control on each uplink's ingress, or null. */
  stormControl?: StormControlSpec | null;
  macTableSize: number;
  macAgingSec: number;
}

export type VmNicAttachment =
  | { kind: "portGroup"; vswitch: string; portGroup: string }
  | { kind: "vf"; nic: string; vfIndex: number; vlan: number | null; spoofCheck: boolean };

export interface VmNicSpec {
  /** "eth0", "eth1", ... in the guest, by position. */
  name: string;
  attachment: VmNicAttachment;
  mac: Mac;
  ip: Ipv4;
  prefixLen: number;
  gateway: Ipv4 | null;
  /** The guest's MTU on this NIC (default 1500). */
  mtu: number;
}

export interface VmSpec {
  name: string;
  server: string;
  nics: VmNicSpec[];
}

export interface ServerSpec {
  name: string;
  nics: NicSpec[];
  vswitches: VswitchSpec[];
  vms: VmSpec[];
}

export interface LinkEndSpec {
  /** A switch or server name. */
  node: string;
  /** A switch port name or a server NIC name. */
  port: string;
}

export interface LinkSpec {
  a: LinkEndSpec;
  b: LinkEndSpec;
  bandwidthBps: number;
  delayNs: number;
  mtu: number;
  /** Probability in [0, 1] that a frame is lost on the link. */
  lossRate: number;
  isUp: boolean;
  queueFrames: number;
}

export const LINK_DEFAULTS = {
  bandwidthBps: 10e9,
  delayNs: 1_000,
  mtu: 1500,
  lossRate: 0,
  queueFrames: 1000,
} as const;

export const SWITCHING_DEFAULTS = {
  /** Open vSwitch's default `other_config:mac-table-size`. */
  macTableSize: 8192,
  /** Open vSwitch's default `other_config:mac-aging-time` (300 s). */
  macAgingSec: 300,
  /** Linux vxlan's default `ageing` of learned MAC -> VTEP entries (300 s). */
  vxlanAgeingSec: 300,
} as const;

/**
 * One scheduled event of a run (`faults:`), at `atNs` from the run's start. `down`/`up` name a
 * cable by either end (`end`, as written) and carry its index in `Topology.links`; `fail` and
 * `recover` name a device: a switch (all its cables), a server (its NICs' cables) or a VM (its
 * vNICs, down at the vswitch port or VF).
 */
export type FaultSpec =
  | {
      atNs: number;
      /** tamper, replay: an on-path attacker on the cable from then on (up ends it). */
      action: "down" | "up" | "tamper" | "replay";
      end: LinkEndSpec;
      link: number;
      isSilent?: boolean;
    }
  | { atNs: number; action: "fail" | "recover"; device: string; deviceKind: "switch" | "server" | "vm" };

/** The latest time a fault may be scheduled at (one hour of simulated time). */
export const MAX_FAULT_TIME_NS = 3600e9;
