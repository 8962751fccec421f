/** `vnet check` and `vnet schema`, run in-process. */

import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { memoryIo } from "./io.ts";
import { main } from "./main.ts";

const root = join(import.meta.dirname, "..", "..");
const seed = join(root, "examples", "seed-datacenter.yaml");
const broken = join(root, "test", "topologies", "broken");
const dir = mkdtempSync(join(tmpdir(), "vnet-check-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function temp(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

async function run(...args: string[]) {
  const io = memoryIo();
  const code = await main(args, io);
  return { code, out: io.stdout(), err: io.stderr() };
}

describe("vnet check", () => {
  it("answers a valid file with a one-line summary and exit 0", async () => {
    const r = await run("check", seed);
    expect(r.code).toBe(0);
    expect(r.err).toBe("");
    expect(r.out).toBe(
      `${seed}: ok: seed-datacenter: 2 servers, 7 VMs, 1 switch, 3 links, 4 port groups, 8 VFs (2 in use)\n`,
    );
  });

  it("prints each error as file:line:col and exits 2", async () => {
    const file = join(broken, "unknown-port-group.yaml");
    const r = await run("check", file);
    expect(r.code).toBe(2);
    expect(r.out).toBe("");
    expect(r.err).toBe(
      `${file}:27:26: servers.server1.vms.vm2.nics[0].portGroup: no port group 'dbb' on server1; did you mean 'db'? known: web, db\n`,
    );
  });

  it("prints warnings and still succeeds", async () => {
    const file = join(root, "test", "topologies", "warnings", "gateway-outside-subnet.yaml");
    const r = await run("check", file);
    expect(r.code).toBe(0);
    expect(r.err).toBe(
      `${file}:41:62: warning: servers.server2.vms.vm3.nics[0].gateway: gateway 192.168.20.1 is outside the NIC's subnet 192.168.10.0/24, so the VM cannot reach it by ARP; it is ignored (no default route)\n`,
    );
    expect(r.out).toMatch(/: ok: broken-example: .*; 1 warning\n$/);
  });

  it("answers --json with ok, errors, warnings and summary", async () => {
    const ok = JSON.parse((await run("check", seed, "--json")).out);
    expect(ok.ok).toBe(true);
    expect(ok.errors).toEqual([]);
    expect(ok.summary).toMatchObject({
      servers: 2,
      vms: 7,
      switches: 1,
      links: 3,
      portGroups: 4,
      vfs: 8,
      vfsInUse: 2,
    });
    const file = join(broken, "duplicate-ip.yaml");
    const bad = await run("check", file, "--json");
    expect(bad.code).toBe(2);
    const j = JSON.parse(bad.out);
    expect(j.ok).toBe(false);
    expect(j.summary).toBeNull();
    expect(j.errors).toEqual([
      {
        code: "duplicate-ip",
        file,
        line: 41,
        col: 35,
        path: "servers.server2.vms.vm3.nics[0].ip",
        message:
          "servers.server2.vms.vm3.nics[0].ip: duplicate IP address 192.168.10.11: servers.server1.vms.vm1.nics[0].ip has it too",
        severity: "error",
      },
    ]);
  });

  it("answers a missing file with one line and exit 2", async () => {
    const r = await run("check", "/nonexistent/vnet-x.yaml");
    expect(r.code).toBe(2);
    expect(r.err).toBe("/nonexistent/vnet-x.yaml: cannot read the topology file: no such file\n");
  });
  it("says 1 server, 1 VM, 1 link, 1 port group in the singular", async () => {
    const file = temp(
      "one.yaml",
      `name: one
switches: { sw1: { ports: { p1: { mode: trunk } } } }
servers:
  s1:
    nics: [eth0]
    vswitches: { vs0: { uplinks: [eth0], portGroups: { pg: { vlan: 1 } } } }
    vms: { vm1: { nics: [{ portGroup: pg, ip: 10.0.0.1/24 }] } }
links:
  - endpoints: [s1:eth0, sw1:p1]
`,
    );
    const r = await run("check", file);
    expect(r.code).toBe(0);
    expect(r.out).toBe(
      `${file}: ok: one: 1 server, 1 VM, 1 switch, 1 link, 1 port group, 0 VFs (0 in use)\n`,
    );
  });

  it("prints no warning above (or below) the error that caused it", async () => {
    // The link names an unknown node, so server2's uplink looks uncabled: that warning only echoes the error.
    const file = join(broken, "unknown-link-node.yaml");
    const r = await run("check", file);
    expect(r.code).toBe(2);
    expect(r.err).toBe(
      `${file}:44:17: links[1].endpoints[0]: no switch or server 'sever2'; did you mean 'server2'? known: tor1, server1, server2\n`,
    );
    const j = JSON.parse((await run("check", file, "--json")).out);
    expect(j.warnings).toEqual([]);
  });

  it("refuses a file nested 5,000 levels deep with one line, in a real process (its own stack size)", () => {
    const file = temp("deep.yaml", `name: deep\nservers: ${"[".repeat(5000)}${"]".repeat(5000)}\n`);
    const r = spawnSync(process.execPath, [join(root, "bin", "vnet.js"), "check", file], {
      encoding: "utf8",
    });
    expect(r.stderr).toBe(
      `${file}:2:74: the YAML is nested more than 64 levels deep here (maps, lists and brackets); a topology needs about 8\n`,
    );
    expect(r.status).toBe(2);
  });

  it("escapes control characters in the file name of its one-line answer", async () => {
    const file = temp("ok\u001b[2J.yaml", "name: fine\n");
    const r = await run("check", file);
    expect(r.code).toBe(0);
    expect(r.out).toBe(
      `${file.replace("\u001b", "\\x1b")}: ok: fine: 0 servers, 0 VMs, 0 switches, 0 links, 0 port groups, 0 VFs (0 in use)\n`,
    );
  });

  it("escapes control characters in what it prints, file names included", async () => {
    const file = temp("ctl\u001b[2J.yaml", 'name: "x\\e[2J"\n');
    const r = await run("check", file);
    expect(r.code).toBe(2);
    expect(r.err).toBe(
      `${file.replace("\u001b", "\\x1b")}:1:7: name: "x\\x1b[2J": a name must be printable, but character 2 is the control character \\x1b\n`,
    );
  });
});

describe("vnet schema", () => {
  it("prints a draft 2020-12 JSON Schema with descriptions", async () => {
    const r = await run("schema");
    expect(r.code).toBe(0);
    const s = JSON.parse(r.out);
    expect(s.$schema).toBe("https://json-schema.org/draft/2020-12/schema");
    expect(s.required).toEqual(["name"]);
    expect(Object.keys(s.properties)).toEqual([
      "name",
      "description",
      "switches",
      "servers",
      "links",
      "routers",
      "tunnels",
      "vpns",
      "mlag",
      "overlay",
      "external",
      "faults",
    ]);
    expect(s.additionalProperties).toBe(false);
    const port = s.properties.switches.additionalProperties.properties.ports;
    expect(port.description).toContain("access ports in VLAN 1");
  });
});

describe("the shipped JSON Schema", () => {
  it("examples/topology.schema.json is what vnet schema prints (regenerate: vnet schema > examples/topology.schema.json)", async () => {
    const { readFileSync } = await import("node:fs");
    const shipped = JSON.parse(readFileSync(join(root, "examples", "topology.schema.json"), "utf8"));
    expect(shipped).toEqual(JSON.parse((await run("schema")).out));
  });
});

describe("vnet check --json on a broken file", () => {
  it("has the first error as the shared { error } object too", async () => {
    const { memoryIo } = await import("./io.ts");
    const { main } = await import("./main.ts");
    const io = memoryIo();
    expect(await main(["check", "/nonexistent/vnet-topology.yaml", "--json"], io)).toBe(2);
    const r = JSON.parse(io.stdout());
    expect(r.ok).toBe(false);
    expect(r.error).toEqual({
      code: "unreadable-file",
      message: "cannot read the topology file: no such file",
      file: "/nonexistent/vnet-topology.yaml",
      line: null,
      col: null,
    });
  });
});
