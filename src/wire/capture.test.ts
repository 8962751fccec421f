/**
 * Capture files of either kind, whole (`captureRecords`) and as a stream arriving in pieces
 * (`CaptureStream`): the stream yields what the file reader yields, fails where and as it
 * fails (with the records before the fault handed out first), refuses a record header claiming
 * more than a record may hold at once, and buffers in time linear in what it holds.
 */

import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { CaptureStream, captureRecords } from "./capture.ts";
import { WireError } from "./error.ts";
import type { CaptureRecord } from "./pcap.ts";
import { MAX_RECORD_BYTES, PcapWriter } from "./pcap.ts";
import { MAX_BLOCK_BYTES, PcapngWriter } from "./pcapng.ts";

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

const view = (r: CaptureRecord) => ({ ...r, data: [...r.data] });

/** Feeds `file` to a stream in pieces cut at `cuts` (sorted offsets); returns what it yielded. */
function streamed(
  file: Uint8Array,
  cuts: number[],
  api: "feed" | "push" = "feed",
): { records: CaptureRecord[]; error?: unknown } {
  const s = new CaptureStream();
  const records: CaptureRecord[] = [];
  const take = (r: CaptureRecord) => records.push(r);
  let from = 0;
  try {
    for (const c of [...cuts, file.length]) {
      const piece = file.subarray(from, Math.max(from, c));
      if (api === "feed") s.feed(piece, take);
      else records.push(...s.push(piece));
      from = Math.max(from, c);
    }
    s.end(take);
  } catch (e) {
    return { records, error: e };
  }
  return { records };
}

/** What the whole-file reader yields for `file`, and its error. */
function whole(file: Uint8Array): { records: CaptureRecord[]; error?: unknown } {
  const records: CaptureRecord[] = [];
  try {
    for (const r of captureRecords(file)) records.push(r);
  } catch (e) {
    return { records, error: e };
  }
  return { records };
}

const sameError = (a: unknown, b: unknown) => {
  expect(a).toBeInstanceOf(WireError);
  expect(b).toBeInstanceOf(WireError);
  const e = (x: unknown) => ({
    code: (x as WireError).code,
    offset: (x as WireError).offset,
    message: (x as WireError).message,
  });
  expect(e(a)).toEqual(e(b));
};

const frame = (n: number, seed = 0) => Uint8Array.from({ length: n }, (_, k) => (k * 13 + seed) & 0xff);

function files(): Uint8Array[] {
  const p = new PcapWriter();
  const ng = new PcapngWriter();
  const a = ng.addInterface({ name: "a" });
  const b = ng.addInterface({ name: "b", snapLen: 20 });
  for (let i = 0; i < 6; i++) {
    const f = Uint8Array.from({ length: 30 + i * 7 }, (_, k) => (k * 13 + i) & 0xff);
    p.append(i * 1000, f);
    ng.append(i % 2 ? b : a, i * 1000, f, f.length, i === 3 ? { direction: "outbound" } : undefined);
  }
  return [p.bytes(), ng.bytes()];
}

describe("CaptureStream", () => {
  it("yields the same records as the whole-file reader, however the input is cut", () => {
    for (const file of files()) {
      const whole = [...captureRecords(file)].map(view);
      expect(streamed(file, []).records.map(view)).toEqual(whole);
      const byteByByte = Array.from({ length: file.length }, (_, i) => i);
      expect(streamed(file, byteByByte).records.map(view)).toEqual(whole);
    }
  });

  it("reports a capture cut short at the offset of the broken record, after the good ones", () => {
    for (const file of files()) {
      const cut = file.subarray(0, file.length - 3);
      let wholeError: unknown;
      const whole: CaptureRecord[] = [];
      try {
        for (const r of captureRecords(cut)) whole.push(r);
      } catch (e) {
        wholeError = e;
      }
      const s = streamed(cut, [17, 100]);
      expect(s.records.map(view)).toEqual(whole.map(view));
      expect(s.error).toBeInstanceOf(WireError);
      expect((s.error as WireError).code).toBe("truncated");
      expect((s.error as WireError).offset).toBe((wholeError as WireError).offset);
    }
  });

  it("hands out the 500 good records before a broken one, then fails as the file reader does", () => {
    const w = new PcapWriter();
    for (let i = 0; i < 500; i++) w.append(i * 1000, frame(60, i));
    const good = w.bytes();
    // A 501st record whose time fraction is not below one second.
    const file = new Uint8Array(good.length + 16 + 60);
    file.set(good);
    const v = new DataView(file.buffer);
    v.setUint32(good.length + 4, 2_000_000_000, true);
    v.setUint32(good.length + 8, 60, true);
    v.setUint32(good.length + 12, 60, true);
    const w0 = whole(file);
    expect(w0.records).toHaveLength(500);
    for (const api of ["feed", "push"] as const) {
      for (const cuts of [[], [good.length + 3], [100, 5000, 20000]]) {
        const s = streamed(file, cuts, api);
        expect(s.records.map(view)).toEqual(w0.records.map(view));
        sameError(s.error, w0.error);
      }
    }
  });

  it("refuses a record header claiming 4 GiB as soon as it arrives, without waiting for the bytes", () => {
    const w = new PcapWriter();
    w.append(1, frame(60));
    const header = new Uint8Array(16);
    new DataView(header.buffer).setUint32(8, 0xffffffff, true);
    const ng = new PcapngWriter();
    ng.append(ng.addInterface({ name: "a" }), 1, frame(60));
    const block = new Uint8Array(12);
    new DataView(block.buffer).setUint32(0, 6, true);
    new DataView(block.buffer).setUint32(4, 0xfffffffc, true);
    for (const [file, tail, what] of [
      [w.bytes(), header, /^pcap record at offset 100: claims 4294967295 stored bytes, more than the 262144/],
      [ng.bytes(), block, /^pcapng block at offset \d+: claims 4294967292 bytes, more than the 16777216/],
    ] as const) {
      const s = new CaptureStream();
      const records: CaptureRecord[] = [];
      s.feed(file, (r) => records.push(r));
      expect(records).toHaveLength(1);
      const e = catchError(() => s.feed(tail, (r) => records.push(r))) as WireError;
      expect(e).toBeInstanceOf(WireError);
      expect(e.code).toBe("bad-length");
      expect(e.message).toMatch(what);
      // The file reader says the same of the same bytes.
      const both = new Uint8Array(file.length + tail.length);
      both.set(file);
      both.set(tail, file.length);
      sameError(e, whole(both).error);
    }
    expect(MAX_RECORD_BYTES).toBe(MAX_BLOCK_BYTES);
  });

  it("buffers a 16 MiB record arriving in 16 KiB pieces in linear time", () => {
    const w = new PcapWriter({ snapLen: MAX_RECORD_BYTES });
    w.append(1, frame(MAX_RECORD_BYTES - 64));
    const file = w.bytes();
    const s = new CaptureStream();
    const records: CaptureRecord[] = [];
    const t0 = performance.now();
    for (let at = 0; at < file.length; at += 16384)
      s.feed(file.subarray(at, at + 16384), (r) => records.push(r));
    s.end();
    // Concatenating the pending bytes on every piece took 2.8 s here (1,024 copies of up to 16 MiB).
    expect(performance.now() - t0).toBeLessThan(1500);
    expect(records).toHaveLength(1);
    expect(records[0].data.length).toBe(MAX_RECORD_BYTES - 64);
    expect(records[0].data[12345]).toBe(frame(12346)[12345]);
  });

  it("reads 5,000 interface blocks and a packet on each in time linear in the blocks", () => {
    const ng = new PcapngWriter();
    const ids = Array.from({ length: 5000 }, (_, i) => ng.addInterface({ name: `if${i}` }));
    for (const id of ids) ng.append(id, id, frame(60, id));
    const file = ng.bytes();
    const t0 = performance.now();
    const s = streamed(
      file,
      Array.from({ length: Math.ceil(file.length / 4096) }, (_, i) => i * 4096),
    );
    // Re-reading every interface block for each packet took minutes at 20,000 interfaces.
    expect(performance.now() - t0).toBeLessThan(1500);
    expect(s.error).toBeUndefined();
    expect(s.records.map((r) => r.interfaceId)).toEqual(ids);
  });

  it("refuses empty input as it refuses an empty file", () => {
    const e = catchError(() => new CaptureStream().end()) as WireError;
    sameError(e, whole(new Uint8Array(0)).error);
    expect(e.message).toBe("not a capture file: it is empty");
  });

  it("refuses a stream that is not a capture", () => {
    const e = catchError(() =>
      new CaptureStream().push(new TextEncoder().encode("GET / HTTP/1.1")),
    ) as WireError;
    expect(e).toBeInstanceOf(WireError);
    expect(e.message).toMatch(/not a capture file/);
    const s = new CaptureStream();
    s.push(new Uint8Array([0xa1, 0xb2]));
    expect((catchError(() => s.end()) as WireError).message).toMatch(/only 2 bytes/);
  });

  const inputs = files();
  test.prop([
    fc.constantFrom(0, 1),
    fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
    fc.array(fc.nat(), { maxLength: 5 }),
  ])(
    "mutated input in any pieces: the stream yields and fails exactly as the file reader",
    (which, edits, cutsRaw) => {
      const file = inputs[which].slice();
      for (const [i, v] of edits) file[i % file.length] = v;
      const cuts = cutsRaw.map((c) => c % file.length).sort((x, y) => x - y);
      const s = streamed(file, cuts);
      const w = whole(file);
      // The same records, and the same error (or none), whatever the pieces.
      expect(s.records.map(view)).toEqual(w.records.map(view));
      if (w.error === undefined) expect(s.error).toBeUndefined();
      else sameError(s.error, w.error);
    },
  );
});
