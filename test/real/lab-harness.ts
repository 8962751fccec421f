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

/**
 * An iperf3 run from namespace `clientNs` to `serverIp`:`port`, whose server (one test, `-1`) is
 * started in `serverNs` first; retried for a moment while the server comes up. The client's exit
 * status and JSON report (`-J`).
 */
export function iperf(
  serverNs: string,
  clientNs: string,
  serverIp: string,
  port: number,
  args: string[],
): { serverStatus: number | null; status: number | null; stdout: string } {
  const server = spawnSync("ip", ["netns", "exec", serverNs, "iperf3", "-s", "-D", "-1", "-p", String(port)]);
  let r = { status: null as number | null, stdout: "" };
  for (let attempt = 0; attempt < 20; attempt++) {
    const c = spawnSync(
      "ip",
      ["netns", "exec", clientNs, "iperf3", "-c", serverIp, "-p", String(port), "-J", ...args],
      { encoding: "utf8" },
    );
    r = { status: c.status, stdout: c.stdout };
    if (c.status === 0) break;
    spawnSync("sleep", ["0.1"]);
  }
  return { serverStatus: server.status, ...r };
}
