/**
 * The tshark check shared by the scenario tests that write captures.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "vitest";
import { captureRecords } from "../../src/wire/capture.ts";
import { tsharkPdml } from "../oracle/tshark.ts";

/**
 * Every capture in `dirs` (pcap and pcapng) through tshark: concatenated with mergecap (shipped
 * with tshark) so tshark starts once, then no packet may be malformed or draw an expert
 * warning, and tshark must see exactly the frames the files hold.
 */
export function checkWithTshark(...dirs: string[]): void {
  const files = dirs.flatMap((dir) =>
    readdirSync(dir)
      .filter((f) => f.endsWith(".pcap") || f.endsWith(".pcapng"))
      .map((f) => join(dir, f)),
  );
  expect(files.length).toBeGreaterThan(0);
  const frames = files.reduce((n, f) => n + [...captureRecords(new Uint8Array(readFileSync(f)))].length, 0);
  const tmp = mkdtempSync(join(tmpdir(), "vnet-merge-"));
  const merged = join(tmp, "all.pcapng");
  let packets: ReturnType<typeof tsharkPdml>;
  try {
    execFileSync("mergecap", ["-a", "-F", "pcapng", "-w", merged, ...files]);
    packets = tsharkPdml(merged);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  expect(packets.length).toBe(frames);
  expect(packets.filter((p) => p.isMalformed).length).toBe(0);
  expect(packets.flatMap((p) => p.expertProblems)).toEqual([]);
}
