/**
 * Storm control: per-port ingress rate limits on the traffic a layer-2 device floods
 * (broadcast, multicast, unknown unicast), as physical switches offer it (`storm-control
 * broadcast level pps N`) and as the uplinks of a virtual switch need it, so that a burst from
 * one guest or one broken NIC is not multiplied by every flood on its way. Off unless configured.
 *
 * Each limited class has a token bucket holding one second of its rate (switches measure storm
 * levels over one-second intervals): a frame of the class takes a token or is dropped and counted
 * under `storm-control-<class>`. Time comes in with the frame; nothing here allocates.
 */

/** Packets per second per class; null or absent: not limited. */
export interface StormControlConfig {
  broadcastPps?: number | null;
  multicastPps?: number | null;
  unknownUnicastPps?: number | null;
}

export const StormClass = { broadcast: 0, multicast: 1, unknownUnicast: 2 } as const;
export type StormClass = (typeof StormClass)[keyof typeof StormClass];

/** The drop code of each class, indexed by `StormClass`. */
export const STORM_DROP_CODES = [
  "storm-control-broadcast",
  "storm-control-multicast",
  "storm-control-unknown-unicast",
] as const;

/** True when the destination MAC at `offset` is ff:ff:ff:ff:ff:ff. */
export function isBroadcastAt(buf: Uint8Array, offset: number): boolean {
  return (
    (buf[offset] &
      buf[offset + 1] &
      buf[offset + 2] &
      buf[offset + 3] &
      buf[offset + 4] &
      buf[offset + 5]) ===
    0xff
  );
}

const CLASS_NAMES = ["broadcast", "multicast", "unknown unicast"] as const;

export class StormControl {
  /** Per class: rate (packets per ns; 0 = unlimited), bucket capacity, tokens, last refill. */
  private readonly ratePerNs = new Float64Array(3);
  private readonly capacity = new Float64Array(3);
  private readonly tokens = new Float64Array(3);
  private readonly lastNs = new Float64Array(3);

  constructor(config: StormControlConfig) {
    const rates = [config.broadcastPps, config.multicastPps, config.unknownUnicastPps];
    rates.forEach((pps, c) => {
      if (pps === null || pps === undefined) return;
      if (!Number.isFinite(pps) || pps <= 0) throw new RangeError(`storm control: bad rate ${pps} pps`);
      this.ratePerNs[c] = pps / 1e9;
      this.capacity[c] = Math.max(1, pps);
      this.tokens[c] = this.capacity[c];
    });
  }

  /** True when the config limits nothing (a device then keeps no StormControl at all). */
  static isEmpty(config: StormControlConfig | undefined | null): boolean {
    return (
      config === undefined ||
      config === null ||
      ((config.broadcastPps ?? null) === null &&
        (config.multicastPps ?? null) === null &&
        (config.unknownUnicastPps ?? null) === null)
    );
  }

  /** Whether one more frame of class `c` may pass at `nowNs` (and takes its token). */
  admit(c: StormClass, nowNs: number): boolean {
    const rate = this.ratePerNs[c];
    if (rate === 0) return true;
    const cap = this.capacity[c];
    let t = this.tokens[c] + (nowNs - this.lastNs[c]) * rate;
    if (t > cap) t = cap;
    this.lastNs[c] = nowNs;
    if (t < 1) {
      this.tokens[c] = t;
      return false;
    }
    this.tokens[c] = t - 1;
    return true;
  }

  /** The rate of class `c` in words, for drop reasons: "broadcast above 1000 pps". */
  static describe(c: StormClass, config: StormControlConfig): string {
    const pps = [config.broadcastPps, config.multicastPps, config.unknownUnicastPps][c];
    return `${CLASS_NAMES[c]} above ${pps} pps`;
  }
}
