/**
 * `npm run bench`: runs every `bench/*.bench.ts` in name order, one after another, in this
 * process. Each bench file registers its mitata benchmarks when imported and runs them itself
 * (usually through `runAndReport` from `./report.ts`), so adding a benchmark is adding a file.
 *
 *   npm run bench                 every file
 *   npm run bench -- wire vxlan   only files whose name contains one of the words
 *
 * The machine is printed first, because a figure without its machine means nothing.
 */

import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { machineLine } from "./report.ts";

const here = dirname(fileURLToPath(import.meta.url));
const words = process.argv.slice(2);
const files = readdirSync(here)
  .filter((f) => f.endsWith(".bench.ts"))
  .filter((f) => words.length === 0 || words.some((w) => f.includes(w)))
  .sort();

if (files.length === 0) {
  process.stderr.write(`bench: no bench/*.bench.ts file matches ${words.join(" ")}\n`);
  process.exit(2);
}
process.stdout.write(`${machineLine()}\n`);
for (const f of files) {
  process.stdout.write(`\n=== ${f} ===\n`);
  await import(pathToFileURL(join(here, f)).href);
}
