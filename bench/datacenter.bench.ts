/**
 * The data center at scale (`npm run bench -- datacenter`): runs `bench/datacenter.ts` in a
 * child process (so its heap and RSS are its own, and `--expose-gc` lets it measure memory
 * after a collection) with the default 40 x 20 x 20 = 16,000 VMs, and relays its report:
 * build time, memory, and forwarding throughput in frame-hops per second under steady UDP
 * traffic between random VM pairs. Extra words after `--` are ignored here; set
 * VNET_DC_ARGS="--racks 10" to run a smaller data center.
 */

import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const extra = (process.env.VNET_DC_ARGS ?? "").split(/\s+/).filter((s) => s !== "");
const r = spawnSync(
  process.execPath,
  ["--expose-gc", "--max-old-space-size=4096", "--import", "tsx", join(here, "datacenter.ts"), ...extra],
  { stdio: ["ignore", "inherit", "inherit"], cwd: join(here, "..") },
);
if (r.status !== 0) {
  process.stderr.write(`datacenter bench failed (exit ${r.status ?? r.signal})\n`);
  process.exitCode = 1;
}
