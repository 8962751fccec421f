/**
 * `Network.traceroute` on the source document's data center (`examples/seed-datacenter.yaml`):
 * a VM on the same subnet is one hop, a VM behind tor1's SVIs is two with the gateway named, and
 * what the stack really answers when nobody is there: the source's own `!H` once its ARP gives
 * up on its subnet, tor1's `!H` behind the gateway, `!N` for a network nobody routes, and stars
 * up to max hops when frames vanish on a pulled cable. Each case builds its own network: ICMP
 * errors are rate-limited per destination (as Linux does), so traces share no history.
 */

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { Network, NetworkError, type TracerouteResult } from "../../src/network.ts";

const SEED_TEXT = readFileSync(
  fileURLToPath(new URL("../../examples/seed-datacenter.yaml", import.meta.url)),
  "utf8",
);
const seed = () => Network.fromText(SEED_TEXT, "seed-datacenter.yaml");

/** Per hop, who answered each probe: "name address annotation", or "*". */
function answers(r: TracerouteResult): string[][] {
  return r.hops.map((h) =>
    h.probes.map((p) => (p.address === null ? "*" : `${p.name} ${p.address}${p.annotation}`.trim())),
  );
}

describe("Network.traceroute", () => {
  it("same subnet: one hop, the destination itself, named", () => {
    const r = seed().traceroute("web1", "web3");
    expect(r).toMatchObject({ from: "web1", to: "web3", toIp: "192.168.10.13", toName: "web3" });
    expect(r).toMatchObject({
      maxHops: 30,
      probesPerHop: 3,
      packetBytes: 60,
      isReached: true,
      sendError: null,
    });
    expect(answers(r)).toEqual([["web3 192.168.10.13", "web3 192.168.10.13", "web3 192.168.10.13"]]);
    expect(r.hops[0].ttl).toBe(1);
    // The first probe waits for ARP; the others go straight out.
    const [first, second, third] = r.hops[0].probes.map((p) => p.rttNs ?? 0);
    expect(first).toBeGreaterThan(second);
    expect(second).toBeGreaterThan(0);
    expect(third).toBe(second);
  });

  it("across the SVI gateway: tor1 (named after the switch) at TTL 1, the VM at TTL 2", () => {
    const r = seed().traceroute("web1", "db2");
    expect(r.isReached).toBe(true);
    expect(answers(r)).toEqual([
      ["tor1 192.168.10.1", "tor1 192.168.10.1", "tor1 192.168.10.1"],
      ["db2 192.168.20.12", "db2 192.168.20.12", "db2 192.168.20.12"],
    ]);
    // The SR-IOV VM's probes leave through its VF and meet the same gateway.
    expect(answers(seed().traceroute("sriov1", "192.168.20.11"))).toEqual([
      ["tor1 192.168.10.1", "tor1 192.168.10.1", "tor1 192.168.10.1"],
      ["db1 192.168.20.11", "db1 192.168.20.11", "db1 192.168.20.11"],
    ]);
  });

  it("an address nobody has on the source's subnet: its own !H once ARP gives up (3 s a probe)", () => {
    const r = seed().traceroute("web1", "192.168.10.99");
    expect(r).toMatchObject({ toIp: "192.168.10.99", toName: null, isReached: false });
    expect(answers(r)).toEqual([["web1 192.168.10.11!H", "web1 192.168.10.11!H", "web1 192.168.10.11!H"]]);
    expect(r.hops[0].probes.map((p) => p.rttNs)).toEqual([3e9, 3e9, 3e9]);
  });

  it("an address nobody has behind the gateway: tor1, then tor1's !H when its ARP gives up", () => {
    const r = seed().traceroute("web1", "192.168.20.99");
    expect(r.isReached).toBe(false);
    expect(answers(r)).toEqual([
      ["tor1 192.168.10.1", "tor1 192.168.10.1", "tor1 192.168.10.1"],
      ["tor1 192.168.10.1!H", "tor1 192.168.10.1!H", "tor1 192.168.10.1!H"],
    ]);
    expect(r.hops[1].probes[0].rttNs).toBeGreaterThan(3e9);
  });

  it("a network nobody routes: !N from the gateway at TTL 1", () => {
    const r = seed().traceroute("web1", "10.9.9.9");
    expect(r.isReached).toBe(false);
    expect(answers(r)).toEqual([["tor1 192.168.10.1!N", "tor1 192.168.10.1!N", "tor1 192.168.10.1!N"]]);
  });

  it("db2's cable pulled: tor1 still answers, then stars (silent drops) up to max hops", () => {
    const net = seed();
    net.setLinkUp("server2:eth0", false);
    const r = net.traceroute("web1", "db2", { maxHops: 4, probesPerHop: 2, waitNs: 1e9 });
    expect(r).toMatchObject({ maxHops: 4, probesPerHop: 2, isReached: false });
    expect(answers(r)).toEqual([
      ["tor1 192.168.10.1", "tor1 192.168.10.1"],
      ["*", "*"],
      ["*", "*"],
      ["*", "*"],
    ]);
    expect(r.hops.map((h) => h.ttl)).toEqual([1, 2, 3, 4]);
    expect(r.hops[1].probes[0]).toEqual({ address: null, name: null, rttNs: null, annotation: "" });
    // Each star waited the whole second, in simulated time.
    expect(r.durationNs).toBeGreaterThanOrEqual(6e9);
  });

  it("a VM without a gateway cannot send off its subnet: sendError, no hops", () => {
    const rules = Network.fromText(
      readFileSync(fileURLToPath(new URL("./topologies/rules.yaml", import.meta.url)), "utf8"),
      "rules.yaml",
    );
    const r = rules.traceroute("vm7", "vm1");
    expect(r).toMatchObject({
      sendError: "Network is unreachable",
      hops: [],
      isReached: false,
      durationNs: 0,
    });
  });

  it("is deterministic: the same network and seed give the same result", () => {
    expect(seed().traceroute("web1", "db2")).toEqual(seed().traceroute("web1", "db2"));
  });

  it("refuses an unknown VM (did-you-mean) and out-of-range options with a NetworkError", () => {
    const net = seed();
    const codeOf = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return e instanceof NetworkError ? `${e.code}: ${e.message}` : String(e);
      }
      return "no error";
    };
    expect(codeOf(() => net.traceroute("web9", "web1"))).toBe(
      'unknown-vm: no VM named "web9"; did you mean "web1"?',
    );
    expect(codeOf(() => net.traceroute("web1", "wbe3"))).toMatch(
      /^unknown-vm: no VM named "wbe3"; did you mean/,
    );
    expect(codeOf(() => net.traceroute("web1", "web3", { maxHops: 0 }))).toBe(
      "bad-option: traceroute: maxHops 0 is not 1..255",
    );
    expect(codeOf(() => net.traceroute("web1", "web3", { probesPerHop: 1.5 }))).toMatch(/^bad-option: /);
    expect(codeOf(() => net.traceroute("web1", "web3", { waitNs: 0 }))).toMatch(/^bad-option: /);
  });
});
