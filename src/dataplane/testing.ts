/**
 * Test harness for dataplane devices, shared by every device's unit tests (layer 2 and layer 3):
 * a recording `DeviceEnv` with a stepped clock, timers and seeded randomness, literal-frame
 * builders, and a tiny in-order network (`TestNet`) that wires device ports back to back so a
 * VM's stack, a switch and a router can be tested together without the simulator.
 *
 * It sits in `src/dataplane/` (browser-safe, no `node:` imports) but is used only by tests and
 * benchmarks. Like the Open vSwitch unit tests (`time/stop`, `time/warp`), time moves only when a
 * test moves it, so trace text can be compared verbatim.
 */

import { type Mac, parseMac } from "../wire/addr.ts";
import { ETHERNET_HEADER_LEN, Ethernet, EtherType } from "../wire/ethernet.ts";
import type { Device, DeviceEnv } from "./device.ts";
import { Frame } from "./frame.ts";
import type { HopRecord } from "./trace.ts";

/** One frame a device sent, as the recording env saw it. */
export interface SentFrame {
  port: number;
  /** The device's name for `port` ("vm1", "uplink:eth0"); the number as text if unnamed. */
  portName: string;
  frame: Frame;
  timeNs: number;
}

interface PendingTimer {
  handle: number;
  atNs: number;
  seq: number;
  fn: (nowNs: number) => void;
}

/**
 * A small seeded generator (splitmix32 output function over a Weyl sequence): deterministic,
 * good enough for tests; the simulator has its own xoshiro-based Rng.
 */
export class SeededRandom {
  private state: number;
  constructor(seed = 1) {
    this.state = seed | 0;
  }
  nextUint32(): number {
    this.state = (this.state + 0x9e3779b9) | 0;
    let z = this.state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  }
  random(): number {
    return this.nextUint32() / 4294967296;
  }
}

export interface RecordingEnvOptions {
  /** Collect trace records (default true). Set false to check a device builds none. */
  isTracing?: boolean;
  seed?: number;
  /** Start time in ns (default 0). */
  nowNs?: number;
}

/**
 * A `DeviceEnv` that records everything: frames transmitted (with port and time), trace records,
 * timers. Time is stepped by the test (`advance`, `advanceTo`), firing due timers in (time,
 * insertion) order.
 */
export class RecordingEnv implements DeviceEnv {
  nowNs: number;
  isTracing: boolean;
  readonly sent: SentFrame[] = [];
  readonly records: HopRecord[] = [];
  /** Carrier changes the device reported (`setCarrier`), in order. */
  readonly carrier: { port: number; isUp: boolean; timeNs: number }[] = [];
  private readonly rng: SeededRandom;
  private timers: PendingTimer[] = [];
  private nextHandle = 1;
  private nextSeq = 0;
  /** Set by `bindRecording`; used to name ports in `sent`. */
  device: Device | null = null;

  constructor(options: RecordingEnvOptions = {}) {
    this.nowNs = options.nowNs ?? 0;
    this.isTracing = options.isTracing ?? true;
    this.rng = new SeededRandom(options.seed ?? 1);
  }

  transmit(port: number, frame: Frame): void {
    const portName = this.device?.portNames[port] ?? String(port);
    this.sent.push({ port, portName, frame, timeNs: this.nowNs });
  }

  setTimer(delayNs: number, fn: (nowNs: number) => void): number {
    if (!(delayNs >= 0)) throw new RangeError(`setTimer: delay must be >= 0, got ${delayNs}`);
    const handle = this.nextHandle++;
    this.timers.push({ handle, atNs: this.nowNs + delayNs, seq: this.nextSeq++, fn });
    return handle;
  }

  cancelTimer(handle: number): void {
    this.timers = this.timers.filter((t) => t.handle !== handle);
  }

  /** Timers not yet fired. */
  get pendingTimers(): number {
    return this.timers.length;
  }

  now(): number {
    return this.nowNs;
  }

  random(): number {
    return this.rng.random();
  }

  trace(record: HopRecord): void {
    this.records.push(record);
  }

  setCarrier(port: number, isUp: boolean): void {
    this.carrier.push({ port, isUp, timeNs: this.nowNs });
  }

  /** Moves the clock to `timeNs`, firing every timer due by then in order. */
  advanceTo(timeNs: number): void {
    if (timeNs < this.nowNs) throw new RangeError(`time cannot go back (${timeNs} < ${this.nowNs})`);
    for (;;) {
      let next: PendingTimer | null = null;
      for (const t of this.timers) {
        if (
          t.atNs <= timeNs &&
          (next === null || t.atNs < next.atNs || (t.atNs === next.atNs && t.seq < next.seq))
        )
          next = t;
      }
      if (next === null) break;
      const fired = next;
      this.timers = this.timers.filter((t) => t !== fired);
      this.nowNs = fired.atNs;
      fired.fn(this.nowNs);
    }
    this.nowNs = timeNs;
  }

  advance(deltaNs: number): void {
    this.advanceTo(this.nowNs + deltaNs);
  }

  /** Returns and forgets the frames sent so far. */
  take(): SentFrame[] {
    return this.sent.splice(0, this.sent.length);
  }

  /** Returns and forgets the trace records so far. */
  takeRecords(): HopRecord[] {
    return this.records.splice(0, this.records.length);
  }

  /** Trace records as one line each: "device kind action in>out vlan: reason". */
  traceLines(): string[] {
    return this.records.map(formatRecord);
  }
}

/** A trace record as one stable line of text, for verbatim comparison in tests. */
export function formatRecord(r: HopRecord): string {
  const vlan = r.vlan === null ? "" : ` vlan ${r.vlan}`;
  return `${r.device} ${r.kind} ${r.action} ${r.in ?? "-"}>${r.out ?? "-"}${vlan}: ${r.reason}`;
}

/** Binds `device` to a new recording env, starts it at the env's time, and returns the env. */
export function bindRecording(device: Device, options: RecordingEnvOptions = {}): RecordingEnv {
  const env = new RecordingEnv(options);
  env.device = device;
  device.bind(env);
  device.start(env.nowNs);
  return env;
}

/** Parses "02:00:00:00:00:01" into the number form. */
export function mac(text: string): Mac {
  return parseMac(text);
}

export interface VlanTagSpec {
  vid: number;
  pcp?: number;
  /** 0x8100 (802.1Q C-tag, default) or 0x88a8 (802.1ad S-tag). */
  tpid?: number;
}

export interface EthFrameSpec {
  dst: Mac | string;
  src: Mac | string;
  /** The EtherType after any tags (default IPv4). */
  etherType?: number;
  /** Tags outermost first: a number is a C-tag with that VID. */
  tags?: (number | VlanTagSpec)[];
  /** Payload bytes, or a length of a patterned payload (default 46, the Ethernet minimum). */
  payload?: Uint8Array | number;
}

/** Builds a frame from its fields: the bytes are exactly what a wire would carry (no FCS). */
export function ethFrame(spec: EthFrameSpec): Frame {
  const dst = typeof spec.dst === "string" ? parseMac(spec.dst) : spec.dst;
  const src = typeof spec.src === "string" ? parseMac(spec.src) : spec.src;
  const payload =
    spec.payload instanceof Uint8Array
      ? spec.payload
      : Uint8Array.from({ length: spec.payload ?? 46 }, (_, i) => i & 0xff);
  const f = Frame.alloc(ETHERNET_HEADER_LEN + payload.length);
  Ethernet.emit({ dst, src, etherType: spec.etherType ?? EtherType.IPv4 }, f.buf, f.start);
  f.buf.set(payload, f.start + ETHERNET_HEADER_LEN);
  const tags = spec.tags ?? [];
  // Pushing inserts after the MAC addresses, so push innermost first.
  for (let i = tags.length - 1; i >= 0; i--) {
    const t = tags[i];
    const tag = typeof t === "number" ? { vid: t } : t;
    f.pushVlanTag(tag.vid, tag.pcp ?? 0, tag.tpid ?? EtherType.VLAN);
  }
  return f;
}

/** A frame from hex text ("ff ff ff ..."; spaces, colons and newlines ignored). */
export function hexFrame(text: string): Frame {
  const clean = text.replace(/[\s:]/g, "");
  if (clean.length % 2 !== 0 || /[^0-9a-fA-F]/.test(clean)) throw new Error(`not hex: ${text}`);
  const bytes = new Uint8Array(clean.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = Number.parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return Frame.fromBytes(bytes);
}

/** The frame's bytes as lowercase hex without separators. */
export function toHex(frame: Frame): string {
  let s = "";
  for (let i = frame.start; i < frame.end; i++) s += frame.buf[i].toString(16).padStart(2, "0");
  return s;
}

/** Reads the outer VLAN id of a frame, or null when the frame is untagged (0x8100 or 0x88a8 only). */
export function outerVid(frame: Frame): number | null {
  const t = Ethernet.etherType(frame.buf, frame.start);
  if (t !== EtherType.VLAN && t !== EtherType.QinQ) return null;
  return ((frame.buf[frame.start + 14] << 8) | frame.buf[frame.start + 15]) & 0xfff;
}

interface NetEvent {
  atNs: number;
  seq: number;
  run: (nowNs: number) => void;
}

/**
 * A minimal in-order network for tests: devices' ports joined back to back, every transmit
 * delivered to the peer port after the receiving device's `processingDelayNs` plus an optional
 * fixed link delay, events run in (time, insertion) order. Not the simulator (no bandwidth,
 * queues or loss): just enough to test devices together. Frames sent on an unconnected port are
 * recorded in `unconnected`.
 */
export class TestNet {
  nowNs = 0;
  isTracing = true;
  readonly records: HopRecord[] = [];
  /** Every frame that crossed a connection, in order (device and port are the sender's). */
  readonly transmitted: { from: string; port: string; frame: Frame; timeNs: number }[] = [];
  readonly unconnected: { from: string; port: string; frame: Frame; timeNs: number }[] = [];
  /** Frames sent into a connection that is down. */
  readonly lost: { from: string; port: string; frame: Frame; timeNs: number }[] = [];
  private readonly downPorts = new Map<Device, Set<number>>();
  /** Ports whose frames vanish while the carrier stays up (a silent failure). */
  private readonly blackholes = new Map<Device, Set<number>>();
  private readonly peers = new Map<Device, ({ device: Device; port: number } | null)[]>();
  private events: NetEvent[] = [];
  private seq = 0;
  private nextHandle = 1;
  private readonly cancelled = new Set<number>();
  private readonly rng: SeededRandom;

  constructor(
    seed = 1,
    readonly linkDelayNs = 0,
  ) {
    this.rng = new SeededRandom(seed);
  }

  add<D extends Device>(device: D): D {
    const net = this;
    this.peers.set(
      device,
      device.portNames.map(() => null),
    );
    const env: DeviceEnv = {
      transmit(port, frame) {
        net.transmit(device, port, frame);
      },
      setTimer(delayNs, fn) {
        const handle = net.nextHandle++;
        net.schedule(net.nowNs + delayNs, (t) => {
          if (net.cancelled.delete(handle)) return;
          fn(t);
        });
        return handle;
      },
      cancelTimer(handle) {
        net.cancelled.add(handle);
      },
      now: () => net.nowNs,
      random: () => net.rng.random(),
      get isTracing() {
        return net.isTracing;
      },
      trace(record) {
        net.records.push(record);
      },
      setCarrier(port, isUp) {
        const peer = net.peers.get(device)?.[port] ?? null;
        peer?.device.setPortUp?.(peer.port, isUp, net.nowNs);
      },
    };
    device.bind(env);
    return device;
  }

  connect(a: Device, portA: number, b: Device, portB: number): void {
    const pa = this.peers.get(a);
    const pb = this.peers.get(b);
    if (pa === undefined || pb === undefined) throw new Error("connect: add both devices first");
    if (pa[portA] === undefined || pb[portB] === undefined) throw new Error("connect: no such port");
    if (pa[portA] !== null || pb[portB] !== null) throw new Error("connect: port already connected");
    pa[portA] = { device: b, port: portB };
    pb[portB] = { device: a, port: portA };
  }

  /** Starts every device (in the order added). */
  start(): void {
    for (const d of this.peers.keys()) d.start(this.nowNs);
  }

  /** Sets a connection's link state, telling the devices at both ends (as the world does). */
  setLinkUp(device: Device, port: number, isUp: boolean): void {
    const peer = this.peers.get(device)?.[port] ?? null;
    for (const [d, p] of peer === null
      ? [[device, port] as const]
      : [[device, port] as const, [peer.device, peer.port] as const]) {
      const set = this.downPorts.get(d) ?? new Set<number>();
      if (isUp) set.delete(p);
      else set.add(p);
      this.downPorts.set(d, set);
    }
    device.setPortUp?.(port, isUp, this.nowNs);
    if (peer !== null) peer.device.setPortUp?.(peer.port, isUp, this.nowNs);
  }

  /**
   * Makes the frames `device` sends out of `port` vanish (counted in `lost`) while both ends
   * keep their carrier: a link that silently stops passing traffic in one direction.
   */
  setBlackhole(device: Device, port: number, isBlackhole: boolean): void {
    const set = this.blackholes.get(device) ?? new Set<number>();
    if (isBlackhole) set.add(port);
    else set.delete(port);
    this.blackholes.set(device, set);
  }

  /** Delivers `frame` into `device` at `port` now (as if a cable had carried it there). */
  inject(device: Device, port: number, frame: Frame): void {
    this.schedule(this.nowNs + device.processingDelayNs, (t) => device.receive(port, frame, t));
  }

  /** Runs events until none is left or `limit` events ran; returns the number run. */
  run(limit = 100_000): number {
    let n = 0;
    while (this.events.length > 0 && n < limit) {
      const ev = this.events.shift()!;
      this.nowNs = ev.atNs;
      ev.run(ev.atNs);
      n++;
    }
    return n;
  }

  /** Runs events due by `timeNs`, then sets the clock to `timeNs`. */
  runUntil(timeNs: number): void {
    while (this.events.length > 0 && this.events[0].atNs <= timeNs) {
      const ev = this.events.shift()!;
      this.nowNs = ev.atNs;
      ev.run(ev.atNs);
    }
    this.nowNs = Math.max(this.nowNs, timeNs);
  }

  traceLines(): string[] {
    return this.records.map(formatRecord);
  }

  private transmit(device: Device, port: number, frame: Frame): void {
    const from = device.name;
    const portName = device.portNames[port] ?? String(port);
    const peer = this.peers.get(device)?.[port] ?? null;
    if (peer === null) {
      this.unconnected.push({ from, port: portName, frame, timeNs: this.nowNs });
      return;
    }
    if (this.downPorts.get(device)?.has(port) || this.blackholes.get(device)?.has(port)) {
      this.lost.push({ from, port: portName, frame, timeNs: this.nowNs });
      return;
    }
    this.transmitted.push({ from, port: portName, frame, timeNs: this.nowNs });
    const to = peer;
    this.schedule(this.nowNs + this.linkDelayNs + to.device.processingDelayNs, (t) =>
      to.device.receive(to.port, frame, t),
    );
  }

  private schedule(atNs: number, run: (nowNs: number) => void): void {
    const ev = { atNs, seq: this.seq++, run };
    // Insertion keeps (time, seq) order; test networks are small, so a linear scan is fine.
    let i = this.events.length;
    while (i > 0 && this.events[i - 1].atNs > atNs) i--;
    this.events.splice(i, 0, ev);
  }
}
