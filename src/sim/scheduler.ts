/**
 * The discrete-event scheduler of the simulator: a binary min-heap of pending events ordered by
 * (time in ns, sequence number), so events due at the same time run in the order they were
 * scheduled (the ns-3 rule). Cancelling marks an event; the heap skips it when it surfaces.
 *
 * Allocation-lean: events live in pooled slots on parallel typed arrays (time, sequence,
 * generation) plus two plain arrays for the target and its argument; the heap holds slot
 * indexes. A hot-path event (a link delivering a frame) is `(target, arg, argNum)` with a
 * long-lived target object, so scheduling one allocates nothing. Closures (`at`, `after`) are
 * for the rare events (device timers, traffic generators).
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

/** Adapts a closure to an EventTarget (used by `at`/`after`). */
const CLOSURE_TARGET: EventTarget = {
  onEvent(arg, _argNum, nowNs) {
    (arg as (nowNs: number) => void)(nowNs);
  },
};

export class Scheduler {
  private timeNs: Float64Array;
  private gen: Uint32Array;
  private isCancelled: Uint8Array;
  private targets: (EventTarget | null)[];
  private args: unknown[];
  private argNums: Float64Array;
  /**
   * The heap, keys inline so that sifting never chases a slot: position i holds the event of
   * slot heap[i], due at heapTime[i], scheduled as number heapSeq[i]. heap[0] is the next event.
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
    this.heapTime = new Float64Array(initialCapacity);
    this.heapSeq = new Float64Array(initialCapacity);
    this.gen = new Uint32Array(initialCapacity);
    this.isCancelled = new Uint8Array(initialCapacity);
    this.targets = new Array(initialCapacity).fill(null);
    this.args = new Array(initialCapacity).fill(null);
    this.argNums = new Float64Array(initialCapacity);
    this.heap = new Int32Array(initialCapacity);
    this.free = new Int32Array(initialCapacity);
    for (let i = 0; i < initialCapacity; i++) this.free[i] = initialCapacity - 1 - i;
    this.freeCount = initialCapacity;
  }

  /** Current simulated time in ns. */
  now(): number {
    return this.nowNs;
  }

  /** Number of pending events, cancelled ones included until they surface. */
  get pending(): number {
    return this.heapSize;
  }

  /** Time of the next live event, or Infinity when none. */
  nextTimeNs(): number {
    this.skipCancelled();
    return this.heapSize === 0 ? Number.POSITIVE_INFINITY : this.heapTime[0];
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
    this.timeNs[slot] = timeNs;
    this.isCancelled[slot] = 0;
    this.targets[slot] = target;
    this.args[slot] = arg;
    this.argNums[slot] = argNum;
    this.siftUp(this.heapSize++, slot, timeNs, this.nextSeq++);
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
    // Drop references now so a cancelled frame can be collected before it surfaces.
    this.args[slot] = null;
  }

  /** Runs every event due at or before `timeNs`, then sets the clock to `timeNs`. */
  runUntil(timeNs: number): number {
    let count = 0;
    while (this.heapSize > 0 && this.heapTime[0] <= timeNs) {
      if (this.runOne()) count++;
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
    while (this.heapSize > 0 && count < limit) {
      if (this.runOne()) count++;
    }
    return count;
  }

  /** Pops the next event and runs it unless cancelled; true when it ran. */
  private runOne(): boolean {
    const slot = this.heap[0];
    this.popTop();
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

  private skipCancelled(): void {
    while (this.heapSize > 0 && this.isCancelled[this.heap[0]] === 1) {
      const slot = this.heap[0];
      this.popTop();
      this.release(slot);
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
