/**
 * The virtual switch inside a hypervisor (the role of Open vSwitch or a vSphere standard switch,
 * sections 1.1, 2 and 4 of the source document). It has two kinds of ports:
 *
 * - VM ports, one per vNIC, each in a port group. A port group is an access VLAN toward the VM:
 *   frames to and from the VM are untagged; a VM that sends a tagged frame is refused.
 * - Uplinks, the physical NICs (through their PF), as IEEE 802.1Q trunks: frames leave tagged
 *   with their port group's VLAN, and only tagged frames of a VLAN some port group uses are
 *   accepted. A port group in VLAN 0 is untagged (vSphere's VLAN ID "None (0)"): its frames
 *   leave untagged, and untagged or priority-tagged (VID 0, 802.1Q 6.9.1) frames from an uplink
 *   are its, the trunk's native VLAN as it were; untagged port groups share one segment (VLAN 0
 *   in the MAC table), as port groups of one VLAN on one vswitch do. Several uplinks form one team (see teaming.ts); for learning the team is a single
 *   logical port, so a remote MAC is "behind the uplinks", not behind one cable, and the teaming
 *   policy alone picks the member.
 *
 * Forwarding is learning-bridge forwarding per VLAN (IEEE 802.1Q 8.6, 8.8): learn (VLAN, source
 * MAC) on the ingress port, send known unicast to its one port, flood unknown unicast, broadcast
 * and multicast within the VLAN, never back out of the ingress port, and never from an uplink to
 * another uplink (a vswitch is an edge, not a transit bridge: this is why it needs no spanning
 * tree). A vNIC's configured MAC is a static entry, as vSphere knows its VMs' addresses without
 * learning them.
 *
 * vSphere's behaviours kept here:
 * - security policy per port group: promiscuous mode, MAC address changes, forged transmits,
 *   all rejected by default (the defaults of vSphere distributed port groups and of VMware's
 *   hardening guide; a standard switch accepts MAC changes and forged transmits unless told
 *   otherwise; vSphere Networking, "Security Policy"). "MAC address
 *   changes: reject" means that while the guest's effective MAC differs from the vNIC's MAC the
 *   port receives nothing; "forged transmits: reject" compares a frame's source with the MAC
 *   the switch honours for the vNIC (its configured MAC, or the effective one when changes are
 *   accepted);
 * - the reverse-path filter: a broadcast or multicast coming back in on an uplink with the source
 *   MAC of one of our own VMs is our own frame reflected by the physical network and is dropped.
 *
 * Every drop has a reason code counted in `drops` and, when tracing, a trace record.
 */

import { formatIpv4, formatMac, isMulticastMac, MAC_BROADCAST, type Mac, readMac } from "../wire/addr.ts";
import { Arp } from "../wire/arp.ts";
import { WireError } from "../wire/error.ts";
import { ETHERNET_HEADER_LEN, Ethernet } from "../wire/ethernet.ts";
import { Ipv4Header } from "../wire/ipv4.ts";
import { Lacp, type LacpRepr } from "../wire/lacp.ts";
import { isVlanTpid, VLAN_TAG_LEN, Vlan } from "../wire/vlan.ts";
import { Bundle } from "./bundle.ts";
import { checkUnicastMac, checkVid, DeviceConfigError } from "./config-error.ts";
import type { DropCounters, PortCounters } from "./counters.ts";
import { PROCESSING_DELAY_NS } from "./delays.ts";
import type { Device, DeviceEnv } from "./device.ts";
import { EngineTimer } from "./engine-timer.ts";
import { Frame } from "./frame.ts";
import { LacpEngine, type LacpMemberStatus, type LacpMode, type LacpRate } from "./lacp.ts";
import {
  DEFAULT_MAC_AGING_NS,
  DEFAULT_MAC_TABLE_SIZE,
  Learn,
  MacTable,
  macHiAt,
  macLoAt,
} from "./mac-table.ts";
import { PortCore } from "./port-core.ts";
import {
  isBroadcastAt,
  STORM_DROP_CODES,
  StormClass,
  StormControl,
  type StormControlConfig,
} from "./storm-control.ts";
import { Teaming, type TeamingConfig } from "./teaming.ts";
import type { HopAction } from "./trace.ts";
import { Vtep, type VtepVniConfig } from "./vtep.ts";

/** RARP (RFC 903): its EtherType and the "request reverse" opcode. */
const ETHERTYPE_RARP = 0x8035;
const RARP_REQUEST = 3;

/** Drop reason codes of the vswitch. */
export const VswitchDrop = {
  runt: "runt",
  taggedOnAccess: "tagged-on-access",
  doubleTaggedFromVm: "double-tagged-from-vm",
  forgedTransmit: "forged-transmit",
  multicastSource: "multicast-source",
  untaggedOnUplink: "untagged-on-uplink",
  unknownVlanOnUplink: "unknown-vlan-on-uplink",
  stackedTagOnUplink: "stacked-tag-on-uplink",
  reflectedBroadcast: "reflected-broadcast",
  sameSegment: "destination-on-ingress-port",
  uplinkToUplink: "uplink-to-uplink",
  notForThisVnic: "promiscuous-rejected",
  macChangeRejected: "mac-change-rejected",
  noActiveUplink: "no-active-uplink",
  noReceiver: "no-receiver",
  portDown: "port-down",
  spoofedArp: "spoofguard-arp",
  spoofedIp: "spoofguard-ip",
  linkLocal: "link-local-multicast",
  lacpOff: "lacp-not-running",
  badLacpdu: "bad-lacpdu",
  notCollecting: "lag-member-not-collecting",
  unknownVni: "unknown-vni",
  tunnelToTunnel: "tunnel-to-tunnel",
} as const;

/** The device port of the VTEP (its vmkernel interface and, in VNI segments, the tunnel). */
export const VTEP_PORT_NAME = "vtep:vmk0";
/** VNI segments take MAC-table "VLANs" above the 802.1Q range, so they never meet a VLAN. */
const FIRST_VNI_SEGMENT = 4096;
/** The untagged segment's MAC-table VLAN: port groups with VLAN 0 (vSphere's "None"). */
export const UNTAGGED_VID = 0;

/**
 * A trace record's VLAN: none for a VNI segment (its reason text names the VNI) and none for
 * the untagged segment (no tag on the wire, as the NIC's records say).
 */
function toTraceVlan(vid: number | null): number | null {
  return vid !== null && (vid >= FIRST_VNI_SEGMENT || vid === UNTAGGED_VID) ? null : vid;
}

export interface VswitchSecurity {
  allowPromiscuous: boolean;
  allowMacChanges: boolean;
  allowForgedTransmits: boolean;
  /**
   * SpoofGuard (NSX) / port security (OpenStack): ARP and IPv4 from the vNIC must carry its
   * configured address (ARP: sender IP and sender MAC; IPv4: source address; 0.0.0.0 allowed for
   * ARP probes and DHCP). On by default, as OpenStack's port security is.
   */
  spoofGuard: boolean;
}

export const DEFAULT_SECURITY: VswitchSecurity = {
  allowPromiscuous: false,
  allowMacChanges: false,
  allowForgedTransmits: false,
  spoofGuard: true,
};

export interface VswitchOptions {
  name: string;
  /** Uplink port names (e.g. "uplink:eth0"), in teaming order. Ports 0..n-1. */
  uplinks: string[];
  portGroups: {
    name: string;
    /**
     * The VLAN; 0: untagged (vSphere's "None (0)"). Ignored when `vni` is set: an overlay segment
     * never leaves tagged.
     */
    vlan: number;
    /** A VXLAN-backed port group (an overlay segment): its frames go through the VTEP. */
    vni?: number | null;
    security?: Partial<VswitchSecurity>;
    /** The port group's own teaming (vSphere's override); default: the switch's. */
    teaming?: TeamingConfig | null;
    /** The port group's own "notify switches"; default: the switch's. */
    notifySwitches?: boolean;
  }[];
  /** VM ports (one per vNIC), after the uplinks in port numbering. */
  vmPorts: { name: string; portGroup: string; mac: Mac; ip?: number | null }[];
  /** The switch's teaming policy (uplinks as port indexes 0..n-1); default originating-port. */
  teaming?: TeamingConfig;
  /**
   * With `teaming.policy: lacp`: the LACP actor (vSphere's LAG on a distributed switch): mode,
   * rate, the system id (a MAC of the host) and the uplinks' own MACs (LACPDU sources).
   */
  lacp?: { mode: LacpMode; rate: LacpRate; system: Mac; uplinkMacs?: Mac[]; key?: number } | null;
  /**
   * vSphere's "Notify switches" (default yes): when a VM's traffic moves to another uplink
   * (failover, failback) or its port comes up, send a RARP broadcast from the VM's MAC out of
   * its uplink, so physical switches relearn where the VM is at once instead of after aging.
   */
  notifySwitches?: boolean;
  macTableSize?: number;
  macAgingNs?: number;
  processingDelayNs?: number;
  /** Ingress limits on each uplink for what the network may make this vswitch flood to its VMs. */
  stormControl?: StormControlConfig | null;
  /**
   * The hypervisor VTEP (a vmkernel port on VLAN `vlan` out of the uplinks), needed by port
   * groups with a VNI; `vnis` says how each VNI floods and learns.
   */
  vtep?: {
    mac: Mac;
    ip: number;
    prefixLen: number;
    gateway: number | null;
    vlan: number;
    mtu?: number;
    vnis: readonly VtepVniConfig[];
  } | null;
}

interface PortGroup {
  name: string;
  /** The 802.1Q VLAN (0: untagged), or for a VNI port group its segment (FIRST_VNI_SEGMENT and up). */
  vid: number;
  /** The VXLAN network id of an overlay segment, or null for a VLAN port group. */
  vni: number | null;
  security: VswitchSecurity;
  teaming: Teaming;
  isNotifying: boolean;
}

interface VmPort {
  index: number;
  /** Position among VM ports: vSphere's virtual port id, used by teaming. */
  ordinal: number;
  name: string;
  group: PortGroup;
  vid: number;
  configuredMac: Mac;
  /** The vNIC's configured IPv4 address (uint32), or null when the vswitch is not told. */
  ip: number | null;
  effectiveMac: Mac;
  /** The MAC the switch honours: configured, or effective when MAC changes are accepted. */
  honoredMac: Mac;
  /** The uplink the VM's traffic last used (-1: none yet), to know when it moved. */
  lastUplink: number;
  /** Its two 24-bit halves, compared against frame bytes without building a number. */
  honoredHi: number;
  honoredLo: number;
  /**
   * Whether the MAC table's entry for (vid, honoredMac) is this port's static one (true unless
   * two ports claim one MAC): then learning the port's own source is a no-op and is skipped.
   */
  hasOwnStaticEntry: boolean;
}

export class Vswitch implements Device {
  readonly kind = "vswitch" as const;
  readonly name: string;
  readonly portNames: readonly string[];
  readonly portCounters: readonly PortCounters[];
  readonly drops: DropCounters;
  readonly processingDelayNs: number;
  readonly macTable: MacTable;
  /** The uplinks as one bundle (their carrier and, with LACP, whether they may carry traffic). */
  readonly team: Bundle;
  /** The switch's teaming policy (port groups without an override use it). */
  readonly teaming: Teaming;
  private readonly core: PortCore;
  private lacp: LacpEngine<number> | null = null;
  private readonly lacpConfig: VswitchOptions["lacp"];
  private readonly lacpMacs: Mac[] = [];
  /** The host's LACP mode, or null when the uplinks do not run LACP. */
  readonly lacpMode: LacpMode | null = null;
  private readonly lacpTimer = new EngineTimer((t) => this.runLacp(t));
  /** Called when LACP lets an uplink in or takes it out (for timelines). */
  onLacpChange: ((lag: string, member: string, isEnabled: boolean, nowNs: number) => void) | null = null;
  /** The MAC-table port that stands for the uplink team (one past the last device port). */
  readonly teamPort: number;
  private readonly groups = new Map<string, PortGroup>();
  /** Per device port: the VM port, or null for an uplink. */
  private readonly vm: (VmPort | null)[];
  private readonly isPortUp: boolean[];
  /**
   * Per VLAN: the VM ports in it, and those whose port group is promiscuous. Indexed by vid and
   * sized to the highest vid of a port group (a read beyond is undefined, as for a hole): two
   * 4,096-slot arrays per vswitch were 52 MB at 800 servers.
   */
  private readonly vlanVmPorts: (number[] | undefined)[];
  private readonly vlanPromiscuous: (number[] | undefined)[];
  /** Scratch list of egress ports for one decision (uplink, if any, last). */
  private readonly out: Int32Array;
  private env: DeviceEnv | null = null;
  private readonly isNotifyingSwitches: boolean;

  /** The hypervisor VTEP, or null when no port group is backed by a VNI. */
  readonly vtep: Vtep | null = null;
  /** The VTEP's device port (its vmkernel interface; in VNI segments, the tunnel), or -1. */
  readonly vtepPort: number = -1;
  /** VNI -> its segment (MAC-table VLAN), and segment - FIRST_VNI_SEGMENT -> VNI. */
  private readonly vniSegments = new Map<number, number>();
  private readonly segmentVnis: number[] = [];

  /** Storm control per uplink (null when none is configured). */
  private readonly storms: StormControl[] | null = null;
  private readonly stormConfig: StormControlConfig | null = null;

  constructor(options: VswitchOptions) {
    this.name = options.name;
    if (!StormControl.isEmpty(options.stormControl)) {
      this.stormConfig = options.stormControl as StormControlConfig;
      this.storms = options.uplinks.map(() => new StormControl(this.stormConfig as StormControlConfig));
    }
    this.processingDelayNs = options.processingDelayNs ?? PROCESSING_DELAY_NS.vswitch;
    this.isNotifyingSwitches = options.notifySwitches ?? true;
    const teamingConfig = options.teaming ?? { policy: "originating-port" };
    const isLacp = teamingConfig.policy === "lacp";
    this.team = new Bundle(
      "uplinks",
      options.uplinks.map((_, i) => i),
      isLacp,
    );
    this.teaming = new Teaming(this.team, teamingConfig);
    for (const g of options.portGroups) {
      const t = g.teaming ?? null;
      if (t !== null && (t.policy === "lacp") !== isLacp)
        throw new DeviceConfigError(
          "bad-teaming",
          `vswitch ${this.name} port group ${g.name}: ${isLacp ? "the switch's uplinks are a LACP LAG; a port group cannot use another policy" : "lacp is the switch's policy (its uplinks form the LAG), not a port group's"}`,
        );
    }
    const names: string[] = [];
    const seen = new Set<string>();
    const addName = (n: string) => {
      if (n === "" || seen.has(n))
        throw new DeviceConfigError("bad-port", `vswitch ${this.name}: duplicate or empty port name "${n}"`);
      seen.add(n);
      names.push(n);
    };
    for (const u of options.uplinks) addName(u);
    const vtepConfig = options.vtep ?? null;
    const groupSpecs = [...options.portGroups];
    if (vtepConfig !== null) {
      // The VTEP's vmkernel interface is a port of its own group on the VTEP VLAN; the name
      // cannot clash with a user's (port group names have no parentheses).
      groupSpecs.push({ name: "(vtep)", vlan: vtepConfig.vlan, security: { spoofGuard: true } });
    }
    for (const g of groupSpecs) {
      const vni = g.vni ?? null;
      if (vni === null) {
        if (g.vlan !== UNTAGGED_VID) checkVid(g.vlan, `vswitch ${this.name} port group ${g.name}`);
      } else if (vtepConfig === null)
        throw new DeviceConfigError(
          "bad-port",
          `vswitch ${this.name} port group ${g.name}: VNI ${vni} needs a VTEP on the vswitch`,
        );
      if (this.groups.has(g.name))
        throw new DeviceConfigError("bad-port", `vswitch ${this.name}: duplicate port group "${g.name}"`);
      let vid = g.vlan;
      if (vni !== null) {
        const seg = this.vniSegments.get(vni);
        vid = seg ?? FIRST_VNI_SEGMENT + this.segmentVnis.length;
        if (seg === undefined) {
          this.vniSegments.set(vni, vid);
          this.segmentVnis.push(vni);
        }
      }
      this.groups.set(g.name, {
        name: g.name,
        vid,
        vni,
        security: { ...DEFAULT_SECURITY, ...g.security },
        teaming: g.teaming ? new Teaming(this.team, g.teaming) : this.teaming,
        isNotifying: g.notifySwitches ?? this.isNotifyingSwitches,
      });
    }
    const vidCount = Math.max(0, ...[...this.groups.values()].map((g) => g.vid)) + 1;
    this.vlanVmPorts = new Array(vidCount);
    this.vlanPromiscuous = new Array(vidCount);
    this.vm = options.uplinks.map(() => null);
    options.vmPorts.forEach((p, ordinal) => {
      addName(p.name);
      const group = this.groups.get(p.portGroup);
      if (group === undefined) {
        const known = [...this.groups.keys()].join(", ") || "none";
        throw new DeviceConfigError(
          "unknown-port-group",
          `vswitch ${this.name}: port ${p.name} names port group "${p.portGroup}"; known: ${known}`,
        );
      }
      checkUnicastMac(p.mac, `vswitch ${this.name} port ${p.name}`);
      const index = names.length - 1;
      this.vm.push({
        index,
        ordinal,
        name: p.name,
        group,
        vid: group.vid,
        configuredMac: p.mac,
        ip: p.ip ?? null,
        effectiveMac: p.mac,
        honoredMac: p.mac,
        lastUplink: -1,
        honoredHi: Math.floor(p.mac / 0x1000000),
        honoredLo: p.mac % 0x1000000,
        hasOwnStaticEntry: false,
      });
      this.vlanVmPorts[group.vid] = [...(this.vlanVmPorts[group.vid] ?? []), index];
      if (group.security.allowPromiscuous)
        this.vlanPromiscuous[group.vid] = [...(this.vlanPromiscuous[group.vid] ?? []), index];
    });
    if (vtepConfig !== null) {
      addName(VTEP_PORT_NAME);
      const group = this.groups.get("(vtep)") as PortGroup;
      const index = names.length - 1;
      const mac = vtepConfig.mac;
      checkUnicastMac(mac, `vswitch ${this.name} VTEP`);
      this.vm.push({
        index,
        ordinal: options.vmPorts.length,
        name: VTEP_PORT_NAME,
        group,
        vid: group.vid,
        configuredMac: mac,
        ip: vtepConfig.ip,
        effectiveMac: mac,
        honoredMac: mac,
        lastUplink: -1,
        honoredHi: Math.floor(mac / 0x1000000),
        honoredLo: mac % 0x1000000,
        hasOwnStaticEntry: false,
      });
      this.vlanVmPorts[group.vid] = [...(this.vlanVmPorts[group.vid] ?? []), index];
      this.vtepPort = index;
      for (const vni of this.segmentVnis)
        if (!vtepConfig.vnis.some((v) => v.vni === vni))
          throw new DeviceConfigError("bad-port", `vswitch ${this.name}: VNI ${vni} has no VTEP settings`);
    }
    for (const g of this.groups.values()) this.vlanVmPorts[g.vid] ??= [];
    this.portNames = names;
    this.core = new PortCore(this.name, "vswitch", names);
    this.portCounters = this.core.counters;
    this.drops = this.core.drops;
    if (vtepConfig !== null) {
      const index = this.vtepPort;
      // The vmkernel port is inside the host: nothing cables it, so it is up from the start.
      this.core.isUp[index] = true;
      this.vtep = new Vtep(
        {
          name: this.name,
          interfaceName: VTEP_PORT_NAME,
          mac: vtepConfig.mac,
          ip: vtepConfig.ip,
          prefixLen: vtepConfig.prefixLen,
          gateway: vtepConfig.gateway,
          mtu: vtepConfig.mtu,
          vnis: vtepConfig.vnis,
          drops: this.drops,
        },
        (frame, nowNs) => this.receive(index, frame, nowNs),
        (vni, frame, nowNs) => this.fromTunnel(vni, frame, nowNs),
      );
    }
    this.isPortUp = this.core.isUp;
    this.teamPort = names.length;
    this.out = this.core.out;
    this.macTable = new MacTable({
      maxEntries: options.macTableSize ?? DEFAULT_MAC_TABLE_SIZE,
      agingNs: options.macAgingNs ?? DEFAULT_MAC_AGING_NS,
    });
    for (const v of this.vm) if (v !== null) this.macTable.addStatic(v.vid, v.honoredMac, v.index);
    this.checkOwnStaticEntries();
    for (const v of this.vm) if (v !== null) v.lastUplink = v.group.teaming.selectUplink(v, null);
    const lacp = options.lacp ?? null;
    if (isLacp) {
      if (lacp === null)
        throw new DeviceConfigError(
          "bad-teaming",
          `vswitch ${this.name}: teaming policy lacp needs LACP settings`,
        );
      this.lacpMacs = options.uplinks.map((_, i) => lacp.uplinkMacs?.[i] ?? lacp.system);
      this.lacpMode = lacp.mode;
    }
    this.lacpConfig = isLacp ? lacp : null;
    this.lacp = this.createLacp();
  }

  /** The uplinks' LACP actor, or null when the team does not run LACP. */
  private createLacp(): LacpEngine<number> | null {
    const lacp = this.lacpConfig ?? null;
    if (lacp === null) return null;
    const engine = new LacpEngine<number>(
      { system: lacp.system, key: lacp.key ?? 1, mode: lacp.mode, rate: lacp.rate },
      (member, pdu) => this.sendLacpdu(member, pdu),
    );
    for (let i = 0; i < this.team.members.length; i++) engine.addMember(i, { port: i + 1 });
    return engine;
  }

  /**
   * The host lost power: learned MACs (the VM ports' static entries stay), the uplinks' LACP
   * partner (uplinks disabled until LACP agrees again), the team's carrier view, storm-control
   * buckets and the VTEP's neighbour cache are forgotten; `start` boots it afresh.
   */
  powerOff(nowNs: number): void {
    this.lacpTimer.forget();
    this.macTable.flushAll();
    for (const u of this.team.members) {
      this.team.setMemberUp(u, true);
      this.team.setMemberEnabled(u, !this.team.isProtocolRun);
    }
    this.lacp = this.createLacp();
    this.isPortUp.fill(true);
    for (const v of this.vm) if (v !== null) v.lastUplink = v.group.teaming.selectUplink(v, null);
    if (this.storms !== null)
      for (let i = 0; i < this.storms.length; i++)
        this.storms[i] = new StormControl(this.stormConfig as StormControlConfig);
    this.vtep?.stack.powerOff(nowNs);
  }

  bind(env: DeviceEnv): void {
    this.env = env;
    this.core.env = env;
    this.vtep?.bind(env);
  }

  start(nowNs: number): void {
    this.startProtocols(nowNs);
    this.vtep?.start(nowNs);
  }

  /** LACP on the uplinks, also when the world starts quietly (`start` is not called then). */
  startProtocols(nowNs: number): void {
    if (this.lacp !== null) this.runLacp(nowNs);
  }

  /** LACP state of the uplinks (`vnet show lacp`), or null when the team does not run LACP. */
  lacpStatus(nowNs: number): LacpMemberStatus<string>[] | null {
    if (this.lacp === null) return null;
    return this.lacp.status(nowNs).map((m) => ({ ...m, member: this.portNames[m.member] }));
  }

  /** Port index by name, or -1. */
  portIndex(name: string): number {
    return this.portNames.indexOf(name);
  }

  /** The VLAN of a VM port's port group, or null for an uplink. */
  portVlan(port: number): number | null {
    return this.vm[port]?.vid ?? null;
  }

  /**
   * The uplink a VM port is currently pinned to by its teaming policy, or -1 (for a per-frame
   * hash policy, the first usable uplink: where its "notify switches" frames go).
   */
  pinnedUplink(port: number): number {
    const v = this.vm[port];
    if (v === null || v === undefined) return -1;
    return v.group.teaming.selectUplink(v, null);
  }

  /** Per port group: its teaming policy, failover order, the uplinks in use now, and where each VM is. */
  portGroupTeaming(): {
    portGroup: string;
    policy: string;
    active: string;
    standby: string;
    inUse: string;
    vms: string;
  }[] {
    const names = (ports: number[]) => ports.map((p) => this.portNames[p]).join(",") || "-";
    return [...this.groups.values()].map((g) => {
      const t = g.teaming;
      const vms = this.vm
        .filter((v): v is VmPort => v !== null && v.group === g)
        .map((v) => {
          const u = t.selectUplink(v, null);
          return `${v.name}->${t.isChannel ? "hashed" : u < 0 ? "none" : this.portNames[u]}`;
        });
      return {
        portGroup: g.name,
        policy: t.policy + (t.isFailback ? "" : " (no failback)"),
        active: names(t.order.active),
        standby: names(t.order.standby),
        inUse: names(t.usableUplinks()),
        vms: vms.join(" ") || "-",
      };
    });
  }

  /** The teaming policy name of a VM port's port group (or the switch's, for an uplink). */
  teamingOf(port: number): Teaming {
    return this.vm[port]?.group.teaming ?? this.teaming;
  }

  /**
   * The guest changed its NIC's MAC (e.g. `ip link set eth0 address ...`). With "MAC address
   * changes: accept" the switch honours the new address (its static entry moves); with "reject"
   * it keeps the configured one and delivers nothing to the port until the guest goes back.
   */
  setEffectiveMac(port: number, mac: Mac): void {
    const v = this.vm[port];
    if (v === null || v === undefined)
      throw new DeviceConfigError("bad-port", `vswitch ${this.name}: port ${port} is not a VM port`);
    checkUnicastMac(mac, `vswitch ${this.name} port ${v.name} effective MAC`);
    v.effectiveMac = mac;
    const honored = v.group.security.allowMacChanges ? mac : v.configuredMac;
    if (honored !== v.honoredMac) {
      this.macTable.delete(v.vid, v.honoredMac);
      v.honoredMac = honored;
      v.honoredHi = Math.floor(honored / 0x1000000);
      v.honoredLo = honored % 0x1000000;
      this.macTable.addStatic(v.vid, honored, v.index);
      this.checkOwnStaticEntries();
    }
  }

  /** Sets every VM port's `hasOwnStaticEntry` (after the static entries changed). */
  private checkOwnStaticEntries(): void {
    for (const v of this.vm)
      if (v !== null)
        v.hasOwnStaticEntry =
          this.macTable.isStatic(v.vid, v.honoredMac) &&
          this.macTable.lookup(v.vid, v.honoredMac, 0) === v.index;
  }

  /**
   * A port's link went down or came up (a vNIC disconnected, an uplink's cable pulled). Learned
   * addresses behind a down port are forgotten; a down uplink leaves the team's active set, so
   * VMs pinned to it move to another uplink.
   */
  setPortUp(port: number, isUp: boolean, nowNs: number): void {
    if (port < 0 || port >= this.portNames.length)
      throw new DeviceConfigError("bad-port", `vswitch ${this.name}: no port ${port}`);
    // The VTEP's vmkernel port is inside the host: no cable or vNIC takes it up or down.
    if (port === this.vtepPort) return;
    const wasUp = this.isPortUp[port];
    this.isPortUp[port] = isUp;
    const v = this.vm[port];
    if (v === null) {
      this.changeTeam(nowNs, () => {
        this.team.setMemberUp(port, isUp);
        this.lacp?.setMemberUp(port, isUp, nowNs);
      });
      if (this.lacp !== null) this.runLacp(nowNs);
    } else if (!isUp) {
      this.macTable.flushPort(port);
    } else if (!wasUp) {
      this.notify(v, nowNs);
    }
  }

  /**
   * Applies a change to the team's members, then flushes what was learned behind the uplinks
   * when none is left and notifies the switches for every VM whose uplink moved.
   */
  private changeTeam(nowNs: number, change: () => void): void {
    const before = this.vm.map((p) => (p === null ? -1 : p.group.teaming.selectUplink(p, null)));
    change();
    if (this.team.activeCount === 0) this.macTable.flushPort(this.teamPort);
    for (const p of this.vm) {
      if (p === null || !this.isPortUp[p.index]) continue;
      // Notify a move to another uplink than the VM last used; a team coming up for the first
      // time (a LACP LAG forming at start) has nothing stale to correct and announces nothing.
      const now = p.group.teaming.selectUplink(p, null);
      if (now !== before[p.index] && now >= 0 && p.lastUplink >= 0 && now !== p.lastUplink)
        this.notify(p, nowNs);
      if (now >= 0) p.lastUplink = now;
    }
  }

  /**
   * Sends a RARP request (RFC 903: the ARP packet with opcode 3, EtherType 0x8035, sender and
   * target hardware address the VM's MAC, no protocol addresses) as a broadcast from the VM's
   * MAC out of its uplink: what vSphere sends to "notify switches".
   */
  private notify(v: VmPort, nowNs: number): void {
    if (!v.group.isNotifying || this.env === null) return;
    const uplink = v.group.teaming.selectUplink(v, null);
    if (uplink < 0) return;
    // 14 header + 28 RARP + 18 padding: the 60-byte Ethernet minimum without FCS.
    const f = Frame.alloc(60);
    Ethernet.emit({ dst: MAC_BROADCAST, src: v.honoredMac, etherType: ETHERTYPE_RARP }, f.buf, f.start);
    const at = f.start + ETHERNET_HEADER_LEN;
    Arp.setEthernetIpv4(f.buf, at);
    Arp.setOp(f.buf, at, RARP_REQUEST);
    Arp.setSenderMac(f.buf, at, v.honoredMac);
    Arp.setTargetMac(f.buf, at, v.honoredMac);
    this.out[0] = uplink;
    if (this.env.isTracing)
      this.record(
        nowNs,
        f,
        v.index,
        this.portNames[uplink],
        v.vid,
        "send",
        `notify switches: RARP for ${formatMac(v.honoredMac)} (${v.name}) on ${this.portNames[uplink]}`,
      );
    this.emit(1, f, v.vid);
  }

  receive(port: number, frame: Frame, nowNs: number): void {
    this.core.countRx(port, frame);
    if (frame.length < ETHERNET_HEADER_LEN) {
      this.drop(
        port,
        frame,
        nowNs,
        null,
        VswitchDrop.runt,
        () => `dropped: runt frame of ${frame.length} bytes`,
      );
      return;
    }
    const v = this.vm[port];
    if (v === null) this.fromUplink(port, frame, nowNs);
    else this.fromVm(v, frame, nowNs);
  }

  private fromVm(v: VmPort, frame: Frame, nowNs: number): void {
    const b = frame.buf;
    const s = frame.start;
    const port = v.index;
    const vid = v.vid;
    const type = (b[s + 12] << 8) | b[s + 13];
    if (isVlanTpid(type)) {
      const isDouble = frame.length >= 18 && isVlanTpid((b[s + 16] << 8) | b[s + 17]);
      if (isDouble)
        this.drop(
          port,
          frame,
          nowNs,
          vid,
          VswitchDrop.doubleTaggedFromVm,
          () => "dropped: double-tagged frame from VM",
        );
      else
        this.drop(
          port,
          frame,
          nowNs,
          vid,
          VswitchDrop.taggedOnAccess,
          () =>
            `dropped: tagged frame on access port (VLAN ${frame.length >= 16 ? Vlan.vid(b, s + 12) : "?"}; port group ${v.group.name} is ${vid === UNTAGGED_VID ? "untagged" : `VLAN ${vid}`})`,
        );
      return;
    }
    if ((b[s + 6] & 1) !== 0) {
      this.drop(
        port,
        frame,
        nowNs,
        vid,
        VswitchDrop.multicastSource,
        () => `dropped: multicast source ${formatMac(readMac(b, s + 6))}`,
      );
      return;
    }
    const isOwnSource = macHiAt(b, s + 6) === v.honoredHi && macLoAt(b, s + 6) === v.honoredLo;
    if (!isOwnSource && !v.group.security.allowForgedTransmits) {
      const src = readMac(b, s + 6);
      this.drop(
        port,
        frame,
        nowNs,
        vid,
        VswitchDrop.forgedTransmit,
        () =>
          `dropped: forged transmit (source ${formatMac(src)} is not ${v.name}'s ${formatMac(v.honoredMac)})`,
      );
      return;
    }
    if (v.ip !== null && v.group.security.spoofGuard && !this.isGuarded(v, frame, nowNs)) return;
    // A port's own MAC is its static entry: learning it would only find it there.
    if (!isOwnSource || !v.hasOwnStaticEntry) this.learn(vid, port, frame, nowNs);
    if ((b[s] & 1) !== 0) {
      this.floodFromVm(v, frame, nowNs, readMac(b, s));
      return;
    }
    const q = this.macTable.lookupAt(vid, b, s, nowNs);
    if (q === -1) {
      this.floodFromVm(v, frame, nowNs, readMac(b, s));
    } else if (q === port) {
      const dst = readMac(b, s);
      this.drop(
        port,
        frame,
        nowNs,
        vid,
        VswitchDrop.sameSegment,
        () => `dropped: ${formatMac(dst)} is on the ingress port ${v.name}`,
      );
    } else if (q === this.teamPort) {
      this.toTeam(v, frame, nowNs);
    } else if (q === this.vtepPort && v.group.vni !== null) {
      this.toTunnel(v, frame, nowNs);
    } else {
      this.toVm(port, this.vm[q]!, frame, nowNs);
    }
  }

  /**
   * An inner frame the VTEP decapsulated for `vni`: learned on the tunnel (as NSX and OVS learn
   * a remote VM's MAC behind the tunnel port), then delivered to the VNI's local VM ports only:
   * never back into the tunnel (split horizon, RFC 7348 §4.2) and never to an uplink.
   */
  private fromTunnel(vni: number, frame: Frame, nowNs: number): void {
    const port = this.vtepPort;
    const seg = this.vniSegments.get(vni);
    if (seg === undefined) {
      this.drop(
        port,
        frame,
        nowNs,
        null,
        VswitchDrop.unknownVni,
        () => `dropped: no port group carries VNI ${vni}`,
      );
      return;
    }
    this.core.countRx(port, frame);
    const b = frame.buf;
    const s = frame.start;
    if (frame.length < ETHERNET_HEADER_LEN || (b[s + 6] & 1) !== 0) {
      this.drop(
        port,
        frame,
        nowNs,
        seg,
        VswitchDrop.multicastSource,
        () => "dropped: inner frame with a multicast source",
      );
      return;
    }
    this.learn(seg, port, frame, nowNs);
    const dst = readMac(b, s);
    const q = (b[s] & 1) !== 0 ? -1 : this.macTable.lookupAt(seg, b, s, nowNs);
    if (q === port) {
      this.drop(
        port,
        frame,
        nowNs,
        seg,
        VswitchDrop.tunnelToTunnel,
        () => `dropped: ${formatMac(dst)} is behind the tunnel too (never tunnel to tunnel)`,
      );
    } else if (q >= 0 && this.vm[q] !== null && this.vm[q] !== undefined) {
      this.toVm(port, this.vm[q] as VmPort, frame, nowNs);
    } else {
      const ports = this.vlanVmPorts[seg]!;
      let n = 0;
      for (let i = 0; i < ports.length; i++) {
        const v = this.vm[ports[i]]!;
        if (this.accepts(v, frame)) this.out[n++] = v.index;
      }
      if (n === 0) {
        this.drop(port, frame, nowNs, seg, VswitchDrop.noReceiver, () =>
          isMulticastMac(dst)
            ? `dropped: no port in VNI ${vni} takes this ${dst === 0xffffffffffff ? "broadcast" : "multicast"}`
            : `dropped: no vNIC here has ${formatMac(dst)}`,
        );
        return;
      }
      this.emit(n, frame, seg);
      if (this.env?.isTracing) this.recordFlood(nowNs, frame, port, n, seg, dst);
    }
  }

  /** Known unicast from a VM of an overlay segment to a MAC learned behind the tunnel. */
  private toTunnel(v: VmPort, frame: Frame, nowNs: number): void {
    const vni = v.group.vni as number;
    let n = 0;
    n = this.addPromiscuous(n, v.vid, v.index, -1, -1);
    const copy = n > 0 ? frame.clone() : frame;
    if (n > 0) this.emit(n, frame, v.vid);
    if (this.env?.isTracing) {
      const dst = readMac(copy.buf, copy.start);
      this.record(
        nowNs,
        copy,
        v.index,
        n > 0 ? `${this.outNames(n)},${VTEP_PORT_NAME}` : VTEP_PORT_NAME,
        v.vid,
        "forward",
        `forwarded to the VTEP: ${formatMac(dst)} is learned behind VNI ${vni}'s tunnel`,
      );
    }
    (this.vtep as Vtep).send(vni, copy, nowNs);
  }

  /**
   * A MAC-table VLAN as `show fdb` names it: the VLAN id, "untagged" for the untagged segment, or
   * "vni 5001" for an overlay segment.
   */
  segmentName(vid: number): number | string {
    if (vid === UNTAGGED_VID) return "untagged";
    return vid >= FIRST_VNI_SEGMENT ? `vni ${this.segmentVnis[vid - FIRST_VNI_SEGMENT]}` : vid;
  }

  /** How traces name a segment: "vlan 10", "the untagged segment", or "VNI 5001" for an overlay segment. */
  private segmentLabel(vid: number): string {
    if (vid === UNTAGGED_VID) return "the untagged segment";
    return vid >= FIRST_VNI_SEGMENT ? `VNI ${this.segmentVnis[vid - FIRST_VNI_SEGMENT]}` : `vlan ${vid}`;
  }

  private fromUplink(port: number, frame: Frame, nowNs: number): void {
    const b = frame.buf;
    const s = frame.start;
    if (
      b[s] === 0x01 &&
      b[s + 1] === 0x80 &&
      b[s + 2] === 0xc2 &&
      b[s + 3] === 0 &&
      b[s + 4] === 0 &&
      b[s + 5] < 0x10
    ) {
      this.linkLocal(port, frame, nowNs);
      return;
    }
    if (this.lacp !== null && !this.team.isAdmissible(port)) {
      this.drop(
        port,
        frame,
        nowNs,
        null,
        VswitchDrop.notCollecting,
        () =>
          `dropped: ${this.portNames[port]} is not collecting in the uplinks' LAG (${this.lacpWhy(port, nowNs)})`,
      );
      return;
    }
    const type = (b[s + 12] << 8) | b[s + 13];
    const isTagged = type === 0x8100 && frame.length >= ETHERNET_HEADER_LEN + VLAN_TAG_LEN;
    // Untagged frames are the untagged port groups' (a truncated tag or an S-tag is no frame of
    // theirs); without one, uplinks are pure 802.1Q trunks.
    const hasUntagged = this.vlanVmPorts[UNTAGGED_VID] !== undefined;
    if (!isTagged && (!hasUntagged || isVlanTpid(type))) {
      const why =
        type === 0x88a8
          ? "an 802.1ad S-tagged frame"
          : type === 0x8100
            ? "a truncated tag"
            : "an untagged frame";
      this.drop(
        port,
        frame,
        nowNs,
        null,
        VswitchDrop.untaggedOnUplink,
        () => `dropped: ${why} on uplink ${this.portNames[port]} (uplinks are 802.1Q trunks)`,
      );
      return;
    }
    // A priority tag (VID 0, 802.1Q 6.9.1) classifies as untagged.
    const vid = isTagged ? Vlan.vid(b, s + 12) : UNTAGGED_VID;
    if (this.vlanVmPorts[vid] === undefined) {
      this.drop(
        port,
        frame,
        nowNs,
        vid === 0 ? null : vid,
        vid === 0 ? VswitchDrop.untaggedOnUplink : VswitchDrop.unknownVlanOnUplink,
        () =>
          vid === 0
            ? `dropped: priority-tagged frame on uplink ${this.portNames[port]} (no port group is untagged)`
            : `dropped: VLAN ${vid} on uplink ${this.portNames[port]} belongs to no port group`,
      );
      return;
    }
    if (isTagged && isVlanTpid((b[s + 16] << 8) | b[s + 17])) {
      this.drop(
        port,
        frame,
        nowNs,
        vid,
        VswitchDrop.stackedTagOnUplink,
        () => "dropped: stacked VLAN tags on uplink (a port group carries one VLAN)",
      );
      return;
    }
    if ((b[s + 6] & 1) !== 0) {
      this.drop(
        port,
        frame,
        nowNs,
        vid,
        VswitchDrop.multicastSource,
        () => `dropped: multicast source ${formatMac(readMac(b, s + 6))}`,
      );
      return;
    }
    const isGroupDst = (b[s] & 1) !== 0;
    if (isGroupDst) {
      const src = readMac(b, s + 6);
      const dst = readMac(b, s);
      const owner = this.macTable.lookup(vid, src, nowNs);
      if (owner >= 0 && owner !== this.teamPort) {
        this.drop(
          port,
          frame,
          nowNs,
          vid,
          VswitchDrop.reflectedBroadcast,
          () =>
            `dropped: reverse-path check (${formatMac(src)} is ${this.portNames[owner]}'s; our own ${
              dst === 0xffffffffffff ? "broadcast" : "multicast"
            } came back on ${this.portNames[port]})`,
        );
        return;
      }
    }
    if (isTagged) frame.popVlanTag();
    this.learn(vid, this.teamPort, frame, nowNs, port);
    if (isGroupDst) {
      if (this.storms !== null) {
        const c = isBroadcastAt(frame.buf, frame.start) ? StormClass.broadcast : StormClass.multicast;
        if (!this.admitStorm(port, c, frame, nowNs, vid)) return;
      }
      this.floodFromUplink(port, vid, frame, nowNs, readMac(frame.buf, frame.start));
      return;
    }
    const q = this.macTable.lookupAt(vid, frame.buf, frame.start, nowNs);
    if (
      q === -1 &&
      this.storms !== null &&
      !this.admitStorm(port, StormClass.unknownUnicast, frame, nowNs, vid)
    )
      return;
    if (q === this.teamPort) {
      const dst = readMac(frame.buf, frame.start);
      this.drop(
        port,
        frame,
        nowNs,
        vid,
        VswitchDrop.uplinkToUplink,
        () => `dropped: ${formatMac(dst)} is learned on the uplinks (never uplink to uplink)`,
      );
    } else if (q === -1) {
      this.floodFromUplink(port, vid, frame, nowNs, readMac(frame.buf, frame.start));
    } else {
      this.toVm(port, this.vm[q]!, frame, nowNs);
    }
  }

  /** Learns the frame's source on `port` (the team port for an uplink; `physicalIn` for the trace). */
  private learn(vid: number, port: number, frame: Frame, nowNs: number, physicalIn = port): void {
    const r = this.macTable.learnAt(vid, frame.buf, frame.start + 6, port, nowNs);
    if (r === Learn.refreshed || !this.env?.isTracing) return;
    const src = readMac(frame.buf, frame.start + 6);
    const at = port === this.teamPort ? "the uplinks" : `port ${this.portNames[port]}`;
    let reason: string;
    if (r === Learn.learned) reason = `learned ${formatMac(src)} on ${at}`;
    else if (r === Learn.moved) {
      const from = this.macTable.lastMovedFrom;
      reason = `moved ${formatMac(src)} from ${from === this.teamPort ? "the uplinks" : `port ${this.portNames[from]}`} to ${at}`;
    } else if (r === Learn.staticConflict)
      reason = `not learned: ${formatMac(src)} is a vNIC address of this switch`;
    else reason = `not learned: MAC table full (${this.macTable.maxEntries} static entries)`;
    this.record(nowNs, frame, physicalIn, null, vid, "receive", reason);
  }

  /** Whether VM port `v` takes `frame` (by its destination, the port's state and policy). */
  private accepts(v: VmPort, frame: Frame): boolean {
    if (!this.isPortUp[v.index]) return false;
    if (v.effectiveMac !== v.configuredMac && !v.group.security.allowMacChanges) return false;
    const b = frame.buf;
    const s = frame.start;
    return (
      (b[s] & 1) !== 0 ||
      (macHiAt(b, s) === v.honoredHi && macLoAt(b, s) === v.honoredLo) ||
      v.group.security.allowPromiscuous
    );
  }

  /** Known unicast to VM port `target` (plus copies to promiscuous ports of the VLAN). */
  private toVm(inPort: number, target: VmPort, frame: Frame, nowNs: number): void {
    const vid = target.vid;
    if (!this.accepts(target, frame)) {
      const dst = readMac(frame.buf, frame.start);
      const code = !this.isPortUp[target.index]
        ? VswitchDrop.portDown
        : target.effectiveMac !== target.configuredMac && !target.group.security.allowMacChanges
          ? VswitchDrop.macChangeRejected
          : VswitchDrop.notForThisVnic;
      this.drop(inPort, frame, nowNs, vid, code, () =>
        code === VswitchDrop.portDown
          ? `dropped: ${target.name} is down`
          : code === VswitchDrop.macChangeRejected
            ? `dropped: MAC address change rejected (${target.name}'s guest uses ${formatMac(target.effectiveMac)}, vNIC is ${formatMac(target.configuredMac)})`
            : `dropped: ${formatMac(dst)} is not ${target.name}'s vNIC address (promiscuous mode rejected)`,
      );
      return;
    }
    let n = 0;
    this.out[n++] = target.index;
    n = this.addPromiscuous(n, vid, inPort, target.index, this.vm[inPort] === null ? inPort : -1);
    this.emit(n, frame, vid);
    if (this.env?.isTracing) {
      const dst = readMac(frame.buf, frame.start);
      const why = dst === target.honoredMac ? `${formatMac(dst)} is its vNIC` : "learned";
      this.record(
        nowNs,
        frame,
        inPort,
        this.outNames(n),
        vid,
        "forward",
        `forwarded to ${target.name}: ${why}`,
      );
    }
  }

  /** Known unicast from a VM to a MAC learned behind the uplinks. */
  private toTeam(v: VmPort, frame: Frame, nowNs: number): void {
    const teaming = v.group.teaming;
    const uplink = teaming.selectUplink(v, frame);
    let n = 0;
    n = this.addPromiscuous(n, v.vid, v.index, -1, -1);
    if (uplink >= 0) this.out[n++] = uplink;
    if (n === 0) {
      this.drop(v.index, frame, nowNs, v.vid, VswitchDrop.noActiveUplink, () => "dropped: no active uplink");
      return;
    }
    // Read before emit: the frame's bytes move when the uplink's tag is pushed.
    const dst = this.env?.isTracing ? readMac(frame.buf, frame.start) : 0;
    this.emit(n, frame, v.vid);
    if (this.env?.isTracing) {
      const reason =
        uplink >= 0
          ? `forwarded to ${this.portNames[uplink]}: ${formatMac(dst)} learned on the uplinks (${teaming.describe(this.portNames[uplink], v.name)})`
          : `copied to promiscuous ports only: no active uplink for ${formatMac(dst)}`;
      this.record(nowNs, frame, v.index, this.outNames(n), v.vid, uplink >= 0 ? "forward" : "flood", reason);
    }
  }

  private floodFromVm(v: VmPort, frame: Frame, nowNs: number, dst: Mac): void {
    const vid = v.vid;
    const ports = this.vlanVmPorts[vid]!;
    let n = 0;
    for (let i = 0; i < ports.length; i++) {
      const p = ports[i];
      if (p !== v.index && this.accepts(this.vm[p]!, frame)) this.out[n++] = p;
    }
    if (v.group.vni !== null) {
      // An overlay segment floods to its local VMs and, through the VTEP, to the remote ones;
      // the tunnel goes last because sending there reuses this decision's scratch list.
      const copy = n > 0 ? frame.clone() : frame;
      if (n > 0) this.emit(n, frame, vid);
      if (this.env?.isTracing) {
        const names = n > 0 ? `${this.outNames(n)},${VTEP_PORT_NAME}` : VTEP_PORT_NAME;
        const why =
          dst === 0xffffffffffff
            ? "broadcast"
            : isMulticastMac(dst)
              ? "multicast"
              : `no entry for ${formatMac(dst)}`;
        this.record(
          nowNs,
          copy,
          v.index,
          names,
          vid,
          "flood",
          `flooded in VNI ${v.group.vni} (local ports and the VTEP): ${why}`,
        );
      }
      (this.vtep as Vtep).send(v.group.vni, copy, nowNs);
      return;
    }
    const uplink = v.group.teaming.selectUplink(v, frame);
    if (uplink >= 0) this.out[n++] = uplink;
    if (n === 0) {
      this.drop(v.index, frame, nowNs, vid, VswitchDrop.noReceiver, () =>
        this.team.members.length > 0
          ? `dropped: no active uplink and no other port in ${this.segmentLabel(vid)}`
          : `dropped: no other port in ${this.segmentLabel(vid)}`,
      );
      return;
    }
    this.emit(n, frame, vid);
    if (this.env?.isTracing) this.recordFlood(nowNs, frame, v.index, n, vid, dst);
  }

  private floodFromUplink(port: number, vid: number, frame: Frame, nowNs: number, dst: Mac): void {
    const ports = this.vlanVmPorts[vid]!;
    let n = 0;
    for (let i = 0; i < ports.length; i++) {
      const v = this.vm[ports[i]]!;
      if (this.accepts(v, frame) && v.group.teaming.acceptsFlood(port, v)) this.out[n++] = v.index;
    }
    if (n === 0) {
      this.drop(port, frame, nowNs, vid, VswitchDrop.noReceiver, () =>
        isMulticastMac(dst)
          ? `dropped: no port in ${this.segmentLabel(vid)} takes this ${dst === 0xffffffffffff ? "broadcast" : "multicast"} from ${this.portNames[port]}`
          : `dropped: no vNIC here has ${formatMac(dst)}`,
      );
      return;
    }
    this.emit(n, frame, vid);
    if (this.env?.isTracing) this.recordFlood(nowNs, frame, port, n, vid, dst);
  }

  /** Appends promiscuous VM ports of `vid` other than the ingress and the target. */
  private addPromiscuous(n: number, vid: number, inPort: number, target: number, fromUplink: number): number {
    const ports = this.vlanPromiscuous[vid];
    if (ports === undefined) return n;
    for (let i = 0; i < ports.length; i++) {
      const p = ports[i];
      if (p === inPort || p === target) continue;
      const v = this.vm[p]!;
      if (!this.isPortUp[p] || (v.effectiveMac !== v.configuredMac && !v.group.security.allowMacChanges))
        continue;
      if (fromUplink >= 0 && !v.group.teaming.acceptsFlood(fromUplink, v)) continue;
      // Keep an uplink (always appended by the caller after this) last.
      this.out[n++] = p;
    }
    return n;
  }

  /**
   * Sends to out[0..n): clones for all but the last, which takes the frame itself. An uplink,
   * if any, is last, so the tag pushed for it never reaches a VM port's copy.
   */
  private emit(n: number, frame: Frame, vid: number): void {
    for (let i = 0; i < n; i++) {
      const p = this.out[i];
      const f = i === n - 1 ? frame : frame.clone();
      if (this.vm[p] === null && vid !== UNTAGGED_VID) f.pushVlanTag(vid);
      if (p === this.vtepPort) this.toVtep(f);
      else this.core.transmit(p, f);
    }
  }

  /**
   * A frame for the VTEP's vmkernel interface. It is handed over on a zero-delay timer, not
   * inside this decision: what the VTEP does with it (decapsulate and deliver, answer an ARP)
   * makes decisions of this switch again, which reuse the scratch list this one is still using.
   */
  private toVtep(frame: Frame): void {
    const env = this.env;
    const vtep = this.vtep;
    if (env === null || vtep === null) return;
    this.core.countTx(this.vtepPort, frame);
    // A queue and one bound callback, not a closure per frame: zero-delay timers run in the
    // order they were set, so each takes the oldest frame.
    this.enqueueVtep(frame);
    env.setTimer(0, this.drainVtep);
  }

  /**
   * Frames waiting for the VTEP, `vtepQueue[vtepQueueHead, vtepQueueTail)`. The array is never
   * shortened: setting `length = 0` when it empties (every frame, on a quiet switch) frees its
   * backing store and the next `push` allocates a new one (measured: about 150 bytes a frame,
   * most of decapsulation's collections). Slots are cleared as they are taken, so the queue
   * keeps no frame alive.
   */
  private readonly vtepQueue: (Frame | null)[] = [];
  private vtepQueueHead = 0;
  private vtepQueueTail = 0;
  private enqueueVtep(frame: Frame): void {
    if (this.vtepQueueTail === this.vtepQueue.length) this.vtepQueue.push(frame);
    else this.vtepQueue[this.vtepQueueTail] = frame;
    this.vtepQueueTail++;
  }
  private readonly drainVtep = (nowNs: number): void => {
    const q = this.vtepQueue;
    const frame = q[this.vtepQueueHead] as Frame;
    q[this.vtepQueueHead++] = null;
    if (this.vtepQueueHead === this.vtepQueueTail) {
      this.vtepQueueHead = 0;
      this.vtepQueueTail = 0;
    }
    this.vtep?.receiveUnderlay(frame, nowNs);
  };

  private outNames(n: number): string {
    return this.core.outNames(n);
  }

  private recordFlood(nowNs: number, frame: Frame, inPort: number, n: number, vid: number, dst: Mac): void {
    const why =
      dst === 0xffffffffffff
        ? "broadcast"
        : isMulticastMac(dst)
          ? "multicast"
          : `no entry for ${formatMac(dst)}`;
    this.record(
      nowNs,
      frame,
      inPort,
      this.outNames(n),
      vid,
      "flood",
      `flooded in ${this.segmentLabel(vid)}: ${why}`,
    );
  }

  /**
   * SpoofGuard: an ARP or IPv4 frame from `v` must carry the vNIC's own addresses (ARP: sender
   * IP and sender MAC, the fields neighbours' caches take; IPv4: the source). 0.0.0.0 is allowed
   * (an RFC 5227 ARP probe, a DHCP request). Other EtherTypes, and frames too short to say, pass
   * (later stages refuse what is malformed). False when the frame was dropped.
   */
  private isGuarded(v: VmPort, frame: Frame, nowNs: number): boolean {
    const b = frame.buf;
    const s = frame.start;
    const type = (b[s + 12] << 8) | b[s + 13];
    const ip = v.ip as number;
    if (type === 0x0806 && frame.length >= ETHERNET_HEADER_LEN + 28) {
      const spa = Arp.senderIp(b, s + ETHERNET_HEADER_LEN);
      const isOwnMac = macHiAt(b, s + 22) === v.honoredHi && macLoAt(b, s + 22) === v.honoredLo;
      if ((spa === ip || spa === 0) && isOwnMac) return true;
      this.drop(
        v.index,
        frame,
        nowNs,
        v.vid,
        VswitchDrop.spoofedArp,
        () =>
          `dropped: spoofed ARP (sender ${formatIpv4(spa)} at ${formatMac(readMac(b, s + 22))}; ${v.name} is ${formatIpv4(ip)} at ${formatMac(v.honoredMac)})`,
      );
      return false;
    }
    if (type === 0x0800 && frame.length >= ETHERNET_HEADER_LEN + 20) {
      const src = Ipv4Header.src(b, s + ETHERNET_HEADER_LEN);
      if (src === ip || src === 0) return true;
      this.drop(
        v.index,
        frame,
        nowNs,
        v.vid,
        VswitchDrop.spoofedIp,
        () => `dropped: spoofed IPv4 source ${formatIpv4(src)} (${v.name} is ${formatIpv4(ip)})`,
      );
      return false;
    }
    return true;
  }

  /** Storm control on uplink `port`: false (frame dropped, counted) when over the class's rate. */
  private admitStorm(port: number, c: StormClass, frame: Frame, nowNs: number, vid: number): boolean {
    if ((this.storms as StormControl[])[port].admit(c, nowNs)) return true;
    this.drop(
      port,
      frame,
      nowNs,
      vid,
      STORM_DROP_CODES[c],
      () =>
        `dropped: storm control on ${this.portNames[port]} (${StormControl.describe(c, this.stormConfig as StormControlConfig)})`,
    );
    return false;
  }

  private drop(
    port: number,
    frame: Frame,
    nowNs: number,
    vid: number | null,
    code: string,
    reason: () => string,
  ): void {
    this.core.drop(port, frame, nowNs, toTraceVlan(vid), code, reason);
  }

  private record(
    nowNs: number,
    frame: Frame,
    inPort: number,
    out: string | null,
    vid: number | null,
    action: HopAction,
    reason: string,
  ): void {
    this.core.record(nowNs, frame, inPort, out, toTraceVlan(vid), action, reason);
  }

  /** A frame to an IEEE 802.1Q reserved address on an uplink: LACP to the engine, else refused. */
  private linkLocal(port: number, frame: Frame, nowNs: number): void {
    const b = frame.buf;
    const s = frame.start;
    if (!(b[s + 5] === 0x02 && Lacp.isLacpFrame(b, s))) {
      this.drop(
        port,
        frame,
        nowNs,
        null,
        VswitchDrop.linkLocal,
        () => `not forwarded: ${formatMac(readMac(b, s))} is an IEEE 802.1Q reserved (link-local) address`,
      );
      return;
    }
    const engine = this.lacp;
    if (engine === null) {
      this.drop(
        port,
        frame,
        nowNs,
        null,
        VswitchDrop.lacpOff,
        () => `LACPDU refused: the uplinks do not run LACP (teaming policy ${this.teaming.policy})`,
      );
      return;
    }
    let pdu: LacpRepr;
    try {
      pdu = Lacp.parse(b, s + ETHERNET_HEADER_LEN);
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
      this.drop(port, frame, nowNs, null, VswitchDrop.badLacpdu, () => `LACPDU refused: ${e.message}`);
      return;
    }
    if (this.core.isTracing)
      this.record(
        nowNs,
        frame,
        port,
        null,
        null,
        "deliver",
        `LACPDU for the uplinks' LAG: partner ${formatMac(pdu.actor.system)} key ${pdu.actor.key} port ${pdu.actor.port}`,
      );
    engine.receive(port, pdu, nowNs);
    this.runLacp(nowNs);
  }

  private sendLacpdu(member: number, pdu: LacpRepr): void {
    if (this.env === null || !this.isPortUp[member]) return;
    const f = Frame.alloc(124);
    Lacp.emitFrame(pdu, f.buf, f.start, this.lacpMacs[member]);
    this.core.transmit(member, f);
  }

  /** Runs the LACP engine, applies what it allows to the team, re-arms its timer. */
  private runLacp(nowNs: number): void {
    const engine = this.lacp as LacpEngine<number>;
    engine.run(nowNs);
    const team = this.team;
    // Most runs (a periodic LACPDU) change no member: only a change is worth comparing every
    // VM's uplink before and after.
    let isChanging = false;
    for (let i = 0; i < team.members.length && !isChanging; i++)
      isChanging = engine.mayEnable(team.members[i]) !== team.isEnabled(team.members[i]);
    if (isChanging)
      this.changeTeam(nowNs, () => {
        for (let i = 0; i < team.members.length; i++) {
          const m = team.members[i];
          const isEnabled = engine.mayEnable(m);
          if (team.setMemberEnabled(m, isEnabled)) {
            this.onLacpChange?.("uplinks", this.portNames[m], isEnabled, nowNs);
            this.env?.event?.({
              timeNs: nowNs,
              device: this.name,
              kind: "lacp",
              text: `${this.name}: ${this.portNames[m]} ${isEnabled ? "joined" : "left"} the uplinks' LAG (${isEnabled ? "collecting and distributing" : this.lacpWhy(m, nowNs)}); ${team.activeCount} of ${team.members.length} uplinks distribute`,
              fields: { lag: "uplinks", member: this.portNames[m], isEnabled },
            });
          }
        }
      });
    this.lacpTimer.arm(this.env, engine.nextTimerNs(), nowNs);
  }

  private lacpWhy(port: number, nowNs: number): string {
    if (!this.team.isUp(port)) return "link down";
    const st = this.lacp?.status(nowNs).find((m) => m.member === port);
    return st?.why ?? "LACP has not enabled it yet";
  }
}
