/**
 * `Network.trace(a, b, { withBytes: true })`, which the web UI uses to open each hop's frame: the
 * same hops as a plain trace, and on every link hop the bytes that link carried, which the
 * dissector reads as the hop's label says (tagged on the trunk, untagged at the vNIC).
 */

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { decodeFrame, Network } from "../../src/browser.ts";

const SEED = readFileSync(new URL("../../examples/seed-datacenter.yaml", import.meta.url), "utf8");

describe("trace with bytes", () => {
  it("keeps every link hop's frame, and nothing else changes", () => {
    const plain = Network.fromText(SEED).trace("web1", "db1");
    const full = Network.fromText(SEED).trace("web1", "db1", { withBytes: true });
    expect(full.hops.map(({ bytes: _, ...h }) => h)).toEqual(plain.hops);
    expect(plain.hops.some((h) => h.bytes !== undefined)).toBe(false);
    const links = full.hops.filter((h) => h.device.includes("<->"));
    expect(links.length).toBeGreaterThan(10);
    for (const h of links) {
      expect(h.bytes, `${h.device} ${h.frame}`).toBeInstanceOf(Uint8Array);
      const layers = decodeFrame(h.bytes!);
      expect(layers.some((l) => l.layer === "error")).toBe(false);
      expect(layers.some((l) => l.layer === (h.frame.startsWith("ARP") ? "arp" : "icmp"))).toBe(true);
      if (h.frameBytes !== undefined) expect(h.bytes!.length).toBe(h.frameBytes);
    }
    const cable = links.find((h) => h.device === "server1:eth0<->tor1:eth1" && h.frame.startsWith("ICMP"))!;
    expect(decodeFrame(cable.bytes!).find((l) => l.layer === "vlan")).toMatchObject({ vid: 10 });
    const vnic = links.find((h) => h.device.startsWith("web1:eth0<->") && h.frame.startsWith("ICMP"))!;
    expect(decodeFrame(vnic.bytes!).some((l) => l.layer === "vlan")).toBe(false);
  });
});
