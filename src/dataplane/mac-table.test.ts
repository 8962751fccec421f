/**
 * MAC table: learning keyed on (VLAN, MAC), idle aging on a stepped clock, the size limit with
 * fair eviction (the port with the most entries loses its least recently seen one), station
 * moves, static entries and flushes.
 */

import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { DeviceConfigError } from "./config-error.ts";
import { Learn, MacTable } from "./mac-table.ts";
import { mac } from "./testing.ts";

const S = 1e9;
const A = mac("02:00:00:00:00:0a");
const B = mac("02:00:00:00:00:0b");
const C = mac("02:00:00:00:00:0c");

describe("learning", () => {
  it("keys on (VLAN, MAC): the same MAC in two VLANs is two entries", () => {
    const t = new MacTable();
    expect(t.learn(10, A, 1, 0)).toBe(Learn.learned);
    expect(t.learn(20, A, 2, 0)).toBe(Learn.learned);
    expect(t.lookup(10, A, 0)).toBe(1);
    expect(t.lookup(20, A, 0)).toBe(2);
    expect(t.lookup(30, A, 0)).toBe(-1);
    expect(t.size).toBe(2);
  });

  it("refreshes an address seen again on the same port", () => {
    const t = new MacTable();
    t.learn(10, A, 1, 0);
    expect(t.learn(10, A, 1, 5 * S)).toBe(Learn.refreshed);
    expect(t.entries(7 * S)).toEqual([{ vid: 10, mac: A, port: 1, ageNs: 2 * S, isStatic: false }]);
  });

  it("moves a station that shows up on another port", () => {
    const t = new MacTable();
    t.learn(10, A, 1, 0);
    expect(t.learn(10, A, 3, 1 * S)).toBe(Learn.moved);
    expect(t.lastMovedFrom).toBe(1);
    expect(t.lookup(10, A, 1 * S)).toBe(3);
    expect(t.portEntryCount(1)).toBe(0);
    expect(t.portEntryCount(3)).toBe(1);
    expect(t.stats.moved).toBe(1);
  });

  it("uses MACs at the top of the 48-bit range exactly", () => {
    const t = new MacTable();
    const hi = mac("fe:ff:ff:ff:ff:fe");
    t.learn(4094, hi, 7, 0);
    t.learn(4094, hi - 1, 8, 0);
    expect(t.lookup(4094, hi, 0)).toBe(7);
    expect(t.lookup(4094, hi - 1, 0)).toBe(8);
  });
});

describe("aging", () => {
  it("an idle entry expires after the aging time, lazily on lookup", () => {
    const t = new MacTable({ agingNs: 300 * S });
    t.learn(10, A, 1, 0);
    expect(t.lookup(10, A, 299 * S)).toBe(1);
    expect(t.lookup(10, A, 300 * S)).toBe(-1);
    expect(t.size).toBe(0);
    expect(t.stats.expired).toBe(1);
  });

  it("traffic keeps an entry alive", () => {
    const t = new MacTable({ agingNs: 300 * S });
    t.learn(10, A, 1, 0);
    t.learn(10, A, 1, 200 * S);
    expect(t.lookup(10, A, 450 * S)).toBe(1);
    expect(t.lookup(10, A, 500 * S)).toBe(-1);
  });

  it("expire() removes exactly the idle entries, oldest first", () => {
    const t = new MacTable({ agingNs: 10 * S });
    t.learn(1, A, 1, 0);
    t.learn(1, B, 1, 4 * S);
    t.learn(1, C, 2, 8 * S);
    t.learn(1, A, 1, 9 * S); // A refreshed: now the youngest
    expect(t.expire(14 * S)).toBe(1); // B
    expect(t.entries(14 * S).map((e) => e.mac)).toEqual([A, C]);
    expect(t.expire(18 * S)).toBe(1); // C
    expect(t.expire(19 * S)).toBe(1); // A
    expect(t.size).toBe(0);
  });

  it("entries() does not report aged-out entries and gives ages", () => {
    const t = new MacTable({ agingNs: 10 * S });
    t.learn(5, A, 1, 0);
    t.learn(5, B, 2, 6 * S);
    expect(t.entries(12 * S)).toEqual([{ vid: 5, mac: B, port: 2, ageNs: 6 * S, isStatic: false }]);
  });

  it("an aged-out entry seen again is learned afresh, not a move", () => {
    const t = new MacTable({ agingNs: 10 * S });
    t.learn(5, A, 1, 0);
    expect(t.learn(5, A, 2, 20 * S)).toBe(Learn.learned);
    expect(t.stats.moved).toBe(0);
  });
});

describe("size limit and fair eviction", () => {
  it("when full, the port with the most entries loses its least recently seen entry", () => {
    const t = new MacTable({ maxEntries: 4 });
    // Port 1 floods three source MACs, port 2 has one.
    t.learn(10, 0x020000000101, 1, 1);
    t.learn(10, 0x020000000201, 2, 2);
    t.learn(10, 0x020000000102, 1, 3);
    t.learn(10, 0x020000000103, 1, 4);
    t.learn(10, 0x020000000101, 1, 5); // refresh: 0102 is now port 1's oldest
    expect(t.learn(10, 0x020000000301, 3, 6)).toBe(Learn.learned);
    expect(t.size).toBe(4);
    expect(t.stats.evicted).toBe(1);
    expect(t.lookup(10, 0x020000000102, 6)).toBe(-1);
    // The quiet port keeps its entry although it is the globally oldest.
    expect(t.lookup(10, 0x020000000201, 6)).toBe(2);
    expect(t.lookup(10, 0x020000000101, 6)).toBe(1);
    expect(t.lookup(10, 0x020000000301, 6)).toBe(3);
  });

  it("a port flooding random sources cannot push the others out", () => {
    const t = new MacTable({ maxEntries: 16 });
    for (let p = 2; p <= 5; p++) t.learn(1, 0x020000000000 + p, p, 0);
    for (let i = 0; i < 1000; i++) t.learn(1, 0x02aa00000000 + i, 1, i + 1);
    expect(t.size).toBe(16);
    for (let p = 2; p <= 5; p++) expect(t.lookup(1, 0x020000000000 + p, 2000)).toBe(p);
    expect(t.portEntryCount(1)).toBe(12);
    // The flooding port keeps its most recent addresses.
    expect(t.lookup(1, 0x02aa00000000 + 999, 2000)).toBe(1);
    expect(t.lookup(1, 0x02aa00000000 + 987, 2000)).toBe(-1);
  });

  it("ties between ports evict from the lower port number", () => {
    const t = new MacTable({ maxEntries: 2 });
    t.learn(1, A, 4, 0);
    t.learn(1, B, 3, 1);
    t.learn(1, C, 9, 2);
    expect(t.lookup(1, B, 2)).toBe(-1);
    expect(t.lookup(1, A, 2)).toBe(4);
  });

  it("expired entries are dropped before anyone is evicted", () => {
    const t = new MacTable({ maxEntries: 2, agingNs: 10 * S });
    t.learn(1, A, 1, 0);
    t.learn(1, B, 1, 9 * S);
    t.learn(1, C, 2, 11 * S);
    expect(t.stats.evicted).toBe(0);
    expect(t.stats.expired).toBe(1);
    expect(t.lookup(1, B, 11 * S)).toBe(1);
  });

  test.prop([
    fc.array(fc.tuple(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 1, max: 40 })), { maxLength: 200 }),
  ])("never exceeds its size and the largest port pays", (ops) => {
    const t = new MacTable({ maxEntries: 8 });
    let now = 0;
    for (const [port, m] of ops) {
      const before = [0, 1, 2, 3, 4, 5].map((p) => t.portEntryCount(p));
      const evictedBefore = t.stats.evicted;
      t.learn(1, 0x020000000000 + m, port, ++now);
      expect(t.size).toBeLessThanOrEqual(8);
      if (t.stats.evicted > evictedBefore) {
        const max = Math.max(...before);
        const after = [0, 1, 2, 3, 4, 5].map((p) => t.portEntryCount(p));
        // The victim port had the maximum count before the insertion.
        const losers = before
          .map((b, p) => (after[p] < b + (p === port ? 1 : 0) ? p : -1))
          .filter((p) => p >= 0);
        expect(losers.length).toBe(1);
        expect(before[losers[0]]).toBe(max);
      }
    }
  });
});

describe("static entries", () => {
  it("never age, never move, never get evicted", () => {
    const t = new MacTable({ maxEntries: 2, agingNs: 10 * S });
    t.addStatic(10, A, 1);
    expect(t.learn(10, A, 2, 0)).toBe(Learn.staticConflict);
    expect(t.learn(10, A, 1, 0)).toBe(Learn.refreshed);
    t.learn(10, B, 2, 0);
    t.learn(10, C, 3, 1);
    expect(t.lookup(10, A, 1000 * S)).toBe(1);
    expect(t.isStatic(10, A)).toBe(true);
    expect(t.entries(0).find((e) => e.mac === A)).toEqual({
      vid: 10,
      mac: A,
      port: 1,
      ageNs: 0,
      isStatic: true,
    });
  });

  it("a table full of static entries refuses to learn", () => {
    const t = new MacTable({ maxEntries: 1 });
    t.addStatic(1, A, 1);
    expect(t.learn(1, B, 2, 0)).toBe(Learn.full);
    expect(() => t.addStatic(1, B, 2)).toThrow(DeviceConfigError);
  });
});

describe("flush", () => {
  it("per port, per port and VLAN, per VLAN, all; static entries stay", () => {
    const t = new MacTable();
    t.addStatic(10, C, 1);
    t.learn(10, A, 1, 0);
    t.learn(20, A, 1, 0);
    t.learn(10, B, 2, 0);
    t.learn(20, B, 2, 0);
    expect(t.flushPort(1, 20)).toBe(1);
    expect(t.lookup(10, A, 0)).toBe(1);
    expect(t.flushPort(1)).toBe(1);
    expect(t.lookup(10, A, 0)).toBe(-1);
    expect(t.flushVlan(20)).toBe(1);
    expect(t.lookup(10, B, 0)).toBe(2);
    expect(t.flushAll()).toBe(1);
    expect(t.size).toBe(1);
    expect(t.lookup(10, C, 0)).toBe(1);
    expect(t.delete(10, C)).toBe(true);
    expect(t.size).toBe(0);
  });
});

describe("configuration", () => {
  it("refuses a non-positive size or aging time with a typed error", () => {
    expect(() => new MacTable({ maxEntries: 0 })).toThrow(DeviceConfigError);
    expect(() => new MacTable({ agingNs: 0 })).toThrow(DeviceConfigError);
  });
});

describe("hash table", () => {
  test.prop([
    fc.array(
      fc.tuple(
        fc.constantFrom("learn", "delete", "flush", "lookup"),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 0, max: 12 }),
        fc.integer({ min: 0, max: 3 }),
      ),
      { maxLength: 300 },
    ),
  ])("agrees with a plain map under learn, delete, flush and lookup", (ops) => {
    // 3 VLANs x 13 MACs = 39 keys < 40 entries: no eviction, so a Map is an exact model.
    const t = new MacTable({ maxEntries: 40 });
    const model = new Map<string, number>();
    // MACs that differ only in the upper half, the lower half, or both.
    const macOf = (m: number) => (m % 2 === 0 ? 0x020000000000 + m : 0x020000000000 + m * 0x1000000);
    for (const [op, vid, m, port] of ops) {
      const key = `${vid}/${m}`;
      if (op === "learn") {
        t.learn(vid, macOf(m), port, 0);
        model.set(key, port);
      } else if (op === "delete") {
        expect(t.delete(vid, macOf(m))).toBe(model.delete(key));
      } else if (op === "flush") {
        t.flushPort(port);
        for (const [k, p] of [...model]) if (p === port) model.delete(k);
      }
      expect(t.size).toBe(model.size);
      for (let v = 1; v <= 3; v++)
        for (let x = 0; x <= 12; x++) expect(t.lookup(v, macOf(x), 0)).toBe(model.get(`${v}/${x}`) ?? -1);
    }
  });

  it("keeps every entry, its port and its age while the table grows and shrinks", () => {
    const t = new MacTable({ maxEntries: 3000, agingNs: 1e9 });
    const macOf = (i: number) => 0x020000000000 + i * 0x10001;
    for (let i = 0; i < 2500; i++) expect(t.learn(1 + (i % 3), macOf(i), i % 7, i)).toBe(Learn.learned);
    for (let i = 0; i < 2500; i += 2) expect(t.delete(1 + (i % 3), macOf(i))).toBe(true);
    for (let i = 0; i < 2500; i++) {
      const expected = i % 2 === 0 ? -1 : i % 7;
      expect(t.lookup(1 + (i % 3), macOf(i), 5000)).toBe(expected);
    }
    expect(t.size).toBe(1250);
    const ages = t.entries(5000).map((e) => e.ageNs);
    expect(ages.reduce((a, b) => a + b, 0)).toBe(1250 * 5000 - 1250 * 1250);
    expect(t.learn(2, macOf(1), 3, 6000)).toBe(Learn.moved);
    expect(t.portEntryCount(1)).toBe(178);
  });

  it("reads MACs straight from frame bytes", () => {
    const t = new MacTable();
    const buf = Uint8Array.from([0, 0, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54]);
    t.learnAt(7, buf, 2, 3, 0);
    expect(t.lookup(7, mac("fe:dc:ba:98:76:54"), 0)).toBe(3);
    expect(t.lookupAt(7, buf, 2, 0)).toBe(3);
    expect(t.entries(0)[0].mac).toBe(mac("fe:dc:ba:98:76:54"));
  });
});

describe("exact LRU under lazy refresh", () => {
  test.prop([
    fc.array(
      fc.tuple(
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 0, max: 15 }),
        fc.integer({ min: 1, max: 4 }),
      ),
      { maxLength: 250 },
    ),
  ])("aging and fair eviction match a brute-force model", (ops) => {
    const AGING = 20;
    const MAX = 6;
    const t = new MacTable({ maxEntries: MAX, agingNs: AGING });
    const model = new Map<number, { port: number; seen: number }>();
    let now = 0;
    for (const [port, m, dt] of ops) {
      now += dt;
      const key = 0x020000000000 + m;
      const cur = model.get(key);
      if (cur !== undefined) {
        cur.port = port;
        cur.seen = now;
      } else {
        if (model.size >= MAX) {
          for (const [k, v] of [...model]) if (now - v.seen >= AGING) model.delete(k);
        }
        if (model.size >= MAX) {
          const counts = [0, 0, 0, 0];
          for (const v of model.values()) counts[v.port]++;
          const victimPort = counts.indexOf(Math.max(...counts));
          let oldest: [number, number] | null = null;
          for (const [k, v] of model)
            if (v.port === victimPort && (oldest === null || v.seen < oldest[1])) oldest = [k, v.seen];
          model.delete(oldest![0]);
        }
        model.set(key, { port, seen: now });
      }
      t.learn(1, key, port, now);
      const live = [...model]
        .filter(([, v]) => now - v.seen < AGING)
        .map(([k, v]) => `${k}@${v.port}`)
        .sort();
      expect(
        t
          .entries(now)
          .map((e) => `${e.mac}@${e.port}`)
          .sort(),
      ).toEqual(live);
    }
    // And explicit expiry removes exactly the idle ones.
    now += AGING / 2;
    const idle = [...model.values()].filter((v) => now - v.seen >= AGING).length;
    const before = t.size;
    t.expire(now);
    expect(before - t.size).toBe(idle);
  });
});
