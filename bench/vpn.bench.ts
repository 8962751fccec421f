/**
 * WireGuard benchmarks (run by `npm run bench -- vpn`; figures in BENCHMARKS.md, section "VPN"):
 *
 * 1. mitata, one core, per crypto backend (node:crypto, @noble):
 *    - ChaCha20-Poly1305 seal + open of a 1,400-byte packet through `WgCrypto` (the raw AEAD);
 *    - the engine's transport path: a 1,400-byte IPv4 packet into `WgDevice.sendPacket` on one
 *      device, its datagram into `receiveDatagram` on the other, delivered (routing by allowed IPs,
 *      counters, nonce, replay window, source check included): one encrypt plus one decrypt;
 *    - a full handshake (initiation, response, both sides' key derivation) between two devices.
 * 2. a tunnel for real: two vnet endpoints (`WgUdpEndpoint`, node:crypto) on loopback UDP in this
 *    one process, 1,400-byte packets for a few seconds, counting what arrives decrypted;
 * 3. side by side (root, wireguard-go and iperf3 installed; skipped with a note otherwise): two
 *    wireguard-go instances in two network namespaces, iperf3 UDP with 1,400-byte inner packets
 *    and iperf3 TCP through their tun devices; then the ratio vnet / wireguard-go.
 */

import { spawnSync } from "node:child_process";
import { randomFillSync } from "node:crypto";
import { bench, do_not_optimize, group } from "mitata";
import { formatWgConfig } from "../src/vpn/config.ts";
import type { WgCrypto } from "../src/vpn/crypto.ts";
import { nobleCrypto } from "../src/vpn/crypto-noble.ts";
import { nodeCrypto } from "../src/vpn/crypto-node.ts";
import { WgDevice } from "../src/vpn/engine.ts";
import type { WgEndpoint, WgPeerInfo } from "../src/vpn/engine-api.ts";
import { generatePrivateKey, publicKeyOf } from "../src/vpn/keys.ts";
import { runAndReport } from "./report.ts";

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

const backends: WgCrypto[] = [nodeCrypto, nobleCrypto];
const opsPerIteration: Record<string, number> = {};
const BATCH = 32;

for (const crypto of backends) {
  group(`wireguard ${crypto.name}`, () => {
    const key = new Uint8Array(32).fill(7);
    const plain = ipPacket();
    const sealed = new Uint8Array(PACKET_BYTES + 16);
    const opened = new Uint8Array(PACKET_BYTES);
    let counter = 0;
    const aeadName = `${crypto.name}: AEAD seal+open 1400 B`;
    opsPerIteration[aeadName] = BATCH;
    bench(aeadName, () => {
      for (let i = 0; i < BATCH; i++) {
        crypto.seal(key, counter, undefined, plain, 0, PACKET_BYTES, sealed, 0);
        do_not_optimize(crypto.open(key, counter, undefined, sealed, 0, PACKET_BYTES + 16, opened, 0));
        counter++;
      }
    });

    const w = devicePair(crypto);
    handshakeOnce(w, w.peerOfA);
    const packet = ipPacket();
    const engineName = `${crypto.name}: engine encrypt+decrypt 1400 B`;
    opsPerIteration[engineName] = BATCH;
    bench(engineName, () => {
      for (let i = 0; i < BATCH; i++) {
        w.a.sendPacket(packet, w.now());
        w.flush();
      }
    });

    const h = devicePair(crypto);
    bench(`${crypto.name}: handshake (initiation+response)`, () => {
      handshakeOnce(h, h.peerOfA);
    });
  });
}

await runAndReport(opsPerIteration);

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
// 2. vnet <-> vnet over loopback UDP, one process.

const { WgUdpEndpoint } = await import("../src/real/udp-endpoint.ts");
const { parseWgConfig } = await import("../src/vpn/config.ts");

async function vnetTunnelPps(seconds: number): Promise<{ pps: number; sent: number; received: number }> {
  const ka = generatePrivateKey();
  const kb = generatePrivateKey();
  const cfgB = parseWgConfig(
    formatWgConfig({
      interface: {
        privateKey: kb,
        publicKey: publicKeyOf(kb),
        addresses: [],
        listenPort: undefined,
        mtu: undefined,
        line: 1,
      },
      peers: [
        {
          publicKey: publicKeyOf(ka),
          presharedKey: undefined,
          allowedIps: [{ family: 4, addr: 0x0a000001, prefixLen: 32 }],
          endpoint: undefined,
          persistentKeepaliveSec: 0,
          line: 0,
        },
      ],
    }),
  );
  let received = 0;
  const b = await WgUdpEndpoint.open({
    config: cfgB,
    bindAddress: "127.0.0.1",
    onPacket: () => {
      received++;
    },
  });
  const cfgA = parseWgConfig(
    formatWgConfig({
      interface: {
        privateKey: ka,
        publicKey: publicKeyOf(ka),
        addresses: [],
        listenPort: undefined,
        mtu: undefined,
        line: 1,
      },
      peers: [
        {
          publicKey: publicKeyOf(kb),
          presharedKey: undefined,
          allowedIps: [{ family: 4, addr: 0x0a000002, prefixLen: 32 }],
          endpoint: { host: "127.0.0.1", port: b.port, family: 4 },
          persistentKeepaliveSec: 0,
          line: 0,
        },
      ],
    }),
  );
  const a = await WgUdpEndpoint.open({ config: cfgA, bindAddress: "127.0.0.1" });
  const packet = ipPacket();
  try {
    // Handshake, then warm up.
    a.sendPacket(packet);
    const t0 = Date.now();
    while (received === 0 && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 5));
    if (received === 0) throw new Error("vnet tunnel: no handshake on loopback");
    // Bursts of 32 packets with a turn of the event loop between, so receive callbacks interleave.
    let sent = 0;
    received = 0;
    const start = process.hrtime.bigint();
    const endNs = start + BigInt(Math.round(seconds * 1e9));
    while (process.hrtime.bigint() < endNs) {
      for (let i = 0; i < 32; i++) a.sendPacket(packet);
      sent += 32;
      await new Promise((r) => setImmediate(r));
    }
    const sendEnd = process.hrtime.bigint();
    await new Promise((r) => setTimeout(r, 200)); // let the last datagrams drain
    const elapsedSec = Number(sendEnd - start) / 1e9;
    return { pps: received / elapsedSec, sent, received };
  } finally {
    await a.close();
    await b.close();
  }
}

const gbps = (pps: number, bytes = PACKET_BYTES) => ((pps * bytes * 8) / 1e9).toFixed(2);

const vnet = await vnetTunnelPps(3);
process.stdout.write(
  `\nvnet <-> vnet tunnel, loopback UDP, one process (both ends on one core), node:crypto, ${PACKET_BYTES}-byte packets:\n` +
    `  ${(vnet.pps / 1e3).toFixed(1)} k packets/s delivered = ${gbps(vnet.pps)} Gbit/s of inner packets (sent ${vnet.sent}, received ${vnet.received}, lost ${vnet.sent - vnet.received})\n`,
);

// ---------------------------------------------------------------------------------------------
// 3. wireguard-go <-> wireguard-go in namespaces, iperf3 through their tun devices.

const { RealLab, realWireguardSkipReason, sh, keypair, wgConfig } = await import(
  "../test/real/wireguard-harness.ts"
);

async function wireguardGoBaseline(): Promise<
  { udpPps: number; udpLossPct: number; tcpBps: number } | string
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
    // UDP: 1,372 bytes of payload = 1,400-byte inner IPv4 packets; unlimited rate.
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
        "0",
        "-l",
        "1372",
        "-t",
        "3",
        "-J",
      ]),
    );
    const sum = udp.end.sum;
    const received = sum.packets - sum.lost_packets;
    const udpPps = received / sum.seconds;
    const tcp = JSON.parse(
      sh("ip", ["netns", "exec", nsA, "iperf3", "-c", "10.201.0.2", "-p", "5201", "-t", "3", "-J"]),
    );
    server.kill();
    return { udpPps, udpLossPct: sum.lost_percent, tcpBps: tcp.end.sum_received.bits_per_second };
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
      `  UDP, 1400-byte inner packets: ${(go.udpPps / 1e3).toFixed(1)} k packets/s received = ${gbps(go.udpPps)} Gbit/s (iperf3 loss ${go.udpLossPct.toFixed(1)}%)\n` +
      `  TCP: ${(go.tcpBps / 1e9).toFixed(2)} Gbit/s\n` +
      `  ratio vnet/wireguard-go (packets/s): ${(vnet.pps / go.udpPps).toFixed(2)}\n`,
  );
}
