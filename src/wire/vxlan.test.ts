import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { parseIpv4, parseMac } from "./addr.ts";
import { WireError } from "./error.ts";
import { Ipv4Header } from "./ipv4.ts";
import { Udp } from "./udp.ts";
import {
  innerFlowHash,
  newVxlanDecapInfo,
  VXLAN_HEADER_LEN,
  VXLAN_OVERHEAD,
  VXLAN_SRC_PORT_MIN,
  Vxlan,
  type VxlanOuter,
  type VxlanRepr,
  vxlanApplyOuterEcn,
  vxlanDecapsulate,
  vxlanEncapsulate,
} from "./vxlan.ts";

function hex(s: string): Uint8Array {
  const clean = s.replace(/\s+/g, "");
  return Uint8Array.from({ length: clean.length / 2 }, (_, i) =>
    Number.parseInt(clean.slice(2 * i, 2 * i + 2), 16),
  );
}

function wireError(fn: () => unknown): WireError {
  try {
    fn();
  } catch (e) {
    if (e instanceof WireError) return e;
    throw e;
  }
  throw new Error("expected a WireError");
}

// A ping 10.0.0.1 -> 10.0.0.2 in VNI 5001 between VTEPs 192.168.1.1 and 192.168.1.2, UDP source
// port 55555. tshark: outer IPv4 checksum 0xb73c [correct], UDP checksum zero (not present),
// "VXLAN Network Identifier (VNI): 5001", I flag set, inner ICMP checksum [correct].
const INNER = hex(
  "0200 0000 0002 0200 0000 0001 0800" +
    "4500 0024 1c46 4000 4001 0a91 0a00 0001 0a00 0002 0800 a1a3 0a0b 0001 1011 1213 1415 1617",
);
const FRAME = hex(
  "0200 0000 000b 0200 0000 000a 0800" +
    "4500 0056 0007 4000 4011 b73c c0a8 0101 c0a8 0102" +
    "d903 12b5 0042 0000" +
    "0800 0000 0013 8900" +
    "0200 0000 0002 0200 0000 0001 0800" +
    "4500 0024 1c46 4000 4001 0a91 0a00 0001 0a00 0002 0800 a1a3 0a0b 0001 1011 1213 1415 1617",
);
const VX = 42; // offset of the VXLAN header in FRAME

function outer(): VxlanOuter {
  return {
    srcMac: parseMac("02:00:00:00:00:0a"),
    dstMac: parseMac("02:00:00:00:00:0b"),
    srcIp: parseIpv4("192.168.1.1"),
    dstIp: parseIpv4("192.168.1.2"),
    vni: 5001,
    ttl: 64,
    dscp: 0,
    dontFragment: true,
    ipId: 7,
    dstPort: 4789,
  };
}

describe("vxlan", () => {
  it("deconstruct", () => {
    expect(Vxlan.flags(FRAME, VX)).toBe(0x08);
    expect(Vxlan.hasValidVni(FRAME, VX)).toBe(true);
    expect(Vxlan.vni(FRAME, VX)).toBe(5001);
    expect(Vxlan.reserved1(FRAME, VX)).toBe(0);
    expect(Vxlan.reserved2(FRAME, VX)).toBe(0);
  });
  it("construct", () => {
    const b = new Uint8Array(VXLAN_HEADER_LEN);
    Vxlan.setHeader(b, 0, 1);
    Vxlan.setVni(b, 0, 5001);
    expect(b).toEqual(FRAME.subarray(VX, VX + 8));
  });
  it("parse", () => {
    expect(Vxlan.parse(FRAME, VX)).toEqual({ vni: 5001, reservedFlags: 0, reserved1: 0, reserved2: 0 });
    // R bits are reported, not refused (RFC 7348 §5: ignored on receipt)
    const r = hex("ff12 3456 ffff ff78");
    expect(Vxlan.parse(r)).toEqual({
      vni: 0xffffff,
      reservedFlags: 0xf7,
      reserved1: 0x123456,
      reserved2: 0x78,
    });
  });
  it("emit", () => {
    const b = new Uint8Array(8);
    const repr: VxlanRepr = { vni: 5001, reservedFlags: 0, reserved1: 0, reserved2: 0 };
    expect(Vxlan.emit(repr, b)).toBe(8);
    expect(b).toEqual(FRAME.subarray(VX, VX + 8));
    expect(wireError(() => Vxlan.emit({ ...repr, vni: 1 << 24 }, b)).code).toBe("bad-value");
  });
  it("impossible length", () => {
    const e = wireError(() => Vxlan.parse(FRAME.subarray(0, VX + 7), VX));
    expect(e.code).toBe("truncated");
  });
  it("refuses a clear I flag", () => {
    const e = wireError(() => Vxlan.parse(hex("0000 0000 0013 8900")));
    expect(e.code).toBe("bad-value");
    expect(e.offset).toBe(0);
  });

  it("encapsulate writes the outer headers in the headroom", () => {
    const buf = new Uint8Array(VXLAN_OVERHEAD + 6 + INNER.length);
    buf.set(INNER, VXLAN_OVERHEAD + 6);
    const o = outer();
    const start = vxlanEncapsulate(buf, VXLAN_OVERHEAD + 6, INNER.length, o);
    expect(start).toBe(6);
    const out = buf.subarray(start);
    const srcPort = Udp.srcPort(out, 34);
    expect(srcPort).toBeGreaterThanOrEqual(VXLAN_SRC_PORT_MIN);
    expect(srcPort).toBe(VXLAN_SRC_PORT_MIN + (innerFlowHash(INNER, 0, INNER.length) >>> 16));
    // everything else matches the tshark-checked literal byte for byte
    const expected = FRAME.slice();
    expected[34] = srcPort >>> 8;
    expected[35] = srcPort & 0xff;
    expect(out).toEqual(expected);
    expect(o.ipId).toBe(8);
    expect(wireError(() => vxlanEncapsulate(buf, 49, 14, o)).code).toBe("truncated");
  });
  it("copies the inner ECN to the outer header (RFC 6040)", () => {
    const buf = new Uint8Array(VXLAN_OVERHEAD + INNER.length);
    buf.set(INNER, VXLAN_OVERHEAD);
    buf[VXLAN_OVERHEAD + 15] = 0x02; // ECT(0)
    const start = vxlanEncapsulate(buf, VXLAN_OVERHEAD, INNER.length, { ...outer(), dscp: 46 });
    expect(Ipv4Header.dscp(buf, start + 14)).toBe(46);
    expect(Ipv4Header.ecn(buf, start + 14)).toBe(2);
    expect(Ipv4Header.isChecksumValid(buf, start + 14)).toBe(true);
  });
  it("spreads flows over source ports", () => {
    const ports = new Set<number>();
    for (let i = 0; i < 64; i++) {
      const f = INNER.slice();
      f[33] = i; // inner destination address
      ports.add(VXLAN_SRC_PORT_MIN + (innerFlowHash(f, 0, f.length) >>> 16));
    }
    expect(ports.size).toBeGreaterThan(56);
  });
  it("decapsulate", () => {
    const info = newVxlanDecapInfo();
    expect(vxlanDecapsulate(FRAME, 0, FRAME.length, info)).toBe(50);
    expect(info).toEqual({
      vni: 5001,
      srcIp: parseIpv4("192.168.1.1"),
      dstIp: parseIpv4("192.168.1.2"),
      srcPort: 55555,
      srcMac: parseMac("02:00:00:00:00:0a"),
      innerEnd: FRAME.length,
      outerEcn: 0,
    });
    expect(FRAME.subarray(50, info.innerEnd)).toEqual(INNER);
    // behind an outer 802.1Q tag
    const tagged = new Uint8Array(FRAME.length + 4);
    tagged.set(FRAME.subarray(0, 12));
    tagged.set([0x81, 0x00, 0x00, 0x0a], 12);
    tagged.set(FRAME.subarray(12), 16);
    expect(vxlanDecapsulate(tagged, 0, tagged.length)).toBe(54);
  });
  it("decapsulate refuses what a VTEP must not accept", () => {
    const cases: [string, (b: Uint8Array) => void, string, number][] = [
      ["not IPv4", (b) => (b[13] = 0xdd), "unsupported", 12],
      ["IP version", (b) => (b[14] = 0x65), "bad-version", 14],
      ["IP checksum", (b) => (b[25] ^= 1), "bad-checksum", 24],
      ["not UDP", (b) => (b[23] = 6), "unsupported", 23],
      ["another port", (b) => (b[37] = 0xb6), "unsupported", 36],
      ["UDP length", (b) => (b[39] = 0x43), "bad-length", 38],
      ["I flag", (b) => (b[42] = 0), "bad-value", 42],
      ["UDP checksum", (b) => (b[40] = 1), "bad-checksum", 40],
      ["IP total length", (b) => (b[17] = 0x57), "bad-length", 16],
    ];
    for (const [what, mutate, code, offset] of cases) {
      const b = FRAME.slice();
      mutate(b);
      if (
        what === "not UDP" ||
        what === "another port" ||
        what === "UDP length" ||
        what === "IP total length"
      ) {
        Ipv4Header.fillChecksum(b, 14);
      }
      const e = wireError(() => vxlanDecapsulate(b, 0, b.length));
      expect([what, e.code, e.offset]).toEqual([what, code, offset]);
    }
    // a fragment of an outer datagram
    const frag = FRAME.slice();
    Ipv4Header.setFragment(frag, 14, false, true, 0);
    Ipv4Header.fillChecksum(frag, 14);
    expect(wireError(() => vxlanDecapsulate(frag, 0, frag.length)).code).toBe("unsupported");
    // a correct non-zero UDP checksum is accepted
    const withSum = FRAME.slice();
    Udp.fillChecksumV4(withSum, 34, parseIpv4("192.168.1.1"), parseIpv4("192.168.1.2"));
    expect(vxlanDecapsulate(withSum, 0, withSum.length)).toBe(50);
  });
  it("carries outer congestion into the inner packet (RFC 6040 §4.2)", () => {
    const info = newVxlanDecapInfo();
    const b = FRAME.slice();
    b[15] = 0x03; // outer CE
    Ipv4Header.fillChecksum(b, 14);
    const inner = vxlanDecapsulate(b, 0, b.length, info);
    expect(info.outerEcn).toBe(3);
    // inner Not-ECT under outer CE: must be dropped
    expect(vxlanApplyOuterEcn(b, inner, info.innerEnd, info.outerEcn)).toBe(false);
    // inner ECT(0) becomes CE, checksum still right
    b[inner + 15] = 0x02;
    Ipv4Header.fillChecksum(b, inner + 14);
    expect(vxlanApplyOuterEcn(b, inner, info.innerEnd, info.outerEcn)).toBe(true);
    expect(Ipv4Header.ecn(b, inner + 14)).toBe(3);
    expect(Ipv4Header.isChecksumValid(b, inner + 14)).toBe(true);
    // outer not CE: nothing changes
    const c = FRAME.slice();
    expect(vxlanApplyOuterEcn(c, 50, c.length, 2)).toBe(true);
    expect(c).toEqual(FRAME);
    // inner IPv6 ECT(1) -> CE
    const v6 = hex("0200 0000 0002 0200 0000 0001 86dd 6010 0000 0000 3a40");
    expect(vxlanApplyOuterEcn(v6, 0, v6.length, 3)).toBe(true);
    expect(v6[15]).toBe(0x30);
    v6[15] = 0;
    expect(vxlanApplyOuterEcn(v6, 0, v6.length, 3)).toBe(false);
  });
  it("impossible length (decapsulate)", () => {
    for (const n of [0, 13, 33, 49, 63]) {
      const e = wireError(() => vxlanDecapsulate(FRAME, 0, n));
      expect(["truncated", "bad-length"]).toContain(e.code);
    }
  });

  test.prop([fc.uint8Array({ maxLength: 40 }), fc.nat(8)])(
    "random bytes parse or raise WireError",
    (bytes, at) => {
      try {
        Vxlan.parse(bytes, at);
      } catch (e) {
        expect(e).toBeInstanceOf(WireError);
      }
    },
  );
  test.prop([fc.uint8Array({ maxLength: 120 }), fc.nat(8), fc.nat(130)])(
    "random bytes decapsulate or raise WireError",
    (bytes, start, end) => {
      try {
        vxlanDecapsulate(bytes, start, end);
      } catch (e) {
        expect(e).toBeInstanceOf(WireError);
      }
    },
  );
  test.prop([fc.integer({ min: 0, max: FRAME.length - 1 }), fc.integer({ min: 1, max: 255 })])(
    "a corrupted byte in the outer headers decapsulates or raises WireError",
    (at, x) => {
      const b = FRAME.slice();
      b[at] ^= x;
      try {
        vxlanDecapsulate(b, 0, b.length);
      } catch (e) {
        expect(e).toBeInstanceOf(WireError);
      }
    },
  );
  test.prop([
    fc.record({
      vni: fc.integer({ min: 0, max: 0xffffff }),
      reservedFlags: fc.integer({ min: 0, max: 255 }).map((f) => f & ~0x08),
      reserved1: fc.integer({ min: 0, max: 0xffffff }),
      reserved2: fc.integer({ min: 0, max: 255 }),
    }),
  ])("parse(emit(x)) == x", (repr) => {
    const b = new Uint8Array(8);
    Vxlan.emit(repr, b);
    expect(Vxlan.parse(b)).toEqual(repr);
  });
  test.prop([
    fc.uint8Array({ minLength: 14, maxLength: 200 }),
    fc.record({
      srcMac: fc.integer({ min: 0, max: 2 ** 48 - 1 }),
      dstMac: fc.integer({ min: 0, max: 2 ** 48 - 1 }),
      srcIp: fc.nat(2 ** 32 - 1),
      dstIp: fc.nat(2 ** 32 - 1),
      vni: fc.integer({ min: 0, max: 0xffffff }),
      ttl: fc.integer({ min: 1, max: 255 }),
      dscp: fc.integer({ min: 0, max: 63 }),
      dontFragment: fc.boolean(),
      ipId: fc.integer({ min: 0, max: 0xffff }),
      dstPort: fc.constant(4789),
    }),
  ])("decapsulate(encapsulate(frame)) gives the frame back", (inner, o) => {
    const buf = new Uint8Array(VXLAN_OVERHEAD + inner.length);
    buf.set(inner, VXLAN_OVERHEAD);
    const start = vxlanEncapsulate(buf, VXLAN_OVERHEAD, inner.length, { ...o });
    const info = newVxlanDecapInfo();
    const innerStart = vxlanDecapsulate(buf, start, buf.length, info);
    expect(buf.subarray(innerStart, info.innerEnd)).toEqual(inner);
    expect([info.vni, info.srcIp, info.dstIp, info.srcMac]).toEqual([o.vni, o.srcIp, o.dstIp, o.srcMac]);
  });

  it("tshark reads encapsulated frames field by field (oracle)", (ctx) => {
    try {
      execFileSync("tshark", ["--version"], { stdio: "ignore" });
    } catch {
      ctx.skip();
      return;
    }
    const frames: Uint8Array[] = [];
    for (let i = 0; i < 4; i++) {
      const buf = new Uint8Array(VXLAN_OVERHEAD + INNER.length);
      buf.set(INNER, VXLAN_OVERHEAD);
      buf[VXLAN_OVERHEAD + 33] = i + 2;
      Ipv4Header.fillChecksum(buf, VXLAN_OVERHEAD + 14);
      frames.push(
        buf.subarray(vxlanEncapsulate(buf, VXLAN_OVERHEAD, INNER.length, { ...outer(), vni: 100 + i })),
      );
    }
    // a minimal classic pcap (LINKTYPE_ETHERNET), written here so the oracle is independent
    const parts: Uint8Array[] = [
      hex("d4c3b2a1 0200 0400 00000000 00000000 ffff0000 01000000"),
      ...frames.flatMap((f) => {
        const rec = new DataView(new ArrayBuffer(16));
        rec.setUint32(8, f.length, true);
        rec.setUint32(12, f.length, true);
        return [new Uint8Array(rec.buffer), f];
      }),
    ];
    const dir = mkdtempSync(join(tmpdir(), "vnet-vxlan-"));
    try {
      const file = join(dir, "vxlan.pcap");
      writeFileSync(file, Buffer.concat(parts));
      const out = execFileSync(
        "tshark",
        [
          "-r",
          file,
          "-o",
          "ip.check_checksum:TRUE",
          "-T",
          "fields",
          "-E",
          "separator=,",
          "-e",
          "vxlan.vni",
          "-e",
          "ip.checksum.status",
          "-e",
          "udp.dstport",
          "-e",
          "ip.dst",
          "-e",
          "_ws.malformed",
        ],
        { encoding: "utf8" },
      );
      // fields: VNI, outer and inner IPv4 checksum status (1 = good), UDP port, outer and inner
      // destination, and an empty "malformed" column
      const lines = out.trim().split("\n");
      expect(lines).toEqual([
        "100,1,1,4789,192.168.1.2,10.0.0.2,",
        "101,1,1,4789,192.168.1.2,10.0.0.3,",
        "102,1,1,4789,192.168.1.2,10.0.0.4,",
        "103,1,1,4789,192.168.1.2,10.0.0.5,",
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
