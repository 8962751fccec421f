/**
 * Finding and compiling the ns-3 side of `bench/ns3.bench.ts` (also used by
 * `test/ns3-peer.test.ts`): `bench/ns3/datacenter.cc` against the system's ns-3 (Debian/Ubuntu:
 * `apt-get install libns3-dev`, ns-3 3.37), with g++ -O2, into the git-ignored
 * `tmp/ns3-build/<hash>/datacenter`. The hash covers the source, the flags and the compiler's
 * version line, so an edit recompiles and nothing else does; a compile writes to a temporary
 * name and renames, so two processes never see half a binary.
 */

import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const source = join(here, "ns3", "datacenter.cc");
const buildRoot = join(here, "..", "tmp", "ns3-build");

const NS3_LIBS = ["-lns3-core", "-lns3-network", "-lns3-internet", "-lns3-csma", "-lns3-bridge"];
// Debian's ns3 .pc files carry a broken Cflags ("-I/usr\;"), so the include path is given here.
const CXXFLAGS = ["-O2", "-std=c++17", "-I/usr/include"];

/** Why ns-3 cannot be used here, or null when g++ and ns-3's headers are present. */
export function ns3Missing(): string | null {
  const gxx = spawnSync("g++", ["--version"], { encoding: "utf8" });
  if (gxx.error || gxx.status !== 0) return "g++ is not installed";
  if (!existsSync("/usr/include/ns3/core-module.h"))
    return "ns-3 is not installed (Debian/Ubuntu: apt-get install libns3-dev)";
  return null;
}

/** Compiles the ns-3 program once per source/flags/compiler; returns the binary's path. */
export function buildNs3Program(): { binary: string; compiled: boolean } {
  const gxx = spawnSync("g++", ["--version"], { encoding: "utf8" }).stdout.split("\n")[0];
  const hash = createHash("sha256")
    .update(readFileSync(source))
    .update(JSON.stringify([CXXFLAGS, NS3_LIBS, gxx]))
    .digest("hex")
    .slice(0, 16);
  const dir = join(buildRoot, hash);
  const binary = join(dir, "datacenter");
  if (existsSync(binary)) return { binary, compiled: false };
  mkdirSync(dir, { recursive: true });
  const partial = `${binary}.${process.pid}.partial`;
  const r = spawnSync("g++", [...CXXFLAGS, source, "-o", partial, ...NS3_LIBS], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`compiling ${source} failed:\n${r.stderr}`);
  renameSync(partial, binary);
  return { binary, compiled: true };
}
