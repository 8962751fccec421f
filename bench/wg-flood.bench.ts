/**
 * A tunnel under a handshake flood, side by side (`npm run bench -- wg-flood`; figures in
 * BENCHMARKS.md, section "VPN under a handshake flood"). Root, wireguard-go and wg needed;
 * otherwise one line says why it was skipped. Not a test: nothing here is asserted.
 *
 * For each responder, in two fresh namespaces joined by a veth pair:
 *   - namespace A runs wireguard-go as the pinging peer (the kernel's `ping` through its tun);
 *   - namespace B runs the responder, which answers those pings;
 *   - once the tunnel is up, `bench/wg-flood.ts` in namespace A (one source address and port)
 *     sends handshake initiations with a valid mac1 for the responder's public key at `--rate`
 *     per second (default 120,000, or as fast as one core goes: the achieved rate is printed);
 *   - one second into the flood, `ping` sends `--pings-per-sec` (default 100) echo requests for
 *     `--seconds` (default 10) through the tunnel, with a 1 s deadline each; the loss is the figure.
 * The responders: vnet as it was before the handshake queue (every handshake message processed in
 * the socket's callback, the system's socket buffer; `wg-flood-responder.ts` with that tuning),
 * vnet with the queue and its budget but without peer sockets (both on node:dgram, as they were
 * measured first), vnet as shipped (`vnet vpn listen`: batched native UDP when the addon is
 * built), and wireguard-go (the kernel answers the pings behind its tun).
 * Everything created is removed at the end (RealLab: processes by pid, namespaces).
 *
 *   npm run bench -- wg-flood [--seconds 10] [--rate 120000] [--pings-per-sec 100]
 */

import { loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { WgUdpEndpointCounters, WgUdpEndpointTuning } from "../src/real/udp-endpoint.ts";
import type { WgDeviceCounters } from "../src/vpn/engine-api.ts";
import { keyToBase64 } from "../src/vpn/keys.ts";
import { keypair, RealLab, realWireguardSkipReason, sh, wgConfig } from "../test/real/wireguard-harness.ts";
import { arg } from "./args.ts";

const here = dirname(fileURLToPath(import.meta.url));
const seconds = arg("seconds", 10);
const ratePerSec = arg("rate", 120_000);
const pingsPerSec = arg("pings-per-sec", 100);

interface FloodRun {
  responder: string;
  pingsSent: number;
  pingsReceived: number;
  lossPct: number;
  floodSent: number;
  floodRatePerSec: number;
  /** The vnet responder's own counters at the end (drops by reason, cookie replies). */
  notes: string;
}

const UNDERLAY_A = "10.97.0.1";
const UNDERLAY_B = "10.97.0.2";
const TUNNEL_A = "10.202.0.1";
const TUNNEL_B = "10.202.0.2";
const PORT = 51820;

interface Responder {
  label: string;
  /** vnet-rekey: `vnet vpn listen`, pinged by `vnet vpn ping` that rekeys every 2 s. */
  kind: "vnet-cli" | "vnet-tuned" | "wireguard-go" | "vnet-rekey";
  tuning?: WgUdpEndpointTuning;
}

const RESPONDERS: Responder[] = [
  {
    label: "vnet before (handshakes inline)",
    kind: "vnet-tuned",
    tuning: { handshakeProcessing: "inline", recvBufferBytes: 0, hasPeerSockets: false, udpIo: "dgram" },
  },
  {
    label: "vnet queue, no peer sockets",
    kind: "vnet-tuned",
    tuning: { hasPeerSockets: false, udpIo: "dgram" },
  },
  { label: "vnet as shipped", kind: "vnet-cli" },
  { label: "wireguard-go", kind: "wireguard-go" },
  { label: "vnet to vnet, rekey every 2 s", kind: "vnet-rekey" },
];

/** The pinging side of the vnet-rekey row: rekeys every 2 s, retries after 1 s (cookie, mac2). */
const REKEYING_ENV = { VNET_WG_REKEY_AFTER_SEC: "2", VNET_WG_REKEY_TIMEOUT_SEC: "1" };

async function runOne(responder: Responder): Promise<FloodRun> {
  const lab = new RealLab();
  try {
    const { nsA, nsB } = lab.pair({ a: UNDERLAY_A, b: UNDERLAY_B, prefixLen: 24 });
    const pinger = keypair();
    const target = keypair();
    const pingerConfig = wgConfig({
      self: pinger,
      listenPort: PORT,
      addresses: [`${TUNNEL_A}/24`],
      peer: {
        publicKey: target.publicKey,
        allowedIps: [`${TUNNEL_B}/32`],
        endpoint: { host: UNDERLAY_B, port: PORT },
      },
    });
    const isVnetPinger = responder.kind === "vnet-rekey";
    if (!isVnetPinger) await lab.wireguardGo(nsA, pingerConfig, `${TUNNEL_A}/24`);
    const targetConfig = wgConfig({
      self: target,
      listenPort: PORT,
      addresses: [`${TUNNEL_B}/24`],
      peer: { publicKey: pinger.publicKey, allowedIps: [`${TUNNEL_A}/32`] },
    });
    let listen: ReturnType<RealLab["vnet"]> | undefined;
    if (responder.kind === "vnet-cli" || responder.kind === "vnet-rekey") {
      listen = lab.vnet(nsB, ["vpn", "listen", "--config", lab.configFile(targetConfig), "--json"]);
      await listen.waitFor('"event":"listening"');
    } else if (responder.kind === "vnet-tuned") {
      listen = lab.run(nsB, process.execPath, [
        "--import",
        "tsx",
        join(here, "wg-flood-responder.ts"),
        lab.configFile(targetConfig),
        JSON.stringify(responder.tuning ?? {}),
      ]);
      await listen.waitFor('"event":"listening"');
    } else {
      await lab.wireguardGo(nsB, targetConfig, `${TUNNEL_B}/24`);
    }
    // The tunnel is up (handshake done, key confirmed) before the flood starts. `vnet vpn ping`
    // handshakes first by itself and pings all along; only its replies after the flood began count.
    const count = seconds * pingsPerSec;
    let vnetPing: ReturnType<RealLab["vnet"]> | undefined;
    if (isVnetPinger) {
      vnetPing = lab.vnet(
        nsA,
        [
          "vpn",
          "ping",
          "--config",
          lab.configFile(pingerConfig),
          TUNNEL_B,
          "-c",
          String(count + 5 * pingsPerSec),
          "-i",
          String(1 / pingsPerSec),
          "-W",
          "1",
        ],
        REKEYING_ENV,
      );
      await vnetPing.waitFor("icmp_seq=");
    } else {
      sh("ip", ["netns", "exec", nsA, "ping", "-c", "3", "-i", "0.2", "-W", "2", TUNNEL_B]);
    }

    const flooder = lab.run(nsA, process.execPath, [
      "--import",
      "tsx",
      join(here, "wg-flood.ts"),
      "--to",
      `${UNDERLAY_B}:${PORT}`,
      "--public-key",
      keyToBase64(target.publicKey),
      "--rate",
      String(ratePerSec),
      "--seconds",
      String(seconds + 2),
      "--json",
    ]);
    await flooder.waitFor('"event":"start"', 30_000);
    await new Promise((r) => setTimeout(r, 1000));
    let sent: number;
    let received: number;
    if (vnetPing) {
      const seqs = () =>
        [...vnetPing.stdout().matchAll(/bytes from \S+ icmp_seq=(\d+)/g)].map((x) => Number(x[1]));
      const floodFromSeq = Math.max(0, ...seqs()) + 1;
      await vnetPing.exited;
      const m = /(\d+) packets transmitted, (\d+) received/.exec(vnetPing.stdout());
      if (!m) throw new Error(`vnet vpn ping printed no summary: ${vnetPing.stdout()} ${vnetPing.stderr()}`);
      sent = Number(m[1]) - floodFromSeq + 1;
      received = new Set(seqs().filter((q) => q >= floodFromSeq)).size;
    } else {
      const ping = lab.run(nsA, "ping", [
        "-q",
        "-c",
        String(count),
        "-i",
        String(1 / pingsPerSec),
        "-W",
        "1",
        TUNNEL_B,
      ]);
      await ping.exited;
      const m = /(\d+) packets transmitted, (\d+) received/.exec(ping.stdout());
      if (!m) throw new Error(`ping printed no summary: ${ping.stdout()} ${ping.stderr()}`);
      sent = Number(m[1]);
      received = Number(m[2]);
    }
    await flooder.exited;
    const done = JSON.parse(flooder.stdout().trim().split("\n").at(-1) ?? "{}") as {
      sent?: number;
      ratePerSec?: number;
    };
    let notes = "";
    if (listen) {
      listen.child.kill("SIGINT");
      await listen.exited;
      const summary = listen
        .stdout()
        .trim()
        .split("\n")
        .map(
          (l) =>
            JSON.parse(l) as {
              event: string;
              counters?: { device: WgDeviceCounters & Partial<WgUdpEndpointCounters> };
            },
        )
        .find((e) => e.event === "summary");
      const d = summary?.counters?.device;
      if (d) {
        const drops = Object.entries(d.drops)
          .filter(([, n]) => n > 0)
          .map(([k, n]) => `${k} ${n}`)
          .join(", ");
        notes =
          `datagrams read ${d.rxDatagrams} (${d.peerSocketDatagrams ?? 0} on the peer socket); ` +
          `cookie replies ${d.cookieRepliesSent}; handshakes completed ${d.peers[0]?.handshakesCompleted ?? 0}; ` +
          `drops ${drops || "none"}`;
      }
    }
    return {
      responder: responder.label,
      pingsSent: sent,
      pingsReceived: received,
      lossPct: sent === 0 ? 100 : (100 * (sent - received)) / sent,
      floodSent: done.sent ?? 0,
      floodRatePerSec: done.ratePerSec ?? 0,
      notes,
    };
  } finally {
    await lab.cleanup();
  }
}

const skip = realWireguardSkipReason();
if (skip) {
  process.stdout.write(`wg-flood skipped: ${skip}\n`);
} else {
  process.stdout.write(
    `\nhandshake flood (valid mac1, one source) at ${ratePerSec}/s offered; ping ${pingsPerSec}/s for ${seconds} s through an established tunnel; load average ${loadavg()
      .map((x) => x.toFixed(2))
      .join(" ")}\n`,
  );
  const rows: FloodRun[] = [];
  for (const responder of RESPONDERS) {
    const r = await runOne(responder);
    rows.push(r);
    process.stdout.write(
      `  ${responder.label.padEnd(32)} ping loss ${r.lossPct.toFixed(1).padStart(5)}% (${r.pingsReceived}/${r.pingsSent}); flood sent ${r.floodSent} = ${Math.round(r.floodRatePerSec)}/s${r.notes ? `; ${r.notes}` : ""}\n`,
    );
  }
  process.stdout.write(
    `\n| responder | ping loss under the flood | pings answered | flood achieved |\n|---|---|---|---|\n${rows
      .map(
        (r) =>
          `| ${r.responder} | ${r.lossPct.toFixed(1)}% | ${r.pingsReceived} / ${r.pingsSent} | ${Math.round(r.floodRatePerSec / 1000)}k/s |`,
      )
      .join("\n")}\n`,
  );
}
