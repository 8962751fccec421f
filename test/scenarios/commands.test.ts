/**
 * The network commands in-process (`main(argv, memoryIo())`): ping's output and exit status as
 * ping's, pingall's matrix, show's tables and arrays, demo's traces, and the user's mistakes
 * (unknown VM, bad option, broken topology file) answered with exit 2 and no stack trace.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { memoryIo } from "../../src/cli/io.ts";
import { main } from "../../src/cli/main.ts";
import { hasTshark } from "../oracle/tshark.ts";
import { checkWithTshark } from "./tshark-check.ts";

const SEED = fileURLToPath(new URL("../../examples/seed-datacenter.yaml", import.meta.url));
const RULES = fileURLToPath(new URL("./topologies/rules.yaml", import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), "vnet-cmd-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = memoryIo();
  const code = await main(argv, io);
  return { code, out: io.stdout(), err: io.stderr() };
}

describe("vnet ping", () => {
  it("prints like ping, in simulated time, and exits 0", async () => {
    const r = await run("ping", SEED, "web1", "web3", "-c", "3", "-i", "0.5", "-s", "100");
    expect(r.code).toBe(0);
    const lines = r.out.split("\n");
    expect(lines[0]).toBe("PING web3 (192.168.10.13) 100(128) bytes of data.");
    expect(lines[1]).toMatch(/^108 bytes from 192\.168\.10\.13: icmp_seq=1 ttl=64 time=0\.\d{3} ms$/);
    expect(lines[3]).toMatch(/icmp_seq=3 /);
    expect(r.out).toContain("--- web3 ping statistics ---");
    expect(r.out).toContain("3 packets transmitted, 3 received, 0% packet loss, time 1000ms");
    expect(r.out).toMatch(/rtt min\/avg\/max\/mdev = [\d.]+\/[\d.]+\/[\d.]+\/[\d.]+ ms/);
  });

  it("routed pings lose one TTL at the gateway", async () => {
    const r = await run("ping", SEED, "web1", "db2", "-c", "1", "--json");
    expect(r.code).toBe(0);
    const p = JSON.parse(r.out);
    expect(p.received).toBe(1);
    expect(p.events[0].ttl).toBe(63);
  });

  it("a trace's frame headings name every frame, also one that never left its VM", async () => {
    const r = await run("trace", SEED, "web1", "192.168.10.99");
    expect(r.code).toBe(1);
    expect(r.out).not.toMatch(/^ {2}frame \d+$/m);
    expect(r.out).toMatch(/^ {2}echo request 192\.168\.10\.11 -> 192\.168\.10\.99 id \d+ seq 1$/m);
  });

  it("exits 1 with ping's unreachable lines when nobody answers ARP", async () => {
    const r = await run("ping", SEED, "web1", "192.168.10.99", "-c", "2");
    expect(r.code).toBe(1);
    expect(r.out).toContain("From 192.168.10.11 icmp_seq=1 Destination Host Unreachable");
    expect(r.out).toContain("2 packets transmitted, 0 received, +2 errors, 100% packet loss");
  });

  it("a VM without a gateway cannot send off its subnet: ping says so as iputils does", async () => {
    const r = await run("ping", RULES, "vm7", "vm1", "-c", "1", "--json");
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out).sendError).toBe("Network is unreachable");
    const text = await run("ping", RULES, "vm7", "vm1", "-c", "1");
    expect(text.code).toBe(1);
    expect(text.out).toBe("ping: connect: Network is unreachable\n");
  });

  it("a guest answers 127.0.0.0/8 on its loopback, as Linux does (never via the gateway)", async () => {
    const r = await run("ping", SEED, "web1", "127.0.0.5", "-c", "1");
    expect(r.code).toBe(0);
    expect(r.out).toContain("64 bytes from 127.0.0.5: icmp_seq=1 ttl=64");
    const t = await run("trace", SEED, "web1", "127.0.0.1");
    expect(t.code).toBe(0);
    expect(t.out).toContain("verdict: to 127.0.0.1: the guest's loopback, stays inside web1");
    expect(t.out).toContain("web1 [vm] - -> lo: send, echo request 127.0.0.1 -> 127.0.0.1");
    expect(t.out).not.toContain("tor1");
  });
});

describe("vnet pingall", () => {
  it("prints the matrix and exits 0 when every pair answers", async () => {
    const r = await run("pingall", SEED);
    expect(r.code).toBe(0);
    expect(r.out).toContain("*** Results: 0% dropped (42/42 received; 42 pairs) ***");
    expect(r.out.split("\n")[1]).toMatch(/^web1\s+- {2}\. {2}\. {2}\. {2}\. {2}\. {2}\.\s+1$/);
  });

  it("exits 1 and names the failing pairs when VLAN 30 cannot reach the others", async () => {
    const r = await run("pingall", RULES, "--json");
    expect(r.code).toBe(1);
    const p = JSON.parse(r.out);
    expect(p.vms).toContain("vm7");
    const i = p.vms.indexOf("vm7");
    const j = p.vms.indexOf("vm8");
    expect(p.matrix[i][j]).toBe(true);
    expect(p.matrix[i][p.vms.indexOf("vm1")]).toBe(false);
    expect(
      p.failures.some(
        (f: { from: string; why: string }) =>
          f.from === "vm7" && f.why === "vm7 cannot send: Network is unreachable",
      ),
    ).toBe(true);
    expect(p.received).toBeLessThan(p.pairs);
  });
});

describe("vnet show", () => {
  it("fdb after a pingall: every switch knows every VM of its VLANs", async () => {
    const r = await run("show", SEED, "fdb", "--json");
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.out) as {
      device: string;
      vlan: number;
      mac: string;
      port: string;
      type: string;
    }[];
    const tor = rows.filter((x) => x.device === "tor1" && x.type === "learned");
    // 5 VMs in VLAN 10 (web1, web2, web3, sriov1, sriov2) and 2 in VLAN 20.
    expect(tor.filter((x) => x.vlan === 10).length).toBe(5);
    expect(tor.filter((x) => x.vlan === 20).length).toBe(2);
    expect(rows.find((x) => x.device === "tor1" && x.mac === "02:00:00:00:20:11")?.port).toBe("eth1");
  });

  it("arp, ports and counters as text tables; --after none shows a quiet network", async () => {
    const arp = await run("show", SEED, "arp");
    expect(arp.code).toBe(0);
    expect(arp.out.split("\n")[0]).toMatch(/^device\s+interface\s+ip\s+mac\s+state$/);
    expect(arp.out).toContain("tor1 (gateway)");
    const ports = await run("show", SEED, "ports");
    expect(ports.out).toMatch(/server1\/eth1\s+pnic\s+pf\s+-\s+unconnected/);
    const quiet = await run("show", SEED, "arp", "--after", "none", "--json");
    expect(JSON.parse(quiet.out)).toEqual([]);
  });

  it("one device's rows, or a server's: its NICs, vswitches and VMs", async () => {
    const tor = JSON.parse((await run("show", SEED, "fdb", "tor1", "--json")).out) as { device: string }[];
    expect(tor.length).toBeGreaterThan(0);
    expect(tor.every((r) => r.device === "tor1")).toBe(true);
    const server = JSON.parse((await run("show", SEED, "ports", "server2", "--json")).out) as {
      device: string;
    }[];
    expect([...new Set(server.map((r) => r.device))]).toEqual(["server2/eth0", "server2/vs0", "web3", "db2"]);
    const unknown = await run("show", SEED, "fdb", "tor9");
    expect(unknown.code).toBe(2);
    expect(unknown.err).toBe('vnet: no device named "tor9"; did you mean "tor1"?\n');
  });

  it("refuses an unknown table with exit 2", async () => {
    const r = await run("show", SEED, "routes");
    expect(r.code).toBe(2);
    expect(r.err).toBe(
      'vnet: show: unknown table "routes"; known: fdb, arp, ports, counters, lacp, teaming, mlag, stp, vpn, nat\n',
    );
  });
});

describe("a cable that is down", () => {
  it("cuts server2 off: the trace is not delivered (exit 1) and show ports says down", async () => {
    const down = join(tmp, "down.yaml");
    const text = readFileSync(SEED, "utf8").replace(
      "  - endpoints: [server2:eth0, tor1:eth2]\n",
      "  - endpoints: [server2:eth0, tor1:eth2]\n    up: false\n",
    );
    expect(text).toContain("up: false");
    writeFileSync(down, text);
    const t = await run("trace", down, "web1", "web3", "--json");
    expect(t.code).toBe(1);
    expect(JSON.parse(t.out).delivered).toBe(false);
    expect((await run("trace", down, "web1", "web2")).code).toBe(0);
    const ports = JSON.parse((await run("show", down, "ports", "--after", "none", "--json")).out) as {
      device: string;
      port: string;
      state: string;
      txFrames: number;
    }[];
    const eth2 = ports.find((p) => p.device === "tor1" && p.port === "eth2");
    expect(eth2).toMatchObject({ state: "down", txFrames: 0 });
  });
});

describe("user mistakes", () => {
  it("an unknown VM is exit 2 with a did-you-mean (or the few known names), no stack trace", async () => {
    const r = await run("trace", SEED, "web9", "web1");
    expect(r.code).toBe(2);
    expect(r.err).toBe('vnet: no VM named "web9"; did you mean "web1"?\n');
    const far = await run("trace", SEED, "zzzzzzzz", "web1");
    expect(far.code).toBe(2);
    expect(far.err).toBe('vnet: no VM named "zzzzzzzz"; known: web1, web2, db1, sriov1, sriov2, web3, db2\n');
  });

  it("a name with terminal control characters is echoed escaped, never raw", async () => {
    const r = await run("trace", SEED, "web\x1b[31m1", "web2");
    expect(r.code).toBe(2);
    expect(r.err).not.toContain("\x1b");
    expect(r.err).toContain("\\x1b[31m1");
  });

  it("the shipped WireGuard example pair is valid and each names the other", async () => {
    const a = JSON.parse((await run("vpn", "check", "--config", "examples/vpn/wg0.conf", "--json")).out);
    const b = JSON.parse((await run("vpn", "check", "--config", "examples/vpn/wg1.conf", "--json")).out);
    expect(a.peers[0].publicKey).toBe(b.interface.publicKey);
    expect(b.peers[0].publicKey).toBe(a.interface.publicKey);
    expect(a.peers[0].endpoint).toBe(`127.0.0.1:${b.interface.listenPort}`);
  });

  it("with --json, errors are JSON on standard output too (and a line on standard error)", async () => {
    const vm = await run("trace", SEED, "web9", "web1", "--json");
    expect(vm.code).toBe(2);
    expect(JSON.parse(vm.out)).toEqual({
      error: {
        code: "unknown-vm",
        message: 'no VM named "web9"; did you mean "web1"?',
        file: null,
        line: null,
        col: null,
      },
    });
    const opt = await run("pingall", SEED, "--json", "--bogus");
    expect(opt.code).toBe(2);
    expect(JSON.parse(opt.out).error).toMatchObject({ code: "usage", message: "unknown option '--bogus'" });
    const bad = join(tmp, "bad-json.yaml");
    writeFileSync(bad, "name: bad\nservers:\n  s1:\n    nics: [eth0]\n    bogus: 1\n");
    const topo = await run("ping", bad, "a", "b", "--json");
    expect(topo.code).toBe(2);
    const j = JSON.parse(topo.out);
    expect(j.error).toMatchObject({ code: "unknown-key", file: bad, line: 5, col: 5 });
    expect(j.errors.length).toBeGreaterThanOrEqual(1);
    expect(topo.err).toMatch(/bad-json\.yaml:5:5: /);
  });

  it("a broken topology prints file:line:col lines and exits 2", async () => {
    const bad = join(tmp, "bad.yaml");
    writeFileSync(
      bad,
      "name: bad\nservers:\n  s1:\n    vms:\n      v1:\n        nics:\n          - { portGroup: nope, ip: 10.0.0.1/24 }\n",
    );
    const r = await run("pingall", bad);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(new RegExp(`^${bad.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}:\\d+:\\d+: `, "m"));
    expect(r.err).not.toMatch(/\n\s+at /);
  });

  it("a missing file and a bad option are exit 2", async () => {
    expect((await run("ping", join(tmp, "none.yaml"), "a", "b")).code).toBe(2);
    const r = await run("ping", SEED, "web1", "web2", "-c", "0");
    expect(r.code).toBe(2);
    expect(r.err).toContain("--count: 0 is out of range");
  });

  it("every network command has --help", async () => {
    for (const c of ["trace", "traceroute", "ping", "pingall", "show", "demo", "graph", "ui"]) {
      const r = await run(c, "--help");
      expect(r.code, c).toBe(0);
      expect(r.out, c).toContain("--json");
    }
  });
});

describe("vnet demo", () => {
  it("shows the document's rules and the SR-IOV bypass with their verdicts", async () => {
    const dir = join(tmp, "demo");
    const r = await run("demo", "--pcap", dir, "--json");
    expect(r.code).toBe(0);
    const d = JSON.parse(r.out);
    expect(d.traces.map((t: { verdict: string }) => t.verdict)).toEqual([
      "same port group, same server: stays inside server1",
      "same port group, different servers: crosses the physical network via tor1",
      "different port groups, same server: crosses the physical network via the gateway on tor1",
      "VF to VF on the same NIC: stays inside server1's eth1 (SR-IOV embedded switch, no vswitch)",
      "VF to vswitch port group web, same server: crosses the physical network via tor1",
    ]);
    expect(d.pingall).toEqual({ vms: 7, pairs: 42, received: 42, lossPercent: 0 });
    expect(d.captures).toBe(dir);
    if (hasTshark()) checkWithTshark(...readdirSync(dir).map((sub) => join(dir, sub)));
  });
});
