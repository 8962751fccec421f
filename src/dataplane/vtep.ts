/**
 * A hypervisor VXLAN tunnel endpoint (RFC 7348): what ESXi's VTEP vmkernel port and OVS's
 * `vxlan` port do for a vswitch whose port groups are backed by VNIs. It sits beside the vswitch
 * (`vswitch.ts` owns it, as a physical switch owns its SVI router) and has two sides:
 *
 * - the underlay side: one IPv4 interface of its own (its MAC, its address, a default route via
 *   its gateway) on the vswitch's VTEP VLAN, which leaves the uplinks tagged like any port
 *   group. ARP, the neighbour cache, routing and ICMP are the shared stack of `ip-host.ts`;
 * - the overlay side: per VNI a flood list (head-end replication, RFC 7348 §4.2: one unicast
 *   copy per remote VTEP) and a table MAC -> remote VTEP, filled from the outer source of
 *   decapsulated frames (flood and learn, §4.1) when the VNI learns, or given statically.
 *
 * Encapsulation is `vxlanEncapsulate` in place over the frame's headroom (outer IPv4 with DF set,
 * RFC 7348 §4.3: VTEPs do not fragment; UDP 4789 with the source port from the inner flow hash,
 * §5, so the underlay's ECMP spreads tunnels), then the stack's ARP for the next hop.
 * Decapsulation takes UDP 4789 addressed to the VTEP's own address (`vxlanDecapsulate`), refuses
 * a VNI it does not carry (`unknown-vni`) and carries an outer CE mark inward (RFC 6040). Every
 * refusal is a drop with a code counted in the owning vswitch's counters and traced.
 */

import { formatIpv4, formatMac, type Ipv4, type Mac, readMac } from "../wire/addr.ts";
import { WireError } from "../wire/error.ts";
import { ETHERNET_HEADER_LEN, EtherType } from "../wire/ethernet.ts";
import { IpProtocol, Ipv4Header } from "../wire/ipv4.ts";
import {
  newVxlanDecapInfo,
  VNI_MAX,
  VXLAN_OVERHEAD,
  VXLAN_UDP_PORT,
  vxlanApplyOuterEcn,
  vxlanDecapsulate,
  vxlanEncapsulate,
} from "../wire/vxlan.ts";
import { DeviceConfigError } from "./config-error.ts";
import type { DropCounters } from "./counters.ts";
import type { DeviceEnv } from "./device.ts";
import type { Frame } from "./frame.ts";
import { DEFAULT_TTL, IpHost, type IpInterface } from "./ip-host.ts";
import { type RemoteVtep, RemoteVteps, VniTable, type VniTableConfig } from "./vtep-table.ts";

/** Drop reason codes of the VTEP (besides the stack's own: ARP, `no-route`, ...). */
export const VtepDrop = {
  unknownVni: "unknown-vni",
  malformed: "vxlan-malformed",
  noRemote: "vxlan-no-remote-vtep",
  tooBig: "vxlan-too-big",
  ecn: "vxlan-ecn-not-capable",
  noRoute: "no-route",
} as const;

/** One VNI as the VTEP carries it (flood list, learning, static entries, ageing). */
export type VtepVniConfig = VniTableConfig;

export interface VtepOptions {
  /** The owning vswitch's name: the device of trace records. */
  name: string;
  /** The interface's name in traces ("vtep"). */
  interfaceName?: string;
  mac: Mac;
  ip: Ipv4;
  prefixLen: number;
  gateway: Ipv4 | null;
  /** Largest outer IPv4 packet (default 1500): a frame whose encapsulation is larger is dropped. */
  mtu?: number;
  vnis: readonly VtepVniConfig[];
  /** Count drops here (the vswitch's counters). */
  drops?: DropCounters;
}

export class Vtep {
  readonly stack: IpHost;
  readonly iface: IpInterface;
  readonly ip: Ipv4;
  private readonly vnis = new Map<number, VniTable>();
  /** The VNI of the last lookup and its table: a VTEP's frames come in runs of one VNI. */
  private lastVni = -1;
  private lastTable: VniTable | null = null;
  /** Every remote VTEP, each with its outer header template (and that tunnel's IPv4 ID counter). */
  private readonly remotes = new RemoteVteps();
  private readonly info = newVxlanDecapInfo();
  private envOrNull: DeviceEnv | null = null;

  /**
   * `output` takes the VTEP's underlay frames (untagged, the vswitch tags them with the VTEP
   * VLAN); `deliver` takes decapsulated inner frames with their VNI.
   */
  constructor(
    options: VtepOptions,
    output: (frame: Frame, nowNs: number) => void,
    private readonly deliver: (vni: number, frame: Frame, nowNs: number) => void,
  ) {
    this.ip = options.ip;
    this.stack = new IpHost({ name: options.name, hopKind: "vswitch", drops: options.drops });
    this.iface = this.stack.addInterface(
      {
        name: options.interfaceName ?? "vtep",
        mac: options.mac,
        ip: options.ip,
        prefixLen: options.prefixLen,
        gateway: options.gateway,
        mtu: options.mtu,
      },
      output,
    );
    for (const v of options.vnis) {
      if (!Number.isInteger(v.vni) || v.vni < 1 || v.vni > VNI_MAX)
        throw new DeviceConfigError("bad-value", `${options.name}: VNI ${v.vni} is not 1..${VNI_MAX}`);
      this.vnis.set(v.vni, new VniTable(v, this.remotes, options.ip, options.name));
    }
  }

  bind(env: DeviceEnv): void {
    this.envOrNull = env;
    this.stack.bind(env);
  }

  /** Announces the VTEP address with a gratuitous ARP, as a vmkernel port does when it comes up. */
  start(nowNs: number): void {
    this.stack.start(nowNs);
  }

  hasVni(vni: number): boolean {
    return this.vnis.has(vni);
  }

  /** The table of `vni`, or undefined when this VTEP does not carry it. */
  private tableOf(vni: number): VniTable | undefined {
    if (vni === this.lastVni) return this.lastTable as VniTable;
    const t = this.vnis.get(vni);
    if (t !== undefined) {
      this.lastVni = vni;
      this.lastTable = t;
    }
    return t;
  }

  /** The remote VTEP known for `mac` in `vni` (learned and not expired, or static), or null. */
  remoteOf(vni: number, mac: Mac, nowNs = this.envOrNull?.now() ?? 0): Ipv4 | null {
    return this.vnis.get(vni)?.remoteOf(mac, nowNs) ?? null;
  }

  /** The MAC -> VTEP table of every VNI at `nowNs` (`show fdb`-like listings and tests). */
  table(
    nowNs = this.envOrNull?.now() ?? 0,
  ): { vni: number; mac: Mac; vtep: Ipv4; isStatic: boolean; ageNs: number }[] {
    const out: { vni: number; mac: Mac; vtep: Ipv4; isStatic: boolean; ageNs: number }[] = [];
    for (const t of this.vnis.values()) for (const e of t.entries(nowNs)) out.push({ vni: t.vni, ...e });
    return out;
  }

  /**
   * Sends the untagged inner frame on `vni`: known unicast to its one remote VTEP, anything
   * else to every VTEP of the flood list (head-end replication). Takes ownership of the frame.
   */
  send(vni: number, frame: Frame, nowNs: number): void {
    const t = this.tableOf(vni);
    if (t === undefined) {
      this.drop(frame, VtepDrop.unknownVni, `dropped: VNI ${vni} is not carried by this VTEP`, nowNs);
      return;
    }
    const b = frame.buf;
    if ((b[frame.start] & 1) === 0) {
      const remote = t.lookupAt(b, frame.start, nowNs);
      if (remote >= 0) {
        this.encapsulateTo(vni, this.remotes.all[remote], frame, nowNs, "");
        return;
      }
    }
    const flood = t.flood;
    if (flood.length === 0) {
      this.drop(
        frame,
        VtepDrop.noRemote,
        `dropped: VNI ${vni} has no remote VTEP to flood ${formatMac(readMac(b, frame.start))} to`,
        nowNs,
      );
      return;
    }
    const why =
      (b[frame.start] & 1) !== 0 ? ", head-end replication" : ", unknown unicast, head-end replication";
    for (let i = 0; i < flood.length; i++) {
      const f = i === flood.length - 1 ? frame : frame.clone();
      this.encapsulateTo(vni, flood[i], f, nowNs, why);
    }
  }

  private encapsulateTo(vni: number, to: RemoteVtep, frame: Frame, nowNs: number, why: string): void {
    const env = this.envOrNull as DeviceEnv;
    const innerLen = frame.length;
    const outerIpLen = innerLen + VXLAN_OVERHEAD - ETHERNET_HEADER_LEN;
    if (outerIpLen > this.iface.mtu) {
      this.stack.dropFrame(
        this.iface,
        frame,
        VtepDrop.tooBig,
        `dropped: a ${innerLen}-byte frame is ${outerIpLen} bytes in VXLAN, over the VTEP's MTU ${this.iface.mtu} (VTEPs do not fragment, RFC 7348 §4.3)`,
        nowNs,
        { mtu: { sizeBytes: outerIpLen, mtuBytes: this.iface.mtu, allowanceBytes: 0 } },
      );
      return;
    }
    // The route to a remote VTEP is kept until the stack's routes change (a lookup per frame
    // was a tenth of the encapsulation's cost).
    const generation = this.stack.routeGeneration;
    if (generation < 0 || to.routeGeneration !== generation) {
      const route = this.stack.route(to.ip, nowNs);
      if (route === null) {
        this.drop(frame, VtepDrop.noRoute, `dropped: no route to VTEP ${formatIpv4(to.ip)}`, nowNs);
        return;
      }
      to.nextHop = route.nextHop;
      to.routeGeneration = generation;
    }
    const nextHop = to.nextHop;
    let outer = to.outer;
    if (outer === null) {
      outer = {
        srcMac: this.iface.mac,
        dstMac: 0,
        srcIp: this.ip,
        dstIp: to.ip,
        vni,
        ttl: DEFAULT_TTL,
        dscp: 0,
        dontFragment: true,
        ipId: Math.floor(env.random() * 0x10000),
        dstPort: VXLAN_UDP_PORT,
      };
      to.outer = outer;
    }
    outer.vni = vni;
    frame.prepend(VXLAN_OVERHEAD);
    frame.start = vxlanEncapsulate(frame.buf, frame.start + VXLAN_OVERHEAD, innerLen, outer);
    if (env.isTracing) {
      const udp = frame.start + ETHERNET_HEADER_LEN + 20;
      const sport = (frame.buf[udp] << 8) | frame.buf[udp + 1];
      this.stack.record(
        frame,
        this.iface,
        "send",
        `encapsulated in VXLAN VNI ${vni} to VTEP ${formatIpv4(to.ip)} (outer UDP ${VXLAN_UDP_PORT}, sport ${sport}${why})`,
        nowNs,
        undefined,
        {
          encap: {
            type: "vxlan",
            step: "encapsulate",
            vni,
            outerSrc: formatIpv4(this.ip),
            outerDst: formatIpv4(to.ip),
          },
        },
      );
    }
    this.iface.sendIpv4(frame, nextHop, nowNs);
  }

  /**
   * An untagged underlay frame for the VTEP interface (addressed to its MAC, or broadcast):
   * VXLAN to our address is decapsulated, anything else (ARP, ICMP) goes to the stack.
   */
  receiveUnderlay(frame: Frame, nowNs: number): void {
    const b = frame.buf;
    const s = frame.start;
    const ip = s + ETHERNET_HEADER_LEN;
    const isVxlan =
      frame.length >= ETHERNET_HEADER_LEN + 28 &&
      ((b[s + 12] << 8) | b[s + 13]) === EtherType.IPv4 &&
      b[ip] >>> 4 === 4 &&
      b[ip + 9] === IpProtocol.UDP &&
      Ipv4Header.dst(b, ip) === this.ip &&
      ((b[ip + (b[ip] & 0x0f) * 4 + 2] << 8) | b[ip + (b[ip] & 0x0f) * 4 + 3]) === VXLAN_UDP_PORT;
    if (!isVxlan) {
      this.stack.receive(this.iface, frame, nowNs);
      return;
    }
    this.decapsulate(frame, nowNs);
  }

  private decapsulate(frame: Frame, nowNs: number): void {
    const info = this.info;
    let inner: number;
    try {
      inner = vxlanDecapsulate(frame.buf, frame.start, frame.end, info);
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
      this.drop(frame, VtepDrop.malformed, `dropped: ${e.message}`, nowNs);
      return;
    }
    const vni = info.vni;
    const t = this.tableOf(vni);
    if (t === undefined) {
      const from = info.srcIp;
      this.drop(
        frame,
        VtepDrop.unknownVni,
        `dropped: VXLAN VNI ${vni} from ${formatIpv4(from)} is not carried by this VTEP`,
        nowNs,
      );
      return;
    }
    if (!vxlanApplyOuterEcn(frame.buf, inner, info.innerEnd, info.outerEcn)) {
      this.drop(
        frame,
        VtepDrop.ecn,
        "dropped: outer CE mark over a packet that is not ECN-capable (RFC 6040)",
        nowNs,
      );
      return;
    }
    const from = info.srcIp;
    if ((this.envOrNull as DeviceEnv).isTracing)
      this.stack.record(
        frame,
        this.iface,
        "deliver",
        `decapsulated VNI ${vni} from ${formatIpv4(from)}`,
        nowNs,
        undefined,
        {
          encap: {
            type: "vxlan",
            step: "decapsulate",
            vni,
            outerSrc: formatIpv4(from),
            outerDst: formatIpv4(info.dstIp),
          },
        },
      );
    frame.start = inner;
    frame.end = info.innerEnd;
    if (frame.length >= ETHERNET_HEADER_LEN && t.isLearning && (frame.buf[inner + 6] & 1) === 0)
      t.learnAt(frame.buf, inner + 6, this.remotes.of(from), nowNs);
    this.deliver(vni, frame, nowNs);
  }

  private drop(frame: Frame, code: string, reason: string, nowNs: number): void {
    this.stack.dropFrame(this.iface, frame, code, reason, nowNs);
  }
}
