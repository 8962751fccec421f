/**
 * The bad-bytes contract for every protocol parser in `src/wire/` at once: given any byte string
 * (random, or a valid packet with bytes changed, cut short or at an odd offset), a parser returns
 * a value or throws exactly one WireError whose code is one of the documented ones and whose
 * offset lies inside the buffer. Never a RangeError, a TypeError or an endless loop.
 * Each protocol's own test file also fuzzes it; this file adds mutated valid packets, which reach
 * far deeper into each parser than uniformly random bytes do.
 */

import { fc, test } from "@fast-check/vitest";
import { describe, expect } from "vitest";
import { parseIpv4, parseIpv6 } from "./addr.ts";
import { Arp } from "./arp.ts";
import { WireError } from "./error.ts";
import { Icmpv4 } from "./icmp.ts";
import { Icmpv6, parseNdpOptions } from "./icmpv6.ts";
import { Ipv4Header, parseIpv4Options } from "./ipv4.ts";
import { Ipv6Header, parseIpv6Options } from "./ipv6.ts";
import { Lacp, LacpMarker } from "./lacp.ts";
import { Stp } from "./stp.ts";
import { parseTcpOptions, Tcp } from "./tcp.ts";
import { Udp } from "./udp.ts";
import { Vlan } from "./vlan.ts";
import { Vxlan, vxlanDecapsulate } from "./vxlan.ts";

function hex(s: string): Uint8Array {
  const clean = s.replace(/\s+/g, "");
  return Uint8Array.from({ length: clean.length / 2 }, (_, i) =>
    Number.parseInt(clean.slice(2 * i, 2 * i + 2), 16),
  );
}

const CODES = new Set(["truncated", "bad-length", "bad-version", "bad-checksum", "bad-value", "unsupported"]);

function expectParsesOrWireError(buf: Uint8Array, parse: () => unknown): void {
  try {
    parse();
  } catch (e) {
    expect(e).toBeInstanceOf(WireError);
    const w = e as WireError;
    expect(CODES.has(w.code)).toBe(true);
    expect(Number.isInteger(w.offset)).toBe(true);
    expect(w.offset).toBeGreaterThanOrEqual(0);
    expect(w.offset).toBeLessThanOrEqual(buf.length);
  }
}

const V4 = { version: 4 as const, src: parseIpv4("10.0.0.1"), dst: parseIpv4("10.0.0.2") };
const V6 = { version: 6 as const, src: parseIpv6("2001:db8::1"), dst: parseIpv6("2001:db8::2") };

/** Valid samples (the literal packets of the per-protocol tests) and how to parse each. */
const SAMPLES: { name: string; bytes: Uint8Array; parse: (b: Uint8Array) => unknown }[] = [
  {
    name: "vlan stack",
    bytes: hex("0200 0000 0002 0200 0000 0001 88a8 6064 8100 b02a 0806 0001"),
    parse: (b) => Vlan.parseStack(b),
  },
  {
    name: "arp",
    bytes: hex("0001 0800 0604 0002 0200 0000 0002 c0a8 0a0c 0200 0000 0001 c0a8 0a0b"),
    parse: (b) => Arp.parse(b),
  },
  {
    name: "ipv4 with options",
    bytes: hex("46c0 0020 0000 4000 0102 f91b 0a00 0001 e000 00fb 9404 0000 1600 0904 e000 00fb"),
    parse: (b) => {
      const r = Ipv4Header.parse(b);
      return parseIpv4Options(r.options);
    },
  },
  {
    name: "icmp time exceeded",
    bytes: hex("0b00 8bd7 0000 0000 4500 003c 4d2a 0000 0111 5277 0a00 0001 0808 0808 d431 829a 0028 1234"),
    parse: (b) => Icmpv4.parse(b),
  },
  {
    name: "udp",
    bytes: hex("9c40 0035 000c 6a4e dead beef"),
    parse: (b) => Udp.parse(b, 0, V6),
  },
  {
    name: "tcp syn with options",
    bytes: hex(
      "9c40 01bb 1234 5678 0000 0000 a002 faf0 4f23 0000 0204 05b4 0402 080a 0001 e240 0000 0000 0103 0307",
    ),
    parse: (b) => {
      const r = Tcp.parse(b, 0, V4);
      return parseTcpOptions(b, 20, r.options.length);
    },
  },
  {
    name: "ipv6 with hop-by-hop",
    bytes: hex(
      "6000 0000 0024 0001 fe80 0000 0000 0000 0000 0000 0000 0001 ff02 0000 0000 0000 0000 0000 0000 0016" +
        "3a00 0502 0000 0100 8f00 6f0f 0000 0001 0400 0000 ff02 0000 0000 0000 0000 0000 0000 00fb",
    ),
    parse: (b) => {
      const chain = Ipv6Header.parseExtensions(b);
      for (const h of chain.headers) if (h.type === 0 || h.type === 60) parseIpv6Options(b, h.offset);
      return chain;
    },
  },
  {
    name: "icmpv6 neighbor advertisement",
    bytes: hex("8800 b9a9 6000 0000 2001 0db8 0000 0000 0000 0000 0000 0002 0201 0200 0000 0002"),
    parse: (b) => {
      Icmpv6.parse(b, 0, b.length, V6);
      return parseNdpOptions(b, 24, Math.max(0, b.length - 24));
    },
  },
  {
    name: "vxlan frame",
    bytes: hex(
      "0200 0000 000b 0200 0000 000a 0800 4500 0056 0007 4000 4011 b73c c0a8 0101 c0a8 0102" +
        "d903 12b5 0042 0000 0800 0000 0013 8900" +
        "0200 0000 0002 0200 0000 0001 0800 4500 0024 1c46 4000 4001 0a91 0a00 0001 0a00 0002" +
        "0800 a1a3 0a0b 0001 1011 1213 1415 1617",
    ),
    parse: (b) => {
      Vxlan.parse(b, 42);
      return vxlanDecapsulate(b, 0, b.length);
    },
  },
  {
    name: "lacpdu",
    bytes: hex(
      "0101 0114 ffff 0200 0000 00aa 0009 00ff 0001 3d00 0000 0214 8000 0200 0000 00bb 0001 8000 0011 3f00 0000" +
        `0310 0005 0000 0000 0000 0000 0000 0000 0000${"00".repeat(50)}`,
    ),
    parse: (b) => Lacp.parse(b),
  },
  {
    name: "lacp marker",
    bytes: hex(`0201 0110 0001 0200 0000 00aa 0000 0007 0000 0000${"00".repeat(90)}`),
    parse: (b) => LacpMarker.parse(b),
  },
  {
    name: "rst bpdu frame",
    bytes: hex(
      "0180 c200 0000 0200 0000 0002 0027 4242 03" +
        `0000 0202 3e80 0002 0000 0000 0100 0000 0490 0102 0000 0000 0280 0301 0014 0002 000f 0000${"00".repeat(7)}`,
    ),
    parse: (b) => Stp.parseFrame(b),
  },
  {
    name: "config bpdu",
    bytes: hex("0000 0000 8180 0002 0000 0000 0100 0000 0490 0102 0000 0000 0280 0301 8014 0002 000f 00"),
    parse: (b) => Stp.parse(b),
  },
  {
    name: "tcn bpdu frame",
    bytes: hex(`0180 c200 0000 0200 0000 0002 0007 4242 03 0000 0080${"00".repeat(39)}`),
    parse: (b) => Stp.parseFrame(b),
  },
];

describe("wire parsers under bad bytes", () => {
  for (const s of SAMPLES) {
    test.prop([fc.array(fc.record({ at: fc.nat(), value: fc.nat(255) }), { minLength: 1, maxLength: 4 })])(
      `${s.name}: changed bytes parse or raise WireError`,
      (changes) => {
        expectParsesOrWireError(s.bytes, () => s.parse(s.bytes)); // the sample itself
        const b = s.bytes.slice();
        for (const c of changes) b[c.at % b.length] = c.value;
        expectParsesOrWireError(b, () => s.parse(b));
      },
    );
    test.prop([fc.nat()])(`${s.name}: every truncation parses or raises WireError`, (cut) => {
      const b = s.bytes.subarray(0, cut % (s.bytes.length + 1));
      expectParsesOrWireError(b, () => s.parse(b));
    });
    test.prop([fc.uint8Array({ maxLength: 140 })])(
      `${s.name}: random bytes parse or raise WireError`,
      (b) => {
        expectParsesOrWireError(b, () => s.parse(b));
      },
    );
  }
});
