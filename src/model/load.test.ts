/**
 * The loader from text to `Topology`: what the normalized form holds for the shipped example,
 * defaults and unit parsing, port-group resolution, VF numbering, deterministic MACs, all
 * errors at once in file order, and (property) that no input escapes as anything but a
 * `TopologyError`.
 */

import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { formatMac, parseIpv4 } from "../wire/addr.ts";
import {
  firstInvalidUtf8,
  loadTopologyFile,
  loadTopologyText,
  MAX_TOPOLOGY_BYTES,
  TopologyError,
} from "./load.ts";
import type { Topology } from "./types.ts";

const examples = join(import.meta.dirname, "..", "..", "examples");
const seedText = readFileSync(join(examples, "seed-datacenter.yaml"), "utf8");

function load(text: string): Topology {
  return loadTopologyText(text, "t.yaml").topology;
}

function errorsOf(text: string): string[] {
  try {
    loadTopologyText(text, "t.yaml");
  } catch (e) {
    if (e instanceof TopologyError) return e.errors.map((d) => `${d.line}:${d.col}: ${d.message}`);
    throw e;
  }
  throw new Error("expected the topology to be refused");
}

const minimal = (extra: string) => `name: t
switches:
  sw1: { ports: { p1: { mode: trunk } } }
servers:
  s1:
    nics: [eth0, eth9]
    vswitches:
      vs0:
        uplinks: [eth0]
        portGroups:
          pg: { vlan: 1 }
    vms:
      vm1: { nics: [{ portGroup: pg, ip: 10.0.0.1/24 }] }
links:
  - endpoints: [s1:eth0, sw1:p1]
${extra}`;

describe("the shipped seed example", () => {
  const { topology: t, warnings } = loadTopologyFile(join(examples, "seed-datacenter.yaml"));

  it("has the source document's resources", () => {
    expect(warnings).toEqual([]);
    expect(t.name).toBe("seed-datacenter");
    expect(t.servers.map((s) => s.name)).toEqual(["server1", "server2"]);
    expect(t.switches.map((s) => s.name)).toEqual(["tor1"]);
    expect(t.servers[0].vms.map((v) => v.name)).toEqual(["web1", "web2", "db1", "sriov1", "sriov2"]);
    expect(t.servers[1].vms.map((v) => v.name)).toEqual(["web3", "db2"]);
  });

  it("normalizes the switch: trunk ports and SVIs", () => {
    const tor = t.switches[0];
    expect(tor.ports).toEqual([
      { name: "eth1", mode: "trunk", vlans: [10, 20], nativeVlan: null },
      { name: "eth2", mode: "trunk", vlans: [10, 20], nativeVlan: null },
      { name: "eth3", mode: "trunk", vlans: [10], nativeVlan: null },
    ]);
    expect(tor.gateway).toEqual([
      { vid: 10, ip: parseIpv4("192.168.10.1"), prefixLen: 24, mtu: 1500 },
      { vid: 20, ip: parseIpv4("192.168.20.1"), prefixLen: 24, mtu: 1500 },
    ]);
    expect(tor.macTableSize).toBe(8192);
    expect(tor.macAgingSec).toBe(300);
  });

  it("resolves port groups and numbers VFs in file order", () => {
    const s1 = t.servers[0];
    expect(s1.nics[1]).toMatchObject({ name: "eth1", sriov: { vfs: 8, maxVfs: 128 } });
    expect(s1.vswitches[0]).toMatchObject({ name: "vs0", uplinks: ["eth0"] });
    expect(s1.vswitches[0].portGroups[0]).toEqual({
      name: "web",
      vlan: 10,
      vni: null,
      security: {
        allowPromiscuous: false,
        allowMacChanges: false,
        allowForgedTransmits: false,
        spoofGuard: true,
      },
      teaming: null,
    });
    const byName = new Map(s1.vms.map((v) => [v.name, v]));
    expect(byName.get("web1")!.nics[0]).toMatchObject({
      name: "eth0",
      attachment: { kind: "portGroup", vswitch: "vs0", portGroup: "web" },
      ip: parseIpv4("192.168.10.11"),
      prefixLen: 24,
      gateway: parseIpv4("192.168.10.1"),
    });
    expect(byName.get("sriov1")!.nics[0].attachment).toEqual({
      kind: "vf",
      nic: "eth1",
      vfIndex: 0,
      vlan: 10,
      spoofCheck: true,
    });
    expect(byName.get("sriov2")!.nics[0].attachment).toMatchObject({ kind: "vf", nic: "eth1", vfIndex: 1 });
    expect(formatMac(byName.get("db1")!.nics[0].mac)).toBe("02:00:00:00:20:11");
  });

  it("parses link properties and fills defaults", () => {
    expect(t.links[0]).toEqual({
      a: { node: "server1", port: "eth0" },
      b: { node: "tor1", port: "eth1" },
      bandwidthBps: 10e9,
      delayNs: 2000,
      mtu: 1500,
      lossRate: 0,
      isUp: true,
      queueFrames: 1000,
    });
    expect(t.links[2].bandwidthBps).toBe(25e9);
  });
});

describe("defaults and units", () => {
  it("makes a linked but unconfigured switch port an access port in VLAN 1", () => {
    const t = load(minimal("  - endpoints: [s1:eth9, sw1:p2]\n"));
    expect(t.switches[0].ports).toEqual([
      { name: "p1", mode: "trunk", vlans: null, nativeVlan: null },
      { name: "p2", mode: "access", vlan: 1 },
    ]);
  });

  it("reads bandwidth, delay, loss, mtu, up and queue", () => {
    const t = load(
      minimal(`  - endpoints: [sw1:p2, sw2:p1]
    bandwidth: 1G
    delay: 500ns
    loss: "0.1%"
    mtu: 9000
    up: false
    queue: 64
  - endpoints: [sw2:p2, sw3:p1]
    bandwidth: 100Mbps
    delay: 1.5ms
    loss: 0.25
`).replace("switches:\n", "switches:\n  sw2: {}\n  sw3: {}\n"),
    );
    expect(t.links[1]).toMatchObject({
      bandwidthBps: 1e9,
      delayNs: 500,
      lossRate: 0.001,
      mtu: 9000,
      isUp: false,
      queueFrames: 64,
    });
    expect(t.links[2]).toMatchObject({ bandwidthBps: 1e8, delayNs: 1_500_000, lossRate: 0.25, isUp: true });
  });

  it("expands trunk VLAN ranges and keeps 'all' as null", () => {
    const t = load(
      minimal("").replace(
        "  sw1: { ports: { p1: { mode: trunk } } }",
        `  sw1:
    ports:
      p1: { mode: trunk, vlans: [1, "100-102", 5, 5], native: 1 }
      p9: { mode: trunk, vlans: all }
      p8: { mode: trunk }`,
      ),
    );
    expect(t.switches[0].ports).toEqual([
      { name: "p1", mode: "trunk", vlans: [1, 5, 100, 101, 102], nativeVlan: 1 },
      { name: "p9", mode: "trunk", vlans: null, nativeVlan: null },
      { name: "p8", mode: "trunk", vlans: null, nativeVlan: null },
    ]);
  });

  it("layers security: port group over vswitch over reject", () => {
    const t = load(
      minimal("").replace(
        "          pg: { vlan: 1 }",
        `          pg: { vlan: 1, security: { macChanges: reject } }
          open: { vlan: 1, security: { promiscuous: true, spoofGuard: false } }
        security: { macChanges: accept, forgedTransmits: accept }`,
      ),
    );
    const [pg, open] = t.servers[0].vswitches[0].portGroups;
    expect(pg.security).toEqual({
      allowPromiscuous: false,
      allowMacChanges: false,
      allowForgedTransmits: true,
      spoofGuard: true,
    });
    expect(open.security).toEqual({
      allowPromiscuous: true,
      allowMacChanges: true,
      allowForgedTransmits: true,
      spoofGuard: false,
    });
  });

  it("resolves vs/pg when two vswitches share a port group name", () => {
    const t = load(
      minimal("")
        .replace("    nics: [eth0, eth9]", "    nics: [eth0, eth1]")
        .replace(
          "          pg: { vlan: 1 }",
          "          pg: { vlan: 1 }\n      vs1:\n        uplinks: [eth1]\n        portGroups:\n          pg: { vlan: 7 }",
        )
        .replace("portGroup: pg,", "portGroup: vs1/pg,"),
    );
    expect(t.servers[0].vms[0].nics[0].attachment).toEqual({
      kind: "portGroup",
      vswitch: "vs1",
      portGroup: "pg",
    });
  });
});

describe("MAC addresses", () => {
  it("assigns locally administered unicast MACs, the same on every run", () => {
    const a = load(seedText);
    const b = load(seedText);
    const macs: number[] = [];
    for (const s of a.servers) {
      for (const n of s.nics) macs.push(n.mac);
      for (const vm of s.vms) for (const n of vm.nics) macs.push(n.mac);
    }
    for (const s of a.switches) macs.push(s.mac);
    expect(new Set(macs).size).toBe(macs.length);
    for (const m of macs) {
      const first = Math.floor(m / 2 ** 40);
      expect(first & 1).toBe(0); // unicast
      expect(first & 2).toBe(2); // locally administered
    }
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
  });

  it("does not depend on the order of VMs or servers in the file", () => {
    const swapped = seedText.replace(
      /( {6}web1:\n(?: {8}.*\n)+)( {6}web2:\n(?: {8}.*\n)+)/,
      (_m, w1: string, w2: string) => w2 + w1,
    );
    expect(swapped).not.toBe(seedText);
    const macOf = (t: Topology) =>
      Object.fromEntries(t.servers.flatMap((s) => s.vms.map((v) => [v.name, v.nics[0].mac])));
    const t1 = load(seedText);
    const t2 = load(swapped);
    expect(t2.servers[0].vms[0].name).toBe("web2");
    expect(macOf(t2)).toEqual(macOf(t1));
  });
});

describe("errors", () => {
  it("reports every error at once, in file order", () => {
    const text = minimal("  - endpoints: [s1:eth0, sw1:p2]\n")
      .replace("pg: { vlan: 1 }", "pg: { vlan: 4095 }")
      .replace("portGroup: pg,", "portGroup: pgg,");
    // The shape error (VLAN 4095) and the meaning error (the NIC cabled twice) come together; the
    // unknown 'pgg' is not claimed, since the port group that was refused might be the one meant.
    expect(errorsOf(text)).toEqual([
      "11:23: servers.s1.vswitches.vs0.portGroups.pg.vlan: 4095 is not a usable port group VLAN: 1..4094 for a VLAN the vswitch tags, or 0 (or no vlan at all) for an untagged port group (4095, vSphere's guest VLAN tagging, is not supported)",
      "16:17: links[1].endpoints[0]: s1:eth0 is already cabled by links[0]; a NIC takes one link",
    ]);
    const meaning = minimal("  - endpoints: [s1:eth0, sw1:p2]\n  - endpoints: [sw1:p3, sw9:p1]\n").replace(
      "portGroup: pg,",
      "portGroup: pgg,",
    );
    expect(errorsOf(meaning)).toEqual([
      "13:34: servers.s1.vms.vm1.nics[0].portGroup: no port group 'pgg' on s1; did you mean 'pg'? known: pg",
      "16:17: links[1].endpoints[0]: s1:eth0 is already cabled by links[0]; a NIC takes one link",
      "17:25: links[2].endpoints[1]: no switch or server 'sw9'; did you mean 'sw1'? known: sw1, s1",
    ]);
  });

  it("keeps the user's list positions when a broken list item is left out of the meaning checks", () => {
    const text = minimal("  - endpoints: [s1:eth9, sw1:p2]\n  - endpoints: [s1:eth9, sw1:p3]\n").replace(
      "  - endpoints: [s1:eth0, sw1:p1]\n",
      "  - endpoints: 5\n  - endpoints: [s1:eth0, sw1:p1]\n",
    );
    expect(errorsOf(text)).toEqual([
      "15:16: links[0].endpoints: expected two endpoints [node:port, node:port], got 5",
      "18:17: links[3].endpoints[0]: s1:eth9 is already cabled by links[2]; a NIC takes one link",
    ]);
  });

  it("formats the error message as file:line:col lines and a count", () => {
    try {
      loadTopologyText("name: x\nservers:\n  a: { nics: 5 }\n  b: { vms: 5 }\n", "f.yaml");
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(TopologyError);
      expect((e as TopologyError).message).toBe(
        "f.yaml:3:14: servers.a.nics: expected a list, got 5\nf.yaml:4:13: servers.b.vms: expected a map (key: value lines), got 5\n2 errors",
      );
    }
  });

  it("a list written as one string: says what is taken and the list it was probably meant to be", () => {
    try {
      loadTopologyText(
        'name: x\nservers:\n  a: { nics: "eth0, eth1" }\nswitches:\n  t: { ports: { p1: { mode: trunk, vlans: "all" }, p2: { mode: trunk, vlans: "10;20-30" } } }\n',
        "f.yaml",
      );
      expect.unreachable();
    } catch (e) {
      expect((e as TopologyError).message).toBe(
        'f.yaml:3:14: servers.a.nics: expected a list, got "eth0, eth1" (as a list: [eth0, eth1])\n' +
          'f.yaml:5:78: switches.t.ports.p2.vlans: expected a list of VLAN ids or ranges like [10, 20, "100-110"], or "all"; got "10;20-30" (as a list: [10, 20-30])\n2 errors',
      );
    }
  });

  it("names a missing file in one diagnostic", () => {
    expect(() => loadTopologyFile("/nonexistent/vnet-topology.yaml")).toThrow(
      "/nonexistent/vnet-topology.yaml: cannot read the topology file: no such file",
    );
  });
  it("refuses a file over 16 MiB before reading it, a binary file, and text that is not UTF-8", () => {
    const dir = mkdtempSync(join(tmpdir(), "vnet-load-test-"));
    try {
      const big = join(dir, "big.yaml");
      writeFileSync(big, "");
      truncateSync(big, MAX_TOPOLOGY_BYTES + 1); // sparse: nothing is written
      expect(() => loadTopologyFile(big)).toThrow(
        `${big}: the file is 16.0 MiB; a topology file may be at most 16 MiB`,
      );
      const bin = join(dir, "capture.pcap");
      writeFileSync(bin, Uint8Array.from([0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0]));
      expect(() => loadTopologyFile(bin)).toThrow(
        `${bin}: the file is binary (it holds NUL bytes), not a YAML topology file`,
      );
      const latin1 = join(dir, "latin1.yaml");
      writeFileSync(latin1, Uint8Array.from([...Buffer.from("name: x\ndescription: caf"), 0xe9, 0x0a]));
      expect(() => loadTopologyFile(latin1)).toThrow(
        `${latin1}:2:17: the file is not UTF-8 text: byte 0xe9 does not belong here; save it as UTF-8`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("finds the first byte that is not UTF-8 (RFC 3629: no overlong forms, surrogates, or beyond U+10FFFF)", () => {
    const at = (...b: number[]) => firstInvalidUtf8(Uint8Array.from(b));
    expect(at(...Buffer.from("héllo €𝄞"))).toBeUndefined();
    expect(at(0x61, 0xc0, 0x80)).toBe(1); // overlong NUL
    expect(at(0xe0, 0x80, 0x80)).toBe(0); // overlong
    expect(at(0xed, 0xa0, 0x80)).toBe(0); // a surrogate
    expect(at(0xf4, 0x90, 0x80, 0x80)).toBe(0); // beyond U+10FFFF
    expect(at(0x61, 0x62, 0xe2, 0x82)).toBe(2); // cut short
    expect(at(0x80)).toBe(0);
  });
});

/** Turns text into something YAML-ish: the seed example with one random edit. */
const mutatedSeed = fc
  .tuple(
    fc.nat(seedText.length - 1),
    fc.nat(200),
    fc.constantFrom(
      "",
      ":",
      "-",
      " ",
      "\n",
      "{",
      "}",
      "[",
      "]",
      "'",
      '"',
      "&a",
      "*a",
      "<<",
      "#",
      "\t",
      "0",
      "x",
    ),
  )
  .map(([at, cut, insert]) => seedText.slice(0, at) + insert + seedText.slice(at + cut));

const yamlish = fc
  .array(
    fc.oneof(
      fc.constantFrom(
        "name: x\n",
        "servers:\n",
        "switches:\n",
        "links:\n",
        "  - endpoints: [a:b, c:d]\n",
        "  s1:\n",
        "    nics: [eth0]\n",
        "    vms:\n",
        "      v: { nics: [{ portGroup: p, ip: 1.2.3.4/8 }] }\n",
        "    vswitches: { vs: { uplinks: [eth0], portGroups: { p: { vlan: 2 } } } }\n",
        "  - &x { a: 1 }\n",
        "  - *x\n",
        "<<: *x\n",
        "---\n",
        "? [a]\n",
      ),
      fc.string({ maxLength: 20 }),
    ),
    { maxLength: 12 },
  )
  .map((parts) => parts.join(""));

describe("property: nothing but TopologyError escapes", () => {
  const mustBeTopologyError = (text: string) => {
    try {
      const r = loadTopologyText(text, "p.yaml");
      expect(r.topology.name.length).toBeGreaterThan(0);
    } catch (e) {
      if (!(e instanceof TopologyError)) throw e;
      const lineCount = text.split("\n").length;
      expect(e.errors.length).toBeGreaterThan(0);
      for (const d of e.diagnostics) {
        expect(d.line).toBeGreaterThanOrEqual(1);
        expect(d.line).toBeLessThanOrEqual(lineCount + 1);
        expect(d.col).toBeGreaterThanOrEqual(1);
        expect(d.message.length).toBeGreaterThan(0);
      }
    }
  };
  test.prop([mutatedSeed], { numRuns: 150 })("one random edit of the seed example", mustBeTopologyError);
  test.prop([yamlish], { numRuns: 300 })("YAML-ish fragments", mustBeTopologyError);
  test.prop([fc.anything({ maxDepth: 4 })], { numRuns: 200 })("any YAML value", (v) =>
    mustBeTopologyError(stringify(v) ?? ""),
  );
  test.prop(
    [
      fc.record({
        name: fc.oneof(fc.string(), fc.integer()),
        servers: fc.dictionary(
          fc.string({ maxLength: 6 }),
          fc.record({
            nics: fc.array(
              fc.oneof(fc.string({ maxLength: 5 }), fc.constant({ name: "e1", sriov: { vfs: 2 } })),
            ),
            vms: fc.dictionary(
              fc.string({ maxLength: 4 }),
              fc.record({
                nics: fc.array(
                  fc.record({
                    portGroup: fc.constantFrom("p", "vs/p", "q"),
                    vf: fc.constantFrom("e1", undefined),
                    ip: fc.constantFrom("10.0.0.1/8", "10.0.0.2/8", "10.0.0.0/8", "1.2.3.4"),
                  }),
                ),
              }),
            ),
          }),
        ),
      }),
    ],
    { numRuns: 100 },
  )("structured near-topologies", (v) => mustBeTopologyError(stringify(v)));
});
