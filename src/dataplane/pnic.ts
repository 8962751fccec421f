/**
 * A physical NIC in a server, and SR-IOV (section 1.2 of the source document: hardware NIC
 * virtualization). Ports:
 *
 *   port 0       the wire (named after the NIC, e.g. "eth1"): the cable to the physical switch;
 *   port 1       "pf", the host side: the physical function, a vswitch's uplink when one uses it;
 *   port 2 + i   "vf<i>", virtual function i, handed to a VM by pass-through.
 *
 * Without SR-IOV the NIC passes frames between wire and host unchanged, after its DMA delay.
 *
 * With SR-IOV (PCI-SIG SR-IOV 1.1; the NIC presents up to `maxVfs`, 128 by default and 512 at
 * most, as the source document says) every VF has its own MAC, optionally a port VLAN and a
 * spoof check (the knobs of `ip link set <pf> vf <n> mac .. vlan .. spoofchk on`), and an embedded
 * switch, a Virtual Ethernet Bridge (VEB, IEEE 802.1Qbg's term), forwards between VFs, the PF and
 * the wire:
 *
 * - A VF with a port VLAN is an access port: its frames get that tag toward the wire, frames
 *   toward it lose it, and it never sees another VLAN; a frame it sends already tagged is
 *   refused. A VF without one sees the wire as it is (the guest may tag, VGT).
 * - Spoof check: a frame from a VF whose source is not the VF's MAC is dropped and counted.
 * - Unicast to a VF's MAC in the VF's VLAN goes to that VF, wherever it came from: VF-to-VF
 *   never leaves the NIC, and a VF reaching a VM behind the vswitch on the same NIC turns in the
 *   VEB toward the PF, not out on the wire.
 * - Other unicast: from the wire to the PF (promiscuous, being a vswitch uplink); from the PF to
 *   the wire; from a VF to the PF if the address was seen coming from the PF, to the wire if it
 *   was seen coming from the wire, else to both (the PF is promiscuous, and a VEB cannot know
 *   what lies behind it otherwise). The VEB's table learns on the wire and the PF only; VF
 *   addresses are static, programmed, as in the hardware.
 * - Broadcast and multicast go to every VF of the VLAN, the PF and the wire, never back to the
 *   ingress.
 *
 * Frames inside the NIC are in wire form (tagged as they would be on the cable); the VLAN a
 * decision is made in is the outer C-tag's VID, or 0 for untagged.
 */

import { formatMac, type Mac, readMac } from "../wire/addr.ts";
import { ETHERNET_HEADER_LEN, EtherType } from "../wire/ethernet.ts";
import { isVlanTpid, VLAN_TAG_LEN, Vlan } from "../wire/vlan.ts";
import { checkUnicastMac, checkVid, DeviceConfigError } from "./config-error.ts";
import type { DropCounters, PortCounters } from "./counters.ts";
import { PROCESSING_DELAY_NS } from "./delays.ts";
import type { Device, DeviceEnv } from "./device.ts";
import type { Frame } from "./frame.ts";
import { MacTable, macHiAt, macLoAt } from "./mac-table.ts";
import { PortCore } from "./port-core.ts";
import type { HopAction, HopKind } from "./trace.ts";

export const WIRE_PORT = 0;
export const PF_PORT = 1;
export const FIRST_VF_PORT = 2;

/** The source document's range: one NIC presents 128 to 512 virtual functions. */
export const DEFAULT_MAX_VFS = 128;
export const MAX_MAX_VFS = 512;

export const PnicDrop = {
  runt: "runt",
  spoofCheck: "vf-spoof-check",
  taggedFromVf: "vf-tagged-with-port-vlan",
  sameSegment: "destination-on-ingress-port",
  portDown: "port-down",
  noReceiver: "no-receiver",
  vfUnassigned: "vf-unassigned",
} as const;

export interface VfConfig {
  mac: Mac;
  /** Port VLAN (VST): tag inserted toward the wire, stripped toward the VF. null: none. */
  vlan?: number | null;
  /** Drop frames whose source MAC is not the VF's (default on, as `spoofchk on`). */
  spoofCheck?: boolean;
  /**
   * `ip link set <pf> vf N state ...`: "auto" (default) reports the cable's link state to the
   * VF's guest, "enable" keeps the VF up regardless (VF-to-VF traffic then still flows through
   * the embedded switch with the cable pulled).
   */
  linkState?: "auto" | "enable";
}

export interface PnicOptions {
  /** Device name, unique in the world (e.g. "server1/eth1"). */
  name: string;
  /** Name of the wire port (default: the device name). */
  wireName?: string;
  /** The PF's own MAC. */
  mac: Mac;
  sriov?: { vfs: number; maxVfs?: number } | null;
  /** VF settings by index; missing ones are unassigned until `configureVf`. */
  vfs?: (VfConfig | null | undefined)[];
  processingDelayNs?: number;
  /** Entries of the VEB's table (learned wire/PF addresses plus the VFs'). */
  macTableSize?: number;
  macAgingNs?: number;
}

interface Vf {
  port: number;
  name: string;
  /** 0 when unassigned. */
  mac: Mac;
  /** The MAC's 24-bit halves, compared against frame bytes without building a number. */
  macHi: number;
  macLo: number;
  /** Port VLAN, or 0 for none. */
  vid: number;
  isSpoofChecked: boolean;
  isLinkStateAuto: boolean;
}

export class Pnic implements Device {
  readonly kind = "pnic" as const;
  readonly name: string;
  readonly mac: Mac;
  private readonly macHi: number;
  private readonly macLo: number;
  readonly portNames: readonly string[];
  readonly portCounters: readonly PortCounters[];
  readonly drops: DropCounters;
  readonly processingDelayNs: number;
  readonly maxVfs: number;
  /** The embedded bridge's table; null without SR-IOV. */
  readonly veb: MacTable | null;
  private readonly vfs: Vf[];
  private readonly core: PortCore;
  private readonly isPortUp: boolean[];
  private readonly out: Int32Array;
  private env: DeviceEnv | null = null;

  constructor(options: PnicOptions) {
    this.name = options.name;
    checkUnicastMac(options.mac, `NIC ${this.name}`);
    this.mac = options.mac;
    this.macHi = Math.floor(options.mac / 0x1000000);
    this.macLo = options.mac % 0x1000000;
    this.processingDelayNs = options.processingDelayNs ?? PROCESSING_DELAY_NS.pnic;
    const sriov = options.sriov ?? null;
    this.maxVfs = sriov?.maxVfs ?? DEFAULT_MAX_VFS;
    if (!Number.isInteger(this.maxVfs) || this.maxVfs < 1 || this.maxVfs > MAX_MAX_VFS) {
      throw new DeviceConfigError(
        "bad-value",
        `NIC ${this.name}: maxVfs must be 1..${MAX_MAX_VFS} (SR-IOV NICs present 128 to 512 VFs), got ${this.maxVfs}`,
      );
    }
    const vfCount = sriov?.vfs ?? 0;
    if (!Number.isInteger(vfCount) || vfCount < 0) {
      throw new DeviceConfigError(
        "bad-value",
        `NIC ${this.name}: number of VFs must be a whole number >= 0, got ${vfCount}`,
      );
    }
    if (vfCount > this.maxVfs) {
      throw new DeviceConfigError(
        "too-many-vfs",
        `NIC ${this.name}: ${vfCount} VFs requested, but this NIC supports at most ${this.maxVfs}`,
      );
    }
    if ((options.vfs?.length ?? 0) > vfCount) {
      throw new DeviceConfigError(
        "bad-port",
        `NIC ${this.name}: settings for ${options.vfs?.length} VFs, but only ${vfCount} exist`,
      );
    }
    const names = [options.wireName ?? options.name, "pf"];
    this.vfs = [];
    for (let i = 0; i < vfCount; i++) {
      const port = FIRST_VF_PORT + i;
      names.push(`vf${i}`);
      this.vfs.push({
        port,
        name: `vf${i}`,
        mac: 0,
        macHi: 0,
        macLo: 0,
        vid: 0,
        isSpoofChecked: true,
        isLinkStateAuto: true,
      });
    }
    this.core = new PortCore(this.name, "pnic", names, 0, undefined, (port) =>
      port >= FIRST_VF_PORT ? "vf" : "pnic",
    );
    this.portNames = names;
    this.portCounters = this.core.counters;
    this.drops = this.core.drops;
    this.isPortUp = this.core.isUp;
    this.out = this.core.out;
    this.veb =
      sriov === null
        ? null
        : new MacTable({
            maxEntries: options.macTableSize ?? Math.max(8192, 4 * vfCount),
            agingNs: options.macAgingNs ?? 300e9,
          });
    options.vfs?.forEach((c, i) => {
      if (c) this.configureVf(i, c);
    });
  }

  /** Whether the NIC has SR-IOV enabled. */
  get hasSriov(): boolean {
    return this.veb !== null;
  }

  get vfCount(): number {
    return this.vfs.length;
  }

  /** Device port of VF `index`. */
  vfPort(index: number): number {
    return FIRST_VF_PORT + index;
  }

  /** Sets a VF's MAC, port VLAN and spoof check (`ip link set <pf> vf <n> mac .. vlan .. spoofchk ..`). */
  configureVf(index: number, config: VfConfig): void {
    const vf = this.vfs[index];
    if (vf === undefined)
      throw new DeviceConfigError("bad-port", `NIC ${this.name}: no VF ${index} (it has ${this.vfs.length})`);
    checkUnicastMac(config.mac, `NIC ${this.name} vf${index}`);
    const vid = config.vlan ?? 0;
    if (vid !== 0) checkVid(vid, `NIC ${this.name} vf${index} port VLAN`);
    const veb = this.veb!;
    for (const other of this.vfs) {
      if (other !== vf && other.mac === config.mac && (other.vid === vid || other.vid === 0 || vid === 0)) {
        throw new DeviceConfigError(
          "bad-mac",
          `NIC ${this.name}: vf${index} and ${other.name} cannot both use ${formatMac(config.mac)} in the same VLAN`,
        );
      }
    }
    if (vf.mac !== 0) veb.delete(vf.vid, vf.mac);
    vf.mac = config.mac;
    vf.macHi = Math.floor(config.mac / 0x1000000);
    vf.macLo = config.mac % 0x1000000;
    vf.vid = vid;
    vf.isSpoofChecked = config.spoofCheck ?? true;
    vf.isLinkStateAuto = (config.linkState ?? "auto") === "auto";
    veb.addStatic(vid, vf.mac, vf.port);
  }

  /** A VF's settings, or null while unassigned. */
  vfConfig(index: number): Required<VfConfig> | null {
    const vf = this.vfs[index];
    if (vf === undefined || vf.mac === 0) return null;
    return {
      mac: vf.mac,
      vlan: vf.vid === 0 ? null : vf.vid,
      spoofCheck: vf.isSpoofChecked,
      linkState: vf.isLinkStateAuto ? "auto" : "enable",
    };
  }

  bind(env: DeviceEnv): void {
    this.env = env;
    this.core.env = env;
  }

  start(_nowNs: number): void {}

  /** The host lost power: the embedded switch forgets what it learned. */
  powerOff(_nowNs: number): void {
    this.veb?.flushAll();
    this.isPortUp.fill(true);
  }

  /**
   * The world reports a port's link state. The cable's state (port 0) is also the carrier the
   * host sees on the PF and the guests see on VFs with link state "auto": it is passed on with
   * `env.setCarrier`, so a vswitch on this NIC fails over when the cable is pulled.
   */
  setPortUp(port: number, isUp: boolean, _nowNs: number): void {
    if (port < 0 || port >= this.portNames.length)
      throw new DeviceConfigError("bad-port", `NIC ${this.name}: no port ${port}`);
    const wasUp = this.isPortUp[port];
    this.isPortUp[port] = isUp;
    if (!isUp && port < FIRST_VF_PORT) this.veb?.flushPort(port);
    if (port === WIRE_PORT && wasUp !== isUp && this.env?.setCarrier !== undefined) {
      this.env.setCarrier(PF_PORT, isUp);
      for (const vf of this.vfs) if (vf.isLinkStateAuto && vf.mac !== 0) this.env.setCarrier(vf.port, isUp);
    }
  }

  receive(port: number, frame: Frame, nowNs: number): void {
    this.core.countRx(port, frame);
    if (frame.length < ETHERNET_HEADER_LEN) {
      this.drop(
        port,
        frame,
        nowNs,
        null,
        PnicDrop.runt,
        () => `dropped: runt frame of ${frame.length} bytes`,
      );
      return;
    }
    if (this.veb === null) {
      this.passThrough(port, frame, nowNs);
      return;
    }
    if (port >= FIRST_VF_PORT) this.fromVf(this.vfs[port - FIRST_VF_PORT], frame, nowNs);
    else this.fromWireOrPf(port, frame, nowNs);
  }

  private passThrough(port: number, frame: Frame, nowNs: number): void {
    const to = port === WIRE_PORT ? PF_PORT : WIRE_PORT;
    if (!this.isPortUp[to]) {
      this.drop(port, frame, nowNs, null, PnicDrop.portDown, () => `dropped: ${this.portNames[to]} is down`);
      return;
    }
    this.out[0] = to;
    this.emit(1, frame);
    if (this.env?.isTracing)
      this.record(
        nowNs,
        frame,
        "pnic",
        port,
        this.portNames[to],
        null,
        "forward",
        to === WIRE_PORT ? `sent on the wire ${this.portNames[to]}` : "passed to the host (PF)",
      );
  }

  private fromVf(vf: Vf, frame: Frame, nowNs: number): void {
    const port = vf.port;
    const b = frame.buf;
    if (vf.mac === 0) {
      this.drop(
        port,
        frame,
        nowNs,
        null,
        PnicDrop.vfUnassigned,
        () => `dropped: ${vf.name} has no MAC assigned`,
      );
      return;
    }
    const fs = frame.start;
    if (vf.isSpoofChecked && (macHiAt(b, fs + 6) !== vf.macHi || macLoAt(b, fs + 6) !== vf.macLo)) {
      const src = readMac(b, fs + 6);
      this.drop(
        port,
        frame,
        nowNs,
        vf.vid > 0 ? vf.vid : null,
        PnicDrop.spoofCheck,
        () => `dropped: spoof check (source ${formatMac(src)} is not ${vf.name}'s ${formatMac(vf.mac)})`,
      );
      return;
    }
    const type = (b[frame.start + 12] << 8) | b[frame.start + 13];
    if (vf.vid !== 0) {
      if (isVlanTpid(type)) {
        this.drop(
          port,
          frame,
          nowNs,
          vf.vid,
          PnicDrop.taggedFromVf,
          () => `dropped: tagged frame from ${vf.name}, which has port VLAN ${vf.vid}`,
        );
        return;
      }
      // Hairpin to another VF of the same port VLAN: the hardware never tags the frame, and
      // neither do we (no tag pushed here and popped again on the way out).
      if ((b[fs] & 1) === 0) {
        const peer = this.vfFor(vf.vid, frame);
        if (peer !== null && peer !== vf && peer.vid === vf.vid) {
          this.toVf(port, peer, frame, nowNs, vf.vid, false);
          return;
        }
      }
      frame.pushVlanTag(vf.vid);
    }
    const vid = this.domainOf(frame);
    const fb = frame.buf;
    const s = frame.start;
    if ((fb[s] & 1) !== 0) {
      this.flood(port, frame, nowNs, vid, readMac(fb, s));
      return;
    }
    const target = vid < 0 ? null : this.vfFor(vid, frame);
    if (target !== null) {
      if (target === vf) {
        const dst = readMac(fb, s);
        this.drop(
          port,
          frame,
          nowNs,
          vid > 0 ? vid : null,
          PnicDrop.sameSegment,
          () => `dropped: ${formatMac(dst)} is ${vf.name}'s own`,
        );
        return;
      }
      this.toVf(port, target, frame, nowNs, vid);
      return;
    }
    const learned = vid < 0 ? -1 : this.veb!.lookupAt(vid, fb, s, nowNs);
    const isForPf = learned === PF_PORT || (macHiAt(fb, s) === this.macHi && macLoAt(fb, s) === this.macLo);
    let n = 0;
    if (isForPf) {
      if (this.isPortUp[PF_PORT]) this.out[n++] = PF_PORT;
    } else if (learned === WIRE_PORT) {
      if (this.isPortUp[WIRE_PORT]) this.out[n++] = WIRE_PORT;
    } else {
      if (this.isPortUp[PF_PORT]) this.out[n++] = PF_PORT;
      if (this.isPortUp[WIRE_PORT]) this.out[n++] = WIRE_PORT;
    }
    if (n === 0) {
      this.drop(
        port,
        frame,
        nowNs,
        vid > 0 ? vid : null,
        PnicDrop.portDown,
        () =>
          `dropped: ${isForPf ? "the PF is" : learned === WIRE_PORT ? "the wire is" : "the wire and the PF are"} down`,
      );
      return;
    }
    this.emit(n, frame);
    if (this.env?.isTracing) {
      const outs = this.outNames(n);
      const dst = readMac(frame.buf, frame.start);
      const why = isForPf
        ? `${formatMac(dst)} is behind the PF: turned in the embedded switch`
        : learned === WIRE_PORT
          ? `${formatMac(dst)} learned on the wire`
          : `no VF has ${formatMac(dst)}: to the wire and the PF`;
      const tag = vf.vid !== 0 ? ` (port VLAN ${vf.vid} tag inserted)` : "";
      this.record(
        nowNs,
        frame,
        "vf",
        port,
        outs,
        vid > 0 ? vid : null,
        n === 1 ? "forward" : "flood",
        `${why}${tag}`,
      );
    }
  }

  private fromWireOrPf(port: number, frame: Frame, nowNs: number): void {
    const vid = this.domainOf(frame);
    const b = frame.buf;
    const s = frame.start;
    if (vid >= 0 && (b[s + 6] & 1) === 0) this.veb!.learnAt(vid, b, s + 6, port, nowNs);
    if ((b[s] & 1) !== 0) {
      this.flood(port, frame, nowNs, vid, readMac(b, s));
      return;
    }
    const target = vid < 0 ? null : this.vfFor(vid, frame);
    if (target !== null) {
      this.toVf(port, target, frame, nowNs, vid);
      return;
    }
    // Not a VF's: the wire's frames go up to the (promiscuous) PF, the PF's go out on the wire.
    const to = port === WIRE_PORT ? PF_PORT : WIRE_PORT;
    if (!this.isPortUp[to]) {
      this.drop(
        port,
        frame,
        nowNs,
        vid > 0 ? vid : null,
        PnicDrop.portDown,
        () => `dropped: ${this.portNames[to]} is down`,
      );
      return;
    }
    this.out[0] = to;
    this.emit(1, frame);
    if (this.env?.isTracing)
      this.record(
        nowNs,
        frame,
        "pnic",
        port,
        this.portNames[to],
        vid > 0 ? vid : null,
        "forward",
        to === WIRE_PORT
          ? `sent on the wire ${this.portNames[to]}`
          : `to the PF: no VF has ${formatMac(readMac(frame.buf, frame.start))}`,
      );
  }

  /** `isWireForm` false: the frame is already as the target VF takes it (a port-VLAN hairpin). */
  private toVf(
    inPort: number,
    target: Vf,
    frame: Frame,
    nowNs: number,
    vid: number,
    isWireForm = true,
  ): void {
    if (!this.isPortUp[target.port]) {
      this.drop(
        inPort,
        frame,
        nowNs,
        vid > 0 ? vid : null,
        PnicDrop.portDown,
        () => `dropped: ${target.name} is down`,
      );
      return;
    }
    this.out[0] = target.port;
    this.emit(1, frame, isWireForm);
    if (this.env?.isTracing) {
      const from = this.portNames[inPort];
      const via =
        inPort >= FIRST_VF_PORT
          ? `${from} to ${target.name} through the embedded switch (VEB)`
          : `${from} to ${target.name}`;
      const tag =
        target.vid === 0
          ? ""
          : isWireForm
            ? ` (port VLAN ${target.vid} tag stripped)`
            : ` (both in port VLAN ${target.vid})`;
      this.record(
        nowNs,
        frame,
        "vf",
        inPort,
        target.name,
        vid > 0 ? vid : null,
        "forward",
        `${via}: ${formatMac(readMac(frame.buf, frame.start))} is ${target.name}'s${tag}`,
      );
    }
  }

  private flood(inPort: number, frame: Frame, nowNs: number, vid: number, dst: Mac): void {
    let n = 0;
    if (vid >= 0) {
      for (let i = 0; i < this.vfs.length; i++) {
        const v = this.vfs[i];
        if (v.port !== inPort && v.mac !== 0 && this.isPortUp[v.port] && (v.vid === 0 || v.vid === vid))
          this.out[n++] = v.port;
      }
    }
    if (inPort !== PF_PORT && this.isPortUp[PF_PORT]) this.out[n++] = PF_PORT;
    if (inPort !== WIRE_PORT && this.isPortUp[WIRE_PORT]) this.out[n++] = WIRE_PORT;
    if (n === 0) {
      this.drop(
        inPort,
        frame,
        nowNs,
        vid > 0 ? vid : null,
        PnicDrop.noReceiver,
        () => "dropped: no port takes it",
      );
      return;
    }
    if (this.env?.isTracing) {
      const outs = this.outNames(n);
      const what = dst === 0xffffffffffff ? "broadcast" : "multicast";
      const where = vid > 0 ? `vlan ${vid}` : vid === 0 ? "untagged" : "an S-tagged frame";
      this.record(
        nowNs,
        frame,
        inPort >= FIRST_VF_PORT ? "vf" : "pnic",
        inPort,
        outs,
        vid > 0 ? vid : null,
        "flood",
        `flooded (${where}) to ${outs}: ${what}`,
      );
    }
    this.emit(n, frame);
  }

  /**
   * The VF that owns the frame's destination in VLAN `vid` (0: untagged), or null. A VF without
   * port VLAN (VGT) sits at VLAN 0 in the table and owns its MAC in every VLAN.
   */
  private vfFor(vid: number, frame: Frame): Vf | null {
    const veb = this.veb!;
    // Static entries never age, so the time given does not matter; dynamic ones are not VFs.
    let p = veb.lookupAt(vid, frame.buf, frame.start, 0);
    if (p < FIRST_VF_PORT && vid !== 0) p = veb.lookupAt(0, frame.buf, frame.start, 0);
    if (p < FIRST_VF_PORT) return null;
    const vf = this.vfs[p - FIRST_VF_PORT];
    return vf.vid === 0 || vf.vid === vid ? vf : null;
  }

  /** The VLAN a frame in wire form is in: its C-tag's VID, 0 untagged, -1 for an S-tag (no VF takes it). */
  private domainOf(frame: Frame): number {
    const b = frame.buf;
    const type = (b[frame.start + 12] << 8) | b[frame.start + 13];
    if (type === EtherType.VLAN && frame.length >= ETHERNET_HEADER_LEN + VLAN_TAG_LEN)
      return Vlan.vid(b, frame.start + 12);
    if (isVlanTpid(type)) return -1;
    return 0;
  }

  /**
   * Sends to out[0..n): clones for all but the last; a VF with a port VLAN gets the frame
   * untagged (popped from wire form unless `isWireForm` is false: already untagged).
   */
  private emit(n: number, frame: Frame, isWireForm = true): void {
    for (let i = 0; i < n; i++) {
      const q = this.out[i];
      const f = i === n - 1 ? frame : frame.clone();
      if (isWireForm && q >= FIRST_VF_PORT && this.vfs[q - FIRST_VF_PORT].vid !== 0) f.popVlanTag();
      this.core.transmit(q, f);
    }
  }

  private outNames(n: number): string {
    return this.core.outNames(n);
  }

  private drop(
    port: number,
    frame: Frame,
    nowNs: number,
    vid: number | null,
    code: string,
    reason: () => string,
  ): void {
    this.core.drop(port, frame, nowNs, vid, code, reason);
  }

  private record(
    nowNs: number,
    frame: Frame,
    kind: HopKind,
    inPort: number,
    out: string | null,
    vid: number | null,
    action: HopAction,
    reason: string,
    code?: string,
  ): void {
    this.core.recordAt(nowNs, frame, this.portNames[inPort], out, vid, action, reason, code, kind);
  }
}
