// Completes package-lock.json with entries for optional platform packages (biome's CLI builds for
// other systems) that the registry mirror here does not carry. `npm install` leaves them out of
// the lock and `npm ci` then refuses it; npm skips them on this platform anyway. Idempotent.
import { readFileSync, writeFileSync } from "node:fs";

const lock = JSON.parse(readFileSync("package-lock.json", "utf8"));
const pk = lock.packages;
let added = 0;
for (const entry of Object.values(pk)) {
  for (const [dep, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const key = `node_modules/${dep}`;
    if (pk[key]) continue;
    const m = /cli-(android|darwin|linux|win32)-(arm64|x64)(-musl)?$/.exec(dep);
    if (!m) {
      console.error("unknown optional", dep);
      continue;
    }
    pk[key] = {
      version,
      cpu: [m[2]],
      dev: entry.dev,
      ...(m[1] === "linux" ? { libc: [m[3] ? "musl" : "glibc"] } : {}),
      license: entry.license,
      optional: true,
      os: [m[1]],
    };
    added++;
  }
}
lock.packages = Object.fromEntries(
  Object.entries(pk).sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a < b ? -1 : 1)),
);
writeFileSync("package-lock.json", `${JSON.stringify(lock, null, 2)}\n`);
console.log("added", added);
