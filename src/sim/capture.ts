/**
 * Packet captures of a simulated run. Every link end that is a capture point (a cable end such
 * as `tor1:eth1` or `server1:eth0`, a VM's vNIC such as `web1:eth0`; named `device:port` as
 * traces name it) keeps every frame that left or arrived there with its simulated timestamp.
 * Like tcpdump on a Linux interface, a capture point sees a transmitted frame when it is handed
 * to the port and a received frame when it arrives. The run is encoded in one of two forms:
 * - one pcapng file, `vnet.pcapng` (the default): one interface per capture point that carried
 *   traffic (`if_name` the real `device:port`, `if_description` the connection it sits on),
 *   every frame with its direction (`epb_flags` inbound/outbound), all in time order;
 * - one classic nanosecond pcap per capture point (`perLink`), named after the point with
 *   characters a file name cannot hold replaced (`tor1:xe-0/0/1` -> `tor1-xe-0_0_1.pcap`) and
 *   made unique when two names come out alike.
 * Timestamps: simulated time 0 (when the network was built) is the Unix epoch,
 * 1970-01-01T00:00:00Z, so a timestamp read as seconds since the epoch is the simulated time;
 * the same topology and seed give byte-identical files.
 *
 * Frames are copied when recorded (devices keep mutating the frame objects they own) and kept in
 * memory until the run is written out; frames are sorted by (time, order recorded) when
 * encoded, since a received frame is recorded once its receiver's processing delay has elapsed.
 * Browser-safe: encoding returns bytes; writing files is the caller's business (the facade).
 */

import { PcapWriter } from "../wire/pcap.ts";
import { PcapngWriter } from "../wire/pcapng.ts";
import type { Link } from "./link.ts";

/** The one file of a run in the default form. */
export const CAPTURE_FILE_NAME = "vnet.pcapng";
/** What simulated time 0 is in every capture file (as ns since the Unix epoch: 0). */
export const CAPTURE_EPOCH = "1970-01-01T00:00:00Z";

export interface CaptureOptions {
  /** One classic pcap per capture point instead of the one pcapng file. */
  perLink?: boolean;
}

/** One capture file: its name (no directory), its bytes, its frames and capture points. */
export interface CaptureFile {
  fileName: string;
  bytes: Uint8Array;
  frames: number;
  /**
   * The capture points (`device:port`) in the file, in interface id order for the pcapng; the
   * one point a per-link pcap holds.
   */
  interfaces: string[];
}

/** What `CaptureSet` needs of the world: its links (to describe capture points) and seed. */
export interface CaptureSource {
  readonly links: readonly Link[];
  readonly seed: number;
}

interface CapturedFrame {
  timeNs: number;
  seq: number;
  bytes: Uint8Array;
  isTx: boolean;
}

export class CaptureSet {
  private readonly byName = new Map<string, CapturedFrame[]>();
  private seq = 0;
  truncatedFrames = 0;
  /**
   * `source` describes the capture points (their connection) and the run (its seed) in the
   * pcapng file; without it the interfaces carry only their names. At most
   * `maxFramesPerCapture` frames are kept per point; later ones are counted in
   * `truncatedFrames`.
   */
  constructor(
    private readonly source: CaptureSource | null = null,
    readonly maxFramesPerCapture = 1_000_000,
    /**
     * The wall-clock time of world time 0, in ns since the Unix epoch, for a world that runs in
     * real time (a lab): its captures then carry real dates. Null for a simulated run, whose
     * time 0 is the epoch itself.
     */
    readonly epochNs: bigint | null = null,
  ) {}

  /** A frame's timestamp as the files store it. */
  private stamp(timeNs: number): number | bigint {
    return this.epochNs === null ? Math.round(timeNs) : this.epochNs + BigInt(Math.round(timeNs));
  }

  record(name: string, timeNs: number, buf: Uint8Array, start: number, end: number, isTx: boolean): void {
    let list = this.byName.get(name);
    if (list === undefined) {
      list = [];
      this.byName.set(name, list);
    }
    if (list.length >= this.maxFramesPerCapture) {
      this.truncatedFrames++;
      return;
    }
    list.push({ timeNs, seq: this.seq++, bytes: buf.slice(start, end), isTx });
  }

  /** Names (`device:port`) of the capture points that hold at least one frame, sorted. */
  names(): string[] {
    return [...this.byName.keys()].sort();
  }

  frameCount(name: string): number {
    return this.byName.get(name)?.length ?? 0;
  }

  /** The frames of one capture point in time order. */
  frames(name: string): readonly { timeNs: number; bytes: Uint8Array; isTx: boolean }[] {
    const list = this.byName.get(name) ?? [];
    return [...list].sort(byTime);
  }

  /** One capture point encoded as a classic pcap file with nanosecond timestamps. */
  encode(name: string): Uint8Array {
    const w = new PcapWriter();
    for (const f of this.frames(name)) w.append(this.stamp(f.timeNs), f.bytes);
    return w.bytes();
  }

  /**
   * The whole run as one pcapng: an interface per capture point that carried traffic, in name
   * order, then every frame in time order with its direction.
   */
  encodePcapng(): Uint8Array {
    const w = new PcapngWriter({
      comment:
        this.epochNs === null
          ? `vnet simulated run (seed ${this.source?.seed ?? "unknown"}): timestamps are simulated time, ` +
            `0 = ${CAPTURE_EPOCH}; one interface per capture point (device:port)`
          : "vnet lab (real time): timestamps are wall-clock time; one interface per capture point (device:port)",
    });
    const all: (CapturedFrame & { iface: number })[] = [];
    const described = this.descriptions();
    for (const name of this.names()) {
      const iface = w.addInterface({ name, description: described.get(name) });
      for (const f of this.byName.get(name) ?? []) all.push({ ...f, iface });
    }
    all.sort(byTime);
    const inbound = { direction: "inbound" } as const;
    const outbound = { direction: "outbound" } as const;
    for (const f of all) {
      w.append(f.iface, this.stamp(f.timeNs), f.bytes, f.bytes.length, f.isTx ? outbound : inbound);
    }
    return w.bytes();
  }

  /** The run's capture files (none when nothing was captured), sorted by file name. */
  encodeAll(options: CaptureOptions = {}): CaptureFile[] {
    const names = this.names();
    if (names.length === 0) return [];
    if (options.perLink !== true) {
      const frames = names.reduce((n, name) => n + this.frameCount(name), 0);
      return [{ fileName: CAPTURE_FILE_NAME, bytes: this.encodePcapng(), frames, interfaces: names }];
    }
    const stems = captureFileStems(names);
    return names
      .map((n, i) => ({
        fileName: `${stems[i]}.pcap`,
        bytes: this.encode(n),
        frames: this.frameCount(n),
        interfaces: [n],
      }))
      .sort((a, b) => (a.fileName < b.fileName ? -1 : a.fileName > b.fileName ? 1 : 0));
  }

  clear(): void {
    this.byName.clear();
    this.seq = 0;
    this.truncatedFrames = 0;
  }

  /**
   * `if_description` per capture point: the connection it sits on, this end first, and what it
   * is ("tor1:eth1 <-> server1:eth0 (cable, 10 Gb/s)", "web1:eth0 <-> server1/vs0:web1 (vNIC)").
   */
  private descriptions(): Map<string, string> {
    const out = new Map<string, string>();
    for (const link of this.source?.links ?? []) {
      for (let side = 0; side < 2; side++) {
        const end = link.ends[side];
        if (end.captureName === null) continue;
        const peer = link.ends[side ^ 1];
        out.set(end.captureName, `${end.name} <-> ${peer.name} (${connectionKind(link)})`);
      }
    }
    return out;
  }
}

function byTime(a: { timeNs: number; seq: number }, b: { timeNs: number; seq: number }): number {
  return a.timeNs - b.timeNs || a.seq - b.seq;
}

function connectionKind(link: Link): string {
  if (!link.isInternal) return `cable, ${formatRate(link.rateBps)}`;
  if (link.hopKind === "vnic") return "vNIC";
  if (link.hopKind === "vf") return "SR-IOV VF";
  return "internal";
}

function formatRate(bps: number): string {
  for (const [unit, div] of [
    ["Tb/s", 1e12],
    ["Gb/s", 1e9],
    ["Mb/s", 1e6],
    ["kb/s", 1e3],
  ] as const) {
    if (bps >= div) return `${Number((bps / div).toPrecision(6))} ${unit}`;
  }
  return `${bps} b/s`;
}

/** Longest file name stem kept (file systems allow 255 bytes; room for a suffix and ".pcap"). */
const MAX_STEM = 200;

/**
 * File name stems for capture points, in the same order: `device:port` becomes `device-port`
 * and every character outside letters, digits, `_`, `.` and `-` becomes `_`, so `tor1:xe-0/0/1`
 * is `tor1-xe-0_0_1`. Names that come out alike (ignoring case, for file systems that do) are
 * told apart by `-2`, `-3`, ...: a name that needed no replacement keeps the plain stem
 * (`tor1:te1_1` stays `tor1-te1_1`, `tor1:te1/1` becomes `tor1-te1_1-2`), the others take the
 * suffixes in the order given; a suffixed stem never takes another name's stem.
 */
export function captureFileStems(names: readonly string[]): string[] {
  const bases = names.map((n) => {
    let s = n.replace(":", "-").replace(/[^A-Za-z0-9_.-]/g, "_");
    if (/^\.*$/.test(s)) s = `_${s}`;
    return s.length > MAX_STEM ? s.slice(0, MAX_STEM) : s;
  });
  const isAltered = names.map((n, i) => bases[i] !== n.replace(":", "-"));
  const reserved = new Set(bases.map((b) => b.toLowerCase()));
  const taken = new Set<string>();
  const out: string[] = new Array(names.length);
  const order = names.map((_, i) => i).sort((a, b) => Number(isAltered[a]) - Number(isAltered[b]) || a - b);
  for (const i of order) {
    const b = bases[i];
    if (!taken.has(b.toLowerCase())) {
      taken.add(b.toLowerCase());
      out[i] = b;
      continue;
    }
    for (let k = 2; ; k++) {
      const s = `${b}-${k}`;
      if (!taken.has(s.toLowerCase()) && !reserved.has(s.toLowerCase())) {
        taken.add(s.toLowerCase());
        out[i] = s;
        break;
      }
    }
  }
  return out;
}
