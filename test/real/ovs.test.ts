/**
 * Open vSwitch as a physical switch facing vnet (root; OVS's userspace datapath, no kernel
 * module). `examples/external-ovs.yaml` runs as a lab; its ToR's external ports are TAPs that a
 * private OVS plugs in: an 802.1Q trunk into bridge br0 (VLAN 10) and a LACP bundle of two TAPs
 * into bridge br1 as an OVS bond with `lacp=active` (VLAN 20). Namespaces behind OVS reach
 * vnet's VMs across both; OVS learns vnet's VM behind the trunk in the right VLAN; `ovs-appctl
 * lacp/show` sees vnet's ToR as its negotiated partner; the bundle survives a member cut.
 * Skips with one line without root, the native addon, Open vSwitch or ping.
 */

import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadNative } from "../../src/real/native.ts";
import { eventually, must, ROOT, vnetCli } from "./lab-harness.ts";
import { hasOvs, PrivateOvs } from "./ovs-harness.ts";

const FILE = join(ROOT, "examples/external-ovs.yaml");
const LAB = `ovs${process.pid % 100000}`;
const cli = vnetCli();
const vnet = cli.run;
const stateDir = cli.dir;
const NS_A = `vnet-ovsa-${process.pid}`;
const NS_B = `vnet-ovsb-${process.pid}`;

function ping(ns: string, ip: string, count = 3): boolean {
  return (
    spawnSync("ip", ["netns", "exec", ns, "ping", "-n", "-c", String(count), "-i", "0.2", "-W", "1", ip])
      .status === 0
  );
}

/** A namespace with IP `ip` behind OVS bridge `br`, as an access port in VLAN `vlan`. */
function hostBehindOvs(ovs: PrivateOvs, ns: string, br: string, vlan: number, ip: string, tag: string): void {
  must("ip", "netns", "add", ns);
  must("ip", "link", "add", `${tag}h`, "type", "veth", "peer", "name", `${tag}n`);
  must("ip", "link", "set", `${tag}n`, "netns", ns);
  must("ip", "-n", ns, "link", "set", `${tag}n`, "name", "eth0");
  must("ip", "-n", ns, "addr", "add", ip, "dev", "eth0");
  must("ip", "-n", ns, "link", "set", "eth0", "up");
  must("ip", "link", "set", `${tag}h`, "up");
  // A userspace switch gets what the kernel hands it: full checksums, or TCP would stall.
  spawnSync("ip", ["netns", "exec", ns, "ethtool", "-K", "eth0", "tx", "off"]);
  spawnSync("ethtool", ["-K", `${tag}h`, "tx", "off"]);
  ovs.vsctl("add-port", br, `${tag}h`, `tag=${vlan}`);
}

const skipReason =
  process.getuid?.() !== 0
    ? "needs root"
    : loadNative() === null
      ? "the native addon is not built"
      : !hasOvs()
        ? "Open vSwitch not installed"
        : undefined;

describe.skipIf(skipReason !== undefined)("Open vSwitch facing vnet's ToR", { timeout: 120_000 }, () => {
  let ovs: PrivateOvs;
  const tag = `o${process.pid % 10000}`;

  beforeAll(() => {
    const up = vnet("up", FILE, "--name", LAB, "--detach");
    expect(up.stderr).toBe("");
    expect(up.status).toBe(0);
    ovs = new PrivateOvs();
    ovs.vsctl("add-br", "br0", "--", "set", "bridge", "br0", "datapath_type=netdev");
    ovs.vsctl("add-br", "br1", "--", "set", "bridge", "br1", "datapath_type=netdev");
    ovs.vsctl("add-port", "br0", "vnet-ovs-t", "trunks=10");
    ovs.vsctl(
      "add-bond",
      "br1",
      "bond1",
      "vnet-ovs-a",
      "vnet-ovs-b",
      "lacp=active",
      "bond_mode=balance-slb",
      "other_config:lacp-time=fast",
      "trunks=20",
    );
    hostBehindOvs(ovs, NS_A, "br0", 10, "192.168.10.50/24", `${tag}a`);
    hostBehindOvs(ovs, NS_B, "br1", 20, "192.168.20.50/24", `${tag}b`);
  });

  afterAll(() => {
    vnet("down", LAB);
    ovs?.stop();
    for (const ns of [NS_A, NS_B]) spawnSync("ip", ["netns", "del", ns]);
    for (const l of [`${tag}ah`, `${tag}bh`]) spawnSync("ip", ["link", "del", l]);
    rmSync(stateDir, { recursive: true, force: true });
  });

  it("carries VLAN 10 over the 802.1Q trunk: a host behind OVS pings vnet's VM, OVS learns it tagged", async () => {
    expect(await eventually(() => ping(NS_A, "192.168.10.11", 1), 10_000)).toBe(true);
    expect(ping(NS_A, "192.168.10.11", 3)).toBe(true);
    const status = JSON.parse(vnet("status", LAB, "--json").stdout) as {
      vms: { name: string; nics: { mac: string }[] }[];
    };
    const web1Mac = status.vms.find((v) => v.name === "web1")?.nics[0].mac ?? "?";
    const fdb = ovs.appctl("fdb/show", "br0");
    const line = fdb.split("\n").find((l) => l.includes(web1Mac));
    expect(line, fdb).toBeDefined();
    // "port VLAN MAC Age": learned in VLAN 10 on the trunk's port.
    expect(line?.trim().split(/\s+/)[1]).toBe("10");
  });

  it("forms a LACP bundle with OVS as the partner, and carries VLAN 20 over it", async () => {
    const negotiated = await eventually(() => /negotiated/.test(ovs.appctl("lacp/show", "bond1")), 15_000);
    const lacp = ovs.appctl("lacp/show", "bond1");
    expect(negotiated, lacp).toBe(true);
    // Both members collecting and distributing, the partner being vnet's tor1 (one system id).
    const members = lacp.split(/\n(?=(?:member|slave): )/).filter((m) => /^(member|slave): /.test(m));
    expect(members, lacp).toHaveLength(2);
    for (const m of members) {
      expect(m).toMatch(/: current attached/);
      expect(m).toMatch(/partner state: .*collecting distributing/);
    }
    const partners = new Set(members.map((m) => /partner sys_id: (\S+)/.exec(m)?.[1]));
    expect(partners.size).toBe(1);
    const ovsSysId = /actor sys_id: (\S+)/.exec(members[0])?.[1];
    // And vnet agrees: its tor1 sees OVS as the partner on both members, both distributing.
    const rows = JSON.parse(vnet("status", LAB, "lacp", "--json").stdout) as {
      device: string;
      member: string;
      partner: string;
      distributing: string;
    }[];
    const po9 = rows.filter((r) => r.device === "tor1" && (r.member === "eth9" || r.member === "eth10"));
    expect(po9).toHaveLength(2);
    for (const r of po9) {
      expect(r.partner).toContain(String(ovsSysId));
      expect(r.distributing).toBe("yes");
    }
    expect(await eventually(() => ping(NS_B, "192.168.20.11", 1), 10_000)).toBe(true);
    expect(ping(NS_B, "192.168.20.11", 3)).toBe(true);
  });

  it("the bundle survives a member cut", async () => {
    const bond = () => ovs.appctl("bond/show", "bond1");
    must("ip", "link", "set", "vnet-ovs-a", "down");
    // OVS takes the member out at once (carrier); vnet's LACP notices its partner is gone
    // within 3 s (fast rate) and stops using that member.
    expect(
      await eventually(() => /member vnet-ovs-a: disabled|slave vnet-ovs-a: disabled/.test(bond()), 10_000),
    ).toBe(true);
    await new Promise((r) => setTimeout(r, 4000));
    expect(await eventually(() => ping(NS_B, "192.168.20.11", 3), 10_000)).toBe(true);
    // And the member comes back: vnet reads the TAP again, LACP puts it back in the bundle.
    must("ip", "link", "set", "vnet-ovs-a", "up");
    const eth9Distributing = () =>
      (
        JSON.parse(vnet("status", LAB, "lacp", "--json").stdout) as {
          device: string;
          member: string;
          distributing: string;
        }[]
      ).some((r) => r.device === "tor1" && r.member === "eth9" && r.distributing === "yes");
    expect(await eventually(eth9Distributing, 15_000)).toBe(true);
  });
});

if (skipReason !== undefined) process.stderr.write(`Open vSwitch interop: skipped (${skipReason})\n`);
