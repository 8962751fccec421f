/**
 * The few Linux commands the real world runs to make and unmake what it creates: network
 * namespaces and interfaces (iproute2's `ip`), and sysctls inside a namespace. Every command is
 * run without a shell, its failure becomes a `RealModeError` naming the command and the kernel's
 * one-line complaint.
 */

import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

/** A failure of the real world: missing privilege or tool, a command the kernel refused. */
export class RealModeError extends Error {
  override readonly name = "RealModeError";
  constructor(
    message: string,
    /** `not-root`, `no-native`, `missing-tool`, `command-failed`, `lab-exists`, `no-lab`, `too-big`. */
    readonly code: string,
  ) {
    super(message);
  }
}

/** Runs `cmd args...`; returns its standard output, or throws with its first line of complaint. */
export function run(cmd: string, args: string[], input?: string): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", input, stdio: ["pipe", "pipe", "pipe"] });
  if (r.error !== undefined) {
    const code = (r.error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new RealModeError(`${cmd} is not installed`, "missing-tool");
    throw new RealModeError(`${cmd} ${args.join(" ")}: ${r.error.message}`, "command-failed");
  }
  if (r.status !== 0) {
    const why = `${r.stderr}`.trim().split("\n")[0] || `exit status ${r.status}`;
    throw new RealModeError(`${cmd} ${args.join(" ")}: ${why}`, "command-failed");
  }
  return r.stdout;
}

/** Runs `ip -batch -` with one command a line (in namespace `ns` when given). */
export function ipBatch(lines: string[], ns?: string): void {
  if (lines.length === 0) return;
  run("ip", [...(ns === undefined ? [] : ["-n", ns]), "-batch", "-"], `${lines.join("\n")}\n`);
}

export function isRoot(): boolean {
  return typeof process.getuid === "function" && process.getuid() === 0;
}

/** Whether network namespace `name` exists. */
export function hasNetns(name: string): boolean {
  return existsSync(`/run/netns/${name}`);
}

/** Deletes a namespace (and every interface in it) if it exists; true when it did. */
export function deleteNetns(name: string): boolean {
  if (!hasNetns(name)) return false;
  try {
    run("ip", ["netns", "del", name]);
  } catch {
    return hasNetns(name) === false;
  }
  return true;
}

/**
 * A guest namespace in one process: IPv6 off and gratuitous ARP when an address comes up (as
 * vnet's simulated guests announce themselves), then `ip -batch` of `lines` inside it.
 */
export function configureGuest(ns: string, lines: string[]): void {
  run(
    "ip",
    [
      "netns",
      "exec",
      ns,
      "sh",
      "-c",
      "sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 net.ipv4.conf.all.arp_notify=1 net.ipv4.conf.default.arp_notify=1 && exec ip -batch -",
    ],
    `${lines.join("\n")}\n`,
  );
}

/** Deletes the namespaces of `names` that exist (one process); the names gone afterwards. */
export function deleteNetnsAll(names: readonly string[]): string[] {
  const existing = names.filter(hasNetns);
  if (existing.length > 0) {
    spawnSync("ip", ["-force", "-batch", "-"], {
      input: `${existing.map((n) => `netns del ${n}`).join("\n")}\n`,
      stdio: ["pipe", "ignore", "ignore"],
    });
  }
  return existing.filter((n) => !hasNetns(n));
}

/** Sets sysctls (`key=value`) inside namespace `ns`. */
export function sysctlIn(ns: string, settings: string[]): void {
  run("ip", ["netns", "exec", ns, "sysctl", "-q", "-w", ...settings]);
}

/** Whether an interface of this name exists in the current (root) namespace. */
export function hasLink(name: string): boolean {
  return existsSync(`/sys/class/net/${name}`);
}
