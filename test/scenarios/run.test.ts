/**
 * Scenario: failures over time (`vnet run`) and what-if (`vnet reach --fail`). A server with two
 * uplinks to two switches loses its active uplink's cable: carrier loss is immediate, the
 * vswitch fails over at once, so at most the echoes in flight at that instant are lost; the
 * cable back, it fails back. A switch that is the only path fails and recovers: exactly the
 * echoes sent during the outage are lost. Reach --fail names the pairs that lose reachability.
 * Same file and seed, same bytes.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { memoryIo } from "../../src/cli/io.ts";
import { main } from "../../src/cli/main.ts";
import { Network } from "../../src/network.ts";

const DUAL = fileURLToPath(new URL("./topologies/dual-homed.yaml", import.meta.url));
const FAILOVER = fileURLToPath(new URL("./topologies/failover.yaml", import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), "vnet-run-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function vnet(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = memoryIo();
  const code = await main(argv, io);
  return { code, out: io.stdout(), err: io.stderr() };
}

/** The dual-homed topology with its `down` moved to `downAt` (a time as the file writes it). */
function dualHomed(downAt = "2s"): Network {
  const text = readFileSync(DUAL, "utf8").replace("at: 2s, down", `at: ${downAt}, down`);
  return Network.fromText(text, "dual-homed.yaml");
}

const BOTH_WAYS = [
  ["web1", "web2"],
  ["web2", "web1"],
] as const;

describe("vnet run: a server's active uplink is pulled and plugged back", () => {
  it("fails over at once (at most the echoes in flight are lost) and fails back", () => {
    // At the instant an echo is sent and while echoes are on their way (the round trip is
    // some 30 us here).
    for (const downAt of ["2s", "2000005us", "2000012us", "2000020us", "2000031us"]) {
      const r = dualHomed(downAt).run({ probes: BOTH_WAYS, intervalNs: 10e6 });
      expect(r.durationNs).toBe(6e9); // the last fault + 2 s
      for (const p of r.probes) {
        expect(p.sent).toBe(600);
        expect(p.lost).toBeLessThanOrEqual(2);
        for (const l of p.losses) expect(l.fromNs).toBeGreaterThanOrEqual(2e9);
        for (const l of p.losses) expect(l.toNs).toBeLessThanOrEqual(2.02e9);
      }
      const texts = r.timeline.map((e) => `${e.kind} ${e.text}`);
      expect(texts).toContain("failover server1/vs0: web1 moved from uplink:eth0 to uplink:eth1");
      expect(texts).toContain("failback server1/vs0: web1 moved from uplink:eth1 to uplink:eth0");
      expect(texts).toContain("carrier server1:eth0 carrier down");
      expect(texts).toContain("carrier tor1:eth1 carrier down");
      expect(texts).toContain("carrier server1/vs0:uplink:eth0 carrier down");
      expect(texts).toContain("mac-flush tor1: 1 MAC entry flushed (eth1 down)");
    }
  });

  it("the timeline is in time order: the fault, then what it caused", () => {
    const r = dualHomed().run({ probes: BOTH_WAYS });
    const times = r.timeline.map((e) => e.timeNs);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(r.timeline[0]).toMatchObject({
      timeNs: 2e9,
      kind: "fault",
      text: "down server1:eth0: cable server1:eth0<->tor1:eth1",
      fields: { action: "down", target: "server1:eth0", connections: 1 },
    });
    const failover = r.timeline.find((e) => e.kind === "failover");
    expect(failover).toMatchObject({
      timeNs: 2e9,
      device: "server1/vs0",
      fields: { vm: "web1", from: "uplink:eth0", to: "uplink:eth1" },
    });
  });
});

describe("vnet run: the only switch fails and recovers", () => {
  it("loses exactly the echoes sent during the outage, in one interval", () => {
    const text = `${readFileSync(FAILOVER, "utf8")}faults:\n  - { at: 1s, fail: tor1 }\n  - { at: 1.5s, recover: tor1 }\n`;
    const r = Network.fromText(text, "f.yaml").run({ probes: BOTH_WAYS, intervalNs: 10e6 });
    expect(r.durationNs).toBe(3.5e9);
    for (const p of r.probes) {
      expect(p.sent).toBe(350);
      // Echoes sent at 1.000, 1.010, ..., 1.490 s: (1.5 - 1.0) / 0.010 of them.
      expect(p.lost).toBe(50);
      expect(p.losses).toEqual([
        { fromNs: 1e9, toNs: 1.5e9, lost: 50, notSent: 0, firstSeq: 101, lastSeq: 150 },
      ]);
    }
    const failed = r.timeline.filter((e) => e.kind === "failover").map((e) => e.text);
    // tor1's cables go down in file order: web1 first moves to its second uplink, then loses it.
    expect(failed).toEqual([
      "server1/vs0: web1 moved from uplink:eth0 to uplink:eth1",
      "server1/vs0: web1 lost its last uplink (uplink:eth1)",
      "server2/vs0: web2 lost its last uplink (uplink:eth0)",
    ]);
  });

  it("a recover does not plug back a cable that a down of its own pulled", () => {
    const text = `${readFileSync(FAILOVER, "utf8")}faults:
  - { at: 1s, down: "server2:eth0" }
  - { at: 2s, fail: tor1 }
  - { at: 3s, recover: tor1 }
`;
    const net = Network.fromText(text, "f.yaml");
    const r = net.run({ probes: [["web1", "web2"]], durationNs: 4e9 });
    expect(r.probes[0].losses).toEqual([
      { fromNs: 1e9, toNs: 4e9, lost: 300, notSent: 0, firstSeq: 101, lastSeq: 400 },
    ]);
    expect(net.links().find((l) => l.ends.includes("server2:eth0"))?.isUp).toBe(false);
  });
});

describe("vnet run (the command)", () => {
  it("prints the timeline and per probe its losses; exit 1 when echoes were lost", async () => {
    const text = `${readFileSync(FAILOVER, "utf8")}faults:\n  - { at: 1s, fail: tor1 }\n  - { at: 1.5s, recover: tor1 }\n`;
    const file = join(tmp, "failover-with-faults.yaml");
    writeFileSync(file, text);
    const r = await vnet("run", file, "--probe", "web1:web2", "--for", "2s");
    expect(r.code).toBe(1);
    expect(r.out).toContain("    1.000 s  fault      fail tor1: switch tor1 (3 cables)\n");
    expect(r.out).toContain("    1.500 s  fault      recover tor1: switch tor1 (3 cables)\n");
    expect(r.out).toContain("  web1 -> web2: 50 of 200 lost between 1.000 s and 1.500 s\n");
    expect(r.out).toContain("*** Run: 50 of 200 echoes lost ***");
  });

  it("without --probe picks probes and says so; 0 of N lost exits 0", async () => {
    const r = await vnet("run", FAILOVER, "--for", "1s");
    expect(r.code).toBe(0);
    expect(r.out).toContain("probes chosen by vnet (no --probe given)");
    expect(r.out).toContain("  web1 -> web2: 0 of 100 lost\n");
    expect(r.out).toContain("  web2 -> web1: 0 of 100 lost\n");
    expect(r.out).toContain("  (nothing changed)");
  });

  it("is byte-identical run twice with the same file and seed (text and --json)", async () => {
    const a = await vnet("run", DUAL, "--seed", "7");
    const b = await vnet("run", DUAL, "--seed", "7");
    expect(a.out).toBe(b.out);
    const ja = await vnet("run", DUAL, "--json", "--probe", "web1:web2");
    const jb = await vnet("run", DUAL, "--json", "--probe", "web1:web2");
    expect(ja.out).toBe(jb.out);
    const parsed = JSON.parse(ja.out);
    expect(parsed.probes[0]).toMatchObject({ from: "web1", to: "web2", sent: 600 });
    expect(parsed.timeline[0]).toMatchObject({ timeNs: 2e9, kind: "fault" });
  });

  it("refuses bad arguments with one line and exit 2", async () => {
    const cases: [string[], string][] = [
      [["--probe", "web1:web9"], 'vnet: no VM named "web9"; did you mean "web1"?\n'],
      [["--probe", "web1"], 'vnet: --probe: expected FROM:TO (two VM names, e.g. web1:db1), got "web1"\n'],
      [
        ["--for", "10x"],
        'vnet: --for: expected a time like 2s, 150ms, 10us (or a number of seconds), got "10x"\n',
      ],
      [
        ["--interval", "1us"],
        "vnet: an interval of 1us over 6s is 6,000,000 echoes per probe; at most 10,000: make the interval at least 600us or the run shorter\n",
      ],
    ];
    for (const [args, err] of cases) {
      const r = await vnet("run", DUAL, ...args);
      expect(r.code).toBe(2);
      expect(r.err).toBe(err);
      expect(r.out).toBe("");
    }
    const j = await vnet("run", DUAL, "--json", "--probe", "web1:web9");
    expect(JSON.parse(j.out).error.code).toBe("unknown-vm");
  });
});

describe("vnet reach --fail", () => {
  it("names the pairs that lose reachability when the only switch fails", async () => {
    const r = await vnet("reach", FAILOVER, "--fail", "tor1");
    expect(r.code).toBe(1);
    expect(r.out).toMatch(
      /^failing switch tor1 \(3 cables\): server1:eth0<->tor1:eth1, server1:eth1<->tor1:eth2, server2:eth0<->tor1:eth3\n/,
    );
    expect(r.out).toContain("before: 2 of 2 ordered pairs delivered; after: 0\n");
    expect(r.out).toContain("    web1 -> web2\n");
    expect(r.out).toContain("    web2 -> web1\n");
    expect(r.out).toContain("newly delivered: none");
    expect(r.out).toContain("*** Failing tor1: 2 pairs lose reachability, 0 gain it ***");
  });

  it("a cable of a two-uplink team changes nothing (exit 0); --json says so as data", async () => {
    const r = await vnet("reach", FAILOVER, "--fail", "server1:eth0", "--json");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({
      target: "server1:eth0",
      failed: "cable server1:eth0<->tor1:eth1",
      pairs: 2,
      deliveredBefore: 2,
      deliveredAfter: 2,
      lostPairs: 0,
      gainedPairs: 0,
      lost: [],
      gained: [],
    });
  });

  it("a failed VM loses every pair it was in; the network is left as it was", () => {
    const net = Network.fromText(readFileSync(FAILOVER, "utf8"), "f.yaml");
    const c = net.reachChange("web2");
    expect(c.lostPairs).toBe(2);
    expect(c.lost.flatMap((x) => x.examples)).toEqual([
      { from: "web1", to: "web2" },
      { from: "web2", to: "web1" },
    ]);
    const t = net.reachChange("tor1");
    expect(t.lostPairs).toBe(2);
    expect(net.links().every((l) => l.isUp)).toBe(true);
    expect(net.reach().deliveredPairs).toBe(2);
  });

  it("an unknown target is one line and exit 2", async () => {
    const r = await vnet("reach", FAILOVER, "--fail", "tor9");
    expect(r.code).toBe(2);
    expect(r.err).toBe(
      'vnet: no switch, server or VM named "tor9"; did you mean "tor1"? (or give a cable end node:port)\n',
    );
  });
});

/** The tour's MLAG pair (leaf1 failed at 2 s, recovered at 6 s) and its STP ring (p3 failed 6.5-7 s). */
const MLAG_PAIR = fileURLToPath(new URL("./topologies/mlag-pair-fail.yaml", import.meta.url));
const STP_RING = fileURLToPath(new URL("./topologies/stp-ring-vm-fail.yaml", import.meta.url));

describe("vnet run: a failed device is powered off until it recovers", () => {
  it("a failed MLAG switch runs no timer and logs nothing while down, and boots fresh", () => {
    const net = Network.fromText(readFileSync(MLAG_PAIR, "utf8"), "mlag-pair-fail.yaml");
    const r = net.run({ probes: [["a1", "a2"]] });
    const leaf1 = r.timeline.filter((e) => e.device === "leaf1" && e.kind !== "fault");
    // Nothing from leaf1 between its failure and its recovery: no keepalive timeout, no split brain.
    expect(leaf1.filter((e) => e.timeNs >= 2e9 && e.timeNs < 6e9)).toEqual([]);
    expect(r.timeline.some((e) => e.device === "leaf1" && e.text.includes("split brain"))).toBe(false);
    // The survivor does notice its peer gone.
    expect(r.timeline.some((e) => e.device === "leaf2" && e.text.includes("split brain"))).toBe(true);
    // Rebooted, leaf1 has no role until it hears its peer again (the role is not kept).
    expect(
      leaf1.some((e) => e.timeNs >= 6e9 && e.timeNs < 6.1e9 && e.text.includes("role none -> primary")),
    ).toBe(true);
    expect(r.probes[0].lost).toBe(0);
  });

  it("a failed VM's echoes are lost (not sent) whatever other probes run, in text and JSON", async () => {
    const text = readFileSync(STP_RING, "utf8");
    const alone = Network.fromText(text, "ring.yaml").run({ probes: [["p3", "p2"]] });
    const both = Network.fromText(text, "ring.yaml").run({
      probes: [
        ["p3", "p2"],
        ["p2", "p3"],
      ],
    });
    expect(both.probes[0]).toEqual(alone.probes[0]);
    // 500 ms failed at one echo per 10 ms: the 50 echoes of 6.50..6.99 s, none of them sent.
    expect(alone.probes[0].losses).toEqual([
      { fromNs: 6.5e9, toNs: 7e9, lost: 50, notSent: 50, firstSeq: 651, lastSeq: 700 },
    ]);
    expect(both.probes[1].lost).toBe(50);
    const t = await vnet("run", STP_RING, "--probe", "p3:p2");
    expect(t.out).toContain(
      "p3 -> p2: 50 of 900 lost between 6.500 s and 7.000 s (50 not sent: p3 was failed)",
    );
    const j = await vnet("run", STP_RING, "--json", "--probe", "p3:p2", "--probe", "p2:p3");
    expect(JSON.parse(j.out).probes[0]).toEqual(alone.probes[0]);
  });
});
