/**
 * `vnet traceroute` through `main` (in-process, memory Io): traceroute(8)'s text, `-n`, `-m`,
 * `-q`, `-w`, `--json`, exit 0/1/2, byte-identical runs; and `formatTraceroute` on literal
 * results for the lines a healthy seed network never prints (a star before an answer, two
 * routers answering one TTL).
 */

import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { TracerouteProbe, TracerouteResult } from "../network.ts";
import { memoryIo } from "./io.ts";
import { main } from "./main.ts";
import { formatTraceroute } from "./traceroute.ts";

const SEED = fileURLToPath(new URL("../../examples/seed-datacenter.yaml", import.meta.url));

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = memoryIo();
  const code = await main(argv, io);
  return { code, out: io.stdout(), err: io.stderr() };
}

describe("vnet traceroute", () => {
  it("prints as traceroute(8): the header, a line per TTL, hops named, exit 0 when reached", async () => {
    const r = await run("traceroute", SEED, "web1", "db2");
    expect(r.code).toBe(0);
    expect(r.err).toBe("");
    expect(r.out).toBe(
      [
        "traceroute to db2 (192.168.20.12), 30 hops max, 60 byte packets",
        " 1  tor1 (192.168.10.1)  0.040 ms  0.020 ms  0.020 ms",
        " 2  db2 (192.168.20.12)  0.061 ms  0.040 ms  0.040 ms",
        "",
      ].join("\n"),
    );
    const same = await run("traceroute", SEED, "web1", "web3");
    expect(same.out.split("\n").slice(1)).toEqual([
      " 1  web3 (192.168.10.13)  0.081 ms  0.040 ms  0.040 ms",
      "",
    ]);
  });

  it("-n prints addresses only; -q sets probes per hop (not vnet's --quiet)", async () => {
    const r = await run("traceroute", SEED, "web1", "db2", "-n", "-q", "1");
    expect(r.code).toBe(0);
    expect(r.out.split("\n").slice(1)).toEqual([
      " 1  192.168.10.1  0.040 ms",
      " 2  192.168.20.12  0.061 ms",
      "",
    ]);
    // vnet's own -q still works before the command.
    expect((await run("-q", "traceroute", SEED, "web1", "db2", "-n", "-q", "1")).out).toBe(r.out);
  });

  it("exit 1 when not reached: !H after the time, the header says the address as given", async () => {
    const r = await run("traceroute", SEED, "web1", "192.168.20.99", "-q", "2");
    expect(r.code).toBe(1);
    expect(r.out).toBe(
      [
        "traceroute to 192.168.20.99 (192.168.20.99), 30 hops max, 60 byte packets",
        " 1  tor1 (192.168.10.1)  0.040 ms  0.020 ms",
        " 2  tor1 (192.168.10.1)  3000.020 ms !H  3000.020 ms !H",
        "",
      ].join("\n"),
    );
  });

  it("-m caps the TTLs, -w the wait: a wait shorter than the round trip is stars to max hops", async () => {
    // 10 us of simulated time; tor1's answer takes 20 us (later answers are not counted).
    const r = await run("traceroute", SEED, "web1", "db2", "-m", "2", "-w", "0.00001");
    expect(r.code).toBe(1);
    expect(r.out).toBe(
      ["traceroute to db2 (192.168.20.12), 2 hops max, 60 byte packets", " 1  * * *", " 2  * * *", ""].join(
        "\n",
      ),
    );
  });

  it("a VM that cannot send at all: connect's error after the header, exit 1", async () => {
    const rules = fileURLToPath(new URL("../../test/scenarios/topologies/rules.yaml", import.meta.url));
    const r = await run("traceroute", rules, "vm7", "vm1");
    expect(r.code).toBe(1);
    expect(r.out).toBe(
      "traceroute to vm1 (192.168.10.11), 30 hops max, 60 byte packets\nconnect: Network is unreachable\n",
    );
  });

  it("--json: the facade's result, names and addresses per probe", async () => {
    const r = await run("traceroute", SEED, "web1", "db2", "--json", "-q", "2");
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(Object.keys(j)).toEqual([
      "from",
      "to",
      "toIp",
      "toName",
      "maxHops",
      "probesPerHop",
      "packetBytes",
      "hops",
      "isReached",
      "sendError",
      "durationNs",
    ]);
    expect(j).toMatchObject({
      from: "web1",
      to: "db2",
      toIp: "192.168.20.12",
      toName: "db2",
      isReached: true,
    });
    expect(j.hops).toEqual([
      {
        ttl: 1,
        probes: [
          { address: "192.168.10.1", name: "tor1", rttNs: 40322, annotation: "" },
          { address: "192.168.10.1", name: "tor1", rttNs: 20186, annotation: "" },
        ],
      },
      {
        ttl: 2,
        probes: [
          { address: "192.168.20.12", name: "db2", rttNs: 60508, annotation: "" },
          { address: "192.168.20.12", name: "db2", rttNs: 40372, annotation: "" },
        ],
      },
    ]);
  });

  it("is deterministic: two runs print byte-identical text and JSON", async () => {
    for (const extra of [[], ["--json"]]) {
      const a = await run("traceroute", SEED, "web1", "192.168.20.99", ...extra);
      const b = await run("traceroute", SEED, "web1", "192.168.20.99", ...extra);
      expect(a.out.length).toBeGreaterThan(0);
      expect(b).toEqual(a);
    }
  });

  it("usage and input errors: one line, exit 2, no stack", async () => {
    const cases: [string[], string][] = [
      [["web9", "web1"], 'vnet: no VM named "web9"; did you mean "web1"?\n'],
      [["web1", "web3", "-m", "0"], "vnet: --max-hops: 0 is out of range (1..255)\n"],
      [["web1", "web3", "-m", "256"], "vnet: --max-hops: 256 is out of range (1..255)\n"],
      [["web1", "web3", "-q", "11"], "vnet: --queries: 11 is out of range (1..10)\n"],
      [["web1", "web3", "-q", "two"], 'vnet: --queries: "two" is not an integer\n'],
      [["web1", "web3", "-w", "-1"], 'vnet: --wait: "-1" is not a number\n'],
    ];
    for (const [args, err] of cases) {
      const r = await run("traceroute", SEED, ...args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.err, args.join(" ")).toBe(err);
      expect(r.out).toBe("");
    }
    const json = await run("traceroute", SEED, "web1", "wbe3", "--json");
    expect(json.code).toBe(2);
    expect(JSON.parse(json.out).error.code).toBe("unknown-vm");
    const missing = await run("traceroute", "/nonexistent/topology.yaml", "web1", "web3");
    expect(missing.code).toBe(2);
    expect(missing.err).toBe("/nonexistent/topology.yaml: cannot read the topology file: no such file\n");
    const extra = await run("traceroute", SEED, "web1", "web3", "web2");
    expect(extra.code).toBe(2);
  });

  it("--help names the options and the exit status", async () => {
    const r = await run("traceroute", "--help");
    expect(r.code).toBe(0);
    for (const opt of ["-n, --numeric", "-m, --max-hops", "-q, --queries", "-w, --wait", "--json"]) {
      expect(r.out).toContain(opt);
    }
    expect(r.out).toContain("Exit status: 0 when the destination answered, 1 when it was not reached");
  });
});

describe("formatTraceroute", () => {
  const probe = (
    address: string | null,
    name: string | null,
    rttNs: number,
    annotation = "",
  ): TracerouteProbe =>
    address === null
      ? { address, name: null, rttNs: null, annotation }
      : { address, name, rttNs, annotation };
  const result = (hops: TracerouteProbe[][]): TracerouteResult => ({
    from: "web1",
    to: "10.0.20.13",
    toIp: "10.0.20.13",
    toName: "web3",
    maxHops: 30,
    probesPerHop: 3,
    packetBytes: 60,
    hops: hops.map((probes, i) => ({ ttl: i + 1, probes })),
    isReached: false,
    sendError: null,
    durationNs: 0,
  });

  it("prints an address again only when it differs from the last answer on the line, as print_probe", () => {
    const r = result([
      [probe(null, null, 0), probe("10.0.10.1", "core1", 21e3), probe("10.0.10.1", "core1", 19e3)],
      [probe("10.0.0.1", "spine1", 30e3), probe("10.0.0.2", null, 31e3), probe(null, null, 0)],
      [
        probe("10.0.20.1", "core1", 3_000_045_000, "!H"),
        probe(null, null, 0),
        probe("10.0.20.1", "core1", 5e3, "!H"),
      ],
    ]);
    expect(formatTraceroute(r)).toBe(
      [
        "traceroute to 10.0.20.13 (10.0.20.13), 30 hops max, 60 byte packets",
        " 1  * core1 (10.0.10.1)  0.021 ms  0.019 ms",
        " 2  spine1 (10.0.0.1)  0.030 ms 10.0.0.2 (10.0.0.2)  0.031 ms *",
        " 3  core1 (10.0.20.1)  3000.045 ms !H *  0.005 ms !H",
        "",
      ].join("\n"),
    );
    expect(formatTraceroute(r, { isNumeric: true }).split("\n")[2]).toBe(
      " 2  10.0.0.1  0.030 ms 10.0.0.2  0.031 ms *",
    );
  });
});
