/**
 * Scenario: hypervisor VXLAN VTEPs (RFC 7348) over the routed leaf-spine underlay
 * (`examples/vxlan-fabric.yaml`): tenant VMs of one VNI in both racks reach each other through
 * their hosts' VTEPs; a trace shows the inner frame encapsulated, the outer packet's routed hops,
 * and the decapsulation; the inner frame is never on a cable by itself; different inner flows
 * take different outer source ports and so both spines; two VNIs with the same subnet do not
 * see each other; a learning VNI learns remote MACs and a static one keeps its given entries.
 * The captures decode in tshark with the inner frame (skipped without tshark).
 */

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { Vswitch } from "../../src/dataplane/vswitch.ts";
import { Network } from "../../src/network.ts";
import { formatIpv4, formatMac, parseIpv4 } from "../../src/wire/addr.ts";
import { captureRecords } from "../../src/wire/capture.ts";
import { decodeFrame } from "../../src/wire/decode.ts";
import { hasTshark, tsharkPdml } from "../oracle/tshark.ts";
import { checkWithTshark } from "./tshark-check.ts";

const FABRIC = fileURLToPath(new URL("../../examples/vxlan-fabric.yaml", import.meta.url));
const load = () => Network.fromText(readFileSync(FABRIC, "utf8"), "vxlan-fabric.yaml");
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function vtepOf(net: Network, name: string) {
  const dev = net.world.device(name);
  if (!(dev instanceof Vswitch) || dev.vtep === null) throw new Error(`${name} has no VTEP`);
  return dev.vtep;
}

const ip = (text: string) => parseIpv4(text);

function vmMac(net: Network, vm: string): number {
  for (const s of net.topology.servers) for (const v of s.vms) if (v.name === vm) return v.nics[0].mac;
  throw new Error(vm);
}

describe("hypervisor VXLAN VTEPs over a routed leaf-spine underlay", () => {
  it("tenant VMs of one VNI reach each other within and across racks; the underlay VMs still do", () => {
    const net = load();
    for (const [a, b] of [
      ["a1", "a2"],
      ["a1", "a3"],
      ["a3", "a2"],
      ["b1", "b2"],
      ["web1", "app1"],
    ])
      expect(net.ping(a, b, { count: 2 }).received, `${a} -> ${b}`).toBe(2);
  });

  it("a trace shows the encapsulation, the outer packet's routed hops and the decapsulation", () => {
    const t = load().trace("a1", "a2");
    expect(t.delivered).toBe(true);
    const echo = t.hops.filter((h) => h.frame.startsWith("ICMP echo request"));
    const reasons = echo.map((h) => `${h.device}: ${h.reason}`);
    const encap = reasons.findIndex((r) =>
      /^esx1\/vs0: encapsulated in VXLAN VNI 5001 to VTEP 10\.100\.1\.12 \(outer UDP 4789, sport (49|5|6)\d+\)$/.test(
        r,
      ),
    );
    const decap = reasons.indexOf("esx2/vs0: decapsulated VNI 5001 from 10.100.0.11");
    expect(encap).toBeGreaterThanOrEqual(0);
    expect(decap).toBeGreaterThan(encap);
    const routed = echo.filter((h) => h.action === "route");
    expect(routed.map((h) => h.device)).toEqual(["leaf1", expect.stringMatching(/^spine[12]$/), "leaf2"]);
    expect(routed[0].reason).toMatch(/^routed vlan 100 -> eth(49|50) \(10\.100\.0\.11 -> 10\.100\.1\.12\)/);
    expect(echo.some((h) => h.device === "a2" && h.action === "deliver")).toBe(true);
    expect(t.verdict).toMatch(
      /^same VXLAN segment \(VNI 5001\), different servers: crosses the physical network inside VXLAN \(VNI 5001\) between the host VTEPs of esx1 and esx2, carried by leaf1, spine[12], leaf2/,
    );
    // The inner frames are no VLAN's: no record of the tenant's segment names a VLAN.
    expect(
      echo.filter((h) => h.device === "esx1/vs0" && h.action === "forward" && h.in === "a1")[0].vlan,
    ).toBeNull();
  });

  it("the inner frame never crosses a cable by itself, and different inner flows use both spines", () => {
    const net = load();
    net.startCaptures();
    for (const [a, b] of [
      ["a1", "a2"],
      ["a3", "a2"],
      ["b1", "b2"],
      ["a1", "a3"],
    ])
      expect(net.ping(a, b, { count: 2 }).received).toBe(2);
    const file = net.captures()[0];
    const tenantMacs = new Set(["a1", "a2", "a3", "b1", "b2"].map((v) => formatMac(vmMac(net, v))));
    const sports = new Set<number>();
    let inner = 0;
    for (const r of captureRecords(file.bytes)) {
      const name = file.interfaces[r.interfaceId];
      const layers = decodeFrame(r.data);
      const outer = layers[0] as { layer: string; src?: string; dst?: string };
      // Only the VMs' own vNIC capture points see tenant frames bare.
      const isVnic = /^(a\d|b\d):/.test(name);
      if (!isVnic) {
        expect(tenantMacs.has(outer.src ?? ""), `${name}: ${outer.src}`).toBe(false);
        expect(tenantMacs.has(outer.dst ?? ""), `${name}: ${outer.dst}`).toBe(false);
      }
      const vx = layers.findIndex((l) => l.layer === "vxlan");
      if (vx < 0) continue;
      const udp = layers[vx - 1] as { srcPort: number };
      sports.add(udp.srcPort);
      const innerEth = layers[vx + 1] as { src: string };
      if (tenantMacs.has(innerEth.src)) inner++;
    }
    expect(inner).toBeGreaterThan(0);
    expect(sports.size).toBeGreaterThan(2);
    for (const sp of sports) expect(sp).toBeGreaterThanOrEqual(49152);
    const tx = (dev: string) =>
      net
        .show("ports", dev)
        .filter((r) => r.port === "eth1" || r.port === "eth2")
        .reduce((n, r) => n + Number(r.txFrames), 0);
    expect(tx("spine1")).toBeGreaterThan(0);
    expect(tx("spine2")).toBeGreaterThan(0);
  });

  it("trace records carry the VXLAN facts as data: encapsulate, carried on every underlay cable, decapsulate", () => {
    const t = load().trace("a1", "a2");
    const echo = t.hops.filter((h) => h.frame.startsWith("ICMP echo request") && h.encap !== undefined);
    const facts = { type: "vxlan", vni: 5001, outerSrc: "10.100.0.11", outerDst: "10.100.1.12" };
    expect(echo[0]).toMatchObject({ device: "esx1/vs0", encap: { ...facts, step: "encapsulate" } });
    expect(echo.at(-1)).toMatchObject({ device: "esx2/vs0", encap: { ...facts, step: "decapsulate" } });
    const carried = echo.slice(1, -1);
    expect(carried.length).toBeGreaterThanOrEqual(4);
    // Cables say what they carried and its size; the underlay's routers say they routed the
    // outer packet.
    for (const h of carried) {
      expect(h).toMatchObject({ encap: { ...facts, step: "carried" } });
      if (h.kind === "link") expect(h.reason.startsWith(`${h.frameBytes} bytes`)).toBe(true);
      else expect(h).toMatchObject({ kind: "gateway", action: "route" });
    }
    expect(carried.filter((h) => h.kind === "link").length).toBeGreaterThanOrEqual(4);
  });

  it("two VNIs with the same subnet are two networks: no cross talk", () => {
    const net = load();
    // 192.168.1.22 is b2 (VNI 5010); a1 is in VNI 5001.
    expect(net.ping("a1", "192.168.1.22", { count: 1 }).received).toBe(0);
    expect(net.ping("b1", "192.168.1.12", { count: 1 }).received).toBe(0);
    const t = net.trace("a1", "192.168.1.22");
    expect(t.delivered).toBe(false);
    expect(t.hops.some((h) => h.device === "b2")).toBe(false);
  });

  it("learned entries age (overlay.vnis.VNI.ageing): idle past it, the next frame is flooded head-end again", () => {
    const text = readFileSync(FABRIC, "utf8").replace(
      "5001: { replication: head-end, learning: true }",
      "5001: { replication: head-end, learning: true, ageing: 60 }",
    );
    const net = Network.fromText(text, "vxlan-fabric.yaml");
    expect(net.topology.overlay?.find((o) => o.vni === 5001)?.ageingSec).toBe(60);
    expect(net.topology.overlay?.find((o) => o.vni === 5010)?.ageingSec).toBe(300);
    expect(net.ping("a1", "a2", { count: 1 }).received).toBe(1);
    const esx1 = vtepOf(net, "esx1/vs0");
    expect(esx1.remoteOf(5001, vmMac(net, "a2"))).toBe(ip("10.100.1.12"));
    // The last frame from a2 is its ARP probe a few seconds after the ping (its cache entry for
    // a1 was used while stale); 60 s after that frame the entry is gone.
    net.world.runFor(50e9);
    const entry = esx1.table().find((e) => e.vni === 5001 && e.mac === vmMac(net, "a2"));
    expect(entry?.ageNs).toBeGreaterThan(40e9);
    expect(entry?.ageNs).toBeLessThan(60e9);
    net.world.runFor(60e9 - (entry?.ageNs ?? 0) - 1);
    expect(esx1.remoteOf(5001, vmMac(net, "a2"))).toBe(ip("10.100.1.12"));
    net.world.runFor(1);
    expect(esx1.remoteOf(5001, vmMac(net, "a2"))).toBeNull();
    // a1's next echo to a2 is unknown unicast at esx1 again: one copy per VTEP of VNI 5001.
    const t = net.trace("a1", "a2");
    expect(t.delivered).toBe(true);
    const copies = t.hops.filter(
      (h) =>
        h.frame.startsWith("ICMP echo request") &&
        h.device === "esx1/vs0" &&
        h.reason.startsWith("encapsulated in VXLAN VNI 5001"),
    );
    expect(copies.map((h) => h.reason.replace(/sport \d+/, "sport N"))).toEqual([
      "encapsulated in VXLAN VNI 5001 to VTEP 10.100.0.13 (outer UDP 4789, sport N, unknown unicast, head-end replication)",
      "encapsulated in VXLAN VNI 5001 to VTEP 10.100.1.12 (outer UDP 4789, sport N, unknown unicast, head-end replication)",
    ]);
    expect(esx1.remoteOf(5001, vmMac(net, "a2"))).toBe(ip("10.100.1.12"));
  });

  it("a learning VNI learns remote MACs from the outer source; a static one keeps its entries only", () => {
    const net = load();
    expect(net.ping("a1", "a2", { count: 1 }).received).toBe(1);
    expect(net.ping("b1", "b2", { count: 1 }).received).toBe(1);
    const esx2 = vtepOf(net, "esx2/vs0");
    const row = (vni: number) =>
      esx2
        .table()
        .filter((e) => e.vni === vni)
        .map((e) => `${formatMac(e.mac)} ${formatIpv4(e.vtep)}${e.isStatic ? " static" : ""}`)
        .sort();
    expect(row(5001)).toContain(`${formatMac(vmMac(net, "a1"))} 10.100.0.11`);
    expect(row(5010)).toEqual([
      "02:00:00:00:10:01 10.100.1.12 static",
      "02:00:00:00:10:02 10.100.0.11 static",
    ]);
    // The vswitch learned a1 behind its tunnel port, in the VNI's segment (show fdb names it).
    const fdb = net.show("fdb", "esx2/vs0");
    expect(fdb).toContainEqual(
      expect.objectContaining({ vlan: "vni 5001", mac: formatMac(vmMac(net, "a1")), port: "vtep:vmk0" }),
    );
    expect(net.show("arp", "esx2").some((r) => r.device === "esx2/vs0 (vtep)" && r.ip === "10.100.1.1")).toBe(
      true,
    );
    // With learning off, the learned entry for a1 never appears in the static VNI's table.
    expect(esx2.remoteOf(5010, vmMac(net, "a1"))).toBeNull();
  });

  it("the captures decode in tshark: VXLAN with the inner frame, nothing malformed", () => {
    if (!hasTshark()) {
      console.log("skipped: tshark not installed");
      return;
    }
    const net = load();
    net.startCaptures();
    expect(net.ping("a1", "a2", { count: 1 }).received).toBe(1);
    const dir = mkdtempSync(join(tmpdir(), "vnet-vxlan-"));
    dirs.push(dir);
    const file = net.captures()[0];
    writeFileSync(join(dir, file.fileName), file.bytes);
    checkWithTshark(dir);
    const packets = tsharkPdml(join(dir, file.fileName));
    const vxlan = packets.filter((p) => p.protos.some((x) => x.name === "vxlan"));
    expect(vxlan.length).toBeGreaterThan(0);
    const names = vxlan[0].protos.map((x) => x.name);
    // outer eth, (vlan,) ip, udp, vxlan, then the inner frame's eth and its payload
    const at = names.indexOf("vxlan");
    expect(names.slice(at + 1)).toEqual(expect.arrayContaining(["eth"]));
    expect(vxlan.some((p) => p.protos.map((x) => x.name).includes("icmp"))).toBe(true);
  });
});
