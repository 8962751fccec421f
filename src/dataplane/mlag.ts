/**
 * The MLAG (vPC) peer engine of one switch of a two-switch domain, beside the device as the
 * LACP and RSTP engines are: it holds no frames and does no I/O. Messages to the peer leave
 * through callbacks (over the peer link, and over the keepalive link when there is one), time is
 * passed in, and the switch asks it questions on its forwarding path.
 *
 * What it does, as vPC and MLAG implementations document their behaviour:
 * - **Hellos** every second on the peer link and the keepalive link; the peer is alive on a link
 *   while its hellos keep coming (3 s dead interval).
 * - **Role election**: the lower role priority is primary, then the lower system MAC.
 * - **MAC synchronization**: an address learned on a multi-chassis LAG (by id) or an orphan port
 *   is told to the peer, which installs it on its own half of that LAG (so traffic stays local),
 *   or on the peer link for an orphan.
 * - **Loop prevention**: the switch must not send a frame that crossed the peer link out of a
 *   multi-chassis LAG whose half on the peer is up (the peer delivered it there); it asks
 *   `isPeerHalfUp(id)`.
 * - **Peer-link failure**: when the peer link goes down and a keepalive hello (sent at once by
 *   both sides on the change) shows the peer alive, the secondary suspends its halves of every
 *   multi-chassis LAG (`onSuspend(true)`: the switch drops their carrier, so the partner's LACP
 *   moves everything to the primary); when the peer is heard on neither link for the dead
 *   interval, this switch acts as primary. If the peer is in fact alive, both are primary: split
 *   brain, which the switch reports and `isSplitBrainRisk` says.
 */

import { formatMac, type Mac } from "../wire/addr.ts";
import { MLAG_ORPHAN, type MlagMessage, type MlagRole } from "../wire/mlag.ts";

export const MLAG_TIMES = { helloNs: 1e9, deadNs: 3e9 } as const;

export interface MlagConfig {
  domain: number;
  /** Role priority: lower is primary. */
  priority: number;
  /** This switch's system MAC (tie-break). */
  system: Mac;
  hasKeepalive: boolean;
  /** Ids of the multi-chassis LAGs this switch has a half of. */
  halves: readonly number[];
}

export type MlagEventKind = "role" | "peer-link" | "peer" | "suspend" | "resume" | "split-brain";

export interface MlagEvent {
  timeNs: number;
  kind: MlagEventKind;
  text: string;
}

export interface MlagCallbacks {
  sendPeerLink(msg: MlagMessage): void;
  sendKeepalive(msg: MlagMessage): void;
  /** The peer learned (or forgot) `mac` in `vid` on its half `id` (MLAG_ORPHAN: an orphan port). */
  onPeerMac(vid: number, mac: Mac, id: number, isAdd: boolean, nowNs: number): void;
  onSuspend(isSuspended: boolean, nowNs: number): void;
  onEvent?(e: MlagEvent): void;
}

const NEVER = Number.NEGATIVE_INFINITY;

export class MlagEngine {
  role: MlagRole = "none";
  isPeerLinkUp = false;
  isSuspended = false;
  /** Peer link and keepalive both silent while this switch acts as primary: maybe split brain. */
  isSplitBrainRisk = false;
  private peerPriority = -1;
  private peerSystem = 0;
  private peerRole: MlagRole = "none";
  private lastLinkHelloNs = NEVER;
  private lastKeepaliveHelloNs = NEVER;
  private peerLinkDownAtNs = NEVER;
  private peerLinkUpAtNs = NEVER;
  private hasEverSeenPeer = false;
  private nextHelloNs = 0;
  private readonly localHalves = new Map<number, boolean>();
  private readonly peerHalves = new Map<number, boolean>();
  macsSent = 0;
  macsReceived = 0;

  constructor(
    readonly config: MlagConfig,
    private readonly cb: MlagCallbacks,
  ) {
    for (const id of config.halves) this.localHalves.set(id, false);
  }

  start(nowNs: number): void {
    this.nextHelloNs = nowNs;
    this.run(nowNs);
  }

  /** Whether the peer's half of multi-chassis LAG `id` is up (and the peer reachable over the peer link). */
  isPeerHalfUp(id: number): boolean {
    return this.isPeerLinkUp && this.isPeerAliveOnLink(this.lastNowNs) && this.peerHalves.get(id) === true;
  }

  /** The peer link (a LAG) gained or lost its last distributing member. */
  setPeerLinkUp(isUp: boolean, nowNs: number): void {
    if (isUp === this.isPeerLinkUp) return;
    this.isPeerLinkUp = isUp;
    if (!isUp) {
      this.peerLinkDownAtNs = nowNs;
      this.lastLinkHelloNs = NEVER;
    } else this.peerLinkUpAtNs = nowNs;
    this.event(nowNs, "peer-link", `peer link ${isUp ? "up" : "down"}`);
    // Tell the peer at once on both links, so a live peer is known without waiting a period.
    this.sendHellos(nowNs);
    this.evaluate(nowNs);
  }

  setLocalHalfUp(id: number, isUp: boolean, nowNs: number): void {
    if (this.localHalves.get(id) === isUp) return;
    this.localHalves.set(id, isUp);
    this.sendHellos(nowNs);
  }

  /** This switch learned (or forgot) an address on half `id` or an orphan port: tell the peer. */
  localMac(vid: number, mac: Mac, id: number, isAdd: boolean): void {
    if (!this.isPeerLinkUp) return;
    this.macsSent++;
    this.cb.sendPeerLink({ type: "mac", isAdd, vid, mac, id });
  }

  receive(msg: MlagMessage, via: "peer-link" | "keepalive", nowNs: number): void {
    this.lastNowNs = nowNs;
    if (msg.type === "mac") {
      if (via !== "peer-link") return;
      this.macsReceived++;
      this.cb.onPeerMac(msg.vid, msg.mac, msg.id, msg.isAdd, nowNs);
      return;
    }
    if (msg.domain !== this.config.domain) return;
    if (via === "peer-link") this.lastLinkHelloNs = nowNs;
    else this.lastKeepaliveHelloNs = nowNs;
    this.peerPriority = msg.priority;
    this.peerSystem = msg.system;
    this.peerRole = msg.role;
    if (via === "peer-link") {
      this.peerHalves.clear();
      for (const h of msg.halves) this.peerHalves.set(h.id, h.isUp);
    }
    if (!this.hasEverSeenPeer) {
      this.hasEverSeenPeer = true;
      this.event(nowNs, "peer", `peer ${formatSystem(msg.system)} heard over the ${via}`);
    }
    this.evaluate(nowNs);
  }

  run(nowNs: number): void {
    this.lastNowNs = nowNs;
    if (nowNs >= this.nextHelloNs) {
      this.sendHellos(nowNs);
      this.nextHelloNs = nowNs + MLAG_TIMES.helloNs;
    }
    this.evaluate(nowNs);
  }

  nextTimerNs(): number {
    let next = this.nextHelloNs;
    for (const last of [this.lastLinkHelloNs, this.lastKeepaliveHelloNs])
      if (last !== NEVER && last + MLAG_TIMES.deadNs > this.lastNowNs)
        next = Math.min(next, last + MLAG_TIMES.deadNs);
    for (const at of [this.peerLinkDownAtNs, this.peerLinkUpAtNs])
      if (at !== NEVER && at + MLAG_TIMES.deadNs > this.lastNowNs)
        next = Math.min(next, at + MLAG_TIMES.deadNs);
    return next;
  }

  status(): {
    role: MlagRole;
    isPeerLinkUp: boolean;
    isPeerAliveOnLink: boolean;
    isPeerAliveOnKeepalive: boolean;
    isSuspended: boolean;
    isSplitBrainRisk: boolean;
    peer: string | null;
    peerRole: MlagRole;
    halves: { id: number; isLocalUp: boolean; isPeerUp: boolean }[];
  } {
    const now = this.lastNowNs;
    return {
      role: this.role,
      isPeerLinkUp: this.isPeerLinkUp,
      isPeerAliveOnLink: this.isPeerAliveOnLink(now),
      isPeerAliveOnKeepalive: this.isPeerAliveOnKeepalive(now),
      isSuspended: this.isSuspended,
      isSplitBrainRisk: this.isSplitBrainRisk,
      peer: this.hasEverSeenPeer ? formatSystem(this.peerSystem) : null,
      peerRole: this.peerRole,
      halves: [...this.localHalves.entries()].map(([id, up]) => ({
        id,
        isLocalUp: up,
        isPeerUp: this.isPeerHalfUp(id),
      })),
    };
  }

  private lastNowNs = 0;

  private isPeerAliveOnLink(nowNs: number): boolean {
    return (
      this.isPeerLinkUp && this.lastLinkHelloNs !== NEVER && nowNs - this.lastLinkHelloNs < MLAG_TIMES.deadNs
    );
  }

  private isPeerAliveOnKeepalive(nowNs: number): boolean {
    return (
      this.config.hasKeepalive &&
      this.lastKeepaliveHelloNs !== NEVER &&
      nowNs - this.lastKeepaliveHelloNs < MLAG_TIMES.deadNs
    );
  }

  /** Whether this switch wins the election against the peer it last heard. */
  private isPreferred(): boolean {
    const c = this.config;
    if (c.priority !== this.peerPriority) return c.priority < this.peerPriority;
    return c.system < this.peerSystem;
  }

  private evaluate(nowNs: number): void {
    let role: MlagRole;
    let suspend = false;
    let splitRisk = false;
    if (this.isPeerAliveOnLink(nowNs)) {
      role = this.isPreferred() ? "primary" : "secondary";
    } else if (!this.hasEverSeenPeer) {
      role = "none";
    } else if (this.isPeerLinkUp && nowNs - this.peerLinkUpAtNs < MLAG_TIMES.deadNs) {
      // The peer link just came (back) up: the peer's first hello is on its way.
      role = this.role;
      suspend = this.isSuspended;
    } else if (
      !this.isPeerLinkUp &&
      this.isPeerAliveOnKeepalive(nowNs) &&
      this.lastKeepaliveHelloNs >= this.peerLinkDownAtNs
    ) {
      // The peer link is down but the peer is alive: the secondary stands down.
      role = this.role === "none" ? (this.isPreferred() ? "primary" : "secondary") : this.role;
      suspend = role === "secondary";
    } else if (
      !this.isPeerLinkUp &&
      nowNs - this.peerLinkDownAtNs < MLAG_TIMES.deadNs &&
      this.config.hasKeepalive
    ) {
      // Waiting for the keepalive to say whether the peer lives: keep forwarding meanwhile.
      role = this.role;
    } else {
      // Heard on neither link: the peer is gone, or cut off. Act as primary.
      role = "primary";
      splitRisk = true;
    }
    if (role !== this.role) {
      const was = this.role;
      this.role = role;
      this.event(
        nowNs,
        "role",
        `role ${was} -> ${role}${splitRisk ? " (peer heard on neither the peer link nor the keepalive)" : ""}`,
      );
    }
    if (splitRisk !== this.isSplitBrainRisk) {
      this.isSplitBrainRisk = splitRisk;
      if (splitRisk)
        this.event(
          nowNs,
          "split-brain",
          "peer link and keepalive both silent: acting as primary; if the peer is alive, both are primary (split brain)",
        );
    }
    if (suspend !== this.isSuspended) {
      this.isSuspended = suspend;
      this.event(
        nowNs,
        suspend ? "suspend" : "resume",
        suspend
          ? "peer link down, peer alive on the keepalive: secondary suspends its multi-chassis LAG members"
          : "multi-chassis LAG members resumed",
      );
      this.cb.onSuspend(suspend, nowNs);
    }
  }

  private hello(): MlagMessage {
    return {
      type: "hello",
      domain: this.config.domain,
      priority: this.config.priority,
      system: this.config.system,
      role: this.role,
      isPeerLinkUp: this.isPeerLinkUp,
      halves: [...this.localHalves.entries()].map(([id, isUp]) => ({ id, isUp })),
    };
  }

  private sendHellos(nowNs: number): void {
    void nowNs;
    const h = this.hello();
    if (this.isPeerLinkUp) this.cb.sendPeerLink(h);
    if (this.config.hasKeepalive) this.cb.sendKeepalive(h);
  }

  private event(timeNs: number, kind: MlagEventKind, text: string): void {
    this.cb.onEvent?.({ timeNs, kind, text });
  }
}

function formatSystem(m: Mac): string {
  return formatMac(m);
}

export { MLAG_ORPHAN };
