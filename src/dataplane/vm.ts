/**
 * A virtual machine as the network sees it: one port per vNIC ("eth0", "eth1", ...; each is
 * where a vswitch VM port or an SR-IOV virtual function connects) and a small guest IPv4 stack
 * (`ip-host.ts`) behind them. The world and the CLI drive it through an application API: ping,
 * send UDP, bind a UDP port, send a raw frame (forged MACs, tagged frames), change a vNIC's
 * effective MAC. Pure logic like every device: frames in with the time, out through
 * `env.transmit`, timers and randomness from the env.
 *
 * The vNIC filters like a NIC not in promiscuous mode: frames to its MAC or to broadcast are
 * taken, others dropped ("not-our-mac"); multicast is dropped because the guest joins no group.
 * Frames leave unpadded (a virtio or VF driver hands the NIC 42-byte ARP frames; padding to the
 * Ethernet minimum is the physical NIC's job). Trace records: kind `vm` for what the stack did
 * (send, deliver, reply, drop) and kind `vnic` for each frame leaving or entering the guest.
 * `traceroute` (traceroute.ts) runs on the same stack.
 */

import { formatMac, type Ipv4, isBroadcastMac, isMulticastMac, type Mac } from "../wire/addr.ts";
import { ETHERNET_HEADER_LEN, Ethernet } from "../wire/ethernet.ts";
import { checkUnicastMac, DeviceConfigError } from "./config-error.ts";
import { DropCounters, newPortCounters, type PortCounters } from "./counters.ts";
import { PROCESSING_DELAY_NS } from "./delays.ts";
import type { Device, DeviceEnv } from "./device.ts";
import { Frame } from "./frame.ts";
import {
  type ArpConfig,
  type IcmpErrorReport,
  IpHost,
  type IpInterface,
  type IpStats,
  type NeighborInfo,
  type PingOptions,
  type PingResult,
  type SendError,
  type UdpDatagram,
} from "./ip-host.ts";
import { type TracerouteOptions, type TracerouteResult, traceroute } from "./traceroute.ts";

export interface VmNicConfig {
  mac: Mac;
  ip: Ipv4;
  prefixLen: number;
  gateway?: Ipv4 | null;
  /** Default 1500. */
  mtu?: number;
  /** How the vNIC is attached: a vswitch port (virtio, default) or an SR-IOV VF. */
  attachment?: "virtio" | "vf";
}

export interface VmConfig {
  name: string;
  /** In guest order: the first is eth0. */
  nics: VmNicConfig[];
  /**
   * Receive cost per frame (see delays.ts). Default: the virtio figure, or the VF figure when
   * every vNIC is a VF.
   */
  processingDelayNs?: number;
  arp?: Partial<ArpConfig>;
}

/** A ping result with the address it was sent to, for listeners of every ping. */
export type PingEvent = PingResult & { dst: Ipv4 };

export class Vm implements Device {
  readonly kind = "vm" as const;
  readonly name: string;
  readonly portNames: readonly string[];
  readonly portCounters: readonly PortCounters[];
  readonly drops = new DropCounters();
  readonly processingDelayNs: number;
  readonly stack: IpHost;
  private readonly nics: IpInterface[];
  private readonly pingListeners: ((e: PingEvent) => void)[] = [];
  /** Carrier per vNIC, as the world reports it (`setPortUp`). */
  private readonly isPortUp: boolean[];
  private envOrNull: DeviceEnv | null = null;

  constructor(config: VmConfig) {
    if (config.nics.length === 0) throw new DeviceConfigError("bad-value", `VM ${config.name}: no vNIC`);
    this.name = config.name;
    this.portNames = config.nics.map((_, i) => `eth${i}`);
    this.portCounters = config.nics.map(() => newPortCounters());
    this.isPortUp = config.nics.map(() => true);
    const isAllVf = config.nics.every((n) => n.attachment === "vf");
    this.processingDelayNs =
      config.processingDelayNs ?? (isAllVf ? PROCESSING_DELAY_NS.vnicVf : PROCESSING_DELAY_NS.vnicVirtio);
    this.stack = new IpHost({ name: config.name, hopKind: "vm", arp: config.arp, drops: this.drops });
    this.nics = config.nics.map((nic, port) => {
      checkUnicastMac(nic.mac, `VM ${config.name} eth${port}`);
      return this.stack.addInterface(
        {
          name: `eth${port}`,
          mac: nic.mac,
          ip: nic.ip,
          prefixLen: nic.prefixLen,
          gateway: nic.gateway,
          mtu: nic.mtu,
        },
        (frame, nowNs) => this.transmit(port, frame, nowNs),
      );
    });
  }

  private get env(): DeviceEnv {
    if (this.envOrNull === null) throw new Error(`VM ${this.name} used before bind()`);
    return this.envOrNull;
  }

  bind(env: DeviceEnv): void {
    this.envOrNull = env;
    this.stack.bind(env);
  }

  /** The guest comes up: a gratuitous ARP from every vNIC. */
  start(nowNs: number): void {
    this.stack.start(nowNs);
  }

  receive(port: number, frame: Frame, nowNs: number): void {
    const nic = this.nics[port];
    if (nic === undefined) {
      this.drops.add("bad-port");
      return;
    }
    const counters = this.portCounters[port];
    counters.rxFrames++;
    counters.rxBytes += frame.length;
    if (!this.isPortUp[port]) {
      this.dropAtVnic(port, frame, "link-down", `dropped: ${nic.name} has no carrier`, nowNs);
      return;
    }
    if (frame.length < ETHERNET_HEADER_LEN) {
      this.dropAtVnic(port, frame, "runt", "dropped: shorter than an Ethernet header", nowNs);
      return;
    }
    const dst = Ethernet.dst(frame.buf, frame.start);
    if (dst !== nic.mac && !isBroadcastMac(dst)) {
      if (isMulticastMac(dst)) {
        this.dropAtVnic(
          port,
          frame,
          "multicast-not-joined",
          `dropped: multicast ${formatMac(dst)}, no group joined`,
          nowNs,
        );
      } else {
        this.dropAtVnic(
          port,
          frame,
          "not-our-mac",
          `dropped: ${formatMac(dst)} is not ${formatMac(nic.mac)}`,
          nowNs,
        );
      }
      return;
    }
    if (this.env.isTracing) {
      this.env.trace({
        timeNs: nowNs,
        frameId: frame.id,
        device: this.name,
        kind: "vnic",
        in: nic.name,
        out: null,
        vlan: null,
        action: "receive",
        reason: `enters the guest via ${nic.name} (${formatMac(nic.mac)})`,
      });
    }
    this.stack.receive(nic, frame, nowNs);
  }

  /**
   * The world reports the vNIC's link state. Down: like Linux on carrier loss, the vNIC's
   * neighbour entries are flushed (queued packets dropped) and everything the guest sends on it
   * is dropped ("link-down"), so a ping ends in "Destination Host Unreachable" once ARP gives up.
   */
  setPortUp(port: number, isUp: boolean, nowNs: number): void {
    const nic = this.nics[port];
    if (nic === undefined || this.isPortUp[port] === isUp) return;
    this.isPortUp[port] = isUp;
    if (!isUp) nic.flushNeighbors(nowNs);
  }

  /**
   * Power lost (a `fail` fault): the guest's memory goes (ARP cache, outstanding pings, whose
   * results never come, fragments); on power the world reports the vNICs' carrier and `start`
   * boots it (a gratuitous ARP from every vNIC).
   */
  powerOff(nowNs: number): void {
    this.stack.powerOff(nowNs);
    this.isPortUp.fill(true);
  }

  // ---- the application API ------------------------------------------------------------------

  /**
   * Sends one ICMP echo request to `dst` from the vNIC that routes to it; exactly one result
   * (reply with RTT, ICMP error, or timeout) goes to `onResult` and to every `onPing` listener.
   * Returns null when it was sent, else why not ("no-route": Network is unreachable;
   * "bad-size"/"bad-port": out of range). Larger than the path MTU: sent in fragments.
   */
  ping(dst: Ipv4, options: PingOptions, nowNs: number, onResult?: (r: PingResult) => void): SendError | null {
    return this.stack.ping(dst, options, nowNs, (r) => {
      onResult?.(r);
      if (this.pingListeners.length > 0) {
        const e: PingEvent = { ...r, dst };
        for (const l of this.pingListeners) l(e);
      }
    });
  }

  /** Runs traceroute(8) to `dst` (UDP probes, see traceroute.ts); `onDone` gets the hops. */
  traceroute(
    dst: Ipv4,
    options: TracerouteOptions,
    nowNs: number,
    onDone: (result: TracerouteResult) => void,
  ): string | null {
    return traceroute(this.stack, dst, options, nowNs, onDone);
  }

  /** Listens to the results of every ping this VM sends. */
  onPing(listener: (e: PingEvent) => void): void {
    this.pingListeners.push(listener);
  }

  /** Sends one UDP datagram (see `IpHost.sendUdp`). */
  sendUdp(
    dst: Ipv4,
    srcPort: number,
    dstPort: number,
    payload: number | Uint8Array,
    nowNs: number,
    ttl?: number,
  ): SendError | null {
    return this.stack.sendUdp(dst, srcPort, dstPort, payload, nowNs, ttl);
  }

  /** Binds a UDP port: `handler` gets each datagram addressed to it (any vNIC). */
  onUdp(port: number, handler: (d: UdpDatagram) => void): void {
    this.stack.bindUdp(port, handler);
  }

  /** Every ICMP error the guest receives (port unreachable for UDP, errors about pings, ...). */
  onIcmpError(listener: (e: IcmpErrorReport) => void): void {
    this.stack.onIcmpError(listener);
  }

  /**
   * Sends a frame out of vNIC `nic` exactly as given, bypassing the stack (a guest with a raw
   * socket: forged source MACs, 802.1Q-tagged frames, malformed packets for tests).
   */
  sendRaw(nic: number, frame: Frame | Uint8Array, nowNs: number): void {
    this.checkNic(nic);
    const f = frame instanceof Frame ? frame : Frame.fromBytes(frame);
    if (this.env.isTracing) {
      this.env.trace({
        timeNs: nowNs,
        frameId: f.id,
        device: this.name,
        kind: "vm",
        in: null,
        out: this.nics[nic].name,
        vlan: null,
        action: "send",
        reason: `raw frame, ${f.length} bytes`,
      });
    }
    this.transmit(nic, f, nowNs);
  }

  /**
   * The guest changes vNIC `nic`'s effective MAC (`ip link set eth0 address ...`): it becomes the
   * source of what the stack sends and the address the vNIC accepts. Like Linux (arp_notify=0),
   * nothing is announced; call `announce` for a gratuitous ARP. The world tells the vswitch.
   */
  setMac(nic: number, mac: Mac): void {
    this.checkNic(nic);
    checkUnicastMac(mac, `VM ${this.name} ${this.nics[nic].name}`);
    this.nics[nic].mac = mac;
  }

  /** Sends a gratuitous ARP for vNIC `nic`'s address. */
  announce(nic: number, nowNs: number): void {
    this.checkNic(nic);
    this.nics[nic].announce(nowNs);
  }

  macOf(nic: number): Mac {
    this.checkNic(nic);
    return this.nics[nic].mac;
  }

  /** The vNICs as the stack sees them (address, prefix, gateway, MTU, current MAC). */
  get interfaces(): readonly IpInterface[] {
    return this.nics;
  }

  /** The guest's ARP cache (`ip neigh`). */
  neighborTable(nowNs: number): NeighborInfo[] {
    return this.stack.neighborTable(nowNs);
  }

  get stats(): IpStats {
    return this.stack.stats;
  }

  private checkNic(nic: number): void {
    if (!Number.isInteger(nic) || nic < 0 || nic >= this.nics.length) {
      throw new DeviceConfigError(
        "bad-port",
        `VM ${this.name} has no vNIC ${nic} (it has eth0..eth${this.nics.length - 1})`,
      );
    }
  }

  private transmit(port: number, frame: Frame, nowNs: number): void {
    if (!this.isPortUp[port]) {
      this.drops.add("link-down");
      this.portCounters[port].drops++;
      if (this.env.isTracing) {
        this.env.trace({
          timeNs: nowNs,
          frameId: frame.id,
          device: this.name,
          kind: "vnic",
          in: null,
          out: this.nics[port].name,
          vlan: null,
          action: "drop",
          reason: `dropped: ${this.nics[port].name} has no carrier`,
        });
      }
      return;
    }
    const min = this.env.padTo?.[port] ?? 0;
    if (frame.length < min) frame.padTo(min);
    const counters = this.portCounters[port];
    counters.txFrames++;
    counters.txBytes += frame.length;
    if (this.env.isTracing) {
      const nic = this.nics[port];
      this.env.trace({
        timeNs: nowNs,
        frameId: frame.id,
        device: this.name,
        kind: "vnic",
        in: null,
        out: nic.name,
        vlan: null,
        action: "send",
        reason: `leaves the guest via ${nic.name} (${formatMac(nic.mac)})`,
      });
    }
    this.env.transmit(port, frame);
  }

  private dropAtVnic(port: number, frame: Frame, code: string, reason: string, nowNs: number): void {
    this.drops.add(code);
    this.portCounters[port].drops++;
    if (this.env.isTracing) {
      this.env.trace({
        timeNs: nowNs,
        frameId: frame.id,
        device: this.name,
        kind: "vnic",
        in: this.nics[port].name,
        out: null,
        vlan: null,
        action: "drop",
        reason,
        code,
      });
    }
  }
}
