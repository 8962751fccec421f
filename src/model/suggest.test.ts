import { describe, expect, it } from "vitest";
import { closest, editDistance } from "./suggest.ts";

describe("did-you-mean", () => {
  it("counts a swap of neighbouring characters as one edit", () => {
    expect(editDistance("wbe3", "web3")).toBe(1);
    expect(editDistance("ab", "ba")).toBe(1);
    expect(editDistance("kitten", "sitting")).toBe(3);
    expect(editDistance("", "abc")).toBe(3);
    expect(closest("wbe3", ["web1", "web3", "db1"])).toBe("web3");
  });
  it("suggests nothing far away", () => {
    expect(closest("zzzzzz", ["web1", "web3"])).toBeUndefined();
  });
});
