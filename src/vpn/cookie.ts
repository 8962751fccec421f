/**
 * WireGuard's DoS mitigation (whitepaper section 5.3 and 5.4.4/5.4.7): every handshake message
 * ends with two MACs. `mac1 = MAC(HASH("mac1----" || receiver's public key), msg up to mac1)`
 * proves the sender knows whom it talks to, so a device can drop junk before doing any
 * Diffie-Hellman. `mac2 = MAC(cookie, msg up to mac2)` is demanded only under load: the cookie is
 * `MAC(R, source address and port)` with a secret R that changes every COOKIE_REFRESH_TIME, sent
 * to the initiator encrypted (XChaCha20-Poly1305 under `HASH("cookie--" || responder's public
 * key)`, with the mac1 it answers as associated data) in a cookie reply. A valid mac2 proves the
 * sender owns its source address.
 *
 * `CookieChecker` is the receiving side (one per device, keyed by our public key);
 * `CookieMaker` is the sending side (one per peer, keyed by the peer's public key), which also
 * remembers the cookie last received from that peer. Neither does I/O or reads a clock.
 */

import {
  COOKIE_COOKIE,
  COOKIE_NONCE,
  WG_COOKIE_NONCE_LEN,
  WG_COOKIE_REPLY_LEN,
  WgCookieReply,
  WgMessageType,
} from "../wire/wireguard.ts";
import { constantTimeEqual, isAllZero, WG_MAC_LEN, type WgCrypto, wipe } from "./crypto.ts";
import type { WgEndpoint } from "./engine-api.ts";

export const LABEL_MAC1 = new TextEncoder().encode("mac1----");
export const LABEL_COOKIE = new TextEncoder().encode("cookie--");

/** mac1 and mac2 sit in the last 32 bytes of a handshake message. */
function mac1Offset(length: number): number {
  return length - 2 * WG_MAC_LEN;
}
function mac2Offset(length: number): number {
  return length - WG_MAC_LEN;
}

const utf8 = new TextEncoder();

/**
 * The bytes a cookie binds to: the source address and port. Only this device ever checks the
 * cookie, so any injective encoding works; IPv4 uses its 4 bytes and the port, as wireguard-go.
 */
export function endpointBytes(ep: WgEndpoint): Uint8Array {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ep.address);
  if (m) return Uint8Array.of(+m[1], +m[2], +m[3], +m[4], ep.port >>> 8, ep.port & 0xff);
  const a = utf8.encode(ep.address);
  const out = new Uint8Array(a.length + 2);
  out.set(a);
  out[a.length] = ep.port >>> 8;
  out[a.length + 1] = ep.port & 0xff;
  return out;
}

/** The receiving side: verifies mac1/mac2 of messages sent to us and makes cookie replies. */
export class CookieChecker {
  private readonly mac1Key: Uint8Array;
  private readonly cookieKey: Uint8Array;
  private secret = new Uint8Array(32);
  private secretCreatedNs = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly crypto: WgCrypto,
    localPublicKey: Uint8Array,
    private readonly randomBytes: (out: Uint8Array) => void,
    private readonly cookieRefreshTimeNs: number,
  ) {
    this.mac1Key = crypto.hash(LABEL_MAC1, localPublicKey);
    this.cookieKey = crypto.hash(LABEL_COOKIE, localPublicKey);
  }

  /** True when the message's mac1 is right for our public key. */
  checkMac1(msg: Uint8Array, length: number): boolean {
    const at = mac1Offset(length);
    const mac = this.crypto.mac(this.mac1Key, msg.subarray(0, at));
    return constantTimeEqual(mac, msg, at, WG_MAC_LEN);
  }

  /** True when the message carries a mac2 made with the cookie we would give `source` now. */
  checkMac2(msg: Uint8Array, length: number, source: WgEndpoint, nowNs: number): boolean {
    const at = mac2Offset(length);
    if (isAllZero(msg, at, WG_MAC_LEN)) return false;
    const cookie = this.cookieFor(source, nowNs);
    const mac = this.crypto.mac(cookie, msg.subarray(0, at));
    return constantTimeEqual(mac, msg, at, WG_MAC_LEN);
  }

  /** A 64-byte cookie reply to the handshake message `msg` (whose sender index is `receiverIndex`). */
  makeReply(
    msg: Uint8Array,
    length: number,
    receiverIndex: number,
    source: WgEndpoint,
    nowNs: number,
  ): Uint8Array {
    const out = new Uint8Array(WG_COOKIE_REPLY_LEN);
    out[0] = WgMessageType.CookieReply;
    WgCookieReply.setReceiverIndex(out, 0, receiverIndex);
    const nonce = out.subarray(COOKIE_NONCE, COOKIE_NONCE + WG_COOKIE_NONCE_LEN);
    this.randomBytes(nonce);
    const cookie = this.cookieFor(source, nowNs);
    const at = mac1Offset(length);
    const sealed = this.crypto.xseal(this.cookieKey, nonce, cookie, msg.subarray(at, at + WG_MAC_LEN));
    out.set(sealed, COOKIE_COOKIE);
    return out;
  }

  private cookieFor(source: WgEndpoint, nowNs: number): Uint8Array {
    if (nowNs - this.secretCreatedNs >= this.cookieRefreshTimeNs) {
      this.randomBytes(this.secret);
      this.secretCreatedNs = nowNs;
    }
    return this.crypto.mac(this.secret, endpointBytes(source));
  }

  toJSON(): object {
    return { cookieChecker: "redacted" };
  }
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return "CookieChecker { [keys redacted] }";
  }
}

/** The sending side, per peer: writes mac1/mac2 and keeps the last cookie the peer sent us. */
export class CookieMaker {
  private readonly mac1Key: Uint8Array;
  private readonly cookieKey: Uint8Array;
  private cookie: Uint8Array | undefined;
  private cookieReceivedNs = 0;
  /** The mac1 of the last handshake message we sent: a cookie reply must answer it. */
  private readonly lastMac1 = new Uint8Array(WG_MAC_LEN);
  private hasLastMac1 = false;

  constructor(
    private readonly crypto: WgCrypto,
    remotePublicKey: Uint8Array,
    private readonly cookieRefreshTimeNs: number,
  ) {
    this.mac1Key = crypto.hash(LABEL_MAC1, remotePublicKey);
    this.cookieKey = crypto.hash(LABEL_COOKIE, remotePublicKey);
  }

  /**
   * Writes mac1, and mac2 when we hold a cookie younger than COOKIE_REFRESH_TIME (zeros
   * otherwise), into the last 32 bytes of `msg`. Returns true when mac2 was set.
   */
  addMacs(msg: Uint8Array, length: number, nowNs: number): boolean {
    const m1 = mac1Offset(length);
    const mac1 = this.crypto.mac(this.mac1Key, msg.subarray(0, m1));
    msg.set(mac1, m1);
    this.lastMac1.set(mac1);
    this.hasLastMac1 = true;
    const m2 = mac2Offset(length);
    if (this.cookie && nowNs - this.cookieReceivedNs < this.cookieRefreshTimeNs) {
      msg.set(this.crypto.mac(this.cookie, msg.subarray(0, m2)), m2);
      return true;
    }
    msg.fill(0, m2, m2 + WG_MAC_LEN);
    return false;
  }

  /** Decrypts a cookie reply answering our last message; false when it does not authenticate. */
  consumeReply(reply: Uint8Array, nowNs: number): boolean {
    if (!this.hasLastMac1) return false;
    const nonce = reply.subarray(COOKIE_NONCE, COOKIE_NONCE + WG_COOKIE_NONCE_LEN);
    const cookie = this.crypto.xopen(
      this.cookieKey,
      nonce,
      reply.subarray(COOKIE_COOKIE, WG_COOKIE_REPLY_LEN),
      this.lastMac1,
    );
    if (!cookie) return false;
    wipe(this.cookie);
    this.cookie = cookie;
    this.cookieReceivedNs = nowNs;
    // One reply per message: a second copy of the same reply is not accepted again.
    this.hasLastMac1 = false;
    return true;
  }

  /** True when a cookie from the peer is held and still fresh. */
  hasFreshCookie(nowNs: number): boolean {
    return this.cookie !== undefined && nowNs - this.cookieReceivedNs < this.cookieRefreshTimeNs;
  }

  toJSON(): object {
    return { cookieMaker: "redacted" };
  }
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return "CookieMaker { [keys redacted] }";
  }
}
