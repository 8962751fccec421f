/**
 * Link and world tests: serialization and propagation arithmetic, MTU, queue tail drops, seeded
 * loss, link down, processing delay, unconnected ports, trace records. Uses a minimal recording
 * device (two ports) so nothing depends on the real forwarding devices.
 */
import { describe, expect, it } from "vitest";
import { DropCounters, newPortCounters } from "../dataplane/counters.ts";
import type { Device, DeviceEnv } from "../dataplane/device.ts";
import { Frame } from "../dataplane/frame.ts";
import type { HopRecord } from "../dataplane/trace.ts";
import { type LinkProps, l2Allowance, serializationNs } from "./link.ts";
import { World } from "./world.ts";

class Recorder implements Device {
  readonly kind = "vm" as const;
  readonly portNames = ["p0", "p1"];
  readonly portCounters = [newPortCounters(), newPortCounters()];
  readonly drops = new DropCounters();
  env!: DeviceEnv;
  readonly got: { port: number; timeNs: number; length: number }[] = [];
  constructor(
    readonly name: string,
    readonly processingDelayNs = 0,
  ) {}
  bind(env: DeviceEnv): void {
    this.env = env;
  }
  start(): void {}
  receive(port: number, frame: Frame, nowNs: number): void {
    this.got.push({ port, timeNs: nowNs, length: frame.length });
  }
  send(port: number, length: number, tagged = false): void {
    const f = Frame.alloc(length);
    if (tagged) {
      f.buf[f.start + 12] = 0x81;
      f.buf[f.start + 13] = 0x00;
    }
    this.env.transmit(port, f);
  }
}

const CABLE: LinkProps = { rateBps: 1e9, delayNs: 5_000, mtu: 1500, lossRate: 0, queueFrames: 4, isUp: true };

function pair(props: LinkProps | null, procDelayNs = 0, seed = 1) {
  const w = new World({ seed });
  const a = w.add(new Recorder("a"));
  const b = w.add(new Recorder("b", procDelayNs));
  const link = w.connect(
    { device: a, port: 0, name: "a:p0", captureName: "a:p0" },
    { device: b, port: 0, name: "b:p0", captureName: "b:p0" },
    props,
  );
  w.start();
  return { w, a, b, link };
}

describe("serialization arithmetic", () => {
  it("counts padding, FCS, preamble and inter-frame gap", () => {
    // 1500-byte payload frame: 1514 + 24 = 1538 bytes = 12304 bits at 1 Gb/s.
    expect(serializationNs(1514, 1e9)).toBe(12_304);
    // A 42-byte ARP frame is padded to 60: 84 bytes on the wire = 672 ns at 1 Gb/s, 67.2 -> 68 at 10G.
    expect(serializationNs(42, 1e9)).toBe(672);
    expect(serializationNs(42, 10e9)).toBe(68);
  });

  it("allows 14, 18 or 22 bytes of L2 header beyond the MTU", () => {
    const b = new Uint8Array(40);
    expect(l2Allowance(b, 0, 40)).toBe(14);
    b[12] = 0x81;
    expect(l2Allowance(b, 0, 40)).toBe(18);
    b[12] = 0x88;
    b[13] = 0xa8;
    b[16] = 0x81;
    expect(l2Allowance(b, 0, 40)).toBe(22);
  });
});

describe("Link", () => {
  it("delivers after serialization plus propagation plus the receiver's processing delay", () => {
    const { w, a, b } = pair(CABLE, 300);
    a.send(0, 1514);
    w.runUntilIdle();
    expect(b.got).toEqual([{ port: 0, timeNs: 12_304 + 5_000 + 300, length: 1514 }]);
  });

  it("queues back-to-back frames behind each other", () => {
    const { w, a, b } = pair(CABLE);
    a.send(0, 1514);
    a.send(0, 1514);
    a.send(0, 100);
    w.runUntilIdle();
    expect(b.got.map((g) => g.timeNs)).toEqual([17_304, 29_608, 29_608 + serializationNs(100, 1e9)]);
  });

  it("tail-drops when the transmit queue is full, with a reason and a counter", () => {
    const { w, a, b, link } = pair(CABLE);
    for (let i = 0; i < 10; i++) a.send(0, 1000); // 1 in service + 4 queued, 5 dropped
    w.runUntilIdle();
    expect(b.got.length).toBe(5);
    expect(link.drops.get("queue-full")).toBe(5);
    expect(link.counters[0].drops).toBe(5);
    expect(link.counters[0].txFrames).toBe(5);
    expect(link.counters[1].rxFrames).toBe(5);
  });

  it("accepts again once the queue has drained", () => {
    const { w, a, b, link } = pair(CABLE);
    for (let i = 0; i < 5; i++) a.send(0, 1000);
    w.runUntil(1_000_000);
    for (let i = 0; i < 5; i++) a.send(0, 1000);
    w.runUntilIdle();
    expect(b.got.length).toBe(10);
    expect(link.drops.total).toBe(0);
  });

  it("drops frames over the MTU and allows the VLAN tag's 4 bytes", () => {
    const { w, a, b, link } = pair(CABLE);
    a.send(0, 1515);
    a.send(0, 1518, true);
    a.send(0, 1519, true);
    w.runUntilIdle();
    expect(b.got.map((g) => g.length)).toEqual([1518]);
    expect(link.drops.get("mtu-exceeded")).toBe(2);
  });

  it("drops everything on a down link, including frames in flight", () => {
    const { w, a, b, link } = pair(CABLE);
    a.send(0, 100);
    w.runUntil(100); // in flight
    link.setUp(false);
    a.send(0, 100);
    w.runUntilIdle();
    expect(b.got).toEqual([]);
    expect(link.drops.get("link-down")).toBe(2);
    link.setUp(true);
    a.send(0, 100);
    w.runUntilIdle();
    expect(b.got.length).toBe(1);
  });

  it("loses frames at the configured rate, identically for the same seed", () => {
    const run = (seed: number) => {
      const { w, a, b, link } = pair({ ...CABLE, lossRate: 0.3, queueFrames: 10_000 }, 0, seed);
      for (let i = 0; i < 2000; i++) a.send(0, 64);
      w.runUntilIdle();
      return { delivered: b.got.map((g) => g.timeNs), lost: link.drops.get("loss") };
    };
    const r1 = run(9);
    const r2 = run(9);
    const r3 = run(10);
    expect(r1).toEqual(r2);
    expect(r1.delivered).not.toEqual(r3.delivered);
    expect(r1.lost + r1.delivered.length).toBe(2000);
    // 600 expected; 4 standard deviations is about 82.
    expect(Math.abs(r1.lost - 600)).toBeLessThan(90);
  });

  it("internal connections deliver at once (plus processing delay), without MTU or queue", () => {
    const { w, a, b, link } = pair(null, 250);
    for (let i = 0; i < 50; i++) a.send(0, 9000);
    w.runUntilIdle();
    expect(b.got.length).toBe(50);
    expect(b.got.every((g) => g.timeNs === 250)).toBe(true);
    expect(link.isInternal).toBe(true);
  });

  it("pads a short frame to 60 bytes on a cable, counted padded; an internal connection does not", () => {
    const { w, a, b, link } = pair(CABLE);
    const seen: number[][] = [];
    b.receive = (port, frame, nowNs) => {
      seen.push([...frame.bytes()]);
      b.got.push({ port, timeNs: nowNs, length: frame.length });
    };
    a.env.transmit(0, Frame.fromBytes(new Uint8Array(42).fill(0xaa)));
    a.send(0, 60);
    a.send(0, 61);
    w.runUntilIdle();
    expect(b.got.map((g) => g.length)).toEqual([60, 60, 61]);
    expect(link.counters[0].txBytes).toBe(60 + 60 + 61);
    expect(link.counters[1].rxBytes).toBe(60 + 60 + 61);
    expect(seen[0]).toEqual([...new Array(42).fill(0xaa), ...new Array(18).fill(0)]);
    // Time on the wire is unchanged: it already counted the padding.
    expect(b.got[0].timeNs).toBe(serializationNs(42, 1e9) + 5_000);
    const inside = pair(null);
    inside.a.send(0, 42);
    inside.w.runUntilIdle();
    expect(inside.b.got.map((g) => g.length)).toEqual([42]);
    expect(inside.link.counters[0].txBytes).toBe(42);
  });

  it("carries both directions independently", () => {
    const { w, a, b } = pair(CABLE);
    a.send(0, 1514);
    b.send(0, 1514);
    w.runUntilIdle();
    expect(a.got[0].timeNs).toBe(17_304);
    expect(b.got[0].timeNs).toBe(17_304);
  });

  it("emits link hop records when tracing, and none otherwise", () => {
    const { w, a, link } = pair(CABLE);
    const records: HopRecord[] = [];
    a.send(0, 100);
    w.runUntilIdle();
    expect(records).toEqual([]);
    w.setTraceSink((r) => records.push(r));
    link.setUp(false);
    a.send(0, 100);
    link.setUp(true);
    a.send(0, 100, true);
    w.runUntilIdle();
    expect(records.map((r) => [r.kind, r.device, r.in, r.out, r.action])).toEqual([
      ["link", "a:p0<->b:p0", "a:p0", null, "drop"],
      ["link", "a:p0<->b:p0", "a:p0", "b:p0", "transmit"],
    ]);
    expect(records[0].reason).toBe("link is down");
    expect(records[1].vlan).toBe(0);
  });
});

describe("World", () => {
  it("counts frames sent on unconnected ports on the device", () => {
    const { w, a } = pair(CABLE);
    a.send(1, 64);
    w.runUntilIdle();
    expect(a.drops.get("port-not-connected")).toBe(1);
    expect(w.unconnectedDrops.get("a:p1")).toBe(1);
  });

  it("refuses a second link on a port and duplicate device names", () => {
    const { w, a, b } = pair(CABLE);
    expect(() =>
      w.connect(
        { device: a, port: 0, name: "x", captureName: null },
        { device: b, port: 1, name: "y", captureName: null },
        null,
      ),
    ).toThrow(/already connected/);
    expect(() => w.add(new Recorder("a"))).toThrow(/duplicate/);
  });

  it("gives each device its own seeded random stream and timers on simulated time", () => {
    const draws = (seed: number) => {
      const w = new World({ seed });
      const a = w.add(new Recorder("a"));
      const b = w.add(new Recorder("b"));
      return [a.env.random(), b.env.random()];
    };
    expect(draws(3)).toEqual(draws(3));
    expect(draws(3)[0]).not.toBe(draws(3)[1]);
    const w = new World();
    const a = w.add(new Recorder("a"));
    const fired: number[] = [];
    const h = a.env.setTimer(1000, (t) => fired.push(t));
    a.env.setTimer(2000, (t) => fired.push(t));
    a.env.cancelTimer(h);
    w.runUntilIdle();
    expect(fired).toEqual([2000]);
    expect(a.env.now()).toBe(2000);
  });

  it("setLinkUp tells both devices, and startQuietly skips device start", () => {
    const w = new World();
    const calls: string[] = [];
    class Watcher extends Recorder {
      override start(): void {
        calls.push(`${this.name}:start`);
      }
      setPortUp(port: number, isUp: boolean): void {
        calls.push(`${this.name}:${port}:${isUp ? "up" : "down"}`);
      }
    }
    const a = w.add(new Watcher("a"));
    const b = w.add(new Watcher("b"));
    const link = w.connect(
      { device: a, port: 0, name: "a:p0", captureName: null },
      { device: b, port: 0, name: "b:p0", captureName: null },
      CABLE,
    );
    w.startQuietly();
    // No device start; the unconnected port 1 of each device is marked down.
    expect(calls).toEqual(["a:1:down", "b:1:down"]);
    calls.length = 0;
    w.setLinkUp(link, false);
    expect(calls).toEqual(["a:0:down", "b:0:down"]);
    expect(link.isUp).toBe(false);
    w.start(); // already started: nothing happens
    expect(calls.length).toBe(2);
  });

  it("runs start hooks in order with the devices", () => {
    const w = new World();
    const order: string[] = [];
    class Starter extends Recorder {
      override start(): void {
        order.push(this.name);
      }
    }
    w.add(new Starter("a"));
    w.onStart(() => order.push("hook-after-a"));
    w.add(new Starter("b"));
    w.start();
    expect(order).toEqual(["a", "hook-after-a", "b"]);
  });
});
