/**
 * Tests for the allowed-IPs table: literal cryptokey-routing cases, and property tests that run
 * random sequences of insert/remove/removePeer against a brute-force reference (scan every stored
 * prefix, keep the longest that contains the address).
 */

import { isIPv6 } from "node:net";
import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { parseIpv4 } from "../wire/addr.ts";
import {
  AllowedIps,
  type Cidr,
  CidrError,
  cidrContains,
  formatCidr,
  maskCidr,
  parseCidr,
  tryParseIpv6,
} from "./allowed-ips.ts";
import type { WgAllowedIpsTable, WgPeerInfo } from "./engine-api.ts";

const v6 = (s: string) => tryParseIpv6(s)!;

describe("AllowedIps", () => {
  it("routes by longest prefix, IPv4 and IPv6", () => {
    const t = new AllowedIps<string>();
    t.insert(parseCidr("0.0.0.0/0"), "default");
    t.insert(parseCidr("10.0.0.0/8"), "a");
    t.insert(parseCidr("10.1.0.0/16"), "b");
    t.insert(parseCidr("10.1.2.3"), "host");
    t.insert(parseCidr("fd00::/8"), "v6a");
    t.insert(parseCidr("fd00:1::/32"), "v6b");
    expect(t.lookupIpv4(parseIpv4("10.1.2.3"))).toBe("host");
    expect(t.lookupIpv4(parseIpv4("10.1.2.4"))).toBe("b");
    expect(t.lookupIpv4(parseIpv4("10.2.0.1"))).toBe("a");
    expect(t.lookupIpv4(parseIpv4("192.0.2.1"))).toBe("default");
    expect(t.lookupIpv6(v6("fd00:1::5"), 0)).toBe("v6b");
    expect(t.lookupIpv6(v6("fd01::5"), 0)).toBe("v6a");
    expect(t.lookupIpv6(v6("2001:db8::1"), 0)).toBeUndefined();
    expect(t.size).toBe(6);
  });

  it("moves a prefix re-added for another peer and masks host bits", () => {
    const t = new AllowedIps<string>();
    expect(t.insert(parseCidr("10.0.0.77/24"), "a")).toBeUndefined();
    expect(t.insert(parseCidr("10.0.0.0/24"), "b")).toBe("a");
    expect(t.size).toBe(1);
    expect(t.lookupIpv4(parseIpv4("10.0.0.1"))).toBe("b");
    expect(t.prefixesOf("a")).toEqual([]);
    expect(t.prefixesOf("b").map(formatCidr)).toEqual(["10.0.0.0/24"]);
  });

  it("removes prefixes and whole peers, and stops matching", () => {
    const t = new AllowedIps<string>();
    t.insert(parseCidr("10.0.0.0/8"), "a");
    t.insert(parseCidr("10.0.0.0/24"), "b");
    t.insert(parseCidr("fd00::/64"), "b");
    expect(t.remove(parseCidr("10.0.0.0/16"))).toBeUndefined();
    expect(t.remove(parseCidr("10.0.0.0/24"))).toBe("b");
    expect(t.lookupIpv4(parseIpv4("10.0.0.1"))).toBe("a");
    expect(t.removePeer("b")).toBe(1);
    expect(t.lookupIpv6(v6("fd00::1"), 0)).toBeUndefined();
    expect(t.removePeer("a")).toBe(1);
    expect(t.size).toBe(0);
    expect(t.lookupIpv4(parseIpv4("10.0.0.1"))).toBeUndefined();
  });

  it("looks up a packet's source or destination in place", () => {
    const t = new AllowedIps<string>();
    t.insert(parseCidr("10.0.0.2/32"), "src-peer");
    t.insert(parseCidr("10.0.0.0/24"), "dst-peer");
    t.insert(parseCidr("fd00::2/128"), "v6-src");
    const ip4 = new Uint8Array(20 + 4);
    ip4[2] = 0x45; // at offset 2
    ip4.set([10, 0, 0, 2], 2 + 12);
    ip4.set([10, 0, 0, 9], 2 + 16);
    expect(t.lookupPacket(ip4, 2, "src")).toBe("src-peer");
    expect(t.lookupPacket(ip4, 2, "dst")).toBe("dst-peer");
    expect(t.lookupPacket(ip4.subarray(0, 20), 2, "dst")).toBeUndefined(); // truncated
    const ip6 = new Uint8Array(40);
    ip6[0] = 0x60;
    ip6.set(v6("fd00::2"), 8);
    ip6.set(v6("fd00::3"), 24);
    expect(t.lookupPacket(ip6, 0, "src")).toBe("v6-src");
    expect(t.lookupPacket(ip6, 0, "dst")).toBeUndefined();
    expect(t.lookupPacket(new Uint8Array([0x50]), 0, "dst")).toBeUndefined();
    expect(t.lookupPacket(new Uint8Array(0), 0, "dst")).toBeUndefined();
  });

  it("is the engine's WgAllowedIpsTable, taking prefix text", () => {
    const t: WgAllowedIpsTable = new AllowedIps<WgPeerInfo>();
    const peer: WgPeerInfo = {
      name: "p",
      publicKey: new Uint8Array(32),
      endpoint: undefined,
      allowedIps: [],
    };
    t.insert("10.0.0.0/24", peer);
    t.insert("fd00::/64", peer);
    expect(t.lookupIpv4(parseIpv4("10.0.0.200"))).toBe(peer);
    expect(t.lookupIpv6(v6("fd00::9"), 0)).toBe(peer);
    t.removePeer(peer);
    expect(t.lookupIpv4(parseIpv4("10.0.0.200"))).toBeUndefined();
    expect(() => t.insert("10.0.0.0/40", peer)).toThrow(CidrError);
  });

  it("lists entries with their masked prefixes", () => {
    const t = new AllowedIps<number>();
    t.insert(parseCidr("192.168.1.77/24"), 1);
    t.insert(parseCidr("10.0.0.0/8"), 2);
    t.insert(parseCidr("fd00::1234/112"), 3);
    expect([...t.entries()].map(([c, p]) => `${formatCidr(c)}=${p}`)).toEqual([
      "10.0.0.0/8=2",
      "192.168.1.0/24=1",
      "fd00::/112=3",
    ]);
    t.clear();
    expect(t.size).toBe(0);
    expect([...t.entries()]).toEqual([]);
  });
});

describe("prefix text", () => {
  it("parses and formats", () => {
    expect(formatCidr(parseCidr("10.0.0.1/24"))).toBe("10.0.0.1/24");
    expect(formatCidr(maskCidr(parseCidr("10.0.0.1/24")))).toBe("10.0.0.0/24");
    expect(formatCidr(parseCidr("::/0"))).toBe("::/0");
    expect(formatCidr(parseCidr("fd00::1"))).toBe("fd00::1/128");
    expect(formatCidr(parseCidr("::ffff:10.0.0.1/128"))).toBe("::ffff:a00:1/128");
    expect(formatCidr(maskCidr(parseCidr("fd00:ffff::/17")))).toBe("fd00:8000::/17");
  });

  it("refuses malformed prefixes with CidrError", () => {
    for (const bad of [
      "",
      "10.0.0/8",
      "10.0.0.256/8",
      "10.0.0.0/33",
      "10.0.0.0/",
      "10.0.0.0/x",
      "fd00::/129",
      "fd00:::1",
      "1:2:3:4:5:6:7:8:9",
      "fe80::1%eth0",
      "g::1",
    ]) {
      expect(() => parseCidr(bad), bad).toThrow(CidrError);
    }
  });

  test.prop([fc.ipV6()])("IPv6 text agrees with node's parser and formats back", (s) => {
    const b = tryParseIpv6(s);
    expect(b).toBeDefined();
    expect(isIPv6(s)).toBe(true);
    const again = tryParseIpv6(formatCidr({ family: 6, addr: b!, prefixLen: 128 }).split("/")[0]);
    expect(again).toEqual(b);
  });

  test.prop([fc.string({ maxLength: 50 })])("any text parses or raises CidrError", (s) => {
    try {
      const c = parseCidr(s);
      expect(c.prefixLen).toBeLessThanOrEqual(c.family === 4 ? 32 : 128);
    } catch (e) {
      expect(e).toBeInstanceOf(CidrError);
    }
  });
});

// Property test against a brute-force reference. Addresses drawn from a small space so that
// prefixes overlap often.
const cidr4 = fc.record({
  family: fc.constant(4 as const),
  addr: fc.oneof(
    fc.integer({ min: 0, max: 0xffffffff }),
    fc.constantFrom(0x0a000000, 0x0a010000, 0x0a010203),
  ),
  prefixLen: fc.integer({ min: 0, max: 32 }),
});
const cidr6 = fc.record({
  family: fc.constant(6 as const),
  addr: fc
    .tuple(fc.constantFrom(0xfd, 0x20), fc.uint8Array({ minLength: 15, maxLength: 15 }))
    .map(([h, rest]) => Uint8Array.from([h, ...rest])),
  prefixLen: fc.integer({ min: 0, max: 128 }),
});
const op = fc.oneof(
  fc.record({
    kind: fc.constant("insert" as const),
    cidr: fc.oneof(cidr4, cidr6),
    peer: fc.integer({ min: 0, max: 4 }),
  }),
  fc.record({ kind: fc.constant("remove" as const), cidr: fc.oneof(cidr4, cidr6) }),
  fc.record({ kind: fc.constant("removePeer" as const), peer: fc.integer({ min: 0, max: 4 }) }),
);

const key = (c: Cidr) => formatCidr(maskCidr(c));

test.prop(
  [fc.array(op, { maxLength: 60 }), fc.array(fc.oneof(cidr4, cidr6), { minLength: 1, maxLength: 30 })],
  {
    numRuns: 200,
  },
)("matches a brute-force longest-prefix reference", (ops, probes) => {
  const t = new AllowedIps<number>();
  const ref = new Map<string, { cidr: Cidr; peer: number }>();
  for (const o of ops) {
    if (o.kind === "insert") {
      const prev = ref.get(key(o.cidr))?.peer;
      expect(t.insert(o.cidr, o.peer)).toBe(prev);
      ref.set(key(o.cidr), { cidr: maskCidr(o.cidr), peer: o.peer });
    } else if (o.kind === "remove") {
      // Remove the masked prefix, as a user names it.
      const m = maskCidr(o.cidr);
      expect(t.remove(m)).toBe(ref.get(key(m))?.peer);
      ref.delete(key(m));
    } else {
      let n = 0;
      for (const [k, v] of ref) {
        if (v.peer === o.peer) {
          ref.delete(k);
          n++;
        }
      }
      expect(t.removePeer(o.peer)).toBe(n);
    }
    expect(t.size).toBe(ref.size);
  }
  // Probe with stored prefixes' own addresses too, so that hits are common.
  const addrs: Cidr[] = [...probes, ...[...ref.values()].map((v) => v.cidr)];
  for (const p of addrs) {
    let best: { cidr: Cidr; peer: number } | undefined;
    for (const v of ref.values()) {
      if (v.cidr.family !== p.family || !cidrContains(v.cidr, p.addr)) continue;
      if (!best || v.cidr.prefixLen > best.cidr.prefixLen) best = v;
    }
    const got = p.family === 4 ? t.lookupIpv4(p.addr) : t.lookupIpv6(p.addr, 0);
    expect(got).toBe(best?.peer);
  }
  expect(new Set([...t.entries()].map(([c, p]) => `${formatCidr(c)}=${p}`))).toEqual(
    new Set([...ref.values()].map((v) => `${formatCidr(v.cidr)}=${v.peer}`)),
  );
});
