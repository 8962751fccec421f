/**
 * Frame ids belong to a world: two networks in one process number their frames independently,
 * so a network's traces are the same whether or not another network runs beside it.
 */

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { Network } from "../network.ts";

const SEED = readFileSync(new URL("../../examples/seed-datacenter.yaml", import.meta.url), "utf8");

describe("frame ids per world", () => {
  it("a trace is identical with another network built and run in between", () => {
    const alone = Network.fromText(SEED, "seed.yaml").trace("web1", "db1");
    const a = Network.fromText(SEED, "seed.yaml");
    const b = Network.fromText(SEED, "seed.yaml");
    b.pingAll();
    const first = a.trace("web1", "db1");
    b.trace("web1", "db2");
    expect(first.hops.map((h) => h.frameId)).toEqual(alone.hops.map((h) => h.frameId));
    expect(JSON.stringify(first)).toBe(JSON.stringify(alone));
  });
});
