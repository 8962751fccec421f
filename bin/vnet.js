#!/usr/bin/env node
// The `vnet` command. Runs the TypeScript sources through tsx so a fresh clone needs no build.
import { register } from "tsx/esm/api";

register();
// `vnet decode big.pcap | head`: when the reader goes away, stop quietly, as Unix tools do.
process.stdout.on("error", (e) => {
  if (e.code === "EPIPE") process.exit(0);
  throw e;
});
const { main } = await import("../src/cli/main.ts");
process.exitCode = await main(process.argv.slice(2));
