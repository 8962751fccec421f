/**
 * Tests of the dataplane test harness itself: literal frames come out byte-exact, the stepped
 * clock fires timers in (time, insertion) order, and TestNet delivers across connections.
 */

import { describe, expect, it } from "vitest";
import { DropCounters, newPortCounters } from "./counters.ts";
import type { Device, DeviceEnv } from "./device.ts";
import type { Frame } from "./frame.ts";
import { ethFrame, hexFrame, mac, outerVid, RecordingEnv, TestNet, toHex } from "./testing.ts";

describe("ethFrame", () => {
  it("builds the exact bytes, tags outermost first", () => {
    const f = ethFrame({
      dst: "ff:ff:ff:ff:ff:ff",
      src: "02:00:00:00:00:01",
      etherType: 0x0806,
      tags: [{ vid: 100, tpid: 0x88a8 }, 10],
      payload: 2,
    });
    expect(toHex(f)).toBe("ffffffffffff" + "020000000001" + "88a80064" + "8100000a" + "0806" + "0001");
    expect(outerVid(f)).toBe(100);
  });

  it("hexFrame reads literal bytes", () => {
    const f = hexFrame("02 00 00 00 00 02 : 02 00 00 00 00 01 08 00 aa");
    expect(f.length).toBe(15);
    expect(outerVid(f)).toBeNull();
    expect(toHex(f)).toBe("020000000002020000000001" + "0800aa");
    expect(mac("02:00:00:00:00:02")).toBe(0x020000000002);
  });
});

describe("RecordingEnv", () => {
  it("fires timers in time then insertion order and can cancel", () => {
    const env = new RecordingEnv();
    const fired: string[] = [];
    env.setTimer(20, (t) => fired.push(`b@${t}`));
    env.setTimer(10, (t) => fired.push(`a@${t}`));
    const c = env.setTimer(10, (t) => fired.push(`c@${t}`));
    env.setTimer(20, (t) => fired.push(`d@${t}`));
    env.cancelTimer(c);
    env.advance(15);
    expect(fired).toEqual(["a@10"]);
    env.advanceTo(100);
    expect(fired).toEqual(["a@10", "b@20", "d@20"]);
    expect(env.nowNs).toBe(100);
    expect(() => env.advanceTo(50)).toThrow(RangeError);
  });

  it("is deterministic for a seed", () => {
    const a = new RecordingEnv({ seed: 7 });
    const b = new RecordingEnv({ seed: 7 });
    const xs = [a.random(), a.random(), a.random()];
    expect([b.random(), b.random(), b.random()]).toEqual(xs);
    for (const x of xs) expect(x >= 0 && x < 1).toBe(true);
  });
});

/** A two-port device that sends whatever arrives out of the other port. */
class Repeater implements Device {
  readonly kind = "switch" as const;
  readonly portNames = ["a", "b"];
  readonly portCounters = [newPortCounters(), newPortCounters()];
  readonly drops = new DropCounters();
  readonly processingDelayNs = 5;
  readonly seen: number[] = [];
  private env!: DeviceEnv;
  constructor(readonly name: string) {}
  bind(env: DeviceEnv): void {
    this.env = env;
  }
  start(): void {}
  receive(port: number, frame: Frame, nowNs: number): void {
    this.seen.push(nowNs);
    this.env.transmit(1 - port, frame);
  }
}

describe("TestNet", () => {
  it("carries frames across connections with each receiver's delay", () => {
    const net = new TestNet(1, 100);
    const r1 = net.add(new Repeater("r1"));
    const r2 = net.add(new Repeater("r2"));
    net.connect(r1, 1, r2, 0);
    net.start();
    net.inject(r1, 0, ethFrame({ dst: 1, src: 2 }));
    net.run();
    expect(r1.seen).toEqual([5]);
    expect(r2.seen).toEqual([110]);
    expect(net.transmitted.map((t) => `${t.from}:${t.port}@${t.timeNs}`)).toEqual(["r1:b@5"]);
    expect(net.unconnected.map((t) => `${t.from}:${t.port}@${t.timeNs}`)).toEqual(["r2:b@110"]);
  });
});
