/**
 * The simulated world: devices, the links between their ports, one scheduler and one seed. It
 * implements `DeviceEnv` for every device (transmit goes to the link at that port, timers go to
 * the scheduler, randomness is a per-device stream forked from the seed, trace records go to the
 * world's sink), and it is the `LinkObserver` of every link (tracing and captures).
 *
 * Determinism: devices are added and connected in a fixed order (the builder follows the order
 * of the topology file), each device's random stream is forked from the world's seed in that
 * order, frame ids restart at 1, and nothing reads a wall clock. Same topology and seed give the
 * same run.
 */

import { DropCounters } from "../dataplane/counters.ts";
import type { Device, DeviceEnv } from "../dataplane/device.ts";
import { Frame, FrameIds } from "../dataplane/frame.ts";
import type { PortBinding } from "../dataplane/port-binding.ts";
import type { TimelineEvent } from "../dataplane/timeline.ts";
import type { HopKind, HopRecord, TraceSink } from "../dataplane/trace.ts";
import type { CaptureSet } from "./capture.ts";
import { Link, type LinkEnd, type LinkObserver, LinkPort, type LinkProps, MIN_FRAME_BYTES } from "./link.ts";
import { Rng } from "./rng.ts";
import { type EventTarget, Scheduler } from "./scheduler.ts";

/** Reason code when a device transmits on a port with nothing attached. */
export const UNCONNECTED_PORT = "port-not-connected";
/** Reason code when something makes a powered-off device send (its own code never runs then). */
export const POWERED_OFF = "powered-off";

class WorldDeviceEnv implements DeviceEnv, EventTarget {
  /** What carries each port's frames (a link end here, a TAP in the real world), or null. */
  readonly portBindings: (PortBinding | null)[];
  /** The simulated link at each port (null for a port bound otherwise or not at all). */
  readonly portLinks: (Link | null)[];
  readonly portSides: number[];
  /** Per port, what its medium pads short frames to: 60 on a cable, 0 elsewhere. */
  readonly padTo: number[];
  /** False while the device is failed (`World.setPowered`): no timer, frame or event of it. */
  isPowered = true;
  /**
   * Bumped at every power change: a timer runs only if armed in the current power cycle, so
   * nothing armed before a failure fires during it or after the recovery (a reboot starts fresh).
   */
  powerCycle = 0;
  private readonly rng: Rng;

  constructor(
    private readonly world: World,
    private readonly device: Device,
    seed: number,
  ) {
    this.portBindings = device.portNames.map(() => null);
    this.portLinks = device.portNames.map(() => null);
    this.portSides = device.portNames.map(() => 0);
    this.padTo = device.portNames.map(() => 0);
    this.rng = new Rng(seed);
  }

  transmit(port: number, frame: Frame): void {
    if (!this.isPowered) {
      this.device.drops.add(POWERED_OFF);
      if (this.world.isTracing) this.traceDrop(port, frame, "the device is powered off", POWERED_OFF);
      return;
    }
    const binding = this.portBindings[port];
    if (binding === undefined || binding === null) {
      this.world.unconnectedDrops.add(`${this.device.name}:${this.device.portNames[port] ?? port}`);
      this.device.drops.add(UNCONNECTED_PORT);
      if (this.world.isTracing)
        this.traceDrop(port, frame, "nothing is connected to this port", UNCONNECTED_PORT);
      return;
    }
    binding.send(frame, this.world.scheduler.now());
  }

  private traceDrop(port: number, frame: Frame, reason: string, code: string): void {
    this.world.trace({
      timeNs: this.world.scheduler.now(),
      frameId: frame.id,
      device: this.device.name,
      kind: "link",
      in: this.device.portNames[port] ?? String(port),
      out: null,
      vlan: null,
      action: "drop",
      reason,
      code,
    });
  }

  /** The timer is tagged with its power cycle (no closure is added: the env is the target). */
  setTimer(delayNs: number, fn: (nowNs: number) => void): number {
    const scheduler = this.world.scheduler;
    return scheduler.schedule(scheduler.now() + delayNs, this, fn, this.isPowered ? this.powerCycle : -1);
  }

  onEvent(fn: unknown, cycle: number, nowNs: number): void {
    if (cycle === this.powerCycle) (fn as (nowNs: number) => void)(nowNs);
  }

  cancelTimer(handle: number): void {
    this.world.scheduler.cancel(handle);
  }

  now(): number {
    return this.world.scheduler.now();
  }

  random(): number {
    return this.rng.random();
  }

  /** A device's port lost or regained carrier: the device across that connection hears of it. */
  setCarrier(port: number, isUp: boolean): void {
    if (!this.isPowered) return;
    const link = this.portLinks[port];
    if (link === undefined || link === null) return;
    const other = link.ends[1 - this.portSides[port]];
    this.world.tellPortUp(
      other.device,
      other.port,
      isUp,
      `${other.device.name}:${other.device.portNames[other.port] ?? other.port}`,
    );
  }

  event(e: TimelineEvent): void {
    if (this.isPowered) this.world.event(e);
  }

  get isTracing(): boolean {
    return this.world.isTracing;
  }

  trace(record: HopRecord): void {
    this.world.trace(record);
  }

  traceFrame(record: HopRecord, frame: Frame): void {
    this.world.traceLink(record, frame);
  }
}

/**
 * Watches a port's state change: called before the device hears of it, it may return a function
 * that is called after (to compare what changed, e.g. a team's pinning or a MAC table's size).
 */
export type PortWatch = (device: Device, port: number, isUp: boolean, nowNs: number) => (() => void) | null;

export interface WorldOptions {
  seed?: number;
}

export class World implements LinkObserver {
  readonly scheduler = new Scheduler(4096);
  /** This world's frame ids, from 1 (see `enter`). */
  readonly frameIds = new FrameIds();
  readonly seed: number;
  readonly devices: Device[] = [];
  readonly links: Link[] = [];
  /** Frames sent on unconnected ports, by "device:port" (each also counted on the device). */
  readonly unconnectedDrops = new DropCounters();
  private readonly byName = new Map<string, Device>();
  private readonly envs = new Map<Device, WorldDeviceEnv>();
  private readonly rng: Rng;
  private sink: TraceSink | null = null;
  private frameHook: ((frame: Frame) => void) | null = null;
  private captures: CaptureSet | null = null;
  private timelineSink: ((e: TimelineEvent) => void) | null = null;
  private portWatch: PortWatch | null = null;
  private hasStarted = false;
  private readonly starters: { at: number; fn: (nowNs: number) => void }[] = [];

  constructor(options: WorldOptions = {}) {
    this.seed = options.seed ?? 1;
    this.rng = new Rng(this.seed);
    this.enter();
  }

  get isTracing(): boolean {
    return this.sink !== null;
  }

  /**
   * Makes this world's frame numbering current (`FrameIds`): its run methods do it, and so does
   * anything that runs its devices' code outside them (the facade's ping, a TAP's frames).
   */
  enter(): void {
    Frame.useIds(this.frameIds);
  }

  get isCapturing(): boolean {
    return this.captures !== null;
  }

  trace(record: HopRecord): void {
    this.sink?.(record);
  }

  traceLink(record: HopRecord, frame: Frame): void {
    this.frameHook?.(frame);
    this.sink?.(record);
  }

  /**
   * Starts (or with null stops) collecting trace records. `frameHook` sees every frame a link
   * carries or drops while tracing (the tracer labels frames from their bytes).
   */
  setTraceSink(sink: TraceSink | null, frameHook: ((frame: Frame) => void) | null = null): void {
    this.sink = sink;
    this.frameHook = sink === null ? null : frameHook;
  }

  /**
   * Starts (or with null stops) collecting the timeline: devices' events, carrier changes at
   * every port, and what `watch` (if given) reports around each port-state change. Without a
   * sink, events cost a null check and no watch runs.
   */
  setTimelineSink(sink: ((e: TimelineEvent) => void) | null, watch: PortWatch | null = null): void {
    this.timelineSink = sink;
    this.portWatch = sink === null ? null : watch;
  }

  get isRecordingTimeline(): boolean {
    return this.timelineSink !== null;
  }

  /** A timeline event (from a device's env, the world itself or the facade). */
  event(e: TimelineEvent): void {
    this.timelineSink?.(e);
  }

  /**
   * Tells a device that a port went up or down (`setPortUp`), with a carrier event on the
   * timeline and the port watch around it when someone listens. `endName` names the port for
   * people ("tor1:eth1", "server1/vs0:uplink:eth0").
   */
  tellPortUp(device: Device, port: number, isUp: boolean, endName: string): void {
    // A powered-off device hears of its ports when power returns (`setPowered`).
    if (this.envs.get(device)?.isPowered === false) return;
    const now = this.scheduler.now();
    if (this.timelineSink === null) {
      device.setPortUp?.(port, isUp, now);
      return;
    }
    const after = this.portWatch?.(device, port, isUp, now) ?? null;
    this.timelineSink({
      timeNs: now,
      device: device.name,
      kind: "carrier",
      text: `${endName} ${isUp ? "carrier up" : "carrier down"}`,
      fields: { port: device.portNames[port] ?? String(port), end: endName, isUp },
    });
    device.setPortUp?.(port, isUp, now);
    after?.();
  }

  /** Starts (or with null stops) recording frames at every capturable link end. */
  setCaptures(captures: CaptureSet | null): void {
    this.captures = captures;
  }

  capture(link: Link, side: number, timeNs: number, frame: Frame, isTx: boolean): void {
    const end = link.ends[side];
    if (this.captures !== null && end.captureName !== null) {
      this.captures.record(end.captureName, timeNs, frame.buf, frame.start, frame.end, isTx);
    }
  }

  /** Records a frame at a capture point that is no link end (a TAP port in the real world). */
  captureAt(captureName: string, timeNs: number, frame: Frame, isTx: boolean): void {
    this.captures?.record(captureName, timeNs, frame.buf, frame.start, frame.end, isTx);
  }

  now(): number {
    return this.scheduler.now();
  }

  device(name: string): Device | undefined {
    return this.byName.get(name);
  }

  /** Adds a device and binds it to its environment. Names are unique in a world. */
  add<D extends Device>(device: D): D {
    if (this.byName.has(device.name)) throw new Error(`duplicate device name "${device.name}"`);
    const env = new WorldDeviceEnv(this, device, this.rng.nextUint32());
    this.devices.push(device);
    this.byName.set(device.name, device);
    this.envs.set(device, env);
    device.bind(env);
    return device;
  }

  /**
   * Connects two device ports with a cable (`props`) or a zero-length internal connection
   * (`props` null). A port takes one link.
   */
  connect(a: LinkEnd, b: LinkEnd, props: LinkProps | null, hopKind: HopKind = "link"): Link {
    const link = new Link(this.scheduler, this.rng.fork(), this, a, b, props, hopKind);
    this.attach(a, link, 0);
    this.attach(b, link, 1);
    this.links.push(link);
    return link;
  }

  private attach(end: LinkEnd, link: Link, side: number): void {
    const env = this.envs.get(end.device);
    if (env === undefined) throw new Error(`device "${end.device.name}" is not in this world`);
    if (end.port < 0 || end.port >= end.device.portNames.length) {
      throw new Error(`device "${end.device.name}" has no port ${end.port}`);
    }
    if (env.portBindings[end.port] !== null) {
      throw new Error(`port ${end.device.name}:${end.device.portNames[end.port]} is already connected`);
    }
    env.portBindings[end.port] = new LinkPort(link, side);
    env.portLinks[end.port] = link;
    env.portSides[end.port] = side;
    env.padTo[end.port] = link.padsShortFrames ? MIN_FRAME_BYTES : 0;
  }

  /**
   * Binds a device port to something other than a simulated link (a TAP device in the real
   * world): what the device sends there goes to `binding.send`; the binding delivers what it
   * receives through this world's scheduler. A port takes one binding.
   */
  bindPort(device: Device, port: number, binding: PortBinding): void {
    const env = this.envs.get(device);
    if (env === undefined) throw new Error(`device "${device.name}" is not in this world`);
    if (port < 0 || port >= device.portNames.length)
      throw new Error(`device "${device.name}" has no port ${port}`);
    if (env.portBindings[port] !== null) {
      throw new Error(`port ${device.name}:${device.portNames[port]} is already connected`);
    }
    env.portBindings[port] = binding;
  }

  /** The binding at a device's port (a link end, a TAP), or null. */
  bindingAt(device: Device, port: number): PortBinding | null {
    return this.envs.get(device)?.portBindings[port] ?? null;
  }

  /**
   * The environment of a device already added, for a component that shares its device's
   * world (the router behind a switch's SVIs binds to the switch's environment).
   */
  envOf(device: Device): DeviceEnv {
    const env = this.envs.get(device);
    if (env === undefined) throw new Error(`device "${device.name}" is not in this world`);
    return env;
  }

  /** Runs `fn(nowNs)` when the world starts, after the devices added before it was registered. */
  onStart(fn: (nowNs: number) => void): void {
    this.starters.push({ at: this.devices.length, fn });
  }

  /** The link at a device's port, or null. */
  linkAt(device: Device, port: number): Link | null {
    return this.envs.get(device)?.portLinks[port] ?? null;
  }

  /**
   * Brings a link up or down (a cable pulled, a NIC failed) and tells the devices at both ends,
   * so they forget what they learned behind that port and teams fail over.
   */
  setLinkUp(link: Link, isUp: boolean): void {
    const wasUp = link.isUp;
    link.setUp(isUp);
    const now = this.scheduler.now();
    for (const end of link.ends) {
      // The timeline says what changed: telling a device again that a port is up is no event.
      if (this.timelineSink !== null && wasUp !== isUp) this.tellPortUp(end.device, end.port, isUp, end.name);
      else if (this.isPowered(end.device)) end.device.setPortUp?.(end.port, isUp, now);
    }
  }

  /** Whether a device has power (false between a `fail` and its `recover`). */
  isPowered(device: Device): boolean {
    return this.envs.get(device)?.isPowered ?? false;
  }

  /**
   * Powers a device off or back on (a `fail` or `recover` fault). Off: none of its timers runs
   * again, whatever it would send or report is dropped, it is told of no port change, and it
   * forgets what a reboot forgets (`Device.powerOff`). On: it boots fresh: told each port's
   * carrier as its connection has it now, then `start` (announcements, protocols from scratch).
   * Its cables are the caller's business (a failed switch's cables are also pulled, so nothing
   * reaches it and its neighbours see carrier go).
   */
  setPowered(device: Device, isOn: boolean): void {
    const env = this.envs.get(device);
    if (env === undefined) throw new Error(`device "${device.name}" is not in this world`);
    if (env.isPowered === isOn) return;
    const now = this.scheduler.now();
    env.powerCycle++;
    if (!isOn) {
      // Silenced first, so what the device drops while forgetting makes no event or frame.
      env.isPowered = false;
      device.powerOff?.(now);
      return;
    }
    env.isPowered = true;
    this.enter();
    if (!this.hasStarted) return;
    env.portBindings.forEach((b, port) => {
      const link = env.portLinks[port];
      device.setPortUp?.(port, b !== null && (link === null || link.isUp), now);
    });
    device.start(now);
  }

  /**
   * Starts the world without calling the devices' `start` (no boot-time announcements such as
   * gratuitous ARP from every VM at once): for benchmarks that measure steady-state forwarding
   * of a large data center, where 16,000 simultaneous announcements would be a broadcast storm
   * measured instead. Ports with nothing attached are still marked down, and devices' protocols
   * that keep the network whole (`startProtocols`: LACP, MLAG, spanning tree) still start.
   */
  startQuietly(): void {
    if (this.hasStarted) return;
    this.enter();
    this.hasStarted = true;
    const now = this.scheduler.now();
    // Spanning tree is no announcement: without it an RSTP switch's ports would stay discarding.
    for (const d of this.devices) d.startProtocols?.(now);
    this.markUnconnectedPortsDown(now);
  }

  /** Calls every device's `start` once, in the order they were added. */
  start(): void {
    if (this.hasStarted) return;
    this.enter();
    this.hasStarted = true;
    const now = this.scheduler.now();
    let k = 0;
    this.devices.forEach((d, i) => {
      while (k < this.starters.length && this.starters[k].at <= i) this.starters[k++].fn(now);
      d.start(now);
    });
    while (k < this.starters.length) this.starters[k++].fn(now);
    this.markUnconnectedPortsDown(now);
  }

  /** A port with nothing attached is down: devices do not flood to it or pick it in a team. */
  private markUnconnectedPortsDown(now: number): void {
    for (const d of this.devices) {
      const env = this.envs.get(d);
      if (env === undefined || d.setPortUp === undefined) continue;
      env.portBindings.forEach((b, port) => {
        if (b === null) d.setPortUp?.(port, false, now);
      });
    }
  }

  runUntil(timeNs: number): number {
    this.enter();
    this.start();
    return this.scheduler.runUntil(timeNs);
  }

  runFor(durationNs: number): number {
    return this.runUntil(this.scheduler.now() + durationNs);
  }

  runUntilIdle(limit?: number): number {
    this.enter();
    this.start();
    return this.scheduler.runUntilIdle(limit);
  }
}
