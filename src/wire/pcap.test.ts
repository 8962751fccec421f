import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { WireError } from "./error.ts";
import {
  DEFAULT_SNAPLEN,
  LINKTYPE_ETHERNET,
  PCAP_MAGIC_NS,
  PcapWriter,
  pcapRecords,
  readPcap,
  readPcapHeader,
  writePcap,
} from "./pcap.ts";

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

// A microsecond, big-endian pcap written by hand: one 4-byte record at 1.000002 s.
const US_BE = new Uint8Array([
  0xa1, 0xb2, 0xc3, 0xd4, 0x00, 0x02, 0x00, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x00, 0xff, 0xff, 0x00, 0x00,
  0x00, 0x01,
  // record: sec 1, usec 2, incl 4, orig 60
  0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 4, 0, 0, 0, 60, 0xde, 0xad, 0xbe, 0xef,
]);

describe("pcap", () => {
  it("writes the nanosecond header: magic, 2.4, snaplen 262144, Ethernet", () => {
    const bytes = new PcapWriter().bytes();
    expect(bytes.length).toBe(24);
    const v = new DataView(bytes.buffer);
    expect(v.getUint32(0, true)).toBe(PCAP_MAGIC_NS);
    expect(v.getUint16(4, true)).toBe(2);
    expect(v.getUint16(6, true)).toBe(4);
    expect(v.getUint32(16, true)).toBe(DEFAULT_SNAPLEN);
    expect(v.getUint32(20, true)).toBe(LINKTYPE_ETHERNET);
  });

  it("writes a record with seconds, nanoseconds, stored and original length", () => {
    const w = new PcapWriter();
    w.append(3_000_000_123, new Uint8Array([1, 2, 3]));
    const b = w.bytes();
    const v = new DataView(b.buffer);
    expect(v.getUint32(24, true)).toBe(3);
    expect(v.getUint32(28, true)).toBe(123);
    expect(v.getUint32(32, true)).toBe(3);
    expect(v.getUint32(36, true)).toBe(3);
    expect([...b.subarray(40)]).toEqual([1, 2, 3]);
  });

  it("reads a big-endian microsecond file", () => {
    const { header, records } = readPcap(US_BE);
    expect(header).toMatchObject({ isNanosecond: false, isLittleEndian: false, snapLen: 65535, linkType: 1 });
    expect(records).toHaveLength(1);
    expect(records[0].timeNs).toBe(1_000_002_000n);
    expect([...records[0].data]).toEqual([0xde, 0xad, 0xbe, 0xef]);
    expect(records[0].originalLength).toBe(60);
    expect(records[0].fileOffset).toBe(24);
  });

  it("cuts frames at the snapshot length and keeps the original length", () => {
    const w = new PcapWriter({ snapLen: 4 });
    w.append(0, new Uint8Array(10).fill(7));
    const [r] = readPcap(w.bytes()).records;
    expect(r.data.length).toBe(4);
    expect(r.originalLength).toBe(10);
  });

  it("keeps bigint epoch nanoseconds exact", () => {
    const w = new PcapWriter();
    const t = 1_763_900_000_123_456_789n;
    w.append(t, new Uint8Array(1));
    expect(readPcap(w.bytes()).records[0].timeNs).toBe(t);
  });

  it("drain hands out only the new bytes and releases them; the pieces are the file", () => {
    const w = new PcapWriter();
    const parts = [w.drain()];
    w.append(1, new Uint8Array([1]));
    w.append(2, new Uint8Array([2, 2]));
    parts.push(w.drain());
    parts.push(w.drain());
    w.append(3, new Uint8Array(5000)); // forces the sink to grow
    parts.push(w.drain());
    const joined = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) {
      joined.set(p, o);
      o += p.length;
    }
    expect(parts[2].length).toBe(0);
    const whole = new PcapWriter();
    whole.append(1, new Uint8Array([1]));
    whole.append(2, new Uint8Array([2, 2]));
    whole.append(3, new Uint8Array(5000));
    expect(joined).toEqual(whole.bytes());
    expect(readPcap(joined).records.map((r) => r.timeNs)).toEqual([1n, 2n, 3n]);
    expect(w.bytes().length).toBe(0); // drained bytes are released
  });

  it("refuses a foreign file at offset 0", () => {
    const e = catchError(() => readPcapHeader(new TextEncoder().encode("hello world, not a capture")));
    expect(e).toBeInstanceOf(WireError);
    expect((e as WireError).code).toBe("bad-value");
    expect((e as WireError).offset).toBe(0);
    expect((e as WireError).message).toMatch(/not a pcap file/);
  });

  it("refuses a wrong version", () => {
    const b = US_BE.slice();
    b[5] = 3;
    expect((catchError(() => readPcap(b)) as WireError).code).toBe("bad-version");
  });

  it("yields the good records of a truncated file, then the offset of the broken one", () => {
    const w = new PcapWriter();
    w.append(1, new Uint8Array(20));
    w.append(2, new Uint8Array(20));
    const full = w.bytes();
    const cut = full.subarray(0, full.length - 5);
    const seen: bigint[] = [];
    const e = catchError(() => {
      for (const r of pcapRecords(cut)) seen.push(r.timeNs);
    }) as WireError;
    expect(seen).toEqual([1n]);
    expect(e).toBeInstanceOf(WireError);
    expect(e.code).toBe("truncated");
    expect(e.offset).toBe(24 + 16 + 20);
  });

  it("reports a record header cut short", () => {
    const w = new PcapWriter();
    w.append(1, new Uint8Array(4));
    const b = new Uint8Array([...w.bytes(), 1, 2, 3]);
    const e = catchError(() => readPcap(b)) as WireError;
    expect(e.code).toBe("truncated");
    expect(e.offset).toBe(24 + 16 + 4);
  });

  test.prop([
    fc.array(
      fc.record({
        timeNs: fc.oneof(
          fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
          fc.bigInt({ min: 0n, max: 0xffffffffn * 1_000_000_000n + 999_999_999n }),
        ),
        data: fc.uint8Array({ maxLength: 100 }),
        extra: fc.nat(1000),
      }),
      { maxLength: 8 },
    ),
  ])("write then read round-trips", (recs) => {
    const w = new PcapWriter();
    for (const r of recs) w.append(r.timeNs, r.data, r.data.length + r.extra);
    const got = readPcap(w.bytes()).records;
    expect(got).toHaveLength(recs.length);
    got.forEach((g, i) => {
      expect(g.timeNs).toBe(BigInt(recs[i].timeNs));
      expect(g.data).toEqual(recs[i].data);
      expect(g.originalLength).toBe(recs[i].data.length + recs[i].extra);
      expect(g.linkType).toBe(1);
    });
  });

  const magics = fc.constantFrom(
    [0x4d, 0x3c, 0xb2, 0xa1],
    [0xa1, 0xb2, 0x3c, 0x4d],
    [0xd4, 0xc3, 0xb2, 0xa1],
    [],
  );
  test.prop([magics, fc.uint8Array({ maxLength: 120 })])(
    "random bytes never escape WireError",
    (magic, tail) => {
      const bytes = new Uint8Array([...magic, ...tail]);
      try {
        for (const r of pcapRecords(bytes)) expect(r.data.length).toBeLessThanOrEqual(bytes.length);
      } catch (e) {
        expect(e).toBeInstanceOf(WireError);
        expect((e as WireError).offset).toBeLessThanOrEqual(bytes.length);
      }
    },
  );
});

describe("writePcap", () => {
  it("writes a whole file from a list of records", () => {
    const bytes = writePcap([
      { timeNs: 5, data: new Uint8Array([1, 2]) },
      { timeNs: 7n, data: new Uint8Array([3]), originalLength: 64 },
    ]);
    expect(readPcap(bytes).records.map((r) => [r.timeNs, [...r.data], r.originalLength])).toEqual([
      [5n, [1, 2], 2],
      [7n, [3], 64],
    ]);
  });
});
