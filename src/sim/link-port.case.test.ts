/**
 * The port-binding conformance suite (`test/port-binding/cases.ts`) against the simulator's
 * binding: the two ends of a cable in a world.
 */

import { describe } from "vitest";
import { type BindingPair, CollectingDevice, portBindingCases } from "../../test/port-binding/cases.ts";
import { World } from "./world.ts";

async function cablePair(): Promise<BindingPair> {
  const world = new World({ seed: 1 });
  const devA = world.add(new CollectingDevice("a"));
  const devB = world.add(new CollectingDevice("b"));
  const link = world.connect(
    { device: devA, port: 0, name: "a:p0", captureName: null },
    { device: devB, port: 0, name: "b:p0", captureName: null },
    { rateBps: 10e9, delayNs: 1000, mtu: 1500, lossRate: 0, queueFrames: 1000, isUp: true },
  );
  world.start();
  const a = world.bindingAt(devA, 0);
  const b = world.bindingAt(devB, 0);
  if (a === null || b === null) throw new Error("no binding");
  return {
    a,
    b,
    devA,
    devB,
    mtu: 1500,
    now: () => world.now(),
    settle: async () => {
      world.runUntilIdle();
    },
    takeDown: () => world.setLinkUp(link, false),
    close: async () => {},
  };
}

describe("port binding: a simulated link end", () => {
  portBindingCases(cablePair);
});
