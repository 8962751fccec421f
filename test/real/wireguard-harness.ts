/**
 * Harness for the real WireGuard tests and the VPN benchmark: network namespaces joined by a veth
 * pair, wireguard-go instances configured with `wg setconf` inside a namespace, and `vnet vpn`
 * commands run inside a namespace. Everything created is recorded and removed by `cleanup()`
 * (processes killed by their own pid, namespaces deleted, which also removes their veths and tun
 * devices); tests call it from `afterAll`/`finally`.
 *
 * Names carry a `vnet-` prefix and a per-process random tag so that parallel runs never collide.
 * Traffic only goes to addresses inside these namespaces.
 */

import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseCidr } from "../../src/vpn/allowed-ips.ts";
import { formatWgConfig, type WgConfig } from "../../src/vpn/config.ts";
import { generatePrivateKey, publicKeyOf } from "../../src/vpn/keys.ts";

export const REPO = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const VNET_BIN = join(REPO, "bin", "vnet.js");

function has(cmd: string, args: string[] = ["--version"]): boolean {
  return spawnSync(cmd, args, { stdio: "ignore" }).status === 0;
}

/** Why the real WireGuard tests cannot run here, or undefined when they can. */
export function realWireguardSkipReason(): string | undefined {
  if (process.platform !== "linux") return "not Linux";
  if (process.getuid?.() !== 0) return "not root (network namespaces need root)";
  if (!has("ip", ["-V"])) return "iproute2 (ip) not installed";
  if (!has("wireguard-go")) return "wireguard-go not installed";
  if (!has("wg")) return "wireguard-tools (wg) not installed";
  if (!has("ping", ["-V"])) return "ping not installed";
  return undefined;
}

export function sh(cmd: string, args: string[], input?: string): string {
  return execFileSync(cmd, args, { input, encoding: "utf8", stdio: ["pipe", "pipe", "pipe"] });
}

export interface Keypair {
  privateKey: Uint8Array;
  publicKey: Uint8Array;
}

export function keypair(): Keypair {
  const privateKey = generatePrivateKey();
  return { privateKey, publicKey: publicKeyOf(privateKey) };
}

/** A WgConfig built in code (for wg setconf, and files for vnet). */
export function wgConfig(opts: {
  self: Keypair;
  listenPort?: number;
  addresses?: string[];
  peer: {
    publicKey: Uint8Array;
    presharedKey?: Uint8Array;
    allowedIps: string[];
    endpoint?: { host: string; port: number };
    keepaliveSec?: number;
  };
}): WgConfig {
  return {
    file: "<generated>",
    notes: [],
    interface: {
      privateKey: opts.self.privateKey,
      publicKey: opts.self.publicKey,
      addresses: (opts.addresses ?? []).map(parseCidr),
      listenPort: opts.listenPort,
      mtu: undefined,
      line: 1,
    },
    peers: [
      {
        publicKey: opts.peer.publicKey,
        presharedKey: opts.peer.presharedKey,
        allowedIps: opts.peer.allowedIps.map(parseCidr),
        endpoint: opts.peer.endpoint ? { ...opts.peer.endpoint, family: 4 } : undefined,
        persistentKeepaliveSec: opts.peer.keepaliveSec ?? 0,
        line: 3,
      },
    ],
  };
}

export interface VnetRun {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (signals map to 128+n). */
  readonly exited: Promise<number>;
  /** Resolves when stdout contains `text` (rejects after `timeoutMs`). */
  waitFor(text: string | RegExp, timeoutMs?: number): Promise<void>;
}

/** Everything one test file creates, and its removal. */
export class RealLab {
  readonly tag = `${process.pid.toString(36)}${randomBytes(2).toString("hex")}`;
  readonly dir = mkdtempSync(join(tmpdir(), "vnet-wg-"));
  private readonly namespaces: string[] = [];
  private readonly children: ChildProcess[] = [];
  private counter = 0;

  /** A fresh name: `vnet-<what><tag><n>` (at most 15 characters for interface names). */
  name(what: string): string {
    return `vnet${what}${this.tag}${this.counter++}`.slice(0, 15);
  }

  /** Two namespaces joined by a veth pair, with `a`/`b` addresses on the underlay /24. */
  pair(underlay: { a: string; b: string; prefixLen: number }): {
    nsA: string;
    nsB: string;
    ifA: string;
    ifB: string;
  } {
    const nsA = `vnet-${this.tag}-${this.counter}a`;
    const nsB = `vnet-${this.tag}-${this.counter++}b`;
    for (const ns of [nsA, nsB]) {
      sh("ip", ["netns", "add", ns]);
      this.namespaces.push(ns);
      sh("ip", ["-n", ns, "link", "set", "lo", "up"]);
    }
    const ifA = this.name("va");
    const ifB = this.name("vb");
    sh("ip", ["link", "add", ifA, "netns", nsA, "type", "veth", "peer", "name", ifB, "netns", nsB]);
    sh("ip", ["-n", nsA, "addr", "add", `${underlay.a}/${underlay.prefixLen}`, "dev", ifA]);
    sh("ip", ["-n", nsB, "addr", "add", `${underlay.b}/${underlay.prefixLen}`, "dev", ifB]);
    sh("ip", ["-n", nsA, "link", "set", ifA, "up"]);
    sh("ip", ["-n", nsB, "link", "set", ifB, "up"]);
    // Checksum offload on veth leaves UDP checksums unfilled for packets that a userspace
    // program reads back through a tun device; turn it off where ethtool is present.
    for (const [ns, dev] of [
      [nsA, ifA],
      [nsB, ifB],
    ]) {
      spawnSync("ip", ["netns", "exec", ns, "ethtool", "-K", dev, "tx", "off"], { stdio: "ignore" });
    }
    return { nsA, nsB, ifA, ifB };
  }

  /**
   * Starts wireguard-go (foreground, userspace) on a new interface in `ns`, configures it with
   * `wg setconf` (a config, or its text as is) and gives it `address` (one CIDR or several).
   * Returns the interface name.
   */
  async wireguardGo(
    ns: string,
    config: WgConfig | string,
    address: string | string[],
    opts: { mtu?: number } = {},
  ): Promise<string> {
    const ifname = this.name("wg");
    const child = spawn("ip", ["netns", "exec", ns, "wireguard-go", "-f", ifname], {
      env: { ...process.env, WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD: "1", LOG_LEVEL: "error" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.children.push(child);
    let err = "";
    child.stderr?.on("data", (d) => {
      err += d;
    });
    // The UAPI socket appears when the device is ready.
    const sockPath = `/var/run/wireguard/${ifname}.sock`;
    const deadline = Date.now() + 5000;
    for (;;) {
      if (spawnSync("test", ["-S", sockPath]).status === 0) break;
      if (child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`wireguard-go did not start on ${ifname}: ${err}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    const file = join(this.dir, `${ifname}.conf`);
    const text = typeof config === "string" ? config : formatWgConfig(config, { isForSetconf: true });
    writeFileSync(file, text, { mode: 0o600 });
    sh("ip", ["netns", "exec", ns, "wg", "setconf", ifname, file]);
    for (const addr of Array.isArray(address) ? address : [address]) {
      // nodad: an IPv6 address is usable at once (no duplicate detection on a point-to-point tun).
      sh("ip", ["-n", ns, "addr", "add", addr, "dev", ifname, ...(addr.includes(":") ? ["nodad"] : [])]);
    }
    if (opts.mtu) sh("ip", ["-n", ns, "link", "set", ifname, "mtu", String(opts.mtu)]);
    sh("ip", ["-n", ns, "link", "set", ifname, "up"]);
    return ifname;
  }

  /** Writes a configuration file for vnet (wg-quick format, with Address). */
  configFile(config: WgConfig, name = `vnet-${this.counter++}.conf`): string {
    const file = join(this.dir, name);
    writeFileSync(file, formatWgConfig(config), { mode: 0o600 });
    return file;
  }

  /** Runs `vnet ARGS...` inside `ns` (undefined: here) as a child process. */
  vnet(ns: string | undefined, args: string[], env: Record<string, string> = {}): VnetRun {
    return this.run(ns, process.execPath, [VNET_BIN, ...args], env);
  }

  /**
   * Runs `cmd ARGS...` inside `ns` (undefined: here) as a tracked child process (killed by
   * `cleanup`) whose output can be read and waited for.
   */
  run(ns: string | undefined, cmd: string, args: string[], env: Record<string, string> = {}): VnetRun {
    const child = spawn(ns ? "ip" : cmd, ns ? ["netns", "exec", ns, cmd, ...args] : args, {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.children.push(child);
    let out = "";
    let err = "";
    const waiters: (() => void)[] = [];
    child.stdout?.on("data", (d) => {
      out += d;
      for (const w of waiters) w();
    });
    child.stderr?.on("data", (d) => {
      err += d;
    });
    const exited = new Promise<number>((resolve) => {
      // "close", not "exit": only then has all of stdout been read.
      child.on("close", (code, signal) =>
        resolve(code ?? (signal === "SIGTERM" ? 143 : signal === "SIGINT" ? 130 : 128)),
      );
    });
    return {
      child,
      stdout: () => out,
      stderr: () => err,
      exited,
      waitFor: (text, timeoutMs = 15_000) =>
        new Promise<void>((resolve, reject) => {
          const isHit = () => (typeof text === "string" ? out.includes(text) : text.test(out));
          if (isHit()) return resolve();
          const t = setTimeout(
            () => reject(new Error(`timed out waiting for ${text}; stdout: ${out}; stderr: ${err}`)),
            timeoutMs,
          );
          waiters.push(() => {
            if (isHit()) {
              clearTimeout(t);
              resolve();
            }
          });
          void exited.then(() => {
            if (!isHit()) {
              clearTimeout(t);
              reject(new Error(`exited before ${text}; stdout: ${out}; stderr: ${err}`));
            }
          });
        }),
    };
  }

  /** Starts `cmd ARGS...` inside `ns` as a tracked child process (killed by `cleanup`). */
  spawnIn(ns: string, cmd: string, args: string[]): ChildProcess {
    const child = spawn("ip", ["netns", "exec", ns, cmd, ...args], { stdio: "ignore" });
    this.children.push(child);
    return child;
  }

  /** Kills what this lab started (by pid), deletes its namespaces and files. Never throws. */
  async cleanup(): Promise<void> {
    for (const c of this.children) {
      if (c.exitCode === null && c.signalCode === null && c.pid !== undefined) {
        try {
          c.kill("SIGTERM");
        } catch {
          // already gone
        }
      }
    }
    await Promise.all(
      this.children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            const t = setTimeout(() => {
              try {
                c.kill("SIGKILL");
              } catch {
                // gone
              }
              resolve();
            }, 2000);
            c.once("exit", () => {
              clearTimeout(t);
              resolve();
            });
          }),
      ),
    );
    for (const ns of this.namespaces) spawnSync("ip", ["netns", "del", ns], { stdio: "ignore" });
    rmSync(this.dir, { recursive: true, force: true });
  }
}
