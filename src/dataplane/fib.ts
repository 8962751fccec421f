/**
 * The IPv4 forwarding table every layer-3 device shares (the VM guest stack, the SVI router;
 * routed ports and routers next): longest-prefix match over routes that each hold one or more
 * next hops. Several next hops make an ECMP group; a flow's next hop is chosen by a hash of its
 * 5-tuple (source and destination address, protocol, ports), as Linux does with
 * `fib_multipath_hash_policy=1`, so one flow stays on one path and flows spread over all.
 *
 * Lookups allocate nothing: one `Map` per prefix length present, keyed by the masked
 * destination as an int32, tried from the longest length down. A route's next hop is an
 * interface (opaque to the table) and a gateway address, or null for a connected (on-link)
 * route, whose next hop is the destination itself.
 */

import type { Ipv4 } from "../wire/addr.ts";

export interface NextHop<I> {
  iface: I;
  /** The gateway's address, or null when the destination is on the interface's link. */
  gateway: Ipv4 | null;
}

export type RouteKind = "connected" | "static";

export interface Route<I> {
  prefix: Ipv4;
  prefixLen: number;
  kind: RouteKind;
  nextHops: NextHop<I>[];
}

/** The netmask of a prefix length as a uint32 (0 for /0). */
export function prefixMask(prefixLen: number): number {
  return prefixLen === 0 ? 0 : (0xffffffff << (32 - prefixLen)) >>> 0;
}

/**
 * The flow hash for ECMP (Linux `fib_multipath_hash_policy=1`: source, destination, protocol,
 * source and destination port; ports 0 for non-TCP/UDP). A multiply-xorshift mix (murmur3's
 * finalizer) so near-identical flows land apart.
 */
export function flowHash(src: Ipv4, dst: Ipv4, protocol: number, srcPort: number, dstPort: number): number {
  let h = Math.imul(src ^ 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13) ^ dst, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16) ^ ((protocol << 16) | (srcPort & 0xffff)), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13) ^ (dstPort & 0xffff), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

export class Fib<I> {
  /** Per prefix length 0..32: masked destination (int32) -> route. */
  private readonly byLen: (Map<number, Route<I>> | undefined)[] = new Array(33);
  /** The lengths present, longest first. */
  private lengths: number[] = [];
  /** Changes with every `add` and `remove`: a caller may keep a lookup's answer while it stays. */
  version = 0;

  /** Adds a route, or replaces the one for the same prefix. */
  add(prefix: Ipv4, prefixLen: number, nextHops: NextHop<I>[], kind: RouteKind = "static"): void {
    if (!Number.isInteger(prefixLen) || prefixLen < 0 || prefixLen > 32)
      throw new RangeError(`fib: prefix length ${prefixLen} is not 0..32`);
    if (nextHops.length === 0) throw new RangeError("fib: a route needs a next hop");
    const net = (prefix & prefixMask(prefixLen)) >>> 0;
    let m = this.byLen[prefixLen];
    if (m === undefined) {
      m = new Map();
      this.byLen[prefixLen] = m;
      this.lengths = [...this.lengths, prefixLen].sort((a, b) => b - a);
    }
    m.set(net | 0, { prefix: net, prefixLen, kind, nextHops: [...nextHops] });
    this.version++;
  }

  /** Removes the route for exactly this prefix; true if there was one. */
  remove(prefix: Ipv4, prefixLen: number): boolean {
    const m = this.byLen[prefixLen];
    if (m === undefined) return false;
    const isRemoved = m.delete(((prefix & prefixMask(prefixLen)) >>> 0) | 0);
    this.version++;
    if (m.size === 0) {
      this.byLen[prefixLen] = undefined;
      this.lengths = this.lengths.filter((l) => l !== prefixLen);
    }
    return isRemoved;
  }

  /** The longest-prefix route for `dst`, or null. */
  lookup(dst: Ipv4): Route<I> | null {
    const lengths = this.lengths;
    for (let i = 0; i < lengths.length; i++) {
      const len = lengths[i];
      const r = (this.byLen[len] as Map<number, Route<I>>).get((dst & prefixMask(len)) | 0);
      if (r !== undefined) return r;
    }
    return null;
  }

  /** The next hop of `route` for a flow with hash `hash` (the only one when there is one). */
  static pick<I>(route: Route<I>, hash: number): NextHop<I> {
    const n = route.nextHops.length;
    return n === 1 ? route.nextHops[0] : route.nextHops[hash % n];
  }

  /** Every route, longest prefix first, then by address (for `show routes`). */
  routes(): Route<I>[] {
    const out: Route<I>[] = [];
    for (const len of this.lengths) {
      const rs = [...(this.byLen[len] as Map<number, Route<I>>).values()].sort((a, b) => a.prefix - b.prefix);
      out.push(...rs);
    }
    return out;
  }
}
