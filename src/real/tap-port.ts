/**
 * A TAP device as the port binding of a device port in the real world: what the device sends on
 * that port is written to the TAP, so the kernel on its other side (a VM's network namespace)
 * receives it; what the kernel sends is read in batches by the native reader and delivered to
 * the device through the real-time world's scheduler, after the device's processing delay, as a
 * simulated link would. Trace records and captures are the ones an internal connection makes in
 * the simulator (`web1:eth0<->server1/vs0:web1-eth0`, kind "vnic" or "vf"), so a trace of a real
 * ping reads like the simulator's.
 */

import { DropCounters, newPortCounters, type PortCounters } from "../dataplane/counters.ts";
import type { Device } from "../dataplane/device.ts";
import { Frame } from "../dataplane/frame.ts";
import type { PortBinding } from "../dataplane/port-binding.ts";
import type { HopKind } from "../dataplane/trace.ts";
import { LinkDrop, l2Allowance, outerVid } from "../sim/link.ts";
import type { EventTarget } from "../sim/scheduler.ts";
import { Errno, type NativeAddon, type NativeTapReader, type NativeTapWriter } from "./native.ts";
import type { RealtimeDriver } from "./realtime.ts";

/** Reason codes of TAP drops beyond the link's. */
export const TapDrop = {
  writeFailed: "tap-write-failed",
} as const;

/** Frames read per batch at most. */
const READ_SLOTS = 32;

export interface TapPortOptions {
  /** The device whose port this is, and the port. */
  device: Device;
  port: number;
  /** The device end's name ("server1/vs0:web1-eth0") and the far end's ("web1:eth0"). */
  endName: string;
  farName: string;
  /** Where captures of this port go ("web1:eth0"), or null. */
  captureName: string | null;
  /** IP MTU of the interface on the far side: larger frames are dropped (`mtu-exceeded`). */
  mtu: number;
  /** "vnic" for a vswitch port, "vf" for a virtual function, "link" for an external port. */
  hopKind: HopKind;
  /**
   * A writer thread shared by the lab's TAPs, and this port's number with it: frames up to its
   * slot size are handed to it instead of written here (the write runs the receiving kernel's
   * whole input path, which then happens on another core). Without it, every frame is written
   * synchronously.
   */
  writer?: { thread: NativeTapWriter; port: number; slotBytes: number; slots: number };
}

export class TapPort implements PortBinding, EventTarget {
  readonly name: string;
  readonly counters: PortCounters = newPortCounters();
  readonly drops = new DropCounters();
  private reader: NativeTapReader | null;
  private readonly slots: Uint8Array;
  private readonly slotBytes: number;
  private readonly lengths = new Int32Array(READ_SLOTS);
  private fd: number;
  private isHeldBack = false;
  /** Times reading paused because the writer's ring was full (backpressure). */
  heldBackTimes = 0;
  /** What the writer thread had reported failing, already counted in `drops`. */
  private readonly reported = { full: 0, other: 0 };

  constructor(
    private readonly native: NativeAddon,
    tap: { fd: number; name: string },
    private readonly driver: RealtimeDriver,
    private readonly options: TapPortOptions,
  ) {
    this.fd = tap.fd;
    this.name = `${options.farName}<->${options.endName}`;
    // Room for the largest frame the kernel sends at this MTU (two tags), rounded to 64 bytes.
    this.slotBytes = (options.mtu + 22 + 63) & ~63;
    this.slots = new Uint8Array(this.slotBytes * READ_SLOTS);
    this.reader = new native.TapReader(tap.fd, this.slots, this.slotBytes, this.lengths, (n) =>
      this.onFrames(n),
    );
  }

  get isOpen(): boolean {
    return this.fd >= 0;
  }

  /**
   * How frames cross the kernel boundary: "io_uring" when reads (and the writer thread's writes,
   * if there is one) go in batches, one system call each; "read/write" for a system call per
   * frame (io_uring missing, disabled by `kernel.io_uring_disabled`, or `VNET_NO_IO_URING=1`).
   */
  get io(): "io_uring" | "read/write" {
    const w = this.options.writer;
    const reads = this.reader?.ioUring() ?? false;
    return reads && (w === undefined || w.thread.ioUring()) ? "io_uring" : "read/write";
  }

  /** The device sends `frame` towards the kernel on the TAP's far side. */
  send(frame: Frame, nowNs: number): void {
    const len = frame.end - frame.start;
    if (this.fd < 0) {
      this.drop(frame, nowNs, LinkDrop.down, "the TAP is closed");
      return;
    }
    const allowance = l2Allowance(frame.buf, frame.start, len);
    if (len > this.options.mtu + allowance) {
      this.drop(
        frame,
        nowNs,
        LinkDrop.mtu,
        `frame of ${len} bytes exceeds MTU ${this.options.mtu} + ${allowance}`,
      );
      return;
    }
    const world = this.driver.world;
    if (world.isCapturing && this.options.captureName !== null) {
      world.captureAt(this.options.captureName, nowNs, frame, false);
    }
    const w = this.options.writer;
    if (w !== undefined && len <= w.slotBytes) {
      if (!w.thread.push(w.port, this.fd, frame.buf, frame.start, frame.end)) {
        this.drop(frame, nowNs, LinkDrop.queueFull, "the TAP writer's ring is full");
        return;
      }
      // Inside a turn, the driver's afterTurn wakes the thread once for the whole batch; a send
      // from outside one (a caller of the port itself) wakes it now.
      if (!this.driver.inTurn) w.thread.flush();
    } else {
      const n = this.native.tapWrite(this.fd, frame.buf, frame.start, frame.end);
      if (n < 0) {
        if (n === -Errno.EAGAIN || n === -Errno.ENOBUFS)
          this.drop(frame, nowNs, LinkDrop.queueFull, "the TAP's queue towards the kernel is full");
        else this.drop(frame, nowNs, TapDrop.writeFailed, `write to the TAP failed (errno ${-n})`);
        return;
      }
    }
    this.counters.txFrames++;
    this.counters.txBytes += len;
    if (world.isTracing) {
      this.trace(frame, nowNs, true, "transmit", "internal connection (TAP into the VM's namespace)");
    }
  }

  /** A batch the native reader put in the slots: each frame goes to the device. */
  private onFrames(count: number): void {
    const world = this.driver.world;
    const delay = this.options.device.processingDelayNs;
    // One clock reading for the batch: the kernel queued these frames together. The frames
    // are this world's (its numbering).
    const now = this.driver.catchUp();
    world.enter();
    for (let i = 0; i < count; i++) {
      const off = i * this.slotBytes;
      const frame = Frame.fromBytes(this.slots.subarray(off, off + this.lengths[i]));
      if (world.isCapturing && this.options.captureName !== null) {
        world.captureAt(this.options.captureName, now, frame, true);
      }
      if (world.isTracing) {
        this.trace(frame, now, false, "transmit", "internal connection (TAP from the VM's namespace)");
      }
      this.driver.deliver(this, frame, now, delay);
    }
    this.driver.pump();
    this.holdBackIfFull();
  }

  /**
   * Backpressure: while the writer's ring is more than three-quarters full, stop reading this
   * TAP (the kernel holds, then drops, what its guest sends: cheaper than reading, forwarding and
   * then dropping frames there is no room to write), and read again once it is a quarter full.
   */
  private holdBackIfFull(): void {
    const w = this.options.writer;
    const reader = this.reader;
    if (w === undefined || reader === null || this.isHeldBack) return;
    if (w.thread.queued() * 4 <= w.slots * 3) return;
    this.isHeldBack = true;
    this.heldBackTimes++;
    reader.pause();
    const check = () => {
      if (this.reader === null) return;
      if (w.thread.queued() * 4 > w.slots) {
        setImmediate(check);
        return;
      }
      this.isHeldBack = false;
      this.reader.resume();
    };
    setImmediate(check);
  }

  /** Delivery to the device (scheduled by `onFrames`). */
  onEvent(arg: unknown, _argNum: number, nowNs: number): void {
    const frame = arg as Frame;
    this.counters.rxFrames++;
    this.counters.rxBytes += frame.end - frame.start;
    this.options.device.receive(this.options.port, frame, nowNs);
  }

  private drop(frame: Frame, nowNs: number, code: string, why: string): void {
    this.drops.add(code);
    this.counters.drops++;
    if (this.driver.world.isTracing) this.trace(frame, nowNs, true, "drop", why, code);
  }

  /** A trace record of this connection: towards the kernel (`isOut`) or from it. */
  private trace(
    frame: Frame,
    nowNs: number,
    isOut: boolean,
    action: "transmit" | "drop",
    reason: string,
    code?: string,
  ): void {
    const { endName, farName } = this.options;
    this.driver.world.traceLink(
      {
        timeNs: nowNs,
        frameId: frame.id,
        device: this.name,
        kind: this.options.hopKind,
        in: isOut ? endName : farName,
        out: action === "drop" ? null : isOut ? farName : endName,
        vlan: outerVid(frame),
        action,
        reason,
        ...(code === undefined ? {} : { code }),
      },
      frame,
    );
  }

  /**
   * Counts, under `drops`, the frames the writer thread could not write since last asked
   * (the kernel's queue full: `queue-full`; any other error: `tap-write-failed`). The frames
   * were counted as sent when handed over.
   */
  syncDrops(): void {
    const w = this.options.writer;
    if (w === undefined) return;
    const [, , full, other] = w.thread.stats(w.port);
    if (full > this.reported.full) this.drops.add(LinkDrop.queueFull, full - this.reported.full);
    if (other > this.reported.other) this.drops.add(TapDrop.writeFailed, other - this.reported.other);
    this.counters.drops += full - this.reported.full + (other - this.reported.other);
    this.reported.full = full;
    this.reported.other = other;
  }

  /** Stops reading and closes the TAP (it disappears with its descriptor). */
  close(): void {
    this.syncDrops();
    this.reader?.stop();
    this.reader = null;
    if (this.fd >= 0) this.native.closeFd(this.fd);
    this.fd = -1;
  }
}
