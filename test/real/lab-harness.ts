/**
 * What the real-mode tests share: the `vnet` command run as a user runs it (with a private state
 * folder, so tests never see each other's labs or a user's), waiting for something that takes a
 * moment (LACP, learning, a handshake), and running a system command that must succeed.
 */

import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");
const VNET = join(ROOT, "bin/vnet.js");

/** `vnet ARGS...` with its own state folder (`VNET_STATE_DIR`); `dir` is that folder. */
export function vnetCli(): {
  dir: string;
  run: (...args: string[]) => { status: number | null; stdout: string; stderr: string };
} {
  const dir = mkdtempSync(join(tmpdir(), "vnet-state-"));
  const env = { ...process.env, VNET_STATE_DIR: dir, NO_COLOR: "1" };
  return {
    dir,
    run: (...args) => {
      const r = spawnSync(process.execPath, [VNET, ...args], { encoding: "utf8", env, timeout: 120_000 });
      return { status: r.status, stdout: r.stdout, stderr: r.stderr };
    },
  };
}

/** Runs a command that must succeed; its standard output, or an error with what it said. */
export function must(cmd: string, ...args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 30_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.stderr || r.stdout || r.status}`);
  return r.stdout;
}

export function hasCommand(cmd: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;
}

/** Retries `fn` every 200 ms until it holds or `ms` pass; its last answer. */
export async function eventually(fn: () => boolean, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (fn()) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return fn();
}
