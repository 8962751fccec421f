import { describe, expect, it } from "vitest";
import { memoryIo } from "./io.ts";
import { main } from "./main.ts";

describe("vnet tour", () => {
  it("names only commands that exist, each answering --help", async () => {
    const io = memoryIo();
    expect(await main(["tour", "--json"], io)).toBe(0);
    const { steps } = JSON.parse(io.stdout()) as { steps: { command: string }[] };
    expect(steps.length).toBeGreaterThan(5);
    for (const s of steps) {
      const words = s.command.split("|")[0].trim().split(/\s+/).slice(1);
      const sub = words[0] === "vpn" ? words.slice(0, 2) : words.slice(0, 1);
      const help = memoryIo();
      expect(await main([...sub, "--help"], help), s.command).toBe(0);
      expect(help.stdout()).toMatch(/^Usage: vnet /);
    }
  });
});
