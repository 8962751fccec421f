/**
 * A bundle: one logical port over several member ports, in the sense of Open vSwitch's `bond`
 * (a LAG on a physical switch, a vSphere uplink team, later one side of a multi-chassis LAG).
 * Learning, flooding and VLAN membership see the bundle as one port; only the last step of
 * egress picks a member (`chooseOutput(hash)`), and ingress asks whether a member may deliver
 * traffic at all (`isAdmissible(member)`: its carrier is up and, when a protocol such as LACP
 * runs on it, the protocol lets it collect).
 *
 * A member that may distribute is up and enabled; the distributing members are kept in
 * configured order in a typed array, rebuilt on each change (rare), so choosing a member is an
 * index, never an allocation. `version` counts changes, so policies that cache their own view of
 * the members (a vSphere team's active and standby order) know when to rebuild it.
 *
 * The hashes are those of the Linux bonding driver's `xmit_hash_policy` as its documentation
 * states them (Documentation/networking/bonding.rst): `l2` = layer2, `l3` = layer2+3, `l3l4` =
 * layer3+4, over the frame's own bytes (an 802.1Q tag is stepped over).
 */

export type LagHash = "l2" | "l3" | "l3l4";

export class Bundle {
  /** Member device ports, in configured order. */
  readonly members: Int32Array;
  /** Members that may carry traffic now (up and enabled), in configured order: `active[0..activeCount)`. */
  readonly active: Int32Array;
  activeCount = 0;
  /** Bumped on every change of a member's state. */
  version = 0;
  private readonly isMemberUp: Uint8Array;
  private readonly isMemberEnabled: Uint8Array;
  /** Device port -> member index + 1 (0: not a member); sized to the highest member port. */
  private readonly slotOf: Uint16Array;

  /**
   * `isProtocolRun`: members start disabled until a protocol (LACP) enables them; a static
   * bundle's members are enabled from the start.
   */
  constructor(
    readonly name: string,
    members: readonly number[],
    readonly isProtocolRun = false,
  ) {
    this.members = Int32Array.from(members);
    this.active = new Int32Array(members.length);
    this.isMemberUp = new Uint8Array(members.length).fill(1);
    this.isMemberEnabled = new Uint8Array(members.length).fill(isProtocolRun ? 0 : 1);
    this.slotOf = new Uint16Array(Math.max(0, ...members) + 1);
    members.forEach((p, i) => {
      this.slotOf[p] = i + 1;
    });
    this.rebuild();
  }

  /** Index of `port` among the members, or -1. */
  memberIndex(port: number): number {
    return port < this.slotOf.length ? this.slotOf[port] - 1 : -1;
  }

  isMember(port: number): boolean {
    return this.memberIndex(port) >= 0;
  }

  isUp(port: number): boolean {
    const i = this.memberIndex(port);
    return i >= 0 && this.isMemberUp[i] === 1;
  }

  isEnabled(port: number): boolean {
    const i = this.memberIndex(port);
    return i >= 0 && this.isMemberEnabled[i] === 1;
  }

  /** Carrier of a member; returns whether anything changed. */
  setMemberUp(port: number, isUp: boolean): boolean {
    const i = this.memberIndex(port);
    const v = isUp ? 1 : 0;
    if (i < 0 || this.isMemberUp[i] === v) return false;
    this.isMemberUp[i] = v;
    this.rebuild();
    return true;
  }

  /** Whether the protocol lets a member collect and distribute; returns whether anything changed. */
  setMemberEnabled(port: number, isEnabled: boolean): boolean {
    const i = this.memberIndex(port);
    const v = isEnabled ? 1 : 0;
    if (i < 0 || this.isMemberEnabled[i] === v) return false;
    this.isMemberEnabled[i] = v;
    this.rebuild();
    return true;
  }

  /** Whether a frame arriving on member `port` is taken (up and collecting). */
  isAdmissible(port: number): boolean {
    const i = this.memberIndex(port);
    return i >= 0 && this.isMemberUp[i] === 1 && this.isMemberEnabled[i] === 1;
  }

  /** The member a frame with this hash leaves by, or -1 when none may distribute. */
  chooseOutput(hash: number): number {
    const n = this.activeCount;
    if (n === 0) return -1;
    return this.active[(hash >>> 0) % n];
  }

  private rebuild(): void {
    let n = 0;
    for (let i = 0; i < this.members.length; i++)
      if (this.isMemberUp[i] === 1 && this.isMemberEnabled[i] === 1) this.active[n++] = this.members[i];
    this.activeCount = n;
    this.version++;
  }
}

/**
 * The transmit hash of a frame at `buf[start..start+length)` under a bonding policy:
 * - `l2` (layer2): source MAC[5] XOR destination MAC[5] XOR EtherType;
 * - `l3` (layer2+3): the layer2 value XOR source IP XOR destination IP, then folded
 *   (h ^= h >> 16; h ^= h >> 8);
 * - `l3l4` (layer3+4): the source and destination ports as in the header (one 32-bit word) XOR
 *   source IP XOR destination IP, folded, then shifted right by one; fragments and IPv4 without
 *   TCP/UDP hash the addresses only; non-IPv4 frames fall back to layer2.
 * The member is `hash modulo the number of members`.
 */
export function lagHash(policy: LagHash, buf: Uint8Array, start: number, length: number): number {
  let at = start + 12;
  let type = (buf[at] << 8) | buf[at + 1];
  if ((type === 0x8100 || type === 0x88a8) && length >= 18) {
    at += 4;
    type = (buf[at] << 8) | buf[at + 1];
  }
  const l2 = (buf[start + 5] ^ buf[start + 11] ^ type) >>> 0;
  if (policy === "l2") return l2;
  const ip = at + 2;
  if (type !== 0x0800 || ip + 20 > start + length) return l2;
  const src = ((buf[ip + 12] << 24) | (buf[ip + 13] << 16) | (buf[ip + 14] << 8) | buf[ip + 15]) >>> 0;
  const dst = ((buf[ip + 16] << 24) | (buf[ip + 17] << 16) | (buf[ip + 18] << 8) | buf[ip + 19]) >>> 0;
  let h: number;
  if (policy === "l3") {
    h = (l2 ^ src ^ dst) >>> 0;
  } else {
    const ihl = (buf[ip] & 0x0f) * 4;
    const proto = buf[ip + 9];
    const isFragment = (((buf[ip + 6] & 0x3f) << 8) | buf[ip + 7]) !== 0;
    const l4 = ip + ihl;
    let ports = 0;
    if ((proto === 6 || proto === 17) && !isFragment && l4 + 4 <= start + length)
      ports = ((buf[l4] << 24) | (buf[l4 + 1] << 16) | (buf[l4 + 2] << 8) | buf[l4 + 3]) >>> 0;
    h = (ports ^ src ^ dst) >>> 0;
  }
  h = (h ^ (h >>> 16)) >>> 0;
  h = (h ^ (h >>> 8)) >>> 0;
  return policy === "l3l4" ? h >>> 1 : h;
}
