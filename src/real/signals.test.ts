/**
 * Tests for signal scopes and abortable sleeps: a real signal to this process aborts the scope
 * and is reported; a disposed scope no longer listens; `sleep` ends early on abort.
 */

import { describe, expect, it } from "vitest";
import { abortOnSignals, sleep } from "./signals.ts";

describe("abortOnSignals", () => {
  it("aborts on a signal delivered to the process and says which", async () => {
    const scope = abortOnSignals(["SIGUSR2"]);
    try {
      expect(scope.signal.aborted).toBe(false);
      process.kill(process.pid, "SIGUSR2");
      for (let i = 0; i < 100 && !scope.signal.aborted; i++) await sleep(5);
      expect(scope.signal.aborted).toBe(true);
      expect(scope.received()).toBe("SIGUSR2");
    } finally {
      scope.dispose();
    }
    expect(process.listenerCount("SIGUSR2")).toBe(0);
  });
});

describe("sleep", () => {
  it("returns at once when already aborted, and early when aborted meanwhile", async () => {
    const done = new AbortController();
    done.abort();
    let isDone = false;
    await sleep(60_000, done.signal).then(() => {
      isDone = true;
    });
    expect(isDone).toBe(true);
    const later = new AbortController();
    const p = sleep(60_000, later.signal);
    later.abort();
    await p; // would time the test out if the abort were ignored
    expect(later.signal.aborted).toBe(true);
  });
});
