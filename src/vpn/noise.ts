/**
 * The WireGuard handshake: Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s (whitepaper section 5.4.2-5.4.5,
 * Noise protocol framework rev. 34 for the IK pattern with a PSK mixed in after the second
 * message). Four pure steps, each given the crypto and fresh randomness by the caller:
 *
 *   initiator: createInitiation  ->  (148-byte message)  ->  responder: consumeInitiation
 *   responder: createResponse    ->  (92-byte message)   ->  initiator: consumeResponse
 *
 * and then both derive the transport keys with `deriveTransportKeys`. mac1/mac2 are not written
 * here (cookie.ts does that over the finished message). Nothing here knows about peers' tables,
 * timers or endpoints: the engine (engine.ts) holds that state.
 */

import {
  INIT_EPHEMERAL,
  INIT_SENDER,
  INIT_STATIC,
  INIT_TIMESTAMP,
  RESP_EMPTY,
  RESP_EPHEMERAL,
  RESP_RECEIVER,
  RESP_SENDER,
  WG_INITIATION_LEN,
  WG_RESPONSE_LEN,
  WG_TIMESTAMP_LEN,
  WgInitiation,
  WgMessageType,
  WgResponse,
} from "../wire/wireguard.ts";
import { kdf1, kdf2, kdf3, WG_AEAD_TAG_LEN, WG_KEY_LEN, type WgCrypto, wipe } from "./crypto.ts";

export const CONSTRUCTION = new TextEncoder().encode("Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s");
export const IDENTIFIER = new TextEncoder().encode("WireGuard v1 zx2c4 Jason@zx2c4.com");

const EMPTY = new Uint8Array(0);

/** A copy that owns its memory even when `buf` is a Node Buffer (whose slice() is a view). */
function copyOf(buf: Uint8Array, offset: number, len: number): Uint8Array {
  const out = new Uint8Array(len);
  out.set(buf.subarray(offset, offset + len));
  return out;
}
const ZERO_PSK = new Uint8Array(32);

/** C0 = HASH(CONSTRUCTION) and H0 = HASH(C0 || IDENTIFIER), the same for every handshake. */
export function initialChainAndHash(c: WgCrypto): { chainKey: Uint8Array; hash: Uint8Array } {
  const chainKey = c.hash(CONSTRUCTION);
  return { chainKey, hash: c.hash(chainKey, IDENTIFIER) };
}

/** The running state of one handshake (secret: never printed). */
export interface HandshakeState {
  chainKey: Uint8Array;
  hash: Uint8Array;
  /** Our ephemeral private key (both roles). */
  localEphemeral: Uint8Array;
  /** The other side's ephemeral public key (responder, after consuming the initiation). */
  remoteEphemeral?: Uint8Array;
}

export type NoiseFailure = "handshake-decrypt-failed" | "bad-public-key";

function aeadSeal(
  c: WgCrypto,
  key: Uint8Array,
  plaintext: Uint8Array,
  ad: Uint8Array,
  out: Uint8Array,
  at: number,
) {
  c.seal(key, 0, ad, plaintext, 0, plaintext.length, out, at);
}

function aeadOpen(c: WgCrypto, key: Uint8Array, msg: Uint8Array, at: number, ptLen: number, ad: Uint8Array) {
  const out = new Uint8Array(ptLen);
  return c.open(key, 0, ad, msg, at, ptLen + WG_AEAD_TAG_LEN, out, 0) === ptLen ? out : undefined;
}

/**
 * Writes an initiation (without MACs) into `msg` (148 bytes). `staticShared` is DH(our static,
 * their static), which the caller precomputes once per peer. Returns the state to keep for the
 * response, or a failure if a DH gives zeros.
 */
export function createInitiation(
  c: WgCrypto,
  localStaticPublic: Uint8Array,
  remoteStaticPublic: Uint8Array,
  staticShared: Uint8Array,
  ephemeralPrivate: Uint8Array,
  senderIndex: number,
  timestamp: Uint8Array,
  msg: Uint8Array,
): HandshakeState | NoiseFailure {
  const init = initialChainAndHash(c);
  let ck = init.chainKey;
  let h = c.hash(init.hash, remoteStaticPublic);
  msg.fill(0, 0, WG_INITIATION_LEN);
  msg[0] = WgMessageType.HandshakeInitiation;
  WgInitiation.setSenderIndex(msg, 0, senderIndex);
  const ephPub = c.publicKey(ephemeralPrivate);
  msg.set(ephPub, INIT_EPHEMERAL);
  ck = kdf1(c, ck, ephPub);
  h = c.hash(h, ephPub);
  const es = c.dh(ephemeralPrivate, remoteStaticPublic);
  if (!es) return "bad-public-key";
  let k: Uint8Array;
  [ck, k] = kdf2(c, ck, es);
  aeadSeal(c, k, localStaticPublic, h, msg, INIT_STATIC);
  h = c.hash(h, msg.subarray(INIT_STATIC, INIT_STATIC + WG_KEY_LEN + WG_AEAD_TAG_LEN));
  [ck, k] = kdf2(c, ck, staticShared);
  aeadSeal(c, k, timestamp, h, msg, INIT_TIMESTAMP);
  h = c.hash(h, msg.subarray(INIT_TIMESTAMP, INIT_TIMESTAMP + WG_TIMESTAMP_LEN + WG_AEAD_TAG_LEN));
  wipe(es);
  wipe(k);
  return { chainKey: ck, hash: h, localEphemeral: ephemeralPrivate };
}

export interface ConsumedInitiation {
  remoteStatic: Uint8Array;
  timestamp: Uint8Array;
  senderIndex: number;
  state: HandshakeState;
}

/**
 * Reads an initiation addressed to us (MAC1 already checked). `staticSharedFor` returns DH(our
 * static, their static) for a known peer, or undefined for a stranger (then "unknown-peer").
 * The state's `localEphemeral` is left empty: `createResponse` fills it.
 */
export function consumeInitiation(
  c: WgCrypto,
  localStaticPrivate: Uint8Array,
  localStaticPublic: Uint8Array,
  msg: Uint8Array,
  staticSharedFor: (remoteStatic: Uint8Array) => Uint8Array | undefined,
): ConsumedInitiation | NoiseFailure | "unknown-peer" {
  const init = initialChainAndHash(c);
  let ck = init.chainKey;
  let h = c.hash(init.hash, localStaticPublic);
  const ephPub = copyOf(msg, INIT_EPHEMERAL, WG_KEY_LEN);
  ck = kdf1(c, ck, ephPub);
  h = c.hash(h, ephPub);
  const es = c.dh(localStaticPrivate, ephPub);
  if (!es) return "bad-public-key";
  let k: Uint8Array;
  [ck, k] = kdf2(c, ck, es);
  const remoteStatic = aeadOpen(c, k, msg, INIT_STATIC, WG_KEY_LEN, h);
  if (!remoteStatic) return "handshake-decrypt-failed";
  h = c.hash(h, msg.subarray(INIT_STATIC, INIT_STATIC + WG_KEY_LEN + WG_AEAD_TAG_LEN));
  const ss = staticSharedFor(remoteStatic);
  if (!ss) return "unknown-peer";
  [ck, k] = kdf2(c, ck, ss);
  const timestamp = aeadOpen(c, k, msg, INIT_TIMESTAMP, WG_TIMESTAMP_LEN, h);
  if (!timestamp) return "handshake-decrypt-failed";
  h = c.hash(h, msg.subarray(INIT_TIMESTAMP, INIT_TIMESTAMP + WG_TIMESTAMP_LEN + WG_AEAD_TAG_LEN));
  wipe(es);
  wipe(k);
  return {
    remoteStatic,
    timestamp,
    senderIndex: WgInitiation.senderIndex(msg, 0),
    state: { chainKey: ck, hash: h, localEphemeral: EMPTY, remoteEphemeral: ephPub },
  };
}

/**
 * Writes a response (without MACs) into `msg` (92 bytes) for a consumed initiation and returns
 * the final chaining key (for `deriveTransportKeys`), or a failure.
 */
export function createResponse(
  c: WgCrypto,
  state: HandshakeState,
  remoteStaticPublic: Uint8Array,
  presharedKey: Uint8Array | undefined,
  ephemeralPrivate: Uint8Array,
  senderIndex: number,
  receiverIndex: number,
  msg: Uint8Array,
): Uint8Array | NoiseFailure {
  const remoteEphemeral = state.remoteEphemeral;
  if (!remoteEphemeral) return "handshake-decrypt-failed";
  let ck = state.chainKey;
  let h = state.hash;
  msg.fill(0, 0, WG_RESPONSE_LEN);
  msg[0] = WgMessageType.HandshakeResponse;
  WgResponse.setSenderIndex(msg, 0, senderIndex);
  WgResponse.setReceiverIndex(msg, 0, receiverIndex);
  const ephPub = c.publicKey(ephemeralPrivate);
  msg.set(ephPub, RESP_EPHEMERAL);
  ck = kdf1(c, ck, ephPub);
  h = c.hash(h, ephPub);
  const ee = c.dh(ephemeralPrivate, remoteEphemeral);
  const se = c.dh(ephemeralPrivate, remoteStaticPublic);
  if (!ee || !se) return "bad-public-key";
  ck = kdf1(c, ck, ee);
  ck = kdf1(c, ck, se);
  const [ck2, tau, k] = kdf3(c, ck, presharedKey ?? ZERO_PSK);
  ck = ck2;
  h = c.hash(h, tau);
  aeadSeal(c, k, EMPTY, h, msg, RESP_EMPTY);
  wipe(ee);
  wipe(se);
  wipe(tau);
  wipe(k);
  wipe(ephemeralPrivate);
  return ck;
}

/**
 * Reads a response to our initiation (MAC1 checked, receiver index matched by the caller) and
 * returns the final chaining key, or a failure.
 */
export function consumeResponse(
  c: WgCrypto,
  state: HandshakeState,
  localStaticPrivate: Uint8Array,
  presharedKey: Uint8Array | undefined,
  msg: Uint8Array,
): Uint8Array | NoiseFailure {
  let ck = state.chainKey;
  let h = state.hash;
  const ephPub = copyOf(msg, RESP_EPHEMERAL, WG_KEY_LEN);
  ck = kdf1(c, ck, ephPub);
  h = c.hash(h, ephPub);
  const ee = c.dh(state.localEphemeral, ephPub);
  const se = c.dh(localStaticPrivate, ephPub);
  if (!ee || !se) return "bad-public-key";
  ck = kdf1(c, ck, ee);
  ck = kdf1(c, ck, se);
  const [ck2, tau, k] = kdf3(c, ck, presharedKey ?? ZERO_PSK);
  ck = ck2;
  h = c.hash(h, tau);
  const empty = aeadOpen(c, k, msg, RESP_EMPTY, 0, h);
  wipe(ee);
  wipe(se);
  wipe(tau);
  wipe(k);
  if (!empty) return "handshake-decrypt-failed";
  return ck;
}

/**
 * The transport keys from the final chaining key (whitepaper 5.4.5): (T_send_i, T_recv_i) =
 * KDF2(C, empty); the responder's are the same pair swapped.
 */
export function deriveTransportKeys(
  c: WgCrypto,
  chainKey: Uint8Array,
  isInitiator: boolean,
): { sendKey: Uint8Array; recvKey: Uint8Array } {
  const [t1, t2] = kdf2(c, chainKey, EMPTY);
  wipe(chainKey);
  return isInitiator ? { sendKey: t1, recvKey: t2 } : { sendKey: t2, recvKey: t1 };
}

/** TAI64 label of the Unix epoch: 2^62 + 10 (TAI was 10 s ahead of UTC in 1970), as wireguard-go. */
const TAI64_BASE_HIGH = 0x40000000;
const TAI64_BASE_LOW = 10;
/**
 * Nanoseconds are rounded down to a multiple of 2^24 ns (about 16.8 ms), as wireguard-go does, so
 * that the timestamp does not leak a fine-grained clock.
 */
const WHITEN_MASK = 0xffffff;

/** The 12-byte TAI64N timestamp (big-endian seconds label, big-endian nanoseconds) of Unix time `unixNs`. */
export function tai64n(unixNs: number, out: Uint8Array = new Uint8Array(WG_TIMESTAMP_LEN)): Uint8Array {
  const t = Math.max(0, unixNs);
  const secs = Math.floor(t / 1e9);
  const nanos = Math.min(Math.max(Math.round(t - secs * 1e9), 0), 999_999_999) & ~WHITEN_MASK;
  const low = secs % 0x100000000;
  const high = Math.floor(secs / 0x100000000);
  const lowSum = low + TAI64_BASE_LOW;
  const carry = lowSum >= 0x100000000 ? 1 : 0;
  const dv = new DataView(out.buffer, out.byteOffset, WG_TIMESTAMP_LEN);
  dv.setUint32(0, TAI64_BASE_HIGH + high + carry);
  dv.setUint32(4, lowSum % 0x100000000);
  dv.setUint32(8, nanos >>> 0);
  return out;
}

/** True when timestamp `a` is strictly later than `b` (both 12-byte TAI64N, big-endian). */
export function isTimestampAfter(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < WG_TIMESTAMP_LEN; i++) {
    if (a[i] !== b[i]) return a[i] > b[i];
  }
  return false;
}

/** Reads the sender index of an initiation and the indexes of a response (for the engine). */
export const handshakeIndexes = {
  initiationSender: (msg: Uint8Array) => WgInitiation.senderIndex(msg, 0),
  responseSender: (msg: Uint8Array) => WgResponse.senderIndex(msg, 0),
  responseReceiver: (msg: Uint8Array) => WgResponse.receiverIndex(msg, 0),
  INIT_SENDER,
  RESP_SENDER,
  RESP_RECEIVER,
};
