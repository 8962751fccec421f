/**
 * The real-time world: the simulator's own `World` (devices, links, scheduler, trace sink),
 * with its event queue driven by the wall clock instead of run to completion, as ns-3's
 * real-time simulator pairs with its TapBridge. Frames that arrive from outside (a TAP) are
 * scheduled at the current wall-clock time; events come due as real time passes. What the
 * simulator models in nanoseconds (a cable's propagation, a vswitch's processing delay) runs at
 * once: events due within `SLACK_NS` of the wall clock run immediately, so world time may lead
 * the wall clock by at most that much and a frame crosses the whole data center in one turn of
 * Node's event loop; timers further out (ARP ageing, LACP, spanning tree) wait on a Node timer.
 */

import type { EventTarget } from "../sim/scheduler.ts";
import type { World } from "../sim/world.ts";
import { RealClock } from "./clock.ts";

/** How far world time may run ahead of the wall clock to finish a frame's modelled delays. */
export const SLACK_NS = 2_000_000;
/** Events run per turn at most, so a forwarding loop cannot hold the process. */
const EVENTS_PER_TURN = 200_000;

export class RealtimeDriver {
  readonly clock = new RealClock();
  private timer: NodeJS.Timeout | null = null;
  private armedAtNs = Number.POSITIVE_INFINITY;
  private isRunning = false;
  private isPumping = false;
  /** Turns that hit `EVENTS_PER_TURN` (a loop or a flood; the rest runs on the next turn). */
  overruns = 0;
  /** Called at the end of every turn (a writer thread flushes what the turn sent). */
  afterTurn: (() => void) | null = null;

  constructor(readonly world: World) {}

  /** World time now: the wall clock, or the world's own time when it ran ahead of it. */
  nowNs(): number {
    return Math.max(this.clock.nowNs(), this.world.scheduler.now());
  }

  /** Starts the devices (their boot announcements and timers) and the clock-driven loop. */
  start(): void {
    this.isRunning = true;
    this.world.start();
    this.pump();
  }

  /**
   * Brings world time up to the wall clock (running what came due) and returns it: call once
   * per batch of frames from outside, then `deliver` each.
   */
  catchUp(): number {
    const s = this.world.scheduler;
    const wall = this.clock.nowNs();
    if (wall > s.now()) s.runUntil(wall);
    return s.now();
  }

  /**
   * A frame from outside for `target` (a TAP port), `delayNs` after `nowNs` (from `catchUp`;
   * the delay is the receiving device's processing delay). Call `pump()` after a batch.
   */
  deliver(target: EventTarget, frame: unknown, nowNs: number, delayNs: number): void {
    this.world.scheduler.schedule(nowNs + delayNs, target, frame, 0);
  }

  /** True while `pump` runs events (`afterTurn` follows); false for work started from outside. */
  get inTurn(): boolean {
    return this.isPumping;
  }

  /** Runs everything due (and due within the slack), then waits on a timer for the next event. */
  pump(): void {
    if (!this.isRunning || this.isPumping) return;
    this.isPumping = true;
    try {
      const s = this.world.scheduler;
      const horizon = this.clock.nowNs() + SLACK_NS;
      let ran = s.runUntil(Math.max(s.now(), horizon - SLACK_NS));
      for (;;) {
        const next = s.nextTimeNs();
        if (next > horizon || ran >= EVENTS_PER_TURN) break;
        ran += s.runUntil(next);
      }
      if (ran >= EVENTS_PER_TURN) {
        this.overruns++;
        this.arm(0);
      } else this.armFor(s.nextTimeNs());
    } finally {
      this.isPumping = false;
      this.afterTurn?.();
    }
  }

  private armFor(nextNs: number): void {
    if (!Number.isFinite(nextNs)) return;
    if (this.timer !== null && this.armedAtNs <= nextNs) return;
    this.armedAtNs = nextNs;
    this.arm(Math.max(0, Math.ceil((nextNs - SLACK_NS / 2 - this.clock.nowNs()) / 1e6)));
  }

  private arm(delayMs: number): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.armedAtNs = Number.POSITIVE_INFINITY;
      this.pump();
    }, delayMs);
  }

  /** Stops the loop; the world keeps its state (counters, tables) for a last look. */
  stop(): void {
    this.isRunning = false;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}
