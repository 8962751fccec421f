/**
 * The topology corpus: every file in `broken/` holds one mistake a user can make and must be
 * refused with exactly the diagnostics in its `.expected` file (`line:col: message`, one per
 * line, errors and warnings in file order); every file in `warnings/` loads, with exactly the
 * warnings in its `.expected` file; the shipped examples load without a warning.
 */

import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { generateDatacenter } from "../../src/model/generate.ts";
import { type Diagnostic, loadTopologyFile, TopologyError } from "../../src/model/load.ts";
import { loadTopologyText } from "../../src/model/load-text.ts";
import { buildWorld } from "../../src/sim/build.ts";

const here = import.meta.dirname;
const root = join(here, "..", "..");

function lines(ds: readonly Diagnostic[]): string[] {
  return [...ds]
    .sort((a, b) => a.line - b.line || a.col - b.col)
    .map((d) => `${d.line}:${d.col}: ${d.severity === "warning" ? "warning: " : ""}${d.message}`);
}

function expected(yamlPath: string): string[] {
  const text = readFileSync(yamlPath.replace(/\.yaml$/, ".expected"), "utf8");
  return text.split("\n").filter((l) => l.trim() !== "");
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".yaml"))
    .sort();
}

describe("broken topologies", () => {
  const dir = join(here, "broken");
  const files = yamlFiles(dir);
  it("has at least 20 broken files, each with an expectation", () => {
    expect(files.length).toBeGreaterThanOrEqual(20);
    const all = readdirSync(dir);
    for (const f of files) expect(all).toContain(f.replace(/\.yaml$/, ".expected"));
  });
  for (const f of files) {
    it(f, () => {
      const path = join(dir, f);
      let caught: unknown;
      try {
        loadTopologyFile(path);
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(TopologyError);
      const err = caught as TopologyError;
      expect(err.errors.length).toBeGreaterThan(0);
      expect(lines(err.diagnostics)).toEqual(expected(path));
      // Every diagnostic names this file, and the error text is the formatted diagnostics.
      for (const d of err.diagnostics) expect(d.file).toBe(path);
      for (const d of err.diagnostics) expect(d.code).toMatch(/^[a-z0-9-]+$/);
      expect(err.message.split("\n")[0]).toBe(`${path}:${lines(err.errors)[0]}`);
    });
  }
});

describe("diagnostic codes, for scripts", () => {
  const codes: [string, string[]][] = [
    ["vlan-zero", ["vlan-not-carried"]],
    ["portgroup-vlan-4095", ["bad-vlan"]],
    ["vlan-4095", ["bad-vlan"]],
    ["bad-bandwidth-unit", ["bad-unit"]],
    ["ip-without-prefix", ["bad-address"]],
    ["multicast-mac", ["bad-mac"]],
    ["unknown-port-group", ["unknown-name"]],
    ["l2-loop-triangle", ["l2-loop"]],
    ["l2-loop-some-without-stp", ["l2-loop"]],
    ["vlan-not-on-trunk", ["vlan-not-carried"]],
    ["vms-over-vfs", ["too-many-vfs"]],
    ["yaml-duplicate-key", ["duplicate-key"]],
    ["missing-name", ["missing-key"]],
    ["unknown-key-typo", ["unknown-key"]],
    ["vni-out-of-range", ["bad-value"]],
    ["vni-without-vtep", ["port-config"]],
    ["vtep-gateway-outside-subnet", ["bad-gateway"]],
    ["vtep-ip-duplicate", ["duplicate-ip"]],
  ];
  for (const [name, want] of codes) {
    it(`${name}: ${want.join(", ")}`, () => {
      try {
        loadTopologyFile(join(here, "broken", `${name}.yaml`));
        expect.unreachable();
      } catch (e) {
        expect((e as TopologyError).errors.map((d) => d.code)).toEqual(want);
      }
    });
  }
});

describe("topologies with warnings", () => {
  const dir = join(here, "warnings");
  for (const f of yamlFiles(dir)) {
    it(f, () => {
      const path = join(dir, f);
      const { topology, warnings } = loadTopologyFile(path);
      expect(topology.servers.length).toBeGreaterThan(0);
      expect(warnings.length).toBeGreaterThan(0);
      for (const w of warnings) expect(w.severity).toBe("warning");
      expect(lines(warnings)).toEqual(expected(path));
    });
  }
});

describe("shipped examples", () => {
  const dir = join(root, "examples");
  for (const f of yamlFiles(dir)) {
    it(`${f} loads without warnings`, () => {
      const { topology, warnings } = loadTopologyFile(join(dir, f));
      expect(lines(warnings)).toEqual([]);
      expect(topology.servers.length).toBeGreaterThan(0);
      expect(topology.links.length).toBeGreaterThan(0);
    });
  }
});

describe("what the loader accepts, the simulator builds", () => {
  // The loader is the only gate: a topology it accepts (warnings or not) must not make a device
  // refuse its configuration later.
  const files = [
    ...yamlFiles(join(root, "examples")).map((f) => join(root, "examples", f)),
    ...yamlFiles(join(here, "warnings")).map((f) => join(here, "warnings", f)),
  ];
  for (const path of files) {
    it(path.slice(root.length + 1), () => {
      const built = buildWorld(loadTopologyFile(path).topology, { seed: 1 });
      expect(built.vms.size).toBeGreaterThan(0);
    });
  }
  it("a generated data center with SR-IOV VMs", () => {
    const text = generateDatacenter({
      racks: 2,
      serversPerRack: 2,
      vmsPerServer: 3,
      portGroups: 2,
      sriovVmsPerServer: 1,
    });
    const built = buildWorld(loadTopologyText(text, "gen.yaml").topology, { seed: 1 });
    expect(built.vms.size).toBe(12);
  });
});

/** One edit of a valid example that keeps it YAML-ish: a value or a key changed to another. */
const examples = ["seed-datacenter.yaml", "two-racks.yaml"].map((f) =>
  readFileSync(join(root, "examples", f), "utf8"),
);
const edited = fc
  .tuple(
    fc.constantFrom(0, 1),
    fc.nat(),
    fc.constantFrom(
      "10",
      "20",
      "30",
      "1",
      "4094",
      "eth0",
      "eth1",
      "eth9",
      "web",
      "db",
      "trunk",
      "access",
      "tor1",
      "core1",
    ),
  )
  .map(([e, at, word]) => {
    // Replace one token (a run of letters/digits) with another plausible one.
    const text = examples[e];
    const tokens = [...text.matchAll(/[A-Za-z0-9]+/g)];
    const t = tokens[at % tokens.length];
    return text.slice(0, t.index) + word + text.slice(t.index! + t[0].length);
  });

test.prop([edited], { numRuns: 150 })("an edited example either is refused or builds", (text) => {
  let topology: ReturnType<typeof loadTopologyText>["topology"];
  try {
    topology = loadTopologyText(text, "edited.yaml").topology;
  } catch (e) {
    if (e instanceof TopologyError) return;
    throw e;
  }
  expect(buildWorld(topology, { seed: 1 }).vms.size).toBeGreaterThan(0);
});
