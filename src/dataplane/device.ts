/**
 * The contract between a forwarding device and the world that runs it (the simulator, the real
 * namespaces, the analyser). A device never does I/O and never reads a clock: frames arrive
 * through `receive` with the current time, leave through `env.transmit`, and timers are asked of
 * `env`. Ports are plain indexes into `portNames`; the world decides what sits behind a port (a
 * simulated link, a TAP device, a team of uplinks, a VXLAN or VPN tunnel).
 */

import type { DropCounters, PortCounters } from "./counters.ts";
import type { Frame } from "./frame.ts";
import type { TimelineEvent } from "./timeline.ts";
import type { HopRecord } from "./trace.ts";

export type DeviceKind = "vm" | "vswitch" | "pnic" | "switch";

export interface DeviceEnv {
  /** Sends `frame` out of port `port` of this device. Ownership of the frame passes to the world. */
  transmit(port: number, frame: Frame): void;
  /**
   * Optional, per port: the length a short frame is padded to on that port's medium (60 on a
   * cable, IEEE 802.3 4.2.3.3; 0 where nothing pads, as between a VM and its vswitch). A device
   * pads before it counts, so its byte counters agree with the far end's and with captures.
   */
  readonly padTo?: readonly number[];
  /** Runs `fn` after `delayNs` of world time; returns a handle for `cancelTimer`. */
  setTimer(delayNs: number, fn: (nowNs: number) => void): number;
  cancelTimer(handle: number): void;
  /** World time in ns (simulated or real). Devices use the `nowNs` they are given where they can. */
  now(): number;
  /** Seeded randomness in [0, 1): the same seed gives the same run. */
  random(): number;
  /** True when someone collects trace records; check before building a record's strings. */
  readonly isTracing: boolean;
  trace(record: HopRecord): void;
  /**
   * Optional: a record about a frame made inside the device that may never reach a link (a
   * packet decrypted from a tunnel), with the frame, so the tracer can say what it is from its
   * bytes. Worlds that do not label frames may omit it (`trace` is used then).
   */
  traceFrame?(record: HopRecord, frame: Frame): void;
  /**
   * Optional: port `port` of this device lost or regained carrier because of something inside
   * the device (a NIC's PF and VFs follow the state of its cable, so the host's vswitch fails
   * over and a VM on a VF sees its link go down). The world passes it on as `setPortUp` to the
   * device at the other end of that port's connection. Worlds without port state may omit it.
   */
  setCarrier?(port: number, isUp: boolean): void;
  /**
   * Optional: a change of the device's control state worth a line in a run's timeline (a team
   * failing over, a LACP partner lost, an STP port blocking). The world passes it to whoever
   * listens and drops it when nobody does; events are rare, so a device may build them freely.
   */
  event?(e: TimelineEvent): void;
}

export interface Device {
  readonly name: string;
  readonly kind: DeviceKind;
  /** Port names, indexed by port number ("eth0", "vm1", "vf3", "uplink:eth0"). */
  readonly portNames: readonly string[];
  /** Per-port counters, same indexes as `portNames`. */
  readonly portCounters: readonly PortCounters[];
  readonly drops: DropCounters;
  /**
   * Per-frame processing delay of this kind of device (documented per device): the world delays
   * each received frame by it before calling `receive`, which is how a software vswitch comes to
   * cost more than an SR-IOV NIC's embedded switch.
   */
  readonly processingDelayNs: number;
  bind(env: DeviceEnv): void;
  /** Called once when the world starts (gratuitous ARP, timers). */
  start(nowNs: number): void;
  /**
   * Optional: starts only what keeps the network whole (LACP, MLAG, spanning tree), for a world that starts
   * quietly without `start` (no announcements); `start` does it too, once.
   */
  startProtocols?(nowNs: number): void;
  receive(port: number, frame: Frame, nowNs: number): void;
  /**
   * Optional: the world tells the device that the link at `port` went down or came up (a cable
   * pulled, a NIC failed). Layer-2 devices forget what they learned behind a down port and
   * teams fail over. Devices without port state may omit it.
   */
  setPortUp?(port: number, isUp: boolean, nowNs: number): void;
  /**
   * Optional: the device loses power (a `fail` fault). It forgets what a reboot forgets (learned
   * MAC tables, neighbour caches, LACP, MLAG and spanning-tree state, queued packets), keeping
   * its configuration and its counters, and is left as constructed. The world has already
   * stopped its timers and silenced it (`World.setPowered`); when power returns the world tells
   * it each port's carrier and calls `start`, as at a boot.
   */
  powerOff?(nowNs: number): void;
}
