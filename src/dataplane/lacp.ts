/**
 * The Link Aggregation Control Protocol engine (IEEE 802.1AX-2014 §6.4), beside the devices: it
 * holds no frames and does no I/O. A device registers its member ports under opaque handles,
 * hands it every LACPDU it receives and every carrier change, calls `run(now)` when
 * `nextTimerNs()` comes due, and asks `mayEnable(member)` before it lets a member carry traffic;
 * PDUs to send come out through the `send` callback as `LacpRepr`s (the device frames them with
 * `Lacp.emitFrame`). Time is passed in, so the same engine runs in the simulator and on real
 * ports (the shape of Open vSwitch's `lib/lacp.c`: register a member, process a PDU, may this
 * member carry traffic?, run to emit PDUs).
 *
 * What it does, per member, in the standard's terms:
 * - **Receive machine** (§6.4.12): a PDU makes the partner's information current and starts
 *   `current_while` (3 x the actor's timeout: 3 s short, 90 s long); when it runs out the member
 *   goes EXPIRED (the partner is assumed out of sync and asked for fast PDUs: the actor sets
 *   Expired and the partner's Timeout bit), and after another short timeout DEFAULTED (no
 *   partner). Carrier loss defaults the member at once.
 * - **Periodic transmission** (§6.4.13): an active member, or a passive one whose partner is
 *   active, sends every 1 s while the partner asks for short timeouts and every 30 s otherwise;
 *   "need to transmit" (a change of the actor's own information or state, or a partner whose
 *   view of us is out of date) sends at once, at most 3 PDUs per fast period (§6.4.16).
 * - **Selection** (§6.4.14, as Open vSwitch and Linux bonding simplify it): members with a
 *   current, aggregatable partner are grouped by the partner's system priority, system and key
 *   (a link aggregation group identifier); the group of the best member (lowest port priority,
 *   then port number) is the selected aggregator; members of another group, or with an
 *   individual partner, stay unselected and say why.
 * - **Mux** (§6.4.15, coupled control): a selected member is in sync (Synchronization); it
 *   collects and distributes once its partner is in sync too. Only such a member may carry
 *   traffic.
 * - **Churn detection** (§6.4.17): a member up but out of sync (actor or partner) for longer
 *   than the churn detection time (60 s) is reported in churn.
 */

import type { Mac } from "../wire/addr.ts";
import { formatLacpState, type LacpParticipant, type LacpRepr, LacpState } from "../wire/lacp.ts";

export type LacpMode = "active" | "passive";
export type LacpRate = "fast" | "slow";

/** The periodic times and timeouts of §6.4.4. */
export const LACP_TIMES = {
  fastPeriodicNs: 1e9,
  slowPeriodicNs: 30e9,
  shortTimeoutNs: 3e9,
  longTimeoutNs: 90e9,
  churnDetectionNs: 60e9,
} as const;

/** CollectorMaxDelay we announce, in tens of microseconds (the frame's own processing bound). */
const COLLECTOR_MAX_DELAY = 0;

export interface LacpActorConfig {
  /** The actor's system priority (lower is better) and system id (a MAC of the device). */
  systemPriority?: number;
  system: Mac;
  /** The actor's operational key for its members (one LAG = one key). */
  key: number;
  mode: LacpMode;
  rate: LacpRate;
}

export interface LacpMemberConfig {
  /** The member's port number in PDUs (1..65535) and its priority (lower is better). */
  port: number;
  portPriority?: number;
  isUp?: boolean;
}

export type LacpRxState = "current" | "expired" | "defaulted";

export interface LacpMemberStatus<H> {
  member: H;
  port: number;
  isUp: boolean;
  rx: LacpRxState;
  /** The actor's state bits as sent, and in words. */
  actorState: number;
  actorStateText: string;
  /** The partner as last heard (null when defaulted). */
  partner: LacpParticipant | null;
  isSelected: boolean;
  /** Whether the member may carry traffic (collecting and distributing). */
  isEnabled: boolean;
  /** When not selected, why ("no partner", "partner system differs from the aggregator's", ...). */
  why: string | null;
  isActorChurn: boolean;
  isPartnerChurn: boolean;
  pdusSent: number;
  pdusReceived: number;
}

interface Member<H> {
  handle: H;
  port: number;
  portPriority: number;
  isUp: boolean;
  rx: LacpRxState;
  partner: LacpParticipant | null;
  /** What the partner last said about us (its partner TLV), to see whether it is up to date. */
  partnerView: LacpParticipant | null;
  currentWhileNs: number;
  nextPeriodicNs: number;
  isNtt: boolean;
  /** Fast-period window start and PDUs sent in it (at most 3 per fast period, §6.4.16). */
  txWindowNs: number;
  txInWindow: number;
  isSelected: boolean;
  isEnabled: boolean;
  why: string | null;
  outOfSyncSinceNs: number;
  partnerOutOfSyncSinceNs: number;
  pdusSent: number;
  pdusReceived: number;
}

const NEVER = Number.POSITIVE_INFINITY;

function sameParticipant(a: LacpParticipant, b: LacpParticipant): boolean {
  return (
    a.systemPriority === b.systemPriority &&
    a.system === b.system &&
    a.key === b.key &&
    a.portPriority === b.portPriority &&
    a.port === b.port &&
    a.state === b.state
  );
}

export class LacpEngine<H> {
  private readonly members: Member<H>[] = [];
  private readonly systemPriority: number;

  constructor(
    private readonly actor: LacpActorConfig,
    private readonly send: (member: H, pdu: LacpRepr) => void,
  ) {
    this.systemPriority = actor.systemPriority ?? 32768;
    if (!Number.isInteger(actor.key) || actor.key < 0 || actor.key > 0xffff)
      throw new RangeError(`lacp: key ${actor.key} is not 0..65535`);
  }

  private get isShortTimeout(): boolean {
    return this.actor.rate === "fast";
  }

  addMember(handle: H, config: LacpMemberConfig, nowNs = 0): void {
    if (this.members.some((m) => m.handle === handle)) throw new Error("lacp: member registered twice");
    if (!Number.isInteger(config.port) || config.port < 1 || config.port > 0xffff)
      throw new RangeError(`lacp: port number ${config.port} is not 1..65535`);
    this.members.push({
      handle,
      port: config.port,
      portPriority: config.portPriority ?? 32768,
      isUp: config.isUp ?? true,
      rx: "defaulted",
      partner: null,
      partnerView: null,
      currentWhileNs: NEVER,
      nextPeriodicNs: nowNs,
      isNtt: true,
      txWindowNs: nowNs,
      txInWindow: 0,
      isSelected: false,
      isEnabled: false,
      why: "no partner",
      outOfSyncSinceNs: nowNs,
      partnerOutOfSyncSinceNs: nowNs,
      pdusSent: 0,
      pdusReceived: 0,
    });
    this.select(nowNs);
  }

  removeMember(handle: H, nowNs = 0): void {
    const i = this.members.findIndex((m) => m.handle === handle);
    if (i >= 0) this.members.splice(i, 1);
    this.select(nowNs);
  }

  /** Carrier up or down: a member that loses carrier forgets its partner at once. */
  setMemberUp(handle: H, isUp: boolean, nowNs: number): void {
    const m = this.member(handle);
    if (m.isUp === isUp) return;
    m.isUp = isUp;
    if (!isUp) this.toDefaulted(m);
    else {
      m.isNtt = true;
      m.nextPeriodicNs = nowNs;
    }
    m.outOfSyncSinceNs = nowNs;
    m.partnerOutOfSyncSinceNs = nowNs;
    this.select(nowNs);
  }

  /** A LACPDU received on `handle` (already parsed and validated by the device). */
  receive(handle: H, pdu: LacpRepr, nowNs: number): void {
    const m = this.member(handle);
    if (!m.isUp) return;
    m.pdusReceived++;
    const wasCurrent = m.rx === "current";
    const before = m.partner;
    m.partner = { ...pdu.actor };
    m.partnerView = { ...pdu.partner };
    m.rx = "current";
    m.currentWhileNs = nowNs + (this.isShortTimeout ? LACP_TIMES.shortTimeoutNs : LACP_TIMES.longTimeoutNs);
    // The partner's view of us is out of date: tell it (§6.4.12, recordPDU / update_NTT).
    const mine = this.actorInfo(m);
    const view = pdu.partner;
    if (
      view.system !== mine.system ||
      view.systemPriority !== mine.systemPriority ||
      view.key !== mine.key ||
      view.port !== mine.port ||
      view.portPriority !== mine.portPriority ||
      (view.state &
        (LacpState.Activity | LacpState.Timeout | LacpState.Aggregation | LacpState.Synchronization)) !==
        (mine.state &
          (LacpState.Activity | LacpState.Timeout | LacpState.Aggregation | LacpState.Synchronization))
    )
      m.isNtt = true;
    if (!wasCurrent || before === null || !sameParticipant(before, pdu.actor)) this.select(nowNs);
    else this.updateMux(nowNs);
  }

  /** Runs what is due at `nowNs`: timeouts, periodic and needed transmissions. */
  run(nowNs: number): void {
    let isChanged = false;
    for (const m of this.members) {
      if (!m.isUp) continue;
      if (nowNs >= m.currentWhileNs) {
        if (m.rx === "current") {
          // EXPIRED: ask the partner for fast PDUs, wait one short timeout more.
          m.rx = "expired";
          if (m.partner !== null) {
            m.partner = {
              ...m.partner,
              state: (m.partner.state | LacpState.Timeout) & ~LacpState.Synchronization,
            };
          }
          m.currentWhileNs = nowNs + LACP_TIMES.shortTimeoutNs;
          m.isNtt = true;
        } else {
          this.toDefaulted(m);
        }
        isChanged = true;
      }
    }
    if (isChanged) this.select(nowNs);
    for (const m of this.members) {
      if (!m.isUp || !this.isTransmitting(m)) continue;
      if (nowNs >= m.nextPeriodicNs) {
        m.isNtt = true;
        m.nextPeriodicNs = nowNs + this.periodicNs(m);
      }
      if (m.isNtt) this.transmit(m, nowNs);
    }
  }

  /** When `run` must be called next (Infinity when nothing is pending). */
  nextTimerNs(): number {
    let t = NEVER;
    for (const m of this.members) {
      if (!m.isUp) continue;
      if (m.currentWhileNs < t) t = m.currentWhileNs;
      if (this.isTransmitting(m)) {
        const tx = m.isNtt ? Math.max(m.txWindowNs, this.txAllowedAtNs(m)) : m.nextPeriodicNs;
        if (tx < t) t = tx;
      }
    }
    return t;
  }

  /** Whether the member may carry traffic: selected, and both ends collecting/distributing. */
  mayEnable(handle: H): boolean {
    return this.member(handle).isEnabled;
  }

  status(nowNs: number): LacpMemberStatus<H>[] {
    return this.members.map((m) => {
      const actorState = this.actorState(m);
      const isInSync = (actorState & LacpState.Synchronization) !== 0;
      const isPartnerInSync = m.partner !== null && (m.partner.state & LacpState.Synchronization) !== 0;
      return {
        member: m.handle,
        port: m.port,
        isUp: m.isUp,
        rx: m.rx,
        actorState,
        actorStateText: formatLacpState(actorState),
        partner: m.partner === null ? null : { ...m.partner },
        isSelected: m.isSelected,
        isEnabled: m.isEnabled,
        why: m.why,
        isActorChurn: m.isUp && !isInSync && nowNs - m.outOfSyncSinceNs > LACP_TIMES.churnDetectionNs,
        isPartnerChurn:
          m.isUp && !isPartnerInSync && nowNs - m.partnerOutOfSyncSinceNs > LACP_TIMES.churnDetectionNs,
        pdusSent: m.pdusSent,
        pdusReceived: m.pdusReceived,
      };
    });
  }

  // ---- internals -------------------------------------------------------------------------

  private member(handle: H): Member<H> {
    const m = this.members.find((x) => x.handle === handle);
    if (m === undefined) throw new Error("lacp: unknown member");
    return m;
  }

  private toDefaulted(m: Member<H>): void {
    m.rx = "defaulted";
    m.partner = null;
    m.partnerView = null;
    m.currentWhileNs = NEVER;
  }

  /** Active members send; a passive one answers an active partner (§6.4.13). */
  private isTransmitting(m: Member<H>): boolean {
    if (this.actor.mode === "active") return true;
    return m.partner !== null && (m.partner.state & LacpState.Activity) !== 0;
  }

  /** The periodic time the partner asks for: fast when it wants short timeouts (§6.4.13). */
  private periodicNs(m: Member<H>): number {
    const isFast = m.partner === null || (m.partner.state & LacpState.Timeout) !== 0;
    return isFast ? LACP_TIMES.fastPeriodicNs : LACP_TIMES.slowPeriodicNs;
  }

  /** At most 3 PDUs per fast periodic time (§6.4.16). */
  private txAllowedAtNs(m: Member<H>): number {
    return m.txInWindow < 3 ? m.txWindowNs : m.txWindowNs + LACP_TIMES.fastPeriodicNs;
  }

  private transmit(m: Member<H>, nowNs: number): void {
    if (nowNs >= m.txWindowNs + LACP_TIMES.fastPeriodicNs) {
      m.txWindowNs = nowNs;
      m.txInWindow = 0;
    }
    if (m.txInWindow >= 3) return;
    m.txInWindow++;
    m.isNtt = false;
    m.pdusSent++;
    const partner: LacpParticipant =
      m.partner === null
        ? { systemPriority: 0, system: 0, key: 0, portPriority: 0, port: 0, state: 0 }
        : { ...m.partner };
    this.send(m.handle, {
      version: 1,
      actor: this.actorInfo(m),
      partner,
      collectorMaxDelay: COLLECTOR_MAX_DELAY,
    });
  }

  private actorInfo(m: Member<H>): LacpParticipant {
    return {
      systemPriority: this.systemPriority,
      system: this.actor.system,
      key: this.actor.key,
      portPriority: m.portPriority,
      port: m.port,
      state: this.actorState(m),
    };
  }

  private actorState(m: Member<H>): number {
    let s = LacpState.Aggregation;
    if (this.actor.mode === "active") s |= LacpState.Activity;
    if (this.isShortTimeout) s |= LacpState.Timeout;
    if (m.isSelected) s |= LacpState.Synchronization;
    if (m.isEnabled) s |= LacpState.Collecting | LacpState.Distributing;
    if (m.rx === "defaulted") s |= LacpState.Defaulted;
    if (m.rx === "expired") s |= LacpState.Expired;
    return s;
  }

  /** Selection: the best member's aggregator (partner system and key) wins (§6.4.14). */
  private select(nowNs: number): void {
    const eligible = this.members.filter(
      (m) =>
        m.isUp && m.rx === "current" && m.partner !== null && (m.partner.state & LacpState.Aggregation) !== 0,
    );
    let lead: Member<H> | null = null;
    for (const m of eligible) {
      if (
        lead === null ||
        m.portPriority < lead.portPriority ||
        (m.portPriority === lead.portPriority && m.port < lead.port)
      )
        lead = m;
    }
    const lagOf = (p: LacpParticipant) => `${p.systemPriority}/${p.system}/${p.key}`;
    const leadLag = lead?.partner ? lagOf(lead.partner) : null;
    for (const m of this.members) {
      const was = m.isSelected;
      let why: string | null = null;
      if (!m.isUp) why = "link down";
      else if (m.rx === "defaulted" || m.partner === null) why = "no partner (no LACPDU received)";
      else if (m.rx === "expired") why = "partner timed out (expired)";
      else if ((m.partner.state & LacpState.Aggregation) === 0) why = "partner says the link is individual";
      else if (lagOf(m.partner) !== leadLag)
        why = "partner system or key differs from the selected aggregator's";
      m.isSelected = why === null;
      m.why = why;
      if (m.isSelected !== was) {
        m.isNtt = true;
        m.outOfSyncSinceNs = nowNs;
      }
    }
    this.updateMux(nowNs);
  }

  /** Coupled mux: collecting and distributing when selected and the partner is in sync. */
  private updateMux(nowNs: number): void {
    for (const m of this.members) {
      const isPartnerInSync = m.partner !== null && (m.partner.state & LacpState.Synchronization) !== 0;
      const enabled = m.isSelected && isPartnerInSync;
      if (enabled !== m.isEnabled) {
        m.isEnabled = enabled;
        m.isNtt = true;
      }
      if (!isPartnerInSync && m.partnerOutOfSyncSinceNs === NEVER) m.partnerOutOfSyncSinceNs = nowNs;
      if (isPartnerInSync) m.partnerOutOfSyncSinceNs = NEVER;
      if (m.isSelected) m.outOfSyncSinceNs = NEVER;
      else if (m.outOfSyncSinceNs === NEVER) m.outOfSyncSinceNs = nowNs;
    }
  }
}
