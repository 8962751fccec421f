/**
 * Loading a large topology (run by `npm run bench`, or `npm run bench -- topology`): the
 * generated 40 x 20 x 20 data center (16,000 VMs, 1.7 MB of YAML) through the whole loader
 * (fast YAML reader, zod shape check, semantic checks, MAC assignment), three times, reporting
 * the best wall-clock time and the process CPU time of that run (the machine is shared: CPU
 * time is what other processes do not inflate). Also the `yaml` library's full parse of the
 * same text, which the loader now needs only for diagnostics' positions.
 */

import { parseDocument } from "yaml";
import { generateDatacenter } from "../src/model/generate.ts";
import { loadTopologyText } from "../src/model/load-text.ts";
import { formatSummary, summarize } from "../src/model/summary.ts";

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

function measure(fn: () => void, runs: number): { wallMs: number; cpuMs: number } {
  let best = { wallMs: Number.POSITIVE_INFINITY, cpuMs: 0 };
  for (let i = 0; i < runs; i++) {
    const c = cpuMs();
    const w = performance.now();
    fn();
    const r = { wallMs: performance.now() - w, cpuMs: cpuMs() - c };
    if (r.wallMs < best.wallMs) best = r;
  }
  return best;
}

const text = generateDatacenter();
let summary = "";
const load = measure(() => {
  summary = formatSummary(summarize(loadTopologyText(text, "generated.yaml").topology));
}, 3);
const full = measure(() => {
  parseDocument(text, { uniqueKeys: false });
}, 1);
process.stdout.write(
  [
    `topology: ${(text.length / 1e6).toFixed(2)} MB of YAML: ${summary}`,
    `  loadTopologyText          ${load.wallMs.toFixed(0)} ms wall, ${load.cpuMs.toFixed(0)} ms CPU (best of 3)`,
    `  yaml parseDocument alone  ${full.wallMs.toFixed(0)} ms wall, ${full.cpuMs.toFixed(0)} ms CPU (what the fast reader saves)`,
    "",
  ].join("\n"),
);
