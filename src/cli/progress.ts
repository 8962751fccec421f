/**
 * A progress line on standard error for commands that run longer than a second (loading a
 * 16,000-VM data center, a pingall of millions of echoes). It appears only when standard error
 * is a terminal and `--quiet` was not given, is redrawn in place at most ten times a second, and
 * is erased before the command prints its answer, so redirected output never contains it.
 */

/** Whether progress may be shown at all (`--quiet` turns it off for the whole run). */
let isEnabled = true;

export function setProgressEnabled(enabled: boolean): void {
  isEnabled = enabled;
}

export interface Progress {
  /** Reports where the work is; shown once the command has run for `afterMs`. */
  update(text: string): void;
  /** Erases the line (call before printing results). */
  done(): void;
}

const SILENT: Progress = { update: () => {}, done: () => {} };

/** The command's progress line, for code that runs on its behalf (loading a file). */
let current: Progress = SILENT;

/** Reports a phase on the running command's progress line, if it has one. */
export function progressUpdate(text: string): void {
  current.update(text);
}

/** A progress line for one command, started now (and made the current one). */
export function startProgress(afterMs = 1000): Progress {
  current = makeProgress(afterMs);
  return current;
}

function makeProgress(afterMs: number): Progress {
  const stream = process.stderr;
  if (!isEnabled || !stream.isTTY) return SILENT;
  const t0 = performance.now();
  let lastDrawMs = 0;
  let isShown = false;
  return {
    update(text: string) {
      const now = performance.now();
      if (now - t0 < afterMs || now - lastDrawMs < 100) return;
      lastDrawMs = now;
      const width = Math.max(20, (stream.columns ?? 80) - 1);
      stream.write(`\r\x1b[2K${`vnet: ${text}`.slice(0, width)}`);
      isShown = true;
    },
    done() {
      if (isShown) stream.write("\r\x1b[2K");
      isShown = false;
      // Nothing reports to a finished line (a later command in this process starts its own).
      current = SILENT;
    },
  };
}
