/**
 * pingall and reach on whole topologies: pingall paced so a healthy network shows no loss (300
 * VMs), each failed pair naming the device and counter that refused it, the size limit with
 * what to do instead; reach's class answers equal to pingall's pair answers on every pair, on
 * the shipped examples, the scenario topologies, generated data centers and with cables pulled.
 */
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { memoryIo } from "../../src/cli/io.ts";
import { main } from "../../src/cli/main.ts";
import { generateDatacenter } from "../../src/model/generate.ts";
import { MAX_PINGALL_VMS, Network } from "../../src/network.ts";
import { loadNetwork } from "../../src/node.ts";

const file = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const SEED = file("../../examples/seed-datacenter.yaml");
const TWO_RACKS = file("../../examples/two-racks.yaml");
const RULES = file("./topologies/rules.yaml");
const FAILOVER = file("./topologies/failover.yaml");

/** Every ordered pair's answer from pingall and from reach, on two fresh networks. */
function compare(make: () => Network, prepare: (n: Network) => void = () => {}) {
  const a = make();
  prepare(a);
  const ping = a.pingAll();
  const b = make();
  prepare(b);
  const reach = b.reach();
  const diffs: string[] = [];
  const m = ping.matrix as (boolean | null)[][];
  ping.senders.forEach((from, r) => {
    ping.vms.forEach((to, j) => {
      if (from === to) return;
      if ((m[r][j] === true) !== reach.isDelivered(from, to)) {
        diffs.push(`${from} -> ${to}: pingall ${m[r][j]}, reach ${reach.isDelivered(from, to)}`);
      }
    });
  });
  return { ping, reach, diffs };
}

describe("pingall", () => {
  it("reports no loss on a healthy 300-VM data center (paced, as Mininet's pingall)", () => {
    const net = Network.fromText(
      generateDatacenter({ racks: 3, serversPerRack: 5, vmsPerServer: 20, portGroups: 4 }),
      "dc300.yaml",
    );
    const r = net.pingAll();
    expect(r.pairs).toBe(300 * 299);
    expect(r.failures).toEqual([]);
    expect(r.lossPercent).toBe(0);
  }, 60_000);

  it("reports no loss on a healthy 2,000-VM data center (2,000 seeded pairs)", () => {
    const net = Network.fromText(
      generateDatacenter({ racks: 5, serversPerRack: 20, vmsPerServer: 20, portGroups: 4 }),
      "dc2000.yaml",
    );
    const r = net.pingAll({ sample: 2000 });
    expect(r.pairs).toBe(2000);
    expect(r.failures).toEqual([]);
  }, 60_000);

  it("names the device and counter that refused each failed pair", async () => {
    const r = (await loadNetwork(RULES)).pingAll();
    const routed = r.failures.find((f) => f.from === "vm3" && f.to === "vm7");
    expect(routed).toMatchObject({ device: "tor1", code: "no-route", retraced: true });
    expect(routed?.why).toBe(
      "Destination Net Unreachable from 192.168.10.1: dropped at tor1: no route to 192.168.30.17",
    );
    const local = r.failures.find((f) => f.from === "vm7" && f.to === "vm1");
    expect(local).toMatchObject({
      device: "vm7",
      code: "no-route",
      why: "vm7 cannot send: Network is unreachable",
    });
    expect(r.failures.every((f) => !f.why.includes("timeout"))).toBe(true);
  });

  it("a two-NIC VM's trace names the attachment it sends from (same port group, not its first NIC's)", async () => {
    const net = await loadNetwork(file("./topologies/two-nics.yaml"));
    expect(net.trace("dual", "b1").verdict).toBe("same port group, same server: stays inside hv1");
    expect(net.trace("dual", "b2").verdict).toBe(
      "same port group, different servers: crosses the physical network via tor",
    );
    expect(net.trace("dual", "f2").verdict).toBe(
      "same port group, different servers: crosses the physical network via tor",
    );
  });

  it("a loss that depends on load (storm control) says what was counted during the pingall", () => {
    const text = generateDatacenter({ racks: 2, serversPerRack: 5, vmsPerServer: 6, portGroups: 3 });
    const port = "eth1: { mode: trunk, vlans: [100, 101, 102] }";
    const at = text.indexOf(port, text.indexOf("  tor1:"));
    const limited = `${text.slice(0, at)}eth1: { mode: trunk, vlans: [100, 101, 102], stormControl: { broadcast: 5 } }${text.slice(at + port.length)}`;
    const r = Network.fromText(limited, "storm.yaml").pingAll();
    expect(r.failures.length).toBeGreaterThan(0);
    for (const f of r.failures)
      expect(f.why).toMatch(/counted during the pingall: tor1\/storm-control-broadcast \d+/);
  });

  it("trace --json says who refused an exchange and under which counter", async () => {
    const io = memoryIo();
    expect(await main(["trace", RULES, "vm3", "vm7", "--json"], io)).toBe(1);
    expect(JSON.parse(io.stdout()).failure).toEqual({
      text: "dropped at tor1: no route to 192.168.30.17",
      device: "tor1",
      code: "no-route",
    });
  });

  it("a silent drop is traced: a pulled cable is named, not a bare timeout", async () => {
    const net = await loadNetwork(SEED);
    net.setLinkUp("server2:eth0", false);
    const r = net.pingAll({ from: ["web1"] });
    const f = r.failures.find((x) => x.to === "web3");
    expect(f?.retraced).toBe(true);
    expect(f?.why).not.toMatch(/timeout/);
    expect(f?.why.length).toBeGreaterThan(10);
  });

  it("explicit pairs: a repeat is run once and stalls nothing; only traced failures use the trace budget", async () => {
    const net = await loadNetwork(TWO_RACKS);
    const r = net.pingAll({
      pairs: [
        ["web-a", "web-b"],
        ["web-a", "web-b"],
        ["web-c", "web-d"],
        ["web-d", "web-a"],
      ],
    });
    expect(r.pairs).toBe(3);
    expect(r.received).toBe(3);
  });

  it("--from and --sample: rows of the chosen senders, or seeded random pairs", async () => {
    const net = await loadNetwork(SEED);
    const from = net.pingAll({ from: ["db1", "web1"] });
    expect(from.senders).toEqual(["web1", "db1"]);
    expect(from.pairs).toBe(12);
    expect(from.received).toBe(12);
    const s1 = (await loadNetwork(SEED)).pingAll({ sample: 10 });
    const s2 = (await loadNetwork(SEED)).pingAll({ sample: 10 });
    expect(s1.pairs).toBe(10);
    expect(s1.matrix).toBeNull();
    expect(s1).toEqual(s2);
  });

  it("above its limit, says what to do instead: exit 2, no stack trace", async () => {
    const io = memoryIo();
    const dir = await import("node:fs").then((fs) => fs.mkdtempSync("/tmp/vnet-reach-"));
    const path = `${dir}/big.yaml`;
    const { writeFileSync, rmSync } = await import("node:fs");
    writeFileSync(
      path,
      generateDatacenter({ racks: 2, serversPerRack: 11, vmsPerServer: 23, portGroups: 2 }),
    );
    try {
      const code = await main(["pingall", path], io);
      expect(code).toBe(2);
      expect(io.stderr()).toBe(
        `vnet: pingall: 506 VMs make 255530 pairs, more than pingall runs (up to ${MAX_PINGALL_VMS} VMs); ping from one VM to all (--from VM), a random sample of pairs (--sample N), or answer every pair by classes (vnet reach); --all runs every pair anyway\n`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("reach answers as pingall does, on every pair", () => {
  for (const [name, path] of [
    ["the seed data center", SEED],
    ["two racks", TWO_RACKS],
    ["the rules topology (VLAN isolation, no gateway, VFs)", RULES],
    ["the failover topology", FAILOVER],
    ["parallel trunks with disjoint VLANs", file("../../examples/disjoint-trunks.yaml")],
    [
      "two vswitches of one server configured alike, one uplink cable out",
      file("./topologies/two-vswitches-cable-out.yaml"),
    ],
    ["teaming policies and LAGs", file("../../examples/teaming.yaml")],
    ["servers LACP-bonded to an MLAG pair", file("../../examples/mlag.yaml")],
    ["a ring of switches under RSTP", file("../../examples/rstp-ring.yaml")],
    ["a routed leaf-spine underlay with ECMP", file("../../examples/leaf-spine.yaml")],
    ["two sites joined by a GRE tunnel", file("../../examples/gre-sites.yaml")],
    [
      "hypervisor VXLAN on a leaf-spine fabric, two VNIs with one subnet",
      file("../../examples/vxlan-fabric.yaml"),
    ],
    ["a ToR hardware VTEP and hypervisor VTEPs in one VNI", file("../../examples/vxlan-tor.yaml")],
  ] as const) {
    it(name, async () => {
      const text = (await import("node:fs")).readFileSync(path, "utf8");
      const { diffs, reach, ping } = compare(() => Network.fromText(text, path));
      expect(diffs).toEqual([]);
      expect(reach.deliveredPairs).toBe(ping.received);
      expect(reach.results.length).toBeLessThanOrEqual(reach.pairs);
    });
  }

  it("two servers alike but for SpoofGuard on one port group (a two-NIC VM answers from the other NIC)", () => {
    const srv = (n: number, sec: string) => `
  s${n}:
    nics: [eth0]
    vswitches:
      vs0:
        uplinks: [eth0]
        portGroups:
          a: { vlan: 10 }
          b: { vlan: 20${sec} }
    vms:
      b${n}: { nics: [{ portGroup: a, ip: 10.0.10.1${n}/24 }, { portGroup: b, ip: 10.0.20.1${n}/24 }] }
      x${n}: { nics: [{ portGroup: b, ip: 10.0.20.2${n}/24, gateway: 10.0.20.1 }] }`;
    const text = `name: spoof
switches:
  core:
    ports: { p1: { mode: trunk, vlans: [10, 20] }, p2: { mode: trunk, vlans: [10, 20] } }
    gateway: { 10: 10.0.10.1/24, 20: 10.0.20.1/24 }
servers:${srv(1, "")}${srv(2, ", security: { spoofGuard: false }")}
links:
  - { endpoints: [s1:eth0, core:p1] }
  - { endpoints: [s2:eth0, core:p2] }
`;
    const { diffs } = compare(() => Network.fromText(text, "spoof.yaml"));
    expect(diffs).toEqual([]);
  });

  it("servers with a management NIC beside the data NIC: placed by the NIC their VMs use", () => {
    const srv = (n: number) => `
  s${n}:
    nics: [eth0, eth1]
    vswitches:
      mgmt: { uplinks: [eth0], portGroups: { m: { vlan: 10 } } }
      data: { uplinks: [eth1], portGroups: { d: { vlan: 20 } } }
    vms:
      vm${n}: { nics: [{ portGroup: d, ip: 10.0.20.${n}/24 }] }`;
    const T = "{ mode: trunk, vlans: [20] }";
    const M = "{ mode: trunk, vlans: [10] }";
    const text = `name: pods
switches:
  mgmtsw: { ports: { p1: ${M}, p2: ${M}, p3: ${M}, p4: ${M} } }
  tor1: { ports: { down: ${T}, up: ${T} } }
  tor2: { ports: { down: ${T}, up: ${T} } }
  tor3: { ports: { down: ${T}, up: ${T} } }
  tor4: { ports: { down: ${T}, up: ${T} } }
  spineA: { ports: { a: ${T}, b: ${T} } }
  spineB: { ports: { a: ${T}, b: ${T} } }
servers:${srv(1)}${srv(2)}${srv(3)}${srv(4)}
links:
  - { endpoints: [s1:eth0, mgmtsw:p1] }
  - { endpoints: [s2:eth0, mgmtsw:p2] }
  - { endpoints: [s3:eth0, mgmtsw:p3] }
  - { endpoints: [s4:eth0, mgmtsw:p4] }
  - { endpoints: [s1:eth1, tor1:down] }
  - { endpoints: [s2:eth1, tor2:down] }
  - { endpoints: [s3:eth1, tor3:down] }
  - { endpoints: [s4:eth1, tor4:down] }
  - { endpoints: [tor1:up, spineA:a] }
  - { endpoints: [tor2:up, spineA:b] }
  - { endpoints: [tor3:up, spineB:a] }
  - { endpoints: [tor4:up, spineB:b] }
`;
    const { diffs, reach } = compare(() => Network.fromText(text, "pods.yaml"));
    expect(diffs).toEqual([]);
    expect(reach.deliveredPairs).toBe(4);
  });

  it("a /24 and a /16 in one VLAN: the class knows which subnets hold an address", () => {
    const text = `name: masks
switches:
  core:
    ports: { p1: { mode: trunk, vlans: [10] }, p2: { mode: trunk, vlans: [10] } }
servers:
  s1:
    nics: [eth0]
    vswitches: { vs0: { uplinks: [eth0], portGroups: { a: { vlan: 10 } } } }
    vms:
      a: { nics: [{ portGroup: a, ip: 10.0.1.10/24 }] }
  s2:
    nics: [eth0]
    vswitches: { vs0: { uplinks: [eth0], portGroups: { a: { vlan: 10 } } } }
    vms:
      b: { nics: [{ portGroup: a, ip: 10.0.1.20/16 }] }
      c: { nics: [{ portGroup: a, ip: 10.0.2.20/16 }] }
links:
  - { endpoints: [s1:eth0, core:p1] }
  - { endpoints: [s2:eth0, core:p2] }
`;
    const { diffs } = compare(() => Network.fromText(text, "masks.yaml"));
    expect(diffs).toEqual([]);
  });

  it("a generated data center with SR-IOV VMs, and with a server's cable pulled", () => {
    const text = generateDatacenter({
      racks: 3,
      serversPerRack: 3,
      vmsPerServer: 6,
      portGroups: 3,
      sriovVmsPerServer: 1,
    });
    const healthy = compare(() => Network.fromText(text, "dc.yaml"));
    expect(healthy.diffs).toEqual([]);
    expect(healthy.reach.refusedPairs).toBe(0);
    // Far fewer probes than pairs: the racks are alike.
    expect(healthy.reach.results.length * 5).toBeLessThan(healthy.reach.pairs);
    const pulled = compare(
      () => Network.fromText(text, "dc.yaml"),
      (n) => n.setLinkUp(n.links()[0].ends[0], false),
    );
    expect(pulled.diffs).toEqual([]);
    expect(pulled.reach.refusedPairs).toBeGreaterThan(0);
  }, 60_000);

  it("the CLI prints classes, one line per class pair with its probe, and the total", async () => {
    const io = memoryIo();
    const code = await main(["reach", RULES], io);
    expect(code).toBe(1);
    const out = io.stdout();
    expect(out).toMatch(
      /^9 VMs in \d+ classes; 72 ordered pairs answered by \d+ probes, one per class pair: a probe's verdict holds for every pair of its class\n/,
    );
    expect(out).toMatch(/vm\d -> vm[78] +REFUSED: dropped at tor1: no route to 192\.168\.30\.\d+/);
    expect(out).toContain("*** Reach: ");
    const json = memoryIo();
    expect(await main(["reach", SEED, "--json", "--verify", "20"], json)).toBe(0);
    const r = JSON.parse(json.stdout());
    expect(r.pairs).toBe(42);
    expect(r.verified).toEqual({ pairs: 20, disagreements: [] });
  });
});
