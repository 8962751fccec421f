/**
 * Scenario tests for what the network refuses: a VM that forges its source MAC is blocked by
 * the vswitch's "forged transmits: reject" and counted; a VM that sends double-tagged (QinQ)
 * frames is refused at its port group, counted under its reason, and nothing leaks to the
 * physical network. Through the facade (the guest's raw socket has no command) and `vnet show`.
 */
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { memoryIo } from "../../src/cli/io.ts";
import { main } from "../../src/cli/main.ts";
import { Network } from "../../src/network.ts";
import { loadNetwork } from "../../src/node.ts";
import { parseMac } from "../../src/wire/addr.ts";

const RULES = fileURLToPath(new URL("./topologies/rules.yaml", import.meta.url));
const HOPPING = fileURLToPath(new URL("./topologies/hopping.yaml", import.meta.url));

/** A broadcast ARP request from `mac` behind the given 802.1Q tags (outermost first). */
function taggedArp(mac: number, vids: number[], senderIp = [192, 168, 20, 66]): Uint8Array {
  const b = new Uint8Array(14 + 4 * vids.length + 28);
  b.fill(0xff, 0, 6);
  for (let i = 0; i < 6; i++) b[6 + i] = Math.floor(mac / 2 ** (8 * (5 - i))) % 256;
  let o = 12;
  for (const vid of vids) {
    b.set([0x81, 0x00, vid >> 8, vid & 0xff], o);
    o += 4;
  }
  b.set([0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01], o);
  for (let i = 0; i < 6; i++) b[o + 10 + i] = b[6 + i];
  b.set(senderIp, o + 16);
  b.set([192, 168, 20, 5], o + 26);
  return b;
}

function counter(net: Network, device: string, reason: string): number {
  const row = net.show("counters").find((r) => r.device === device && r.reason === reason);
  return row === undefined ? 0 : (row.count as number);
}

/** A double-tagged (802.1ad S-tag 100, 802.1Q C-tag 10) broadcast ARP-sized frame from `mac`. */
function doubleTagged(mac: number): Uint8Array {
  const b = new Uint8Array(64);
  b.fill(0xff, 0, 6);
  for (let i = 0; i < 6; i++) b[6 + i] = Math.floor(mac / 2 ** (8 * (5 - i))) % 256;
  b.set([0x88, 0xa8, 0x00, 100, 0x81, 0x00, 0x00, 10, 0x08, 0x06], 12);
  return b;
}

describe("VLAN hopping through a physical switch", () => {
  it("a priority tag then a C-tag of another VLAN, from an access port, is refused and counted", async () => {
    const net = await loadNetwork(HOPPING);
    const rx = (device: string) => net.show("ports", device).reduce((n, r) => n + (r.rxFrames as number), 0);
    const before = { sw2: rx("sw2"), victim: rx("victim") };
    const mac = net.topology.servers[0].vms[0].nics[0].mac;
    net.sendRaw("attacker", taggedArp(mac, [0, 20]));
    expect(counter(net, "sw1", "nested-vlan-tag")).toBe(1);
    // Nothing crossed the trunk, nothing reached VLAN 20.
    expect(rx("sw2")).toBe(before.sw2);
    expect(rx("victim")).toBe(before.victim);
  });

  it("a single tag on the access port is refused as before; untagged traffic still flows", async () => {
    const net = await loadNetwork(HOPPING);
    const mac = net.topology.servers[0].vms[0].nics[0].mac;
    net.sendRaw("attacker", taggedArp(mac, [20]));
    expect(counter(net, "sw1", "tagged-on-access")).toBe(1);
    const t = net.trace("attacker", "192.168.10.99");
    expect(t.hops.some((h) => h.device === "sw2")).toBe(true);
  });
});

describe("SpoofGuard: ARP and IP sources must be the vNIC's own", () => {
  /** A gratuitous ARP reply from vm1 claiming the gateway's 192.168.10.1 is at vm1's MAC. */
  function poison(net: Network): void {
    const mac = net.topology.servers[0].vms[0].nics[0].mac;
    const b = taggedArp(mac, [], [192, 168, 10, 1]);
    b[21] = 2; // opcode: reply
    b.set([192, 168, 10, 1], 38); // target IP: the gateway (gratuitous)
    net.sendRaw("vm1", b);
  }
  const gatewayEntry = (net: Network, device: string) =>
    net.show("arp", device).find((r) => r.ip === "192.168.10.1");
  const macOf = (net: Network, vm: string) =>
    net.topology.servers.flatMap((s) => s.vms).find((v) => v.name === vm)?.nics[0].mac as number;

  it("on by default: a gratuitous ARP claiming the gateway is refused; neighbours keep the real one", async () => {
    const net = await loadNetwork(RULES);
    expect(net.trace("vm3", "vm5").delivered).toBe(true); // vm3 has the gateway in its cache
    const before = gatewayEntry(net, "vm3")?.mac;
    poison(net);
    expect(counter(net, "server1/vs0", "spoofguard-arp")).toBe(1);
    expect(gatewayEntry(net, "vm3")?.mac).toBe(before);
    const t = net.trace("vm3", "vm5");
    expect(t.delivered).toBe(true);
    expect(t.physicalDevices).toContain("tor1");
  });

  it("turned off (spoofGuard: false), the same frame poisons vm3's cache: the attack the guard stops", async () => {
    const text = (await import("node:fs"))
      .readFileSync(RULES, "utf8")
      .replace(
        "          web: { vlan: 10 }\n          db: { vlan: 20 }\n          iso: { vlan: 30 }\n    vms:\n      vm1",
        "          web: { vlan: 10, security: { spoofGuard: false } }\n          db: { vlan: 20 }\n          iso: { vlan: 30 }\n    vms:\n      vm1",
      );
    const net = Network.fromText(text, "open.yaml");
    expect(net.trace("vm3", "vm5").delivered).toBe(true);
    poison(net);
    expect(counter(net, "server1/vs0", "spoofguard-arp")).toBe(0);
    const vm1Mac = macOf(net, "vm1");
    const poisoned = gatewayEntry(net, "vm3")?.mac as string;
    expect(Number.parseInt(poisoned.replaceAll(":", ""), 16)).toBe(vm1Mac);
  });

  it("an IPv4 packet with another VM's source address is refused and counted", async () => {
    const net = await loadNetwork(RULES);
    const mac = macOf(net, "vm1");
    const b = new Uint8Array(14 + 28);
    b.fill(0xff, 0, 6);
    for (let i = 0; i < 6; i++) b[6 + i] = Math.floor(mac / 2 ** (8 * (5 - i))) % 256;
    b.set(
      [
        0x08, 0x00, 0x45, 0, 0, 28, 0, 1, 0, 0, 64, 1, 0, 0, 192, 168, 10, 13, 192, 168, 10, 255, 8, 0, 0, 0,
        0, 0, 0, 0,
      ],
      12,
    );
    net.sendRaw("vm1", b);
    expect(counter(net, "server1/vs0", "spoofguard-ip")).toBe(1);
  });
});

describe("storm control", () => {
  /** tor1's frames sent out of every port (the flood copies), after vm1 bursts 20,000 broadcasts. */
  async function burst(stormYaml: string, vsStormYaml = "") {
    const text = (await import("node:fs"))
      .readFileSync(RULES, "utf8")
      .replace(
        "      eth1: { mode: trunk, vlans: [10, 20, 30] }",
        `      eth1: { mode: trunk, vlans: [10, 20, 30]${stormYaml} }`,
      )
      .replace(
        "        uplinks: [eth0]\n        portGroups:\n          web: { vlan: 10 }\n          db: { vlan: 20 }\n          iso: { vlan: 30 }\n    vms:\n      vm4",
        `        uplinks: [eth0]\n${vsStormYaml}        portGroups:\n          web: { vlan: 10 }\n          db: { vlan: 20 }\n          iso: { vlan: 30 }\n    vms:\n      vm4`,
      );
    const net = Network.fromText(text, "storm.yaml");
    const tx = (device: string) => net.show("ports", device).reduce((n, r) => n + (r.txFrames as number), 0);
    const rx = (device: string) => net.show("ports", device).reduce((n, r) => n + (r.rxFrames as number), 0);
    const before = { tor1: tx("tor1"), vm4: rx("vm4") };
    const mac = net.topology.servers[0].vms[0].nics[0].mac;
    const frame = taggedArp(mac, [], [192, 168, 10, 11]); // vm1's own address: SpoofGuard lets it pass
    // 20,000 broadcasts over 100 ms (200,000 per second): above any sane level, below the queues.
    for (let i = 0; i < 20_000; i++) net.sendRaw("vm1", frame, 0, 0.005);
    net.settle();
    return { net, tor1: tx("tor1") - before.tor1, vm4: rx("vm4") - before.vm4 };
  }

  it("a physical port's broadcast level caps what the switch floods; the excess is counted", async () => {
    const open = await burst("");
    // Unlimited: every broadcast is flooded to the other ports (server2, server1's SR-IOV NIC).
    expect(open.tor1).toBeGreaterThanOrEqual(2 * 20_000);
    const limited = await burst(", stormControl: { broadcast: 1000pps }");
    const dropped = counter(limited.net, "tor1", "storm-control-broadcast");
    // One second's worth at once, then 1,000 per second for the 0.1 s of the burst.
    expect(20_000 - dropped).toBeGreaterThanOrEqual(1000);
    expect(20_000 - dropped).toBeLessThanOrEqual(1101);
    expect(limited.tor1).toBeLessThan(open.tor1 / 8);
  });

  it("a vswitch's uplinks take a level too: the broadcasts reaching the VMs behind it are capped", async () => {
    const open = await burst("");
    const limited = await burst("", "        stormControl: { broadcast: 500 }\n");
    expect(open.vm4).toBeGreaterThanOrEqual(20_000);
    expect(limited.vm4).toBeLessThanOrEqual(601);
    expect(counter(limited.net, "server2/vs0", "storm-control-broadcast")).toBe(20_000 - limited.vm4);
  });

  it("a level that is not packets per second is a topology error at its place", () => {
    const text =
      "name: x\nswitches:\n  s1:\n    ports:\n      eth1: { stormControl: { broadcast: 10mbps } }\n";
    expect(() => Network.fromText(text, "bad.yaml")).toThrow(/bad\.yaml:5:\d+: .*packets per second/);
  });
});

describe("vswitch security policy", () => {
  it("a VM that forges its MAC is blocked at the vswitch and counted", async () => {
    const net = await loadNetwork(RULES);
    net.setGuestMac("vm1", parseMac("02:66:66:66:66:66"));
    const t = net.trace("vm1", "vm3");
    expect(t.delivered).toBe(false);
    expect(t.crossesPhysicalNetwork).toBe(false);
    expect(t.verdict).toMatch(/^not delivered: dropped at server1\/vs0: /);
    expect(t.verdict).toMatch(/forged/);
    expect(counter(net, "server1/vs0", "forged-transmit")).toBeGreaterThan(0);
    // Another VM of the same port group is unaffected.
    expect(net.trace("vm3", "vm4").delivered).toBe(true);
  });

  it("an SR-IOV VF with spoof checking (the default) refuses a forged source inside the NIC", async () => {
    const net = await loadNetwork(RULES);
    net.setGuestMac("vf1", parseMac("02:66:66:66:66:67"));
    const t = net.trace("vf1", "vf2");
    expect(t.delivered).toBe(false);
    expect(t.verdict).toMatch(/^not delivered: dropped at server1\/eth1: /);
    expect(counter(net, "server1/eth1", "vf-spoof-check")).toBeGreaterThan(0);
  });

  it("a double-tagged frame from a VM is dropped at its port and never reaches a cable", async () => {
    const net = await loadNetwork(RULES);
    net.startCaptures();
    // The VM's own source MAC: only the tags are wrong.
    const vm1 = net.topology.servers.flatMap((s) => s.vms).find((v) => v.name === "vm1");
    net.sendRaw("vm1", doubleTagged(vm1?.nics[0].mac ?? 0));
    expect(counter(net, "server1/vs0", "double-tagged-from-vm")).toBe(1);
    const points = net.captures().flatMap((f) => f.interfaces);
    expect(points).toEqual(["vm1:eth0"]);
  });

  it("vnet show counters lists the drop reasons", async () => {
    const io = memoryIo();
    const code = await main(["show", RULES, "counters", "--json"], io);
    expect(code).toBe(0);
    const rows = JSON.parse(io.stdout()) as { device: string; kind: string; reason: string; count: number }[];
    expect(rows.length).toBeGreaterThan(0);
    for (const r of rows) {
      expect(typeof r.reason).toBe("string");
      expect(r.count).toBeGreaterThan(0);
    }
  });
});
