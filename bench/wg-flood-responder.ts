/**
 * Helper process for `wg-flood.bench.ts` (not a benchmark itself): `vnet vpn listen` with the
 * endpoint's tuning given on the command line, so that the benchmark can run the responder as it
 * ships and as it was before the handshake queue, side by side on the same machine.
 *
 *   node --import tsx bench/wg-flood-responder.ts CONFIG_FILE '{"handshakeProcessing":"inline"}'
 *
 * Prints `{"event":"listening",...}` when up and, on SIGINT/SIGTERM, `{"event":"summary",...}`
 * with the counters (JSON Lines, as `vnet vpn listen --json`).
 */

import { readFileSync } from "node:fs";
import type { WgUdpEndpointTuning } from "../src/real/udp-endpoint.ts";
import { listenOnTunnel } from "../src/real/wg-tunnel-host.ts";
import { parseWgConfig } from "../src/vpn/config.ts";

const [file, tuningText] = process.argv.slice(2);
if (!file) {
  process.stderr.write("usage: wg-flood-responder CONFIG_FILE [TUNING_JSON]\n");
  process.exit(2);
}
const tuning = JSON.parse(tuningText ?? "{}") as WgUdpEndpointTuning;
const stop = new AbortController();
for (const s of ["SIGINT", "SIGTERM"] as const) process.once(s, () => stop.abort());
const line = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);
const r = await listenOnTunnel({
  config: parseWgConfig(readFileSync(file, "utf8"), file),
  tuning,
  signal: stop.signal,
  onReady: (info) => line({ event: "listening", ...info, tuning }),
});
line({ event: "summary", elapsedMs: r.elapsedMs, counters: r.counters });
