/**
 * A frame in flight: bytes in a buffer with headroom in front, so that pushing an 802.1Q tag or
 * prepending a VXLAN or WireGuard outer header moves a few bytes instead of copying the frame
 * (the sk_buff pattern). Devices pass the same Frame object along; only flooding clones.
 * `start`/`end` delimit the frame inside `buf`; everything outside is headroom/tailroom.
 */

import { checkLen, WireError } from "../wire/error.ts";

/** Room for two VLAN tags plus a VXLAN-over-IPv4 outer header (50) or a WireGuard one (60+16). */
export const DEFAULT_HEADROOM = 96;

/**
 * Where new frames take their ids from. Each world has its own (`World.frameIds`) and makes it
 * current whenever its code runs (`World.enter`, done by its run methods and the facade), so
 * two networks in one process number their frames independently and each run is the same
 * whatever else the process does.
 */
export class FrameIds {
  next = 1;
}

let ids = new FrameIds();

/**
 * Frame buffers are carved out of shared 64 KiB slabs with a bump pointer. A `Uint8Array` of
 * more than 64 bytes made with `new Uint8Array(n)` gets its own malloc'd backing store that V8
 * accounts as external memory and frees only after a full collection: at 16,000 VMs that was
 * a large share of the garbage collector's time and let RSS grow by hundreds of MiB (measured).
 * A view on a slab is one small heap object. A slab is never reused: it is zero-filled when
 * created, and the garbage collector frees it when the last frame carved from it dies, so a
 * frame that lives long (queued for ARP, kept by a test) keeps at most one slab alive.
 * Buffers larger than an eighth of a slab get their own allocation.
 */
const SLAB_BYTES = 64 * 1024;
const SLAB_MAX_CARVE = SLAB_BYTES / 8;
let slab = new ArrayBuffer(SLAB_BYTES);
let slabUsed = 0;

/** A zero-filled buffer of `n` bytes, carved from the current slab when small enough. */
function carve(n: number): Uint8Array {
  if (n > SLAB_MAX_CARVE) return new Uint8Array(n);
  if (slabUsed + n > SLAB_BYTES) {
    slab = new ArrayBuffer(SLAB_BYTES);
    slabUsed = 0;
  }
  const buf = new Uint8Array(slab, slabUsed, n);
  // Keep every buffer 8-byte aligned (a DataView or wider typed view over it stays aligned).
  slabUsed += (n + 7) & ~7;
  return buf;
}

export class Frame {
  /** Identifies a frame (and its clones' parent) in traces; stable for a given run order. */
  id: number;
  constructor(
    public buf: Uint8Array,
    public start: number,
    public end: number,
    id?: number,
  ) {
    this.id = id ?? ids.next++;
  }

  get length(): number {
    return this.end - this.start;
  }

  /** Copies `bytes` into a new frame with headroom. */
  static fromBytes(bytes: Uint8Array, headroom = DEFAULT_HEADROOM): Frame {
    const buf = carve(headroom + bytes.length);
    buf.set(bytes, headroom);
    return new Frame(buf, headroom, headroom + bytes.length);
  }

  /** A zero-filled frame of `length` bytes with headroom, for a device to build into. */
  static alloc(length: number, headroom = DEFAULT_HEADROOM): Frame {
    return new Frame(carve(headroom + length), headroom, headroom + length);
  }

  /** Makes `source` the counter new frames take ids from; returns the one it replaces. */
  static useIds(source: FrameIds): FrameIds {
    const previous = ids;
    ids = source;
    return previous;
  }

  /** An independent copy (same id: it is the same frame taking another path). */
  clone(): Frame {
    const headroom = this.start;
    const buf = carve(headroom + this.length);
    buf.set(this.buf.subarray(this.start, this.end), headroom);
    return new Frame(buf, headroom, headroom + this.length, this.id);
  }

  /** A view of the frame's bytes. Allocates a view object: for edges (captures, tests). */
  bytes(): Uint8Array {
    return this.buf.subarray(this.start, this.end);
  }

  /** Makes room for `n` more bytes in front, reallocating only when the headroom is exhausted. */
  prepend(n: number): void {
    if (this.start < n) {
      const grow = Math.max(n, DEFAULT_HEADROOM);
      const buf = carve(this.buf.length + grow);
      buf.set(this.buf, grow);
      this.buf = buf;
      this.start += grow;
      this.end += grow;
    }
    this.start -= n;
  }

  /**
   * Extends the frame with zero bytes up to `length` (Ethernet padding, IEEE 802.3 4.2.3.3),
   * reusing the tailroom when there is enough and moving the frame to a larger slab buffer
   * (headroom kept) when not. A frame already that long is left alone. The link pads, not the
   * devices: a frame is padded where it goes onto a cable.
   */
  padTo(length: number): void {
    const end = this.start + length;
    if (this.end >= end) return;
    if (this.buf.length < end) {
      const buf = carve(end);
      buf.set(this.buf.subarray(0, this.end));
      this.buf = buf;
    } else {
      this.buf.fill(0, this.end, end);
    }
    this.end = end;
  }

  /** Drops `n` bytes from the front (decapsulation). */
  strip(n: number): void {
    if (n > this.length)
      throw new WireError("truncated", 0, `cannot strip ${n} bytes from a ${this.length}-byte frame`);
    this.start += n;
  }

  /**
   * Inserts an 802.1Q/802.1ad tag after the two MAC addresses (IEEE 802.1Q 9.3):
   * the 12 address bytes move 4 to the left, the tag takes their old place.
   */
  pushVlanTag(vid: number, pcp = 0, tpid = 0x8100, dei = false): void {
    checkLen(this.buf, this.start, 12, "vlan push");
    this.prepend(4);
    const b = this.buf;
    const s = this.start;
    b.copyWithin(s, s + 4, s + 16);
    const tci = ((pcp & 7) << 13) | (dei ? 0x1000 : 0) | (vid & 0xfff);
    b[s + 12] = tpid >>> 8;
    b[s + 13] = tpid & 0xff;
    b[s + 14] = tci >>> 8;
    b[s + 15] = tci & 0xff;
  }

  /** Removes the outermost tag that follows the MAC addresses. The caller checked it is there. */
  popVlanTag(): void {
    checkLen(this.buf, this.start, 18, "vlan pop");
    const b = this.buf;
    const s = this.start;
    b.copyWithin(s + 4, s, s + 12);
    this.start += 4;
  }
}
