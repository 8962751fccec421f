/**
 * The browser entry bundles for a browser: esbuild with `platform: "browser"` builds
 * `src/browser.ts` with no `node:` module among its inputs or left as an external import (a
 * `node:` import would also fail the build outright, which fails this test with esbuild's
 * message). The bundle then runs: a topology given as text is pinged. Its size is in
 * BENCHMARKS.md (`node --import tsx test/library/bundle.ts`).
 */

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { expect, it } from "vitest";
import { bundleBrowserEntry } from "./bundle.ts";

/** Node's built-in modules, which a browser does not have, with or without the `node:` prefix. */
const NODE_BUILTINS =
  /^(node:|(fs|path|os|crypto|dgram|dns|net|child_process|url|util|zlib|stream|buffer|process)(\/|$))/;

it("bundles vnet/browser for the browser with no node: module, and the bundle runs", {
  timeout: 60_000,
}, async () => {
  const bundle = await bundleBrowserEntry();
  const inputs = Object.keys(bundle.metafile.inputs);
  expect(inputs).toContain("src/browser.ts");
  expect(inputs).toContain("src/network.ts");
  expect(inputs.filter((i) => NODE_BUILTINS.test(i))).toEqual([]);
  const imports = Object.values(bundle.metafile.inputs).flatMap((i) => i.imports);
  expect(imports.filter((i) => NODE_BUILTINS.test(i.path) || i.external === true)).toEqual([]);
  for (const output of Object.values(bundle.metafile.outputs)) expect(output.imports).toEqual([]);
  // Files that touch the file system must stay out.
  expect(inputs.filter((i) => /src\/(model\/load|node|index)\.ts$|src\/(real|cli)\//.test(i))).toEqual([]);
  // Nor may the code lean on Node's globals.
  const text = new TextDecoder().decode(bundle.code);
  expect(text.match(/\b(Buffer\.|process\.|require\(|__dirname)/g)).toBeNull();
  expect(bundle.minifiedBytes).toBeLessThan(1024 * 1024);

  // The bundle, as a page would load it, answers a ping.
  const dir = mkdtempSync(join(tmpdir(), "vnet-bundle-"));
  try {
    const file = join(dir, "vnet-browser.mjs");
    writeFileSync(file, bundle.code);
    const vnet = await import(pathToFileURL(file).href);
    const net = vnet.Network.fromText(
      [
        "name: pair",
        "servers:",
        "  s1:",
        "    nics: [eth0]",
        "    vswitches:",
        "      vs0: { uplinks: [eth0], portGroups: { web: { vlan: 10 } } }",
        "    vms:",
        "      a: { nics: [{ portGroup: web, ip: 10.0.0.1/24 }] }",
        "      b: { nics: [{ portGroup: web, ip: 10.0.0.2/24 }] }",
      ].join("\n"),
      "pair.yaml",
    );
    expect(net.ping("a", "b", { count: 2 }).received).toBe(2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
