/**
 * Packet captures of a simulated run: one capture per link end that carried traffic, named after
 * the end (`tor1-eth1`, `server1-eth0`, `vm1-eth0`), holding every frame that left or arrived at
 * that end with its simulated timestamp. Like tcpdump on a Linux interface, a capture sees a
 * transmitted frame when it is handed to the port and a received frame when it arrives.
 *
 * Frames are copied when recorded (devices keep mutating the frame objects they own) and kept in
 * memory until the run is written out; a capture is sorted by (time, order recorded) when it is
 * encoded, since a received frame is recorded once its receiver's processing delay has elapsed.
 * Browser-safe: encoding returns bytes; writing files is the caller's business (the facade).
 */

import { PcapWriter } from "../wire/pcap.ts";

interface CapturedFrame {
  timeNs: number;
  seq: number;
  bytes: Uint8Array;
  isTx: boolean;
}

export class CaptureSet {
  private readonly byName = new Map<string, CapturedFrame[]>();
  private seq = 0;
  /** Maximum frames kept per capture; later frames are counted in `truncatedFrames`. */
  constructor(readonly maxFramesPerCapture = 1_000_000) {}
  truncatedFrames = 0;

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

  /** Names of the captures that hold at least one frame, sorted. */
  names(): string[] {
    return [...this.byName.keys()].sort();
  }

  frameCount(name: string): number {
    return this.byName.get(name)?.length ?? 0;
  }

  /** The frames of one capture in time order. */
  frames(name: string): readonly { timeNs: number; bytes: Uint8Array; isTx: boolean }[] {
    const list = this.byName.get(name) ?? [];
    return [...list].sort((a, b) => a.timeNs - b.timeNs || a.seq - b.seq);
  }

  /** One capture encoded as a classic pcap file with nanosecond timestamps. */
  encode(name: string): Uint8Array {
    const w = new PcapWriter();
    for (const f of this.frames(name)) w.append(Math.round(f.timeNs), f.bytes);
    return w.bytes();
  }

  /** Every capture as `name.pcap` -> bytes, sorted by name. */
  encodeAll(): { fileName: string; bytes: Uint8Array; frames: number }[] {
    return this.names().map((n) => ({
      fileName: `${n}.pcap`,
      bytes: this.encode(n),
      frames: this.frameCount(n),
    }));
  }

  clear(): void {
    this.byName.clear();
    this.seq = 0;
    this.truncatedFrames = 0;
  }
}
