/**
 * The topology model is browser-safe except `load.ts` (the one file that reads from disk): no
 * other module of `src/model/` may import a `node:` module or use `Buffer`/`process`.
 */

import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";

it("src/model is browser-safe except load.ts", () => {
  const dir = import.meta.dirname;
  const files = readdirSync(dir).filter(
    (f) => f.endsWith(".ts") && !f.endsWith(".test.ts") && f !== "load.ts",
  );
  expect(files.length).toBeGreaterThan(8);
  for (const f of files) {
    const text = readFileSync(join(dir, f), "utf8");
    expect(text, f).not.toMatch(/from\s+["']node:/);
    expect(text, f).not.toMatch(/\bBuffer\./);
    expect(text, f).not.toMatch(/\bprocess\./);
  }
});
