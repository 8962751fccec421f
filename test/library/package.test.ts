/**
 * vnet as a package, seen from outside: the working tree is copied (as a fresh clone would be,
 * without `dist/`), packed as npm would publish it (`npm pack` runs `prepare`, the build), and
 * the tarball installed into a new folder. There, a plain `node` script (no loader flags) imports
 * vnet by name, the Node entry and the browser entry, and TypeScript checks a program against the
 * shipped declarations; the `vnet` command of the installed package runs; and the worked example
 * of docs/api.md type-checks and runs exactly as written.
 *
 * Needs no network: vnet's dependencies come from npm's cache (`--prefer-offline`), which the
 * project's own `npm ci` filled.
 */

import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { docBlocks } from "./doc-blocks.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const TSC = join(ROOT, "node_modules/typescript/bin/tsc");
/** What a copy of the repository leaves out: installed, built or local-only things. */
const NOT_COPIED = new Set(["node_modules", ".git", "dist", "out", "tmp", ".vnet-captures"]);

/** The environment without what the test runner and an enclosing `npm test` put in it. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^npm_/i.test(k) || k === "NODE_OPTIONS" || k.startsWith("VITEST") || k === "NODE_ENV") continue;
    env[k] = v;
  }
  return { ...env, NO_COLOR: "1" };
}

function run(cmd: string, args: string[], cwd: string): string {
  try {
    return execFileSync(cmd, args, { cwd, env: cleanEnv(), encoding: "utf8", stdio: "pipe" });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(" ")} (in ${cwd}) failed:\n${err.stdout ?? ""}${err.stderr ?? ""}`);
  }
}

let work = "";
let consumer = "";
let packedFiles: string[] = [];

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "vnet-package-"));
  const clone = join(work, "vnet");
  cpSync(ROOT, clone, { recursive: true, filter: (src) => !NOT_COPIED.has(basename(src)) });
  symlinkSync(join(ROOT, "node_modules"), join(clone, "node_modules"), "dir");
  const packed = JSON.parse(run("npm", ["pack", "--pack-destination", work, "--json"], clone)) as {
    filename: string;
    files: { path: string }[];
  }[];
  packedFiles = packed[0].files.map((f) => f.path);
  const tarball = join(work, packed[0].filename);
  consumer = join(work, "consumer");
  mkdirSync(consumer);
  writeFileSync(
    join(consumer, "package.json"),
    JSON.stringify({ name: "consumer", private: true, type: "module" }),
  );
  writeFileSync(join(consumer, "pair.yaml"), TOPOLOGY);
  run(
    "npm",
    [
      "install",
      tarball,
      "--prefer-offline",
      "--ignore-scripts",
      "--no-audit",
      "--no-fund",
      "--loglevel=error",
    ],
    consumer,
  );
}, 240_000);

afterAll(() => {
  if (work !== "") rmSync(work, { recursive: true, force: true });
});

const TOPOLOGY = `
name: pair
servers:
  server1:
    nics: [eth0]
    vswitches:
      vs0:
        uplinks: [eth0]
        portGroups:
          web: { vlan: 10 }
    vms:
      web1: { nics: [{ portGroup: web, ip: 10.0.0.1/24 }] }
      web2: { nics: [{ portGroup: web, ip: 10.0.0.2/24 }] }
`;

describe("vnet installed from its tarball", { timeout: 120_000 }, () => {
  it("the tarball holds the build, the sources the CLI runs, and no tests", () => {
    for (const f of [
      "dist/index.js",
      "dist/index.d.ts",
      "dist/browser.js",
      "dist/browser.d.ts",
      "bin/vnet.js",
    ]) {
      expect(packedFiles).toContain(f);
    }
    expect(packedFiles).toContain("src/cli/main.ts");
    expect(packedFiles.filter((f) => f.endsWith(".test.ts"))).toEqual([]);
  });

  it("imports by name in plain node: the Node entry and the browser entry", () => {
    writeFileSync(
      join(consumer, "plain.mjs"),
      `
import { Network, loadNetwork, writeCaptures, decodeFrame, TopologyError, captureRecords } from "vnet";
import * as browser from "vnet/browser";
const net = await loadNetwork("pair.yaml", { seed: 1 });
net.startCaptures();
const ping = net.ping("web1", "web2", { count: 2 });
const trace = net.trace("web1", "web2");
const files = writeCaptures(net, "captures");
const first = [...captureRecords(net.captures()[0].bytes)][0];
let error = null;
try { browser.Network.fromText("name: [", "bad.yaml"); } catch (e) { error = e instanceof TopologyError ? e.code : String(e); }
let deep = null;
try { await import("vnet/dist/network.js"); } catch (e) { deep = e.code; }
const fromText = browser.Network.fromText(${JSON.stringify(TOPOLOGY)}, "pair.yaml", { seed: 1 });
console.log(JSON.stringify({
  received: ping.received,
  delivered: trace.delivered,
  verdict: trace.verdict,
  files: files.length,
  firstLayer: decodeFrame(first.data)[0].layer,
  error,
  deep,
  sameClass: browser.Network === Network,
  browserHasLoadNetwork: "loadNetwork" in browser,
  browserPing: fromText.ping("web2", "web1", { count: 1 }).received,
}));
`,
    );
    const out = JSON.parse(run(process.execPath, ["plain.mjs"], consumer));
    expect(out).toEqual({
      received: 2,
      delivered: true,
      verdict: "same port group, same server: stays inside server1",
      files: expect.any(Number),
      firstLayer: "ethernet",
      error: "topology-invalid",
      deep: "ERR_PACKAGE_PATH_NOT_EXPORTED",
      sameClass: true,
      browserHasLoadNetwork: false,
      browserPing: 1,
    });
    expect(out.files).toBeGreaterThan(0);
  });

  it("type-checks a TypeScript program against the shipped declarations (and the api.md example)", () => {
    writeFileSync(
      join(consumer, "typed.ts"),
      `
import { loadNetwork, Network, type Diagnostic, type PingResult, TopologyError, type TraceResult } from "vnet";
import { Network as BrowserNetwork, decodeFrame, type Layer, type ShowWhat } from "vnet/browser";

export async function main(): Promise<string> {
  const net: Network = await loadNetwork("pair.yaml");
  const t: TraceResult = net.trace("web1", "web2");
  const p: PingResult = net.ping("web1", "web2", { count: 2 });
  // @ts-expect-error: count is a number (the declarations are real, not any)
  net.ping("web1", "web2", { count: "2" });
  // @ts-expect-error: the browser entry has no file loader
  import("vnet/browser").then((m) => m.loadNetwork);
  const what: ShowWhat = "counters";
  const b: BrowserNetwork = BrowserNetwork.fromText("", "t.yaml", { seed: 1 });
  const layers: Layer[] = decodeFrame(new Uint8Array(60));
  let ds: readonly Diagnostic[] = [];
  try {
    Network.fromText("name: [", "bad.yaml");
  } catch (e) {
    if (e instanceof TopologyError) ds = e.errors;
  }
  return [t.verdict, p.rtt?.avgNs, b.vmNames().length, layers[0].layer, what, ds.length].join();
}
`,
    );
    const blocks = docBlocks(readFileSync(join(ROOT, "docs/api.md"), "utf8"));
    const examples = blocks
      .filter((b) => b.lang === "ts")
      .map((b, i) => ({ name: `api-example-${i}.ts`, b }));
    for (const { name, b } of examples) writeFileSync(join(consumer, name), b.code);
    writeFileSync(
      join(consumer, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ES2022",
          module: "NodeNext",
          moduleResolution: "NodeNext",
          // A browser program's libraries; no @types/node: the declarations must not need it.
          lib: ["ES2023", "DOM"],
          types: [],
          strict: true,
          noEmit: true,
          skipLibCheck: false,
        },
        files: ["typed.ts", ...examples.map((e) => e.name)],
      }),
    );
    expect(examples.length).toBeGreaterThan(0);
    run(process.execPath, [TSC, "-p", "."], consumer);
  });

  it("runs the Node examples of docs/api.md as written, against the installed package", () => {
    const blocks = docBlocks(readFileSync(join(ROOT, "docs/api.md"), "utf8"));
    // The worked example and the failures-over-time one: every block importing the Node entry
    // that shows what it prints.
    const examples = blocks.filter(
      (b) => b.lang === "ts" && b.expected !== null && /from "vnet";/.test(b.code),
    );
    expect(examples.length).toBeGreaterThanOrEqual(2);
    examples.forEach((example, i) => {
      writeFileSync(join(consumer, `worked-example-${i}.ts`), example.code);
      // TypeScript needs a loader on Node 20; tsx is installed with vnet (its CLI uses it).
      const out = run(process.execPath, ["--import", "tsx", `worked-example-${i}.ts`], consumer);
      expect(out).toBe(example.expected);
    });
  });

  it("the installed vnet command works", () => {
    const out = run(process.execPath, ["node_modules/vnet/bin/vnet.js", "check", "pair.yaml"], consumer);
    expect(out).toMatch(/pair\.yaml/);
  });
});
