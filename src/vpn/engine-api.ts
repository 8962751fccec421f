/**
 * The public contract of the WireGuard engine (`engine.ts` implements it): the types a world (the
 * simulator, the real UDP endpoint in `src/real/`, the CLI) uses to drive one WireGuard device.
 * Like every device in `src/dataplane/`, the engine does no I/O and reads no clock: plaintext IP
 * packets and UDP payloads come in with the current time, UDP payloads and decrypted packets go
 * out through callbacks, and the world arms one timer at `nextTimerNs()` and calls `tick`.
 *
 * How a world drives it:
 *
 *   const dev = new WgDevice({ privateKey, crypto: nodeCrypto, randomBytes,
 *     sendDatagram: (bytes, to) => udp.send(bytes, to.port, to.address),
 *     deliverPacket: (ip, peer) => tun.write(ip) });
 *   const peer = dev.addPeer({ publicKey, allowedIps: ["10.0.0.2/32"], endpoint: { address, port } });
 *   tun.on("packet", (ip) => { dev.sendPacket(ip, now()); rearm(); });
 *   udp.on("message", (b, r) => { dev.receiveDatagram(b, { address: r.address, port: r.port }, now()); rearm(); });
 *   function rearm() { const t = dev.nextTimerNs(); if (t !== undefined) setTimer(t - now(), () => { dev.tick(now()); rearm(); }); }
 *
 * Times are nanoseconds of world time (`nowNs`), non-decreasing across calls. Keys are raw
 * 32-byte Uint8Arrays (`keys.ts` converts base64 text); no key ever appears in an event, an
 * error, a counter or the JSON/inspect form of any object here.
 */

import type { Cidr } from "./allowed-ips.ts";
import type { WgCrypto } from "./crypto.ts";

/** Where a peer's UDP datagrams go and come from (an IPv4 or IPv6 address text and a port). */
export interface WgEndpoint {
  readonly address: string;
  readonly port: number;
}

/**
 * The protocol's timers and limits (whitepaper section 6.1 and its table). Every value can be
 * overridden (tests shorten them); the defaults are the whitepaper's (jitter and initiation rate:
 * wireguard-go's).
 */
export interface WgTimerConfig {
  /** REKEY_AFTER_MESSAGES, 2^60: a side that sent this many messages on a keypair rekeys. */
  rekeyAfterMessages: number;
  /**
   * REJECT_AFTER_MESSAGES, 2^64 - 2^13 - 1: no message is sent or accepted with a counter at or
   * above this. Counters are JS numbers, so the effective limit is min(this, 2^53) (unreachable
   * anyway: REJECT_AFTER_TIME ends a keypair long before).
   */
  rejectAfterMessages: number;
  /** REKEY_AFTER_TIME, 120 s: the initiator of a keypair rekeys when sending on an older one. */
  rekeyAfterTimeNs: number;
  /** REJECT_AFTER_TIME, 180 s: a keypair older than this is never used. */
  rejectAfterTimeNs: number;
  /** REKEY_ATTEMPT_TIME, 90 s: stop retrying a handshake after this long. */
  rekeyAttemptTimeNs: number;
  /** REKEY_TIMEOUT, 5 s: retransmit an unanswered initiation after this (plus jitter). */
  rekeyTimeoutNs: number;
  /** Jitter added to each retransmission, uniform in [0, this) (wireguard-go: 334 ms). */
  rekeyTimeoutJitterMaxNs: number;
  /** KEEPALIVE_TIMEOUT, 10 s: passive keepalive after receiving data and sending nothing. */
  keepaliveTimeoutNs: number;
  /** COOKIE_REFRESH_TIME, 120 s: cookie secret lifetime, and how long a received cookie is used. */
  cookieRefreshTimeNs: number;
  /** Minimum spacing of initiations accepted from one peer (wireguard-go: 1/50 s). */
  handshakeInitiationRateNs: number;
}

/** How the device decides it is "under load" (whitepaper 5.3: then it demands a valid MAC2). */
export interface WgLoadPolicy {
  /** Handshake messages received per second above which the device is under load. Default 1000. */
  handshakesPerSecond: number;
  /** How long the device stays under load once it was (wireguard-go: 1 s). */
  holdNs: number;
  /**
   * Under load, handshake messages with a valid mac2 are still rate-limited per source address
   * (a token bucket): this many per second (wireguard-go: 20) ...
   */
  perSourcePerSecond: number;
  /** ... with bursts of this many (wireguard-go: 5). */
  perSourceBurst: number;
}

export interface WgDeviceOptions {
  /** The device's static private key (32 bytes; clamped on use). */
  privateKey: Uint8Array;
  crypto: WgCrypto;
  /** Fills `out` with random bytes: ephemeral keys, indexes, cookie secrets and nonces, jitter. */
  randomBytes: (out: Uint8Array) => void;
  /** A UDP payload to send to `to`. The bytes belong to the world from then on. */
  sendDatagram: (bytes: Uint8Array, to: WgEndpoint) => void;
  /** A decrypted, authenticated, source-checked IP packet for the tunnel interface. */
  deliverPacket: (ipPacket: Uint8Array, peer: WgPeerInfo) => void;
  /** Protocol events (handshakes, keepalives, drops...), for traces and tests. Optional. */
  onEvent?: (event: WgEvent) => void;
  /** Overrides of the whitepaper's timers (tests shorten them). */
  timers?: Partial<WgTimerConfig>;
  /** The "under load" rule; `WgDevice.forceUnderLoad` overrides it. */
  load?: Partial<WgLoadPolicy>;
  /**
   * Unix time in ns at `nowNs = 0`: the TAI64N timestamp in initiations is this plus `nowNs`. A
   * real world passes its wall clock offset so that a restarted device still sends increasing
   * timestamps (a responder refuses older ones); the simulator may leave it 0.
   */
  unixEpochOffsetNs?: number;
  /** Plaintext is padded to a multiple of 16 but not beyond this (default 1420, wg's default MTU). */
  mtu?: number;
  /** Packets held per peer while a handshake is under way (default 128; more are dropped, counted). */
  maxQueuedPackets?: number;
  /**
   * What `receiveDatagram` does with a handshake initiation or response. "inline" (default): it
   * processes the message at once and returns the outcome, as a simulated world wants (one call,
   * one deterministic result). "queued": it only classifies the datagram by type and length, puts
   * the message in a bounded queue and returns "handshake-queued"; the world drains the queue
   * with `processHandshakes(nowNs, maxMessages)` when it has time, so that transport data keeps
   * flowing under a handshake flood (a real endpoint). Transport data and cookie replies are
   * processed at once in both modes.
   */
  handshakeProcessing?: WgHandshakeProcessing;
  /**
   * Handshake messages held in the "queued" mode (default 1024, wireguard-go's queue length) in
   * each of two lanes: messages from a peer's current endpoint (taken first) and all others. A
   * full lane drops its oldest ("handshake-queue-full"). With an eighth of this or more waiting
   * the device is under load, as in wireguard-go.
   */
  maxQueuedHandshakes?: number;
  /**
   * True when the bytes a world passes to `receiveDatagram` are the device's to overwrite for
   * the duration of the call (a real endpoint's receive buffer). Transport data is then
   * decrypted in place and `deliverPacket` gets a view into those bytes, valid until the world
   * reuses them (copy to keep). Default false: the datagram is left as it was and the packet
   * delivered in bytes of its own (a simulated world captures and replays datagrams).
   */
  isReceivedDatagramWritable?: boolean;
  /**
   * True when the world is done with the bytes given to `sendDatagram` by the time it returns
   * (it copied them into a send batch). The device then builds transport messages in one buffer
   * of its own, reused packet after packet. Default false: every datagram is a new array that
   * the world keeps (a simulated link, node:dgram's asynchronous send).
   */
  isSentDatagramCopied?: boolean;
  /**
   * The cryptokey routing table. Default: a fresh `AllowedIps` (allowed-ips.ts). The engine
   * inserts and removes its peers' prefixes itself.
   */
  allowedIps?: WgAllowedIpsTable;
}

/** See `WgDeviceOptions.handshakeProcessing`. */
export type WgHandshakeProcessing = "inline" | "queued";

/** A longest-prefix-match table from IP prefixes to peers (whitepaper section 2, cryptokey routing). */
export interface WgAllowedIpsTable {
  /** Adds a prefix ("10.0.0.0/24", "fd00::/64" or a parsed Cidr) for `peer`; a prefix belongs to one peer (last wins). */
  insert(prefix: Cidr | string, peer: WgPeerInfo): unknown;
  /** Removes every prefix of `peer`. */
  removePeer(peer: WgPeerInfo): unknown;
  /** The peer whose longest prefix contains the IPv4 address `addr` (uint32). */
  lookupIpv4(addr: number): WgPeerInfo | undefined;
  /** The peer whose longest prefix contains the 16-byte IPv6 address at `buf[offset..]`. */
  lookupIpv6(buf: Uint8Array, offset: number): WgPeerInfo | undefined;
}

export interface WgPeerConfig {
  /** The peer's static public key (32 bytes). */
  publicKey: Uint8Array;
  /** Optional pre-shared symmetric key (32 bytes), mixed into the handshake (the "psk2" of IKpsk2). */
  presharedKey?: Uint8Array;
  /** Prefixes (text or parsed): packets to these go to this peer; packets from it must come from these. */
  allowedIps: readonly (string | Cidr)[];
  /** Where to send until the peer is heard from (roaming updates it). */
  endpoint?: WgEndpoint;
  /** Send a keepalive after this many seconds without sending anything (0 or absent: off). */
  persistentKeepaliveSec?: number;
  /** A label for events and counters (default: the short form of the public key). */
  name?: string;
}

/** What the world sees of a peer: an opaque handle plus non-secret facts. */
export interface WgPeerInfo {
  readonly name: string;
  /** The peer's public key (public, but still printed only in short form). */
  readonly publicKey: Uint8Array;
  readonly endpoint: WgEndpoint | undefined;
  /** The allowed prefixes as text ("10.0.0.0/24"). */
  readonly allowedIps: readonly string[];
}

/** Outcome of `receiveDatagram`: what was accepted, or why the datagram was dropped. */
export type WgReceiveOutcome =
  | "handshake-initiation" // consumed; a response was sent
  | "handshake-response" // consumed; a new keypair is current
  | "cookie-reply" // consumed; the next initiation carries MAC2
  | "data" // decrypted and delivered
  | "keepalive" // authenticated empty packet
  | "cookie-sent" // under load and no valid MAC2: answered with a cookie reply, not processed
  | "handshake-queued" // "queued" mode: waits for `processHandshakes`
  | WgDropReason;

/** Outcome of `sendPacket`. */
export type WgSendOutcome = "sent" | "queued" | WgDropReason;

/** Every reason the engine drops a datagram or a packet; each has a counter. */
export type WgDropReason =
  | "malformed" // too short, wrong length for its type, or unknown message type
  | "bad-mac1" // MAC1 does not authenticate the message for our public key
  | "handshake-decrypt-failed" // static, timestamp or empty field failed AEAD
  | "unknown-peer" // initiation from a static key we have no peer for
  | "bad-public-key" // a DH with a received key gave all zeros (low-order point)
  | "stale-timestamp" // initiation timestamp not newer than the last one (a replay)
  | "initiation-flood" // initiations from one peer faster than handshakeInitiationRateNs
  | "rate-limited" // under load, too many handshake messages from one source address
  | "unknown-receiver-index" // no handshake or keypair under that index
  | "unexpected-response" // a response for a handshake that is no longer waiting
  | "cookie-decrypt-failed" // cookie reply failed XAEAD
  | "expired-keypair" // keypair older than REJECT_AFTER_TIME or past REJECT_AFTER_MESSAGES
  | "decrypt-failed" // transport data failed AEAD
  | "replayed-counter" // counter seen before or older than the replay window
  | "bad-inner-packet" // decrypted bytes are not an IPv4/IPv6 packet (or lengths disagree)
  | "source-not-allowed" // inner source address is not in the sender's allowed IPs
  | "no-peer-for-destination" // no peer's allowed IPs contain the destination
  | "not-ip" // a packet to send that is not IPv4/IPv6
  | "no-endpoint" // the peer has no known endpoint yet
  | "queue-full" // too many packets waiting for a handshake
  | "handshake-gave-up" // queued packets dropped after REKEY_ATTEMPT_TIME without a handshake
  | "handshake-queue-full"; // "queued" mode: the oldest waiting handshake message, pushed out by a new one

export type WgEvent =
  | { type: "handshake-initiation-sent"; peer: string; attempt: number; hasMac2: boolean; nowNs: number }
  | { type: "handshake-response-sent"; peer: string; nowNs: number }
  | { type: "handshake-complete"; peer: string; role: "initiator" | "responder"; nowNs: number }
  /** The responder's new keypair became current on the first data under it (key confirmation). */
  | { type: "keypair-confirmed"; peer: string; nowNs: number }
  | { type: "cookie-reply-sent"; to: WgEndpoint; nowNs: number }
  | { type: "cookie-received"; peer: string; nowNs: number }
  | { type: "keepalive-sent"; peer: string; reason: "passive" | "persistent" | "confirm"; nowNs: number }
  | { type: "rekey"; peer: string; reason: "time" | "messages" | "receive-age" | "no-reply"; nowNs: number }
  | { type: "handshake-gave-up"; peer: string; droppedPackets: number; nowNs: number }
  | { type: "keys-zeroed"; peer: string; nowNs: number }
  | { type: "endpoint-changed"; peer: string; endpoint: WgEndpoint; nowNs: number }
  | { type: "drop"; reason: WgDropReason; peer?: string; nowNs: number };

/** JSON-safe counters of one peer: no keys, only counts, times and the endpoint. */
export interface WgPeerCounters {
  name: string;
  publicKey: string; // short form only
  endpoint: string | undefined;
  rxBytes: number;
  txBytes: number;
  rxPackets: number;
  txPackets: number;
  handshakesCompleted: number;
  handshakeAttempts: number;
  lastHandshakeNs: number | undefined;
  hasCurrentKeypair: boolean;
}

/** JSON-safe counters of the device. */
export interface WgDeviceCounters {
  crypto: string;
  peers: WgPeerCounters[];
  rxDatagrams: number;
  txDatagrams: number;
  cookieRepliesSent: number;
  /** Handshake messages waiting in the "queued" mode (always 0 "inline"). */
  queuedHandshakes: number;
  isUnderLoad: boolean;
  drops: Record<string, number>;
  dropsTotal: number;
}

/** The device API (implemented by `WgDevice` in engine.ts). */
export interface WgDeviceApi {
  /** Adds a peer; throws `WgConfigError` for a bad key, CIDR or a duplicate public key. */
  addPeer(config: WgPeerConfig): WgPeerInfo;
  removePeer(peer: WgPeerInfo): void;
  peers(): readonly WgPeerInfo[];
  /** Sets where a peer's datagrams go (roaming may change it again later). */
  setEndpoint(peer: WgPeerInfo, endpoint: WgEndpoint): void;
  /** A plaintext IP packet from the tunnel interface: route by allowed IPs, encrypt, send or queue. */
  sendPacket(ipPacket: Uint8Array, nowNs: number): WgSendOutcome;
  /**
   * A UDP payload received from `from`. In the "queued" mode a handshake message is copied into
   * the queue (the world may reuse `bytes`) and "handshake-queued" is returned.
   */
  receiveDatagram(bytes: Uint8Array, from: WgEndpoint, nowNs: number): WgReceiveOutcome;
  /**
   * "queued" mode: processes at most `maxMessages` waiting handshake messages, oldest first, as
   * if they arrived now (mac1, the load rule, mac2 and cookie replies, the per-source limit, then
   * the handshake); returns how many were taken off the queue. "inline": always 0. The world
   * bounds the time it spends by calling this in small batches and reading its own clock.
   */
  processHandshakes(nowNs: number, maxMessages: number): number;
  /** Handshake messages waiting for `processHandshakes` (0 in the "inline" mode). */
  queuedHandshakes(): number;
  /** Starts a handshake with `peer` now (as `wg` does on the first packet; for tools and tests). */
  initiateHandshake(peer: WgPeerInfo, nowNs: number): void;
  /** Runs every timer due at or before `nowNs`. */
  tick(nowNs: number): void;
  /**
   * When the device next needs a `tick` (undefined: nothing pending). O(1); it may be earlier
   * than needed (a cancelled deadline), in which case `tick` does nothing and the next answer
   * is exact. Ask again after every call into the device.
   */
  nextTimerNs(): number | undefined;
  /** Forces "under load" on (true), off (false), or back to the load policy (undefined). */
  forceUnderLoad(isUnderLoad: boolean | undefined): void;
  counters(): WgDeviceCounters;
}
