/**
 * The MAC learning table every layer-2 device here uses (vswitch, physical switch, the SR-IOV
 * NIC's embedded bridge): entries keyed on (VLAN, MAC) pointing at a port, with idle aging, a
 * size limit with fair eviction, station moves, static entries and flushes per port or VLAN.
 *
 * Behaviour follows Open vSwitch's `lib/mac-learning.c` as documented in ovs-vswitchd.conf.db(5)
 * (`other_config:mac-aging-time`, default 300 s; `other_config:mac-table-size`, default 8192)
 * and IEEE 802.1Q 8.8 (the filtering database): an entry is refreshed every time its MAC is seen
 * as a source, expires after the aging time without traffic, moves when the MAC shows up on
 * another port, and when the table is full the port holding the most entries gives up its
 * least recently seen one, so one port flooding random source MACs cannot push everyone else
 * out.
 *
 * Ports are opaque numbers (a device's port index, or a logical port such as a team of
 * uplinks). Keys are never strings, and not even a 48-bit number in the hot path: a JS Map keyed
 * by a MAC above 2^31 boxes the key on every lookup (an allocation, measured), so the table is
 * an open-addressing hash (linear probing, backward-shift deletion) over typed arrays, keyed by
 * the VLAN and the MAC's two 24-bit halves, all small integers. `lookupAt`/`learnAt` read the MAC
 * straight from the frame's bytes; lookups and refreshes allocate nothing, and entries are
 * preallocated objects reused as addresses come and go.
 */

import { DeviceConfigError } from "./config-error.ts";

/** What `learn` did. Numbers, so the forwarding path allocates no result object. */
export const Learn = {
  /** The address was already on this port: its age was reset. */
  refreshed: 0,
  /** A new entry was created. */
  learned: 1,
  /** The address was on another port (`lastMovedFrom`) and now points here. */
  moved: 2,
  /** Not learned: the address has a static entry on another port. */
  staticConflict: 3,
  /** Not learned: the table is full of static entries. */
  full: 4,
} as const;
export type LearnResult = (typeof Learn)[keyof typeof Learn];

/** The upper 24 bits of the MAC at `offset` of `buf` (a small integer). */
export function macHiAt(buf: Uint8Array, offset: number): number {
  return (buf[offset] << 16) | (buf[offset + 1] << 8) | buf[offset + 2];
}

/** The lower 24 bits of the MAC at `offset` of `buf`. */
export function macLoAt(buf: Uint8Array, offset: number): number {
  return (buf[offset + 3] << 16) | (buf[offset + 4] << 8) | buf[offset + 5];
}

/** A read-only report of one entry, for `show` commands and tests. */
export interface MacEntryInfo {
  vid: number;
  mac: number;
  port: number;
  /** ns since the address was last seen (0 for static entries). */
  ageNs: number;
  isStatic: boolean;
}

export interface MacTableStats {
  learned: number;
  moved: number;
  expired: number;
  evicted: number;
  /** Learning refused because of a static entry on another port. */
  staticConflicts: number;
}

/**
 * An entry: doubly linked into the global LRU list (aging) and its port's LRU list (eviction).
 *
 * Lazy LRU: refreshing an entry (the hot path: every frame refreshes its source) only writes
 * its last-seen time; relinking two lists per frame costs several times the lookup itself (measured).
 * Each list stays sorted by its `...ListedNs` key, and every entry has lastSeenNs >= its key.
 * So when the head's lastSeenNs equals its key, no entry behind it was seen earlier: it is the
 * true least recently seen. When it does not (it was refreshed since it was placed), the head is
 * re-placed at its sorted position with key = lastSeenNs and the walk goes on. Aging and
 * eviction stay exact, and the relinking happens only when they run.
 */
class Entry {
  vid = 0;
  hi = 0;
  lo = 0;
  mac = 0;
  /** Slot in the hash table, and the slot the key hashes to. */
  slot = -1;
  home = 0;
  port = 0;
  /**
   * Position keys of the two lists (see "Lazy LRU" below): the last-seen time the entry had when
   * it was last placed in the global list / its port's list. Always <= its last-seen time (which
   * lives in the table's slot, see `MacTable`).
   */
  lruListedNs = 0;
  portListedNs = 0;
  isStatic = false;
  prev: Entry | null = null;
  next: Entry | null = null;
  portPrev: Entry | null = null;
  portNext: Entry | null = null;
}

/** Per-port list of dynamic entries, least recently seen first. */
class PortList {
  head: Entry | null = null;
  tail: Entry | null = null;
  count = 0;
  constructor(readonly port: number) {}
}

export interface MacTableOptions {
  /** Most entries, static ones included (OVS default 8192). */
  maxEntries?: number;
  /** Idle time after which a dynamic entry expires (OVS default 300 s). */
  agingNs?: number;
}

export const DEFAULT_MAC_TABLE_SIZE = 8192;
export const DEFAULT_MAC_AGING_NS = 300e9;

export class MacTable {
  readonly maxEntries: number;
  readonly agingNs: number;
  readonly stats: MacTableStats = { learned: 0, moved: 0, expired: 0, evicted: 0, staticConflicts: 0 };
  /** After a `moved` result: the port the address came from. */
  lastMovedFrom = -1;
  /**
   * Open-addressing slots, 32 bytes each, so a probe reads one cache line and the forwarding
   * path (lookup, refresh) never touches the `Entry` object (measured: at 16,000 VMs the MAC
   * tables were the largest cost of a hop, four dependent cache misses per lookup). In Int32
   * words, slot i holds at 8i: entry id + 1 (0 = empty), vid, MAC high 24 bits, MAC low 24
   * bits, port, isStatic (1/0); its last-seen time in ns is the float64 at 4i + 3.
   * The slot's port and last-seen time are the truth; `Entry.port` mirrors the port for the
   * per-port lists.
   *
   * The table starts small and doubles (rehashing) while it is more than half full, up to a
   * power of two >= 2x maxEntries: a vswitch that sees a few hundred addresses holds a few
   * KiB, not the 64 KiB the 8,192-entry default would take up front.
   */
  private sk: Int32Array;
  private sf: Float64Array;
  private capacity: number;
  private mask: number;
  private readonly maxCapacity: number;
  /** Entries by id; created on first use and then reused. */
  private readonly pool: Entry[] = [];
  private readonly freeIds: number[] = [];
  private readonly ports: PortList[] = [];
  /** Global LRU of dynamic entries: head is the least recently seen. */
  private lruHead: Entry | null = null;
  private lruTail: Entry | null = null;
  private count = 0;

  constructor(options: MacTableOptions = {}) {
    this.maxEntries = options.maxEntries ?? DEFAULT_MAC_TABLE_SIZE;
    this.agingNs = options.agingNs ?? DEFAULT_MAC_AGING_NS;
    if (!Number.isInteger(this.maxEntries) || this.maxEntries < 1 || this.maxEntries > 1 << 24)
      throw new DeviceConfigError(
        "bad-value",
        `MAC table size must be an integer 1..16777216, got ${this.maxEntries}`,
      );
    if (!(this.agingNs > 0))
      throw new DeviceConfigError("bad-value", `MAC aging time must be positive, got ${this.agingNs} ns`);
    let capacity = 16;
    while (capacity < 2 * this.maxEntries) capacity *= 2;
    this.maxCapacity = capacity;
    this.capacity = 16;
    this.mask = 15;
    const buffer = new ArrayBuffer(16 * 32);
    this.sk = new Int32Array(buffer);
    this.sf = new Float64Array(buffer);
  }

  /** Number of entries, static ones included. */
  get size(): number {
    return this.count;
  }

  /**
   * The port for (vid, mac), or -1. An entry idle for the aging time or longer is removed here
   * (lazily) and reported as absent. For tests and control paths; forwarding uses `lookupAt`.
   */
  lookup(vid: number, mac: number, nowNs: number): number {
    const hi = Math.floor(mac / 0x1000000);
    return this.lookupHiLo(vid, hi, mac - hi * 0x1000000, nowNs);
  }

  /** `lookup` of the MAC at `offset` of `buf`: the allocation-free forwarding path. */
  lookupAt(vid: number, buf: Uint8Array, offset: number, nowNs: number): number {
    return this.lookupHiLo(vid, macHiAt(buf, offset), macLoAt(buf, offset), nowNs);
  }

  lookupHiLo(vid: number, hi: number, lo: number, nowNs: number): number {
    const i = this.findSlot(vid, hi, lo);
    if (i < 0) return -1;
    const sk = this.sk;
    if (sk[8 * i + 5] === 0 && nowNs - this.sf[4 * i + 3] >= this.agingNs) {
      this.remove(this.pool[sk[8 * i] - 1]);
      this.stats.expired++;
      return -1;
    }
    return sk[8 * i + 4];
  }

  /** Whether (vid, mac) has a static entry. */
  isStatic(vid: number, mac: number): boolean {
    const hi = Math.floor(mac / 0x1000000);
    return this.find(vid, hi, mac - hi * 0x1000000)?.isStatic ?? false;
  }

  /**
   * Records that `mac` was seen as a source on `port` in `vid`: refreshes, creates (evicting
   * fairly when full) or moves the entry.
   */
  learn(vid: number, mac: number, port: number, nowNs: number): LearnResult {
    const hi = Math.floor(mac / 0x1000000);
    return this.learnHiLo(vid, hi, mac - hi * 0x1000000, port, nowNs);
  }

  /** `learn` of the MAC at `offset` of `buf` (a frame's source at start + 6). */
  learnAt(vid: number, buf: Uint8Array, offset: number, port: number, nowNs: number): LearnResult {
    return this.learnHiLo(vid, macHiAt(buf, offset), macLoAt(buf, offset), port, nowNs);
  }

  learnHiLo(vid: number, hi: number, lo: number, port: number, nowNs: number): LearnResult {
    const i = this.findSlot(vid, hi, lo);
    if (i >= 0) {
      const sk = this.sk;
      const oldPort = sk[8 * i + 4];
      if (sk[8 * i + 5] !== 0) {
        if (oldPort === port) return Learn.refreshed;
        this.stats.staticConflicts++;
        return Learn.staticConflict;
      }
      // An entry that aged out but was not yet removed counts as expired and learned afresh.
      const wasExpired = nowNs - this.sf[4 * i + 3] >= this.agingNs;
      if (wasExpired) {
        this.stats.expired++;
        this.stats.learned++;
      }
      this.sf[4 * i + 3] = nowNs;
      if (oldPort === port) return wasExpired ? Learn.learned : Learn.refreshed;
      const e = this.pool[sk[8 * i] - 1];
      this.lastMovedFrom = oldPort;
      this.portUnlink(e);
      e.port = port;
      sk[8 * i + 4] = port;
      this.portInsert(e);
      if (wasExpired) return Learn.learned;
      this.stats.moved++;
      return Learn.moved;
    }
    if (this.count >= this.maxEntries) {
      // Expired entries go first: they cost nobody anything.
      this.expire(nowNs);
      if (this.count >= this.maxEntries && !this.evictFairly()) return Learn.full;
    }
    const n = this.insert(vid, hi, lo, port, nowNs, false);
    this.lruInsert(n);
    this.portInsert(n);
    this.stats.learned++;
    return Learn.learned;
  }

  /**
   * Installs a static entry (never ages, never moves, never evicted): a vNIC's configured MAC on
   * its vswitch port, a VF's MAC in a NIC's embedded bridge. Replaces any entry for the key.
   */
  addStatic(vid: number, mac: number, port: number): void {
    const hi = Math.floor(mac / 0x1000000);
    const lo = mac - hi * 0x1000000;
    const existing = this.find(vid, hi, lo);
    if (existing !== null) this.remove(existing);
    if (this.count >= this.maxEntries && !this.evictFairly()) {
      throw new DeviceConfigError("bad-value", `MAC table full of static entries (${this.maxEntries})`);
    }
    this.insert(vid, hi, lo, port, 0, true);
  }

  /** Removes the entry for (vid, mac), static or not; returns whether there was one. */
  delete(vid: number, mac: number): boolean {
    const hi = Math.floor(mac / 0x1000000);
    const e = this.find(vid, hi, mac - hi * 0x1000000);
    if (e === null) return false;
    this.remove(e);
    return true;
  }

  /** Removes every dynamic entry idle for the aging time; returns how many. */
  expire(nowNs: number): number {
    let n = 0;
    for (let e = this.lruHead; e !== null; e = this.lruHead) {
      const seen = this.seenNs(e);
      if (nowNs - seen >= this.agingNs) {
        this.remove(e);
        n++;
      } else if (seen > e.lruListedNs) {
        this.lruUnlink(e);
        this.lruInsert(e);
      } else {
        break;
      }
    }
    this.stats.expired += n;
    return n;
  }

  /**
   * Removes dynamic entries on `port` (all VLANs, or only `vid`): a link went down, so whatever
   * was learned behind it is no longer known to be there. Static entries stay.
   */
  flushPort(port: number, vid?: number): number {
    const list = this.ports[port];
    if (list === undefined) return 0;
    let n = 0;
    for (let e = list.head; e !== null; ) {
      const next = e.portNext;
      if (vid === undefined || e.vid === vid) {
        this.remove(e);
        n++;
      }
      e = next;
    }
    return n;
  }

  /** Removes dynamic entries of one VLAN. */
  flushVlan(vid: number): number {
    let n = 0;
    for (let e = this.lruHead; e !== null; ) {
      const next = e.next;
      if (e.vid === vid) {
        this.remove(e);
        n++;
      }
      e = next;
    }
    return n;
  }

  /** Removes every dynamic entry. */
  flushAll(): number {
    let n = 0;
    while (this.lruHead !== null) {
      this.remove(this.lruHead);
      n++;
    }
    return n;
  }

  /** Dynamic entries currently on `port` (expired ones included until something removes them). */
  portEntryCount(port: number): number {
    return this.ports[port]?.count ?? 0;
  }

  /** Every live entry, sorted by VLAN then MAC, with its age at `nowNs`. */
  entries(nowNs: number): MacEntryInfo[] {
    const out: MacEntryInfo[] = [];
    for (const e of this.pool) {
      if (e.slot < 0) continue;
      const seen = this.seenNs(e);
      if (!e.isStatic && nowNs - seen >= this.agingNs) continue;
      out.push({
        vid: e.vid,
        mac: e.mac,
        port: e.port,
        ageNs: e.isStatic ? 0 : nowNs - seen,
        isStatic: e.isStatic,
      });
    }
    return out.sort((a, b) => a.vid - b.vid || a.mac - b.mac);
  }

  /**
   * Evicts the least recently seen entry of the port with the most dynamic entries (ties: the
   * lower port number, for determinism). Returns false when there is no dynamic entry.
   */
  private evictFairly(): boolean {
    let victim: PortList | null = null;
    for (const list of this.ports) {
      if (list !== undefined && list.count > 0 && (victim === null || list.count > victim.count))
        victim = list;
    }
    if (victim === null || victim.head === null) return false;
    let e = victim.head;
    while (this.seenNs(e) > e.portListedNs) {
      this.portUnlink(e);
      this.portInsert(e);
      e = victim.head!;
    }
    this.remove(e);
    this.stats.evicted++;
    return true;
  }

  private static hash(vid: number, hi: number, lo: number): number {
    let h = Math.imul(hi, 0x9e3779b1) ^ Math.imul(lo, 0x85ebca6b) ^ Math.imul(vid, 0xc2b2ae35);
    h ^= h >>> 15;
    h = Math.imul(h, 0x2c1b3c6d);
    return h ^ (h >>> 12);
  }

  /** The slot holding (vid, hi, lo), or -1. Reads only the slot array. */
  private findSlot(vid: number, hi: number, lo: number): number {
    const mask = this.mask;
    const sk = this.sk;
    for (let i = MacTable.hash(vid, hi, lo) & mask; ; i = (i + 1) & mask) {
      const b = 8 * i;
      if (sk[b] === 0) return -1;
      if (sk[b + 3] === lo && sk[b + 2] === hi && sk[b + 1] === vid) return i;
    }
  }

  private find(vid: number, hi: number, lo: number): Entry | null {
    const i = this.findSlot(vid, hi, lo);
    return i < 0 ? null : this.pool[this.sk[8 * i] - 1];
  }

  /** When `e` (in the table) was last seen as a source. */
  private seenNs(e: Entry): number {
    return this.sf[4 * e.slot + 3];
  }

  /** Doubles the slot array and re-places every entry (in slot order: deterministic). */
  private grow(): void {
    const oldSk = this.sk;
    const oldSf = this.sf;
    const oldCapacity = this.capacity;
    const capacity = oldCapacity * 2;
    const buffer = new ArrayBuffer(capacity * 32);
    const sk = new Int32Array(buffer);
    const sf = new Float64Array(buffer);
    const mask = capacity - 1;
    for (let j = 0; j < oldCapacity; j++) {
      const id = oldSk[8 * j];
      if (id === 0) continue;
      const e = this.pool[id - 1];
      e.home = MacTable.hash(e.vid, e.hi, e.lo) & mask;
      let i = e.home;
      while (sk[8 * i] !== 0) i = (i + 1) & mask;
      for (let k = 0; k < 8; k++) sk[8 * i + k] = oldSk[8 * j + k];
      sf[4 * i + 3] = oldSf[4 * j + 3];
      e.slot = i;
    }
    this.sk = sk;
    this.sf = sf;
    this.capacity = capacity;
    this.mask = mask;
  }

  /** Places a new entry; the caller made room (count < maxEntries, so a free slot exists). */
  private insert(vid: number, hi: number, lo: number, port: number, nowNs: number, isStatic: boolean): Entry {
    let id = this.freeIds.pop();
    if (id === undefined) {
      this.pool.push(new Entry());
      id = this.pool.length;
    }
    const e = this.pool[id - 1];
    e.vid = vid;
    e.hi = hi;
    e.lo = lo;
    e.mac = hi * 0x1000000 + lo;
    e.port = port;
    e.isStatic = isStatic;
    if (2 * (this.count + 1) > this.capacity && this.capacity < this.maxCapacity) this.grow();
    const mask = this.mask;
    const sk = this.sk;
    e.home = MacTable.hash(vid, hi, lo) & mask;
    let i = e.home;
    while (sk[8 * i] !== 0) i = (i + 1) & mask;
    const b = 8 * i;
    sk[b] = id;
    sk[b + 1] = vid;
    sk[b + 2] = hi;
    sk[b + 3] = lo;
    sk[b + 4] = port;
    sk[b + 5] = isStatic ? 1 : 0;
    this.sf[4 * i + 3] = nowNs;
    e.slot = i;
    this.count++;
    return e;
  }

  private remove(e: Entry): void {
    if (!e.isStatic) {
      this.lruUnlink(e);
      this.portUnlink(e);
    }
    // Backward-shift deletion keeps every probe chain unbroken without tombstones.
    const mask = this.mask;
    const sk = this.sk;
    const sf = this.sf;
    const id = sk[8 * e.slot];
    let hole = e.slot;
    for (let j = (hole + 1) & mask; sk[8 * j] !== 0; j = (j + 1) & mask) {
      const moving = this.pool[sk[8 * j] - 1];
      const home = moving.home;
      // `moving` may fill the hole unless its home lies cyclically in (hole, j].
      const staysPut = hole <= j ? hole < home && home <= j : hole < home || home <= j;
      if (staysPut) continue;
      for (let k = 0; k < 8; k++) sk[8 * hole + k] = sk[8 * j + k];
      sf[4 * hole + 3] = sf[4 * j + 3];
      moving.slot = hole;
      hole = j;
    }
    sk[8 * hole] = 0;
    e.slot = -1;
    this.freeIds.push(id);
    this.count--;
  }

  /** Places `e` in the global list at its sorted position, keyed by its last-seen time. */
  private lruInsert(e: Entry): void {
    const key = this.seenNs(e);
    e.lruListedNs = key;
    // Time only moves forward, so the place is almost always the tail.
    let after = this.lruTail;
    while (after !== null && after.lruListedNs > key) after = after.prev;
    e.prev = after;
    e.next = after === null ? this.lruHead : after.next;
    if (e.next !== null) e.next.prev = e;
    else this.lruTail = e;
    if (after !== null) after.next = e;
    else this.lruHead = e;
  }

  private lruUnlink(e: Entry): void {
    if (e.prev !== null) e.prev.next = e.next;
    else this.lruHead = e.next;
    if (e.next !== null) e.next.prev = e.prev;
    else this.lruTail = e.prev;
    e.prev = null;
    e.next = null;
  }

  /** Places `e` in its port's list at its sorted position, keyed by its last-seen time. */
  private portInsert(e: Entry): void {
    let list = this.ports[e.port];
    if (list === undefined) {
      list = new PortList(e.port);
      this.ports[e.port] = list;
    }
    const key = this.seenNs(e);
    e.portListedNs = key;
    let after = list.tail;
    while (after !== null && after.portListedNs > key) after = after.portPrev;
    e.portPrev = after;
    e.portNext = after === null ? list.head : after.portNext;
    if (e.portNext !== null) e.portNext.portPrev = e;
    else list.tail = e;
    if (after !== null) after.portNext = e;
    else list.head = e;
    list.count++;
  }

  private portUnlink(e: Entry): void {
    const list = this.ports[e.port];
    if (e.portPrev !== null) e.portPrev.portNext = e.portNext;
    else list.head = e.portNext;
    if (e.portNext !== null) e.portNext.portPrev = e.portPrev;
    else list.tail = e.portPrev;
    e.portPrev = null;
    e.portNext = null;
    list.count--;
  }
}
