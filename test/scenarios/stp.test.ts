/**
 * Scenario: a ring of three switches running RSTP (examples/rstp-ring.yaml) through the facade.
 * The loader accepts the loop, spanning tree blocks one port of it, every VM reaches every other;
 * a forwarding cable of the ring is pulled and, a second of simulated time later, every VM still
 * reaches every other through the port that was blocked. The BPDUs on the cables, captured,
 * decode cleanly in tshark (skipped with one line when tshark is absent).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { Network } from "../../src/network.ts";
import { hasTshark, show, tsharkPdml } from "../oracle/tshark.ts";
import { checkWithTshark } from "./tshark-check.ts";

const RING = fileURLToPath(new URL("../../examples/rstp-ring.yaml", import.meta.url));
const S = 1e9;

function ring(): Network {
  return Network.fromText(readFileSync(RING, "utf8"), "rstp-ring.yaml");
}

/** "tor2 eth50 alternate discarding" for the ports between switches. */
function coreRoles(net: Network): string[] {
  return net
    .show("stp")
    .filter((r) => r.port !== "eth5")
    .map((r) => `${r.device} ${r.port} ${r.role} ${r.state}`);
}

describe("a ring of three RSTP switches", () => {
  it("loads without a word, blocks one port, and every VM reaches every other", () => {
    const net = ring();
    expect(net.warnings).toEqual([]);
    expect(coreRoles(net)).toEqual([
      "core1 eth1 designated forwarding",
      "core1 eth2 designated forwarding",
      "tor1 eth49 root forwarding",
      "tor1 eth50 designated forwarding",
      "tor2 eth49 root forwarding",
      "tor2 eth50 alternate discarding",
    ]);
    const r = net.pingAll();
    expect(r.lossPercent).toBe(0);
    expect(r.received).toBe(12);
  });

  it("a pulled forwarding cable: a second later every VM still reaches every other", () => {
    const net = ring();
    expect(net.pingAll().lossPercent).toBe(0);
    net.setLinkUp("core1:eth1", false);
    net.world.runFor(1 * S);
    expect(coreRoles(net)).toEqual([
      "core1 eth1 disabled discarding",
      "core1 eth2 designated forwarding",
      "tor1 eth49 disabled discarding",
      "tor1 eth50 root forwarding",
      "tor2 eth49 root forwarding",
      "tor2 eth50 designated forwarding",
    ]);
    const r = net.pingAll();
    expect(r.failures).toEqual([]);
    expect(r.lossPercent).toBe(0);
    // The cable back: the tree returns to its first shape (tor1's shortest way is core1 again).
    net.setLinkUp("core1:eth1", true);
    net.world.runFor(1 * S);
    expect(coreRoles(net)).toContain("tor2 eth50 alternate discarding");
    expect(net.pingAll().lossPercent).toBe(0);
  });

  it("runs spanning tree also when the world starts quietly (no announcements, large networks)", () => {
    const net = Network.fromText(readFileSync(RING, "utf8"), "rstp-ring.yaml", { isAnnouncing: false });
    expect(coreRoles(net)).toContain("tor2 eth50 alternate discarding");
    expect(net.pingAll().lossPercent).toBe(0);
  });

  it("show stp explains each port: bridge, root, role, state, edge, cost, designated bridge, why", () => {
    const rows = ring().show("stp", "tor2");
    expect(rows.map((r) => r.port)).toEqual(["eth49", "eth50", "eth5"]);
    const alt = rows[1];
    expect(alt).toMatchObject({
      role: "alternate",
      state: "discarding",
      edge: "no",
      cost: 2000,
      rootCost: 2000,
    });
    expect(String(alt.why)).toMatch(/^another path to the root, via 32768\.[0-9a-f:]+ port 128\.2: blocked/);
    expect(rows[2]).toMatchObject({ role: "designated", state: "forwarding", edge: "yes", why: "edge port" });
  });
});

describe("BPDUs in a capture", () => {
  it.skipIf(!hasTshark())("decode cleanly in tshark: RST BPDUs, nothing malformed", () => {
    const net = ring();
    net.startCaptures();
    net.setLinkUp("core1:eth1", false);
    net.world.runFor(3 * S);
    const dir = mkdtempSync(join(tmpdir(), "vnet-stp-"));
    try {
      for (const f of net.captures()) writeFileSync(join(dir, f.fileName), f.bytes);
      checkWithTshark(dir);
      const stp = tsharkPdml(join(dir, "vnet.pcapng")).flatMap((p) =>
        p.protos.filter((x) => x.name === "stp"),
      );
      expect(stp.length).toBeGreaterThan(0);
      for (const p of stp) expect(show(p, "stp.version")).toBe("2");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  if (!hasTshark()) console.log("stp.test: tshark not installed; the tshark check is skipped");
});
