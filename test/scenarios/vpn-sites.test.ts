/**
 * VPN sites in a topology (section 6.5 of the source document), through the facade: two sites
 * with the branch behind source NAT (examples/vpn-sites.yaml), three sites hub and spoke
 * (examples/vpn-hub-spoke.yaml). What the sites see (plaintext), what the internet sees (only
 * WireGuard messages, read by our decoder and by tshark), the keepalive that keeps a NAT mapping
 * open, a rekey under traffic, a wrong key refused, tampering and replay on the path refused and
 * counted, and byte-identical captures for one seed.
 */

import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { Network } from "../../src/network.ts";
import { derivePrivateKey, keyToBase64, publicKeyOf } from "../../src/vpn/keys.ts";
import { decodeFrame } from "../../src/wire/decode.ts";
import { readPcap } from "../../src/wire/pcap.ts";
import { hasTshark } from "../oracle/tshark.ts";

const example = (name: string) =>
  readFileSync(fileURLToPath(new URL(`../../examples/${name}`, import.meta.url)), "utf8");
const SITES = example("vpn-sites.yaml");
const HUB = example("vpn-hub-spoke.yaml");

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** The layers our decoder finds in every frame of one link end's capture. */
function layersOn(net: Network, end: string): string[][] {
  const file = net.captures({ perLink: true }).find((f) => f.fileName === `${end.replace(":", "-")}.pcap`);
  if (file === undefined) return [];
  return readPcap(file.bytes).records.map((r) => decodeFrame(r.data).map((l) => l.layer));
}

describe("two sites, the branch behind NAT", () => {
  it("a trace shows plaintext in the sites, WireGuard on the internet, and names the VPN", () => {
    const net = Network.fromText(SITES, "vpn-sites.yaml");
    expect(net.warnings).toEqual([]);
    const t = net.trace("hq1", "br1");
    expect(t.delivered).toBe(true);
    expect(t.verdict).toContain(
      "through the VPN hq-branch: encrypted between hq-gw and branch-gw, carried as WireGuard messages by internet and branch-cpe (NAT)",
    );
    // The internet router and the NAT router never see the echo, only WireGuard (and ARP).
    for (const h of t.hops.filter((x) => x.device === "internet" || x.device === "branch-cpe"))
      expect(h.frame).toMatch(/^(WireGuard (transport data|keepalive|handshake)|ARP )/);
    expect(
      t.hops.some((h) => h.device === "branch-cpe" && h.reason.includes("source NAT to 203.0.113.1:51820")),
    ).toBe(true);
    expect(t.hops.some((h) => h.device === "hq-gw" && h.reason.startsWith("encrypted for branch-gw"))).toBe(
      true,
    );
    expect(t.hops.some((h) => h.device === "branch-gw" && h.reason.startsWith("decrypted from hq-gw"))).toBe(
      true,
    );
  });

  it("vnet mtu follows the echo through the tunnel and names WireGuard's 60 bytes", () => {
    const net = Network.fromText(SITES, "vpn-sites.yaml");
    const r = net.mtu("hq1", "br1");
    expect(r.pathMtu).toBe(1420);
    const internet = r.hops.find((h) => h.link === "hq-gw:eth0 -> internet:eth0");
    expect(internet).toEqual({
      link: "hq-gw:eth0 -> internet:eth0",
      frameBytes: 1494,
      layers: "Ethernet 14 + outer IPv4 20 + UDP 8 + WireGuard 32",
    });
    expect(r.hops.at(-1)?.link).toBe("br-sw:eth2 -> br-host:eth0");
    // A 1400-byte underlay is too small for the default 1420: check says so.
    const small = SITES.replace(
      "  - endpoints: [hq-gw:eth0, internet:eth0]",
      "  - endpoints: [hq-gw:eth0, internet:eth0]\n    mtu: 1400",
    );
    expect(Network.fromText(small, "small.yaml").warnings.join("\n")).toMatch(/VPN's MTU 1420 plus 60 bytes/);
  });

  it("an eavesdropper on the internet sees only WireGuard; inside a site the packets are plain", () => {
    const net = Network.fromText(SITES, "vpn-sites.yaml");
    net.startCaptures();
    expect(net.ping("hq1", "br1", { count: 3, intervalMs: 100 }).received).toBe(3);
    const outside = layersOn(net, "internet:eth1");
    expect(outside.length).toBeGreaterThan(0);
    for (const layers of outside) {
      if (layers.includes("arp")) continue;
      expect(layers).toContain("wireguard");
      expect(layers).not.toContain("icmp");
    }
    const inside = layersOn(net, "branch-gw:eth1");
    expect(inside.some((l) => l.includes("icmp"))).toBe(true);
    expect(inside.some((l) => l.includes("wireguard"))).toBe(false);
  });

  it.skipIf(!hasTshark())("tshark reads the internet link as WireGuard, nothing malformed", () => {
    const net = Network.fromText(SITES, "vpn-sites.yaml");
    net.startCaptures();
    net.ping("hq1", "br1", { count: 2, intervalMs: 100 });
    const dir = mkdtempSync(join(tmpdir(), "vnet-vpn-"));
    dirs.push(dir);
    const file = net.captures({ perLink: true }).find((f) => f.fileName === "internet-eth1.pcap")!;
    writeFileSync(join(dir, file.fileName), file.bytes);
    const out = execFileSync(
      "tshark",
      [
        "-r",
        join(dir, file.fileName),
        "-T",
        "fields",
        "-e",
        "frame.protocols",
        "-e",
        "wg.type",
        "-e",
        "_ws.malformed",
      ],
      { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] },
    );
    const lines = out.trim().split("\n");
    expect(lines.length).toBeGreaterThanOrEqual(4);
    for (const line of lines) {
      const [protocols, wgType, malformed] = line.split("\t");
      expect(protocols).toBe("eth:ethertype:ip:udp:wg");
      expect(wgType).toBe("4"); // transport data: the handshake happened at start (keepalive)
      expect(malformed ?? "").toBe("");
    }
  });

  it("the keepalive holds the NAT mapping open; without it the headquarters cannot reach the branch", () => {
    const net = Network.fromText(SITES, "vpn-sites.yaml");
    net.advance(200e9); // past the NAT's UDP timeouts (30 s, 120 s)
    expect(net.ping("hq1", "br1", { count: 2 }).received).toBe(2);
    const nat = net.show("nat");
    expect(nat).toEqual([
      expect.objectContaining({ device: "branch-cpe", protocol: "udp", state: "replied" }),
    ]);

    const quiet = Network.fromText(SITES.replace(", keepalive: 25s", ""), "quiet.yaml");
    // Nobody has spoken: the headquarters has no endpoint for the branch.
    const t = quiet.trace("hq1", "br1");
    expect(t.delivered).toBe(false);
    expect(t.failure).toMatchObject({ device: "hq-gw", code: "wg-no-endpoint" });
    // The branch speaks first: the tunnel forms through the NAT, both ways.
    expect(quiet.ping("br1", "hq1", { count: 1 }).received).toBe(1);
    expect(quiet.ping("hq1", "br1", { count: 1 }).received).toBe(1);
    // Then silence: the NAT forgets the mapping, and the headquarters' packets hit the NAT router.
    quiet.advance(200e9);
    expect(quiet.show("nat")).toEqual([]);
    expect(quiet.ping("hq1", "br1", { count: 1 }).received).toBe(0);
  });

  it("a rekey under continuous traffic loses nothing", () => {
    const net = Network.fromText(SITES, "vpn-sites.yaml");
    // REKEY_AFTER_TIME is 120 s: a ping every second for 300 s crosses two rekeys.
    const r = net.ping("hq1", "br1", { count: 300, intervalMs: 1000 });
    expect(r.received).toBe(300);
    const rows = net.show("vpn", "hq-gw");
    expect(rows[0].drops).toBeNull();
  });

  it("a gateway with the wrong key never completes a handshake; it is refused and counted", () => {
    // The others expect this public key for branch-gw, but branch-gw holds another private key.
    const wrong = keyToBase64(publicKeyOf(derivePrivateKey(99, "hq-branch", "branch-gw")));
    const text = SITES.replace("keepalive: 25s }", `keepalive: 25s, publicKey: "${wrong}" }`);
    const net = Network.fromText(text, "wrong.yaml");
    expect(net.warnings.join("\n")).toMatch(/vpn-key-mismatch|does not match/);
    const r = net.ping("br1", "hq1", { count: 2 });
    expect(r.received).toBe(0);
    const hq = net.show("counters", "hq-gw").find((x) => x.reason === "wg-unknown-peer");
    expect(Number(hq?.count)).toBeGreaterThan(0);
    const vpn = net.show("vpn", "hq-gw");
    expect(vpn[0].latestHandshake).toBeNull();
  });

  it("tampering and replay on the internet are refused and counted at the receiving gateway", () => {
    const faults = `
faults:
  - { at: 1s, tamper: internet:eth1 }
  - { at: 2s, up: internet:eth1 }
  - { at: 3s, replay: internet:eth1 }
`;
    const net = Network.fromText(`${SITES}${faults}`, "attack.yaml");
    const r = net.run({ probes: [["hq1", "br1"]], durationNs: 4e9, intervalNs: 100e6 });
    const lost = r.probes[0].losses;
    // Every echo tampered with is refused; once the attacker stops, none is lost (replays are
    // refused without harm).
    expect(lost).toHaveLength(1);
    expect(lost[0].fromNs).toBe(1e9);
    expect(lost[0].toNs).toBe(2e9);
    const count = (dev: string, reason: string) =>
      Number(net.show("counters", dev).find((x) => x.reason === reason)?.count ?? 0);
    expect(count("branch-gw", "wg-decrypt-failed")).toBe(10);
    expect(count("branch-gw", "wg-replayed-counter")).toBeGreaterThanOrEqual(10);
    expect(count("hq-gw", "wg-replayed-counter")).toBeGreaterThanOrEqual(10);
  });

  it("one seed gives byte-identical captures; another seed other keys", () => {
    const capture = (seed: number) => {
      const net = Network.fromText(SITES, "vpn-sites.yaml", { seed });
      net.startCaptures();
      net.ping("hq1", "br1", { count: 3 });
      return net.captures()[0].bytes;
    };
    expect(Buffer.from(capture(1)).equals(Buffer.from(capture(1)))).toBe(true);
    expect(Buffer.from(capture(1)).equals(Buffer.from(capture(2)))).toBe(false);
  });
});

describe("hub and spoke, three sites", () => {
  it("branch to branch goes through the hub, handshakes first", () => {
    const net = Network.fromText(HUB, "vpn-hub-spoke.yaml");
    expect(net.warnings).toEqual([]);
    const t = net.trace("b1", "c1");
    expect(t.delivered).toBe(true);
    expect(t.verdict).toContain(
      "through the VPN corp: encrypted between b-gw and c-gw, decrypted and encrypted again at hq-gw",
    );
    const handshakes = t.hops.filter((h) => h.frame.startsWith("WireGuard handshake initiation"));
    expect(new Set(handshakes.map((h) => h.frame)).size).toBe(2); // b-gw -> hq-gw, hq-gw -> c-gw
    // The spokes never talk to each other directly.
    expect(net.show("vpn", "b-gw").map((r) => r.peer)).toEqual(["hq-gw"]);
    expect(net.show("vpn", "hq-gw").map((r) => r.peer)).toEqual(["b-gw", "c-gw"]);
  });

  it("without a hub the same file is a full mesh: branch to branch directly", () => {
    const net = Network.fromText(HUB.replace("    hub: hq-gw\n", ""), "mesh.yaml");
    const t = net.trace("b1", "c1");
    expect(t.delivered).toBe(true);
    expect(t.verdict).toContain(
      "through the VPN corp: encrypted between b-gw and c-gw, carried as WireGuard messages by internet",
    );
    expect(t.verdict).not.toContain("hq-gw");
    expect(net.show("vpn", "b-gw").map((r) => r.peer)).toEqual(["hq-gw", "c-gw"]);
  });

  it("every site reaches every other", () => {
    const net = Network.fromText(HUB, "vpn-hub-spoke.yaml");
    const r = net.pingAll();
    expect(r.received).toBe(r.pairs);
  });
});
