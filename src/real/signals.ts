/**
 * Process signals as an AbortSignal, so that long-running real sessions (`vnet vpn listen`, a
 * `ping` without a count) stop cleanly on Ctrl-C or `kill` and still print their summary. Only
 * `src/real/` touches process signals.
 */

export interface SignalScope {
  readonly signal: AbortSignal;
  /** Which signal ended the scope, if one did. */
  readonly received: () => NodeJS.Signals | undefined;
  /** Removes the handlers (the process's default behaviour comes back). */
  dispose(): void;
}

export function abortOnSignals(signals: readonly NodeJS.Signals[] = ["SIGINT", "SIGTERM"]): SignalScope {
  const ctl = new AbortController();
  let got: NodeJS.Signals | undefined;
  const handler = (s: NodeJS.Signals) => {
    got ??= s;
    ctl.abort();
  };
  for (const s of signals) process.on(s, handler);
  return {
    signal: ctl.signal,
    received: () => got,
    dispose: () => {
      for (const s of signals) process.off(s, handler);
    },
  };
}

/** Resolves after `ms`, or as soon as `signal` aborts (never rejects). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, Math.max(0, ms));
    function done() {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
