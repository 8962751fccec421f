/**
 * The WireGuard device: peers, handshakes, transport data, timers and cryptokey routing, free of
 * I/O and clocks (the contract is in `engine-api.ts`, which also shows how a world drives it).
 * The protocol is the WireGuard whitepaper's: Noise IKpsk2 handshakes (noise.ts), mac1/mac2 and
 * cookie replies (cookie.ts), transport messages with 64-bit counters and a replay window
 * (replay.ts), the timer state machine of section 6, and cryptokey routing over allowed IPs
 * (allowed-ips.ts). Where the whitepaper leaves details open (rate limits, which timer resets
 * which) this follows wireguard-go's documented behaviour so that the two interoperate.
 *
 * Every datagram or packet the device refuses is counted under a `WgDropReason` and reported as
 * a "drop" event. Keys never appear in events, errors, counters, or toJSON/inspect output.
 */

import { DropCounters } from "../dataplane/counters.ts";
import {
  WG_COOKIE_REPLY_LEN,
  WG_INITIATION_LEN,
  WG_RESPONSE_LEN,
  WG_TRANSPORT_HEADER_LEN,
  WG_TRANSPORT_MIN_LEN,
  WgCookieReply,
  WgInitiation,
  WgResponse,
  WgTransport,
} from "../wire/wireguard.ts";
import { AllowedIps, type Cidr, formatCidr, maskCidr, parseCidr } from "./allowed-ips.ts";
import { CookieChecker, CookieMaker } from "./cookie.ts";
import { WG_AEAD_TAG_LEN, type WgCrypto } from "./crypto.ts";
import type {
  WgAllowedIpsTable,
  WgDeviceApi,
  WgDeviceCounters,
  WgDeviceOptions,
  WgDropReason,
  WgEndpoint,
  WgEvent,
  WgHandshakeProcessing,
  WgLoadPolicy,
  WgPeerConfig,
  WgPeerInfo,
  WgReceiveOutcome,
  WgSendOutcome,
  WgTimerConfig,
} from "./engine-api.ts";
import { shortKey } from "./keys.ts";
import {
  consumeInitiation,
  consumeResponse,
  createInitiation,
  createResponse,
  deriveTransportKeys,
  isTimestampAfter,
  tai64n,
} from "./noise.ts";
import { Keypair, PeerState } from "./peer.ts";

const SEC = 1_000_000_000;

/** The whitepaper's constants (section 6.1), plus wireguard-go's jitter and initiation rate. */
export const DEFAULT_WG_TIMERS: Readonly<WgTimerConfig> = Object.freeze({
  rekeyAfterMessages: 2 ** 60,
  rejectAfterMessages: 2 ** 64 - 2 ** 13 - 1,
  rekeyAfterTimeNs: 120 * SEC,
  rejectAfterTimeNs: 180 * SEC,
  rekeyAttemptTimeNs: 90 * SEC,
  rekeyTimeoutNs: 5 * SEC,
  rekeyTimeoutJitterMaxNs: 334_000_000,
  keepaliveTimeoutNs: 10 * SEC,
  cookieRefreshTimeNs: 120 * SEC,
  handshakeInitiationRateNs: SEC / 50,
});

export const DEFAULT_WG_LOAD_POLICY: Readonly<WgLoadPolicy> = Object.freeze({
  handshakesPerSecond: 1000,
  holdNs: SEC,
  perSourcePerSecond: 20,
  perSourceBurst: 5,
});

/**
 * A token bucket per source address for handshake messages under load. The table is bounded:
 * when full, buckets that have refilled completely (idle sources) are forgotten first, and if
 * none has, the new source is refused rather than growing without limit.
 */
class SourceRateLimiter {
  private readonly buckets = new Map<string, { tokens: number; atNs: number }>();
  private static readonly MAX_SOURCES = 4096;

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
  ) {}

  allow(source: string, nowNs: number): boolean {
    let b = this.buckets.get(source);
    if (!b) {
      if (this.buckets.size >= SourceRateLimiter.MAX_SOURCES && !this.evictIdle(nowNs)) return false;
      b = { tokens: this.burst, atNs: nowNs };
      this.buckets.set(source, b);
    }
    b.tokens = Math.min(this.burst, b.tokens + ((nowNs - b.atNs) / SEC) * this.perSecond);
    b.atNs = nowNs;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  private evictIdle(nowNs: number): boolean {
    const fullAfterNs = (this.burst / this.perSecond) * SEC;
    for (const [k, b] of this.buckets) if (nowNs - b.atNs >= fullAfterNs) this.buckets.delete(k);
    return this.buckets.size < SourceRateLimiter.MAX_SOURCES;
  }
}

/**
 * A bounded FIFO of handshake messages in the "queued" mode: a ring of fixed capacity (no array
 * growth or shifting under a flood). Pushing into a full ring pushes the oldest message out (the
 * caller counts it).
 */
class HandshakeQueue {
  private readonly messages: (Uint8Array | undefined)[];
  private readonly sources: (WgEndpoint | undefined)[];
  private head = 0;
  size = 0;

  constructor(readonly capacity: number) {
    this.messages = new Array(capacity).fill(undefined);
    this.sources = new Array(capacity).fill(undefined);
  }

  /** Adds a message; true when the oldest had to go to make room. */
  push(msg: Uint8Array, from: WgEndpoint): boolean {
    const isFull = this.size === this.capacity;
    if (isFull) this.shift();
    const at = (this.head + this.size) % this.capacity;
    this.messages[at] = msg;
    this.sources[at] = from;
    this.size++;
    return isFull;
  }

  /** The oldest message (and where it came from), or undefined when empty. */
  shift(): { msg: Uint8Array; from: WgEndpoint } | undefined {
    if (this.size === 0) return undefined;
    const msg = this.messages[this.head]!;
    const from = this.sources[this.head]!;
    this.messages[this.head] = undefined;
    this.sources[this.head] = undefined;
    this.head = (this.head + 1) % this.capacity;
    this.size--;
    return { msg, from };
  }
}

/** A peer configuration the device cannot accept (bad key or prefix, duplicate peer). */
export class WgConfigError extends Error {
  override readonly name = "WgConfigError";
}

const MAX_SAFE_COUNTER = Number.MAX_SAFE_INTEGER;

interface IndexEntry {
  peer: PeerState;
  /** Undefined: the index names the peer's handshake in progress. */
  keypair: Keypair | undefined;
}

export class WgDevice implements WgDeviceApi {
  readonly publicKey: Uint8Array;
  private readonly privateKey: Uint8Array;
  private readonly crypto: WgCrypto;
  private readonly randomBytes: (out: Uint8Array) => void;
  private readonly sendDatagramFn: (bytes: Uint8Array, to: WgEndpoint) => void;
  private readonly deliverPacket: (ipPacket: Uint8Array, peer: WgPeerInfo) => void;
  private readonly onEvent: ((event: WgEvent) => void) | undefined;
  readonly timers: Readonly<WgTimerConfig>;
  private readonly load: WgLoadPolicy;
  private readonly unixEpochOffsetNs: number;
  private readonly mtu: number;
  private readonly maxQueuedPackets: number;
  private readonly handshakeProcessing: WgHandshakeProcessing;
  private readonly isReceivedDatagramWritable: boolean;
  private readonly isSentDatagramCopied: boolean;
  /** Transport messages are built here when the world copies what it sends (grown on demand). */
  private txScratch = new Uint8Array(0);
  /**
   * Handshake messages waiting ("queued" mode only): those from a peer's current endpoint in a
   * lane of their own, taken first, so that a flood from elsewhere cannot push a peer's rekey
   * out (a spoofed source can only crowd its own lane, and still meets mac2 under load).
   */
  private readonly handshakeQueue: HandshakeQueue;
  private readonly peerHandshakeQueue: HandshakeQueue;
  /** Peers by current endpoint ("address|port"), rebuilt when an endpoint changed. */
  private peersByEndpoint: Map<string, PeerState> | undefined;
  private readonly rejectAfterMessages: number;
  private readonly table: WgAllowedIpsTable;
  private readonly checker: CookieChecker;
  private readonly limiter: SourceRateLimiter;

  private readonly peerList: PeerState[] = [];
  private readonly peersByKey = new Map<string, PeerState>();
  private readonly indexes = new Map<number, IndexEntry>();
  private readonly rand4 = new Uint8Array(4);

  private forcedLoad: boolean | undefined;
  private loadWindowStartNs = Number.NEGATIVE_INFINITY;
  private loadWindowCount = 0;
  private underLoadUntilNs = Number.NEGATIVE_INFINITY;
  private lastNowNs = 0;
  /** Lower bound of every peer's deadlines (see `nextTimerNs`). */
  private wakeNs = Number.POSITIVE_INFINITY;
  private readonly onArm = (atNs: number): void => {
    if (atNs < this.wakeNs) this.wakeNs = atNs;
  };

  readonly drops = new DropCounters();
  private rxDatagrams = 0;
  private txDatagrams = 0;
  private cookieRepliesSent = 0;

  constructor(options: WgDeviceOptions) {
    if (options.privateKey.length !== 32) throw new WgConfigError("the private key must be 32 bytes");
    this.crypto = options.crypto;
    this.privateKey = Uint8Array.from(options.privateKey);
    this.privateKey[0] &= 248;
    this.privateKey[31] = (this.privateKey[31] & 127) | 64;
    this.publicKey = this.crypto.publicKey(this.privateKey);
    this.randomBytes = options.randomBytes;
    this.sendDatagramFn = options.sendDatagram;
    this.deliverPacket = options.deliverPacket;
    this.onEvent = options.onEvent;
    this.timers = Object.freeze({ ...DEFAULT_WG_TIMERS, ...options.timers });
    this.load = { ...DEFAULT_WG_LOAD_POLICY, ...options.load };
    this.unixEpochOffsetNs = options.unixEpochOffsetNs ?? 0;
    this.mtu = options.mtu ?? 1420;
    this.maxQueuedPackets = options.maxQueuedPackets ?? 128;
    this.handshakeProcessing = options.handshakeProcessing ?? "inline";
    this.isReceivedDatagramWritable = options.isReceivedDatagramWritable ?? false;
    this.isSentDatagramCopied = options.isSentDatagramCopied ?? false;
    if (this.handshakeProcessing !== "inline" && this.handshakeProcessing !== "queued")
      throw new WgConfigError(
        `handshake processing is "inline" or "queued", got "${this.handshakeProcessing}"`,
      );
    const maxQueuedHandshakes = options.maxQueuedHandshakes ?? 1024;
    if (!Number.isInteger(maxQueuedHandshakes) || maxQueuedHandshakes < 1)
      throw new WgConfigError(`the handshake queue holds at least 1 message, got ${maxQueuedHandshakes}`);
    this.handshakeQueue = new HandshakeQueue(maxQueuedHandshakes);
    this.peerHandshakeQueue = new HandshakeQueue(maxQueuedHandshakes);
    this.rejectAfterMessages = Math.min(this.timers.rejectAfterMessages, MAX_SAFE_COUNTER);
    this.table = options.allowedIps ?? new AllowedIps<WgPeerInfo>();
    this.checker = new CookieChecker(
      this.crypto,
      this.publicKey,
      this.randomBytes,
      this.timers.cookieRefreshTimeNs,
    );
    this.limiter = new SourceRateLimiter(this.load.perSourcePerSecond, this.load.perSourceBurst);
  }

  // ---------------------------------------------------------------- configuration

  addPeer(config: WgPeerConfig): WgPeerInfo {
    if (config.publicKey.length !== 32) throw new WgConfigError("a peer's public key must be 32 bytes");
    if (config.presharedKey !== undefined && config.presharedKey.length !== 32)
      throw new WgConfigError("a pre-shared key must be 32 bytes");
    const keyId = keyIdOf(config.publicKey);
    if (this.peersByKey.has(keyId))
      throw new WgConfigError(`peer ${shortKey(config.publicKey)} is already configured`);
    if (keyId === keyIdOf(this.publicKey))
      throw new WgConfigError("a peer cannot have the device's own public key");
    // Parse every prefix before touching anything: nothing is half-applied.
    const prefixes = config.allowedIps.map((p) => {
      try {
        return maskCidr(checkCidr(typeof p === "string" ? parseCidr(p) : p));
      } catch (e) {
        throw new WgConfigError((e as Error).message);
      }
    });
    const keepaliveSec = config.persistentKeepaliveSec ?? 0;
    if (!Number.isInteger(keepaliveSec) || keepaliveSec < 0 || keepaliveSec > 65535)
      throw new WgConfigError(`persistent keepalive must be 0..65535 seconds, got ${keepaliveSec}`);
    const publicKey = Uint8Array.from(config.publicKey);
    const staticShared = this.crypto.dh(this.privateKey, publicKey);
    if (!staticShared)
      throw new WgConfigError(`peer ${shortKey(publicKey)} has a low-order public key (no shared secret)`);
    const peer = new PeerState(
      config.name ?? shortKey(publicKey),
      publicKey,
      config.presharedKey ? Uint8Array.from(config.presharedKey) : undefined,
      staticShared,
      new CookieMaker(this.crypto, publicKey, this.timers.cookieRefreshTimeNs),
      this.onArm,
    );
    peer.endpoint = config.endpoint
      ? { address: config.endpoint.address, port: config.endpoint.port }
      : undefined;
    this.peersByEndpoint = undefined;
    peer.persistentKeepaliveNs = keepaliveSec * SEC;
    for (const c of prefixes) {
      this.table.insert(c, peer);
    }
    peer.allowedIps = prefixes.map((c) => formatCidr(c));
    this.peerList.push(peer);
    this.peersByKey.set(keyId, peer);
    this.refreshAllowedIpsText();
    this.armFirstPersistentKeepalive(peer);
    return peer;
  }

  removePeer(info: WgPeerInfo): void {
    const peer = this.own(info);
    this.table.removePeer(peer);
    this.dropIndexes(peer);
    for (const kp of [peer.previous, peer.current, peer.next]) kp?.wipe();
    peer.previous = peer.current = peer.next = undefined;
    peer.clearHandshake();
    peer.queue = [];
    this.peerList.splice(this.peerList.indexOf(peer), 1);
    this.peersByEndpoint = undefined;
    this.peersByKey.delete(keyIdOf(peer.publicKey));
  }

  /**
   * A prefix belongs to one peer (the last one given it, as `wg set` does), so adding a peer may
   * take prefixes from others: with the built-in table, every peer's text list follows it.
   */
  private refreshAllowedIpsText(): void {
    const t = this.table;
    if (!(t instanceof AllowedIps)) return;
    for (const p of this.peerList) p.allowedIps = t.prefixesOf(p).map((c: Cidr) => formatCidr(c));
  }

  peers(): readonly WgPeerInfo[] {
    return this.peerList;
  }

  setEndpoint(info: WgPeerInfo, endpoint: WgEndpoint): void {
    const peer = this.own(info);
    peer.endpoint = { address: endpoint.address, port: endpoint.port };
    this.peersByEndpoint = undefined;
    this.armFirstPersistentKeepalive(peer);
  }

  /**
   * With a persistent keepalive and an endpoint, a peer is contacted at once, as wireguard-go
   * does when the device comes up: the keepalive starts a handshake, so that a site behind NAT is
   * reachable before it has sent anything. Deadline 0 means "at the next tick".
   */
  private armFirstPersistentKeepalive(peer: PeerState): void {
    if (
      peer.persistentKeepaliveNs > 0 &&
      peer.endpoint &&
      !peer.current &&
      peer.persistentKeepaliveAtNs === undefined
    )
      peer.persistentKeepaliveAtNs = 0;
  }

  forceUnderLoad(isUnderLoad: boolean | undefined): void {
    this.forcedLoad = isUnderLoad;
  }

  // ---------------------------------------------------------------- sending plaintext

  sendPacket(ipPacket: Uint8Array, nowNs: number): WgSendOutcome {
    const version = ipPacket.length > 0 ? ipPacket[0] >>> 4 : 0;
    let peer: WgPeerInfo | undefined;
    if (version === 4 && ipPacket.length >= 20) {
      peer = this.table.lookupIpv4(readBe32(ipPacket, 16));
    } else if (version === 6 && ipPacket.length >= 40) {
      peer = this.table.lookupIpv6(ipPacket, 24);
    } else {
      return this.drop("not-ip", undefined, nowNs);
    }
    if (!peer) return this.drop("no-peer-for-destination", undefined, nowNs);
    const p = peer as PeerState;
    if (!p.endpoint) return this.drop("no-endpoint", p, nowNs);
    const kp = this.usableSendKeypair(p, nowNs);
    if (kp && p.queue.length === 0) {
      this.sendTransport(p, kp, ipPacket, nowNs);
      this.keepKeyFreshSending(p, kp, nowNs);
      return "sent";
    }
    if (p.queue.length >= this.maxQueuedPackets) {
      p.queue.shift();
      this.drop("queue-full", p, nowNs);
    }
    p.queue.push(Uint8Array.from(ipPacket));
    if (kp) {
      this.flushQueue(p, nowNs);
      return "sent";
    }
    this.initiate(p, nowNs, false);
    return "queued";
  }

  initiateHandshake(info: WgPeerInfo, nowNs: number): void {
    const peer = this.own(info);
    peer.lastInitiationSentNs = Number.NEGATIVE_INFINITY;
    this.initiate(peer, nowNs, false);
  }

  // ---------------------------------------------------------------- receiving datagrams

  /**
   * Classifies a datagram by its type and length (nothing else: no MAC, no lookup) and handles
   * it: transport data and cookie replies at once; handshake messages at once ("inline") or into
   * the bounded queue ("queued"), so that a flood of them cannot delay the tunnel's data.
   */
  receiveDatagram(bytes: Uint8Array, from: WgEndpoint, nowNs: number): WgReceiveOutcome {
    this.rxDatagrams++;
    this.lastNowNs = nowNs;
    const len = bytes.length;
    if (len < 4) return this.drop("malformed", undefined, nowNs);
    const type = (bytes[0] | (bytes[1] << 8) | (bytes[2] << 16) | (bytes[3] << 24)) >>> 0;
    switch (type) {
      case 1:
        if (len !== WG_INITIATION_LEN) return this.drop("malformed", undefined, nowNs);
        if (this.handshakeProcessing === "queued") return this.enqueueHandshake(bytes, from, nowNs);
        return this.receiveInitiation(bytes, from, nowNs);
      case 2:
        if (len !== WG_RESPONSE_LEN) return this.drop("malformed", undefined, nowNs);
        if (this.handshakeProcessing === "queued") return this.enqueueHandshake(bytes, from, nowNs);
        return this.receiveResponse(bytes, from, nowNs);
      case 3:
        if (len !== WG_COOKIE_REPLY_LEN) return this.drop("malformed", undefined, nowNs);
        return this.receiveCookieReply(bytes, nowNs);
      case 4:
        if (len < WG_TRANSPORT_MIN_LEN) return this.drop("malformed", undefined, nowNs);
        return this.receiveTransport(bytes, from, nowNs);
      default:
        return this.drop("malformed", undefined, nowNs);
    }
  }

  /**
   * "queued" mode: copies the message into its lane (a peer's current endpoint, or any other
   * source), pushing out (and counting) the oldest when the lane is full.
   */
  private enqueueHandshake(bytes: Uint8Array, from: WgEndpoint, nowNs: number): WgReceiveOutcome {
    const peer = this.peerAtEndpoint(from);
    const lane = peer ? this.peerHandshakeQueue : this.handshakeQueue;
    if (lane.push(new Uint8Array(bytes), { address: from.address, port: from.port }))
      this.drop("handshake-queue-full", peer, nowNs);
    return "handshake-queued";
  }

  private peerAtEndpoint(from: WgEndpoint): PeerState | undefined {
    let map = this.peersByEndpoint;
    if (!map) {
      map = new Map();
      for (const p of this.peerList) if (p.endpoint) map.set(`${p.endpoint.address}|${p.endpoint.port}`, p);
      this.peersByEndpoint = map;
    }
    return map.size === 0 ? undefined : map.get(`${from.address}|${from.port}`);
  }

  processHandshakes(nowNs: number, maxMessages: number): number {
    this.lastNowNs = nowNs;
    let n = 0;
    for (; n < maxMessages; n++) {
      const next = this.peerHandshakeQueue.shift() ?? this.handshakeQueue.shift();
      if (!next) break;
      if (next.msg[0] === 1) this.receiveInitiation(next.msg, next.from, nowNs);
      else this.receiveResponse(next.msg, next.from, nowNs);
    }
    return n;
  }

  queuedHandshakes(): number {
    return this.handshakeQueue.size + this.peerHandshakeQueue.size;
  }

  /**
   * Counts a handshake message toward the load policy; true when a valid mac2 is required. Under
   * load: more than `handshakesPerSecond` of them in a second, or (the "queued" mode) an eighth
   * of the queue or more still waiting, as wireguard-go judges it; either holds for `holdNs`.
   */
  private isUnderLoad(nowNs: number): boolean {
    if (this.forcedLoad !== undefined) return this.forcedLoad;
    if (this.queuedHandshakes() * 8 >= this.handshakeQueue.capacity)
      this.underLoadUntilNs = nowNs + this.load.holdNs;
    if (nowNs - this.loadWindowStartNs >= SEC) {
      this.loadWindowStartNs = nowNs;
      this.loadWindowCount = 0;
    }
    this.loadWindowCount++;
    if (this.loadWindowCount > this.load.handshakesPerSecond)
      this.underLoadUntilNs = nowNs + this.load.holdNs;
    return nowNs < this.underLoadUntilNs;
  }

  /** Checks mac1, then mac2 under load (answering with a cookie reply). Undefined: go on. */
  private checkMacs(
    msg: Uint8Array,
    senderIndex: number,
    from: WgEndpoint,
    nowNs: number,
  ): WgReceiveOutcome | undefined {
    if (!this.checker.checkMac1(msg, msg.length)) return this.drop("bad-mac1", undefined, nowNs);
    if (!this.isUnderLoad(nowNs)) return undefined;
    if (!this.checker.checkMac2(msg, msg.length, from, nowNs)) {
      const reply = this.checker.makeReply(msg, msg.length, senderIndex, from, nowNs);
      this.cookieRepliesSent++;
      this.emit({ type: "cookie-reply-sent", to: from, nowNs });
      this.transmit(reply, from);
      return "cookie-sent";
    }
    // mac2 proves the source address is real, so a per-address budget now means something.
    if (!this.limiter.allow(from.address, nowNs)) return this.drop("rate-limited", undefined, nowNs);
    return undefined;
  }

  private receiveInitiation(msg: Uint8Array, from: WgEndpoint, nowNs: number): WgReceiveOutcome {
    const senderIndex = WgInitiation.senderIndex(msg, 0);
    const refused = this.checkMacs(msg, senderIndex, from, nowNs);
    if (refused) return refused;
    let peer: PeerState | undefined;
    const consumed = consumeInitiation(this.crypto, this.privateKey, this.publicKey, msg, (remoteStatic) => {
      peer = this.peersByKey.get(keyIdOf(remoteStatic));
      return peer?.staticShared;
    });
    if (typeof consumed === "string") return this.drop(consumed, peer, nowNs);
    const p = peer!;
    // Replay protection (whitepaper 5.1): the timestamp must be newer than any seen from the peer.
    if (!isTimestampAfter(consumed.timestamp, p.lastTimestamp)) return this.drop("stale-timestamp", p, nowNs);
    if (nowNs - p.lastInitiationConsumedNs < this.timers.handshakeInitiationRateNs)
      return this.drop("initiation-flood", p, nowNs);
    p.lastTimestamp.set(consumed.timestamp);
    p.lastInitiationConsumedNs = nowNs;

    // Become responder: any initiation of ours in flight is superseded.
    this.dropHandshakeIndex(p);
    p.clearHandshake();
    const localIndex = this.newIndex({ peer: p, keypair: undefined });
    const ephemeral = this.newPrivateKey();
    const response = new Uint8Array(WG_RESPONSE_LEN);
    const chainKey = createResponse(
      this.crypto,
      consumed.state,
      p.publicKey,
      p.presharedKey,
      ephemeral,
      localIndex,
      consumed.senderIndex,
      response,
    );
    if (typeof chainKey === "string") {
      this.indexes.delete(localIndex);
      return this.drop(chainKey, p, nowNs);
    }
    const keys = deriveTransportKeys(this.crypto, chainKey, false);
    const kp = new Keypair(
      keys.sendKey,
      keys.recvKey,
      localIndex,
      consumed.senderIndex,
      nowNs,
      false,
      this.rejectAfterMessages,
    );
    this.indexes.set(localIndex, { peer: p, keypair: kp });
    // The responder's keypair waits in `next` until the initiator proves it has it (5.4.6).
    if (p.next) this.retireKeypair(p.next);
    p.next = kp;
    if (p.previous) this.retireKeypair(p.previous);
    p.previous = undefined;

    this.updateEndpoint(p, from, nowNs);
    p.cookies.addMacs(response, WG_RESPONSE_LEN, nowNs);
    this.transmit(response, p.endpoint!);
    p.txBytes += WG_RESPONSE_LEN;
    p.lastInitiationSentNs = nowNs;
    this.emit({ type: "handshake-response-sent", peer: p.name, nowNs });
    this.emit({ type: "handshake-complete", peer: p.name, role: "responder", nowNs });
    p.handshakesCompleted++;
    p.lastHandshakeNs = nowNs;
    p.rxBytes += WG_INITIATION_LEN;
    this.onAuthenticatedReceived(p);
    this.onAuthenticatedTraversal(p, nowNs);
    this.onAuthenticatedSent(p);
    p.zeroKeysAtNs = nowNs + 3 * this.timers.rejectAfterTimeNs;
    return "handshake-initiation";
  }

  private receiveResponse(msg: Uint8Array, from: WgEndpoint, nowNs: number): WgReceiveOutcome {
    const senderIndex = WgResponse.senderIndex(msg, 0);
    const refused = this.checkMacs(msg, senderIndex, from, nowNs);
    if (refused) return refused;
    const entry = this.indexes.get(WgResponse.receiverIndex(msg, 0));
    if (!entry) return this.drop("unknown-receiver-index", undefined, nowNs);
    const p = entry.peer;
    if (entry.keypair || p.handshakeRole !== "initiation-sent" || !p.handshake)
      return this.drop("unexpected-response", p, nowNs);
    const chainKey = consumeResponse(this.crypto, p.handshake, this.privateKey, p.presharedKey, msg);
    if (typeof chainKey === "string") return this.drop(chainKey, p, nowNs);
    const keys = deriveTransportKeys(this.crypto, chainKey, true);
    const localIndex = p.handshakeLocalIndex;
    const kp = new Keypair(
      keys.sendKey,
      keys.recvKey,
      localIndex,
      senderIndex,
      nowNs,
      true,
      this.rejectAfterMessages,
    );
    p.clearHandshake();
    this.indexes.set(localIndex, { peer: p, keypair: kp });
    // Initiator: the new keypair is current at once (5.4.6); the old current becomes previous.
    if (p.next) {
      if (p.previous) this.retireKeypair(p.previous);
      p.previous = p.next;
      p.next = undefined;
      if (p.current) this.retireKeypair(p.current);
    } else {
      if (p.previous) this.retireKeypair(p.previous);
      p.previous = p.current;
    }
    p.current = kp;

    this.updateEndpoint(p, from, nowNs);
    p.rxBytes += WG_RESPONSE_LEN;
    p.handshakesCompleted++;
    this.emit({ type: "handshake-complete", peer: p.name, role: "initiator", nowNs });
    this.onHandshakeComplete(p, nowNs);
    p.zeroKeysAtNs = nowNs + 3 * this.timers.rejectAfterTimeNs;
    this.onAuthenticatedReceived(p);
    this.onAuthenticatedTraversal(p, nowNs);
    // Confirm the keypair to the responder: queued data, or else a keepalive.
    if (p.queue.length > 0) this.flushQueue(p, nowNs);
    else this.sendKeepalive(p, "confirm", nowNs);
    return "handshake-response";
  }

  private receiveCookieReply(msg: Uint8Array, nowNs: number): WgReceiveOutcome {
    const entry = this.indexes.get(WgCookieReply.receiverIndex(msg, 0));
    if (!entry) return this.drop("unknown-receiver-index", undefined, nowNs);
    const p = entry.peer;
    if (!p.cookies.consumeReply(msg, nowNs)) return this.drop("cookie-decrypt-failed", p, nowNs);
    // The whitepaper (5.3): no immediate resend; the retransmission timer sends with mac2.
    this.emit({ type: "cookie-received", peer: p.name, nowNs });
    return "cookie-reply";
  }

  private receiveTransport(msg: Uint8Array, from: WgEndpoint, nowNs: number): WgReceiveOutcome {
    const entry = this.indexes.get(WgTransport.receiverIndex(msg, 0));
    if (!entry?.keypair) return this.drop("unknown-receiver-index", entry?.peer, nowNs);
    const p = entry.peer;
    const kp = entry.keypair;
    if (nowNs - kp.createdNs >= this.timers.rejectAfterTimeNs) return this.drop("expired-keypair", p, nowNs);
    const counterHigh = WgTransport.counterHigh(msg, 0);
    if (counterHigh >= 0x200000) return this.drop("expired-keypair", p, nowNs); // >= 2^53
    const counter = WgTransport.counter(msg, 0);
    if (counter >= this.rejectAfterMessages) return this.drop("expired-keypair", p, nowNs);
    if (!kp.replay.isFresh(counter)) return this.drop("replayed-counter", p, nowNs);
    const sealedLen = msg.length - WG_TRANSPORT_HEADER_LEN;
    // In place when the world allows it (no allocation per packet), else into bytes of its own.
    const isInPlace = this.isReceivedDatagramWritable;
    const plain = isInPlace ? msg : new Uint8Array(sealedLen - WG_AEAD_TAG_LEN);
    const at = isInPlace ? WG_TRANSPORT_HEADER_LEN : 0;
    const n = this.crypto.open(
      kp.recvKey,
      counter,
      undefined,
      msg,
      WG_TRANSPORT_HEADER_LEN,
      sealedLen,
      plain,
      at,
    );
    if (n < 0) return this.drop("decrypt-failed", p, nowNs);
    if (!kp.replay.accept(counter)) return this.drop("replayed-counter", p, nowNs);

    kp.rxPackets++;
    p.rxBytes += msg.length;
    if (kp === p.next) {
      // Key confirmation (5.4.6): the initiator used the new keypair, so it becomes current.
      if (p.previous) this.retireKeypair(p.previous);
      p.previous = p.current;
      p.current = kp;
      p.next = undefined;
      this.emit({ type: "keypair-confirmed", peer: p.name, nowNs });
      this.onHandshakeComplete(p, nowNs);
      if (p.queue.length > 0) this.flushQueue(p, nowNs);
    }
    this.updateEndpoint(p, from, nowNs);
    this.onAuthenticatedReceived(p);
    this.onAuthenticatedTraversal(p, nowNs);
    this.keepKeyFreshReceiving(p, nowNs);
    if (n === 0) return "keepalive";

    // The plaintext is padded: the inner IP header says how long the packet really is.
    const version = plain[at] >>> 4;
    let ipLen: number;
    let sourcePeer: WgPeerInfo | undefined;
    if (version === 4 && n >= 20) {
      ipLen = (plain[at + 2] << 8) | plain[at + 3];
      if (ipLen < 20 || ipLen > n) return this.drop("bad-inner-packet", p, nowNs);
      sourcePeer = this.table.lookupIpv4(readBe32(plain, at + 12));
    } else if (version === 6 && n >= 40) {
      ipLen = 40 + ((plain[at + 4] << 8) | plain[at + 5]);
      if (ipLen > n) return this.drop("bad-inner-packet", p, nowNs);
      sourcePeer = this.table.lookupIpv6(plain, at + 8);
    } else {
      return this.drop("bad-inner-packet", p, nowNs);
    }
    if (sourcePeer !== p) return this.drop("source-not-allowed", p, nowNs);
    p.rxPackets++;
    this.onDataReceived(p, nowNs);
    this.deliverPacket(plain.subarray(at, at + ipLen), p);
    return "data";
  }

  // ---------------------------------------------------------------- timers

  /**
   * A lower bound of the earliest deadline: exact after `tick`, possibly early after other calls
   * (a cancelled deadline is not searched for), so a world may wake for nothing; `tick` then
   * recomputes. O(1): no scan over the peers per packet.
   */
  nextTimerNs(): number | undefined {
    return this.wakeNs === Number.POSITIVE_INFINITY ? undefined : this.wakeNs;
  }

  tick(nowNs: number): void {
    this.tickPeers(nowNs);
    let t = Number.POSITIVE_INFINITY;
    for (const p of this.peerList) {
      const d = p.nextDeadlineNs();
      if (d < t) t = d;
    }
    this.wakeNs = t;
  }

  private tickPeers(nowNs: number): void {
    for (const p of [...this.peerList]) {
      if (p.retransmitAtNs !== undefined && p.retransmitAtNs <= nowNs) {
        p.retransmitAtNs = undefined;
        this.onRetransmitTimer(p, nowNs);
      }
      if (p.sendKeepaliveAtNs !== undefined && p.sendKeepaliveAtNs <= nowNs) {
        p.sendKeepaliveAtNs = undefined;
        this.sendKeepalive(p, "passive", nowNs);
        if (p.needsAnotherKeepalive) {
          p.needsAnotherKeepalive = false;
          p.sendKeepaliveAtNs = nowNs + this.timers.keepaliveTimeoutNs;
        }
      }
      if (p.newHandshakeAtNs !== undefined && p.newHandshakeAtNs <= nowNs) {
        // Sent data and heard nothing for KEEPALIVE_TIMEOUT + REKEY_TIMEOUT (6.2).
        p.newHandshakeAtNs = undefined;
        this.rekey(p, "no-reply", nowNs);
      }
      if (p.zeroKeysAtNs !== undefined && p.zeroKeysAtNs <= nowNs) {
        // No new handshake for 3 * REJECT_AFTER_TIME (6.3): forget every key of the peer.
        p.zeroKeysAtNs = undefined;
        this.dropIndexes(p);
        for (const kp of [p.previous, p.current, p.next]) kp?.wipe();
        p.previous = p.current = p.next = undefined;
        p.clearHandshake();
        this.emit({ type: "keys-zeroed", peer: p.name, nowNs });
      }
      if (p.persistentKeepaliveAtNs !== undefined && p.persistentKeepaliveAtNs <= nowNs) {
        p.persistentKeepaliveAtNs = undefined;
        if (p.persistentKeepaliveNs > 0) this.sendKeepalive(p, "persistent", nowNs);
      }
    }
  }

  private onRetransmitTimer(p: PeerState, nowNs: number): void {
    if (nowNs - p.attemptStartNs >= this.timers.rekeyAttemptTimeNs) {
      // REKEY_ATTEMPT_TIME passed without a handshake (6.4): give up, drop what waited.
      const dropped = p.queue.length;
      for (let i = 0; i < dropped; i++) this.drop("handshake-gave-up", p, nowNs);
      p.queue = [];
      p.newHandshakeAtNs = undefined;
      this.dropHandshakeIndex(p);
      p.clearHandshake();
      if (p.zeroKeysAtNs === undefined) p.zeroKeysAtNs = nowNs + 3 * this.timers.rejectAfterTimeNs;
      this.emit({ type: "handshake-gave-up", peer: p.name, droppedPackets: dropped, nowNs });
      return;
    }
    p.handshakeAttempts++;
    this.initiate(p, nowNs, true);
  }

  private onAuthenticatedSent(p: PeerState): void {
    p.sendKeepaliveAtNs = undefined;
    p.needsAnotherKeepalive = false;
  }

  private onAuthenticatedReceived(p: PeerState): void {
    p.newHandshakeAtNs = undefined;
  }

  private onAuthenticatedTraversal(p: PeerState, nowNs: number): void {
    if (p.persistentKeepaliveNs > 0) p.persistentKeepaliveAtNs = nowNs + p.persistentKeepaliveNs;
  }

  private onDataSent(p: PeerState, nowNs: number): void {
    if (p.newHandshakeAtNs === undefined)
      p.newHandshakeAtNs = nowNs + this.timers.keepaliveTimeoutNs + this.timers.rekeyTimeoutNs;
  }

  private onDataReceived(p: PeerState, nowNs: number): void {
    if (p.sendKeepaliveAtNs === undefined) p.sendKeepaliveAtNs = nowNs + this.timers.keepaliveTimeoutNs;
    else p.needsAnotherKeepalive = true;
  }

  private onHandshakeComplete(p: PeerState, nowNs: number): void {
    p.retransmitAtNs = undefined;
    p.handshakeAttempts = 0;
    p.hasSentLastMinuteHandshake = false;
    p.lastHandshakeNs = nowNs;
  }

  // ---------------------------------------------------------------- sending

  private usableSendKeypair(p: PeerState, nowNs: number): Keypair | undefined {
    const kp = p.current;
    if (!kp) return undefined;
    if (nowNs - kp.createdNs >= this.timers.rejectAfterTimeNs) return undefined;
    if (kp.sendCounter >= this.rejectAfterMessages) return undefined;
    return kp;
  }

  /** The initiator of a keypair rekeys when it gets old or heavily used (6.2). */
  private keepKeyFreshSending(p: PeerState, kp: Keypair, nowNs: number): void {
    if (kp.sendCounter > this.timers.rekeyAfterMessages) this.rekey(p, "messages", nowNs);
    else if (kp.isInitiator && nowNs - kp.createdNs >= this.timers.rekeyAfterTimeNs)
      this.rekey(p, "time", nowNs);
  }

  /**
   * Receiving on a keypair we initiated that is near REJECT_AFTER_TIME (within KEEPALIVE_TIMEOUT +
   * REKEY_TIMEOUT of it) starts one handshake, so that a peer that only listens still rekeys.
   */
  private keepKeyFreshReceiving(p: PeerState, nowNs: number): void {
    const kp = p.current;
    if (!kp?.isInitiator || p.hasSentLastMinuteHandshake) return;
    const t = this.timers;
    if (nowNs - kp.createdNs >= t.rejectAfterTimeNs - t.keepaliveTimeoutNs - t.rekeyTimeoutNs) {
      p.hasSentLastMinuteHandshake = true;
      this.rekey(p, "receive-age", nowNs);
    }
  }

  private flushQueue(p: PeerState, nowNs: number): void {
    const kp = this.usableSendKeypair(p, nowNs);
    if (!kp) {
      this.initiate(p, nowNs, false);
      return;
    }
    const q = p.queue;
    p.queue = [];
    for (const pkt of q) this.sendTransport(p, kp, pkt, nowNs);
    this.keepKeyFreshSending(p, kp, nowNs);
  }

  private sendKeepalive(p: PeerState, reason: "passive" | "persistent" | "confirm", nowNs: number): void {
    if (p.queue.length > 0) {
      this.flushQueue(p, nowNs);
      return;
    }
    const kp = this.usableSendKeypair(p, nowNs);
    if (!kp) {
      this.initiate(p, nowNs, false);
      return;
    }
    if (!p.endpoint) return;
    this.sendTransport(p, kp, EMPTY, nowNs);
    this.emit({ type: "keepalive-sent", peer: p.name, reason, nowNs });
    this.keepKeyFreshSending(p, kp, nowNs);
  }

  /** Encrypts `payload` (an IP packet, or empty for a keepalive) and sends it (5.4.6). */
  private sendTransport(p: PeerState, kp: Keypair, payload: Uint8Array, nowNs: number): void {
    const len = payload.length;
    const padded = len === 0 ? 0 : len > this.mtu ? roundUp16(len) : Math.min(roundUp16(len), this.mtu);
    const outLen = WG_TRANSPORT_HEADER_LEN + padded + WG_AEAD_TAG_LEN;
    let out: Uint8Array;
    if (this.isSentDatagramCopied) {
      if (this.txScratch.length < outLen) this.txScratch = new Uint8Array(Math.max(outLen, 2048));
      out = this.txScratch.subarray(0, outLen);
      out.fill(0, WG_TRANSPORT_HEADER_LEN + len, WG_TRANSPORT_HEADER_LEN + padded); // padding is zeros
    } else {
      out = new Uint8Array(outLen);
    }
    const counter = kp.sendCounter++;
    WgTransport.writeHeader(out, 0, kp.remoteIndex, counter);
    out.set(payload, WG_TRANSPORT_HEADER_LEN);
    this.crypto.seal(
      kp.sendKey,
      counter,
      undefined,
      out,
      WG_TRANSPORT_HEADER_LEN,
      padded,
      out,
      WG_TRANSPORT_HEADER_LEN,
    );
    this.transmit(out, p.endpoint!);
    p.txBytes += out.length;
    if (len > 0) p.txPackets++;
    this.onAuthenticatedSent(p);
    this.onAuthenticatedTraversal(p, nowNs);
    if (len > 0) this.onDataSent(p, nowNs);
  }

  /** Starts a handshake for a reason of section 6.2; the event says why (only if one is sent). */
  private rekey(p: PeerState, reason: "time" | "messages" | "receive-age" | "no-reply", nowNs: number): void {
    if (this.isHandshakeRateLimited(p, nowNs)) return;
    this.emit({ type: "rekey", peer: p.name, reason, nowNs });
    this.initiate(p, nowNs, false);
  }

  /** At most one handshake message (initiation or response) per REKEY_TIMEOUT (6.4). */
  private isHandshakeRateLimited(p: PeerState, nowNs: number): boolean {
    return nowNs - p.lastInitiationSentNs < this.timers.rekeyTimeoutNs;
  }

  /** Sends a handshake initiation (5.4.2), unless one went out less than REKEY_TIMEOUT ago. */
  private initiate(p: PeerState, nowNs: number, isRetry: boolean): void {
    if (!isRetry) {
      if (this.isHandshakeRateLimited(p, nowNs)) return;
      if (p.retransmitAtNs === undefined) {
        p.attemptStartNs = nowNs;
        p.handshakeAttempts = 0;
      }
    }
    if (!p.endpoint) {
      // Nowhere to send: keep the retry timer so that a configured endpoint gets used later.
      p.retransmitAtNs = nowNs + this.timers.rekeyTimeoutNs + this.jitterNs();
      return;
    }
    this.dropHandshakeIndex(p);
    p.clearHandshake();
    const localIndex = this.newIndex({ peer: p, keypair: undefined });
    const msg = new Uint8Array(WG_INITIATION_LEN);
    const state = createInitiation(
      this.crypto,
      this.publicKey,
      p.publicKey,
      p.staticShared,
      this.newPrivateKey(),
      localIndex,
      tai64n(this.unixEpochOffsetNs + nowNs),
      msg,
    );
    if (typeof state === "string") {
      this.indexes.delete(localIndex);
      this.drop(state, p, nowNs);
      return;
    }
    p.handshake = state;
    p.handshakeRole = "initiation-sent";
    p.handshakeLocalIndex = localIndex;
    const hasMac2 = p.cookies.addMacs(msg, WG_INITIATION_LEN, nowNs);
    p.lastInitiationSentNs = nowNs;
    p.handshakeAttemptsTotal++;
    this.transmit(msg, p.endpoint);
    p.txBytes += WG_INITIATION_LEN;
    this.emit({
      type: "handshake-initiation-sent",
      peer: p.name,
      attempt: p.handshakeAttempts + 1,
      hasMac2,
      nowNs,
    });
    this.onAuthenticatedTraversal(p, nowNs);
    this.onAuthenticatedSent(p);
    p.retransmitAtNs = nowNs + this.timers.rekeyTimeoutNs + this.jitterNs();
  }

  // ---------------------------------------------------------------- helpers

  private transmit(bytes: Uint8Array, to: WgEndpoint): void {
    this.txDatagrams++;
    this.sendDatagramFn(bytes, to);
  }

  private updateEndpoint(p: PeerState, from: WgEndpoint, nowNs: number): void {
    const e = p.endpoint;
    if (e && e.address === from.address && e.port === from.port) return;
    p.endpoint = { address: from.address, port: from.port };
    this.peersByEndpoint = undefined;
    this.emit({ type: "endpoint-changed", peer: p.name, endpoint: p.endpoint, nowNs });
  }

  private retireKeypair(kp: Keypair): void {
    const e = this.indexes.get(kp.localIndex);
    if (e?.keypair === kp) this.indexes.delete(kp.localIndex);
    kp.wipe();
  }

  private dropHandshakeIndex(p: PeerState): void {
    if (p.handshakeRole === "none") return;
    const e = this.indexes.get(p.handshakeLocalIndex);
    if (e && e.peer === p && !e.keypair) this.indexes.delete(p.handshakeLocalIndex);
  }

  private dropIndexes(p: PeerState): void {
    for (const [i, e] of this.indexes) if (e.peer === p) this.indexes.delete(i);
  }

  /** A fresh random 32-bit index not in use (whitepaper 5.4.2: "randomly generated"). */
  private newIndex(entry: IndexEntry): number {
    for (;;) {
      this.randomBytes(this.rand4);
      const i = readBe32(this.rand4, 0);
      if (!this.indexes.has(i)) {
        this.indexes.set(i, entry);
        return i;
      }
    }
  }

  private newPrivateKey(): Uint8Array {
    const k = new Uint8Array(32);
    this.randomBytes(k);
    k[0] &= 248;
    k[31] = (k[31] & 127) | 64;
    return k;
  }

  /** Uniform in [0, rekeyTimeoutJitterMaxNs), from the injected random source. */
  private jitterNs(): number {
    this.randomBytes(this.rand4);
    return Math.floor((readBe32(this.rand4, 0) / 0x100000000) * this.timers.rekeyTimeoutJitterMaxNs);
  }

  private drop(reason: WgDropReason, peer: PeerState | undefined, nowNs: number): WgDropReason {
    this.drops.add(reason);
    if (this.onEvent) this.emit({ type: "drop", reason, peer: peer?.name, nowNs });
    return reason;
  }

  private emit(event: WgEvent): void {
    this.onEvent?.(event);
  }

  private own(info: WgPeerInfo): PeerState {
    const p = this.peersByKey.get(keyIdOf(info.publicKey));
    if (!p || p !== info) throw new WgConfigError(`peer ${info.name} is not configured on this device`);
    return p;
  }

  counters(): WgDeviceCounters {
    const drops: Record<string, number> = {};
    for (const [k, v] of this.drops.entries()) drops[k] = v;
    return {
      crypto: this.crypto.name,
      peers: this.peerList.map((p) => ({
        name: p.name,
        publicKey: shortKey(p.publicKey),
        endpoint: p.endpoint ? formatEndpointText(p.endpoint) : undefined,
        rxBytes: p.rxBytes,
        txBytes: p.txBytes,
        rxPackets: p.rxPackets,
        txPackets: p.txPackets,
        handshakesCompleted: p.handshakesCompleted,
        handshakeAttempts: p.handshakeAttemptsTotal,
        lastHandshakeNs: p.lastHandshakeNs,
        hasCurrentKeypair: p.current !== undefined,
      })),
      rxDatagrams: this.rxDatagrams,
      txDatagrams: this.txDatagrams,
      cookieRepliesSent: this.cookieRepliesSent,
      queuedHandshakes: this.queuedHandshakes(),
      isUnderLoad: this.forcedLoad ?? this.lastNowNs < this.underLoadUntilNs,
      drops,
      dropsTotal: this.drops.total,
    };
  }

  toJSON(): object {
    return { wgDevice: shortKey(this.publicKey), peers: this.peerList.length };
  }
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return `WgDevice { publicKey: ${shortKey(this.publicKey)}, peers: ${this.peerList.length} [keys redacted] }`;
  }
}

const EMPTY = new Uint8Array(0);

/** Refuses a parsed prefix that no text could have produced (bad length or address size). */
function checkCidr(c: Cidr): Cidr {
  if (c.family === 4) {
    if (!Number.isInteger(c.addr) || c.addr < 0 || c.addr > 0xffffffff)
      throw new WgConfigError("an IPv4 prefix address must be a uint32");
    if (!Number.isInteger(c.prefixLen) || c.prefixLen < 0 || c.prefixLen > 32)
      throw new WgConfigError(`an IPv4 prefix length is 0..32, got ${c.prefixLen}`);
  } else if (c.family === 6) {
    if (!(c.addr instanceof Uint8Array) || c.addr.length !== 16)
      throw new WgConfigError("an IPv6 prefix address is 16 bytes");
    if (!Number.isInteger(c.prefixLen) || c.prefixLen < 0 || c.prefixLen > 128)
      throw new WgConfigError(`an IPv6 prefix length is 0..128, got ${c.prefixLen}`);
  } else {
    throw new WgConfigError("a prefix is IPv4 or IPv6");
  }
  return c;
}

function roundUp16(n: number): number {
  return (n + 15) & ~15;
}

function readBe32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

/** A map key for a public key (hex; public keys are not secret, but keep it off any output). */
function keyIdOf(key: Uint8Array): string {
  let s = "";
  for (let i = 0; i < key.length; i++) s += (key[i] + 0x100).toString(16).slice(1);
  return s;
}

function formatEndpointText(e: WgEndpoint): string {
  return e.address.includes(":") ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
}
