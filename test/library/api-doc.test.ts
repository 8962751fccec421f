/**
 * docs/api.md cannot rot: every ```ts block in it runs as a program (imports of "vnet" and
 * "vnet/browser" pointed at the sources, `src/index.ts` and `src/browser.ts`), and where the doc
 * shows what a block prints, the output must be exactly that. `package.test.ts` runs the worked
 * example again, unchanged, against the installed package.
 */

import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { docBlocks } from "./doc-blocks.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const DOC = join(ROOT, "docs/api.md");
const ENTRIES: Record<string, string> = {
  vnet: pathToFileURL(join(ROOT, "src/index.ts")).href,
  "vnet/browser": pathToFileURL(join(ROOT, "src/browser.ts")).href,
};

const work = mkdtempSync(join(tmpdir(), "vnet-api-doc-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const blocks = docBlocks(readFileSync(DOC, "utf8")).filter((b) => b.lang === "ts");

describe("docs/api.md", () => {
  it("has the worked example, with its output", () => {
    expect(blocks.length).toBeGreaterThanOrEqual(2);
    expect(blocks.filter((b) => b.expected !== null).length).toBe(blocks.length);
  });

  for (const block of blocks) {
    it(`the example at line ${block.line} runs and prints what the doc says`, () => {
      const code = block.code.replace(/from "(vnet(?:\/browser)?)"/g, (m, name: string) =>
        ENTRIES[name] === undefined ? m : `from ${JSON.stringify(ENTRIES[name])}`,
      );
      expect(code, "an example imports vnet by name").not.toBe(block.code);
      const file = join(work, `example-${block.line}.ts`);
      writeFileSync(file, code);
      const out = execFileSync(process.execPath, ["--import", "tsx", file], {
        cwd: ROOT,
        encoding: "utf8",
        env: { ...process.env, NO_COLOR: "1" },
      });
      expect(out).toBe(block.expected);
    });
  }
});
