#!/usr/bin/env node
// Builds vnet's native addon (native/, binding.gyp) with the node-gyp that npm bundles, against
// the Node headers installed on this machine (offline: npm's `nodedir`, else /usr when
// /usr/include/node exists). Run by `npm ci`/`npm install` (the package's install script) and by
// hand (`node scripts/build-native.mjs`). A machine without a compiler still installs: the
// build failing prints one line, and vnet then runs without the addon (the simulator and the
// pure-JavaScript crypto need none; `vnet up` says what is missing).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
if (process.env.VNET_SKIP_NATIVE === "1") process.exit(0);

function nodeGyp() {
  if (process.env.npm_config_node_gyp && existsSync(process.env.npm_config_node_gyp)) {
    return process.env.npm_config_node_gyp;
  }
  // npm's own copy, beside the npm that is on the PATH.
  const npm = spawnSync("npm", ["root", "-g"], { encoding: "utf8" });
  const candidates = [
    join((npm.stdout ?? "").trim(), "npm", "node_modules", "node-gyp", "bin", "node-gyp.js"),
    join(
      dirname(process.execPath),
      "..",
      "lib",
      "node_modules",
      "npm",
      "node_modules",
      "node-gyp",
      "bin",
      "node-gyp.js",
    ),
  ];
  try {
    const require = createRequire(import.meta.url);
    candidates.push(require.resolve("node-gyp/bin/node-gyp.js"));
  } catch {}
  return candidates.find((c) => existsSync(c)) ?? null;
}

const gyp = nodeGyp();
if (gyp === null) {
  console.warn("vnet: native addon not built (npm's node-gyp not found); real mode needs it");
  process.exit(0);
}
const args = [gyp, "rebuild"];
const nodedir = process.env.npm_config_nodedir || (existsSync("/usr/include/node/node.h") ? "/usr" : "");
if (nodedir) args.push(`--nodedir=${nodedir}`);
const r = spawnSync(process.execPath, args, { cwd: root, encoding: "utf8" });
if (r.status !== 0) {
  const last =
    `${r.stderr ?? ""}`
      .trim()
      .split("\n")
      .filter((l) => /error/i.test(l))
      .slice(-1)[0] ?? "";
  console.warn(
    `vnet: native addon not built (${last.trim() || `node-gyp exited ${r.status}`}); real mode needs it`,
  );
  process.exit(0);
}
