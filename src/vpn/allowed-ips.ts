/**
 * The allowed-IPs table of WireGuard's cryptokey routing (WireGuard paper, section 2): a
 * longest-prefix-match table from IP prefixes to peers. Outbound, a packet goes to the peer whose
 * allowed IPs hold the longest prefix containing its destination; inbound, a decrypted packet is
 * accepted only if its source maps back to the peer it came from. A prefix belongs to exactly one
 * peer: inserting a prefix that another peer holds moves it (as `wg set ... allowed-ips` does).
 *
 * Two binary tries (one per address family), one bit per level, whose nodes live in flat typed
 * arrays with a free list: a lookup walks at most 32 (IPv4) or 128 (IPv6) steps over integers and
 * allocates nothing; IPv4 addresses are uint32 as everywhere in vnet, IPv6 addresses are read in
 * place from the packet's bytes. Host bits beyond the prefix length are ignored (masked), as the
 * kernel does. Browser-safe.
 */

import { formatIpv4, formatIpv6, tryParseIpv4, tryParseIpv6 } from "../wire/addr.ts";

export type IpFamily = 4 | 6;
export interface Cidr4 {
  readonly family: 4;
  /** The address as a uint32; host bits are cleared when the table stores it. */
  readonly addr: number;
  readonly prefixLen: number;
}
export interface Cidr6 {
  readonly family: 6;
  /** 16 bytes; host bits are cleared when the table stores it. */
  readonly addr: Uint8Array;
  readonly prefixLen: number;
}
export type Cidr = Cidr4 | Cidr6;

/** A prefix's text could not be read; `message` says what would be valid. */
export class CidrError extends Error {
  override readonly name = "CidrError";
}

const NONE = -1;

/** One family's trie: node 0 is the root (the empty prefix). */
class Trie<P> {
  child0: Int32Array;
  child1: Int32Array;
  /** The peer stored at a node (undefined: none), and the masked prefix it was stored under. */
  readonly peers: (P | undefined)[] = [];
  readonly prefixes: (Cidr | undefined)[] = [];
  private nodeCount = 1;
  private freeList: number[] = [];
  private readonly path: Int32Array;
  size = 0;

  constructor(readonly maxBits: number) {
    this.child0 = new Int32Array(64).fill(NONE);
    this.child1 = new Int32Array(64).fill(NONE);
    this.peers.push(undefined);
    this.prefixes.push(undefined);
    this.path = new Int32Array(maxBits + 1);
  }

  private newNode(): number {
    const reused = this.freeList.pop();
    if (reused !== undefined) return reused;
    const n = this.nodeCount++;
    if (n >= this.child0.length) {
      const grow = (a: Int32Array) => {
        const b = new Int32Array(a.length * 2).fill(NONE);
        b.set(a);
        return b;
      };
      this.child0 = grow(this.child0);
      this.child1 = grow(this.child1);
    }
    this.peers.push(undefined);
    this.prefixes.push(undefined);
    return n;
  }

  /** Returns the previous peer at that exact prefix. */
  insert(bytes: Uint8Array, prefixLen: number, prefix: Cidr, peer: P): P | undefined {
    let node = 0;
    for (let d = 0; d < prefixLen; d++) {
      const bit = (bytes[d >>> 3] >>> (7 - (d & 7))) & 1;
      const arr = bit === 0 ? this.child0 : this.child1;
      let next = arr[node];
      if (next === NONE) {
        next = this.newNode();
        // newNode may have grown the arrays: write through the current ones.
        (bit === 0 ? this.child0 : this.child1)[node] = next;
      }
      node = next;
    }
    const old = this.peers[node];
    if (old === undefined) this.size++;
    this.peers[node] = peer;
    this.prefixes[node] = prefix;
    return old;
  }

  /** Removes the exact prefix; returns the peer that held it. Prunes emptied branches. */
  remove(bytes: Uint8Array, prefixLen: number): P | undefined {
    let node = 0;
    this.path[0] = 0;
    for (let d = 0; d < prefixLen; d++) {
      const bit = (bytes[d >>> 3] >>> (7 - (d & 7))) & 1;
      node = bit === 0 ? this.child0[node] : this.child1[node];
      if (node === NONE) return undefined;
      this.path[d + 1] = node;
    }
    const old = this.peers[node];
    if (old === undefined) return undefined;
    this.peers[node] = undefined;
    this.prefixes[node] = undefined;
    this.size--;
    this.prune(prefixLen);
    return old;
  }

  /** Frees nodes from depth `depth` upwards while they hold nothing and lead nowhere. */
  private prune(depth: number): void {
    for (let d = depth; d > 0; d--) {
      const n = this.path[d];
      if (this.peers[n] !== undefined || this.child0[n] !== NONE || this.child1[n] !== NONE) return;
      const parent = this.path[d - 1];
      if (this.child0[parent] === n) this.child0[parent] = NONE;
      else this.child1[parent] = NONE;
      this.freeList.push(n);
    }
  }

  /** Every stored (prefix, peer), in trie order (by address, shorter prefixes first). */
  *entries(): Generator<[Cidr, P]> {
    const stack = [0];
    while (stack.length > 0) {
      const n = stack.pop()!;
      const p = this.peers[n];
      if (p !== undefined) yield [this.prefixes[n]!, p];
      if (this.child1[n] !== NONE) stack.push(this.child1[n]);
      if (this.child0[n] !== NONE) stack.push(this.child0[n]);
    }
  }

  clear(): void {
    this.child0.fill(NONE);
    this.child1.fill(NONE);
    this.peers.length = 1;
    this.prefixes.length = 1;
    this.peers[0] = undefined;
    this.prefixes[0] = undefined;
    this.nodeCount = 1;
    this.freeList = [];
    this.size = 0;
  }
}

/**
 * A longest-prefix-match table from IPv4 and IPv6 prefixes to peers of type `P`. With `P` the
 * engine's `WgPeerInfo` it is a `WgAllowedIpsTable` (engine-api.ts) and can be handed to the engine.
 */
export class AllowedIps<P> {
  private readonly v4 = new Trie<P>(32);
  private readonly v6 = new Trie<P>(128);
  private readonly scratch4 = new Uint8Array(4);

  /** Number of prefixes stored. */
  get size(): number {
    return this.v4.size + this.v6.size;
  }

  /**
   * Maps a prefix (host bits ignored; text is read by `parseCidr`, throwing `CidrError`) to `peer`, taking it from any peer that held it. Returns the
   * previous holder of that exact prefix, if any.
   */
  insert(prefix: Cidr | string, peer: P): P | undefined {
    const cidr = typeof prefix === "string" ? parseCidr(prefix) : prefix;
    checkPrefixLen(cidr);
    const masked = maskCidr(cidr);
    if (masked.family === 4) return this.v4.insert(this.bytes4(masked.addr), masked.prefixLen, masked, peer);
    return this.v6.insert(masked.addr, masked.prefixLen, masked, peer);
  }

  /** Removes the exact prefix; returns the peer that held it (undefined: it was not there). */
  remove(prefix: Cidr | string): P | undefined {
    const cidr = typeof prefix === "string" ? parseCidr(prefix) : prefix;
    checkPrefixLen(cidr);
    if (cidr.family === 4) return this.v4.remove(this.bytes4(cidr.addr), cidr.prefixLen);
    return this.v6.remove(cidr.addr, cidr.prefixLen);
  }

  /** Removes every prefix `peer` holds; returns how many. */
  removePeer(peer: P): number {
    const mine = this.prefixesOf(peer);
    for (const c of mine) this.remove(c);
    return mine.length;
  }

  /** The prefixes `peer` holds, IPv4 first, each family in address order. */
  prefixesOf(peer: P): Cidr[] {
    const out: Cidr[] = [];
    for (const [c, p] of this.entries()) if (p === peer) out.push(c);
    return out;
  }

  /** Every (prefix, peer), IPv4 first, each family in address order. */
  *entries(): Generator<[Cidr, P]> {
    yield* this.v4.entries();
    yield* this.v6.entries();
  }

  clear(): void {
    this.v4.clear();
    this.v6.clear();
  }

  /** The peer whose longest prefix contains the IPv4 address `addr` (a uint32). */
  lookupIpv4(addr: number): P | undefined {
    const t = this.v4;
    const c0 = t.child0;
    const c1 = t.child1;
    const peers = t.peers;
    let node = 0;
    let best = peers[0];
    for (let d = 0; d < 32; d++) {
      node = ((addr >>> (31 - d)) & 1) === 0 ? c0[node] : c1[node];
      if (node === NONE) break;
      const p = peers[node];
      if (p !== undefined) best = p;
    }
    return best;
  }

  /** The peer whose longest prefix contains the IPv6 address in `buf[offset..offset+16)`. */
  lookupIpv6(buf: Uint8Array, offset: number): P | undefined {
    const t = this.v6;
    const c0 = t.child0;
    const c1 = t.child1;
    const peers = t.peers;
    let node = 0;
    let best = peers[0];
    for (let d = 0; d < 128; d++) {
      node = ((buf[offset + (d >>> 3)] >>> (7 - (d & 7))) & 1) === 0 ? c0[node] : c1[node];
      if (node === NONE) break;
      const p = peers[node];
      if (p !== undefined) best = p;
    }
    return best;
  }

  /**
   * The peer for an IP packet's destination (`which` = "dst") or source ("src"), reading the
   * version nibble at `offset`. Undefined when no prefix matches, the version is neither 4 nor 6,
   * or the buffer is too short to hold the address (the caller counts that drop).
   */
  lookupPacket(buf: Uint8Array, offset: number, which: "src" | "dst"): P | undefined {
    if (offset >= buf.length) return undefined;
    const version = buf[offset] >>> 4;
    if (version === 4) {
      const at = offset + (which === "dst" ? 16 : 12);
      if (at + 4 > buf.length) return undefined;
      return this.lookupIpv4(
        ((buf[at] << 24) | (buf[at + 1] << 16) | (buf[at + 2] << 8) | buf[at + 3]) >>> 0,
      );
    }
    if (version === 6) {
      const at = offset + (which === "dst" ? 24 : 8);
      if (at + 16 > buf.length) return undefined;
      return this.lookupIpv6(buf, at);
    }
    return undefined;
  }

  private bytes4(addr: number): Uint8Array {
    const b = this.scratch4;
    b[0] = addr >>> 24;
    b[1] = (addr >>> 16) & 0xff;
    b[2] = (addr >>> 8) & 0xff;
    b[3] = addr & 0xff;
    return b;
  }
}

function checkPrefixLen(c: Cidr): void {
  const max = c.family === 4 ? 32 : 128;
  if (!Number.isInteger(c.prefixLen) || c.prefixLen < 0 || c.prefixLen > max) {
    throw new CidrError(`prefix length must be 0..${max}, got ${c.prefixLen}`);
  }
  if (c.family === 6 && c.addr.length !== 16) throw new CidrError("an IPv6 address is 16 bytes");
}

/** The prefix with its host bits cleared (a fresh object). */
export function maskCidr(c: Cidr): Cidr {
  if (c.family === 4) {
    const mask = c.prefixLen === 0 ? 0 : (0xffffffff << (32 - c.prefixLen)) >>> 0;
    return { family: 4, addr: (c.addr & mask) >>> 0, prefixLen: c.prefixLen };
  }
  const a = Uint8Array.from(c.addr);
  for (let i = 0; i < 16; i++) {
    const keep = Math.min(Math.max(c.prefixLen - i * 8, 0), 8);
    a[i] &= (0xff00 >>> keep) & 0xff;
  }
  return { family: 6, addr: a, prefixLen: c.prefixLen };
}

/** True when `addr` (same family) lies inside `c`. */
export function cidrContains(c: Cidr, addr: number | Uint8Array): boolean {
  if (c.family === 4) {
    if (typeof addr !== "number") return false;
    const mask = c.prefixLen === 0 ? 0 : (0xffffffff << (32 - c.prefixLen)) >>> 0;
    return (addr & mask) >>> 0 === (c.addr & mask) >>> 0;
  }
  if (typeof addr === "number") return false;
  for (let d = 0; d < c.prefixLen; d++) {
    const i = d >>> 3;
    const s = 7 - (d & 7);
    if (((addr[i] >>> s) & 1) !== ((c.addr[i] >>> s) & 1)) return false;
  }
  return true;
}

/**
 * Parses "10.0.0.0/8", "fd00::/64", or a bare address (meaning /32 or /128, as `wg` reads
 * AllowedIPs). Host bits are kept (an interface Address needs them); `maskCidr` clears them.
 */
export function parseCidr(text: string): Cidr {
  const slash = text.indexOf("/");
  const addrText = slash < 0 ? text : text.slice(0, slash);
  const lenText = slash < 0 ? undefined : text.slice(slash + 1);
  let family: IpFamily;
  let v4 = 0;
  let v6: Uint8Array | undefined;
  if (addrText.includes(":")) {
    v6 = tryParseIpv6(addrText);
    if (!v6) throw new CidrError(`"${text}" is not an IPv6 prefix (like fd00::/64)`);
    family = 6;
  } else {
    const a = tryParseIpv4(addrText);
    if (a === undefined) throw new CidrError(`"${text}" is not an IPv4 prefix (like 10.0.0.0/24)`);
    v4 = a;
    family = 4;
  }
  const max = family === 4 ? 32 : 128;
  let prefixLen = max;
  if (lenText !== undefined) {
    if (!/^\d{1,3}$/.test(lenText) || Number(lenText) > max) {
      throw new CidrError(`"${text}": the prefix length must be a number 0..${max}`);
    }
    prefixLen = Number(lenText);
  }
  return family === 4 ? { family, addr: v4, prefixLen } : { family, addr: v6!, prefixLen };
}

export function formatCidr(c: Cidr): string {
  return `${c.family === 4 ? formatIpv4(c.addr) : formatIpv6(c.addr, 0)}/${c.prefixLen}`;
}

/** IPv6 text to 16 bytes (RFC 4291 section 2.2; no zone index), from the wire layer's addr.ts. */
export { tryParseIpv6 };
