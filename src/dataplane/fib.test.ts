import { describe, expect, it } from "vitest";
import { parseIpv4 } from "../wire/addr.ts";
import { Fib, flowHash, prefixMask } from "./fib.ts";

const ip = parseIpv4;

describe("Fib: longest-prefix match with next-hop groups", () => {
  it("prefers the longest prefix, falls back to the default route, and misses without one", () => {
    const fib = new Fib<string>();
    fib.add(ip("10.0.0.0"), 8, [{ iface: "eth0", gateway: ip("192.0.2.1") }]);
    fib.add(ip("10.1.0.0"), 16, [{ iface: "eth1", gateway: null }], "connected");
    fib.add(ip("10.1.2.0"), 24, [{ iface: "eth2", gateway: ip("10.1.0.9") }]);
    expect(fib.lookup(ip("10.1.2.3"))?.prefixLen).toBe(24);
    expect(fib.lookup(ip("10.1.9.9"))?.nextHops[0].iface).toBe("eth1");
    expect(fib.lookup(ip("10.200.0.1"))?.prefixLen).toBe(8);
    expect(fib.lookup(ip("192.168.1.1"))).toBeNull();
    fib.add(0, 0, [{ iface: "eth0", gateway: ip("192.0.2.1") }]);
    expect(fib.lookup(ip("192.168.1.1"))?.prefixLen).toBe(0);
    expect(fib.routes().map((r) => r.prefixLen)).toEqual([24, 16, 8, 0]);
  });

  it("masks the prefix it is given, replaces a route for the same prefix, and removes one", () => {
    const fib = new Fib<string>();
    fib.add(ip("10.1.2.3"), 16, [{ iface: "a", gateway: null }]);
    expect(fib.lookup(ip("10.1.200.1"))?.prefix).toBe(ip("10.1.0.0"));
    fib.add(ip("10.1.0.0"), 16, [{ iface: "b", gateway: null }]);
    expect(fib.lookup(ip("10.1.0.1"))?.nextHops[0].iface).toBe("b");
    expect(fib.remove(ip("10.1.0.0"), 16)).toBe(true);
    expect(fib.lookup(ip("10.1.0.1"))).toBeNull();
    expect(fib.remove(ip("10.1.0.0"), 16)).toBe(false);
  });

  it("handles addresses above 2^31 (int32 keys) and /32 host routes", () => {
    const fib = new Fib<string>();
    fib.add(ip("203.0.113.7"), 32, [{ iface: "h", gateway: ip("198.51.100.1") }]);
    fib.add(ip("203.0.113.0"), 24, [{ iface: "n", gateway: null }]);
    expect(fib.lookup(ip("203.0.113.7"))?.nextHops[0].iface).toBe("h");
    expect(fib.lookup(ip("203.0.113.8"))?.nextHops[0].iface).toBe("n");
    expect(prefixMask(0)).toBe(0);
    expect(prefixMask(32)).toBe(0xffffffff);
  });

  it("spreads flows over an ECMP group by the 5-tuple hash, one flow always on one hop", () => {
    const fib = new Fib<string>();
    const hops = ["s1", "s2", "s3", "s4"].map((iface, i) => ({ iface, gateway: ip(`10.0.${i}.1`) }));
    fib.add(ip("10.255.0.0"), 16, hops);
    const route = fib.lookup(ip("10.255.1.1"));
    if (route === null) throw new Error("no route");
    const counts = new Map<string, number>();
    for (let port = 0; port < 4000; port++) {
      const h = flowHash(ip("10.1.0.5"), ip("10.255.1.1"), 17, 40000 + port, 4789);
      const hop = Fib.pick(route, h).iface;
      counts.set(hop, (counts.get(hop) ?? 0) + 1);
      expect(Fib.pick(route, flowHash(ip("10.1.0.5"), ip("10.255.1.1"), 17, 40000 + port, 4789)).iface).toBe(
        hop,
      );
    }
    for (const n of counts.values()) expect(n).toBeGreaterThan(800);
    expect(counts.size).toBe(4);
  });

  it("refuses a bad prefix length or a route without next hops", () => {
    const fib = new Fib<string>();
    expect(() => fib.add(0, 33, [{ iface: "a", gateway: null }])).toThrow(RangeError);
    expect(() => fib.add(0, 0, [])).toThrow(RangeError);
  });
});

describe("IpHost routes through its Fib", () => {
  it("connected routes per interface, a default via the first gateway, static ECMP routes", async () => {
    const { IpHost } = await import("./ip-host.ts");
    const h = new IpHost({ name: "r1", hopKind: "vm" });
    const out = () => {};
    const e0 = h.addInterface(
      { name: "eth0", mac: 0x020000000001, ip: ip("10.0.1.1"), prefixLen: 24, gateway: ip("10.0.1.254") },
      out,
    );
    const e1 = h.addInterface(
      { name: "eth1", mac: 0x020000000002, ip: ip("10.0.2.1"), prefixLen: 24, gateway: ip("10.0.2.254") },
      out,
    );
    expect(h.route(ip("10.0.2.77"))).toEqual({ iface: e1, nextHop: ip("10.0.2.77") });
    expect(h.route(ip("8.8.8.8"))).toEqual({ iface: e0, nextHop: ip("10.0.1.254") });
    h.addRoute(ip("172.16.0.0"), 12, [ip("10.0.1.9"), ip("10.0.2.9")]);
    const seen = new Set<string>();
    for (let p = 0; p < 64; p++) {
      const r = h.route(ip("172.16.5.5"), 0, flowHash(ip("10.0.1.1"), ip("172.16.5.5"), 6, 1000 + p, 80));
      seen.add(`${r?.iface.name} ${r?.nextHop}`);
    }
    expect(seen).toEqual(new Set([`eth0 ${ip("10.0.1.9")}`, `eth1 ${ip("10.0.2.9")}`]));
    expect(() => h.addRoute(ip("192.168.0.0"), 16, [ip("10.9.9.9")])).toThrow(/on no interface's subnet/);
  });
});
