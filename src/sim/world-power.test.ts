/**
 * A device's power (`World.setPowered`): while off, none of its timers runs (nor one armed
 * before the failure, after the recovery), it sends nothing and reports nothing; on power it is
 * told its ports' carrier and boots (`start`) after forgetting its state (`powerOff`).
 */

import { describe, expect, it } from "vitest";
import { DropCounters, newPortCounters } from "../dataplane/counters.ts";
import type { Device, DeviceEnv } from "../dataplane/device.ts";
import { Frame } from "../dataplane/frame.ts";
import type { TimelineEvent } from "../dataplane/timeline.ts";
import { World } from "./world.ts";

/** A device with a 1 s periodic timer that sends a frame and reports an event each tick. */
class Ticker implements Device {
  readonly kind = "switch" as const;
  readonly portNames = ["eth0"];
  readonly portCounters = [newPortCounters()];
  readonly drops = new DropCounters();
  readonly processingDelayNs = 0;
  env: DeviceEnv | null = null;
  ticks: number[] = [];
  starts: number[] = [];
  powerOffs: number[] = [];
  received = 0;
  ports: [number, boolean][] = [];
  constructor(readonly name: string) {}
  bind(env: DeviceEnv): void {
    this.env = env;
  }
  start(nowNs: number): void {
    this.starts.push(nowNs);
    this.arm();
  }
  powerOff(nowNs: number): void {
    this.powerOffs.push(nowNs);
  }
  setPortUp(port: number, isUp: boolean): void {
    this.ports.push([port, isUp]);
  }
  receive(): void {
    this.received++;
  }
  private arm(): void {
    const env = this.env as DeviceEnv;
    env.setTimer(1e9, (t) => {
      this.ticks.push(t);
      env.transmit(0, Frame.alloc(60));
      env.event?.({ timeNs: t, device: this.name, kind: "tick", text: "tick", fields: {} });
      this.arm();
    });
  }
}

describe("World.setPowered", () => {
  it("a powered-off device runs no timer, sends and reports nothing, and boots fresh on power", () => {
    const world = new World();
    const a = world.add(new Ticker("a"));
    const b = world.add(new Ticker("b"));
    world.connect(
      { device: a, port: 0, name: "a:eth0", captureName: null },
      { device: b, port: 0, name: "b:eth0", captureName: null },
      null,
    );
    const events: TimelineEvent[] = [];
    world.setTimelineSink((e) => events.push(e));
    world.runUntil(2.5e9);
    expect(a.ticks).toEqual([1e9, 2e9]);
    world.setPowered(a, false);
    expect(world.isPowered(a)).toBe(false);
    expect(a.powerOffs).toEqual([2.5e9]);
    world.runUntil(6.5e9);
    // No tick at 3, 4, 5, 6 s: the timer armed at 2 s died with the power.
    expect(a.ticks).toEqual([1e9, 2e9]);
    expect(events.filter((e) => e.device === "a" && e.timeNs > 2.5e9)).toEqual([]);
    expect(b.received).toBe(2);
    world.setPowered(a, true);
    expect(a.starts).toEqual([0, 6.5e9]);
    expect(a.ports.at(-1)).toEqual([0, true]);
    world.runUntil(8e9);
    // Only the timer of the new boot: 7.5 s (not 3, 4, ... of the old one, nor two at once).
    expect(a.ticks).toEqual([1e9, 2e9, 7.5e9]);
    expect(b.received).toBe(3);
    expect(b.ticks).toHaveLength(8);
  });

  it("something that makes an off device send is dropped with a reason and counted", () => {
    const world = new World();
    const a = world.add(new Ticker("a"));
    const b = world.add(new Ticker("b"));
    world.connect(
      { device: a, port: 0, name: "a:eth0", captureName: null },
      { device: b, port: 0, name: "b:eth0", captureName: null },
      null,
    );
    world.runUntil(0);
    world.setPowered(a, false);
    (a.env as DeviceEnv).transmit(0, Frame.alloc(60));
    world.runUntil(1e6);
    expect(a.drops.get("powered-off")).toBe(1);
    expect(b.received).toBe(0);
  });
});
