/**
 * WireGuard benchmarks (run by `npm run bench -- vpn`; figures in BENCHMARKS.md, section "VPN"):
 *
 * 1. mitata, one core, per crypto backend (the native addon's AEAD when built, node:crypto, @noble):
 *    - ChaCha20-Poly1305 seal + open of a 1,400-byte packet through `WgCrypto` (the raw AEAD);
 *    - the engine's transport path: a 1,400-byte IPv4 packet into `WgDevice.sendPacket` on one
 *      device, its datagram into `receiveDatagram` on the other, delivered (routing by allowed IPs,
 *      counters, nonce, replay window, source check included): one encrypt plus one decrypt;
 *    - a full handshake (initiation, response, both sides' key derivation) between two devices.
 * 2. a tunnel for real: two vnet endpoints (`WgUdpEndpoint`) on loopback UDP, in this one process
 *    and as two processes, 1,400-byte packets for a few seconds, counting what arrives decrypted;
 *    "portable" (node:crypto and node:dgram, what the endpoint was before the addon) and "fast"
 *    (the native AEAD and batched recvmmsg/sendmmsg), in the same run;
 * 3. side by side (root, wireguard-go and iperf3 installed; skipped with a note otherwise): two
 *    wireguard-go instances in two network namespaces, iperf3 UDP with 1,400-byte inner packets
 *    and iperf3 TCP through their tun devices; then the ratio vnet / wireguard-go.
 */

import { spawn, spawnSync } from "node:child_process";
import { randomFillSync } from "node:crypto";
import { loadavg } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { do_not_optimize, group } from "mitata";
import { nativeCrypto } from "../src/real/crypto-native.ts";
import { formatWgConfig } from "../src/vpn/config.ts";
import type { WgCrypto } from "../src/vpn/crypto.ts";
import { nobleCrypto } from "../src/vpn/crypto-noble.ts";
import { nodeCrypto } from "../src/vpn/crypto-node.ts";
import { WgDevice } from "../src/vpn/engine.ts";
import type { WgEndpoint, WgPeerInfo } from "../src/vpn/engine-api.ts";
import { generatePrivateKey, publicKeyOf } from "../src/vpn/keys.ts";
import { benchOps, runAndReport } from "./report.ts";

const PACKET_BYTES = 1400;
const SEC = 1e9;

/** A 1,400-byte IPv4/UDP packet from 10.0.0.1 to 10.0.0.2 (header checksum not needed here). */
function ipPacket(): Uint8Array {
  const p = new Uint8Array(PACKET_BYTES);
  p[0] = 0x45;
  p[2] = PACKET_BYTES >>> 8;
  p[3] = PACKET_BYTES & 0xff;
  p[8] = 64;
  p[9] = 17;
  p.set([10, 0, 0, 1], 12);
  p.set([10, 0, 0, 2], 16);
  for (let i = 28; i < PACKET_BYTES; i++) p[i] = i & 0xff;
  return p;
}

/** Two devices joined in memory: datagrams are handed over synchronously, at a settable time. */
function devicePair(crypto: WgCrypto) {
  let nowNs = 1 * SEC;
  let inFlight: { bytes: Uint8Array; to: WgEndpoint; from: WgEndpoint }[] = [];
  let delivered = 0;
  const epA = { address: "192.0.2.1", port: 51820 };
  const epB = { address: "192.0.2.2", port: 51820 };
  const keyA = generatePrivateKey();
  const keyB = generatePrivateKey();
  const mk = (key: Uint8Array, self: WgEndpoint) =>
    new WgDevice({
      privateKey: key,
      crypto,
      randomBytes: (out) => {
        randomFillSync(out);
      },
      sendDatagram: (bytes, to) => {
        inFlight.push({ bytes, to, from: self });
      },
      deliverPacket: () => {
        delivered++;
      },
    });
  const a = mk(keyA, epA);
  const b = mk(keyB, epB);
  const peerOfA = a.addPeer({ publicKey: publicKeyOf(keyB), allowedIps: ["10.0.0.2/32"], endpoint: epB });
  b.addPeer({ publicKey: publicKeyOf(keyA), allowedIps: ["10.0.0.1/32"], endpoint: epA });
  const devOf = (to: WgEndpoint) => (to.address === epA.address ? a : b);
  const flush = () => {
    while (inFlight.length > 0) {
      const batch = inFlight;
      inFlight = [];
      for (const d of batch) devOf(d.to).receiveDatagram(d.bytes, d.from, nowNs);
    }
  };
  return {
    a,
    b,
    peerOfA,
    flush,
    advance: (ns: number) => {
      nowNs += ns;
    },
    now: () => nowNs,
    delivered: () => delivered,
  };
}

function handshakeOnce(w: ReturnType<typeof devicePair>, peer: WgPeerInfo): void {
  // 100 ms apart: past the initiation rate limit, and a strictly newer TAI64N timestamp.
  w.advance(SEC / 10);
  w.a.initiateHandshake(peer, w.now());
  w.flush();
}

const native = nativeCrypto();
if (!native) process.stdout.write("native AEAD not measured: vnet's addon is not built\n");
const backends: WgCrypto[] = [...(native ? [native] : []), nodeCrypto, nobleCrypto];
const BATCH = 32;

for (const crypto of backends) {
  group(`wireguard ${crypto.name}`, () => {
    const key = new Uint8Array(32).fill(7);
    const plain = ipPacket();
    const sealed = new Uint8Array(PACKET_BYTES + 16);
    const opened = new Uint8Array(PACKET_BYTES);
    let counter = 0;
    benchOps(
      `${crypto.name}: AEAD seal+open 1400 B`,
      () => {
        for (let i = 0; i < BATCH; i++) {
          crypto.seal(key, counter, undefined, plain, 0, PACKET_BYTES, sealed, 0);
          do_not_optimize(crypto.open(key, counter, undefined, sealed, 0, PACKET_BYTES + 16, opened, 0));
          counter++;
        }
      },
      BATCH,
    );

    const w = devicePair(crypto);
    handshakeOnce(w, w.peerOfA);
    const packet = ipPacket();
    benchOps(
      `${crypto.name}: engine encrypt+decrypt 1400 B`,
      () => {
        for (let i = 0; i < BATCH; i++) {
          w.a.sendPacket(packet, w.now());
          w.flush();
        }
      },
      BATCH,
    );

    const h = devicePair(crypto);
    benchOps(`${crypto.name}: handshake (initiation+response)`, () => {
      handshakeOnce(h, h.peerOfA);
    });
  });
}

if (process.env.VNET_BENCH_SKIP_MICRO !== "1") await runAndReport();

// Sanity: the engine benchmark really delivered packets (a benchmark of drops would be a lie).
{
  const w = devicePair(nodeCrypto);
  handshakeOnce(w, w.peerOfA);
  const before = w.delivered();
  for (let i = 0; i < 100; i++) {
    w.a.sendPacket(ipPacket(), w.now());
    w.flush();
  }
  if (w.delivered() - before !== 100) throw new Error("engine benchmark setup does not deliver packets");
  const c = w.b.counters();
  if (c.dropsTotal !== 0) throw new Error(`engine benchmark setup drops: ${JSON.stringify(c.drops)}`);
}

// ---------------------------------------------------------------------------------------------
// 2. vnet <-> vnet over loopback UDP: in one process, and as two processes (one core each).

const { WgUdpEndpoint } = await import("../src/real/udp-endpoint.ts");
const { bestUdpIo } = await import("../src/real/udp-socket.ts");
const { parseWgConfig } = await import("../src/vpn/config.ts");

/** wg-quick text for a vnet endpoint with one peer. */
function endpointConfig(self: Uint8Array, peer: Uint8Array, allowed: number, endpointPort?: number): string {
  return formatWgConfig({
    interface: {
      privateKey: self,
      publicKey: publicKeyOf(self),
      addresses: [],
      listenPort: undefined,
      mtu: undefined,
      line: 1,
    },
    peers: [
      {
        publicKey: publicKeyOf(peer),
        presharedKey: undefined,
        allowedIps: [{ family: 4, addr: allowed, prefixLen: 32 }],
        endpoint: endpointPort ? { host: "127.0.0.1", port: endpointPort, family: 4 } : undefined,
        persistentKeepaliveSec: 0,
        line: 0,
      },
    ],
  });
}

interface TunnelFigure {
  pps: number;
  sent: number;
  received: number;
  /** Offered rate (undefined: as fast as the sender goes). */
  ratePps?: number;
  /** Packets delivered per second of this process's CPU time (meaningful when both ends are here). */
  ppsPerCpuSec?: number;
}

/**
 * Sends 1,400-byte packets into `a` for `seconds` in bursts of 32 with a turn of the event loop
 * between (so receive callbacks and socket writes interleave); `receivedSoFar` reads the far end.
 */
async function blast(
  a: { sendPacket(p: Uint8Array): unknown },
  seconds: number,
  receivedSoFar: () => Promise<number>,
  ratePps?: number,
): Promise<TunnelFigure> {
  const packet = ipPacket();
  a.sendPacket(packet); // handshake
  const t0 = Date.now();
  while ((await receivedSoFar()) === 0) {
    if (Date.now() - t0 > 5000) throw new Error("vnet tunnel: no handshake on loopback");
    await new Promise((r) => setTimeout(r, 5));
  }
  const before = await receivedSoFar();
  const cpuBefore = process.cpuUsage();
  let sent = 0;
  const start = process.hrtime.bigint();
  const endNs = start + BigInt(Math.round(seconds * 1e9));
  for (let now = start; now < endNs; now = process.hrtime.bigint()) {
    // Paced: send what the offered rate allows by now, at most a burst of 32 per loop turn.
    const allowed = ratePps === undefined ? sent + 32 : Math.floor((Number(now - start) / 1e9) * ratePps);
    const n = Math.min(32, allowed - sent);
    for (let i = 0; i < n; i++) a.sendPacket(packet);
    sent += Math.max(0, n);
    await new Promise((r) => setImmediate(r));
  }
  const elapsedSec = Number(process.hrtime.bigint() - start) / 1e9;
  await new Promise((r) => setTimeout(r, 300)); // let the last datagrams drain
  const received = (await receivedSoFar()) - before;
  const cpu = process.cpuUsage(cpuBefore);
  return {
    pps: received / elapsedSec,
    sent,
    received,
    ppsPerCpuSec: received / ((cpu.user + cpu.system) / 1e6),
  };
}

/** "fast": the native AEAD and batched UDP (the defaults when the addon loads); "portable": without. */
type Mode = "fast" | "portable";
const modeOptions = (mode: Mode) =>
  mode === "portable" ? { crypto: nodeCrypto, udpIo: "dgram" as const } : {};

async function vnetTunnelOneProcess(seconds: number, mode: Mode): Promise<TunnelFigure> {
  const ka = generatePrivateKey();
  const kb = generatePrivateKey();
  let received = 0;
  const b = await WgUdpEndpoint.open({
    config: parseWgConfig(endpointConfig(kb, ka, 0x0a000001)),
    ...modeOptions(mode),
    bindAddress: "127.0.0.1",
    onPacket: () => {
      received++;
    },
  });
  const a = await WgUdpEndpoint.open({
    config: parseWgConfig(endpointConfig(ka, kb, 0x0a000002, b.port)),
    ...modeOptions(mode),
    bindAddress: "127.0.0.1",
  });
  try {
    return await blast(a, seconds, async () => received);
  } finally {
    await a.close();
    await b.close();
  }
}

async function vnetTunnelTwoProcesses(seconds: number, mode: Mode): Promise<TunnelFigure> {
  const ka = generatePrivateKey();
  const kb = generatePrivateKey();
  const here = dirname(fileURLToPath(import.meta.url));
  const sink = spawn(process.execPath, ["--import", "tsx", join(here, "vpn-sink.ts")], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const lines = createInterface({ input: sink.stdout! });
  const waiting: ((l: string) => void)[] = [];
  lines.on("line", (l) => waiting.shift()?.(l));
  const ask = (text: string) =>
    new Promise<string>((resolve) => {
      waiting.push(resolve);
      sink.stdin!.write(`${text}\n`);
    });
  try {
    const ready = await ask(JSON.stringify({ config: endpointConfig(kb, ka, 0x0a000001), mode }));
    const port = Number(ready.split(" ")[1]);
    const a = await WgUdpEndpoint.open({
      config: parseWgConfig(endpointConfig(ka, kb, 0x0a000002, port)),
      ...modeOptions(mode),
      bindAddress: "127.0.0.1",
    });
    try {
      // A sweep of offered rates (as for wireguard-go below): keep the most packets delivered.
      let best: TunnelFigure = { pps: 0, sent: 0, received: 0 };
      for (const rate of [10_000, 20_000, 30_000, 60_000, 90_000, 120_000, undefined]) {
        const f = await blast(a, seconds, async () => Number((await ask("report")).split(" ")[1]), rate);
        if (f.pps > best.pps) best = { ...f, ratePps: rate };
      }
      return best;
    } finally {
      await a.close();
    }
  } finally {
    sink.stdin!.end();
    sink.kill();
  }
}

const gbps = (pps: number, bytes = PACKET_BYTES) => ((pps * bytes * 8) / 1e9).toFixed(2);
const tunnelLine = (f: TunnelFigure) =>
  `${(f.pps / 1e3).toFixed(1)} k packets/s delivered = ${gbps(f.pps)} Gbit/s of inner packets (offered ${f.ratePps === undefined ? "unlimited" : `${f.ratePps / 1e3}k/s`}; sent ${f.sent}, received ${f.received}, lost ${f.sent - f.received})`;

// The machine may be shared: say how busy it was, since these figures move with it.
process.stdout.write(
  `\nload average before the tunnel runs: ${loadavg()
    .map((x) => x.toFixed(2))
    .join(" ")}\n`,
);
const modes: Mode[] = native && bestUdpIo() === "native" ? ["portable", "fast"] : ["portable"];
const tunnels = new Map<Mode, { one: TunnelFigure; two: TunnelFigure }>();
for (const mode of modes) {
  const one = await vnetTunnelOneProcess(3, mode);
  const two = await vnetTunnelTwoProcesses(2, mode);
  tunnels.set(mode, { one, two });
  process.stdout.write(
    `\nvnet <-> vnet tunnel over loopback UDP, ${mode === "fast" ? "fast (native AEAD, recvmmsg/sendmmsg)" : "portable (node:crypto, node:dgram)"}, ${PACKET_BYTES}-byte packets:\n` +
      `  one process (both ends on one core): ${tunnelLine(one)}\n` +
      `    = ${((one.ppsPerCpuSec ?? 0) / 1e3).toFixed(1)} k packets per CPU-second of that process (both ends, sockets included)\n` +
      `  two processes (sender, receiver):     ${tunnelLine(two)}\n`,
  );
}

// ---------------------------------------------------------------------------------------------
// 3. wireguard-go <-> wireguard-go in namespaces, iperf3 through their tun devices.

const { RealLab, realWireguardSkipReason, sh, keypair, wgConfig } = await import(
  "../test/real/wireguard-harness.ts"
);

async function wireguardGoBaseline(): Promise<
  { udpPps: number; udpLossPct: number; udpRate: string; tcpBps: number } | string
> {
  const skip = realWireguardSkipReason();
  if (skip) return skip;
  if (spawnSync("iperf3", ["--version"], { stdio: "ignore" }).status !== 0) return "iperf3 not installed";
  const lab = new RealLab();
  try {
    const { nsA, nsB } = lab.pair({ a: "10.98.0.1", b: "10.98.0.2", prefixLen: 24 });
    const x = keypair();
    const y = keypair();
    await lab.wireguardGo(
      nsA,
      wgConfig({
        self: x,
        listenPort: 51820,
        peer: {
          publicKey: y.publicKey,
          allowedIps: ["10.201.0.2/32"],
          endpoint: { host: "10.98.0.2", port: 51820 },
        },
      }),
      "10.201.0.1/24",
    );
    await lab.wireguardGo(
      nsB,
      wgConfig({
        self: y,
        listenPort: 51820,
        peer: {
          publicKey: x.publicKey,
          allowedIps: ["10.201.0.1/32"],
          endpoint: { host: "10.98.0.1", port: 51820 },
        },
      }),
      "10.201.0.2/24",
    );
    sh("ip", ["netns", "exec", nsA, "ping", "-c", "2", "-i", "0.2", "10.201.0.2"]);
    const server = lab.spawnIn(nsB, "iperf3", ["-s", "-p", "5201"]);
    await new Promise((r) => setTimeout(r, 500));
    // UDP, 1,372 bytes of payload = 1,400-byte inner IPv4 packets, at a sweep of offered rates:
    // unlimited offered load mostly measures loss at the sender's tun queue, so keep the rate
    // with the most packets received.
    let best = { pps: 0, lossPct: 0, rate: "" };
    for (const rate of ["100M", "200M", "400M", "800M", "0"]) {
      const udp = JSON.parse(
        sh("ip", [
          "netns",
          "exec",
          nsA,
          "iperf3",
          "-c",
          "10.201.0.2",
          "-p",
          "5201",
          "-u",
          "-b",
          rate,
          "-l",
          "1372",
          "-t",
          "2",
          "-J",
        ]),
      );
      const sum = udp.end.sum;
      const pps = (sum.packets - sum.lost_packets) / sum.seconds;
      if (pps > best.pps) best = { pps, lossPct: sum.lost_percent, rate };
    }
    const tcp = JSON.parse(
      sh("ip", ["netns", "exec", nsA, "iperf3", "-c", "10.201.0.2", "-p", "5201", "-t", "3", "-J"]),
    );
    server.kill();
    return {
      udpPps: best.pps,
      udpLossPct: best.lossPct,
      udpRate: best.rate === "0" ? "unlimited" : `${best.rate}bit/s`,
      tcpBps: tcp.end.sum_received.bits_per_second,
    };
  } finally {
    await lab.cleanup();
  }
}

const go = await wireguardGoBaseline();
if (typeof go === "string") {
  process.stdout.write(`\nwireguard-go baseline skipped: ${go}\n`);
} else {
  process.stdout.write(
    `\nwireguard-go <-> wireguard-go, two namespaces on this machine, iperf3 through the tun devices:\n` +
      `  UDP, 1400-byte inner packets: ${(go.udpPps / 1e3).toFixed(1)} k packets/s received = ${gbps(go.udpPps)} Gbit/s (best offered rate ${go.udpRate}, iperf3 loss ${go.udpLossPct.toFixed(1)}%)\n` +
      `  TCP: ${(go.tcpBps / 1e9).toFixed(2)} Gbit/s\n` +
      [...tunnels]
        .map(
          ([mode, t]) =>
            `  ratio vnet ${mode}/wireguard-go (packets/s): one process ${(t.one.pps / go.udpPps).toFixed(2)}, two processes ${(t.two.pps / go.udpPps).toFixed(2)}\n`,
        )
        .join(""),
  );
}
