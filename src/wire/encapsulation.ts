/**
 * Whether an Ethernet frame carries another network's packet inside (VXLAN over UDP 4789, GRE),
 * as data (`encapsulationOf`, for trace records' `encap`) and in a few words for trace text
 * ("VXLAN VNI 5001, outer 10.100.0.11 > 10.100.1.12"), so the underlay hops of a tunnelled packet
 * say what they carry. Reads only what it needs,
 * bounds-checked; anything else is null. Used only when tracing.
 */

import { formatIpv4, readIpv4 } from "./addr.ts";

/** What carries a frame inside another network's packet, as data (trace records carry it). */
export interface Encapsulation {
  type: "vxlan" | "gre";
  /** VXLAN: the segment. */
  vni?: number;
  /** The outer IPv4 source and destination, dotted (the tunnel's two ends). */
  outerSrc: string;
  outerDst: string;
}

/** The encapsulation of an Ethernet frame (VXLAN over UDP 4789, GRE), or null when none. */
export function encapsulationOf(buf: Uint8Array, start: number, end: number): Encapsulation | null {
  let off = start + 12;
  if (end - start < 14) return null;
  let type = (buf[off] << 8) | buf[off + 1];
  for (let i = 0; i < 2 && (type === 0x8100 || type === 0x88a8) && off + 6 <= end; i++) {
    off += 4;
    type = (buf[off] << 8) | buf[off + 1];
  }
  return type === 0x0800 ? encapsulationOfIpv4(buf, off + 2, end) : null;
}

/**
 * The encapsulation of the IPv4 packet at `ip` (a router sees packets, not frames): GRE, or VXLAN
 * over UDP 4789, with its outer addresses; null for anything else.
 */
export function encapsulationOfIpv4(buf: Uint8Array, ip: number, end: number): Encapsulation | null {
  if (ip + 20 > end || buf[ip] >> 4 !== 4) return null;
  const ihl = (buf[ip] & 0x0f) * 4;
  const proto = buf[ip + 9];
  const outerSrc = formatIpv4(readIpv4(buf, ip + 12));
  const outerDst = formatIpv4(readIpv4(buf, ip + 16));
  const l4 = ip + ihl;
  if (proto === 47) return { type: "gre", outerSrc, outerDst };
  if (proto === 17 && l4 + 16 <= end && ((buf[l4 + 2] << 8) | buf[l4 + 3]) === 4789) {
    const vni = (buf[l4 + 12] << 16) | (buf[l4 + 13] << 8) | buf[l4 + 14];
    return { type: "vxlan", vni, outerSrc, outerDst };
  }
  return null;
}

/** `encapsulationOf` in a few words: "VXLAN VNI 5001, outer 10.100.0.11 > 10.100.1.12", or null. */
export function describeEncapsulation(buf: Uint8Array, start: number, end: number): string | null {
  const e = encapsulationOf(buf, start, end);
  return e === null ? null : describeEncapsulationOf(e);
}

export function describeEncapsulationOf(e: Encapsulation): string {
  const outer = `outer ${e.outerSrc} > ${e.outerDst}`;
  return e.type === "gre" ? `GRE, ${outer}` : `VXLAN VNI ${e.vni}, ${outer}`;
}
