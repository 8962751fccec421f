import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { CaptureStream, captureRecords } from "./capture.ts";
import { WireError } from "./error.ts";
import type { CaptureRecord } from "./pcap.ts";
import { PcapWriter } from "./pcap.ts";
import { PcapngWriter } from "./pcapng.ts";

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
function streamed(file: Uint8Array, cuts: number[]): { records: CaptureRecord[]; error?: unknown } {
  const s = new CaptureStream();
  const records: CaptureRecord[] = [];
  let from = 0;
  try {
    for (const c of [...cuts, file.length]) {
      records.push(...s.push(file.subarray(from, Math.max(from, c))));
      from = Math.max(from, c);
    }
    s.end();
  } catch (e) {
    return { records, error: e };
  }
  return { records };
}

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
    "mutated input in any pieces: only WireError; what the file reader accepts, the stream does",
    (which, edits, cutsRaw) => {
      const file = inputs[which].slice();
      for (const [i, v] of edits) file[i % file.length] = v;
      const cuts = cutsRaw.map((c) => c % file.length).sort((x, y) => x - y);
      const s = streamed(file, cuts);
      if (s.error !== undefined) expect(s.error).toBeInstanceOf(WireError);
      let whole: CaptureRecord[] = [];
      try {
        whole = [...captureRecords(file)];
      } catch (e) {
        expect(e).toBeInstanceOf(WireError);
        return;
      }
      // A file the whole-file reader accepts, the stream accepts too, with the same records.
      expect(s.error).toBeUndefined();
      expect(s.records.map(view)).toEqual(whole.map(view));
    },
  );
});
