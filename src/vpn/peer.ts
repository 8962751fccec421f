/**
 * The per-peer state of the WireGuard engine: the three keypair slots (previous, current, next;
 * whitepaper section 5.4.6 and 6.1), the handshake in progress, the replay-protection timestamp
 * of the last initiation, the packets waiting for a handshake, and the deadlines of the timers of
 * whitepaper section 6 as absolute world times. `engine.ts` owns the logic; this file is data
 * plus the rules that only touch one peer. Keys never leave through toJSON or inspect.
 */

import type { CookieMaker } from "./cookie.ts";
import { wipe } from "./crypto.ts";
import type { WgEndpoint, WgPeerInfo } from "./engine-api.ts";
import type { HandshakeState } from "./noise.ts";
import { ReplayWindow } from "./replay.ts";

const INSPECT = Symbol.for("nodejs.util.inspect.custom");

/** A set of transport keys from one handshake. */
export class Keypair {
  /** Next counter to send with. */
  sendCounter = 0;
  readonly replay: ReplayWindow;
  rxPackets = 0;

  constructor(
    public sendKey: Uint8Array,
    public recvKey: Uint8Array,
    /** Our index: the receiver index the peer puts on packets for this keypair. */
    readonly localIndex: number,
    /** The peer's index: the receiver index we put on packets we send. */
    readonly remoteIndex: number,
    readonly createdNs: number,
    readonly isInitiator: boolean,
    rejectAfterMessages: number,
  ) {
    this.replay = new ReplayWindow(rejectAfterMessages);
  }

  wipe(): void {
    wipe(this.sendKey);
    wipe(this.recvKey);
  }

  toJSON(): object {
    return {
      localIndex: this.localIndex,
      remoteIndex: this.remoteIndex,
      createdNs: this.createdNs,
      isInitiator: this.isInitiator,
      sendCounter: this.sendCounter,
    };
  }
  [INSPECT](): string {
    return `Keypair ${JSON.stringify(this.toJSON())} [keys redacted]`;
  }
}

export type HandshakeRole = "none" | "initiation-sent" | "initiation-consumed";

export class PeerState implements WgPeerInfo {
  endpoint: WgEndpoint | undefined;
  allowedIps: string[] = [];
  persistentKeepaliveNs = 0;

  previous: Keypair | undefined;
  current: Keypair | undefined;
  next: Keypair | undefined;

  handshakeRole: HandshakeRole = "none";
  handshake: HandshakeState | undefined;
  handshakeLocalIndex = 0;
  handshakeRemoteIndex = 0;
  /** When the current round of initiation attempts began (for REKEY_ATTEMPT_TIME). */
  attemptStartNs = 0;
  handshakeAttempts = 0;
  /** When we last sent an initiation or a response (at most one per REKEY_TIMEOUT). */
  lastInitiationSentNs = Number.NEGATIVE_INFINITY;
  /** Newest TAI64N timestamp accepted from the peer: older or equal ones are replays. */
  readonly lastTimestamp = new Uint8Array(12);
  lastInitiationConsumedNs = Number.NEGATIVE_INFINITY;
  lastHandshakeNs: number | undefined;
  /** Set once we rekeyed because the keypair got close to REJECT_AFTER_TIME on receive. */
  hasSentLastMinuteHandshake = false;

  /** Plaintext packets waiting for a usable keypair (copies: the caller's buffers are theirs). */
  queue: Uint8Array[] = [];

  // Timer deadlines (absolute ns; undefined = not armed), whitepaper section 6. Arming one tells
  // the device (`onArm`), which keeps a lower bound of all deadlines so that `nextTimerNs` costs
  // O(1) per packet instead of a scan over every peer.
  private retransmitAt: number | undefined;
  private sendKeepaliveAt: number | undefined;
  private newHandshakeAt: number | undefined;
  private zeroKeysAt: number | undefined;
  private persistentKeepaliveAt: number | undefined;
  needsAnotherKeepalive = false;

  get retransmitAtNs(): number | undefined {
    return this.retransmitAt;
  }
  set retransmitAtNs(t: number | undefined) {
    this.retransmitAt = t;
    if (t !== undefined) this.onArm(t);
  }
  get sendKeepaliveAtNs(): number | undefined {
    return this.sendKeepaliveAt;
  }
  set sendKeepaliveAtNs(t: number | undefined) {
    this.sendKeepaliveAt = t;
    if (t !== undefined) this.onArm(t);
  }
  get newHandshakeAtNs(): number | undefined {
    return this.newHandshakeAt;
  }
  set newHandshakeAtNs(t: number | undefined) {
    this.newHandshakeAt = t;
    if (t !== undefined) this.onArm(t);
  }
  get zeroKeysAtNs(): number | undefined {
    return this.zeroKeysAt;
  }
  set zeroKeysAtNs(t: number | undefined) {
    this.zeroKeysAt = t;
    if (t !== undefined) this.onArm(t);
  }
  get persistentKeepaliveAtNs(): number | undefined {
    return this.persistentKeepaliveAt;
  }
  set persistentKeepaliveAtNs(t: number | undefined) {
    this.persistentKeepaliveAt = t;
    if (t !== undefined) this.onArm(t);
  }

  rxBytes = 0;
  txBytes = 0;
  rxPackets = 0;
  txPackets = 0;
  handshakesCompleted = 0;
  handshakeAttemptsTotal = 0;

  constructor(
    readonly name: string,
    readonly publicKey: Uint8Array,
    public presharedKey: Uint8Array | undefined,
    /** DH(our static private, their static public), precomputed (whitepaper 5.4.2). */
    readonly staticShared: Uint8Array,
    readonly cookies: CookieMaker,
    /** Called with every deadline armed. */
    private readonly onArm: (atNs: number) => void,
  ) {}

  /** The earliest armed deadline of this peer (+Infinity: none). */
  nextDeadlineNs(): number {
    let t = Number.POSITIVE_INFINITY;
    if (this.retransmitAt !== undefined && this.retransmitAt < t) t = this.retransmitAt;
    if (this.sendKeepaliveAt !== undefined && this.sendKeepaliveAt < t) t = this.sendKeepaliveAt;
    if (this.newHandshakeAt !== undefined && this.newHandshakeAt < t) t = this.newHandshakeAt;
    if (this.zeroKeysAt !== undefined && this.zeroKeysAt < t) t = this.zeroKeysAt;
    if (this.persistentKeepaliveAt !== undefined && this.persistentKeepaliveAt < t)
      t = this.persistentKeepaliveAt;
    return t;
  }

  clearHandshake(): void {
    if (this.handshake) {
      wipe(this.handshake.localEphemeral);
      wipe(this.handshake.chainKey);
    }
    this.handshake = undefined;
    this.handshakeRole = "none";
  }

  toJSON(): object {
    return {
      name: this.name,
      endpoint: this.endpoint,
      allowedIps: this.allowedIps,
      hasCurrentKeypair: this.current !== undefined,
      handshakeRole: this.handshakeRole,
    };
  }
  [INSPECT](): string {
    return `WgPeer ${JSON.stringify(this.toJSON())} [keys redacted]`;
  }
}
