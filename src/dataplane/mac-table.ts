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
 * uplinks). Keys are never strings: one Map per VLAN keyed by the 48-bit MAC number. Lookups and
 * refreshes allocate nothing; only learning a new address allocates its entry (and entries of
 * expired or evicted addresses are recycled).
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

/** An entry: doubly linked into the global LRU list (aging) and its port's LRU list (eviction). */
class Entry {
  vid = 0;
  mac = 0;
  port = 0;
  lastSeenNs = 0;
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
  private readonly vlans: (Map<number, Entry> | undefined)[] = new Array(4096);
  private readonly ports: PortList[] = [];
  /** Global LRU of dynamic entries: head is the least recently seen. */
  private lruHead: Entry | null = null;
  private lruTail: Entry | null = null;
  private count = 0;
  private free: Entry[] = [];

  constructor(options: MacTableOptions = {}) {
    this.maxEntries = options.maxEntries ?? DEFAULT_MAC_TABLE_SIZE;
    this.agingNs = options.agingNs ?? DEFAULT_MAC_AGING_NS;
    if (!Number.isInteger(this.maxEntries) || this.maxEntries < 1)
      throw new DeviceConfigError(
        "bad-value",
        `MAC table size must be a positive integer, got ${this.maxEntries}`,
      );
    if (!(this.agingNs > 0))
      throw new DeviceConfigError("bad-value", `MAC aging time must be positive, got ${this.agingNs} ns`);
  }

  /** Number of entries, static ones included. */
  get size(): number {
    return this.count;
  }

  /**
   * The port for (vid, mac), or -1. An entry idle for the aging time or longer is removed here
   * (lazily) and reported as absent.
   */
  lookup(vid: number, mac: number, nowNs: number): number {
    const e = this.vlans[vid]?.get(mac);
    if (e === undefined) return -1;
    if (!e.isStatic && nowNs - e.lastSeenNs >= this.agingNs) {
      this.remove(e);
      this.stats.expired++;
      return -1;
    }
    return e.port;
  }

  /** Whether (vid, mac) has a static entry. */
  isStatic(vid: number, mac: number): boolean {
    return this.vlans[vid]?.get(mac)?.isStatic ?? false;
  }

  /**
   * Records that `mac` was seen as a source on `port` in `vid`: refreshes, creates (evicting
   * fairly when full) or moves the entry.
   */
  learn(vid: number, mac: number, port: number, nowNs: number): LearnResult {
    let table = this.vlans[vid];
    const e = table?.get(mac);
    if (e !== undefined) {
      if (e.isStatic) {
        if (e.port === port) return Learn.refreshed;
        this.stats.staticConflicts++;
        return Learn.staticConflict;
      }
      // An entry that aged out but was not yet removed counts as expired and learned afresh.
      const wasExpired = nowNs - e.lastSeenNs >= this.agingNs;
      if (wasExpired) {
        this.stats.expired++;
        this.stats.learned++;
      }
      e.lastSeenNs = nowNs;
      this.lruUnlink(e);
      this.lruAppend(e);
      if (e.port === port) {
        this.portUnlink(e);
        this.portAppend(e);
        return wasExpired ? Learn.learned : Learn.refreshed;
      }
      this.lastMovedFrom = e.port;
      this.portUnlink(e);
      e.port = port;
      this.portAppend(e);
      if (wasExpired) return Learn.learned;
      this.stats.moved++;
      return Learn.moved;
    }
    if (this.count >= this.maxEntries) {
      // Expired entries go first: they cost nobody anything.
      this.expire(nowNs);
      if (this.count >= this.maxEntries && !this.evictFairly()) return Learn.full;
    }
    const n = this.newEntry(vid, mac, port, nowNs, false);
    if (table === undefined) {
      table = new Map();
      this.vlans[vid] = table;
    }
    table.set(mac, n);
    this.lruAppend(n);
    this.portAppend(n);
    this.stats.learned++;
    return Learn.learned;
  }

  /**
   * Installs a static entry (never ages, never moves, never evicted): a vNIC's configured MAC on
   * its vswitch port, a VF's MAC in a NIC's embedded bridge. Replaces any entry for the key.
   */
  addStatic(vid: number, mac: number, port: number): void {
    const existing = this.vlans[vid]?.get(mac);
    if (existing !== undefined) this.remove(existing);
    if (this.count >= this.maxEntries && !this.evictFairly()) {
      throw new DeviceConfigError("bad-value", `MAC table full of static entries (${this.maxEntries})`);
    }
    const e = this.newEntry(vid, mac, port, 0, true);
    let table = this.vlans[vid];
    if (table === undefined) {
      table = new Map();
      this.vlans[vid] = table;
    }
    table.set(mac, e);
  }

  /** Removes the entry for (vid, mac), static or not; returns whether there was one. */
  delete(vid: number, mac: number): boolean {
    const e = this.vlans[vid]?.get(mac);
    if (e === undefined) return false;
    this.remove(e);
    return true;
  }

  /** Removes every dynamic entry idle for the aging time; returns how many. */
  expire(nowNs: number): number {
    let n = 0;
    while (this.lruHead !== null && nowNs - this.lruHead.lastSeenNs >= this.agingNs) {
      this.remove(this.lruHead);
      n++;
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
    const table = this.vlans[vid];
    if (table === undefined) return 0;
    let n = 0;
    for (const e of [...table.values()]) {
      if (!e.isStatic) {
        this.remove(e);
        n++;
      }
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
    for (let vid = 0; vid < this.vlans.length; vid++) {
      const table = this.vlans[vid];
      if (table === undefined) continue;
      const rows: MacEntryInfo[] = [];
      for (const e of table.values()) {
        if (!e.isStatic && nowNs - e.lastSeenNs >= this.agingNs) continue;
        rows.push({
          vid,
          mac: e.mac,
          port: e.port,
          ageNs: e.isStatic ? 0 : nowNs - e.lastSeenNs,
          isStatic: e.isStatic,
        });
      }
      rows.sort((a, b) => a.mac - b.mac);
      out.push(...rows);
    }
    return out;
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
    this.remove(victim.head);
    this.stats.evicted++;
    return true;
  }

  private newEntry(vid: number, mac: number, port: number, nowNs: number, isStatic: boolean): Entry {
    const e = this.free.pop() ?? new Entry();
    e.vid = vid;
    e.mac = mac;
    e.port = port;
    e.lastSeenNs = nowNs;
    e.isStatic = isStatic;
    this.count++;
    return e;
  }

  private remove(e: Entry): void {
    this.vlans[e.vid]?.delete(e.mac);
    if (!e.isStatic) {
      this.lruUnlink(e);
      this.portUnlink(e);
    }
    this.count--;
    if (this.free.length < 64) this.free.push(e);
  }

  private lruAppend(e: Entry): void {
    e.prev = this.lruTail;
    e.next = null;
    if (this.lruTail !== null) this.lruTail.next = e;
    else this.lruHead = e;
    this.lruTail = e;
  }

  private lruUnlink(e: Entry): void {
    if (e.prev !== null) e.prev.next = e.next;
    else this.lruHead = e.next;
    if (e.next !== null) e.next.prev = e.prev;
    else this.lruTail = e.prev;
    e.prev = null;
    e.next = null;
  }

  private portAppend(e: Entry): void {
    let list = this.ports[e.port];
    if (list === undefined) {
      list = new PortList(e.port);
      this.ports[e.port] = list;
    }
    e.portPrev = list.tail;
    e.portNext = null;
    if (list.tail !== null) list.tail.portNext = e;
    else list.head = e;
    list.tail = e;
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
