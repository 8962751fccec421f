/**
 * Per-port counters and per-device drop reasons. Every frame a device refuses is counted under a
 * reason code; nothing disappears silently. Counters are plain numbers on preallocated objects
 * so counting allocates nothing.
 */

export interface PortCounters {
  rxFrames: number;
  rxBytes: number;
  txFrames: number;
  txBytes: number;
  drops: number;
}

export function newPortCounters(): PortCounters {
  return { rxFrames: 0, rxBytes: 0, txFrames: 0, txBytes: 0, drops: 0 };
}

/** Drop reasons, counted per device. Reason codes are short kebab-case constants. */
export class DropCounters {
  private readonly byReason = new Map<string, number>();
  total = 0;

  add(reason: string, count = 1): void {
    this.total += count;
    this.byReason.set(reason, (this.byReason.get(reason) ?? 0) + count);
  }

  get(reason: string): number {
    return this.byReason.get(reason) ?? 0;
  }

  /** Sorted by reason, for stable output. */
  entries(): [string, number][] {
    return [...this.byReason.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  }
}
