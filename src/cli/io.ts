/**
 * Where the CLI writes. Injected so tests can run commands in-process and read their output.
 */

export interface Io {
  out(text: string): void;
  err(text: string): void;
}

export const nodeIo: Io = {
  out: (text) => {
    process.stdout.write(text);
  },
  err: (text) => {
    process.stderr.write(text);
  },
};

/** An Io that collects output, for tests. */
export function memoryIo(): Io & { stdout: () => string; stderr: () => string } {
  let o = "";
  let e = "";
  return {
    out: (t) => {
      o += t;
    },
    err: (t) => {
      e += t;
    },
    stdout: () => o,
    stderr: () => e,
  };
}
