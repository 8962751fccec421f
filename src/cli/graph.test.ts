/**
 * `vnet graph`: formats chosen by --format or -o's extension, --trace drawn over the picture,
 * the same bytes on every run, and every mistake of the user's a one-line error with exit 2.
 */

import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { chooseFormat } from "./graph.ts";
import { memoryIo } from "./io.ts";
import { main } from "./main.ts";

const SEED = fileURLToPath(new URL("../../examples/seed-datacenter.yaml", import.meta.url));

async function run(...args: string[]) {
  const io = memoryIo();
  const code = await main(args, io);
  return { code, out: io.stdout(), err: io.stderr() };
}

describe("vnet graph", () => {
  it("chooses the format from --format, else -o's extension, else svg", () => {
    expect(chooseFormat("dot", "x.svg")).toBe("dot");
    expect(chooseFormat(undefined, "x.svg")).toBe("svg");
    expect(chooseFormat(undefined, "x.DOT")).toBe("dot");
    expect(chooseFormat(undefined, "x.gv")).toBe("dot");
    expect(chooseFormat(undefined, "x.mmd")).toBe("mermaid");
    expect(chooseFormat(undefined, "README.md")).toBe("mermaid");
    expect(chooseFormat(undefined, undefined)).toBe("svg");
  });

  it("prints SVG by default, DOT and Mermaid on request; the same bytes every run", async () => {
    const svg = await run("graph", SEED);
    expect(svg.code).toBe(0);
    expect(svg.out.startsWith("<svg ")).toBe(true);
    expect((await run("graph", SEED)).out).toBe(svg.out);
    const dot = await run("graph", SEED, "--format", "dot");
    expect(dot.out.startsWith('graph "seed-datacenter" {')).toBe(true);
    const mmd = await run("graph", SEED, "--format", "mermaid", "--trace", "web1", "db1");
    expect(mmd.code).toBe(0);
    expect(mmd.out).toContain("flowchart TB");
    expect(mmd.out).toContain("linkStyle");
    expect((await run("graph", SEED, "--format", "mermaid", "--trace", "web1", "db1")).out).toBe(mmd.out);
  });

  it("--json: the model, with the trace's marks", async () => {
    const r = await run("graph", SEED, "--json", "--trace", "web1", "db1");
    const g = JSON.parse(r.out) as { nodes: { id: string; mark: string | null }[]; caption: string };
    expect(g.caption).toBe("trace web1 -> db1: delivered");
    expect(g.nodes.find((n) => n.id === "vm:db1")?.mark).toBe("path");
    const bad = await run("graph", SEED, "--json", "--trace", "web1", "nosuchvm");
    expect(bad.code).toBe(2);
    expect(JSON.parse(bad.out).error.code).toBe("unknown-vm");
  });

  it("-o writes the file in the format of its extension", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vnet-graph-"));
    const r = await run("graph", SEED, "--trace", "web1", "web3", "-o", join(dir, "seed.dot"));
    expect(r).toMatchObject({ code: 0, out: "" });
    const dot = readFileSync(join(dir, "seed.dot"), "utf8");
    expect(dot).toContain('label="trace web1 -> web3: delivered"');
    expect(dot).toContain(
      '"nic:server2/eth0" -- "sw:tor1" [label="server2:eth0 -- tor1:eth2\\neth2: trunk 10,20", color="#1f6feb"',
    );
  });

  it("user errors: one line, exit 2, no stack", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vnet-graph-"));
    const broken = join(dir, "broken.yaml");
    writeFileSync(
      broken,
      "servers:\n  s1:\n    vms:\n      v1: { nics: [{ portGroup: nope, ip: 10.0.0.1/24 }] }\n",
    );
    const cases: [string[], RegExp][] = [
      [["graph", SEED, "--format", "png"], /--format: "png" is not one of: svg, dot, mermaid/],
      [["graph", SEED, "--trace", "web1", "nosuchvm"], /nosuchvm/],
      [["graph", SEED, "--trace", "web1"], /--trace takes two names/],
      [["graph", join(dir, "missing.yaml")], /missing\.yaml/],
      [["graph", broken], /broken\.yaml:\d+:\d+/],
      [["graph", SEED, "-o", join(dir, "no", "such", "dir", "x.svg")], /-o .*x\.svg/],
    ];
    for (const [args, message] of cases) {
      const r = await run(...args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.err, args.join(" ")).toMatch(message);
      expect(r.err).not.toMatch(/\n\s+at /);
      expect(r.out).toBe("");
    }
  });
});
