/**
 * A private Open vSwitch for real tests: its own database and `ovs-vswitchd` with the userspace
 * datapath (`datapath_type=netdev`, no kernel module needed), run from a temporary folder and
 * stopped (with everything it made) by `stop()`. Tests use it as a physical switch facing vnet.
 */

import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export function hasOvs(): boolean {
  return ["ovsdb-server", "ovs-vswitchd", "ovs-vsctl", "ovsdb-tool"].every(
    (c) => spawnSync("sh", ["-c", `command -v ${c}`]).status === 0,
  );
}

function sh(cmd: string, args: string[], env?: NodeJS.ProcessEnv): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", env: env ?? process.env, timeout: 30_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.stderr || r.stdout || r.status}`);
  return r.stdout;
}

export class PrivateOvs {
  readonly dir = mkdtempSync(join(tmpdir(), "vnet-ovs-"));
  private readonly env: NodeJS.ProcessEnv;

  constructor() {
    this.env = { ...process.env, OVS_RUNDIR: this.dir, OVS_LOGDIR: this.dir, OVS_DBDIR: this.dir };
    sh("ovsdb-tool", ["create", join(this.dir, "conf.db"), "/usr/share/openvswitch/vswitch.ovsschema"]);
    sh(
      "ovsdb-server",
      [
        join(this.dir, "conf.db"),
        `--remote=punix:${join(this.dir, "db.sock")}`,
        `--pidfile=${join(this.dir, "ovsdb.pid")}`,
        `--unixctl=${join(this.dir, "ovsdb.ctl")}`,
        `--log-file=${join(this.dir, "ovsdb.log")}`,
        "--detach",
      ],
      this.env,
    );
    this.vsctl("--no-wait", "init");
    sh(
      "ovs-vswitchd",
      [
        `unix:${join(this.dir, "db.sock")}`,
        `--pidfile=${join(this.dir, "vswitchd.pid")}`,
        `--unixctl=${join(this.dir, "vswitchd.ctl")}`,
        `--log-file=${join(this.dir, "vswitchd.log")}`,
        "--detach",
      ],
      this.env,
    );
  }

  vsctl(...args: string[]): string {
    return sh("ovs-vsctl", [`--db=unix:${join(this.dir, "db.sock")}`, "--timeout=20", ...args], this.env);
  }

  appctl(...args: string[]): string {
    return sh("ovs-appctl", [`--target=${join(this.dir, "vswitchd.ctl")}`, ...args], this.env);
  }

  log(): string {
    const p = join(this.dir, "vswitchd.log");
    return existsSync(p) ? readFileSync(p, "utf8") : "";
  }

  stop(): void {
    for (const pid of ["vswitchd.pid", "ovsdb.pid"]) {
      const p = join(this.dir, pid);
      if (!existsSync(p)) continue;
      const n = Number(readFileSync(p, "utf8").trim());
      try {
        process.kill(n, "SIGTERM");
      } catch {}
      for (let i = 0; i < 40; i++) {
        try {
          process.kill(n, 0);
        } catch {
          break;
        }
        spawnSync("sleep", ["0.05"]);
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
