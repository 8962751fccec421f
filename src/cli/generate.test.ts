/**
 * `vnet generate`: the generated data center through the CLI, loadable and working (a small one
 * pinged all-to-all), deterministic, and bad options refused in one line with exit 2.
 */

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { memoryIo } from "./io.ts";
import { main } from "./main.ts";

const dir = mkdtempSync(join(tmpdir(), "vnet-generate-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(args: string[]) {
  const io = memoryIo();
  const code = await main(args, io);
  return { code, out: io.stdout(), err: io.stderr() };
}

describe("vnet generate", () => {
  it("writes a small data center that checks and pings all-to-all, the same bytes twice", async () => {
    const file = join(dir, "small.yaml");
    const args = [
      "generate",
      "--racks",
      "2",
      "--servers",
      "2",
      "--vms",
      "2",
      "--sriov",
      "1",
      "--name",
      "small",
    ];
    expect((await run([...args, "-o", file])).code).toBe(0);
    expect((await run(args)).out).toBe(readFileSync(file, "utf8"));
    const check = await run(["check", file]);
    expect(check.code).toBe(0);
    expect(check.out).toContain("8 VMs");
    const all = await run(["pingall", file]);
    expect(all.out).toContain("0% dropped (56/56 received");
    expect(all.code).toBe(0);
  });

  it("the MLAG and VXLAN variants load", async () => {
    for (const variant of [["--mlag"], ["--vxlan", "--spines", "2"]]) {
      const file = join(dir, `${variant[0].slice(2)}.yaml`);
      expect(
        (await run(["generate", "--racks", "2", "--servers", "2", "--vms", "2", ...variant, "-o", file]))
          .code,
      ).toBe(0);
      expect((await run(["check", file])).code).toBe(0);
    }
  });

  it("refuses bad options in one line, exit 2, in the flags' own names", async () => {
    const cases: [string[], string][] = [
      [["--racks", "x"], '--racks: "x" is not an integer'],
      [["--racks", "0"], "--racks: 0 is out of range"],
      [["--vms", "3", "--sriov", "5"], "--sriov must be 0..--vms, got 5"],
      [["--mlag", "--vxlan"], "--mlag and --vxlan cannot be combined"],
      [["--spines", "3"], "--spines needs --vxlan"],
      [["--name", "a b"], '--name: "a b" is not a name'],
      [["--racks", "100000", "--servers", "4000", "--vms", "4000"], "vnet generate writes at most 200,000"],
      [["-o", join(dir, "no/such/dir.yaml")], "-o "],
    ];
    for (const [args, message] of cases) {
      const r = await run(["generate", ...args]);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.err).toContain(message);
      expect(r.err.trim().split("\n")).toHaveLength(1);
      expect(r.out).toBe("");
    }
  });
});
