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
 */

import { formatMac, isMulticastMac, type Mac, readMac } from "../wire/addr.ts";
import { ETHERNET_HEADER_LEN, EtherType } from "../wire/ethernet.ts";
import { isVlanTpid, VLAN_TAG_LEN, Vlan } from "../wire/vlan.ts";
import { checkUnicastMac, checkVid, DeviceConfigError } from "./config-error.ts";
import { DropCounters, newPortCounters, type PortCounters } from "./counters.ts";
import { PROCESSING_DELAY_NS } from "./delays.ts";
import type { Device, DeviceEnv } from "./device.ts";
import type { Frame } from "./frame.ts";
import {
  DEFAULT_MAC_AGING_NS,
  DEFAULT_MAC_TABLE_SIZE,
  Learn,
  MacTable,
  macHiAt,
  macLoAt,
} from "./mac-table.ts";
import {
  isBroadcastAt,
  STORM_DROP_CODES,
  StormClass,
  StormControl,
  type StormControlConfig,
} from "./storm-control.ts";
import type { SviHandler, SviHost } from "./svi.ts";
import type { HopAction } from "./trace.ts";

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
} as const;

export type SwitchPortConfig = (
  | { name: string; mode: "access"; vlan: number }
  /** `vlans: null` allows every VLAN 1..4094; `nativeVlan` is carried untagged. */
  | { name: string; mode: "trunk"; vlans: number[] | null; nativeVlan?: number | null }
) & {
  /** Ingress limits on what this port's frames may make the switch flood. */
  stormControl?: StormControlConfig | null;
};

export interface SwitchOptions {
  name: string;
  /** The switch's own MAC (its SVIs' address). */
  mac: Mac;
  ports: SwitchPortConfig[];
  /** VLANs with an SVI (the `gateway:` of the topology); the router attaches with `attachSvi`. */
  sviVlans?: number[];
  macTableSize?: number;
  macAgingNs?: number;
  processingDelayNs?: number;
}

interface Port {
  name: string;
  isTrunk: boolean;
  /** Access VLAN, or the trunk's native VLAN, or -1 (no untagged frames on this trunk). */
  pvid: number;
  /** Allowed VLANs of a trunk (null: all); for an access port, its one VLAN. */
  allowed: Uint8Array | null;
  storm: StormControl | null;
  stormConfig: StormControlConfig | null;
}

export class PhysicalSwitch implements Device, SviHost {
  readonly kind = "switch" as const;
  readonly name: string;
  readonly mac: Mac;
  /** The switch MAC's 24-bit halves, compared against frame bytes without building a number. */
  private readonly macHi: number;
  private readonly macLo: number;
  readonly portNames: readonly string[];
  readonly portCounters: readonly PortCounters[];
  /** Frames to and from the router behind the SVIs. */
  readonly sviCounters: PortCounters = newPortCounters();
  readonly drops = new DropCounters();
  readonly processingDelayNs: number;
  readonly macTable: MacTable;
  /** The MAC-table port standing for the SVIs (one past the last front port). */
  readonly sviPort: number;
  private readonly ports: Port[];
  private readonly isPortUp: boolean[];
  private readonly hasSvi = new Uint8Array(4096);
  /** Per VLAN, the front ports that carry it (computed on first use). */
  private readonly members: (Int32Array | undefined)[] = new Array(4096);
  private readonly out: Int32Array;
  private svi: SviHandler | null = null;
  private env: DeviceEnv | null = null;

  constructor(options: SwitchOptions) {
    this.name = options.name;
    checkUnicastMac(options.mac, `switch ${this.name}`);
    this.mac = options.mac;
    this.macHi = Math.floor(options.mac / 0x1000000);
    this.macLo = options.mac % 0x1000000;
    this.processingDelayNs = options.processingDelayNs ?? PROCESSING_DELAY_NS.switch;
    const seen = new Set<string>();
    this.ports = options.ports.map((p) => {
      if (p.name === "" || seen.has(p.name))
        throw new DeviceConfigError(
          "bad-port",
          `switch ${this.name}: duplicate or empty port name "${p.name}"`,
        );
      seen.add(p.name);
      const what = `switch ${this.name} port ${p.name}`;
      const stormConfig = StormControl.isEmpty(p.stormControl) ? null : (p.stormControl ?? null);
      const storm = stormConfig === null ? null : new StormControl(stormConfig);
      if (p.mode === "access") {
        checkVid(p.vlan, what);
        return { name: p.name, isTrunk: false, pvid: p.vlan, allowed: null, storm, stormConfig };
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
      return { name: p.name, isTrunk: true, pvid: native ?? -1, allowed, storm, stormConfig };
    });
    this.portNames = this.ports.map((p) => p.name);
    this.portCounters = this.ports.map(() => newPortCounters());
    this.isPortUp = this.ports.map(() => true);
    this.sviPort = this.ports.length;
    this.out = new Int32Array(this.ports.length + 1);
    this.macTable = new MacTable({
      maxEntries: options.macTableSize ?? DEFAULT_MAC_TABLE_SIZE,
      agingNs: options.macAgingNs ?? DEFAULT_MAC_AGING_NS,
    });
    for (const vid of options.sviVlans ?? []) {
      checkVid(vid, `switch ${this.name} SVI`);
      this.hasSvi[vid] = 1;
      this.macTable.addStatic(vid, this.mac, this.sviPort);
    }
  }

  bind(env: DeviceEnv): void {
    this.env = env;
  }

  start(_nowNs: number): void {}

  /** Connects the router behind the SVIs. */
  attachSvi(handler: SviHandler): void {
    this.svi = handler;
  }

  portIndex(name: string): number {
    return this.portNames.indexOf(name);
  }

  /** Whether port `port` carries VLAN `vid`. */
  carries(port: number, vid: number): boolean {
    const p = this.ports[port];
    if (!p.isTrunk) return p.pvid === vid;
    return vid >= 1 && vid <= 4094 && (p.allowed === null || p.allowed[vid] === 1);
  }

  setPortUp(port: number, isUp: boolean, _nowNs: number): void {
    if (port < 0 || port >= this.ports.length)
      throw new DeviceConfigError("bad-port", `switch ${this.name}: no port ${port}`);
    this.isPortUp[port] = isUp;
    if (!isUp) this.macTable.flushPort(port);
  }

  receive(port: number, frame: Frame, nowNs: number): void {
    const pc = this.portCounters[port];
    pc.rxFrames++;
    pc.rxBytes += frame.length;
    if (frame.length < ETHERNET_HEADER_LEN) {
      this.drop(
        port,
        frame,
        nowNs,
        null,
        SwitchDrop.runt,
        () => `dropped: runt frame of ${frame.length} bytes`,
      );
      return;
    }
    const p = this.ports[port];
    const b = frame.buf;
    const s = frame.start;
    const type = (b[s + 12] << 8) | b[s + 13];
    let vid: number;
    if (isVlanTpid(type)) {
      if (frame.length < ETHERNET_HEADER_LEN + VLAN_TAG_LEN) {
        this.drop(port, frame, nowNs, null, SwitchDrop.runt, () => "dropped: truncated VLAN tag");
        return;
      }
      const tagVid = Vlan.vid(b, s + 12);
      if (type === EtherType.QinQ) {
        this.drop(
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
          this.drop(
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
        this.drop(
          port,
          frame,
          nowNs,
          tagVid,
          SwitchDrop.taggedOnAccess,
          () => `dropped: tagged frame (VLAN ${tagVid}) on access port ${p.name} (VLAN ${p.pvid})`,
        );
        return;
      } else if (tagVid === 4095 || (p.allowed !== null && p.allowed[tagVid] === 0)) {
        this.drop(
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
      this.drop(
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
      this.drop(
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
      this.drop(
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
      this.drop(
        port,
        frame,
        nowNs,
        vid,
        SwitchDrop.ownMacAsSource,
        () => `dropped: source ${formatMac(this.mac)} is this switch's own MAC (a loop?)`,
      );
      return;
    }
    const r = this.macTable.learnAt(vid, fb, fs + 6, port, nowNs);
    if (r !== Learn.refreshed && this.env?.isTracing) {
      const src = readMac(fb, fs + 6);
      const reason =
        r === Learn.learned
          ? `learned ${formatMac(src)} on ${p.name}`
          : r === Learn.moved
            ? `moved ${formatMac(src)} from ${this.portNames[this.macTable.lastMovedFrom] ?? "?"} to ${p.name}`
            : `not learned: ${formatMac(src)} (table full of static entries)`;
      this.record(nowNs, frame, p.name, null, vid, "receive", reason);
    }
    this.forward(port, frame, nowNs, vid);
  }

  /**
   * The router sends an untagged frame into VLAN `vid` (an ARP request or reply, a routed
   * packet). It is forwarded like a frame arriving on an internal port of that VLAN.
   */
  sendFromSvi(vid: number, frame: Frame, nowNs: number): void {
    this.sviCounters.rxFrames++;
    this.sviCounters.rxBytes += frame.length;
    if (vid < 1 || vid > 4094 || this.hasSvi[vid] === 0) {
      this.sviCounters.drops++;
      this.drops.add(SwitchDrop.noSvi);
      if (this.env?.isTracing)
        this.record(nowNs, frame, `vlan${vid}`, null, vid, "drop", `dropped: no SVI in vlan ${vid}`);
      return;
    }
    if (frame.length < ETHERNET_HEADER_LEN) {
      this.sviCounters.drops++;
      this.drops.add(SwitchDrop.runt);
      if (this.env?.isTracing)
        this.record(nowNs, frame, `vlan${vid}`, null, vid, "drop", "dropped: runt frame from the gateway");
      return;
    }
    this.forward(this.sviPort, frame, nowNs, vid);
  }

  /** Forwards an untagged frame of VLAN `vid` that came in on `inPort` (a front port or the SVI port). */
  private forward(inPort: number, frame: Frame, nowNs: number, vid: number): void {
    const b = frame.buf;
    const s = frame.start;
    if ((b[s] & 1) !== 0) {
      if (inPort !== this.sviPort && this.ports[inPort].storm !== null) {
        const c = isBroadcastAt(b, s) ? StormClass.broadcast : StormClass.multicast;
        if (!this.admitStorm(inPort, c, frame, nowNs, vid)) return;
      }
      this.flood(inPort, frame, nowNs, vid, readMac(b, s), inPort !== this.sviPort && this.hasSvi[vid] === 1);
      return;
    }
    const q = this.macTable.lookupAt(vid, b, s, nowNs);
    if (q === -1 && inPort !== this.sviPort && this.ports[inPort].storm !== null) {
      if (!this.admitStorm(inPort, StormClass.unknownUnicast, frame, nowNs, vid)) return;
    }
    if (q === -1) {
      const dst = readMac(b, s);
      if (dst === this.mac && inPort !== this.sviPort) {
        this.drop(
          inPort,
          frame,
          nowNs,
          vid,
          SwitchDrop.noSvi,
          () => `dropped: addressed to the switch, which has no SVI in vlan ${vid}`,
        );
        return;
      }
      this.flood(inPort, frame, nowNs, vid, dst, false);
    } else if (q === inPort) {
      this.drop(
        inPort,
        frame,
        nowNs,
        vid,
        SwitchDrop.sameSegment,
        () => `dropped: ${formatMac(readMac(b, s))} is on the ingress port ${this.inName(inPort, vid)}`,
      );
    } else if (q === this.sviPort) {
      this.toSvi(inPort, frame, nowNs, vid, true);
    } else if (!this.isPortUp[q]) {
      this.drop(
        inPort,
        frame,
        nowNs,
        vid,
        SwitchDrop.portDown,
        () => `dropped: ${this.portNames[q]} is down`,
      );
    } else {
      this.out[0] = q;
      this.emit(1, frame, vid);
      if (this.env?.isTracing)
        this.record(
          nowNs,
          frame,
          this.inName(inPort, vid),
          this.portNames[q],
          vid,
          "forward",
          `forwarded to ${this.portNames[q]}: learned`,
        );
    }
  }

  private flood(inPort: number, frame: Frame, nowNs: number, vid: number, dst: Mac, toSvi: boolean): void {
    const members = this.membersOf(vid);
    let n = 0;
    for (let i = 0; i < members.length; i++) {
      const m = members[i];
      if (m !== inPort && this.isPortUp[m]) this.out[n++] = m;
    }
    const canSvi = toSvi && this.svi !== null;
    if (n === 0 && !canSvi) {
      this.drop(
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
    const sviCopy = canSvi ? (n > 0 ? frame.clone() : frame) : null;
    if (this.env?.isTracing) {
      let names = "";
      for (let i = 0; i < n; i++) names += (i > 0 ? "," : "") + this.portNames[this.out[i]];
      if (canSvi) names += `${n > 0 ? "," : ""}vlan${vid}`;
      const why =
        dst === 0xffffffffffff
          ? "broadcast"
          : isMulticastMac(dst)
            ? "multicast"
            : `no entry for ${formatMac(dst)}`;
      this.record(
        nowNs,
        frame,
        this.inName(inPort, vid),
        names,
        vid,
        "flood",
        `flooded in vlan ${vid} to ${names}: ${why}`,
      );
    }
    if (n > 0) this.emit(n, frame, vid);
    if (sviCopy !== null) this.toSvi(inPort, sviCopy, nowNs, vid, false);
  }

  /** Hands a frame to the router; `isOwnDecision`: a unicast for the switch (a flood recorded itself). */
  private toSvi(inPort: number, frame: Frame, nowNs: number, vid: number, isOwnDecision: boolean): void {
    if (this.svi === null) {
      this.drop(
        inPort,
        frame,
        nowNs,
        vid,
        SwitchDrop.noSvi,
        () => `dropped: no gateway attached to the SVI of vlan ${vid}`,
      );
      return;
    }
    this.sviCounters.txFrames++;
    this.sviCounters.txBytes += frame.length;
    if (isOwnDecision && this.env?.isTracing)
      this.record(
        nowNs,
        frame,
        this.inName(inPort, vid),
        `vlan${vid}`,
        vid,
        "deliver",
        `to the gateway on vlan ${vid}`,
      );
    this.svi.receiveOnSvi(vid, frame, nowNs);
  }

  /** Sends to out[0..n): clones for all but the last; tags per egress port. */
  private emit(n: number, frame: Frame, vid: number): void {
    const env = this.env!;
    for (let i = 0; i < n; i++) {
      const q = this.out[i];
      const f = i === n - 1 ? frame : frame.clone();
      const p = this.ports[q];
      if (p.isTrunk && p.pvid !== vid) f.pushVlanTag(vid);
      const pc = this.portCounters[q];
      pc.txFrames++;
      pc.txBytes += f.length;
      env.transmit(q, f);
    }
  }

  private membersOf(vid: number): Int32Array {
    let m = this.members[vid];
    if (m === undefined) {
      const list: number[] = [];
      for (let i = 0; i < this.ports.length; i++) if (this.carries(i, vid)) list.push(i);
      m = Int32Array.from(list);
      this.members[vid] = m;
    }
    return m;
  }

  private inName(inPort: number, vid: number): string {
    return inPort === this.sviPort ? `vlan${vid}` : this.portNames[inPort];
  }

  /** Storm control at `inPort`: false (and the frame dropped, counted) when over the class's rate. */
  private admitStorm(inPort: number, c: StormClass, frame: Frame, nowNs: number, vid: number): boolean {
    const p = this.ports[inPort];
    if ((p.storm as StormControl).admit(c, nowNs)) return true;
    this.drop(
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

  private drop(
    inPort: number,
    frame: Frame,
    nowNs: number,
    vid: number | null,
    code: string,
    reason: () => string,
  ): void {
    this.drops.add(code);
    if (inPort === this.sviPort) this.sviCounters.drops++;
    else this.portCounters[inPort].drops++;
    if (this.env?.isTracing)
      this.record(nowNs, frame, this.inName(inPort, vid ?? 0), null, vid, "drop", reason(), code);
  }

  private record(
    nowNs: number,
    frame: Frame,
    inName: string,
    out: string | null,
    vid: number | null,
    action: HopAction,
    reason: string,
    code?: string,
  ): void {
    this.env!.trace({
      timeNs: nowNs,
      frameId: frame.id,
      device: this.name,
      kind: "switch",
      in: inName,
      out,
      vlan: vid,
      action,
      reason,
      ...(code === undefined ? {} : { code }),
    });
  }
}
