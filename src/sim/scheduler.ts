/**
 * The discrete-event scheduler of the simulator. Events run in (time in ns, sequence number)
 * order, so events due at the same time run in the order they were scheduled (the ns-3 rule).
 * Cancelling marks an event; it is skipped when it comes due.
 *
 * The queue is a timing wheel (a calendar queue of fixed-width buckets) in front of a binary
 * heap. Time is cut into buckets of BUCKET_NS; the WHEEL_BUCKETS buckets after the current one
 * are singly linked lists of event slots in scheduling order, and events further ahead wait in
 * the heap until the wheel reaches them. When the current bucket runs empty the wheel steps to
 * the next non-empty bucket, and its few events are sorted by (time, sequence) into a small
 * "current" array that is consumed from the front; an event scheduled into the current bucket
 * (or an earlier one: the wheel may have looked ahead past `now`) is inserted there in order.
 * So the common event (a frame delivered a few hundred ns to a few us later) is an O(1) append
 * and an O(1) pop instead of two walks through a heap of every pending timer. The order is the
 * same total order as a plain heap, so runs are identical.
 *
 * Allocation-lean: events live in pooled slots on parallel typed arrays (time, sequence,
 * generation, list link) plus two plain arrays for the target and its argument. A hot-path
 * event (a link delivering a frame) is `(target, arg, argNum)` with a long-lived target object,
 * so scheduling one allocates nothing. Closures (`at`, `after`) are for the rare events (device
 * timers, traffic generators).
 *
 * A handle identifies a slot and its generation, so cancelling an event that already ran (and
 * whose slot was reused) does nothing.
 */

/** An object that events are delivered to; `arg`/`argNum` are whatever the scheduler was given. */
export interface EventTarget {
  onEvent(arg: unknown, argNum: number, nowNs: number): void;
}

/** Slot index bits in a handle: up to 2^24 events pending at once; the rest is the generation. */
const SLOT_BITS = 2 ** 24;

/** Width of a wheel bucket: a few frame-hops' worth of simulated time. */
const BUCKET_NS = 16;
/** Buckets on the wheel (a power of two): 16,384 x 16 ns = 262 us ahead without the heap. */
const WHEEL_BUCKETS = 16384;
const WHEEL_MASK = WHEEL_BUCKETS - 1;

/** Beyond this bucket number (2,000 years) bucket + 1 may round; such events stay in the heap. */
const MAX_WHEEL_BUCKET = 2 ** 50;

function bucketOf(timeNs: number): number {
  return Math.floor(timeNs / BUCKET_NS);
}

/** Adapts a closure to an EventTarget (used by `at`/`after`). */
const CLOSURE_TARGET: EventTarget = {
  onEvent(arg, _argNum, nowNs) {
    (arg as (nowNs: number) => void)(nowNs);
  },
};

export class Scheduler {
  private timeNs: Float64Array;
  private seq: Float64Array;
  private gen: Uint32Array;
  private isCancelled: Uint8Array;
  /** Next slot in the same wheel bucket, or -1. */
  private next: Int32Array;
  private targets: (EventTarget | null)[];
  private args: unknown[];
  private argNums: Float64Array;
  /** The bucket whose events are in `cur`; every pending event of an earlier bucket is too. */
  private curBucket = -1;
  /** Slots of the current bucket sorted by (time, sequence), pending from curHead to curLen. */
  private cur: Int32Array;
  private curHead = 0;
  private curLen = 0;
  /** Wheel: first and last slot of each bucket's list (-1 when empty), and how many are on it. */
  private readonly wheelHead = new Int32Array(WHEEL_BUCKETS).fill(-1);
  private readonly wheelTail = new Int32Array(WHEEL_BUCKETS).fill(-1);
  private wheelCount = 0;
  /**
   * The heap of events beyond the wheel, keys inline so that sifting never chases a slot:
   * position i holds the event of slot heap[i], due at heapTime[i], scheduled as heapSeq[i].
   */
  private heap: Int32Array;
  private heapTime: Float64Array;
  private heapSeq: Float64Array;
  private heapSize = 0;
  /** Free slots (a stack). */
  private free: Int32Array;
  private freeCount: number;
  private capacity: number;
  private nextSeq = 0;
  private nowNs = 0;
  /** Events executed since creation (cancelled ones excluded). */
  executed = 0;

  constructor(initialCapacity = 1024) {
    this.capacity = initialCapacity;
    this.timeNs = new Float64Array(initialCapacity);
    this.seq = new Float64Array(initialCapacity);
    this.heapTime = new Float64Array(initialCapacity);
    this.heapSeq = new Float64Array(initialCapacity);
    this.gen = new Uint32Array(initialCapacity);
    this.isCancelled = new Uint8Array(initialCapacity);
    this.next = new Int32Array(initialCapacity);
    this.targets = new Array(initialCapacity).fill(null);
    this.args = new Array(initialCapacity).fill(null);
    this.argNums = new Float64Array(initialCapacity);
    this.heap = new Int32Array(initialCapacity);
    this.cur = new Int32Array(initialCapacity);
    this.free = new Int32Array(initialCapacity);
    for (let i = 0; i < initialCapacity; i++) this.free[i] = initialCapacity - 1 - i;
    this.freeCount = initialCapacity;
  }

  /** Current simulated time in ns. */
  now(): number {
    return this.nowNs;
  }

  /** Number of pending events, cancelled ones included until they come due. */
  get pending(): number {
    return this.curLen - this.curHead + this.wheelCount + this.heapSize;
  }

  /** Time of the next live event, or Infinity when none. */
  nextTimeNs(): number {
    for (;;) {
      if (this.curHead === this.curLen && !this.advance(Number.POSITIVE_INFINITY)) {
        return Number.POSITIVE_INFINITY;
      }
      const slot = this.cur[this.curHead];
      if (this.isCancelled[slot] === 0) return this.timeNs[slot];
      this.curHead++;
      this.release(slot);
    }
  }

  /**
   * Schedules `target.onEvent(arg, argNum, t)` at absolute time `timeNs` (not before now).
   * Returns a handle for `cancel`.
   */
  schedule(timeNs: number, target: EventTarget, arg: unknown, argNum: number): number {
    if (!(timeNs >= this.nowNs)) {
      throw new RangeError(`cannot schedule at ${timeNs} ns, before now (${this.nowNs} ns)`);
    }
    if (this.freeCount === 0) this.grow();
    const slot = this.free[--this.freeCount];
    const q = this.nextSeq++;
    this.timeNs[slot] = timeNs;
    this.seq[slot] = q;
    this.isCancelled[slot] = 0;
    this.targets[slot] = target;
    this.args[slot] = arg;
    this.argNums[slot] = argNum;
    this.enqueue(slot, timeNs, q);
    return this.gen[slot] * SLOT_BITS + slot;
  }

  /** Runs `fn(nowNs)` at absolute time `timeNs`. */
  at(timeNs: number, fn: (nowNs: number) => void): number {
    return this.schedule(timeNs, CLOSURE_TARGET, fn, 0);
  }

  /** Runs `fn(nowNs)` after `delayNs`. */
  after(delayNs: number, fn: (nowNs: number) => void): number {
    return this.schedule(this.nowNs + delayNs, CLOSURE_TARGET, fn, 0);
  }

  /** Cancels a pending event; a handle of an event that already ran or was cancelled is ignored. */
  cancel(handle: number): void {
    const slot = handle % SLOT_BITS;
    const generation = Math.floor(handle / SLOT_BITS);
    if (slot < 0 || slot >= this.capacity || this.gen[slot] !== generation) return;
    if (this.targets[slot] === null) return;
    this.isCancelled[slot] = 1;
    // Drop references now so a cancelled frame can be collected before it comes due.
    this.args[slot] = null;
  }

  /** Runs every event due at or before `timeNs`, then sets the clock to `timeNs`. */
  runUntil(timeNs: number): number {
    let count = 0;
    const limit = bucketOf(timeNs);
    for (;;) {
      if (this.curHead === this.curLen && !this.advance(limit)) break;
      const slot = this.cur[this.curHead];
      if (this.timeNs[slot] > timeNs) break;
      this.curHead++;
      if (this.runSlot(slot)) count++;
    }
    if (timeNs > this.nowNs && Number.isFinite(timeNs)) this.nowNs = timeNs;
    return count;
  }

  /**
   * Runs events until none is left or `limit` events have run. Returns the number run; a caller
   * that reaches the limit knows the world did not settle (a loop, or endless traffic).
   */
  runUntilIdle(limit = Number.POSITIVE_INFINITY): number {
    let count = 0;
    while (count < limit) {
      if (this.curHead === this.curLen && !this.advance(Number.POSITIVE_INFINITY)) break;
      const slot = this.cur[this.curHead++];
      if (this.runSlot(slot)) count++;
    }
    return count;
  }

  /** Runs the event of a slot just taken off the queue unless cancelled; true when it ran. */
  private runSlot(slot: number): boolean {
    const target = this.targets[slot];
    const arg = this.args[slot];
    const argNum = this.argNums[slot];
    const wasCancelled = this.isCancelled[slot] === 1;
    const t = this.timeNs[slot];
    this.release(slot);
    if (wasCancelled || target === null) return false;
    this.nowNs = t;
    this.executed++;
    target.onEvent(arg, argNum, t);
    return true;
  }

  /** Puts a slot in the current array, on the wheel or in the heap, by its bucket. */
  private enqueue(slot: number, t: number, q: number): void {
    const b = bucketOf(t);
    const cb = this.curBucket;
    if (b <= cb) {
      this.insertCurrent(slot, t, q);
    } else if (b - cb < WHEEL_BUCKETS && b < MAX_WHEEL_BUCKET) {
      const i = b & WHEEL_MASK;
      const tail = this.wheelTail[i];
      this.next[slot] = -1;
      if (tail === -1) this.wheelHead[i] = slot;
      else this.next[tail] = slot;
      this.wheelTail[i] = slot;
      this.wheelCount++;
    } else {
      this.siftUp(this.heapSize++, slot, t, q);
    }
  }

  /** Inserts into the sorted current array; a new event usually belongs at or near the end. */
  private insertCurrent(slot: number, t: number, q: number): void {
    if (this.curHead === this.curLen) {
      this.curHead = 0;
      this.curLen = 0;
    } else if (this.curLen === this.cur.length) {
      if (this.curHead > 0) {
        this.cur.copyWithin(0, this.curHead, this.curLen);
        this.curLen -= this.curHead;
        this.curHead = 0;
      } else {
        const grown = new Int32Array(this.cur.length * 2);
        grown.set(this.cur);
        this.cur = grown;
      }
    }
    const cur = this.cur;
    const times = this.timeNs;
    const seqs = this.seq;
    let pos = this.curLen++;
    while (pos > this.curHead) {
      const prev = cur[pos - 1];
      const pt = times[prev];
      if (pt < t || (pt === t && seqs[prev] < q)) break;
      cur[pos] = prev;
      pos--;
    }
    cur[pos] = slot;
  }

  /**
   * Loads the next non-empty bucket, if it is not after bucket `limit`, into the (empty) current
   * array; false when nothing is due by then. The wheel never moves past `limit`: `runUntil`
   * passes the bucket of its end time, so a far event (a timer minutes ahead) is not made
   * current while nearer events are still to be scheduled (they would all be inserted in front
   * of it). Events later scheduled in or before the current bucket go into the current array,
   * which stays sorted.
   */
  private advance(limit: number): boolean {
    this.curHead = 0;
    this.curLen = 0;
    const isOnWheel = this.wheelCount > 0;
    let b: number;
    if (isOnWheel) {
      b = this.curBucket + 1;
      while (this.wheelHead[b & WHEEL_MASK] === -1) b++;
    } else {
      if (this.heapSize === 0) return false;
      b = bucketOf(this.heapTime[0]);
    }
    if (b > limit) {
      if (limit > this.curBucket) {
        this.curBucket = limit;
        this.pullFromHeap();
      }
      return false;
    }
    this.curBucket = b;
    if (isOnWheel) {
      const i = b & WHEEL_MASK;
      let slot = this.wheelHead[i];
      this.wheelHead[i] = -1;
      this.wheelTail[i] = -1;
      while (slot !== -1) {
        const nextSlot = this.next[slot];
        this.wheelCount--;
        this.insertCurrent(slot, this.timeNs[slot], this.seq[slot]);
        slot = nextSlot;
      }
    } else {
      // The wheel was empty: jump to the heap's earliest bucket (the heap yields it sorted).
      while (this.heapSize > 0 && bucketOf(this.heapTime[0]) === b) {
        const slot = this.heap[0];
        this.popTop();
        this.insertCurrent(slot, this.timeNs[slot], this.seq[slot]);
      }
    }
    this.pullFromHeap();
    return true;
  }

  /** Moves the heap's events that the wheel now reaches onto it (in heap order). */
  private pullFromHeap(): void {
    const limit = Math.min(this.curBucket + WHEEL_BUCKETS, MAX_WHEEL_BUCKET);
    while (this.heapSize > 0 && bucketOf(this.heapTime[0]) < limit) {
      const slot = this.heap[0];
      this.popTop();
      this.enqueue(slot, this.timeNs[slot], this.seq[slot]);
    }
  }

  private release(slot: number): void {
    this.targets[slot] = null;
    this.args[slot] = null;
    this.gen[slot] = (this.gen[slot] + 1) & 0x1fffffff;
    this.free[this.freeCount++] = slot;
  }

  private siftUp(pos: number, slot: number, t: number, q: number): void {
    const heap = this.heap;
    const ht = this.heapTime;
    const hq = this.heapSeq;
    while (pos > 0) {
      const parentPos = (pos - 1) >> 1;
      const pt = ht[parentPos];
      if (pt < t || (pt === t && hq[parentPos] < q)) break;
      heap[pos] = heap[parentPos];
      ht[pos] = pt;
      hq[pos] = hq[parentPos];
      pos = parentPos;
    }
    heap[pos] = slot;
    ht[pos] = t;
    hq[pos] = q;
  }

  private popTop(): void {
    const heap = this.heap;
    const ht = this.heapTime;
    const hq = this.heapSeq;
    const n = --this.heapSize;
    if (n === 0) return;
    const slot = heap[n];
    const t = ht[n];
    const q = hq[n];
    let pos = 0;
    for (;;) {
      let child = 2 * pos + 1;
      if (child >= n) break;
      let ct = ht[child];
      const right = child + 1;
      if (right < n) {
        const rt = ht[right];
        if (rt < ct || (rt === ct && hq[right] < hq[child])) {
          child = right;
          ct = rt;
        }
      }
      if (t < ct || (t === ct && q < hq[child])) break;
      heap[pos] = heap[child];
      ht[pos] = ct;
      hq[pos] = hq[child];
      pos = child;
    }
    heap[pos] = slot;
    ht[pos] = t;
    hq[pos] = q;
  }

  private grow(): void {
    const old = this.capacity;
    const cap = old * 2;
    if (cap > SLOT_BITS) throw new RangeError(`more than ${SLOT_BITS} events pending at once`);
    const f64 = (a: Float64Array) => {
      const n = new Float64Array(cap);
      n.set(a);
      return n;
    };
    this.timeNs = f64(this.timeNs);
    this.seq = f64(this.seq);
    this.heapTime = f64(this.heapTime);
    this.heapSeq = f64(this.heapSeq);
    this.argNums = f64(this.argNums);
    const g = new Uint32Array(cap);
    g.set(this.gen);
    this.gen = g;
    const c = new Uint8Array(cap);
    c.set(this.isCancelled);
    this.isCancelled = c;
    const h = new Int32Array(cap);
    h.set(this.heap);
    this.heap = h;
    const nx = new Int32Array(cap);
    nx.set(this.next);
    this.next = nx;
    for (let i = old; i < cap; i++) {
      this.targets.push(null);
      this.args.push(null);
    }
    const free = new Int32Array(cap);
    // All old slots are in use (the free stack was empty); new slots are free.
    let k = 0;
    for (let i = cap - 1; i >= old; i--) free[k++] = i;
    this.free = free;
    this.freeCount = k;
    this.capacity = cap;
  }
}
