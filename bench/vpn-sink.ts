/**
 * Helper process for `vpn.bench.ts` (not a benchmark itself): the receiving vnet WireGuard
 * endpoint of the two-process tunnel measurement, so that sender and receiver each get a core as
 * wireguard-go's two instances do. Reads `{ config, mode }` on stdin's first line (JSON: a
 * wg-quick configuration, and "fast" for the native AEAD and batched UDP or "portable" for
 * node:crypto and node:dgram), binds 127.0.0.1, prints `ready <port>`, counts decrypted packets, and answers each
 * later stdin line `report` with `received <n>`; exits when stdin closes.
 */

import { createInterface } from "node:readline";
import { WgUdpEndpoint } from "../src/real/udp-endpoint.ts";
import { parseWgConfig } from "../src/vpn/config.ts";
import { nodeCrypto } from "../src/vpn/crypto-node.ts";

let received = 0;
let ep: WgUdpEndpoint | undefined;
const rl = createInterface({ input: process.stdin });
rl.on("line", async (line) => {
  if (!ep) {
    const { config, mode } = JSON.parse(line) as { config: string; mode: "fast" | "portable" };
    ep = await WgUdpEndpoint.open({
      config: parseWgConfig(config, "<sink>"),
      ...(mode === "portable" ? { crypto: nodeCrypto, udpIo: "dgram" as const } : {}),
      bindAddress: "127.0.0.1",
      onPacket: () => {
        received++;
      },
    });
    process.stdout.write(`ready ${ep.port}\n`);
  } else if (line === "report") {
    process.stdout.write(`received ${received}\n`);
  }
});
rl.on("close", () => {
  void ep?.close();
});
