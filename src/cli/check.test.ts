/** `vnet check` and `vnet schema`, run in-process. */

import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { memoryIo } from "./io.ts";
import { main } from "./main.ts";

const root = join(import.meta.dirname, "..", "..");
const seed = join(root, "examples", "seed-datacenter.yaml");
const broken = join(root, "test", "topologies", "broken");

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
});

describe("vnet schema", () => {
  it("prints a draft 2020-12 JSON Schema with descriptions", async () => {
    const r = await run("schema");
    expect(r.code).toBe(0);
    const s = JSON.parse(r.out);
    expect(s.$schema).toBe("https://json-schema.org/draft/2020-12/schema");
    expect(s.required).toEqual(["name"]);
    expect(Object.keys(s.properties)).toEqual(["name", "description", "switches", "servers", "links"]);
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
