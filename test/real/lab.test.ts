/**
 * The document's data center brought up for real (`vnet up`, root): every VM a network
 * namespace, vnet's dataplane between them. Real ping over the three forwarding paths and the
 * SR-IOV bypass; `vnet trace --real` agrees with the simulator hop by hop on each; iperf3 TCP
 * and UDP cross vswitch -> ToR -> gateway -> vswitch without stalling; `vnet status` shows the
 * dataplane's counters; `vnet down` leaves nothing behind, also after the lab's process was
 * killed. Through the `vnet` command, as a user runs it. Skips with one line without root, the
 * native addon, iperf3 or ping.
 */

import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateDatacenter } from "../../src/model/generate.ts";
import { loadNative } from "../../src/real/native.ts";
import { readPcapng } from "../../src/wire/pcapng.ts";
import { hasCommand, iperf, ROOT, vnetCli } from "./lab-harness.ts";

const SEED = join(ROOT, "examples/seed-datacenter.yaml");
const LAB = `ci${process.pid % 100000}`;
const cli = vnetCli();
const vnet = cli.run;
const stateDir = cli.dir;

function labNamespaces(): string[] {
  return existsSync("/run/netns")
    ? readdirSync("/run/netns").filter((n) => n.startsWith(`vnet-${LAB}-`))
    : [];
}

const skipReason =
  process.getuid?.() !== 0
    ? "needs root"
    : loadNative() === null
      ? "the native addon is not built"
      : !hasCommand("iperf3")
        ? "iperf3 not found"
        : !hasCommand("ping")
          ? "ping not found"
          : undefined;

describe.skipIf(skipReason !== undefined)(
  "vnet up: the seed data center for real",
  { timeout: 120_000 },
  () => {
    beforeAll(() => {
      const r = vnet("up", SEED, "--name", LAB, "--detach");
      expect(r.stderr).toBe("");
      expect(r.stdout).toContain(`lab ${LAB} is up`);
      expect(r.status).toBe(0);
    });

    afterAll(() => {
      vnet("down", LAB);
      for (const ns of labNamespaces()) spawnSync("ip", ["netns", "del", ns]);
      rmSync(stateDir, { recursive: true, force: true });
    });

    it("makes one namespace per VM with the configured MAC, address and route", () => {
      expect(labNamespaces().sort()).toEqual(
        ["db1", "db2", "sriov1", "sriov2", "web1", "web2", "web3"].map((v) => `vnet-${LAB}-${v}`),
      );
      const addr = spawnSync("ip", ["-n", `vnet-${LAB}-db1`, "-j", "addr", "show", "eth0"], {
        encoding: "utf8",
      });
      const [link] = JSON.parse(addr.stdout) as {
        address: string;
        mtu: number;
        addr_info: { local: string; prefixlen: number }[];
      }[];
      expect(link.address).toBe("02:00:00:00:20:11");
      expect(link.mtu).toBe(1500);
      expect(link.addr_info.map((a) => `${a.local}/${a.prefixlen}`)).toContain("192.168.20.11/24");
      const route = spawnSync("ip", ["-n", `vnet-${LAB}-db1`, "route", "show", "default"], {
        encoding: "utf8",
      });
      expect(route.stdout).toContain("via 192.168.20.1");
    });

    it.each([
      ["web1", "192.168.10.12", "same port group, same server"],
      ["web1", "192.168.10.13", "same port group, different servers"],
      ["web1", "192.168.20.12", "different port groups"],
      ["sriov1", "192.168.10.11", "VF to vswitch"],
    ])("real ping from %s to %s (%s)", (from, to) => {
      const r = vnet("exec", LAB, from, "--", "ping", "-n", "-c", "3", "-i", "0.2", "-W", "2", to);
      expect(r.status).toBe(0);
    });

    it.each([
      ["web1", "web2", "same port group, same server: stays inside server1"],
      ["web1", "web3", "same port group, different servers: crosses the physical network via tor1"],
      [
        "web1",
        "db2",
        "different port groups, different servers: crosses the physical network via the gateway on tor1",
      ],
      ["sriov1", "web1", "crosses the physical network via tor1"],
    ])("vnet trace --real %s %s matches the simulator hop by hop", (from, to, verdict) => {
      const r = vnet("trace", "--real", LAB, from, to, "--json");
      expect(r.status).toBe(0);
      const t = JSON.parse(r.stdout) as {
        isSame: boolean;
        rows: { sim: string | null; real: string | null; isSame: boolean }[];
        real: { delivered: boolean; verdict: string; hops: unknown[] };
        sim: { verdict: string };
      };
      expect(t.rows.filter((x) => !x.isSame)).toEqual([]);
      expect(t.isSame).toBe(true);
      expect(t.real.delivered).toBe(true);
      expect(t.real.verdict).toContain(verdict);
      expect(t.real.verdict).toBe(t.sim.verdict);
      expect(t.rows.length).toBeGreaterThan(0);
    });

    it("vnet trace --real --pcap writes what the live dataplane carried", () => {
      const dir = mkdtempSync(join(tmpdir(), "vnet-realcap-"));
      try {
        const r = vnet("trace", "--real", LAB, "web1", "db1", "--pcap", dir, "--json");
        expect(r.status).toBe(0);
        const t = JSON.parse(r.stdout) as { captures: { fileName: string; frames: number }[] };
        expect(t.captures).toHaveLength(1);
        // The echo and its reply at every link end and TAP of the path (6 points each way).
        expect(t.captures[0].frames).toBeGreaterThanOrEqual(12);
        expect(existsSync(join(dir, "vnet.pcapng"))).toBe(true);
        // A real capture carries wall-clock dates (a simulated one starts at the epoch).
        const records = readPcapng(new Uint8Array(readFileSync(join(dir, "vnet.pcapng"))));
        const firstNs = Number(records[0].timeNs);
        expect(Math.abs(firstNs / 1e6 - Date.now())).toBeLessThan(10 * 60_000);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it("carries iperf3 TCP and UDP across vswitch, ToR and gateway without stalling", () => {
      const tcp = iperf(`vnet-${LAB}-db2`, `vnet-${LAB}-web1`, "192.168.20.12", 5301, ["-t", "2"]);
      expect(tcp.serverStatus).toBe(0);
      expect(tcp.status).toBe(0);
      const t = JSON.parse(tcp.stdout) as {
        end: { sum_received: { bytes: number }; sum_sent: { retransmits: number } };
        intervals: { sum: { bytes: number } }[];
      };
      // Not a speed test (the machine is shared): TCP keeps moving in every interval, and megabytes
      // arrive, which it would not with a checksum or segmentation offload mishandled.
      expect(t.end.sum_received.bytes).toBeGreaterThan(10_000_000);
      for (const i of t.intervals) expect(i.sum.bytes).toBeGreaterThan(0);

      const udp = iperf(`vnet-${LAB}-db2`, `vnet-${LAB}-web1`, "192.168.20.12", 5302, [
        "-u",
        "-b",
        "20M",
        "-t",
        "1",
      ]);
      expect(udp.serverStatus).toBe(0);
      expect(udp.status).toBe(0);
      const u = JSON.parse(udp.stdout) as {
        end: { sum: { packets: number; lost_packets: number } };
      };
      expect(u.end.sum.packets).toBeGreaterThan(1000);
      // 20 Mbit/s is far below what the dataplane carries: nearly all of it arrives.
      expect(u.end.sum.lost_packets / u.end.sum.packets).toBeLessThan(0.05);
    });

    it("vnet status shows the lab and the dataplane's counters", () => {
      const r = vnet("status", LAB, "--json");
      expect(r.status).toBe(0);
      const s = JSON.parse(r.stdout) as {
        running: boolean;
        vms: { name: string }[];
        status: { ports: { vm: string; rxFrames: number; txFrames: number }[] };
      };
      expect(s.running).toBe(true);
      // What the guests' kernels dropped on their vNICs is read from their namespaces too.
      expect(
        (s as unknown as { guestDrops: Record<string, { txDropped: number }> }).guestDrops["web1:eth0"],
      ).toMatchObject({
        txDropped: expect.any(Number),
      });
      expect(s.vms).toHaveLength(7);
      const web1 = s.status.ports.find((p) => p.vm === "web1");
      expect(web1?.rxFrames).toBeGreaterThan(1000);
      const text = vnet("status", LAB);
      expect(text.stdout).toContain(`lab ${LAB}`);
      expect(text.stdout).toMatch(/web1 +vnet-\S+-web1 +eth0/);
      // Counted as the VM sees them: web1 sent the iperf3 traffic, so it sent more than it got.
      const m = /web1 +vnet-\S+ +eth0 .* sent (\d+) received (\d+)/.exec(text.stdout);
      expect(m).not.toBeNull();
      expect(Number(m?.[1])).toBeGreaterThanOrEqual(web1?.rxFrames ?? Number.POSITIVE_INFINITY);
    });

    it("a lab too big is refused at once, leaving nothing (no state, no log)", () => {
      const big = join(stateDir, "..", `vnet-big-${process.pid}.yaml`);
      writeFileSync(big, generateDatacenter({ racks: 2, serversPerRack: 11, vmsPerServer: 50 }));
      try {
        const r = vnet("up", big, "--name", `${LAB}big`, "--detach");
        expect(r.status).toBe(2);
        expect(r.stderr).toContain("1100 VMs: a lab brings up at most 1000");
        expect(readdirSync(stateDir).filter((f) => f.startsWith(`${LAB}big`))).toEqual([]);
      } finally {
        rmSync(big, { force: true });
      }
    });

    it("refuses a second lab of the same name, an unknown VM, and exec without a command", () => {
      const again = vnet("up", SEED, "--name", LAB);
      expect(again.status).toBe(2);
      expect(again.stderr).toMatch(/already up/);
      const vm = vnet("exec", LAB, "nosuchvm", "--", "true");
      expect(vm.status).toBe(2);
      expect(vm.stderr).toMatch(/no VM "nosuchvm"/);
      const target = vnet("trace", "--real", LAB, "web1", "nosuchvm");
      expect(target.status).toBe(2);
      expect(target.stderr).toMatch(/^vnet: no VM named "nosuchvm"/);
      const none = vnet("exec", "nosuchlab", "web1", "--", "true");
      expect(none.status).toBe(2);
      expect(none.stderr).toMatch(/no lab "nosuchlab" is up/);
    });

    it("vnet down removes everything, even after the lab's process was killed", () => {
      // A daemon started inside a VM would keep its namespace alive, unnamed: down ends it.
      const sleeper = vnet("exec", LAB, "db1", "--", "sh", "-c", "sleep 300 >/dev/null 2>&1 & echo $!");
      expect(sleeper.status).toBe(0);
      const sleeperPid = Number(sleeper.stdout.trim());
      expect(existsSync(`/proc/${sleeperPid}`)).toBe(true);
      const state = JSON.parse(vnet("status", LAB, "--json").stdout) as { pid: number };
      process.kill(state.pid, "SIGKILL");
      // Until the kernel has torn the process down (its TAPs go with it).
      for (let i = 0; i < 50 && !vnet("status").stdout.includes("crashed"); i++) spawnSync("sleep", ["0.1"]);
      expect(labNamespaces().length).toBe(7);
      const crashed = vnet("status");
      expect(crashed.stdout).toContain("crashed");
      const r = vnet("down", LAB);
      expect(r.status).toBe(0);
      expect(r.stdout).toContain("7 namespaces removed");
      expect(labNamespaces()).toEqual([]);
      // Gone, or a zombie waiting for a parent that does not reap (in a container, pid 1 may not).
      const isRunning = () => {
        try {
          const stat = readFileSync(`/proc/${sleeperPid}/stat`, "utf8");
          return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
        } catch {
          return false;
        }
      };
      for (let i = 0; i < 20 && isRunning(); i++) spawnSync("sleep", ["0.05"]);
      expect(isRunning()).toBe(false);
      // The TAPs went with the process's descriptors and the namespaces.
      const links = spawnSync("ip", ["-o", "link"], { encoding: "utf8" }).stdout;
      expect(links).not.toMatch(/vt[0-9a-f]{5}x\d/);
      expect(vnet("down", LAB).stdout).toContain("nothing to remove");
    });
  },
);

if (skipReason !== undefined) {
  process.stderr.write(`vnet up (real lab): skipped (${skipReason})\n`);
}
