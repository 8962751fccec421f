/**
 * The few Linux commands the real world runs to make and unmake what it creates: network
 * namespaces and interfaces (iproute2's `ip`), and sysctls inside a namespace. Every command is
 * run without a shell, its failure becomes a `RealModeError` naming the command and the kernel's
 * one-line complaint.
 */

import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, readlinkSync, statSync } from "node:fs";

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

/** Deletes a namespace (its processes ended, every interface in it gone) if it exists; true when it did. */
export function deleteNetns(name: string): boolean {
  if (!hasNetns(name)) return false;
  endProcessesIn([name]);
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
  run("ip", guestArgs(ns), `${lines.join("\n")}\n`);
}

function guestArgs(ns: string): string[] {
  return [
    "netns",
    "exec",
    ns,
    "sh",
    "-c",
    "sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 net.ipv4.conf.all.arp_notify=1 net.ipv4.conf.default.arp_notify=1 && exec ip -batch -",
  ];
}

/**
 * `configureGuest` for many namespaces, `parallel` at a time (each is three programs started in
 * a row, mostly waiting on the kernel: a thousand guests one by one took 50 ms each). Stops
 * starting new ones once one fails or `signal` aborts, waits for those running, then throws the
 * first failure. `onDone` counts the configured guests.
 */
export async function configureGuests(
  guests: readonly [string, string[]][],
  options: { parallel?: number; signal?: AbortSignal; onDone?: (ns: string) => void } = {},
): Promise<void> {
  const parallel = Math.max(1, options.parallel ?? 4);
  let next = 0;
  let failure: Error | null = null;
  const one = (ns: string, lines: string[]) =>
    new Promise<void>((resolve) => {
      const child = spawn("ip", guestArgs(ns), { stdio: ["pipe", "ignore", "pipe"] });
      let err = "";
      child.stderr.on("data", (d: Buffer) => {
        err += d.toString();
      });
      child.on("error", (e) => {
        failure ??=
          (e as NodeJS.ErrnoException).code === "ENOENT"
            ? new RealModeError("ip is not installed", "missing-tool")
            : new RealModeError(`ip netns exec ${ns}: ${e.message}`, "command-failed");
        resolve();
      });
      child.on("close", (code, sig) => {
        if (code !== 0 && failure === null) {
          const why = err.trim().split("\n")[0] || `exit status ${code ?? sig}`;
          failure = new RealModeError(`ip netns exec ${ns} ... ip -batch -: ${why}`, "command-failed");
        } else if (code === 0) options.onDone?.(ns);
        resolve();
      });
      child.stdin.end(`${lines.join("\n")}\n`);
    });
  const worker = async () => {
    while (failure === null && options.signal?.aborted !== true && next < guests.length) {
      const [ns, lines] = guests[next++];
      await one(ns, lines);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, guests.length) }, worker));
  if (failure !== null) throw failure;
}

/** Deletes the namespaces of `names` that exist (one process); the names gone afterwards. */
export function deleteNetnsAll(names: readonly string[]): string[] {
  const existing = names.filter(hasNetns);
  // A process started inside (`vnet exec LAB VM -- iperf3 -s -D`) would keep its namespace alive,
  // unnamed, after `ip netns del`: end them first.
  endProcessesIn(existing);
  if (existing.length > 0) {
    spawnSync("ip", ["-force", "-batch", "-"], {
      input: `${existing.map((n) => `netns del ${n}`).join("\n")}\n`,
      stdio: ["pipe", "ignore", "ignore"],
    });
  }
  return existing.filter((n) => !hasNetns(n));
}

/** The inode of each named namespace that exists ("net:[INODE]" in /proc/PID/ns/net). */
function netnsInodes(names: readonly string[]): Set<number> {
  const inodes = new Set<number>();
  for (const n of names) {
    try {
      inodes.add(statSync(`/run/netns/${n}`).ino);
    } catch {}
  }
  return inodes;
}

/** The processes whose network namespace is one of `names` (one pass over /proc). */
export function processesIn(names: readonly string[]): number[] {
  const inodes = netnsInodes(names);
  if (inodes.size === 0) return [];
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    try {
      const m = /^net:\[(\d+)\]$/.exec(readlinkSync(`/proc/${entry}/ns/net`));
      if (m !== null && inodes.has(Number(m[1]))) pids.push(pid);
    } catch {}
  }
  return pids;
}

/**
 * Ends every process inside the named namespaces: SIGTERM, up to a second to go, then SIGKILL.
 * Returns how many there were.
 */
export function endProcessesIn(names: readonly string[]): number {
  const pids = processesIn(names);
  const signal = (sig: NodeJS.Signals, list: number[]) => {
    for (const pid of list) {
      try {
        process.kill(pid, sig);
      } catch {}
    }
  };
  signal("SIGTERM", pids);
  const until = Date.now() + 1000;
  let left = pids;
  while (left.length > 0 && Date.now() < until) {
    spawnSync("sleep", ["0.05"]);
    left = left.filter((pid) => existsSync(`/proc/${pid}`) && !isZombie(pid));
  }
  signal("SIGKILL", left);
  return pids.length;
}

function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) === "Z";
  } catch {
    return true;
  }
}

/** Sets sysctls (`key=value`) inside namespace `ns`. */
export function sysctlIn(ns: string, settings: string[]): void {
  run("ip", ["netns", "exec", ns, "sysctl", "-q", "-w", ...settings]);
}

/** Whether an interface of this name exists in the current (root) namespace. */
export function hasLink(name: string): boolean {
  return existsSync(`/sys/class/net/${name}`);
}
