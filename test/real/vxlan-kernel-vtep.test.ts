/**
 * The Linux kernel's VXLAN device as a remote VTEP in a vnet VNI (root). `examples/external-
 * vxlan.yaml` runs as a lab: two hypervisor VTEPs in vnet, VNI 5001, and tor1's external port in
 * the underlay VLAN, a TAP this test gives to a namespace holding a kernel `vxlan` device (VNI
 * 5001, UDP 4789) as the third VTEP. Ping and iperf3 TCP cross between the kernel's side and
 * vnet's VMs both ways; tshark on the TAP decodes the frames as VXLAN with the inner ICMP.
 * Skips with one line without root, the native addon, iperf3 or tshark.
 */

import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadNative } from "../../src/real/native.ts";
import { eventually, hasCommand, iperf, must, ROOT, vnetCli } from "./lab-harness.ts";

const FILE = join(ROOT, "examples/external-vxlan.yaml");
const LAB = `kvx${process.pid % 100000}`;
const NS = `vnet-kvtep-${process.pid}`;
const cli = vnetCli();
const vnet = cli.run;
const stateDir = cli.dir;

const skipReason =
  process.getuid?.() !== 0
    ? "needs root"
    : loadNative() === null
      ? "the native addon is not built"
      : !hasCommand("iperf3")
        ? "iperf3 not found"
        : !hasCommand("tshark")
          ? "tshark not found"
          : undefined;

describe.skipIf(skipReason !== undefined)(
  "the kernel's VXLAN as a VTEP in a vnet VNI",
  { timeout: 120_000 },
  () => {
    beforeAll(() => {
      const up = vnet("up", FILE, "--name", LAB, "--detach");
      expect(up.stderr).toBe("");
      expect(up.status).toBe(0);
      must("ip", "netns", "add", NS);
      must("ip", "netns", "exec", NS, "sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1");
      must("ip", "link", "set", "vnet-kvtep", "netns", NS);
      const lines = [
        "addr add 10.100.0.50/24 dev vnet-kvtep",
        "link set vnet-kvtep mtu 1600 up",
        "link add vx5001 type vxlan id 5001 local 10.100.0.50 dstport 4789 nolearning",
        "link set vx5001 mtu 1500",
        "addr add 192.168.50.50/24 dev vx5001",
        "link set vx5001 up",
        "link set lo up",
      ];
      spawnSync("ip", ["-n", NS, "-batch", "-"], { input: `${lines.join("\n")}\n` });
      // Head-end replication on the kernel's side: broadcast to both of vnet's VTEPs.
      for (const vtep of ["10.100.0.11", "10.100.0.12"]) {
        must("bridge", "-n", NS, "fdb", "append", "00:00:00:00:00:00", "dev", "vx5001", "dst", vtep);
      }
    });

    afterAll(() => {
      vnet("down", LAB);
      spawnSync("ip", ["netns", "del", NS]);
      rmSync(stateDir, { recursive: true, force: true });
    });

    it("pings across VNI 5001 from the kernel's VTEP to vnet's VMs and back", async () => {
      const ping = (ns: string[], ip: string, n = 1) =>
        spawnSync("ip", ["netns", "exec", ...ns, "ping", "-n", "-c", String(n), "-i", "0.2", "-W", "1", ip])
          .status === 0;
      expect(await eventually(() => ping([NS], "192.168.50.11"), 10_000)).toBe(true);
      expect(ping([NS], "192.168.50.12", 3)).toBe(true);
      // And from a VM of vnet's to the kernel's side (flooded ARP reaches it through the flood list).
      const fromVm = vnet(
        "exec",
        LAB,
        "a2",
        "--",
        "ping",
        "-n",
        "-c",
        "3",
        "-i",
        "0.2",
        "-W",
        "1",
        "192.168.50.50",
      );
      expect(fromVm.status).toBe(0);
    });

    it("tshark on the TAP decodes VXLAN (VNI 5001) carrying the inner ICMP", async () => {
      const cap = spawnSync(
        "sh",
        [
          "-c",
          `ip netns exec ${NS} tshark -i vnet-kvtep -a duration:4 -c 4 -f "udp port 4789" -T fields -e vxlan.vni -e ip.src -e icmp.type -E separator=";" -E aggregator=, 2>/dev/null & sleep 1.5; ip netns exec ${NS} ping -n -c 2 -i 0.2 192.168.50.11 >/dev/null; wait`,
        ],
        { encoding: "utf8", timeout: 30_000 },
      );
      const rows = cap.stdout
        .trim()
        .split("\n")
        .filter((l) => l !== "")
        .map((l) => l.split(";"));
      // Every frame in the segment's VNI; the echo frames (ARP may come between) carry ICMP inside.
      for (const r of rows) expect(r[0]).toBe("5001");
      const echoes = rows.filter((r) => r[2] !== undefined && r[2] !== "");
      expect(echoes.length, cap.stdout + cap.stderr).toBeGreaterThanOrEqual(2);
      for (const r of echoes) {
        // Outer and inner source addresses, and an echo request (8) or reply (0) inside.
        expect(r[1]).toMatch(/^10\.100\.0\.\d+,192\.168\.50\.\d+$/);
        expect(["0", "8"]).toContain(r[2]);
      }
    });

    it("carries iperf3 TCP across the segment", () => {
      const r = iperf(`vnet-${LAB}-a1`, NS, "192.168.50.11", 5311, ["-t", "2"]);
      expect(r.serverStatus).toBe(0);
      expect(r.status).toBe(0);
      const j = JSON.parse(r.stdout) as {
        end: { sum_received: { bytes: number } };
        intervals: { sum: { bytes: number } }[];
      };
      expect(j.end.sum_received.bytes).toBeGreaterThan(5_000_000);
      for (const i of j.intervals) expect(i.sum.bytes).toBeGreaterThan(0);
    });
  },
);

if (skipReason !== undefined) process.stderr.write(`kernel VXLAN VTEP: skipped (${skipReason})\n`);
