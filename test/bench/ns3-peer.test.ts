/**
 * The two sides of `bench/ns3.bench.ts` build the same data center: at 20 hosts (5 racks of 4)
 * with five fixed flows, the ns-3 program and the vnet program deliver every datagram, and the
 * frames vnet delivers over cables are exactly the frame-hops ns-3 counts (2 per datagram inside
 * a rack, 4 between racks); vnet's total adds the VM-vswitch-NIC hops at both ends. Skipped
 * where g++ or ns-3 (`libns3-dev`) is not installed. The ns-3 program is compiled once per
 * source (about 6 s, cached under tmp/ns3-build/); the runs take about a second.
 */

import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { buildNs3Program, ns3Missing } from "../../bench/ns3-build.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
const missing = ns3Missing();

interface Result {
  frameHops: number;
  cableHops?: number;
  delivered: number;
  sent: number;
  deviceDrops?: number;
  warmup: { delivered: number };
}

function lastJson(stdout: string): Result {
  return JSON.parse(stdout.trim().split("\n").pop() ?? "") as Result;
}

describe.skipIf(missing !== null)("ns-3 peer of the data-center benchmark (20 hosts)", () => {
  const dir = mkdtempSync(join(tmpdir(), "vnet-ns3-"));
  const pairs = join(dir, "pairs.txt");
  // Host i is in rack floor(i / 4): two flows inside a rack, three between racks.
  writeFileSync(pairs, "0 1\n0 5\n7 19\n12 3\n18 17\n");
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const datagrams = 10;
  const hopsPerRound = 2 + 4 + 4 + 4 + 2;

  it("ns-3 and vnet carry the same frames over the same cables", { timeout: 120_000 }, () => {
    const { binary } = buildNs3Program();
    const n = spawnSync(
      binary,
      ["--hosts=20", "--perRack=4", `--datagrams=${datagrams}`, `--pairs=${pairs}`],
      { encoding: "utf8" },
    );
    expect(n.status, n.stderr).toBe(0);
    const ns3 = lastJson(n.stdout);
    const v = spawnSync(
      process.execPath,
      [
        "--import",
        "tsx",
        join(root, "bench/ns3-vnet.ts"),
        "--hosts",
        "20",
        "--per-rack",
        "4",
        "--datagrams",
        String(datagrams),
        "--pairs",
        pairs,
      ],
      { cwd: root, encoding: "utf8" },
    );
    expect(v.status, v.stderr).toBe(0);
    const vnet = lastJson(v.stdout);

    expect(ns3.warmup.delivered).toBe(5);
    expect(vnet.warmup.delivered).toBe(5);
    expect([ns3.delivered, ns3.sent, ns3.deviceDrops]).toEqual([5 * datagrams, 5 * datagrams, 0]);
    expect([vnet.delivered, vnet.sent]).toEqual([5 * datagrams, 5 * datagrams]);
    expect(ns3.frameHops).toBe(hopsPerRound * datagrams);
    expect(vnet.cableHops).toBe(hopsPerRound * datagrams);
    // Each end adds VM -> vswitch -> NIC (or back): 4 internal hops per datagram.
    expect(vnet.frameHops).toBe((hopsPerRound + 5 * 4) * datagrams);
  });
});
