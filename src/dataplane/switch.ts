/**
 * A physical data-center switch (a top-of-rack switch, section 4.1 of the source document): a
 * VLAN-aware learning bridge (IEEE 802.1Q 8.6 forwarding process, 8.8 filtering database) with
 * access ports (untagged members of one VLAN) and trunk ports (802.1Q-tagged, an allowed VLAN
 * list or all VLANs, optionally a native VLAN carried untagged), and optionally a gateway: SVIs
 * through which the router behind the switch (see svi.ts) sends and receives the frames of a
 * VLAN.
 *
 * Ingress classifies every frame into one VLAN (802.1Q 6.9: an untagged or priority-tagged frame
 * belongs to the port's PVID, the access VLAN or the trunk's native VLAN) and refuses frames the
 * port does not admit (a tagged frame on an access port, a VLAN not allowed on a trunk, an
 * untagged frame on a trunk without native VLAN). Inside the switch a frame is untagged with its
 * VLAN beside it; egress tags it per port. Learning is on (VLAN, MAC) in the same MAC table as
 * the vswitch; known unicast goes to one port, unknown unicast, broadcast and multicast are
 * flooded to the VLAN's other ports, never back out of the ingress port (802.1Q 8.6.1).
 *
 * The switch's own MAC is the source of every frame its SVIs send. It is a static entry on an
 * internal port in every VLAN with an SVI, so it is never learned onto (moved to) a front port;
 * a frame arriving on a front port with that source is a loop or an impostor and is dropped.
 *
 * With `stp: { mode: "rstp" }` the switch runs one RSTP engine (rstp.ts) over its logical ports
 * (a LAG is one spanning-tree port) and its port states gate the dataplane (802.1Q 8.4): a
 * discarding port takes in no data frame and sends none, a learning port learns from what
 * arrives but forwards nothing, only forwarding ports are flooded to or chosen for a learned
 * destination. BPDUs go to the engine instead of being refused; without STP nothing changes.
 */

import { formatIpv4, formatMac, type Ipv4, isMulticastMac, type Mac, readMac } from "../wire/addr.ts";
import { WireError } from "../wire/error.ts";
import { ETHERNET_HEADER_LEN, EtherType } from "../wire/ethernet.ts";
import { Lacp, type LacpRepr } from "../wire/lacp.ts";
import { ETHERTYPE_MLAG, MLAG_ORPHAN, MlagCodec, type MlagMessage, mlagMessageLength } from "../wire/mlag.ts";
import { formatStpFlags, STP_FRAME_LEN, Stp, type StpRepr } from "../wire/stp.ts";
import { isVlanTpid, VLAN_TAG_LEN, Vlan } from "../wire/vlan.ts";
import { VXLAN_OVERHEAD, VXLAN_UDP_PORT, vxlanEncapsulate } from "../wire/vxlan.ts";
import { Bundle, type LagHash, lagHash } from "./bundle.ts";
import { checkUnicastMac, checkVid, DeviceConfigError } from "./config-error.ts";
import type { DropCounters, PortCounters } from "./counters.ts";
import { PROCESSING_DELAY_NS } from "./delays.ts";
import type { Device, DeviceEnv } from "./device.ts";
import { EngineTimer } from "./engine-timer.ts";
import { Frame } from "./frame.ts";
import { LacpEngine, type LacpMemberStatus, type LacpRate } from "./lacp.ts";
import {
  DEFAULT_MAC_AGING_NS,
  DEFAULT_MAC_TABLE_SIZE,
  Learn,
  MacTable,
  macHiAt,
  macLoAt,
} from "./mac-table.ts";
import { MlagEngine, type MlagEvent } from "./mlag.ts";
import { PortCore } from "./port-core.ts";
import { formatBridgeId, Rstp, type RstpEvent, type RstpStatus } from "./rstp.ts";
import {
  isBroadcastAt,
  STORM_DROP_CODES,
  StormClass,
  StormControl,
  type StormControlConfig,
} from "./storm-control.ts";
import type { SviHandler, SviHost } from "./svi.ts";
import { RemoteVteps, VniTable, type VniTableConfig } from "./vtep-table.ts";

export const SwitchDrop = {
  runt: "runt",
  taggedOnAccess: "tagged-on-access",
  untaggedOnTrunk: "untagged-on-trunk",
  vlanNotAllowed: "vlan-not-allowed",
  stagOnPort: "s-tag-not-supported",
  multicastSource: "multicast-source",
  ownMacAsSource: "own-mac-as-source",
  sameSegment: "destination-on-ingress-port",
  noSvi: "no-svi",
  portDown: "port-down",
  noReceiver: "no-receiver",
  nestedTag: "nested-vlan-tag",
  linkLocal: "link-local-multicast",
  lacpOff: "lacp-not-running",
  badLacpdu: "bad-lacpdu",
  notCollecting: "lag-member-not-collecting",
  /** A flooded copy for a LAG whose members have carrier but LACP lets none distribute. */
  notDistributing: "lag-member-not-distributing",
  lagDown: "lag-no-member",
  mgmtPort: "management-port",
  taggedOnRouted: "tagged-on-routed-port",
  badMlag: "bad-mlag-message",
  mlagSuspended: "mlag-suspended",
  mlagPeerServed: "mlag-peer-delivered",
  vxlanNoRemote: "vxlan-no-remote-vtep",
  vxlanMalformed: "vxlan-malformed",
  unknownVni: "unknown-vni",
  /** RSTP: the port (in or out) is discarding: an alternate or backup port, or not yet agreed. */
  stpDiscarding: "stp-discarding",
  /** RSTP: the ingress port is learning: the source is learned, the frame not forwarded. */
  stpLearning: "stp-learning",
  /** RSTP: BPDU guard shut the port when a BPDU arrived on it. */
  errDisabled: "err-disabled",
  badBpdu: "bad-bpdu",
} as const;

export type SwitchPortConfig = (
  | { name: string; mode: "access"; vlan: number }
  /** `vlans: null` allows every VLAN 1..4094; `nativeVlan` is carried untagged. */
  | { name: string; mode: "trunk"; vlans: number[] | null; nativeVlan?: number | null }
  /** A layer-3 port: no VLANs, no bridging; its frames go to the router (`attachSvi`). */
  | { name: string; mode: "routed" }
) & {
  /** Ingress limits on what this port's frames may make the switch flood. */
  stormControl?: StormControlConfig | null;
  /** RSTP: a port to hosts, never to a bridge: it forwards at once (802.1D AdminEdge). */
  isEdge?: boolean;
  /** RSTP: err-disable the port when a BPDU arrives on it. */
  hasBpduGuard?: boolean;
  /** RSTP: the port's speed for its path cost (a LAG: its members' total); default 10 Gb/s. */
  speedBps?: number;
};

/** Spanning tree on the switch (`stp:` of the topology); only RSTP is run. */
export interface SwitchStpConfig {
  mode: "rstp";
  /** Bridge priority, a multiple of 4096 in 0..61440 (default 32768); lowest becomes the root. */
  priority?: number;
  helloTimeS?: number;
  maxAgeS?: number;
  forwardDelayS?: number;
}

/** An RSTP event of the switch, its ports by name (for timelines). */
export type SwitchStpEvent = RstpEvent<string>;

/**
 * A link aggregation group: member front ports that act as the one port `name` (configured in
 * `ports` under that name). `lacp: off` is a static LAG (every member with carrier carries
 * traffic); active/passive run LACP (IEEE 802.1AX) and a member carries traffic only once the
 * protocol lets it collect and distribute.
 */
export interface LagConfig {
  name: string;
  members: string[];
  lacp: "active" | "passive" | "off";
  /** LACPDU rate this end asks of its partner (default slow: 30 s, timeout 90 s). */
  rate?: LacpRate;
  /** Transmit hash (default l3l4). */
  hash?: LagHash;
  /** LACP system id (default: the switch's MAC; an MLAG pair shares one), priority and key. */
  system?: Mac;
  systemPriority?: number;
  key?: number;
  /** A half of a multi-chassis LAG: its id in the MLAG domain (the same on both switches). */
  mlagId?: number;
  /** Added to LACP port numbers so the two switches of an MLAG pair never announce the same one. */
  portNumberOffset?: number;
}

/** A switch's hardware VTEP (see `SwitchOptions.vtep`). */
export interface HardwareVtepConfig {
  ip: Ipv4;
  /** Per VNI its VLAN, flood list, learning, static entries and ageing (`vtep-table.ts`). */
  vnis: (VniTableConfig & { vid: number })[];
}

/** This switch's part of an MLAG (vPC) domain. */
export interface SwitchMlagConfig {
  domain: number;
  /** Role priority (lower is primary). */
  priority: number;
  /** The LAG that is the peer link. */
  peerLink: string;
  /** A front port used only for the keepalive (a management port), or null. */
  keepalivePort: string | null;
}

export interface SwitchOptions {
  name: string;
  /** The switch's own MAC (its SVIs' address, the default LACP system id). */
  mac: Mac;
  /** Front ports and LAGs (a LAG is configured as one port, under its name). */
  ports: SwitchPortConfig[];
  lags?: LagConfig[];
  /** VLANs with an SVI (the `gateway:` of the topology); the router attaches with `attachSvi`. */
  sviVlans?: number[];
  /**
   * A hardware VTEP: `ip` (the switch's loopback or another of its addresses, owned by the router
   * attached with `attachSvi`) and per local VLAN its VNI, flood list and static entries.
   */
  vtep?: HardwareVtepConfig | null;
  mlag?: SwitchMlagConfig | null;
  macTableSize?: number;
  macAgingNs?: number;
  processingDelayNs?: number;
  /** Spanning tree; null or absent: none (a loop storms, so the loader refuses one). */
  stp?: SwitchStpConfig | null;
}

/** A logical port: a front port, or a LAG over several. Learning and flooding are on these. */
interface Port {
  name: string;
  isTrunk: boolean;
  /** Access VLAN, or the trunk's native VLAN, or -1 (no untagged frames on this trunk). */
  pvid: number;
  /** Allowed VLANs of a trunk (null: all); for an access port, its one VLAN. */
  allowed: Uint8Array | null;
  storm: StormControl | null;
  stormConfig: StormControlConfig | null;
  /** The front port of a single port; -1 for a LAG. */
  devicePort: number;
  lag: Lag | null;
  /** A routed port: in no VLAN; its frames go to the router. */
  isRouted: boolean;
}

interface Lag {
  bundle: Bundle;
  hash: LagHash;
  config: LagConfig;
  lacp: LacpEngine<number> | null;
  /** The logical port this LAG is. */
  logical: number;
  /** Whether some member distributed at the last look (to notice the LAG going up or down). */
  wasUp: boolean;
}

/** IEEE 802.1Q reserved group addresses 01-80-C2-00-00-00..0F: link-local, never forwarded. */
const RESERVED_HI = 0x0180c2;

/** A logical port's RSTP state as the hot path reads it (`stpState`). */
const STP_DISCARDING = 0;
const STP_LEARNING = 1;
const STP_FORWARDING = 2;
/** A port's default speed for its RSTP path cost: 10 Gb/s, cost 2000 (802.1D Table 17-3). */
const DEFAULT_STP_SPEED_BPS = 10e9;

export class PhysicalSwitch implements Device, SviHost {
  readonly kind = "switch" as const;
  readonly name: string;
  readonly mac: Mac;
  /** The switch MAC's 24-bit halves, compared against frame bytes without building a number. */
  private readonly macHi: number;
  private readonly macLo: number;
  /** Front port names, indexed by device port. */
  readonly portNames: readonly string[];
  readonly portCounters: readonly PortCounters[];
  /** Frames to and from the router behind the SVIs. */
  readonly sviCounters: PortCounters;
  readonly drops: DropCounters;
  readonly processingDelayNs: number;
  /** The MAC table; its ports are logical ports (`logicalPortName`), the SVIs at `sviPort`. */
  readonly macTable: MacTable;
  /** The MAC-table port standing for the SVIs (one past the last logical port). */
  readonly sviPort: number;
  private readonly core: PortCore;
  /** The device port (for counters) standing for the SVIs: one past the last front port. */
  private readonly sviDevicePort: number;
  private readonly ports: Port[];
  /** Device port -> logical port. */
  private readonly logicalOf: Int32Array;
  private readonly lags: Lag[] = [];
  private readonly isPortUp: boolean[];
  private readonly hasSvi = new Uint8Array(4096);
  /** Per VLAN, the logical ports that carry it (computed on first use). */
  private readonly members: (Int32Array | undefined)[] = new Array(4096);
  /** Egress logical ports of one decision; resolved to device ports in `core.out` by `emit`. */
  private readonly outLogical: Int32Array;
  private svi: SviHandler | null = null;
  private env: DeviceEnv | null = null;
  private readonly lacpTimer = new EngineTimer((t) => this.runLacp(t));
  /** Called when LACP lets a member in or takes it out of its LAG (for timelines). */
  onLacpChange: ((lag: string, member: string, isEnabled: boolean, nowNs: number) => void) | null = null;
  /** The RSTP engine over the logical ports (handle = logical port), or null without STP. */
  private stp: Rstp<number> | null = null;
  /** Per logical port (and the SVIs' internal port, always forwarding): STP_DISCARDING.. */
  private readonly stpState: Uint8Array;
  /** Per logical port: 1 while BPDU guard holds it err-disabled. */
  private readonly stpErrDisabled: Uint8Array;
  private readonly stpPorts: { isEdge: boolean; hasBpduGuard: boolean; speedBps: number }[];
  /** Ports are registered with the engine at `start` (BPDUs need the env). */
  private isStpStarted = false;
  private readonly stpTimer = new EngineTimer((t) => this.runStp(t));
  /** Called with every RSTP event (roles, states, topology changes, BPDU guard), ports by name. */
  onStpEvent: ((event: SwitchStpEvent) => void) | null = null;

  /** What a reboot forgets, from the configuration (`powerOff`). */
  private readonly options: SwitchOptions;
  /** Components behind the switch (its router, VPN gateways) told of a power cycle. */
  private readonly powerHooks: { off(nowNs: number): void; boot(nowNs: number): void }[] = [];
  /** Set by `powerOff`: the next `start` is a reboot, which also boots the components. */
  private isRebooting = false;

  constructor(options: SwitchOptions) {
    this.options = options;
    this.name = options.name;
    checkUnicastMac(options.mac, `switch ${this.name}`);
    this.mac = options.mac;
    this.macHi = Math.floor(options.mac / 0x1000000);
    this.macLo = options.mac % 0x1000000;
    this.processingDelayNs = options.processingDelayNs ?? PROCESSING_DELAY_NS.switch;
    const lagConfigs = new Map<string, LagConfig>();
    for (const l of options.lags ?? []) {
      if (lagConfigs.has(l.name))
        throw new DeviceConfigError("bad-port", `switch ${this.name}: duplicate LAG "${l.name}"`);
      if (l.members.length === 0)
        throw new DeviceConfigError("bad-port", `switch ${this.name}: LAG ${l.name} has no members`);
      lagConfigs.set(l.name, l);
    }
    const seen = new Set<string>();
    const deviceNames: string[] = [];
    const logicalOf: number[] = [];
    const addDevicePort = (n: string, logical: number): number => {
      if (n === "" || seen.has(n))
        throw new DeviceConfigError("bad-port", `switch ${this.name}: duplicate or empty port name "${n}"`);
      seen.add(n);
      deviceNames.push(n);
      logicalOf.push(logical);
      return deviceNames.length - 1;
    };
    const configured = new Set(options.ports.map((p) => p.name));
    for (const l of lagConfigs.values())
      if (!configured.has(l.name))
        throw new DeviceConfigError(
          "bad-port",
          `switch ${this.name}: LAG ${l.name} has no port configuration (configure it under ports.${l.name})`,
        );
    this.ports = options.ports.map((p, logical) => {
      const what = `switch ${this.name} port ${p.name}`;
      const lagConfig = lagConfigs.get(p.name);
      let devicePort = -1;
      let lag: Lag | null = null;
      if (lagConfig === undefined) {
        devicePort = addDevicePort(p.name, logical);
      } else {
        if (seen.has(p.name))
          throw new DeviceConfigError("bad-port", `switch ${this.name}: duplicate port name "${p.name}"`);
        seen.add(p.name);
        const memberPorts = lagConfig.members.map((m) => addDevicePort(m, logical));
        lag = {
          bundle: new Bundle(p.name, memberPorts, lagConfig.lacp !== "off"),
          hash: lagConfig.hash ?? "l3l4",
          config: lagConfig,
          lacp: null,
          logical,
          wasUp: lagConfig.lacp === "off",
        };
        this.lags.push(lag);
      }
      const stormConfig = StormControl.isEmpty(p.stormControl) ? null : (p.stormControl ?? null);
      const storm = stormConfig === null ? null : new StormControl(stormConfig);
      const base = { name: p.name, storm, stormConfig, devicePort, lag, isRouted: false };
      if (p.mode === "routed") {
        if (lag !== null)
          throw new DeviceConfigError("bad-port", `${what}: a LAG cannot be a routed port here`);
        return { ...base, isRouted: true, isTrunk: false, pvid: -1, allowed: null };
      }
      if (p.mode === "access") {
        checkVid(p.vlan, what);
        return { ...base, isTrunk: false, pvid: p.vlan, allowed: null };
      }
      let allowed: Uint8Array | null = null;
      if (p.vlans !== null) {
        allowed = new Uint8Array(4096);
        for (const v of p.vlans) {
          checkVid(v, what);
          allowed[v] = 1;
        }
      }
      const native = p.nativeVlan ?? null;
      if (native !== null) {
        checkVid(native, `${what} native VLAN`);
        if (allowed !== null && allowed[native] === 0)
          throw new DeviceConfigError(
            "bad-vlan",
            `${what}: native VLAN ${native} is not in the allowed VLANs`,
          );
      }
      return { ...base, isTrunk: true, pvid: native ?? -1, allowed };
    });
    this.portNames = deviceNames;
    this.logicalOf = Int32Array.from(logicalOf);
    this.sviDevicePort = deviceNames.length;
    this.core = new PortCore(this.name, "switch", deviceNames, 1, (port, vid) =>
      port === this.sviDevicePort ? `vlan${vid ?? 0}` : (deviceNames[port] ?? "?"),
    );
    this.portCounters = this.core.counters.slice(0, deviceNames.length);
    this.sviCounters = this.core.counters[this.sviDevicePort];
    this.drops = this.core.drops;
    this.isPortUp = this.core.isUp;
    this.sviPort = this.ports.length;
    this.outLogical = new Int32Array(this.ports.length + 1);
    this.macTable = new MacTable({
      maxEntries: options.macTableSize ?? DEFAULT_MAC_TABLE_SIZE,
      agingNs: options.macAgingNs ?? DEFAULT_MAC_AGING_NS,
    });
    for (const vid of options.sviVlans ?? []) {
      checkVid(vid, `switch ${this.name} SVI`);
      this.hasSvi[vid] = 1;
      this.macTable.addStatic(vid, this.mac, this.sviPort);
    }
    this.lags.forEach((lag, i) => {
      this.createLacp(lag, i);
    });
    this.stpState = new Uint8Array(this.ports.length + 1).fill(STP_FORWARDING);
    this.stpErrDisabled = new Uint8Array(this.ports.length);
    this.stpPorts = options.ports.map((p, logical) => ({
      isEdge: p.isEdge ?? false,
      hasBpduGuard: p.hasBpduGuard ?? false,
      // A LAG's speed is its members' together (802.1AX; the path cost of an aggregate).
      speedBps: p.speedBps ?? DEFAULT_STP_SPEED_BPS * (this.ports[logical].lag?.bundle.members.length ?? 1),
    }));
    if (options.stp !== undefined && options.stp !== null) this.stp = this.createStp(options.stp);
    this.mlagIdOf = new Int32Array(this.ports.length + 1).fill(-1);
    const mlag = options.mlag ?? null;
    if (mlag !== null) this.setUpMlag(mlag);
    const vtep = options.vtep ?? null;
    if (vtep !== null) this.setUpVtep(vtep);
  }

  /** A LAG's LACP engine (none with `lacp: off`), its members as the configuration says. */
  private createLacp(lag: Lag, i: number): void {
    const c = lag.config;
    if (c.lacp === "off") return;
    const engine = new LacpEngine<number>(
      {
        system: c.system ?? this.mac,
        systemPriority: c.systemPriority,
        key: c.key ?? i + 1,
        mode: c.lacp,
        rate: c.rate ?? "slow",
      },
      (member, pdu) => this.sendLacpdu(member, pdu),
    );
    for (let m = 0; m < lag.bundle.members.length; m++)
      engine.addMember(lag.bundle.members[m], {
        port: lag.bundle.members[m] + 1 + (c.portNumberOffset ?? 0),
      });
    lag.lacp = engine;
  }

  // --- hardware VTEP ----------------------------------------------------------------------

  /** The MAC-table port standing for the VXLAN tunnel (-1 without a VTEP). */
  private tunnelLogical = -1;
  private vtepIp = 0;
  /** Per VLAN its VNI (0: none), and back. */
  private readonly vniOfVid = new Int32Array(4096);
  /** Per VNI its VLAN and its flood list and MAC -> remote VTEP table (learned entries age). */
  private readonly vtepVnis = new Map<number, { vid: number; table: VniTable }>();
  /** The remote VTEPs, each with the outer header template of the tunnel to it. */
  private readonly vtepRemotes = new RemoteVteps();

  private setUpVtep(c: HardwareVtepConfig): void {
    this.tunnelLogical = this.ports.length + 1;
    this.vtepIp = c.ip;
    for (const v of c.vnis) {
      checkVid(v.vid, `switch ${this.name} VTEP`);
      this.vniOfVid[v.vid] = v.vni;
      this.vtepVnis.set(v.vni, {
        vid: v.vid,
        table: new VniTable(v, this.vtepRemotes, c.ip, `switch ${this.name} VTEP`),
      });
    }
  }

  /** VXLAN entries of the hardware VTEP (MAC -> remote VTEP per VNI) at `nowNs`, for display. */
  vtepTable(
    nowNs = this.env?.now() ?? 0,
  ): { vni: number; vid: number; mac: Mac; vtep: Ipv4; isStatic: boolean; ageNs: number }[] {
    const rows: { vni: number; vid: number; mac: Mac; vtep: Ipv4; isStatic: boolean; ageNs: number }[] = [];
    for (const [vni, v] of this.vtepVnis)
      for (const e of v.table.entries(nowNs)) rows.push({ vni, vid: v.vid, ...e });
    return rows;
  }

  /**
   * A frame of VLAN `vid` into its VNI: to the remote VTEP that has `dst` (known unicast), or a
   * copy to every VTEP of the flood list (head-end replication, RFC 7348 §4.2); encapsulated
   * from the VTEP's address and routed through the underlay by the switch's router.
   */
  private toTunnel(inPort: number, vid: number, frame: Frame, nowNs: number, dst: Mac | null): void {
    const vni = this.vniOfVid[vid];
    const v = this.vtepVnis.get(vni);
    const core = this.core;
    const svi = this.svi;
    if (v === undefined || svi?.sendUnderlay === undefined) {
      core.drop(
        inPort,
        frame,
        nowNs,
        vid,
        SwitchDrop.noSvi,
        () => `dropped: no router to send VNI ${vni} from`,
      );
      return;
    }
    const b = frame.buf;
    const knownIndex =
      dst === null || (b[frame.start] & 1) !== 0 ? -1 : v.table.lookupAt(b, frame.start, nowNs);
    const known = knownIndex < 0 ? undefined : this.vtepRemotes.all[knownIndex];
    const targets = known === undefined ? v.table.flood : [known];
    if (targets.length === 0) {
      core.drop(
        inPort,
        frame,
        nowNs,
        vid,
        SwitchDrop.vxlanNoRemote,
        () => `dropped: VNI ${vni} has no remote VTEP to flood to`,
      );
      return;
    }
    for (let i = 0; i < targets.length; i++) {
      const f = i === targets.length - 1 ? frame : frame.clone();
      const to = targets[i];
      const remote = to.ip;
      let outer = to.outer;
      if (outer === null) {
        outer = {
          srcMac: this.mac,
          dstMac: 0,
          srcIp: this.vtepIp,
          dstIp: remote,
          vni,
          ttl: 64,
          dscp: 0,
          dontFragment: true,
          ipId: 0,
          dstPort: VXLAN_UDP_PORT,
        };
        to.outer = outer;
      }
      outer.vni = vni;
      const innerLen = f.length;
      f.prepend(VXLAN_OVERHEAD);
      f.start = vxlanEncapsulate(f.buf, f.start + VXLAN_OVERHEAD, innerLen, outer);
      if (core.isTracing)
        core.recordAt(
          nowNs,
          f,
          "vxlan",
          null,
          vid,
          "send",
          `encapsulated in VXLAN VNI ${vni} to VTEP ${formatIpv4(remote)} (hardware VTEP ${formatIpv4(this.vtepIp)}, vlan ${vid}${known === undefined ? ", head-end replication" : ""})`,
          undefined,
          undefined,
          {
            encap: {
              type: "vxlan",
              step: "encapsulate",
              vni,
              outerSrc: formatIpv4(this.vtepIp),
              outerDst: formatIpv4(remote),
              bridgedVlan: vid,
            },
          },
        );
      svi.sendUnderlay(f, nowNs);
    }
  }

  /**
   * UDP 4789 for the VTEP's address, from `src` (the router hands it over): the inner frame
   * enters its VLAN as from the tunnel port (learned there, and its remote VTEP with it).
   */
  receiveVxlan(src: Ipv4, payload: Uint8Array, nowNs: number): void {
    const core = this.core;
    if (payload.length < 8 + ETHERNET_HEADER_LEN || (payload[0] & 0x08) === 0) {
      this.drops.add(SwitchDrop.vxlanMalformed);
      return;
    }
    const vni = (payload[4] << 16) | (payload[5] << 8) | payload[6];
    const v = this.vtepVnis.get(vni);
    if (v === undefined) {
      this.drops.add(SwitchDrop.unknownVni);
      return;
    }
    const frame = Frame.fromBytes(payload.subarray(8));
    const b = frame.buf;
    const s = frame.start;
    if ((b[s + 6] & 1) !== 0) {
      core.drop(
        this.sviDevicePort,
        frame,
        nowNs,
        v.vid,
        SwitchDrop.multicastSource,
        () => "dropped: multicast inner source",
      );
      return;
    }
    v.table.learnAt(b, s + 6, this.vtepRemotes.of(src), nowNs);
    this.macTable.learnAt(v.vid, b, s + 6, this.tunnelLogical, nowNs);
    if (core.isTracing)
      core.recordAt(
        nowNs,
        frame,
        "vxlan",
        null,
        v.vid,
        "receive",
        `decapsulated VNI ${vni} from ${formatIpv4(src)} into vlan ${v.vid}`,
        undefined,
        undefined,
        {
          encap: {
            type: "vxlan",
            step: "decapsulate",
            vni,
            outerSrc: formatIpv4(src),
            outerDst: formatIpv4(this.vtepIp),
            bridgedVlan: v.vid,
          },
        },
      );
    this.forward(this.sviDevicePort, this.tunnelLogical, frame, nowNs, v.vid);
  }

  // --- MLAG -----------------------------------------------------------------------------------

  /** Per logical port, the multi-chassis LAG id (-1: not one). */
  private readonly mlagIdOf: Int32Array;
  private readonly logicalOfMlag = new Map<number, number>();
  private mlag: MlagEngine | null = null;
  private peerLinkLogical = -1;
  private keepalivePort = -1;
  /** Device ports suspended by MLAG (the secondary's halves while the peer link is down). */
  private isSuspendedPort: Uint8Array = new Uint8Array(0);
  /** Carrier as the world reports it (a suspended port is down whatever its cable says). */
  private isCableUp: boolean[] = [];
  private readonly mlagTimer = new EngineTimer((t) => {
    this.mlag?.run(t);
    this.armMlag(t);
  });
  /** Called with the MLAG engine's events (role changes, suspension, split brain), for timelines. */
  onMlagEvent: ((e: MlagEvent) => void) | null = null;

  private setUpMlag(c: SwitchMlagConfig): void {
    const peer = this.ports.findIndex((p) => p.name === c.peerLink && p.lag !== null);
    if (peer < 0)
      throw new DeviceConfigError(
        "bad-port",
        `switch ${this.name}: MLAG peer link ${c.peerLink} is not a LAG of this switch`,
      );
    this.peerLinkLogical = peer;
    if (c.keepalivePort !== null) {
      this.keepalivePort = this.portIndex(c.keepalivePort);
      if (this.keepalivePort < 0 || this.ports[this.logicalOf[this.keepalivePort]].lag !== null)
        throw new DeviceConfigError(
          "bad-port",
          `switch ${this.name}: keepalive port ${c.keepalivePort} is not a front port`,
        );
      // The management port is no bridge port: it is in no VLAN's flood list.
      this.members.fill(undefined);
    }
    const halves: number[] = [];
    for (const lag of this.lags) {
      const id = lag.config.mlagId;
      if (id === undefined) continue;
      this.mlagIdOf[lag.logical] = id;
      this.logicalOfMlag.set(id, lag.logical);
      halves.push(id);
    }
    this.isSuspendedPort = new Uint8Array(this.portNames.length);
    this.isCableUp = this.portNames.map(() => true);
    this.mlag = new MlagEngine(
      {
        domain: c.domain,
        priority: c.priority,
        system: this.mac,
        hasKeepalive: c.keepalivePort !== null,
        halves,
      },
      {
        sendPeerLink: (msg) => this.sendMlag(msg, -1),
        sendKeepalive: (msg) => this.sendMlag(msg, this.keepalivePort),
        onPeerMac: (vid, mac, id, isAdd, nowNs) => this.installPeerMac(vid, mac, id, isAdd, nowNs),
        onSuspend: (isSuspended, nowNs) => this.suspendHalves(isSuspended, nowNs),
        onEvent: (e) => {
          this.onMlagEvent?.(e);
          this.env?.event?.({
            timeNs: e.timeNs,
            device: this.name,
            kind: "mlag",
            text: `${this.name}: MLAG domain ${c.domain}: ${e.text}`,
            fields: { domain: c.domain, event: e.kind, role: this.mlag?.role ?? "none" },
          });
        },
      },
    );
  }

  /** MLAG state for display (`vnet show mlag`), or null when the switch is in no domain. */
  mlagStatus():
    | (ReturnType<MlagEngine["status"]> & {
        domain: number;
        halves: { id: number; lag: string; isLocalUp: boolean; isPeerUp: boolean }[];
      })
    | null {
    const m = this.mlag;
    if (m === null) return null;
    const st = m.status();
    return {
      ...st,
      domain: m.config.domain,
      halves: st.halves.map((h) => ({ ...h, lag: this.ports[this.logicalOfMlag.get(h.id) as number].name })),
    };
  }

  private sendMlag(msg: MlagMessage, devicePort: number): void {
    if (this.env === null) return;
    let port = devicePort;
    if (port < 0) {
      const lag = this.ports[this.peerLinkLogical].lag as Lag;
      port = lag.bundle.chooseOutput(0);
      if (port < 0) return;
    } else if (!this.isPortUp[port]) return;
    const len = ETHERNET_HEADER_LEN + mlagMessageLength(msg);
    const f = Frame.alloc(Math.max(60, len));
    const b = f.buf;
    const s = f.start;
    // To the peer: a group address outside the IEEE reserved block (the peer link is a trunk
    // and the keepalive may cross a management switch).
    b.set([0x01, 0x00, 0x0c, 0xcc, 0xcc, 0xcf], s);
    b[s + 6] = Math.floor(this.mac / 0x10000000000) & 0xff;
    for (let i = 1; i < 6; i++) b[s + 6 + i] = Math.floor(this.mac / 2 ** (8 * (5 - i))) & 0xff;
    b[s + 12] = ETHERTYPE_MLAG >> 8;
    b[s + 13] = ETHERTYPE_MLAG & 0xff;
    MlagCodec.emit(msg, b, s + ETHERNET_HEADER_LEN);
    this.core.transmit(port, f);
  }

  private receiveMlag(port: number, frame: Frame, nowNs: number): void {
    const m = this.mlag as MlagEngine;
    let msg: MlagMessage;
    try {
      msg = MlagCodec.parse(frame.buf, frame.start + ETHERNET_HEADER_LEN, frame.end);
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
      this.core.drop(
        port,
        frame,
        nowNs,
        null,
        SwitchDrop.badMlag,
        () => `MLAG message refused: ${e.message}`,
      );
      return;
    }
    if (this.core.isTracing)
      this.core.record(
        nowNs,
        frame,
        port,
        null,
        null,
        "deliver",
        `MLAG ${msg.type} from the peer over the ${port === this.keepalivePort ? "keepalive" : "peer link"}`,
      );
    m.receive(msg, port === this.keepalivePort ? "keepalive" : "peer-link", nowNs);
    this.armMlag(nowNs);
  }

  /** Whether the source at `buf[at..]` is known on a port of this switch other than the peer link. */
  private isHeldLocally(vid: number, buf: Uint8Array, at: number, nowNs: number): boolean {
    const q = this.macTable.lookupAt(vid, buf, at, nowNs);
    return q >= 0 && q !== this.peerLinkLogical;
  }

  private installPeerMac(vid: number, mac: Mac, id: number, isAdd: boolean, nowNs: number): void {
    let logical = this.peerLinkLogical;
    if (id !== MLAG_ORPHAN) {
      const local = this.logicalOfMlag.get(id);
      if (local !== undefined && this.isLogicalUp(local)) logical = local;
    }
    if (!isAdd) {
      if (this.macTable.lookup(vid, mac, nowNs) === logical) this.macTable.delete(vid, mac);
      return;
    }
    this.macTable.learn(vid, mac, logical, nowNs);
  }

  private suspendHalves(isSuspended: boolean, nowNs: number): void {
    for (const lag of this.lags) {
      if (lag.config.mlagId === undefined) continue;
      for (const m of lag.bundle.members) {
        this.isSuspendedPort[m] = isSuspended ? 1 : 0;
        this.applyCarrier(m, nowNs);
        this.env?.setCarrier?.(m, !isSuspended && this.isCableUp[m]);
      }
    }
  }

  /** A LAG's distributing members changed: tell MLAG when the LAG as a whole went up or down. */
  private lagChanged(lag: Lag, nowNs: number): void {
    const isUp = lag.bundle.activeCount > 0;
    if (isUp === lag.wasUp) return;
    lag.wasUp = isUp;
    if (!isUp) this.macTable.flushPort(lag.logical);
    const m = this.mlag;
    if (m === null) return;
    if (lag.logical === this.peerLinkLogical) m.setPeerLinkUp(isUp, nowNs);
    else if (lag.config.mlagId !== undefined) m.setLocalHalfUp(lag.config.mlagId, isUp, nowNs);
    this.armMlag(nowNs);
  }

  private armMlag(nowNs: number): void {
    if (this.mlag !== null) this.mlagTimer.arm(this.env, this.mlag.nextTimerNs(), nowNs);
  }

  bind(env: DeviceEnv): void {
    this.env = env;
    this.core.env = env;
  }

  start(nowNs: number): void {
    this.startProtocols(nowNs);
    if (this.isRebooting) {
      this.isRebooting = false;
      for (const h of this.powerHooks) h.boot(nowNs);
    }
  }

  /**
   * A component behind the switch (its router, a VPN gateway) that forgets its state when the
   * switch loses power and starts again when it boots (the world starts it the first time).
   */
  addPowerHook(hook: { off(nowNs: number): void; boot(nowNs: number): void }): void {
    this.powerHooks.push(hook);
  }

  /**
   * Power lost (a `fail` fault): everything learned or negotiated is forgotten, so the switch
   * boots as it first did: MAC table (but the SVIs' static entries), LACP partners (members
   * disabled until LACP agrees again), spanning tree (ports discarding until it converges;
   * BPDU guard's err-disable cleared), the MLAG role and the peer's MACs, storm-control
   * buckets, the VTEP's learned entries, and (through the hooks) the router's ARP cache and
   * the VPN sessions. Nothing is sent or reported: the world has silenced the switch first.
   */
  powerOff(nowNs: number): void {
    this.isRebooting = true;
    for (const h of this.powerHooks) h.off(nowNs);
    this.lacpTimer.forget();
    this.stpTimer.forget();
    this.mlagTimer.forget();
    this.macTable.flushAll();
    this.isPortUp.fill(true);
    for (const p of this.ports) if (p.stormConfig !== null) p.storm = new StormControl(p.stormConfig);
    this.lags.forEach((lag, i) => {
      for (const m of lag.bundle.members) {
        lag.bundle.setMemberUp(m, true);
        lag.bundle.setMemberEnabled(m, !lag.bundle.isProtocolRun);
      }
      lag.wasUp = lag.config.lacp === "off";
      this.createLacp(lag, i);
    });
    this.stpErrDisabled.fill(0);
    this.stpState.fill(STP_FORWARDING);
    this.isStpStarted = false;
    const stp = this.options.stp;
    if (stp !== undefined && stp !== null) this.stp = this.createStp(stp);
    const mlag = this.options.mlag ?? null;
    if (mlag !== null) {
      this.logicalOfMlag.clear();
      this.setUpMlag(mlag);
    }
    const vtep = this.options.vtep ?? null;
    if (vtep !== null) {
      this.vtepVnis.clear();
      this.setUpVtep(vtep);
    }
  }

  /**
   * LACP, MLAG and spanning tree, also when the world starts quietly (`start` is not called
   * then): without them no LAG forms and every STP port stays discarding.
   */
  startProtocols(nowNs: number): void {
    if (this.lags.some((l) => l.lacp !== null)) this.runLacp(nowNs);
    for (const lag of this.lags) if (lag.lacp === null) this.lagChanged(lag, nowNs);
    if (this.mlag !== null) {
      this.mlag.start(nowNs);
      this.armMlag(nowNs);
    }
    if (this.stp !== null) this.startStp(nowNs);
  }

  /** Connects the router behind the SVIs. */
  attachSvi(handler: SviHandler): void {
    this.svi = handler;
  }

  /** Device (front) port index by name, or -1. */
  portIndex(name: string): number {
    return this.portNames.indexOf(name);
  }

  /** The name of a MAC-table port: a front port, a LAG, or `svi`. */
  logicalPortName(port: number): string {
    if (port === this.tunnelLogical) return "vxlan";
    return port === this.sviPort ? "svi" : (this.ports[port]?.name ?? `port${port}`);
  }

  /** The LAG front port `port` is a member of, or null. */
  lagOf(port: number): string | null {
    const p = this.ports[this.logicalOf[port]];
    return p === undefined || p.lag === null ? null : p.name;
  }

  /** Whether front port `port` carries VLAN `vid` (a LAG member: its LAG's configuration). */
  carries(port: number, vid: number): boolean {
    return this.logicalCarries(this.logicalOf[port], vid);
  }

  private logicalCarries(logical: number, vid: number): boolean {
    const p = this.ports[logical];
    if (p.isRouted) return false;
    if (p.devicePort >= 0 && p.devicePort === this.keepalivePort) return false;
    if (!p.isTrunk) return p.pvid === vid;
    return vid >= 1 && vid <= 4094 && (p.allowed === null || p.allowed[vid] === 1);
  }

  setPortUp(port: number, isUp: boolean, nowNs: number): void {
    if (port < 0 || port >= this.portNames.length)
      throw new DeviceConfigError("bad-port", `switch ${this.name}: no port ${port}`);
    if (this.mlag !== null) {
      this.isCableUp[port] = isUp;
      this.applyCarrier(port, nowNs);
      return;
    }
    this.applyPortState(port, isUp, nowNs);
  }

  /** With MLAG: a port is up when its cable is and MLAG has not suspended it. */
  private applyCarrier(port: number, nowNs: number): void {
    const isUp = this.isCableUp[port] && this.isSuspendedPort[port] === 0;
    if (isUp !== this.isPortUp[port]) this.applyPortState(port, isUp, nowNs);
  }

  private applyPortState(port: number, isUp: boolean, nowNs: number): void {
    this.isPortUp[port] = isUp;
    const logical = this.logicalOf[port];
    const lag = this.ports[logical].lag;
    if (lag === null) {
      if (!isUp) this.macTable.flushPort(logical);
      this.stpCarrier(logical, nowNs);
      return;
    }
    lag.bundle.setMemberUp(port, isUp);
    if (lag.lacp !== null) {
      lag.lacp.setMemberUp(port, isUp, nowNs);
      this.runLacp(nowNs);
    }
    if (lag.bundle.activeCount === 0) this.macTable.flushPort(logical);
    this.lagChanged(lag, nowNs);
    this.stpCarrier(logical, nowNs);
  }

  /** LACP state of every LAG running it (`vnet show lacp`). */
  lacpStatus(
    nowNs: number,
  ): { lag: string; hash: LagHash; mode: string; members: LacpMemberStatus<string>[] }[] {
    return this.lags.map((lag) => ({
      lag: lag.bundle.name,
      hash: lag.hash,
      mode: lag.config.lacp,
      members:
        lag.lacp === null
          ? []
          : lag.lacp.status(nowNs).map((m) => ({ ...m, member: this.portNames[m.member] })),
    }));
  }

  /** LAG summary: name, members, and which may carry traffic now. */
  lagSummary(): {
    lag: string;
    lacp: string;
    hash: LagHash;
    members: { name: string; isUp: boolean; isDistributing: boolean }[];
  }[] {
    return this.lags.map((lag) => ({
      lag: lag.bundle.name,
      lacp: lag.config.lacp,
      hash: lag.hash,
      members: [...lag.bundle.members].map((m) => ({
        name: this.portNames[m],
        isUp: lag.bundle.isUp(m),
        isDistributing: lag.bundle.isAdmissible(m),
      })),
    }));
  }

  receive(port: number, frame: Frame, nowNs: number): void {
    const core = this.core;
    core.countRx(port, frame);
    if (frame.length < ETHERNET_HEADER_LEN) {
      core.drop(
        port,
        frame,
        nowNs,
        null,
        SwitchDrop.runt,
        () => `dropped: runt frame of ${frame.length} bytes`,
      );
      return;
    }
    const logical = this.logicalOf[port];
    const p = this.ports[logical];
    const b = frame.buf;
    const s = frame.start;
    if (this.mlag !== null && (port === this.keepalivePort || logical === this.peerLinkLogical)) {
      if (((b[s + 12] << 8) | b[s + 13]) === ETHERTYPE_MLAG) {
        this.receiveMlag(port, frame, nowNs);
        return;
      }
      if (port === this.keepalivePort) {
        core.drop(
          port,
          frame,
          nowNs,
          null,
          SwitchDrop.mgmtPort,
          () => `dropped: ${this.portNames[port]} is the MLAG keepalive port (not a bridge port)`,
        );
        return;
      }
    }
    // Link-local protocol frames (IEEE 802.1Q Table 8-1): LACP for the port's engine, the rest
    // (BPDUs, 802.1X, LLDP) consumed or refused, never forwarded.
    if (
      b[s] === 0x01 &&
      ((b[s] << 16) | (b[s + 1] << 8) | b[s + 2]) === RESERVED_HI &&
      b[s + 3] === 0 &&
      b[s + 4] === 0 &&
      (b[s + 5] & 0xf0) === 0
    ) {
      this.linkLocal(port, p, frame, nowNs);
      return;
    }
    if (this.isRefusedByLag(port, p, frame, nowNs, "dropped")) return;
    if (p.isRouted) {
      this.toRoutedPort(port, frame, nowNs);
      return;
    }
    if (this.stpState[logical] === STP_DISCARDING) {
      this.dropStp(port, logical, logical, frame, nowNs, null);
      return;
    }
    const type = (b[s + 12] << 8) | b[s + 13];
    let vid: number;
    if (isVlanTpid(type)) {
      if (frame.length < ETHERNET_HEADER_LEN + VLAN_TAG_LEN) {
        core.drop(port, frame, nowNs, null, SwitchDrop.runt, () => "dropped: truncated VLAN tag");
        return;
      }
      const tagVid = Vlan.vid(b, s + 12);
      if (type === EtherType.QinQ) {
        core.drop(
          port,
          frame,
          nowNs,
          null,
          SwitchDrop.stagOnPort,
          () => `dropped: 802.1ad S-tag on ${p.name}`,
        );
        return;
      }
      if (tagVid === 0) {
        // Priority-tagged: classified like an untagged frame (802.1Q 6.9).
        if (p.pvid < 0) {
          core.drop(
            port,
            frame,
            nowNs,
            null,
            SwitchDrop.untaggedOnTrunk,
            () => `dropped: priority-tagged frame on trunk ${p.name} without native VLAN`,
          );
          return;
        }
        vid = p.pvid;
      } else if (!p.isTrunk) {
        core.drop(
          port,
          frame,
          nowNs,
          tagVid,
          SwitchDrop.taggedOnAccess,
          () => `dropped: tagged frame (VLAN ${tagVid}) on access port ${p.name} (VLAN ${p.pvid})`,
        );
        return;
      } else if (tagVid === 4095 || (p.allowed !== null && p.allowed[tagVid] === 0)) {
        core.drop(
          port,
          frame,
          nowNs,
          tagVid,
          SwitchDrop.vlanNotAllowed,
          () => `dropped: VLAN ${tagVid} is not allowed on trunk ${p.name}`,
        );
        return;
      } else {
        vid = tagVid;
      }
      frame.popVlanTag();
    } else if (p.pvid < 0) {
      core.drop(
        port,
        frame,
        nowNs,
        null,
        SwitchDrop.untaggedOnTrunk,
        () => `dropped: untagged frame on trunk ${p.name} without native VLAN`,
      );
      return;
    } else {
      vid = p.pvid;
    }
    const fb = frame.buf;
    const fs = frame.start;
    // Behind the tag that classified it (or none), a frame must not carry another VLAN tag: this
    // switch does not do 802.1ad, so an inner tag can only be VLAN hopping (a priority tag or the
    // native VLAN's tag, then a C-tag of the target VLAN, which the next switch would obey once
    // this one sent the frame out untagged on a trunk's native VLAN).
    if (frame.length >= ETHERNET_HEADER_LEN + VLAN_TAG_LEN && isVlanTpid((fb[fs + 12] << 8) | fb[fs + 13])) {
      const inner = Vlan.vid(fb, fs + 12);
      core.drop(
        port,
        frame,
        nowNs,
        vid,
        SwitchDrop.nestedTag,
        () =>
          `dropped: a second VLAN tag (VLAN ${inner}) inside a frame of VLAN ${vid} on ${p.name} (VLAN hopping)`,
      );
      return;
    }
    if ((fb[fs + 6] & 1) !== 0) {
      core.drop(
        port,
        frame,
        nowNs,
        vid,
        SwitchDrop.multicastSource,
        () => `dropped: multicast source ${formatMac(readMac(fb, fs + 6))}`,
      );
      return;
    }
    if (macHiAt(fb, fs + 6) === this.macHi && macLoAt(fb, fs + 6) === this.macLo) {
      core.drop(
        port,
        frame,
        nowNs,
        vid,
        SwitchDrop.ownMacAsSource,
        () => `dropped: source ${formatMac(this.mac)} is this switch's own MAC (a loop?)`,
      );
      return;
    }
    // MLAG: what the peer told us about an address (on a multi-chassis LAG or a local port)
    // outranks seeing it arrive over the peer link, which every flood from the peer does.
    const r =
      logical === this.peerLinkLogical && this.isHeldLocally(vid, fb, fs + 6, nowNs)
        ? Learn.refreshed
        : this.macTable.learnAt(vid, fb, fs + 6, logical, nowNs);
    if (
      (r === Learn.learned || r === Learn.moved) &&
      this.mlag !== null &&
      logical !== this.peerLinkLogical
    ) {
      const id = this.mlagIdOf[logical];
      this.mlag.localMac(vid, readMac(fb, fs + 6), id >= 0 ? id : MLAG_ORPHAN, true);
    }
    if (r !== Learn.refreshed && core.isTracing) {
      const src = readMac(fb, fs + 6);
      const reason =
        r === Learn.learned
          ? `learned ${formatMac(src)} on ${p.name}`
          : r === Learn.moved
            ? `moved ${formatMac(src)} from ${this.logicalPortName(this.macTable.lastMovedFrom)} to ${p.name}`
            : `not learned: ${formatMac(src)} (table full of static entries)`;
      core.record(nowNs, frame, port, null, vid, "receive", reason);
    }
    if (this.stpState[logical] === STP_LEARNING) {
      this.dropStp(port, logical, logical, frame, nowNs, vid);
      return;
    }
    this.forward(port, logical, frame, nowNs, vid);
  }

  /** A frame on a routed port: untagged, for the router (no learning, no flooding). */
  private toRoutedPort(port: number, frame: Frame, nowNs: number): void {
    const core = this.core;
    const b = frame.buf;
    const s = frame.start;
    if (isVlanTpid((b[s + 12] << 8) | b[s + 13])) {
      core.drop(
        port,
        frame,
        nowNs,
        null,
        SwitchDrop.taggedOnRouted,
        () => `dropped: tagged frame on routed port ${this.portNames[port]} (a routed port carries no VLANs)`,
      );
      return;
    }
    const svi = this.svi;
    if (svi?.receiveOnRoutedPort === undefined) {
      core.drop(
        port,
        frame,
        nowNs,
        null,
        SwitchDrop.noSvi,
        () => `dropped: no router behind routed port ${this.portNames[port]}`,
      );
      return;
    }
    core.countTx(this.sviDevicePort, frame);
    svi.receiveOnRoutedPort(port, frame, nowNs);
  }

  /** The router sends a frame out of routed port `port` (untagged, straight to the cable). */
  sendFromRoutedPort(port: number, frame: Frame, nowNs: number): void {
    const core = this.core;
    core.countRx(this.sviDevicePort, frame);
    if (port < 0 || port >= this.portNames.length || !this.ports[this.logicalOf[port]].isRouted) {
      core.drop(
        this.sviDevicePort,
        frame,
        nowNs,
        null,
        SwitchDrop.noSvi,
        () => `dropped: port ${port} is not a routed port`,
      );
      return;
    }
    if (!this.isPortUp[port]) {
      core.drop(
        this.sviDevicePort,
        frame,
        nowNs,
        null,
        SwitchDrop.portDown,
        () => `dropped: ${this.portNames[port]} is down`,
      );
      return;
    }
    core.transmit(port, frame);
  }

  /**
   * The router sends an untagged frame into VLAN `vid` (an ARP request or reply, a routed
   * packet). It is forwarded like a frame arriving on an internal port of that VLAN.
   */
  sendFromSvi(vid: number, frame: Frame, nowNs: number): void {
    const core = this.core;
    core.countRx(this.sviDevicePort, frame);
    if (vid < 1 || vid > 4094 || this.hasSvi[vid] === 0) {
      core.drop(
        this.sviDevicePort,
        frame,
        nowNs,
        vid,
        SwitchDrop.noSvi,
        () => `dropped: no SVI in vlan ${vid}`,
      );
      return;
    }
    if (frame.length < ETHERNET_HEADER_LEN) {
      core.drop(
        this.sviDevicePort,
        frame,
        nowNs,
        vid,
        SwitchDrop.runt,
        () => "dropped: runt frame from the gateway",
      );
      return;
    }
    this.forward(this.sviDevicePort, this.sviPort, frame, nowNs, vid);
  }

  /**
   * Forwards an untagged frame of VLAN `vid` that came in on device port `inPort` (logical port
   * `inLogical`; the SVIs' internal port for the router's frames).
   */
  private forward(inPort: number, inLogical: number, frame: Frame, nowNs: number, vid: number): void {
    const b = frame.buf;
    const s = frame.start;
    const isFront = inLogical < this.ports.length;
    if ((b[s] & 1) !== 0) {
      if (isFront && this.ports[inLogical].storm !== null) {
        const c = isBroadcastAt(b, s) ? StormClass.broadcast : StormClass.multicast;
        if (!this.admitStorm(inPort, inLogical, c, frame, nowNs, vid)) return;
      }
      this.flood(inPort, inLogical, frame, nowNs, vid, readMac(b, s), isFront && this.hasSvi[vid] === 1);
      return;
    }
    const q = this.macTable.lookupAt(vid, b, s, nowNs);
    if (q === -1 && isFront && this.ports[inLogical].storm !== null) {
      if (!this.admitStorm(inPort, inLogical, StormClass.unknownUnicast, frame, nowNs, vid)) return;
    }
    const core = this.core;
    if (q === -1) {
      const dst = readMac(b, s);
      if (dst === this.mac && isFront) {
        core.drop(
          inPort,
          frame,
          nowNs,
          vid,
          SwitchDrop.noSvi,
          () => `dropped: addressed to the switch, which has no SVI in vlan ${vid}`,
        );
        return;
      }
      this.flood(inPort, inLogical, frame, nowNs, vid, dst, false);
    } else if (q === inLogical) {
      core.drop(
        inPort,
        frame,
        nowNs,
        vid,
        SwitchDrop.sameSegment,
        () =>
          `dropped: ${formatMac(readMac(b, s))} is on the ingress port ${this.inName(inPort, inLogical, vid)}`,
      );
    } else if (q === this.tunnelLogical) {
      this.toTunnel(inPort, vid, frame, nowNs, readMac(b, s));
    } else if (q === this.sviPort) {
      this.toSvi(inPort, frame, nowNs, vid, true);
    } else if (!this.isLogicalUp(q)) {
      const name = this.ports[q].name;
      const isLag = this.ports[q].lag !== null;
      core.drop(inPort, frame, nowNs, vid, isLag ? SwitchDrop.lagDown : SwitchDrop.portDown, () =>
        isLag ? `dropped: no member of ${name} can carry traffic` : `dropped: ${name} is down`,
      );
    } else if (this.stpState[q] !== STP_FORWARDING) {
      this.dropStp(inPort, inLogical, q, frame, nowNs, vid);
    } else {
      this.outLogical[0] = q;
      const isTracing = core.isTracing;
      const n = this.emit(1, frame, vid, isTracing);
      if (isTracing) {
        const to = this.ports[q].lag === null ? this.ports[q].name : this.lagNote.slice(2);
        core.record(nowNs, frame, inPort, core.outNames(n), vid, "forward", `forwarded to ${to}: learned`);
      }
    }
  }

  private flood(
    inPort: number,
    inLogical: number,
    frame: Frame,
    nowNs: number,
    vid: number,
    dst: Mac,
    toSvi: boolean,
  ): void {
    const members = this.membersOf(vid);
    let n = 0;
    // MLAG loop prevention: what crossed the peer link does not go out of a multi-chassis LAG
    // whose half on the peer is up (the peer delivered it there).
    const isFromPeer = inLogical === this.peerLinkLogical && this.mlag !== null;
    let servedByPeer = 0;
    for (let i = 0; i < members.length; i++) {
      const m = members[i];
      if (m === inLogical || this.stpState[m] !== STP_FORWARDING) continue;
      const isPeerServed =
        isFromPeer && this.mlagIdOf[m] >= 0 && (this.mlag as MlagEngine).isPeerHalfUp(this.mlagIdOf[m]);
      if (!this.isLogicalUp(m)) {
        const lag = this.ports[m].lag;
        if (lag !== null && !isPeerServed) this.dropAtHeldLag(lag, frame, nowNs, vid);
        continue;
      }
      if (isPeerServed) {
        servedByPeer++;
        continue;
      }
      this.outLogical[n++] = m;
    }
    const canSvi = toSvi && this.svi !== null;
    // A hardware VTEP floods a copy into the VLAN's VNI (head-end), never back into the tunnel.
    const toTunnel = this.tunnelLogical >= 0 && inLogical !== this.tunnelLogical && this.vniOfVid[vid] !== 0;
    const core = this.core;
    if (n === 0 && !canSvi && !toTunnel) {
      if (servedByPeer > 0)
        core.drop(
          inPort,
          frame,
          nowNs,
          vid,
          SwitchDrop.mlagPeerServed,
          () =>
            `not flooded: it crossed the peer link, and the peer's halves of the ${servedByPeer} multi-chassis LAG(s) in vlan ${vid} delivered it (MLAG loop prevention)`,
        );
      else
        core.drop(
          inPort,
          frame,
          nowNs,
          vid,
          SwitchDrop.noReceiver,
          () => `dropped: no other port in vlan ${vid}`,
        );
      return;
    }
    // The router gets its copy after the front ports, so anything it sends back at once does
    // not interleave with this decision.
    const tunnelCopy = toTunnel ? (n > 0 || canSvi ? frame.clone() : frame) : null;
    const sviCopy = canSvi ? (n > 0 ? frame.clone() : frame) : null;
    const isTracing = core.isTracing;
    const sent = n > 0 ? this.emit(n, frame, vid, isTracing) : 0;
    if (isTracing) {
      let names = core.outNames(sent);
      if (canSvi) names += `${names === "" ? "" : ","}vlan${vid}`;
      if (toTunnel) names += `${names === "" ? "" : ","}vxlan`;
      const why =
        dst === 0xffffffffffff
          ? "broadcast"
          : isMulticastMac(dst)
            ? "multicast"
            : `no entry for ${formatMac(dst)}`;
      core.record(
        nowNs,
        frame,
        inPort,
        names,
        vid,
        "flood",
        `flooded in vlan ${vid} to ${names}: ${why}${this.lagNote}`,
      );
    }
    if (tunnelCopy !== null) this.toTunnel(inPort, vid, tunnelCopy, nowNs, null);
    if (sviCopy !== null) this.toSvi(inPort, sviCopy, nowNs, vid, false);
  }

  /** Hands a frame to the router; `isOwnDecision`: a unicast for the switch (a flood recorded itself). */
  private toSvi(inPort: number, frame: Frame, nowNs: number, vid: number, isOwnDecision: boolean): void {
    const core = this.core;
    if (this.svi === null) {
      core.drop(
        inPort,
        frame,
        nowNs,
        vid,
        SwitchDrop.noSvi,
        () => `dropped: no gateway attached to the SVI of vlan ${vid}`,
      );
      return;
    }
    core.countTx(this.sviDevicePort, frame);
    if (isOwnDecision && core.isTracing)
      core.record(nowNs, frame, inPort, `vlan${vid}`, vid, "deliver", `to the gateway on vlan ${vid}`);
    this.svi.receiveOnSvi(vid, frame, nowNs);
  }

  /**
   * A flood's copy for a LAG none of whose members may distribute, while one has carrier (LACP
   * holds it out: no partner, a partner that does not agree): the copy is lost there, and that
   * is a drop, counted at that member (a LAG whose cables are all down is simply no egress, as a
   * down port is not). Rare, so the member is looked for here; no closure unless tracing.
   */
  private dropAtHeldLag(lag: Lag, frame: Frame, nowNs: number, vid: number): void {
    const members = lag.bundle.members;
    let member = -1;
    for (let i = 0; i < members.length && member < 0; i++)
      if (lag.bundle.isUp(members[i])) member = members[i];
    if (member < 0) return;
    const core = this.core;
    const name = this.ports[lag.logical].name;
    this.drops.add(SwitchDrop.notDistributing);
    core.counters[member].drops++;
    if (core.isTracing)
      core.recordAt(
        nowNs,
        frame,
        this.portNames[member],
        null,
        vid,
        "drop",
        `not sent to ${name}: ${this.portNames[member]} is not distributing in ${name} (${this.memberWhy(lag, member, nowNs)})`,
        SwitchDrop.notDistributing,
      );
  }

  /** While tracing, what the last `emit` chose for its LAGs ("; po1 via eth2 (l3l4 hash 0x1f, ...)"). */
  private lagNote = "";

  /**
   * Sends to the logical ports outLogical[0..n): each LAG picks its member by its hash of the
   * frame (taken before any tag is pushed); clones for all but the last; tags per egress port.
   * Returns the number of device ports written to `core.out` (a LAG without a distributing
   * member is skipped).
   */
  private emit(n: number, frame: Frame, vid: number, isNoting = false): number {
    const core = this.core;
    let sent = 0;
    let note = "";
    for (let i = 0; i < n; i++) {
      const p = this.ports[this.outLogical[i]];
      let dp = p.devicePort;
      if (p.lag !== null) {
        const hash = lagHash(p.lag.hash, frame.buf, frame.start, frame.length);
        dp = p.lag.bundle.chooseOutput(hash);
        if (dp < 0) continue;
        if (isNoting) note += `; ${this.viaText(p, dp, hash)}`;
      }
      core.out[sent++] = dp;
    }
    for (let i = 0; i < sent; i++) {
      const dp = core.out[i];
      const p = this.ports[this.logicalOf[dp]];
      const f = i === sent - 1 ? frame : frame.clone();
      if (p.isTrunk && p.pvid !== vid) f.pushVlanTag(vid);
      core.transmit(dp, f);
    }
    this.lagNote = note;
    return sent;
  }

  private viaText(p: Port, devicePort: number, hash: number): string {
    const lag = p.lag as Lag;
    return `${p.name} via ${this.portNames[devicePort]} (${lag.hash} hash 0x${(hash >>> 0).toString(16)}, ${lag.bundle.activeCount} of ${lag.bundle.members.length} members)`;
  }

  private isLogicalUp(logical: number): boolean {
    const p = this.ports[logical];
    return p.lag === null ? this.isPortUp[p.devicePort] : p.lag.bundle.activeCount > 0;
  }

  private membersOf(vid: number): Int32Array {
    let m = this.members[vid];
    if (m === undefined) {
      const list: number[] = [];
      for (let i = 0; i < this.ports.length; i++) if (this.logicalCarries(i, vid)) list.push(i);
      m = Int32Array.from(list);
      this.members[vid] = m;
    }
    return m;
  }

  private inName(inPort: number, inLogical: number, vid: number): string {
    if (inLogical === this.sviPort) return `vlan${vid}`;
    if (inLogical === this.tunnelLogical) return "vxlan";
    const p = this.ports[inLogical];
    return p.lag === null ? p.name : `${p.name} (${this.portNames[inPort]})`;
  }

  /** Storm control at `inLogical`: false (and the frame dropped, counted) when over the class's rate. */
  private admitStorm(
    inPort: number,
    inLogical: number,
    c: StormClass,
    frame: Frame,
    nowNs: number,
    vid: number,
  ): boolean {
    const p = this.ports[inLogical];
    if ((p.storm as StormControl).admit(c, nowNs)) return true;
    this.core.drop(
      inPort,
      frame,
      nowNs,
      vid,
      STORM_DROP_CODES[c],
      () =>
        `dropped: storm control on ${p.name} (${StormControl.describe(c, p.stormConfig as StormControlConfig)})`,
    );
    return false;
  }

  /** A frame to an IEEE 802.1Q reserved address: LACP to the port's engine, else refused. */
  private linkLocal(port: number, p: Port, frame: Frame, nowNs: number): void {
    const core = this.core;
    const b = frame.buf;
    const s = frame.start;
    if (this.stp !== null && b[s + 5] === 0x00 && Stp.isStpFrame(b, s)) {
      this.receiveBpdu(port, p, frame, nowNs);
      return;
    }
    const isLacp = b[s + 5] === 0x02 && Lacp.isLacpFrame(b, s);
    if (!isLacp) {
      core.drop(
        port,
        frame,
        nowNs,
        null,
        SwitchDrop.linkLocal,
        () => `not forwarded: ${formatMac(readMac(b, s))} is an IEEE 802.1Q reserved (link-local) address`,
      );
      return;
    }
    const engine = p.lag?.lacp ?? null;
    if (engine === null) {
      core.drop(port, frame, nowNs, null, SwitchDrop.lacpOff, () =>
        p.lag === null
          ? `LACPDU refused: ${this.portNames[port]} is not in a LAG`
          : `LACPDU refused: ${p.name} is a static LAG (lacp: off)`,
      );
      return;
    }
    let pdu: LacpRepr;
    try {
      pdu = Lacp.parse(b, s + ETHERNET_HEADER_LEN);
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
      core.drop(port, frame, nowNs, null, SwitchDrop.badLacpdu, () => `LACPDU refused: ${e.message}`);
      return;
    }
    if (core.isTracing)
      core.record(
        nowNs,
        frame,
        port,
        null,
        null,
        "deliver",
        `LACPDU for ${p.name}: partner ${formatMac(pdu.actor.system)} key ${pdu.actor.key} port ${pdu.actor.port}`,
      );
    engine.receive(port, pdu, nowNs);
    this.runLacp(nowNs);
  }

  private sendLacpdu(member: number, pdu: LacpRepr): void {
    if (this.env === null || !this.isPortUp[member]) return;
    const f = Frame.alloc(124);
    Lacp.emitFrame(pdu, f.buf, f.start, this.mac);
    this.core.transmit(member, f);
  }

  /** Runs every LACP engine due, applies what they allow to the bundles, re-arms the timer. */
  private runLacp(nowNs: number): void {
    let next = Number.POSITIVE_INFINITY;
    for (const lag of this.lags) {
      const engine = lag.lacp;
      if (engine === null) continue;
      engine.run(nowNs);
      const bundle = lag.bundle;
      let changed = false;
      for (let i = 0; i < bundle.members.length; i++) {
        const m = bundle.members[i];
        const isEnabled = engine.mayEnable(m);
        if (bundle.setMemberEnabled(m, isEnabled)) {
          changed = true;
          this.onLacpChange?.(bundle.name, this.portNames[m], isEnabled, nowNs);
          this.lacpEvent(lag, m, isEnabled, nowNs);
        }
      }
      if (changed && bundle.activeCount === 0) this.macTable.flushPort(this.logicalOf[bundle.members[0]]);
      if (changed) this.lagChanged(lag, nowNs);
      if (changed) this.stpCarrier(this.logicalOf[bundle.members[0]], nowNs);
      next = Math.min(next, engine.nextTimerNs());
    }
    this.armLacp(next, nowNs);
  }

  /** A member joined or left its LAG: a timeline event (when someone listens). */
  private lacpEvent(lag: Lag, member: number, isEnabled: boolean, nowNs: number): void {
    const env = this.env;
    if (env?.event === undefined) return;
    const why = isEnabled ? "collecting and distributing" : this.memberWhy(lag, member, nowNs);
    env.event({
      timeNs: nowNs,
      device: this.name,
      kind: "lacp",
      text: `${this.name}: ${this.portNames[member]} ${isEnabled ? "joined" : "left"} ${lag.bundle.name} (${why}); ${lag.bundle.activeCount} of ${lag.bundle.members.length} members distribute`,
      fields: { lag: lag.bundle.name, member: this.portNames[member], isEnabled, why },
    });
  }

  private armLacp(atNs: number, nowNs: number): void {
    this.lacpTimer.arm(this.env, atNs, nowNs);
  }

  private memberWhy(lag: Lag, port: number, nowNs: number): string {
    if (!lag.bundle.isUp(port)) return "link down";
    if (lag.lacp === null) return "static LAG";
    const st = lag.lacp.status(nowNs).find((m) => m.member === port);
    return st?.why ?? "LACP has not enabled it yet";
  }

  // ---- spanning tree (RSTP) ----------------------------------------------------------------

  private createStp(c: SwitchStpConfig): Rstp<number> {
    if (c.mode !== "rstp")
      throw new DeviceConfigError(
        "bad-value",
        `switch ${this.name}: stp mode ${String(c.mode)}; only rstp runs`,
      );
    if (this.ports.length > 4095)
      throw new DeviceConfigError("bad-port", `switch ${this.name}: RSTP numbers at most 4095 ports`);
    let engine: Rstp<number>;
    try {
      engine = new Rstp<number>(
        {
          bridgeMac: this.mac,
          priority: c.priority,
          helloTimeS: c.helloTimeS,
          maxAgeS: c.maxAgeS,
          forwardDelayS: c.forwardDelayS,
        },
        {
          send: (logical, bpdu) => this.sendBpdu(logical, bpdu),
          onEvent: (e) => this.stpEvent(e),
          flush: (logicals) => {
            for (const l of logicals) this.macTable.flushPort(l);
          },
        },
      );
    } catch (e) {
      if (!(e instanceof RangeError)) throw e;
      throw new DeviceConfigError("bad-value", `switch ${this.name}: ${e.message}`);
    }
    // Nothing passes a front port until the engine says so; the SVIs are inside the bridge.
    this.stpState.fill(STP_DISCARDING, 0, this.ports.length);
    return engine;
  }

  /** Registers every logical port with the engine (port number = logical index + 1). */
  private startStp(nowNs: number): void {
    const stp = this.stp as Rstp<number>;
    if (this.isStpStarted) return;
    this.isStpStarted = true;
    for (let l = 0; l < this.ports.length; l++) {
      // A routed port is no bridge port: spanning tree does not run on it.
      if (this.ports[l].isRouted) continue;
      const c = this.stpPorts[l];
      stp.addPort(
        l,
        {
          portNumber: l + 1,
          isEdge: c.isEdge,
          hasBpduGuard: c.hasBpduGuard,
          speedBps: c.speedBps,
          isUp: this.isLogicalUp(l),
        },
        nowNs,
      );
    }
    this.runStp(nowNs);
  }

  /** A logical port's carrier for the engine: a LAG is up while any member distributes. */
  private stpCarrier(logical: number, nowNs: number): void {
    if (this.stp === null || !this.isStpStarted || this.ports[logical].isRouted) return;
    this.stp.setPortUp(logical, this.isLogicalUp(logical), nowNs);
    this.runStp(nowNs);
  }

  /** Runs what is due in the engine and re-arms its one timer (as `runLacp` does for LACP). */
  private runStp(nowNs: number): void {
    const stp = this.stp;
    if (stp === null || !this.isStpStarted) return;
    stp.run(nowNs);
    this.stpTimer.arm(this.env, stp.nextTimerNs(), nowNs);
  }

  /** A BPDU out of a logical port: a LAG sends it on one distributing member. */
  private sendBpdu(logical: number, bpdu: StpRepr): void {
    if (this.env === null) return;
    const p = this.ports[logical];
    const dp = p.lag === null ? p.devicePort : p.lag.bundle.chooseOutput(0);
    if (dp < 0 || !this.isPortUp[dp]) return;
    const f = Frame.alloc(STP_FRAME_LEN);
    Stp.emitFrame(bpdu, f.buf, f.start, this.mac);
    this.core.transmit(dp, f);
  }

  /** True (and the frame dropped, counted) when `port` is a LAG member LACP does not let collect. */
  private isRefusedByLag(port: number, p: Port, frame: Frame, nowNs: number, what: string): boolean {
    if (p.lag === null || p.lag.bundle.isAdmissible(port)) return false;
    const lag = p.lag;
    this.core.drop(
      port,
      frame,
      nowNs,
      null,
      SwitchDrop.notCollecting,
      () =>
        `${what}: ${this.portNames[port]} is not collecting in ${p.name} (${this.memberWhy(lag, port, nowNs)})`,
    );
    return true;
  }

  /** A BPDU for the engine (STP is on): parsed, traced, handed over. */
  private receiveBpdu(port: number, p: Port, frame: Frame, nowNs: number): void {
    const core = this.core;
    const logical = this.logicalOf[port];
    if (this.isRefusedByLag(port, p, frame, nowNs, "BPDU refused")) return;
    let bpdu: StpRepr;
    try {
      // The frame's own end bounds the parse (the buffer may be larger).
      bpdu = Stp.parseFrame(frame.buf.subarray(0, frame.end), frame.start);
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
      core.drop(port, frame, nowNs, null, SwitchDrop.badBpdu, () => `BPDU refused: ${e.message}`);
      return;
    }
    if (this.stpErrDisabled[logical] === 1) {
      core.drop(
        port,
        frame,
        nowNs,
        null,
        SwitchDrop.errDisabled,
        () => `BPDU refused: ${p.name} is err-disabled (BPDU guard)`,
      );
      return;
    }
    if (core.isTracing) {
      const what =
        bpdu.type === "tcn"
          ? "TCN (802.1D STP, ignored: RSTP only)"
          : `${bpdu.type === "rst" ? "RST" : "config (802.1D STP, ignored: RSTP only)"} from ${formatBridgeId(bpdu.bridgeId)} port ${bpdu.portId.priority}.${bpdu.portId.number}, root ${formatBridgeId(bpdu.rootId)} cost ${bpdu.rootPathCost}, ${formatStpFlags(bpdu.flags, bpdu.type === "rst")}`;
      core.record(nowNs, frame, port, null, null, "deliver", `BPDU for ${p.name}: ${what}`);
    }
    if (!this.isStpStarted) return;
    (this.stp as Rstp<number>).receive(logical, bpdu, nowNs);
    this.runStp(nowNs);
  }

  /**
   * A data frame stopped by spanning tree: `blocked` (the ingress or the egress logical port) is
   * discarding, learning or err-disabled. Codes and counters as every other drop.
   */
  private dropStp(
    inPort: number,
    inLogical: number,
    blocked: number,
    frame: Frame,
    nowNs: number,
    vid: number | null,
  ): void {
    const state = this.stpState[blocked];
    const isErr = this.stpErrDisabled[blocked] === 1;
    const code = isErr
      ? SwitchDrop.errDisabled
      : state === STP_LEARNING && blocked === inLogical
        ? SwitchDrop.stpLearning
        : SwitchDrop.stpDiscarding;
    this.core.drop(inPort, frame, nowNs, vid, code, () => {
      const name = this.ports[blocked].name;
      if (isErr) return `dropped: ${name} is err-disabled (BPDU guard)`;
      const role = (this.stp as Rstp<number>).role(blocked);
      const stateText = state === STP_LEARNING ? "learning" : "discarding";
      return code === SwitchDrop.stpLearning
        ? `dropped: ${name} is learning (RSTP ${role}): source learned, frame not forwarded`
        : `dropped: ${name} is ${stateText} (RSTP ${role})`;
    });
  }

  /** Keeps the hot path's view of port states, then passes the event on with port names. */
  private stpEvent(e: RstpEvent<number>): void {
    if (e.kind === "state")
      this.stpState[e.port] =
        e.to === "forwarding" ? STP_FORWARDING : e.to === "learning" ? STP_LEARNING : STP_DISCARDING;
    else if (e.kind === "bpdu-guard") this.stpErrDisabled[e.port] = 1;
    const name = (l: number) => this.ports[l].name;
    const env = this.env;
    if (env?.event !== undefined && e.kind !== "flush") {
      const text =
        e.kind === "role" || e.kind === "state"
          ? `${name(e.port)} ${e.kind} ${e.from} -> ${e.to}`
          : e.kind === "topology-change"
            ? `topology change ${e.cause} on ${name(e.port)}${e.flushPorts.length > 0 ? `, MACs flushed on ${e.flushPorts.map(name).join(", ")}` : ""}`
            : e.kind === "new-root"
              ? `new root ${formatBridgeId(e.rootId)}${e.rootPort === null ? " (this switch)" : ` via ${name(e.rootPort)}`}, cost ${e.rootPathCost}`
              : e.kind === "info-aged"
                ? `${name(e.port)}: the designated bridge's BPDUs stopped (information aged)`
                : e.kind === "edge-lost"
                  ? `${name(e.port)}: a BPDU arrived, no longer an edge port`
                  : `${name(e.port)}: BPDU guard err-disabled the port`;
      env.event({
        timeNs: e.timeNs,
        device: this.name,
        kind: "stp",
        text: `${this.name}: ${text}`,
        fields: { event: e.kind },
      });
    }
    const hook = this.onStpEvent;
    if (hook === null) return;
    switch (e.kind) {
      case "topology-change":
        hook({ ...e, port: name(e.port), flushPorts: e.flushPorts.map(name) });
        return;
      case "new-root":
        hook({ ...e, rootPort: e.rootPort === null ? null : name(e.rootPort) });
        return;
      default:
        hook({ ...e, port: name(e.port) } as SwitchStpEvent);
    }
  }

  /** Whether the switch runs spanning tree. */
  get isStpOn(): boolean {
    return this.stp !== null;
  }

  /** Spanning-tree state (`vnet show stp`), ports by name; null without STP. */
  stpStatus(): RstpStatus<string> | null {
    const stp = this.stp;
    if (stp === null) return null;
    const st = stp.status();
    return {
      ...st,
      rootPort: st.rootPort === null ? null : this.ports[st.rootPort].name,
      ports: st.ports.map((p) => ({ ...p, port: this.ports[p.port].name })),
    };
  }

  /** Brings a port that BPDU guard err-disabled back (as `errdisable recovery` or shut/no shut). */
  reenableStpPort(name: string, nowNs: number): void {
    const logical = this.ports.findIndex((p) => p.name === name);
    if (this.stp === null || logical < 0)
      throw new DeviceConfigError("bad-port", `switch ${this.name}: no spanning-tree port ${name}`);
    this.stpErrDisabled[logical] = 0;
    this.stp.reenablePort(logical, nowNs);
    this.runStp(nowNs);
  }
}
