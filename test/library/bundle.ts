/**
 * Bundles the browser entry (`src/browser.ts`) as a web page would: esbuild, `platform:
 * "browser"`, ESM, minified. Used by `bundle.test.ts` (which requires that no `node:` module gets
 * in) and run directly to print the bundle's size for BENCHMARKS.md:
 * `node --import tsx test/library/bundle.ts`.
 */

import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { build, type Metafile } from "esbuild";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

export interface BrowserBundle {
  metafile: Metafile;
  code: Uint8Array;
  minifiedBytes: number;
  gzippedBytes: number;
  /** Bytes of the minified output by origin: vnet's own sources, and each package. */
  bytesByOrigin: Record<string, number>;
}

export async function bundleBrowserEntry(): Promise<BrowserBundle> {
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: ["src/browser.ts"],
    bundle: true,
    platform: "browser",
    format: "esm",
    target: "es2022",
    minify: true,
    metafile: true,
    write: false,
    logLevel: "silent",
  });
  const code = result.outputFiles[0].contents;
  const bytesByOrigin: Record<string, number> = {};
  for (const output of Object.values(result.metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input)?.[1] ?? "vnet";
      bytesByOrigin[pkg] = (bytesByOrigin[pkg] ?? 0) + bytesInOutput;
    }
  }
  return {
    metafile: result.metafile,
    code,
    minifiedBytes: code.length,
    gzippedBytes: gzipSync(code).length,
    bytesByOrigin,
  };
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const b = await bundleBrowserEntry();
  const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
  console.log(`vnet/browser bundle: ${kib(b.minifiedBytes)} minified, ${kib(b.gzippedBytes)} gzipped`);
  for (const [origin, bytes] of Object.entries(b.bytesByOrigin).sort((x, y) => y[1] - x[1])) {
    console.log(`  ${origin.padEnd(8)} ${kib(bytes)}`);
  }
}
