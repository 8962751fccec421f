/**
 * Scenario: servers LACP-bonded to an MLAG (vPC) leaf pair, the pair bonded to a spine
 * (`examples/mlag.yaml`). LACP forms everywhere with the pair as one partner; every pair of VMs
 * reaches every other; a frame crossing the peer link is not flooded back out of a
 * multi-chassis LAG whose peer half delivered it (no duplicates, no MAC moves); a leaf's member
 * link losing carrier costs nothing; a member that silently stops passing frames costs at most
 * LACP's fast timeout (3 s); a peer-link failure with the keepalive alive suspends the
 * secondary's halves at once (no sustained loss); peer link and keepalive both lost: both
 * leaves end up primary and `show mlag` reports the split brain. Same file and seed, same bytes.
 */

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { Network, type RunResult } from "../../src/network.ts";
import { writeCaptures } from "../../src/node.ts";
import { captureRecords } from "../../src/wire/capture.ts";
import { decodeFrame } from "../../src/wire/decode.ts";
import { hasTshark } from "../oracle/tshark.ts";
import { checkWithTshark } from "./tshark-check.ts";

const MLAG = fileURLToPath(new URL("../../examples/mlag.yaml", import.meta.url));
const PROBES = [
  ["web1", "web2"],
  ["app1", "web2"],
  ["web2", "web1"],
  ["app2", "app1"],
] as const;

function withFaults(faults: string[]): Network {
  const text = `${readFileSync(MLAG, "utf8")}\nfaults:\n${faults.map((f) => `  - ${f}`).join("\n")}\n`;
  return Network.fromText(text, "mlag.yaml");
}

function run(faults: string[], durationNs: number): { net: Network; r: RunResult } {
  const net = withFaults(faults);
  const r = net.run({ durationNs, probes: PROBES });
  return { net, r };
}

const events = (r: RunResult, kind: string) => r.timeline.filter((e) => e.kind === kind).map((e) => e.text);

describe("an MLAG pair as one LACP partner", () => {
  it("forms every LAG, and the server sees one partner system on both of its links", () => {
    const net = Network.fromText(readFileSync(MLAG, "utf8"), "mlag.yaml");
    const rows = net.show("lacp");
    expect(rows.length).toBe(16);
    for (const row of rows) expect(row.distributing).toBe("yes");
    const esx1 = rows.filter((r) => r.device === "esx1/vs0");
    expect(new Set(esx1.map((r) => r.partner)).size).toBe(1);
    expect(new Set(esx1.map((r) => r.partnerKey)).size).toBe(1);
    // ... and the two partner ports differ (the leaves' port numbers are offset).
    expect(new Set(esx1.map((r) => r.partnerPort)).size).toBe(2);
    const roles = net.show("mlag").map((r) => `${r.switch}:${r.role}`);
    expect(new Set(roles)).toEqual(new Set(["leaf1:primary", "leaf2:secondary"]));
  });

  it("every VM reaches every other, with no MAC moving between ports (loop prevention and MAC sync)", () => {
    const net = Network.fromText(readFileSync(MLAG, "utf8"), "mlag.yaml");
    const all = net.pingAll();
    expect(all.lossPercent).toBe(0);
    const counters = net.show("counters");
    expect(counters.filter((c) => c.reason === "mac-moved")).toEqual([]);
    expect(counters.some((c) => c.reason === "mlag-peer-delivered")).toBe(true);
  });

  it("a broadcast crosses the pair and reaches the other VM of its VLAN exactly once", () => {
    const net = Network.fromText(readFileSync(MLAG, "utf8"), "mlag.yaml");
    const t = net.trace("web1", "web2");
    expect(t.delivered).toBe(true);
    const arpIn = t.hops.filter(
      (h) =>
        h.device === "web2" &&
        h.kind === "vnic" &&
        h.action === "receive" &&
        h.frame.startsWith("ARP request"),
    );
    expect(arpIn).toHaveLength(1);
    // The leaf that got the broadcast over the peer link did not send it back down a
    // multi-chassis LAG (the peer's half had delivered it).
    expect(t.hops.some((h) => h.action === "drop" && h.reason.includes("MLAG loop prevention"))).toBe(true);
  });
});

describe("failures in an MLAG design (vnet run)", () => {
  it("a leaf's member link losing carrier loses no echo", () => {
    const { r } = run(['{ at: 1s, down: "esx1:eth0" }', '{ at: 2s, up: "esx1:eth0" }'], 3e9);
    for (const p of r.probes) expect(p.lost).toBe(0);
    expect(events(r, "lacp").some((t) => t.includes("esx1/vs0: uplink:eth0 left"))).toBe(true);
  });

  it("a member that silently stops passing frames: loss bounded by the LACP fast timeout (3 s)", () => {
    const { r } = run(['{ at: 1s, down: "esx1:eth0", silent: true }', '{ at: 6s, up: "esx1:eth0" }'], 8e9);
    const left = r.timeline.filter((e) => e.kind === "lacp" && e.text.includes(" left "));
    expect(left.length).toBeGreaterThan(0);
    for (const e of left) {
      expect(e.timeNs).toBeGreaterThan(1e9 + 2e9);
      expect(e.timeNs).toBeLessThanOrEqual(1e9 + 3e9);
    }
    let total = 0;
    for (const p of r.probes) {
      total += p.lost;
      for (const l of p.losses) {
        expect(l.fromNs).toBeGreaterThanOrEqual(1e9);
        expect(l.toNs - l.fromNs).toBeLessThanOrEqual(3e9 + 10e6);
      }
    }
    // Some flow hashed onto the silent member (the probes are chosen so one does).
    expect(total).toBeGreaterThan(0);
  });

  it("peer link down, keepalive alive: the secondary suspends its halves at once, no sustained loss", () => {
    const { net, r } = run(['{ at: 1s, down: "leaf1:eth47" }', '{ at: 1s, down: "leaf1:eth48" }'], 3e9);
    expect(events(r, "mlag").some((t) => t.startsWith("leaf2:") && t.includes("secondary suspends"))).toBe(
      true,
    );
    for (const p of r.probes) expect(p.lost).toBeLessThanOrEqual(1);
    const leaf2 = net.show("mlag", "leaf2");
    expect(leaf2.every((row) => row.suspended === "yes" && row.splitBrain === "no")).toBe(true);
    // The suspended halves' partners moved everything to leaf1.
    expect(net.show("lacp", "esx1/vs0").filter((row) => row.distributing === "yes").length).toBe(1);
  });

  it("peer link and keepalive both lost: after the dead interval both are primary (split brain), reported", () => {
    const { net, r } = run(
      [
        '{ at: 1s, down: "leaf1:eth47" }',
        '{ at: 1s, down: "leaf1:eth48" }',
        '{ at: 1s, down: "leaf1:mgmt0" }',
      ],
      5e9,
    );
    const split = r.timeline.filter((e) => e.kind === "mlag" && e.text.includes("split brain"));
    expect(split.map((e) => e.device).sort()).toEqual(["leaf1", "leaf2"]);
    for (const e of split) expect(e.timeNs).toBe(4e9);
    const rows = net.show("mlag");
    expect(rows.every((row) => row.role === "primary" && row.splitBrain === "yes")).toBe(true);
  });

  it("the same file and seed give byte-identical timelines", () => {
    const faults = [
      '{ at: 1s, down: "esx1:eth0", silent: true }',
      "{ at: 2s, fail: leaf1 }",
      "{ at: 3s, recover: leaf1 }",
    ];
    const a = run(faults, 5e9).r;
    const b = run(faults, 5e9).r;
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
  });
});

describe("LACPDUs and MLAG messages on the wire", () => {
  it("are captured on every bundle's cables, decode as LACP, and tshark finds nothing malformed", () => {
    const net = Network.fromText(readFileSync(MLAG, "utf8"), "mlag.yaml");
    net.startCaptures();
    net.run({ durationNs: 2.5e9, probes: [["web1", "web2"]] });
    const dir = mkdtempSync(join(tmpdir(), "vnet-mlag-"));
    try {
      writeCaptures(net, dir);
      let lacp = 0;
      let mlag = 0;
      for (const f of net.captures())
        for (const r of captureRecords(f.bytes)) {
          const layers = decodeFrame(r.data);
          expect(layers.some((l) => l.layer === "error")).toBe(false);
          if (layers.some((l) => l.layer === "lacp")) lacp++;
          if ((layers[0] as { etherType?: number }).etherType === 0x88b5) mlag++;
        }
      // Fast rate: one LACPDU a second each way on each of the 12 bundle cables.
      expect(lacp).toBeGreaterThanOrEqual(2 * 12 * 2);
      expect(mlag).toBeGreaterThan(0);
      if (hasTshark()) checkWithTshark(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("ip-hash teaming facing a LACP port-channel (the tour's 05-mlag.yaml, hv02 on ip-hash)", () => {
  const IPHASH = fileURLToPath(new URL("./topologies/mlag-iphash-vs-lacp.yaml", import.meta.url));

  it("a failed pair's reason is the drop of the probe's own frames, not a LACPDU's", () => {
    const net = Network.fromText(readFileSync(IPHASH, "utf8"), "mlag-iphash-vs-lacp.yaml");
    const r = net.pingAll();
    const failures = new Map(r.failures.map((f) => [`${f.from}>${f.to}`, f]));
    const a1a2 = failures.get("a1>a2");
    expect(a1a2?.why).toContain("dropped at leaf1: not sent to po2: eth2 is not distributing in po2");
    expect(a1a2?.code).toBe("lag-member-not-distributing");
    expect(failures.get("a2>a1")?.why).toContain("eth2 is not collecting in po2");
    for (const f of r.failures) expect(f.why).not.toContain("LACPDU refused");
    // The lost flood copies are counted where they were lost.
    expect(net.world.device("leaf1")?.drops.get("lag-member-not-distributing")).toBeGreaterThan(0);
  });
});
