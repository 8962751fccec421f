/** Deterministic MAC assignment: locally administered unicast, order-free, collision-free. */

import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { formatMac } from "../wire/addr.ts";
import { assignMacs, hash40, macFromIdentity } from "./mac-assign.ts";

describe("macFromIdentity", () => {
  it("is a stable 02:xx locally administered unicast address", () => {
    const m = macFromIdentity("vm/vm1/0");
    expect(formatMac(m).startsWith("02:")).toBe(true);
    expect(macFromIdentity("vm/vm1/0")).toBe(m);
    expect(macFromIdentity("vm/vm1/1")).not.toBe(m);
  });
  it("spreads over 40 bits", () => {
    expect(hash40("a")).toBeLessThan(2 ** 40);
    const seen = new Set<number>();
    for (let i = 0; i < 20_000; i++) seen.add(hash40(`vm/vm${i}/0`));
    expect(seen.size).toBe(20_000);
  });
});

describe("assignMacs", () => {
  it("avoids taken addresses and resolves collisions by sorted identity", () => {
    const taken = new Set([macFromIdentity("b")]);
    const out = assignMacs(["c", "b", "a"], taken);
    expect(out.get("a")).toBe(macFromIdentity("a"));
    expect(out.get("b")).toBe(macFromIdentity("b#1"));
    expect(out.get("c")).toBe(macFromIdentity("c"));
    expect(taken.size).toBe(4);
  });
});

test.prop([fc.uniqueArray(fc.string({ maxLength: 8 }), { maxLength: 40 })])(
  "gives distinct addresses whatever the order of identities",
  (ids) => {
    const a = assignMacs(ids, new Set());
    const b = assignMacs([...ids].reverse(), new Set());
    expect(new Set(a.values()).size).toBe(ids.length);
    for (const id of ids) expect(b.get(id)).toBe(a.get(id));
  },
);
