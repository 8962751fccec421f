/**
 * One re-armable timer for a protocol engine beside a device (LACP, MLAG, RSTP): the engine says
 * when it next needs to run (`nextTimerNs()`), the device arms this for that instant through
 * its `DeviceEnv`, and re-arms after each run. Arming for the instant already armed does
 * nothing, and an engine with nothing to do (infinity) leaves no timer behind.
 */

import type { DeviceEnv } from "./device.ts";

export class EngineTimer {
  private handle = -1;
  private atNs = Number.POSITIVE_INFINITY;

  constructor(private readonly fire: (nowNs: number) => void) {}

  arm(env: DeviceEnv | null, atNs: number, nowNs: number): void {
    if (env === null || atNs === this.atNs) return;
    if (this.handle >= 0) env.cancelTimer(this.handle);
    this.handle = -1;
    this.atNs = atNs;
    if (atNs === Number.POSITIVE_INFINITY) return;
    this.handle = env.setTimer(Math.max(0, atNs - nowNs), (t) => {
      this.handle = -1;
      this.atNs = Number.POSITIVE_INFINITY;
      this.fire(t);
    });
  }

  /**
   * Forgets the armed instant without cancelling (the device lost power: the world already
   * dropped its timers), so the next `arm` arms afresh.
   */
  forget(): void {
    this.handle = -1;
    this.atNs = Number.POSITIVE_INFINITY;
  }
}
