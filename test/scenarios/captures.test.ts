/**
 * Captures and determinism: `--pcap DIR` writes one pcap per link end that carried traffic,
 * named after the end, with simulated timestamps; tshark reads every one of them without a
 * malformed packet or an expert warning; two runs with the same seed give byte-identical
 * captures and JSON. (Skipped with one line when tshark is absent.)
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { memoryIo } from "../../src/cli/io.ts";
import { main } from "../../src/cli/main.ts";
import { readPcap } from "../../src/wire/pcap.ts";
import { hasTshark } from "../oracle/tshark.ts";
import { checkWithTshark } from "./tshark-check.ts";

const SEED = fileURLToPath(new URL("../../examples/seed-datacenter.yaml", import.meta.url));
const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "vnet-scn-"));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = memoryIo();
  const code = await main(argv, io);
  return { code, out: io.stdout(), err: io.stderr() };
}

function readDir(dir: string): Map<string, Uint8Array> {
  return new Map(
    readdirSync(dir)
      .sort()
      .map((f) => [f, new Uint8Array(readFileSync(join(dir, f)))]),
  );
}

describe("captures", () => {
  it("trace --pcap writes one capture per link end that carried traffic, in simulated time", async () => {
    const dir = tempDir();
    const r = await run(["trace", SEED, "web1", "web3", "--json", "--pcap", dir]);
    expect(r.code).toBe(0);
    const files = [...readDir(dir).keys()];
    // Cable ends on both sides, the two VMs' vNICs; db1 never saw the echo or the ARP.
    for (const f of [
      "server1-eth0.pcap",
      "tor1-eth1.pcap",
      "tor1-eth2.pcap",
      "server2-eth0.pcap",
      "web1-eth0.pcap",
      "web3-eth0.pcap",
    ]) {
      expect(files).toContain(f);
    }
    expect(files).not.toContain("db1-eth0.pcap");
    const web1 = readPcap(readDir(dir).get("web1-eth0.pcap")!);
    expect(web1.header.isNanosecond).toBe(true);
    // ARP request, ARP reply, echo request, echo reply (and nothing else on web1's vNIC).
    expect(web1.records.length).toBe(4);
    const times = web1.records.map((x) => Number(x.timeNs));
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    // Simulated time: the trace starts after 1 ms of start-up, and lasts microseconds.
    expect(times[0]).toBe(1_000_000);
    expect(times[3] - times[0]).toBeLessThan(200_000);
    if (hasTshark()) checkWithTshark(dir);
  });

  it.skipIf(!hasTshark())(
    "tshark reads every capture of a pingall (SR-IOV, routed, tagged) cleanly",
    async () => {
      const dir = tempDir();
      const r = await run(["pingall", SEED, "--pcap", dir]);
      expect(r.code).toBe(0);
      expect(readdirSync(dir).filter((f) => f.endsWith(".pcap")).length).toBeGreaterThan(8);
      checkWithTshark(dir);
    },
  );
  if (!hasTshark()) console.log("captures.test: tshark not installed; the tshark check is skipped");
});

describe("determinism", () => {
  it("two runs with the same seed give byte-identical captures and JSON", async () => {
    const a = tempDir();
    const b = tempDir();
    const ra = await run(["pingall", SEED, "--json", "--pcap", a]);
    const rb = await run(["pingall", SEED, "--json", "--pcap", b]);
    const strip = (s: string) => s.replaceAll(a, "DIR").replaceAll(b, "DIR");
    expect(strip(ra.out)).toBe(strip(rb.out));
    const fa = readDir(a);
    const fb = readDir(b);
    expect([...fa.keys()]).toEqual([...fb.keys()]);
    for (const [name, bytes] of fa) expect(Buffer.compare(bytes, fb.get(name)!), name).toBe(0);
    const ta = await run(["trace", SEED, "web1", "db2", "--json"]);
    const tb = await run(["trace", SEED, "web1", "db2", "--json"]);
    expect(ta.out).toBe(tb.out);
  });
});
