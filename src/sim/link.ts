/**
 * A simulated point-to-point link between two device ports: a cable between a server's NIC and a
 * switch port, or a zero-length internal connection inside a server (a VM's vNIC to its vswitch
 * port, a vswitch uplink to its NIC, a VM to its SR-IOV virtual function).
 *
 * Per direction a cable has a transmitter with a bounded FIFO queue: a frame waits until the
 * previous one is serialized, takes `wireBytes * 8 / rateBps` to serialize, then `delayNs` to
 * propagate. A frame shorter than 60 bytes is padded with zeros to 60 as it goes onto a cable
 * (IEEE 802.3 4.2.3.3, what a NIC or switch port does), and counted and captured padded; a
 * receiver finds the packet's real end from its own header (IPv4 total length, ARP's fixed
 * size). On-wire bytes follow IEEE 802.3 clause 3/4: the padded frame plus the
 * 4-byte FCS, the 8-byte preamble and SFD, and the 12-byte inter-frame gap. A frame longer than
 * MTU + 14 bytes (+18 when 802.1Q/802.1ad tagged, +22 double tagged) is refused, as a real port
 * with that MTU would. Loss is drawn from the link's own seeded stream; a down link drops what
 * is sent and what was in flight. Internal links have no rate, delay, queue, MTU or loss.
 *
 * Every drop has a reason code, counted on the link. The receiving device's processing delay is
 * added before its `receive` runs (that is where a software vswitch costs more than a NIC).
 * Delivery is a scheduler event aimed at the link itself, so carrying a frame allocates nothing.
 */

import { DropCounters, newPortCounters, type PortCounters } from "../dataplane/counters.ts";
import type { Device } from "../dataplane/device.ts";
import type { Frame } from "../dataplane/frame.ts";
import type { PortBinding } from "../dataplane/port-binding.ts";
import type { HopFacts, HopKind, HopRecord } from "../dataplane/trace.ts";
import { updateChecksum16 } from "../wire/checksum.ts";
import { describeEncapsulationOf, encapsulationOf } from "../wire/encapsulation.ts";
import type { Rng } from "./rng.ts";
import type { EventTarget, Scheduler } from "./scheduler.ts";

/** What sits at one end of a link. */
export interface LinkEnd {
  device: Device;
  port: number;
  /** "tor1:eth1", "vm1:eth0": how traces name this end. */
  name: string;
  /**
   * This end's capture point ("tor1:eth1", the pcapng interface name; the per-link file name is
   * derived from it), or null when this end is not captured.
   */
  captureName: string | null;
}

export interface LinkProps {
  rateBps: number;
  delayNs: number;
  mtu: number;
  lossRate: number;
  queueFrames: number;
  isUp: boolean;
}

/** Reason codes of link drops. */
export const LinkDrop = {
  down: "link-down",
  mtu: "mtu-exceeded",
  queueFull: "queue-full",
  loss: "loss",
} as const;

/** How long after the original an on-path attacker's replayed copy arrives. */
export const REPLAY_DELAY_NS = 1e6;

/** The offset of the UDP header of an IPv4 datagram in `frame` (behind up to two tags), or -1. */
function udpOffset(frame: Frame): number {
  const b = frame.buf;
  let off = frame.start + 12;
  let type = (b[off] << 8) | b[off + 1];
  for (let i = 0; i < 2 && (type === 0x8100 || type === 0x88a8); i++) {
    off += 4;
    type = (b[off] << 8) | b[off + 1];
  }
  const ip = off + 2;
  if (type !== 0x0800 || ip + 20 > frame.end || b[ip + 9] !== 17) return -1;
  if ((((b[ip + 6] & 0x1f) << 8) | b[ip + 7]) !== 0) return -1; // a non-first fragment
  const udp = ip + (b[ip] & 0x0f) * 4;
  return udp + 9 <= frame.end ? udp : -1;
}

/** Flips the low bit of a UDP datagram's last payload byte and updates its checksum (RFC 1624). */
function tamperUdp(b: Uint8Array, udp: number, end: number): void {
  const udpEnd = Math.min(end, udp + ((b[udp + 4] << 8) | b[udp + 5]));
  const at = udpEnd - 1;
  if (at < udp + 8) return;
  const before = b[at];
  b[at] ^= 1;
  const sum = (b[udp + 6] << 8) | b[udp + 7];
  if (sum === 0) return; // no checksum sent
  // The byte sits high or low in its 16-bit word depending on its distance from the header.
  const isHigh = (at - udp) % 2 === 0;
  const oldWord = isHigh ? before << 8 : before;
  const newWord = isHigh ? b[at] << 8 : b[at];
  let n = updateChecksum16(sum, oldWord, newWord);
  if (n === 0) n = 0xffff;
  b[udp + 6] = n >>> 8;
  b[udp + 7] = n & 0xff;
}

/** Observers the world attaches to a link (captures and tracing); all optional. */
export interface LinkObserver {
  readonly isTracing: boolean;
  /** A link's trace record, with the frame it concerns (so the tracer can say what it is). */
  traceLink(record: HopRecord, frame: Frame): void;
  /** A frame seen at link end `side` (0 = a, 1 = b) at `timeNs`, leaving (`isTx`) or arriving. */
  capture(link: Link, side: number, timeNs: number, frame: Frame, isTx: boolean): void;
  readonly isCapturing: boolean;
}

/** Ethernet overhead on the wire beyond the frame (FCS, preamble+SFD, inter-frame gap). */
export const WIRE_OVERHEAD_BYTES = 4 + 8 + 12;
/** Minimum frame length without FCS; shorter frames are padded (IEEE 802.3 4.2.3.3). */
export const MIN_FRAME_BYTES = 60;

/** Time to serialize a frame of `frameBytes` (without FCS) at `rateBps`, rounded up to whole ns. */
export function serializationNs(frameBytes: number, rateBps: number): number {
  return wireNs(frameBytes, 8e9 / rateBps);
}

/**
 * On-wire time with a precomputed ns-per-byte. The 1e-6 ns slack keeps a product that is an
 * integer in exact arithmetic (1538 bytes at 0.8 ns/byte) from rounding up by a whole ns.
 */
function wireNs(frameBytes: number, nsPerByte: number): number {
  const wire = Math.max(frameBytes, MIN_FRAME_BYTES) + WIRE_OVERHEAD_BYTES;
  return Math.ceil(wire * nsPerByte - 1e-6);
}

/** The L2 header allowance beyond the IP MTU: 14, 18 with one VLAN tag, 22 with two. */
export function l2Allowance(buf: Uint8Array, start: number, length: number): number {
  if (length < 14) return 14;
  const t1 = (buf[start + 12] << 8) | buf[start + 13];
  if (t1 !== 0x8100 && t1 !== 0x88a8) return 14;
  if (length < 18) return 18;
  const t2 = (buf[start + 16] << 8) | buf[start + 17];
  return t2 === 0x8100 || t2 === 0x88a8 ? 22 : 18;
}

/** The outer VLAN id of a frame, or null when untagged (for trace records). */
export function outerVid(frame: Frame): number | null {
  const b = frame.buf;
  const s = frame.start;
  if (frame.length < 16) return null;
  const t = (b[s + 12] << 8) | b[s + 13];
  if (t !== 0x8100 && t !== 0x88a8) return null;
  return ((b[s + 14] << 8) | b[s + 15]) & 0xfff;
}

/**
 * Per-direction state of a cable's transmitter: `count` frames are in it (in service plus
 * waiting). The newest one finishes serializing at `busyUntilNs`; the finish times of the older
 * ones wait in a ring. So a frame sent to an idle transmitter (the common case) reads and writes
 * only these fields and never touches the ring's memory.
 */
class Direction {
  busyUntilNs = 0;
  count = 0;
  /**
   * Ring of the finish times of the count - 1 older frames, oldest at `head`. It starts small
   * and doubles up to the queue limit, so thousands of idle cables cost little.
   */
  finish: Float64Array;
  head = 0;
  constructor(private readonly limit: number) {
    this.finish = new Float64Array(Math.min(Math.max(limit, 1), 8));
  }

  /** Forgets the frames whose serialization has finished by `nowNs`. */
  settle(nowNs: number): void {
    if (this.busyUntilNs <= nowNs) {
      this.count = 0;
      this.head = 0;
      return;
    }
    while (this.count > 1 && this.finish[this.head] <= nowNs) {
      this.head = (this.head + 1) % this.finish.length;
      this.count--;
    }
  }

  /** A frame enters the transmitter and finishes serializing at `finishNs` (>= busyUntilNs). */
  push(finishNs: number): void {
    if (this.count > 0) {
      const older = this.count - 1;
      if (older === this.finish.length) {
        const grown = new Float64Array(Math.min(this.finish.length * 2, Math.max(this.limit, 1)));
        for (let i = 0; i < older; i++) grown[i] = this.finish[(this.head + i) % this.finish.length];
        this.finish = grown;
        this.head = 0;
      }
      this.finish[(this.head + older) % this.finish.length] = this.busyUntilNs;
    }
    this.count++;
    this.busyUntilNs = finishNs;
  }
}

export class Link implements EventTarget {
  readonly name: string;
  readonly ends: readonly [LinkEnd, LinkEnd];
  readonly isInternal: boolean;
  /** Hop kind of this link in traces: "link" for cables, "vnic"/"vf" for internal connections. */
  readonly hopKind: HopKind;
  readonly rateBps: number;
  delayNs: number;
  mtu: number;
  lossRate: number;
  readonly queueFrames: number;
  isUp: boolean;
  /** Frames and bytes sent from each end (index = side) and delivered to each end. */
  readonly counters: readonly [PortCounters, PortCounters];
  readonly drops = new DropCounters();
  /**
   * An on-path attacker on this cable (a fault of `vnet run`), or null: "tamper" flips a bit of
   * every UDP datagram's payload and fixes its UDP checksum, so only end-to-end authentication
   * can notice; "replay" delivers a copy of every UDP datagram again `REPLAY_DELAY_NS` later.
   */
  attack: "tamper" | "replay" | null = null;
  /** Datagrams the attacker altered and copies it replayed. */
  readonly attacks = { tampered: 0, replayed: 0 };
  private readonly dirs: readonly [Direction, Direction] | null;
  /**
   * The delivery path reads these flat fields rather than `ends[to]` and `counters[to]`: one
   * object fewer to pull through the cache per frame when thousands of links are active.
   */
  private readonly deviceA: Device;
  private readonly deviceB: Device;
  private readonly portA: number;
  private readonly portB: number;
  private readonly rxA: PortCounters;
  private readonly rxB: PortCounters;
  private readonly procA: number;
  private readonly procB: number;
  /** Serialization cost per byte in ns, precomputed from the rate. */
  private readonly nsPerByte: number;

  constructor(
    private readonly scheduler: Scheduler,
    private readonly rng: Rng,
    private readonly observer: LinkObserver,
    a: LinkEnd,
    b: LinkEnd,
    props: LinkProps | null,
    hopKind: HopKind = "link",
  ) {
    this.ends = [a, b];
    this.name = `${a.name}<->${b.name}`;
    this.isInternal = props === null;
    this.hopKind = hopKind;
    this.rateBps = props?.rateBps ?? Number.POSITIVE_INFINITY;
    this.delayNs = props?.delayNs ?? 0;
    this.mtu = props?.mtu ?? Number.POSITIVE_INFINITY;
    this.lossRate = props?.lossRate ?? 0;
    this.queueFrames = props?.queueFrames ?? 0;
    this.isUp = props?.isUp ?? true;
    this.counters = [newPortCounters(), newPortCounters()];
    this.dirs =
      props === null ? null : [new Direction(props.queueFrames + 1), new Direction(props.queueFrames + 1)];
    this.deviceA = a.device;
    this.deviceB = b.device;
    this.portA = a.port;
    this.portB = b.port;
    this.rxA = this.counters[0];
    this.rxB = this.counters[1];
    this.procA = a.device.processingDelayNs;
    this.procB = b.device.processingDelayNs;
    this.nsPerByte = 8e9 / this.rateBps;
  }

  /** A cable pads short frames to 60 bytes; an internal connection carries them as they are. */
  get padsShortFrames(): boolean {
    return this.dirs !== null;
  }

  /** Sends `frame` from end `side` (0 = a, 1 = b) at `nowNs`. The link owns the frame now. */
  send(side: number, frame: Frame, nowNs: number): void {
    const to = side ^ 1;
    const c = this.counters[side];
    if (!this.isUp) {
      this.drop(side, frame, nowNs, LinkDrop.down, "link is down");
      return;
    }
    const dirs = this.dirs;
    // The transmitting NIC or switch port pads a short frame onto the cable, so the frame, the
    // captures at both ends and the byte counters all hold the padded 60 bytes; an internal
    // connection carries what the guest sent.
    if (dirs !== null && frame.end - frame.start < MIN_FRAME_BYTES) frame.padTo(MIN_FRAME_BYTES);
    const len = frame.end - frame.start;
    let arrivalNs = nowNs;
    if (dirs !== null) {
      const allowance = l2Allowance(frame.buf, frame.start, len);
      if (len > this.mtu + allowance) {
        this.drop(
          side,
          frame,
          nowNs,
          LinkDrop.mtu,
          `frame of ${len} bytes exceeds MTU ${this.mtu} + ${allowance}`,
          true,
          this.observer.isTracing
            ? { mtu: { sizeBytes: len, mtuBytes: this.mtu, allowanceBytes: allowance } }
            : undefined,
        );
        return;
      }
      const d = dirs[side];
      // Frames whose serialization has finished have left the transmitter.
      d.settle(nowNs);
      if (d.count > this.queueFrames) {
        this.drop(side, frame, nowNs, LinkDrop.queueFull, `transmit queue full (${this.queueFrames} frames)`);
        return;
      }
      const startNs = Math.max(d.busyUntilNs, nowNs);
      const finishNs = startNs + wireNs(len, this.nsPerByte);
      d.push(finishNs);
      arrivalNs = finishNs + this.delayNs;
    }
    c.txFrames++;
    c.txBytes += len;
    const obs = this.observer;
    if (obs.isCapturing) obs.capture(this, side, nowNs, frame, true);
    if (this.lossRate > 0 && this.rng.random() < this.lossRate) {
      this.drop(side, frame, nowNs, LinkDrop.loss, `lost on the wire (loss rate ${this.lossRate})`, false);
      return;
    }
    let attacked = "";
    if (this.attack !== null) {
      const udp = udpOffset(frame);
      if (udp >= 0) {
        if (this.attack === "tamper") {
          tamperUdp(frame.buf, udp, frame.end);
          this.attacks.tampered++;
          attacked = "; an on-path attacker flipped a bit of its UDP payload (checksum fixed)";
        } else {
          const copy = frame.clone();
          this.attacks.replayed++;
          attacked = `; an on-path attacker replays a copy ${REPLAY_DELAY_NS / 1e6} ms later`;
          this.scheduler.schedule(
            arrivalNs + REPLAY_DELAY_NS + (to === 1 ? this.procB : this.procA),
            this,
            copy,
            to,
          );
        }
      }
    }
    if (obs.isTracing) {
      const e = this.ends;
      const encap = this.isInternal ? null : encapsulationOf(frame.buf, frame.start, frame.end);
      const record: HopRecord = {
        timeNs: nowNs,
        frameId: frame.id,
        device: this.name,
        kind: this.hopKind,
        in: e[side].name,
        out: e[to].name,
        vlan: outerVid(frame),
        action: "transmit",
        reason: this.isInternal
          ? "internal connection"
          : `${len} bytes, arrives after ${arrivalNs - nowNs} ns${encap === null ? "" : `; carried in ${describeEncapsulationOf(encap)}`}${attacked}`,
      };
      if (!this.isInternal) record.frameBytes = len;
      if (encap !== null) record.encap = { ...encap, step: "carried" };
      obs.traceLink(record, frame);
    }
    this.scheduler.schedule(arrivalNs + (to === 1 ? this.procB : this.procA), this, frame, to);
  }

  /** Delivery at the receiving end `to` (scheduled by `send`). */
  onEvent(arg: unknown, to: number, nowNs: number): void {
    const frame = arg as Frame;
    if (!this.isUp) {
      this.drops.add(LinkDrop.down);
      this.counters[to].drops++;
      if (this.observer.isTracing)
        this.traceDrop(to ^ 1, frame, nowNs, "link went down in flight", LinkDrop.down);
      return;
    }
    const isB = to === 1;
    const c = isB ? this.rxB : this.rxA;
    c.rxFrames++;
    c.rxBytes += frame.end - frame.start;
    if (this.observer.isCapturing) {
      this.observer.capture(this, to, nowNs - (isB ? this.procB : this.procA), frame, false);
    }
    if (isB) this.deviceB.receive(this.portB, frame, nowNs);
    else this.deviceA.receive(this.portA, frame, nowNs);
  }

  private drop(
    side: number,
    frame: Frame,
    nowNs: number,
    code: string,
    why: string,
    countTx = true,
    facts?: HopFacts,
  ): void {
    this.drops.add(code);
    if (countTx) this.counters[side].drops++;
    else this.counters[side ^ 1].drops++;
    if (this.observer.isTracing) this.traceDrop(side, frame, nowNs, why, code, facts);
  }

  private traceDrop(
    side: number,
    frame: Frame,
    nowNs: number,
    why: string,
    code: string,
    facts?: HopFacts,
  ): void {
    this.observer.traceLink(
      {
        timeNs: nowNs,
        frameId: frame.id,
        device: this.name,
        kind: this.hopKind,
        in: this.ends[side].name,
        out: null,
        vlan: outerVid(frame),
        action: "drop",
        reason: why,
        code,
        ...facts,
      },
      frame,
    );
  }

  /** Brings the link up or down; frames in flight on a link going down are lost. */
  setUp(isUp: boolean): void {
    this.isUp = isUp;
  }
}

/**
 * One end of a link as the port binding of the device there: what the device at end `side`
 * sends goes onto the link towards the other end. Counters are that end's; drops are the
 * link's (a cable's drops belong to the cable, whichever end sent).
 */
export class LinkPort implements PortBinding {
  readonly name: string;
  readonly counters: PortCounters;
  readonly drops: DropCounters;

  constructor(
    readonly link: Link,
    readonly side: number,
  ) {
    this.name = link.name;
    this.counters = link.counters[side];
    this.drops = link.drops;
  }

  send(frame: Frame, nowNs: number): void {
    this.link.send(this.side, frame, nowNs);
  }
}
