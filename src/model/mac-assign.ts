/**
 * Deterministic MAC addresses for NICs the topology file gives none: a hash of the NIC's
 * identity (`vm/vm1/0`, `server/server1/eth0`, `switch/tor1`) into a locally administered
 * unicast address `02:xx:xx:xx:xx:xx` (IEEE 802-2014 §8.3: the U/L bit set, the I/G bit clear).
 * The address depends only on the identity, never on the file's order, so two runs and two
 * orderings of a file give the same addresses. Collisions (40 random bits; about one in ten
 * thousand for 16,000 VMs) are resolved by rehashing, in the sorted order of identities so the
 * result is still independent of the file's order. Browser-safe.
 */

import type { Mac } from "../wire/addr.ts";

/** 02:00:00:00:00:00: locally administered (bit 1 of the first octet), unicast (bit 0 clear). */
const LOCAL_UNICAST_BASE = 0x02 * 2 ** 40;

/** The final mix of MurmurHash3 (public domain): spreads every input bit over the output. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** 40 bits from a string: two FNV-1a style lanes with different primes, cross-mixed. */
export function hash40(text: string): number {
  let a = 0x811c9dc5;
  let b = 0x01000193;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
  }
  const hi = fmix32(a ^ Math.imul(b, 0x9e3779b1));
  const lo = fmix32(b ^ hi);
  return (hi & 0xff) * 2 ** 32 + lo;
}

/** The first-choice address of an identity. */
export function macFromIdentity(identity: string): Mac {
  return LOCAL_UNICAST_BASE + hash40(identity);
}

/**
 * Gives each identity an address not in `taken` (which it extends). Identities are processed
 * in sorted order, so a collision is settled the same way whatever order they were listed in.
 */
export function assignMacs(identities: readonly string[], taken: Set<Mac>): Map<string, Mac> {
  const out = new Map<string, Mac>();
  const sorted = [...identities].sort();
  for (const id of sorted) {
    let mac = macFromIdentity(id);
    for (let attempt = 1; taken.has(mac); attempt++) mac = macFromIdentity(`${id}#${attempt}`);
    taken.add(mac);
    out.set(id, mac);
  }
  return out;
}
