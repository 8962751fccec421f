/**
 * What the forwarding benchmarks share: a world that forwards nowhere (`sinkEnv`) and the
 * allocation check (a million frames per path, counting garbage collections).
 */

import type { DeviceEnv } from "../src/dataplane/device.ts";
import type { Frame } from "../src/dataplane/frame.ts";

/** A world that forwards nowhere; `onTransmit` may restore the frame for the next round. */
export function sinkEnv(onTransmit: (port: number, frame: Frame) => void): DeviceEnv {
  return {
    transmit: onTransmit,
    setTimer: () => 0,
    cancelTimer: () => {},
    now: () => 0,
    random: () => 0,
    isTracing: false,
    trace: () => {},
  };
}

/**
 * Runs each path (one call = `batch` frames) for about a million frames and prints the garbage
 * collections and, without one, the heap growth per frame. A collection can also be set off by
 * garbage left from before the loop (mitata, timers), so a path gets up to three tries; one clean
 * million is the proof, a real per-frame allocation (16 bytes and up) sets off collections in
 * every try. A path that collects in all three tries fails the check: the bench says so and the
 * process exits with status 1 (the forwarding path must allocate nothing per frame).
 */
export async function checkAllocations(
  paths: readonly (readonly [string, () => void])[],
  batch: number,
  nameWidth = 28,
): Promise<void> {
  let gcs = 0;
  const observer = new PerformanceObserver((list) => {
    gcs += list.getEntries().length;
  });
  observer.observe({ entryTypes: ["gc"] });
  const rounds = Math.ceil(1e6 / batch);
  process.stdout.write("\nallocation check (known unicast, ~1M frames each):\n");
  for (const [name, fn] of paths) {
    let result = "";
    let isClean = false;
    for (let attempt = 1; attempt <= 3; attempt++) {
      await new Promise((r) => setTimeout(r, 20));
      gcs = 0;
      const heapBefore = process.memoryUsage().heapUsed;
      for (let r = 0; r < rounds; r++) fn();
      const grownBytes = process.memoryUsage().heapUsed - heapBefore;
      await new Promise((r) => setTimeout(r, 20));
      // Without a collection in between, heap growth is what the loop allocated.
      const perFrame = gcs === 0 ? `${(grownBytes / (rounds * batch)).toFixed(3)} bytes/frame` : "n/a";
      result = `garbage collections: ${gcs}, heap growth ${perFrame}${attempt > 1 ? ` (try ${attempt})` : ""}`;
      if (gcs === 0) {
        isClean = true;
        break;
      }
    }
    process.stdout.write(`  ${name.padEnd(nameWidth)} ${result}${isClean ? "" : "  ALLOCATES"}\n`);
    if (!isClean) process.exitCode = 1;
  }
  observer.disconnect();
}
