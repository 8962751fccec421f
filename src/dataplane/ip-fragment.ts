/**
 * IPv4 fragmentation (RFC 791 §2.3 and §3.2, RFC 1812 §5.2.6), shared by the router (packets
 * without DF that exceed the egress MTU) and the host stack (its own packets above the path
 * MTU). Reassembly is the receiving stack's (`IpHost` in ip-host.ts). Browser-safe, pure.
 */

import { ETHERNET_HEADER_LEN } from "../wire/ethernet.ts";
import { IPV4_HEADER_LEN, Ipv4Header } from "../wire/ipv4.ts";
import { DEFAULT_HEADROOM, Frame } from "./frame.ts";

const OFF_IP = ETHERNET_HEADER_LEN;

/**
 * Splits the IPv4 datagram (or fragment) at `off` of `frame` into fragments of at most `mtu`
 * bytes (RFC 791 §3.2 and §2.3 "Fragmentation", RFC 1812 §5.2.6): each piece but the last
 * carries a multiple of 8 data bytes and MF; offsets add to the original's (so a fragment can be
 * fragmented again); the first keeps every option, later ones only options with the copied
 * flag (RFC 791 §3.1); DF is clear. The fragments keep the frame's id (they are the same packet
 * in a trace) and a copy of its Ethernet header; the caller sends them.
 */
export function fragmentIpv4(frame: Frame, off: number, mtu: number): Frame[] {
  const b = frame.buf;
  const hl = Ipv4Header.headerLength(b, off);
  const payloadLength = Ipv4Header.totalLength(b, off) - hl;
  const baseOffset = Ipv4Header.fragmentOffsetBytes(b, off);
  const isOriginalLast = !Ipv4Header.moreFragments(b, off);
  const copied = copiedOptions(b, off + IPV4_HEADER_LEN, hl - IPV4_HEADER_LEN);
  const out: Frame[] = [];
  for (let pos = 0; pos < payloadLength; ) {
    const fhl = pos === 0 ? hl : IPV4_HEADER_LEN + copied.length;
    // RFC 791: every internet module takes 68 bytes, so a 60-byte header still leaves 8.
    const room = Math.max(8, Math.floor((mtu - fhl) / 8) * 8);
    const len = Math.min(room, payloadLength - pos);
    const isLast = pos + len >= payloadLength;
    const size = ETHERNET_HEADER_LEN + fhl + len;
    const f = new Frame(
      new Uint8Array(DEFAULT_HEADROOM + size),
      DEFAULT_HEADROOM,
      DEFAULT_HEADROOM + size,
      frame.id,
    );
    const o = f.start + OFF_IP;
    if (off - ETHERNET_HEADER_LEN >= frame.start)
      f.buf.set(b.subarray(off - ETHERNET_HEADER_LEN, off), f.start);
    if (pos === 0) f.buf.set(b.subarray(off, off + hl), o);
    else {
      f.buf.set(b.subarray(off, off + IPV4_HEADER_LEN), o);
      f.buf.set(copied, o + IPV4_HEADER_LEN);
      Ipv4Header.setHeaderLength(f.buf, o, fhl);
    }
    f.buf.set(b.subarray(off + hl + pos, off + hl + pos + len), o + fhl);
    Ipv4Header.setTotalLength(f.buf, o, fhl + len);
    Ipv4Header.setFragment(f.buf, o, false, !isLast || !isOriginalLast, baseOffset + pos);
    Ipv4Header.fillChecksum(f.buf, o);
    out.push(f);
    pos += len;
  }
  return out;
}

/** The options a non-first fragment carries: those with the copied flag, padded to 4 bytes. */
function copiedOptions(b: Uint8Array, start: number, length: number): Uint8Array {
  const kept: number[] = [];
  const end = start + length;
  for (let i = start; i < end; ) {
    const type = b[i];
    if (type === 0) break; // end of option list
    if (type === 1) {
      i++; // no-operation: not copied
      continue;
    }
    const optLen = i + 1 < end ? b[i + 1] : 0;
    if (optLen < 2 || i + optLen > end) break; // malformed: keep what was sound
    if ((type & 0x80) !== 0) for (let k = 0; k < optLen; k++) kept.push(b[i + k]);
    i += optLen;
  }
  while (kept.length % 4 !== 0) kept.push(0);
  return Uint8Array.from(kept);
}
