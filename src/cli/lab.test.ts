/**
 * The parts of the lab commands that need no root: the default lab name, the hop alignment of
 * `vnet trace --real`, and the one-line refusals a user gets without a lab.
 */

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { memoryIo } from "./io.ts";
import { alignHops, defaultLabName } from "./lab.ts";
import { main } from "./main.ts";

describe("defaultLabName", () => {
  it("is the topology's name made safe, else the file's, at most 24 characters", () => {
    expect(defaultLabName("seed-datacenter", "x.yaml")).toBe("seed-datacenter");
    expect(defaultLabName("My Lab_2 (test)", "x.yaml")).toBe("my-lab-2-test");
    expect(defaultLabName(undefined, "/a/b/Leaf Spine.yaml")).toBe("leaf-spine");
    expect(defaultLabName("a-very-long-topology-name-that-goes-on", "x.yaml")).toBe(
      "a-very-long-topology-nam",
    );
    expect(defaultLabName("!!!", "x.yaml")).toBe("lab");
  });
});

describe("alignHops", () => {
  it("pairs equal hops and marks an extra or a missing one as one row each", () => {
    expect(alignHops(["a", "b", "c"], ["a", "b", "c"]).every((r) => r.isSame)).toBe(true);
    const rows = alignHops(["a", "b", "c", "d"], ["a", "x", "c", "d"]);
    expect(rows.filter((r) => !r.isSame)).toEqual([
      { sim: "b", real: null, isSame: false },
      { sim: null, real: "x", isSame: false },
    ]);
    expect(alignHops(["a"], []).map((r) => r.sim)).toEqual(["a"]);
    expect(alignHops([], ["a"]).map((r) => r.real)).toEqual(["a"]);
  });
});

describe("lab commands without a lab", () => {
  const dir = mkdtempSync(join(tmpdir(), "vnet-state-"));
  process.env.VNET_STATE_DIR = dir;
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    delete process.env.VNET_STATE_DIR;
  });
  const run = async (...argv: string[]) => {
    const io = memoryIo();
    const code = await main(argv, io);
    return { code, out: io.stdout(), err: io.stderr() };
  };

  it("status lists no lab; a named one that is not up is one line, exit 2", async () => {
    expect((await run("status")).out).toContain("no lab is up");
    const r = await run("status", "nolab");
    expect(r.code).toBe(2);
    expect(r.err).toBe('vnet: no lab "nolab" is up (start one with: vnet up FILE --name nolab)\n');
    const bad = await run("status", "nolab", "nosuchtable");
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('nothing to show called "nosuchtable"');
  });

  it("exec and trace --real name the missing lab; a bad lab name says what is allowed", async () => {
    const e = await run("exec", "nolab", "web1", "--", "true");
    expect(e.code).toBe(2);
    expect(e.err).toContain('no lab "nolab" is up');
    const t = await run("trace", "--real", "nolab", "a", "b");
    expect(t.code).toBe(2);
    expect(t.err).toContain('no lab "nolab" is up');
    const n = await run("down", "Bad Name");
    expect(n.code).toBe(2);
    expect(n.err).toContain("use 1-24 lowercase letters, digits and dashes");
  });

  it("every lab command has --help", async () => {
    for (const c of ["up", "down", "exec", "status"]) {
      const r = await run(c, "--help");
      expect(r.code, c).toBe(0);
      expect(r.out, c).toContain("Usage: vnet");
    }
  });
});
