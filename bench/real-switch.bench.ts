/**
 * Two namespaces through one switch, side by side (`npm run bench -- real-switch`; figures in
 * BENCHMARKS.md, section "Real mode: a vswitch between namespaces"). Root, iperf3 and the native
 * addon needed (Open vSwitch for its row); otherwise one line says why. Not a test.
 *
 * The same two hosts (10.77.0.1 and 10.77.0.2, MTU 1500) joined by, in turn:
 *   - vnet: a lab of one server with one vswitch and one port group (`vnet up`, two TAPs);
 *   - the Linux bridge: two veth pairs on a bridge in the kernel;
 *   - Open vSwitch's userspace datapath (`datapath_type=netdev`, the kind that runs here without
 *     the kernel module): two veth pairs on a bridge, TX checksum offload off on the veths
 *     (without it TCP stalls through a userspace switch).
 * For each: 64-byte UDP, iperf3 `-u -l 64 -b 0` for `--seconds`: packets per second *received*;
 * then iperf3 TCP for `--seconds`: the receiver's throughput. Everything made is removed.
 *
 *   npm run bench -- real-switch [--seconds 5]
 */

import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadNative } from "../src/real/native.ts";
import { hasOvs, PrivateOvs } from "../test/real/ovs-harness.ts";
import { arg } from "./args.ts";

const here = dirname(fileURLToPath(import.meta.url));
const seconds = arg("seconds", 5);
const VNET = join(here, "../bin/vnet.js");
// --paths vnet,bridge,direct,ovs: only these rows (all by default).
const pathsAt = process.argv.indexOf("--paths");
const only = new Set(
  pathsAt < 0 ? ["vnet", "vnet-syscalls", "bridge", "direct", "ovs"] : process.argv[pathsAt + 1].split(","),
);

function sh(cmd: string, ...args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 60_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.stderr || r.stdout}`);
  return r.stdout;
}

function has(cmd: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;
}

interface Row {
  path: string;
  /** Frames per second the switch put on the receiver's interface (its rx counter) under the flood. */
  forwardedPps: number;
  /** Datagrams per second the receiving iperf3 read under the flood. */
  udpPps: number;
  udpLossPct: number;
  /** The highest offered rate carried with at most ZERO_LOSS of loss end to end (RFC 2544's throughput, by bisection). */
  zeroLossPps: number;
  tcpMbps: number;
}

/** Loss allowed at "zero loss": a shared machine drops the odd datagram in the receiver's socket. */
const ZERO_LOSS = 0.001;
const PAYLOAD = 64;

interface IperfEnd {
  end: {
    sum?: { packets: number; lost_packets: number; seconds: number };
    sum_received?: { bits_per_second: number };
  };
}

let nextPort = 5401;

function iperf(a: string, b: string, secs: number, args: string[]): IperfEnd {
  const port = String(nextPort++);
  sh("ip", "netns", "exec", b, "iperf3", "-s", "-D", "-1", "-p", port);
  spawnSync("sleep", ["0.3"]);
  const r = spawnSync(
    "ip",
    ["netns", "exec", a, "iperf3", "-c", "10.77.0.2", "-p", port, "-t", String(secs), "-J", ...args],
    { encoding: "utf8", timeout: (secs + 20) * 1000 },
  );
  return JSON.parse(r.stdout) as IperfEnd;
}

function rxPackets(ns: string): number {
  return Number(sh("ip", "netns", "exec", ns, "cat", "/sys/class/net/eth0/statistics/rx_packets").trim());
}

/** iperf3 from namespace `a` to the server in `b` at 10.77.0.2: UDP 64 B pps, then TCP Mbit/s. */
function measure(path: string, a: string, b: string): Row {
  // Warm the path (ARP, learning) before measuring.
  spawnSync("ip", ["netns", "exec", a, "ping", "-c", "2", "-i", "0.2", "-W", "1", "10.77.0.2"]);
  const rx0 = rxPackets(b);
  const udp = iperf(a, b, seconds, ["-u", "-l", String(PAYLOAD), "-b", "0"]).end.sum;
  const forwarded = rxPackets(b) - rx0;
  const received = udp === undefined ? 0 : udp.packets - udp.lost_packets;
  // Zero-loss rate: bisect the offered rate (iperf3 paces it), 2-second trials.
  let lo = 0;
  let hi = Math.max(20_000, Math.round((udp?.packets ?? 0) / Math.max(udp?.seconds ?? 1, 0.1)) * 1.2);
  for (let i = 0; i < 7; i++) {
    const rate = Math.round((lo + hi) / 2);
    const t = iperf(a, b, 2, ["-u", "-l", String(PAYLOAD), "-b", String(rate * PAYLOAD * 8)]).end.sum;
    const ok = t !== undefined && t.packets > 0 && t.lost_packets / t.packets <= ZERO_LOSS;
    if (ok) lo = rate;
    else hi = rate;
  }
  const tcp = iperf(a, b, seconds, []).end.sum_received;
  return {
    path,
    forwardedPps: Math.round(forwarded / (udp?.seconds ?? seconds)),
    udpPps: udp === undefined ? 0 : Math.round(received / udp.seconds),
    udpLossPct: udp === undefined || udp.packets === 0 ? 0 : (100 * udp.lost_packets) / udp.packets,
    zeroLossPps: lo,
    tcpMbps: tcp === undefined ? 0 : Math.round(tcp.bits_per_second / 1e6),
  };
}

/** Two namespaces with one veth each, the other ends returned (to plug into a switch). */
function twoHosts(
  tag: string,
  txOff: boolean,
): { a: string; b: string; ports: string[]; cleanup: () => void } {
  const ns = [`vnet-bench-${tag}-a`, `vnet-bench-${tag}-b`];
  const ports = [`vb${tag}a`, `vb${tag}b`];
  ns.forEach((n, i) => {
    sh("ip", "netns", "add", n);
    sh("ip", "link", "add", ports[i], "type", "veth", "peer", "name", `${ports[i]}n`);
    sh("ip", "link", "set", `${ports[i]}n`, "netns", n);
    sh("ip", "-n", n, "link", "set", `${ports[i]}n`, "name", "eth0");
    sh("ip", "-n", n, "addr", "add", `10.77.0.${i + 1}/24`, "dev", "eth0");
    sh("ip", "-n", n, "link", "set", "eth0", "up");
    sh("ip", "-n", n, "link", "set", "lo", "up");
    sh("ip", "link", "set", ports[i], "up");
    if (txOff) {
      spawnSync("ip", ["netns", "exec", n, "ethtool", "-K", "eth0", "tx", "off"]);
      spawnSync("ethtool", ["-K", ports[i], "tx", "off"]);
    }
  });
  return {
    a: ns[0],
    b: ns[1],
    ports,
    cleanup: () => {
      for (const n of ns) spawnSync("ip", ["netns", "del", n]);
      for (const p of ports) spawnSync("ip", ["link", "del", p]);
    },
  };
}

const skip =
  process.getuid?.() !== 0
    ? "needs root"
    : loadNative() === null
      ? "the native addon is not built"
      : !has("iperf3")
        ? "iperf3 not found"
        : null;

if (skip !== null) {
  process.stdout.write(`real-switch: skipped (${skip})\n`);
} else {
  const rows: Row[] = [];
  process.stdout.write(`load average before: ${loadavg()[0].toFixed(2)}\n`);

  // vnet: one server, one vswitch, one port group, two VMs.
  const vnetRow = (label: string, extraEnv: Record<string, string>) => {
    const dir = mkdtempSync(join(tmpdir(), "vnet-bench-"));
    const file = join(dir, "two-vms.yaml");
    writeFileSync(
      file,
      `name: bench-two-vms
servers:
  s1:
    nics: [eth0]
    vswitches:
      vs0:
        uplinks: [eth0]
        portGroups: { pg: { vlan: 10 } }
    vms:
      h1: { nics: [{ portGroup: pg, ip: 10.77.0.1/24 }] }
      h2: { nics: [{ portGroup: pg, ip: 10.77.0.2/24 }] }
`,
    );
    const env = { ...process.env, VNET_STATE_DIR: dir, ...extraEnv };
    const up = spawnSync(process.execPath, [VNET, "up", file, "--name", "benchsw", "--detach"], {
      encoding: "utf8",
      env,
    });
    if (up.status !== 0) throw new Error(`vnet up: ${up.stderr}`);
    try {
      rows.push(measure(label, "vnet-benchsw-h1", "vnet-benchsw-h2"));
    } finally {
      spawnSync(process.execPath, [VNET, "down", "benchsw"], { env });
      rmSync(dir, { recursive: true, force: true });
    }
  };
  if (only.has("vnet")) vnetRow("vnet vswitch (TAP, io_uring batches)", {});
  // The same with one read()/write() system call per frame (the first version's I/O).
  if (only.has("vnet-syscalls"))
    vnetRow("vnet vswitch (TAP, a syscall per frame)", { VNET_NO_IO_URING: "1" });

  // The Linux bridge.
  if (only.has("bridge")) {
    const br = twoHosts("br", false);
    try {
      sh("ip", "link", "add", "vnetbenchbr", "type", "bridge");
      for (const p of br.ports) sh("ip", "link", "set", p, "master", "vnetbenchbr");
      sh("ip", "link", "set", "vnetbenchbr", "up");
      rows.push(measure("Linux bridge (kernel)", br.a, br.b));
    } finally {
      spawnSync("ip", ["link", "del", "vnetbenchbr"]);
      br.cleanup();
    }
  }

  // No switch at all: one veth pair from namespace to namespace. The ceiling for any switch on
  // this machine (the same sender, receiver and kernel paths, nothing between them).
  if (only.has("direct")) {
    const ns = ["vnet-bench-direct-a", "vnet-bench-direct-b"];
    try {
      for (const n of ns) sh("ip", "netns", "add", n);
      sh(
        "ip",
        "link",
        "add",
        "vbdirect",
        "netns",
        ns[0],
        "type",
        "veth",
        "peer",
        "name",
        "vbdirectp",
        "netns",
        ns[1],
      );
      const ends = ["vbdirect", "vbdirectp"];
      ns.forEach((n, i) => {
        sh("ip", "-n", n, "link", "set", ends[i], "name", "eth0");
        sh("ip", "-n", n, "addr", "add", `10.77.0.${i + 1}/24`, "dev", "eth0");
        sh("ip", "-n", n, "link", "set", "eth0", "up");
        sh("ip", "-n", n, "link", "set", "lo", "up");
      });
      rows.push(measure("no switch (one veth pair: the ceiling)", ns[0], ns[1]));
    } finally {
      for (const n of ns) spawnSync("ip", ["netns", "del", n]);
    }
  }

  // Open vSwitch, userspace datapath.
  if (!only.has("ovs")) {
    // not asked for
  } else if (hasOvs()) {
    const hosts = twoHosts("ovs", true);
    const ovs = new PrivateOvs();
    try {
      ovs.vsctl("add-br", "br0", "--", "set", "bridge", "br0", "datapath_type=netdev");
      for (const p of hosts.ports) ovs.vsctl("add-port", "br0", p);
      rows.push(measure("Open vSwitch 3.1 userspace (netdev)", hosts.a, hosts.b));
    } finally {
      ovs.stop();
      hosts.cleanup();
    }
  } else process.stdout.write("Open vSwitch: not installed, its row skipped\n");

  const num = (n: number) => n.toLocaleString("en-US");
  process.stdout.write(
    `\n${"path".padEnd(40)} ${"forwarded pps".padStart(14)} ${"iperf3 pps".padStart(11)} ${"loss".padStart(5)} ${"0-loss pps".padStart(11)} ${"TCP Mbit/s".padStart(11)}\n`,
  );
  for (const r of rows) {
    process.stdout.write(
      `${r.path.padEnd(40)} ${num(r.forwardedPps).padStart(14)} ${num(r.udpPps).padStart(11)} ${`${r.udpLossPct.toFixed(0)}%`.padStart(5)} ${num(r.zeroLossPps).padStart(11)} ${num(r.tcpMbps).padStart(11)}\n`,
    );
  }
  const vnet = rows.find((r) => r.path.startsWith("vnet")) ?? rows[0];
  const ratios = (other: Row | undefined, name: string) => {
    if (other === undefined || other.udpPps === 0) return;
    const x = (v: number, o: number) => (o > 0 ? `${(v / o).toFixed(2)}x` : "-");
    process.stdout.write(
      `vnet / ${name}: forwarded ${x(vnet.forwardedPps, other.forwardedPps)}, iperf3 received ${x(vnet.udpPps, other.udpPps)}, zero-loss ${x(vnet.zeroLossPps, other.zeroLossPps)}, TCP ${x(vnet.tcpMbps, other.tcpMbps)}\n`,
    );
  };
  ratios(
    rows.find((r) => r.path.startsWith("Open vSwitch")),
    "OVS userspace",
  );
  ratios(
    rows.find((r) => r.path.startsWith("Linux bridge")),
    "Linux bridge",
  );
  ratios(
    rows.find((r) => r.path.startsWith("no switch")),
    "no switch",
  );
  process.stdout.write(`load average after: ${loadavg()[0].toFixed(2)}\n`);
}
