/**
 * Scenario: two sites joined by a GRE tunnel across a provider router that has no route to the
 * sites' private networks (`examples/gre-sites.yaml`). The sites reach each other only through
 * the tunnel; a traceroute sees the far router one hop away (the tunnel hides the provider, as
 * the source document says tunnels do); the provider's link carries only GRE packets, which
 * vnet's dissector and tshark decode with the inner packet.
 */

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { Network } from "../../src/network.ts";
import { writeCaptures } from "../../src/node.ts";
import { captureRecords } from "../../src/wire/capture.ts";
import { decodeFrame } from "../../src/wire/decode.ts";
import { hasTshark } from "../oracle/tshark.ts";
import { checkWithTshark } from "./tshark-check.ts";

const SITES = fileURLToPath(new URL("../../examples/gre-sites.yaml", import.meta.url));
const load = () => Network.fromText(readFileSync(SITES, "utf8"), "gre-sites.yaml");

describe("a GRE tunnel between two sites", () => {
  it("carries the sites' traffic; the verdict names the tunnel", () => {
    const net = load();
    expect(net.ping("hq1", "br1", { count: 3 }).received).toBe(3);
    const t = net.trace("br1", "hq1");
    expect(t.delivered).toBe(true);
    expect(t.verdict).toContain("through a GRE tunnel from br-edge to hq-edge");
  });

  it("the provider's router carries the tunnel and is no gateway of the inner packet", () => {
    const t = load().trace("hq1", "br1");
    // The router records that it routed a tunnel's outer packet, as data.
    const isp = t.hops.filter(
      (h) => h.device === "isp" && h.action === "route" && h.frame.startsWith("ICMP"),
    );
    expect(isp.length).toBeGreaterThan(0);
    expect(isp.every((h) => h.encap?.type === "gre" && h.encap.step === "carried")).toBe(true);
    expect(t.verdict).toBe(
      "different port groups, different servers: crosses the physical network via hq-sw and br-sw and the gateway on hq-edge and br-edge; through a GRE tunnel from hq-edge to br-edge, carried by isp, which sees only its outer packets",
    );
  });

  it("records the tunnel as data beside the text: encapsulate, carried (with the frame's size), decapsulate", () => {
    const t = load().trace("br1", "hq1");
    const echo = t.hops.filter((h) => h.frame.startsWith("ICMP echo request") && h.encap !== undefined);
    expect(echo.map((h) => `${h.device} ${h.encap?.step}`)).toEqual([
      "br-edge encapsulate",
      ...echo.slice(1, -1).map((h) => `${h.device} carried`),
      "hq-edge decapsulate",
    ]);
    expect(echo[0].encap).toMatchObject({ type: "gre", step: "encapsulate" });
    expect(echo[0].encap?.tunnel).toBeDefined();
    const carried = echo.filter((h) => h.encap?.step === "carried");
    expect(carried.length).toBeGreaterThan(0);
    for (const h of carried) {
      expect(h.encap).toMatchObject({
        type: "gre",
        outerSrc: echo[0].encap?.outerSrc,
        outerDst: echo[0].encap?.outerDst,
      });
      if (h.kind === "link") expect(h.reason).toContain(`${h.frameBytes} bytes`);
      else expect(h).toMatchObject({ device: "isp", action: "route" });
    }
  });

  it("hides the provider's router from a traceroute", () => {
    const r = load().traceroute("hq1", "br1");
    expect(r.isReached).toBe(true);
    expect(r.hops.map((h) => h.probes[0].name)).toEqual(["hq-edge", "br-edge", "br1"]);
  });

  it("without the tunnel the provider cannot route the sites' addresses", () => {
    const text = readFileSync(SITES, "utf8")
      .replace(/\ntunnels:\n.*\n/, "\n")
      .replace(/\s+- \{ to: 10\.[12]\.0\.0\/24, via: 172\.16\.0\.[12] \}/g, "");
    const net = Network.fromText(text, "no-tunnel.yaml");
    const t = net.trace("hq1", "br1");
    expect(t.delivered).toBe(false);
    expect(t.failure?.device).toBe("isp");
  });

  it("the provider's links carry only GRE, decoded with the inner packet (and by tshark)", () => {
    const net = load();
    net.startCaptures();
    expect(net.ping("hq1", "br1", { count: 2 }).received).toBe(2);
    const dir = mkdtempSync(join(tmpdir(), "vnet-gre-"));
    try {
      writeCaptures(net, dir, { perLink: true });
      let gre = 0;
      for (const f of net.captures({ perLink: true })) {
        if (!f.fileName.includes("isp")) continue;
        for (const r of captureRecords(f.bytes)) {
          const layers = decodeFrame(r.data).map((l) => l.layer);
          if (layers.includes("arp")) continue;
          expect(layers.slice(0, 5)).toEqual(["ethernet", "ipv4", "gre", "ipv4", "icmp"]);
          gre++;
        }
      }
      expect(gre).toBeGreaterThanOrEqual(4);
      if (hasTshark()) checkWithTshark(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
