/**
 * Tests of the capture set (capture.ts): file names for any capture point name, the one pcapng
 * (interfaces in name order, frames in time order with their direction, the run's comment) and
 * the per-link pcaps, read back with the project's readers.
 */
import { describe, expect, it } from "vitest";
import { readPcap } from "../wire/pcap.ts";
import { pcapngInterfaces, readPcapng } from "../wire/pcapng.ts";
import { CAPTURE_FILE_NAME, CaptureSet, captureFileStems } from "./capture.ts";

describe("captureFileStems", () => {
  it("turns device:port into a file name stem a file system takes", () => {
    expect(captureFileStems(["tor1:eth1", "web1:eth0", "leaf1:xe-0/0/1", "sw:Ethernet1/1.100"])).toEqual([
      "tor1-eth1",
      "web1-eth0",
      "leaf1-xe-0_0_1",
      "sw-Ethernet1_1.100",
    ]);
    // Anything else a library user might name a port (no loader in between) is replaced too.
    expect(captureFileStems(['a:b c\\d*?<>|"é', "..:..", "x:y:z"])).toEqual([
      "a-b_c_d_______",
      "..-..",
      "x-y_z",
    ]);
    expect(captureFileStems([`${"d".repeat(150)}:${"p".repeat(150)}`])[0].length).toBe(200);
  });

  it("tells apart names that come out alike, the unaltered one keeping the plain stem", () => {
    expect(captureFileStems(["tor1:te1/1", "tor1:te1_1", "tor1:te1-1"])).toEqual([
      "tor1-te1_1-2",
      "tor1-te1_1",
      "tor1-te1-1",
    ]);
    // Case-insensitive file systems: Tor1 and tor1 would be one file there.
    expect(captureFileStems(["Tor1:eth1", "tor1:eth1"])).toEqual(["Tor1-eth1", "tor1-eth1-2"]);
    // A suffix never takes a stem another name has.
    expect(captureFileStems(["a:b/c", "a:b_c", "a:b_c-2"])).toEqual(["a-b_c-3", "a-b_c", "a-b_c-2"]);
    // Two altered names: the first given keeps the plain stem.
    expect(captureFileStems(["leaf-1:xe-0/0/1", "leaf:1-xe-0/0/1"])).toEqual([
      "leaf-1-xe-0_0_1",
      "leaf-1-xe-0_0_1-2",
    ]);
  });
});

describe("CaptureSet", () => {
  function twoPoints(): CaptureSet {
    const c = new CaptureSet();
    const frame = (n: number, fill: number) => new Uint8Array(n).fill(fill);
    // Recorded out of time order, as a receiver's processing delay makes it.
    c.record("tor1:te1/1", 2_000, frame(60, 2), 0, 60, false);
    c.record("web1:eth0", 1_000, frame(42, 1), 0, 42, true);
    c.record("tor1:te1/1", 1_500, frame(70, 3), 5, 65, true);
    return c;
  }

  it("encodes one pcapng: an interface per point in name order, frames in time order with directions", () => {
    const [file, ...rest] = twoPoints().encodeAll();
    expect(rest).toEqual([]);
    expect(file.fileName).toBe(CAPTURE_FILE_NAME);
    expect(file.frames).toBe(3);
    expect(file.interfaces).toEqual(["tor1:te1/1", "web1:eth0"]);
    expect(pcapngInterfaces(file.bytes).map((i) => [i.name, i.description, i.tsresol])).toEqual([
      ["tor1:te1/1", undefined, 9],
      ["web1:eth0", undefined, 9],
    ]);
    const records = readPcapng(file.bytes);
    expect(records.map((r) => [r.interfaceId, r.timeNs, r.data.length, r.data[0], r.direction])).toEqual([
      [1, 1_000n, 42, 1, "outbound"],
      [0, 1_500n, 60, 3, "outbound"],
      [0, 2_000n, 60, 2, "inbound"],
    ]);
  });

  it("encodes one classic pcap per point with safe, unique file names", () => {
    const files = twoPoints().encodeAll({ perLink: true });
    expect(files.map((f) => [f.fileName, f.frames, f.interfaces])).toEqual([
      ["tor1-te1_1.pcap", 2, ["tor1:te1/1"]],
      ["web1-eth0.pcap", 1, ["web1:eth0"]],
    ]);
    expect(readPcap(files[0].bytes).records.map((r) => r.timeNs)).toEqual([1_500n, 2_000n]);
  });

  it("gives no file when nothing was captured", () => {
    expect(new CaptureSet().encodeAll()).toEqual([]);
    expect(new CaptureSet().encodeAll({ perLink: true })).toEqual([]);
  });

  it("keeps at most maxFramesPerCapture frames per point and counts the rest", () => {
    const c = new CaptureSet(null, 2);
    for (let i = 0; i < 5; i++) c.record("a:b", i, new Uint8Array(60), 0, 60, true);
    expect(c.frameCount("a:b")).toBe(2);
    expect(c.truncatedFrames).toBe(3);
  });
});
