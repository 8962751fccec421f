/**
 * Colour in `vnet trace`'s text: drops red, the verdict green or red; only for a terminal (or
 * FORCE_COLOR), never with NO_COLOR, never into a memory Io, and the words never change.
 */

import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import pc from "picocolors";
import { describe, expect, it } from "vitest";
import { formatTrace } from "../analysis/trace.ts";
import { loadNetwork } from "../node.ts";
import { memoryIo } from "./io.ts";
import { main } from "./main.ts";
import { colorTrace, isColorWanted } from "./trace.ts";

const SEED = fileURLToPath(new URL("../../examples/seed-datacenter.yaml", import.meta.url));
const BIN = fileURLToPath(new URL("../../bin/vnet.js", import.meta.url));
const ESC = "\x1b[";
const stripAnsi = (s: string) => s.replace(new RegExp(`${String.fromCharCode(27)}\\[\\d+m`, "g"), "");

describe("trace colours", () => {
  it("isColorWanted: NO_COLOR wins, then FORCE_COLOR, else a terminal that is not dumb", () => {
    expect(isColorWanted(true, {})).toBe(true);
    expect(isColorWanted(false, {})).toBe(false);
    expect(isColorWanted(undefined, {})).toBe(false);
    expect(isColorWanted(true, { TERM: "dumb" })).toBe(false);
    expect(isColorWanted(true, { NO_COLOR: "1" })).toBe(false);
    expect(isColorWanted(true, { NO_COLOR: "" })).toBe(true);
    expect(isColorWanted(false, { FORCE_COLOR: "1" })).toBe(true);
    expect(isColorWanted(false, { FORCE_COLOR: "" })).toBe(true);
    expect(isColorWanted(true, { FORCE_COLOR: "0" })).toBe(false);
    expect(isColorWanted(false, { NO_COLOR: "1", FORCE_COLOR: "1" })).toBe(false);
    expect(isColorWanted(false, { CI: "true" })).toBe(false);
  });

  it("a failed trace: drop lines and the verdict red; the text is otherwise unchanged", async () => {
    const t = (await loadNetwork(SEED)).trace("web1", "10.9.9.9");
    const plain = formatTrace(t);
    const colored = colorTrace(plain, t, pc.createColors(true));
    expect(stripAnsi(colored)).toBe(plain);
    const lines = colored.split("\n");
    const drops = lines.filter((l) => stripAnsi(l).includes(": drop, "));
    expect(drops.length).toBeGreaterThan(0);
    for (const l of drops) expect(l).toBe(pc.createColors(true).red(stripAnsi(l)));
    expect(lines).toContain(pc.createColors(true).red(`verdict: ${t.verdict}`));
    expect(lines).toContain(pc.createColors(true).red("delivered: no"));
    // Nothing else is coloured.
    expect(lines.filter((l) => l.includes(ESC)).length).toBe(drops.length + 2);
    expect(colorTrace(plain, t, pc.createColors(false))).toBe(plain);
  });

  it("a delivered trace: the verdict green", async () => {
    const t = (await loadNetwork(SEED)).trace("web1", "web2");
    const colored = colorTrace(formatTrace(t), t, pc.createColors(true));
    expect(colored.split("\n")).toContain(pc.createColors(true).green(`verdict: ${t.verdict}`));
  });

  it("a memory Io gets no colour, even with FORCE_COLOR set", async () => {
    const saved = process.env.FORCE_COLOR;
    process.env.FORCE_COLOR = "1";
    try {
      const io = memoryIo();
      expect(await main(["trace", SEED, "web1", "10.9.9.9"], io)).toBe(1);
      expect(io.stdout()).toMatch(/^verdict: not delivered/m);
      expect(io.stdout()).not.toContain(ESC);
    } finally {
      if (saved === undefined) delete process.env.FORCE_COLOR;
      else process.env.FORCE_COLOR = saved;
    }
  });

  it("the vnet command colours with FORCE_COLOR, not into a pipe, and never with NO_COLOR", () => {
    const run = (env: Record<string, string>) => {
      const base = { ...process.env };
      delete base.FORCE_COLOR;
      delete base.NO_COLOR;
      return execFileSync(process.execPath, [BIN, "trace", SEED, "web1", "web2"], {
        env: { ...base, ...env },
        encoding: "utf8",
      });
    };
    expect(run({ FORCE_COLOR: "1" })).toContain(`${ESC}32mverdict: `);
    expect(run({})).not.toContain(ESC);
    expect(run({ FORCE_COLOR: "1", NO_COLOR: "1" })).not.toContain(ESC);
  });
});
