/**
 * The real world's clock and timer for a pure device: monotonic nanoseconds since the clock was
 * made (the `nowNs` every device call takes), the wall-clock offset a WireGuard device needs for
 * its TAI64N timestamps, and a single re-armable timer that calls a device's `tick` when its
 * `nextTimerNs()` comes due. Only `src/real/` reads real time; the engine never does.
 */

/** Monotonic time for one real world. */
export class RealClock {
  private readonly startNs = process.hrtime.bigint();
  /** Unix time in ns at `nowNs() = 0`. */
  readonly unixEpochOffsetNs = Date.now() * 1e6;

  /** Nanoseconds since this clock was made (exact to well beyond a year as a double). */
  nowNs(): number {
    return Number(process.hrtime.bigint() - this.startNs);
  }
}

/**
 * One `setTimeout` kept at the earliest time a device asked for. `rearm()` is cheap to call after
 * every device call: it only touches the Node timer when the wanted time moved earlier, or when the
 * armed one fired. A firing that comes before anything is due is harmless (the tick does nothing).
 */
export class DeviceTimer {
  private handle: NodeJS.Timeout | undefined;
  private armedAtNs: number | undefined;
  private isClosed = false;

  constructor(
    private readonly clock: RealClock,
    private readonly nextTimerNs: () => number | undefined,
    private readonly tick: (nowNs: number) => void,
  ) {}

  rearm(): void {
    if (this.isClosed) return;
    const due = this.nextTimerNs();
    if (due === undefined) return;
    if (this.armedAtNs !== undefined && this.armedAtNs <= due) return;
    if (this.handle) clearTimeout(this.handle);
    this.armedAtNs = due;
    const delayMs = Math.max(0, Math.ceil((due - this.clock.nowNs()) / 1e6));
    this.handle = setTimeout(() => this.fire(), delayMs);
  }

  private fire(): void {
    this.handle = undefined;
    this.armedAtNs = undefined;
    if (this.isClosed) return;
    this.tick(this.clock.nowNs());
    this.rearm();
  }

  close(): void {
    this.isClosed = true;
    if (this.handle) clearTimeout(this.handle);
    this.handle = undefined;
  }
}
