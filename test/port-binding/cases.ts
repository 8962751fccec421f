/**
 * The conformance suite of port bindings (`src/dataplane/port-binding.ts`): every way a device
 * port can be carried (a simulated link end, a TAP into the kernel) must behave the same to the
 * device. Each implementation's `*.case.test.ts` builds a pair of bindings whose far sides are
 * joined (a cable; two TAPs on a Linux bridge) and runs these cases against it, in the manner of
 * a router library's shared tests run against every router.
 */

import { expect, it } from "vitest";
import { DropCounters, newPortCounters } from "../../src/dataplane/counters.ts";
import type { Device, DeviceEnv } from "../../src/dataplane/device.ts";
import { Frame } from "../../src/dataplane/frame.ts";
import type { PortBinding } from "../../src/dataplane/port-binding.ts";

/** A one-port device that keeps copies of what it receives. */
export class CollectingDevice implements Device {
  readonly kind = "switch" as const;
  readonly portNames = ["p0"];
  readonly portCounters = [newPortCounters()];
  readonly drops = new DropCounters();
  readonly processingDelayNs = 0;
  readonly received: Uint8Array[] = [];
  constructor(readonly name: string) {}
  bind(_env: DeviceEnv): void {}
  start(): void {}
  receive(_port: number, frame: Frame): void {
    this.received.push(frame.buf.slice(frame.start, frame.end));
  }
}

export interface BindingPair {
  a: PortBinding;
  b: PortBinding;
  /** The devices behind each binding (what they received). */
  devA: CollectingDevice;
  devB: CollectingDevice;
  /** IP MTU of the carrier. */
  mtu: number;
  /** World time now, for `send`. */
  now(): number;
  /** Lets frames in flight arrive: resolves once `dev` has `count` frames, or after a deadline. */
  settle(dev: CollectingDevice, count: number): Promise<void>;
  /** Takes the carrier away (the cable down, the TAP closed). */
  takeDown(): void;
  close(): Promise<void>;
}

/** An Ethernet frame of `size` bytes from `src` to `dst` (locally administered MACs), numbered. */
export function testFrame(size: number, n: number, src = 0x0a, dst = 0x0b): Uint8Array {
  const b = new Uint8Array(size);
  b.set([0x02, 0, 0, 0, 0, dst, 0x02, 0, 0, 0, 0, src, 0x88, 0xb5], 0); // local experimental EtherType
  for (let i = 14; i < size; i++) b[i] = (i * 7 + n) & 0xff;
  b[14] = n >> 8;
  b[15] = n & 0xff;
  return b;
}

export function portBindingCases(make: () => Promise<BindingPair>): void {
  it("carries a frame each way with its bytes unchanged", async () => {
    const p = await make();
    try {
      const ab = testFrame(100, 1);
      const ba = testFrame(200, 2, 0x0b, 0x0a);
      p.a.send(Frame.fromBytes(ab), p.now());
      p.b.send(Frame.fromBytes(ba), p.now());
      await p.settle(p.devB, 1);
      await p.settle(p.devA, 1);
      expect(p.devB.received).toEqual([ab]);
      expect(p.devA.received).toEqual([ba]);
    } finally {
      await p.close();
    }
  });

  it("keeps the order of 200 frames of every size up to the MTU", async () => {
    const p = await make();
    try {
      const sent: Uint8Array[] = [];
      for (let n = 0; n < 200; n++) {
        const f = testFrame(60 + ((n * 97) % (p.mtu + 14 - 60 + 1)), n);
        sent.push(f);
        p.a.send(Frame.fromBytes(f), p.now());
      }
      await p.settle(p.devB, 200);
      expect(p.devB.received.length).toBe(200);
      expect(p.devB.received).toEqual(sent);
    } finally {
      await p.close();
    }
  });

  it("counts frames and bytes sent and delivered at each end", async () => {
    const p = await make();
    try {
      for (let n = 0; n < 10; n++) p.a.send(Frame.fromBytes(testFrame(100, n)), p.now());
      await p.settle(p.devB, 10);
      expect(p.a.counters.txFrames).toBe(10);
      expect(p.a.counters.txBytes).toBe(1000);
      expect(p.b.counters.rxFrames).toBe(10);
      expect(p.b.counters.rxBytes).toBe(1000);
      expect(p.a.counters.drops).toBe(0);
    } finally {
      await p.close();
    }
  });

  it("drops a frame over the MTU under mtu-exceeded, counted, and goes on", async () => {
    const p = await make();
    try {
      expect(() => p.a.send(Frame.fromBytes(testFrame(p.mtu + 14 + 1, 1)), p.now())).not.toThrow();
      expect(p.a.drops.get("mtu-exceeded")).toBe(1);
      expect(p.a.counters.drops).toBe(1);
      const ok = testFrame(p.mtu + 14, 2);
      p.a.send(Frame.fromBytes(ok), p.now());
      await p.settle(p.devB, 1);
      expect(p.devB.received).toEqual([ok]);
    } finally {
      await p.close();
    }
  });

  it("drops under link-down when the carrier is gone, counted, without throwing", async () => {
    const p = await make();
    try {
      p.takeDown();
      expect(() => p.a.send(Frame.fromBytes(testFrame(100, 1)), p.now())).not.toThrow();
      expect(p.a.drops.get("link-down")).toBe(1);
      await p.settle(p.devB, 0);
      expect(p.devB.received).toEqual([]);
    } finally {
      await p.close();
    }
  });
}
