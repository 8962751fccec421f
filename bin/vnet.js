#!/usr/bin/env node
// The `vnet` command. Runs the compiled JavaScript in dist/ (built by `npm ci` / `npm run build`)
// when it is newer than every source file, so a command starts in a tenth of a second; otherwise
// (a fresh clone without a build, or sources edited since) it runs the TypeScript sources
// through tsx, which needs no build.
import { readdirSync, statSync } from "node:fs";

const root = new URL("..", import.meta.url);

/** The newest modification time under `dir` (ms), or Infinity when it cannot be read. */
function newestUnder(dir) {
  let newest = 0;
  try {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = `${dir}/${e.name}`;
      const t = e.isDirectory() ? newestUnder(path) : statSync(path).mtimeMs;
      if (t > newest) newest = t;
    }
  } catch {
    return Number.POSITIVE_INFINITY;
  }
  return newest;
}

function isBuildFresh() {
  if (process.env.VNET_FROM_SOURCE === "1") return false;
  try {
    const built = statSync(new URL("dist/.built", root)).mtimeMs;
    return newestUnder(new URL("src", root).pathname) <= built;
  } catch {
    return false;
  }
}

// `vnet decode big.pcap | head`: when the reader goes away, stop quietly, as Unix tools do.
process.stdout.on("error", (e) => {
  if (e.code === "EPIPE") process.exit(0);
  throw e;
});
let main;
if (isBuildFresh()) {
  ({ main } = await import("../dist/cli/main.js"));
} else {
  const { register } = await import("tsx/esm/api");
  register();
  ({ main } = await import("../src/cli/main.ts"));
}
process.exitCode = await main(process.argv.slice(2));
