/**
 * Linux kernel VXLAN traffic through our decoder. The committed fixture
 * (`test/fixtures/kernel-vxlan.pcap`, written by `capture-kernel-vxlan.sh`: two namespaces,
 * kernel vxlan devices with VNI 42 on UDP 4789, three pings) is decoded everywhere; as root the
 * script also runs live and the fresh capture must decode the same way.
 */

import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { captureRecords } from "../../src/wire/capture.ts";
import { decodeFrame, type Layer } from "../../src/wire/decode.ts";

const here = dirname(fileURLToPath(import.meta.url));
const FIXTURE = join(here, "../fixtures/kernel-vxlan.pcap");
const SCRIPT = join(here, "capture-kernel-vxlan.sh");

type LayerOf<K extends Layer["layer"]> = Extract<Layer, { layer: K }>;

function get<K extends Layer["layer"]>(layers: Layer[], kind: K, nth = 0): LayerOf<K> {
  const found = layers.filter((l): l is LayerOf<K> => l.layer === kind);
  if (!found[nth]) throw new Error(`no ${kind} layer #${nth} in ${layers.map((l) => l.layer).join(",")}`);
  return found[nth];
}

/**
 * Checks a capture of the script's traffic: every frame is outer IPv4/UDP to 4789 between the
 * underlay addresses with VNI 42; the inner frames are an ARP exchange and `pings` echo
 * request/reply pairs between the overlay addresses, all checksums valid.
 */
function checkCapture(bytes: Uint8Array, pings: number): void {
  const frames = [...captureRecords(bytes)].map((r) => decodeFrame(r.data));
  expect(frames.length).toBe(2 + 2 * pings);
  for (const layers of frames) {
    expect(layers.some((l) => l.layer === "error")).toBe(false);
    const outer = get(layers, "ipv4");
    expect([outer.src, outer.dst].sort()).toEqual(["192.168.42.1", "192.168.42.2"]);
    expect(outer.checksumValid).toBe(true);
    const udp = get(layers, "udp");
    expect(udp.dstPort).toBe(4789);
    expect(["valid", "absent"]).toContain(udp.checksumStatus);
    expect(get(layers, "vxlan").vni).toBe(42);
    expect(get(layers, "ethernet", 1).src).toMatch(/^02:00:00:00:42:0[12]$/);
  }
  const arps = frames.filter((l) => l.some((x) => x.layer === "arp")).map((l) => get(l, "arp"));
  expect(arps.map((a) => [a.op, a.senderIp, a.targetIp])).toEqual([
    [1, "10.42.0.1", "10.42.0.2"],
    [2, "10.42.0.2", "10.42.0.1"],
  ]);
  expect(arps[1].senderMac).toBe("02:00:00:00:42:02");
  const pingFrames = frames.filter((l) => l.some((x) => x.layer === "icmp"));
  expect(pingFrames).toHaveLength(2 * pings);
  pingFrames.forEach((layers, i) => {
    const inner = get(layers, "ipv4", 1);
    const icmp = get(layers, "icmp");
    const isRequest = i % 2 === 0;
    expect(inner.src).toBe(isRequest ? "10.42.0.1" : "10.42.0.2");
    expect(inner.dst).toBe(isRequest ? "10.42.0.2" : "10.42.0.1");
    expect(inner.checksumValid).toBe(true);
    expect(icmp.type).toBe(isRequest ? 8 : 0);
    expect(icmp.seq).toBe(Math.floor(i / 2) + 1);
    expect(icmp.checksumValid).toBe(true);
  });
}

describe("kernel VXLAN capture", () => {
  it("the committed fixture decodes: outer IPv4/UDP 4789, VNI 42, inner ARP and pings", () => {
    checkCapture(readFileSync(FIXTURE), 3);
  });

  const missing = ["ip", "ping", "dumpcap"].find(
    (t) => spawnSync("sh", ["-c", `command -v ${t}`]).status !== 0,
  );
  const skipReason = process.getuid?.() !== 0 ? "needs root" : missing ? `${missing} not found` : undefined;
  if (skipReason) {
    process.stderr.write(`kernel-vxlan live capture: skipped (${skipReason})\n`);
    it.skip(`live capture (skipped: ${skipReason})`, () => {});
  } else {
    it("a live capture of the kernel's VXLAN decodes the same way", () => {
      const dir = mkdtempSync(join(tmpdir(), "vnet-kvx-"));
      try {
        const out = join(dir, "live.pcap");
        const r = spawnSync("bash", [SCRIPT, out, "2"], { encoding: "utf8", timeout: 30_000 });
        expect(r.status, r.stderr).toBe(0);
        checkCapture(readFileSync(out), 2);
        const left = spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout;
        expect(left).not.toMatch(/vnet-kvx-[ab]-/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
