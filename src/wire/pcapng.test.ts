import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { captureRecords, detectCaptureFormat } from "./capture.ts";
import { WireError } from "./error.ts";
import { PcapWriter } from "./pcap.ts";
import {
  PCAPNG_EPB,
  PCAPNG_IDB,
  PcapngWriter,
  pcapngInterfaces,
  pcapngRecords,
  readPcapng,
} from "./pcapng.ts";

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

/** Builds a block by hand in either byte order: type, total length, body (padded), total length. */
function block(type: number, body: number[], isLittleEndian = true): number[] {
  const padded = [...body];
  while (padded.length % 4) padded.push(0);
  const total = 12 + padded.length;
  const u32 = (v: number) => {
    const b = [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
    return isLittleEndian ? b.reverse() : b;
  };
  return [...u32(type), ...u32(total), ...padded, ...u32(total)];
}
const u16be = (v: number) => [v >>> 8, v & 0xff];
const u32be = (v: number) => [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];

describe("pcapng", () => {
  it("writes SHB, one IDB per interface with if_name and if_tsresol=9, and EPBs", () => {
    const w = new PcapngWriter();
    const a = w.addInterface({ name: "sw1:p1" });
    const b = w.addInterface({ name: "sw1:p2", description: "uplink" });
    w.append(b, 1_500, new Uint8Array([9, 9, 9]));
    w.append(a, 2_000_000_000_001, new Uint8Array([1]));
    const bytes = w.bytes();
    const v = new DataView(bytes.buffer);
    expect(v.getUint32(0, true)).toBe(0x0a0d0d0a);
    expect(v.getUint32(8, true)).toBe(0x1a2b3c4d);
    // every block's trailing length equals its leading length, and the file is a chain of them
    const types: number[] = [];
    for (let at = 0; at < bytes.length; ) {
      const total = v.getUint32(at + 4, true);
      expect(v.getUint32(at + total - 4, true)).toBe(total);
      types.push(v.getUint32(at, true));
      at += total;
    }
    expect(types).toEqual([0x0a0d0d0a, PCAPNG_IDB, PCAPNG_IDB, PCAPNG_EPB, PCAPNG_EPB]);
    const ifs = pcapngInterfaces(bytes);
    expect(ifs.map((i) => [i.name, i.tsresol, i.linkType, i.snapLen])).toEqual([
      ["sw1:p1", 9, 1, 262144],
      ["sw1:p2", 9, 1, 262144],
    ]);
    expect(ifs[1].description).toBe("uplink");
    const recs = readPcapng(bytes);
    expect(recs.map((r) => [r.interfaceId, r.timeNs, [...r.data]])).toEqual([
      [1, 1500n, [9, 9, 9]],
      [0, 2_000_000_000_001n, [1]],
    ]);
  });

  it("records and reads each packet's direction and comment (epb_flags, opt_comment)", () => {
    const w = new PcapngWriter();
    const p = w.addInterface({ name: "tor1-eth1" });
    w.append(p, 1, new Uint8Array([1, 2, 3]), 3, { direction: "inbound" });
    w.append(p, 2, new Uint8Array([4]), 1, { direction: "outbound", comment: "flooded: no entry" });
    w.append(p, 3, new Uint8Array([5]));
    const recs = readPcapng(w.bytes());
    expect(recs.map((r) => [r.direction, r.comment, [...r.data]])).toEqual([
      ["inbound", undefined, [1, 2, 3]],
      ["outbound", "flooded: no entry", [4]],
      [undefined, undefined, [5]],
    ]);
  });

  it("reads a big-endian section with microsecond default resolution, skipping unknown blocks", () => {
    const le = false;
    const shb = block(
      0x0a0d0d0a,
      [...u32be(0x1a2b3c4d), ...u16be(1), ...u16be(0), ...u32be(0xffffffff), ...u32be(0xffffffff)],
      le,
    );
    const idb = block(1, [...u16be(1), 0, 0, ...u32be(65535)], le); // no options: tsresol 10^-6
    const nrb = block(4, [0, 0, 0, 0], le); // a name resolution block: skipped
    const custom = block(0x00000bad, [1, 2, 3, 4, 5], le);
    const epb = block(
      6,
      [...u32be(0), ...u32be(0), ...u32be(3_000_001), ...u32be(2), ...u32be(64), 0xab, 0xcd],
      le,
    );
    const bytes = new Uint8Array([...shb, ...idb, ...nrb, ...custom, ...epb]);
    const recs = readPcapng(bytes);
    expect(recs).toHaveLength(1);
    expect(recs[0].timeNs).toBe(3_000_001_000n);
    expect([...recs[0].data]).toEqual([0xab, 0xcd]);
    expect(recs[0].originalLength).toBe(64);
    expect(detectCaptureFormat(bytes)).toBe("pcapng");
  });

  it("honours if_tsresol as a power of two and if_tsoffset", () => {
    const opts = [
      ...[9, 0, 1, 0, 0x80 | 10, 0, 0, 0], // if_tsresol 2^-10, LE option header
      ...[14, 0, 8, 0, 5, 0, 0, 0, 0, 0, 0, 0], // if_tsoffset 5 s
      0,
      0,
      0,
      0,
    ];
    const shb = block(
      0x0a0d0d0a,
      [0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
    );
    const idb = block(1, [1, 0, 0, 0, 0, 0, 4, 0, ...opts]);
    const epb = block(6, [0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // 1024 ticks
    const recs = readPcapng(new Uint8Array([...shb, ...idb, ...epb]));
    expect(recs[0].timeNs).toBe(6_000_000_000n);
  });

  it("starts over with interfaces at a second section, which may switch byte order", () => {
    const w1 = new PcapngWriter();
    w1.addInterface({ name: "a" });
    w1.addInterface({ name: "b" });
    w1.append(1, 10, new Uint8Array([1]));
    const shb = block(
      0x0a0d0d0a,
      [...u32be(0x1a2b3c4d), ...u16be(1), ...u16be(0), ...u32be(0xffffffff), ...u32be(0xffffffff)],
      false,
    );
    const idb = block(
      1,
      [...u16be(1), 0, 0, ...u32be(100), ...u16be(9), ...u16be(1), 9, 0, 0, 0, 0, 0, 0, 0],
      false,
    );
    const epb = block(6, [...u32be(0), ...u32be(0), ...u32be(77), ...u32be(1), ...u32be(1), 0x42], false);
    const bytes = new Uint8Array([...w1.bytes(), ...shb, ...idb, ...epb]);
    const recs = readPcapng(bytes);
    expect(recs.map((r) => [r.interfaceId, r.timeNs, r.data[0]])).toEqual([
      [1, 10n, 1],
      [0, 77n, 0x42],
    ]);
  });

  it("refuses a packet naming an interface the section does not have", () => {
    const w = new PcapngWriter();
    w.addInterface({ name: "a" });
    w.append(0, 1, new Uint8Array(4));
    const b = w.bytes();
    const v = new DataView(b.buffer);
    const epbAt = b.length - 36;
    expect(v.getUint32(epbAt, true)).toBe(PCAPNG_EPB);
    v.setUint32(epbAt + 8, 3, true);
    const e = catchError(() => readPcapng(b)) as WireError;
    expect(e.code).toBe("bad-value");
    expect(e.offset).toBe(epbAt + 8);
  });

  it("yields the good packets of a truncated file, then the offset of the broken block", () => {
    const w = new PcapngWriter();
    w.addInterface({ name: "a" });
    w.append(0, 1, new Uint8Array(10));
    const before = w.bytes().length;
    w.append(0, 2, new Uint8Array(10));
    const cut = w.bytes().subarray(0, before + 20);
    const seen: bigint[] = [];
    const e = catchError(() => {
      for (const r of pcapngRecords(cut)) seen.push(r.timeNs);
    }) as WireError;
    expect(seen).toEqual([1n]);
    expect(e.code).toBe("truncated");
    expect(e.offset).toBe(before);
  });

  it("refuses a file that is not pcapng, and the dispatcher refuses one that is neither", () => {
    const classic = new PcapWriter().bytes();
    expect((catchError(() => readPcapng(classic)) as WireError).message).toMatch(/not a pcapng file/);
    expect(detectCaptureFormat(classic)).toBe("pcap");
    const e = catchError(() => captureRecords(new TextEncoder().encode("GIF89a...."))) as WireError;
    expect(e).toBeInstanceOf(WireError);
    expect(e.offset).toBe(0);
    expect(e.message).toMatch(/not a capture file/);
  });

  test.prop([
    fc.array(fc.string({ maxLength: 12 }), { minLength: 1, maxLength: 4 }),
    fc.array(
      fc.record({
        ifIndex: fc.nat(),
        timeNs: fc.oneof(
          fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
          fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        ),
        data: fc.uint8Array({ maxLength: 70 }),
        extra: fc.nat(100),
        direction: fc.constantFrom(undefined, "inbound" as const, "outbound" as const),
        comment: fc.option(fc.string({ minLength: 1, maxLength: 20 }), { nil: undefined }),
      }),
      { maxLength: 8 },
    ),
  ])("write then read round-trips", (names, recs) => {
    const w = new PcapngWriter();
    for (const name of names) w.addInterface({ name });
    for (const r of recs) {
      const meta = r.direction || r.comment ? { direction: r.direction, comment: r.comment } : undefined;
      w.append(r.ifIndex % names.length, r.timeNs, r.data, r.data.length + r.extra, meta);
    }
    expect(pcapngInterfaces(w.bytes()).map((i) => i.name)).toEqual(names);
    const got = readPcapng(w.bytes());
    expect(got).toHaveLength(recs.length);
    got.forEach((g, i) => {
      expect(g.interfaceId).toBe(recs[i].ifIndex % names.length);
      expect(g.timeNs).toBe(BigInt(recs[i].timeNs));
      expect(g.data).toEqual(recs[i].data);
      expect(g.originalLength).toBe(recs[i].data.length + recs[i].extra);
      expect(g.direction).toBe(recs[i].direction);
      expect(g.comment).toBe(recs[i].comment);
    });
  });

  // Random tails after a valid header and interface, so the fuzzing reaches the block walker.
  const prefix = (() => {
    const w = new PcapngWriter();
    w.addInterface({ name: "x" });
    return [...w.bytes()];
  })();
  test.prop([fc.boolean(), fc.uint8Array({ maxLength: 120 })])(
    "random bytes never escape WireError",
    (hasPrefix, tail) => {
      const bytes = new Uint8Array(hasPrefix ? [...prefix, ...tail] : [0x0a, 0x0d, 0x0d, 0x0a, ...tail]);
      try {
        for (const r of captureRecords(bytes)) expect(r.data.length).toBeLessThanOrEqual(bytes.length);
      } catch (e) {
        expect(e).toBeInstanceOf(WireError);
        expect((e as WireError).offset).toBeLessThanOrEqual(bytes.length);
      }
    },
  );
});

describe("capture readers under mutation", () => {
  // A valid pcap and pcapng with a few frames; fast-check overwrites bytes and cuts the end.
  const frames = [new Uint8Array(60).fill(1), new Uint8Array(14).fill(2), new Uint8Array(33).fill(3)];
  const ng = new PcapngWriter();
  ng.addInterface({ name: "a" });
  ng.addInterface({ name: "b" });
  const classic = new PcapWriter();
  frames.forEach((f, i) => {
    ng.append(i % 2, i * 1000, f);
    classic.append(i * 1000, f);
  });
  const files = [ng.bytes(), classic.bytes()];
  test.prop([
    fc.constantFrom(0, 1),
    fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
    fc.nat(),
  ])("mutated files parse or raise WireError", (which, edits, cut) => {
    const b = files[which].slice();
    for (const [i, v] of edits) b[i % b.length] = v;
    const bytes = b.subarray(0, b.length - (cut % 40));
    try {
      for (const r of captureRecords(bytes)) expect(r.data.length).toBeLessThanOrEqual(bytes.length);
    } catch (e) {
      expect(e).toBeInstanceOf(WireError);
    }
  });
});
