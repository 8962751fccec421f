/**
 * NIC teaming for a virtual switch (vSphere's load-balancing and failover policies): which
 * uplink a VM's frame leaves by, and which uplink a VM accepts flooded frames from. The uplinks
 * are one `Bundle` (bundle.ts) that holds their state; a `Teaming` is a policy over it, one per
 * port group (vSphere lets a port group override the switch's policy), and holds no frames.
 *
 * The policies, as vSphere documents them ("Teaming and Failover Policy"):
 * - `originating-port` (the default): VM port k uses usable uplink k mod n;
 * - `source-mac`: the source MAC's last byte mod n;
 * - `ip-hash`: the XOR of the last bytes of the source and destination IPv4 addresses, mod n;
 *   for a frame that is not IPv4, "whatever is at those offsets" (bytes 15 and 19 behind the
 *   EtherType); needs a static EtherChannel (or LACP) on the switch side, which sees the uplinks
 *   as one port and sends each flood down one member;
 * - `explicit-failover`: the first usable uplink in the configured order;
 * - `lacp`: the uplinks form a LAG negotiated by LACP (vSphere's distributed switch LAG); the
 *   member is chosen by the LAG's hash (bundle.ts) among members LACP lets distribute.
 *
 * Failover order: `active` uplinks carry traffic, `standby` ones take an active slot when an
 * active uplink fails (in order), uplinks in neither are unused by the policy. With `failback`
 * (the default) a recovered active uplink takes its slot back; without it the standby keeps the
 * slot until it fails itself.
 *
 * Floods: the policies that spread VMs over independent uplinks take broadcast, multicast and
 * unknown unicast only from the VM's own uplink (the physical switch floods a copy down each
 * uplink, and the VM must not see it twice: vSphere's per-uplink receive filter); `ip-hash` and
 * `lacp` take them from any member, since the switch side is one port channel that sends one.
 */

import type { Mac } from "../wire/addr.ts";
import { type Bundle, type LagHash, lagHash } from "./bundle.ts";
import type { Frame } from "./frame.ts";

export type TeamingPolicyName = "originating-port" | "source-mac" | "ip-hash" | "explicit-failover" | "lacp";

export const TEAMING_POLICIES: readonly TeamingPolicyName[] = [
  "originating-port",
  "source-mac",
  "ip-hash",
  "explicit-failover",
  "lacp",
];

/** A port group's (or the switch's) teaming settings, uplinks as device ports. */
export interface TeamingConfig {
  policy: TeamingPolicyName;
  /** Active uplinks in failover order (default: every uplink of the switch). */
  active?: readonly number[];
  /** Standby uplinks in order (default: none). */
  standby?: readonly number[];
  failback?: boolean;
  /** The LAG hash for `lacp` (default l3l4). */
  lagHash?: LagHash;
}

/**
 * What a policy may know of the VM port a frame comes from or goes to (the vswitch passes its
 * own port object, so asking allocates nothing): its position among the VM ports (vSphere's
 * virtual port id) and the MAC the switch honours for it.
 */
export interface TeamedPort {
  readonly ordinal: number;
  readonly honoredMac: Mac;
}

export class Teaming {
  readonly policy: TeamingPolicyName;
  readonly isFailback: boolean;
  private readonly activeOrder: Int32Array;
  private readonly standbyOrder: Int32Array;
  /** The uplink in each active slot, or -1 (rebuilt when the bundle changes). */
  private readonly slots: Int32Array;
  /** Slots' uplinks that are usable, in slot order: `usable[0..usableCount)`. */
  private readonly usable: Int32Array;
  private usableCount = 0;
  private seenVersion = -1;
  private readonly hashKind: LagHash;
  /** The hash the last `selectUplink` used (for trace text). */
  lastHash = 0;

  constructor(
    readonly bundle: Bundle,
    config: TeamingConfig,
  ) {
    this.policy = config.policy;
    this.isFailback = config.failback ?? true;
    this.hashKind = config.lagHash ?? "l3l4";
    this.activeOrder = Int32Array.from(config.active ?? bundle.members);
    this.standbyOrder = Int32Array.from(config.standby ?? []);
    this.slots = new Int32Array(this.activeOrder.length).fill(-1);
    this.usable = new Int32Array(this.activeOrder.length);
    this.refresh();
  }

  /** The LAG hash this policy uses with `lacp` (for display). */
  get lagHashName(): LagHash {
    return this.hashKind;
  }

  /** Active and standby uplinks in configured order (device ports). */
  get order(): { active: number[]; standby: number[] } {
    return { active: Array.from(this.activeOrder), standby: Array.from(this.standbyOrder) };
  }

  /** Whether the switch side must see the uplinks as one port (a port channel). */
  get isChannel(): boolean {
    return this.policy === "ip-hash" || this.policy === "lacp";
  }

  /** The usable uplinks now, in slot order (a copy, for display). */
  usableUplinks(): number[] {
    this.refresh();
    return Array.from(this.usable.subarray(0, this.usableCount));
  }

  /**
   * The uplink a frame from `vm` leaves by, or -1 when none is usable. With `frame` null (for
   * display and "notify switches"), a per-frame hash policy answers its first usable uplink.
   */
  selectUplink(vm: TeamedPort, frame: Frame | null): number {
    if (this.seenVersion !== this.bundle.version) this.refresh();
    const n = this.usableCount;
    if (n === 0) return -1;
    switch (this.policy) {
      case "originating-port":
        this.lastHash = vm.ordinal;
        return this.usable[vm.ordinal % n];
      case "source-mac": {
        const h = vm.honoredMac % 256;
        this.lastHash = h;
        return this.usable[h % n];
      }
      case "explicit-failover":
        return this.usable[0];
      case "ip-hash": {
        if (frame === null) return this.usable[0];
        const h = ipHash(frame.buf, frame.start, frame.length);
        this.lastHash = h;
        return this.usable[h % n];
      }
      case "lacp": {
        if (frame === null) return this.usable[0];
        const h = lagHash(this.hashKind, frame.buf, frame.start, frame.length);
        this.lastHash = h;
        return this.usable[(h >>> 0) % n];
      }
    }
  }

  /** Whether a flood that came in on `uplink` goes to `vm`. */
  acceptsFlood(uplink: number, vm: TeamedPort): boolean {
    if (this.isChannel) return this.bundle.isAdmissible(uplink) && this.isUsable(uplink);
    return this.selectUplink(vm, null) === uplink;
  }

  /** A short account of the last choice for `vm`, for trace text ("source-mac hash 0x3"). */
  describe(uplinkName: string, vmName: string): string {
    if (this.policy === "originating-port" || this.policy === "explicit-failover")
      return `${vmName} pinned to ${uplinkName}, ${this.policy}`;
    return `${this.policy} hash 0x${this.lastHash.toString(16)} -> ${uplinkName}`;
  }

  private isUsable(uplink: number): boolean {
    if (this.seenVersion !== this.bundle.version) this.refresh();
    for (let i = 0; i < this.usableCount; i++) if (this.usable[i] === uplink) return true;
    return false;
  }

  /** Re-fills the active slots from the bundle's state (failover and failback). */
  private refresh(): void {
    const b = this.bundle;
    this.seenVersion = b.version;
    const isTaken = (p: number) => {
      for (let i = 0; i < this.slots.length; i++) if (this.slots[i] === p) return true;
      return false;
    };
    for (let i = 0; i < this.slots.length; i++) {
      const primary = this.activeOrder[i];
      const current = this.slots[i];
      if (
        b.isAdmissible(primary) &&
        (this.isFailback || current === -1 || current === primary || !b.isAdmissible(current))
      ) {
        if (current !== primary) this.slots[i] = primary;
        continue;
      }
      if (current !== -1 && current !== primary && b.isAdmissible(current)) continue;
      this.slots[i] = -1;
      for (let k = 0; k < this.standbyOrder.length; k++) {
        const s = this.standbyOrder[k];
        if (b.isAdmissible(s) && !isTaken(s)) {
          this.slots[i] = s;
          break;
        }
      }
    }
    let n = 0;
    for (let i = 0; i < this.slots.length; i++) if (this.slots[i] >= 0) this.usable[n++] = this.slots[i];
    this.usableCount = n;
  }
}

/**
 * vSphere's IP hash over the frame at `start`: the XOR of the bytes at offsets 15 and 19 behind
 * the EtherType (an IPv4 header's source and destination addresses' last bytes; for another
 * protocol whatever is there). An 802.1Q tag is stepped over.
 */
export function ipHash(buf: Uint8Array, start: number, length: number): number {
  let l3 = start + 14;
  const type = (buf[start + 12] << 8) | buf[start + 13];
  if (type === 0x8100 && length >= 18) l3 += 4;
  const end = start + length;
  const a = l3 + 15 < end ? buf[l3 + 15] : 0;
  const b = l3 + 19 < end ? buf[l3 + 19] : 0;
  return a ^ b;
}
