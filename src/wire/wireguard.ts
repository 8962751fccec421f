/**
 * WireGuard's four UDP messages (WireGuard whitepaper, section 5.4; the layout wireguard-go and
 * the Linux module put on the wire). Each message starts with a one-byte type and three reserved
 * bytes that must be zero (receivers read the first four bytes as one little-endian word, so a
 * message with a non-zero reserved byte is an unknown type). Indexes and the transport counter
 * are little-endian.
 *
 *   Handshake initiation, type 1, 148 bytes      Handshake response, type 2, 92 bytes
 *    0 type | reserved (3)                         0 type | reserved (3)
 *    4 sender index (LE32)                         4 sender index (LE32)
 *    8 unencrypted ephemeral (32)                  8 receiver index (LE32)
 *   40 encrypted static (32 + 16 tag)             12 unencrypted ephemeral (32)
 *   88 encrypted timestamp (12 + 16 tag)          44 encrypted nothing (0 + 16 tag)
 *  116 mac1 (16)                                  60 mac1 (16)
 *  132 mac2 (16)                                  76 mac2 (16)
 *
 *   Cookie reply, type 3, 64 bytes                Transport data, type 4, 16 + n bytes (n >= 16)
 *    0 type | reserved (3)                         0 type | reserved (3)
 *    4 receiver index (LE32)                       4 receiver index (LE32)
 *    8 nonce (24)                                  8 counter (LE64)
 *   32 encrypted cookie (16 + 16 tag)             16 encrypted packet (padded plaintext + 16 tag)
 *
 * Same shape as `ethernet.ts`: per message a `check` that makes every accessor safe, zero-copy
 * accessors, and a Repr with `parse`/`emit`. A message's length is the rest of the buffer from
 * `offset` unless `length` is given (a UDP payload is exactly one message). Any byte string given
 * to `parse` gives a Repr or one `WireError`.
 */

import { checkLen, WireError } from "./error.ts";

export const WgMessageType = {
  HandshakeInitiation: 1,
  HandshakeResponse: 2,
  CookieReply: 3,
  TransportData: 4,
} as const;

export const WG_INITIATION_LEN = 148;
export const WG_RESPONSE_LEN = 92;
export const WG_COOKIE_REPLY_LEN = 64;
export const WG_TRANSPORT_HEADER_LEN = 16;
/** The smallest transport message: a header and the tag of an empty (keepalive) plaintext. */
export const WG_TRANSPORT_MIN_LEN = 32;
export const WG_AEAD_TAG_LEN = 16;
export const WG_KEY_LEN = 32;
export const WG_MAC_LEN = 16;
export const WG_TIMESTAMP_LEN = 12;
export const WG_COOKIE_NONCE_LEN = 24;

// Field offsets, shared with the protocol engine (which writes messages in place).
export const INIT_SENDER = 4;
export const INIT_EPHEMERAL = 8;
export const INIT_STATIC = 40;
export const INIT_TIMESTAMP = 88;
export const INIT_MAC1 = 116;
export const INIT_MAC2 = 132;
export const RESP_SENDER = 4;
export const RESP_RECEIVER = 8;
export const RESP_EPHEMERAL = 12;
export const RESP_EMPTY = 44;
export const RESP_MAC1 = 60;
export const RESP_MAC2 = 76;
export const COOKIE_RECEIVER = 4;
export const COOKIE_NONCE = 8;
export const COOKIE_COOKIE = 32;
export const DATA_RECEIVER = 4;
export const DATA_COUNTER = 8;

function readLe32(buf: Uint8Array, o: number): number {
  return (buf[o] | (buf[o + 1] << 8) | (buf[o + 2] << 16) | (buf[o + 3] << 24)) >>> 0;
}

function writeLe32(buf: Uint8Array, o: number, v: number): void {
  buf[o] = v & 0xff;
  buf[o + 1] = (v >>> 8) & 0xff;
  buf[o + 2] = (v >>> 16) & 0xff;
  buf[o + 3] = (v >>> 24) & 0xff;
}

function writeHeader(buf: Uint8Array, offset: number, type: number): void {
  buf[offset] = type;
  buf[offset + 1] = 0;
  buf[offset + 2] = 0;
  buf[offset + 3] = 0;
}

function restLen(buf: Uint8Array, offset: number, length: number | undefined): number {
  return length ?? buf.length - offset;
}

/** Refuses a message whose length is not exactly `want`, or whose type word is not `type`. */
function checkFixed(
  buf: Uint8Array,
  offset: number,
  length: number | undefined,
  want: number,
  type: number,
  what: string,
): void {
  const len = restLen(buf, offset, length);
  checkLen(buf, offset, Math.min(len, want), what);
  if (len < want) throw new WireError("truncated", offset, `${what}: need ${want} bytes, have ${len}`);
  if (len !== want) throw new WireError("bad-length", offset, `${what}: must be ${want} bytes, is ${len}`);
  checkLen(buf, offset, want, what);
  if (readLe32(buf, offset) !== type)
    throw new WireError("bad-value", offset, `${what}: type word ${readLe32(buf, offset)} is not ${type}`);
}

/** A copy of a field (not `buf.slice`: on a Node Buffer that is a view, and a Repr must own its bytes). */
function copyField(buf: Uint8Array, offset: number, len: number): Uint8Array {
  const out = new Uint8Array(len);
  out.set(buf.subarray(offset, offset + len));
  return out;
}

function putField(buf: Uint8Array, offset: number, field: Uint8Array, len: number, what: string): void {
  if (field.length !== len) throw new WireError("bad-length", offset, `${what}: must be ${len} bytes`);
  buf.set(field, offset);
}

/**
 * The message type of the datagram at `offset`: 1..4, read as the little-endian word of the first
 * four bytes (so non-zero reserved bytes give an unknown type). Throws `truncated` below 4 bytes
 * and `unsupported` for an unknown type.
 */
export function wgMessageType(buf: Uint8Array, offset = 0): number {
  checkLen(buf, offset, 4, "wireguard message");
  const t = readLe32(buf, offset);
  if (t < 1 || t > 4) throw new WireError("unsupported", offset, `wireguard: unknown message type word ${t}`);
  return t;
}

export interface WgInitiationRepr {
  senderIndex: number;
  ephemeral: Uint8Array; // 32
  encryptedStatic: Uint8Array; // 48
  encryptedTimestamp: Uint8Array; // 28
  mac1: Uint8Array; // 16
  mac2: Uint8Array; // 16
}

export const WgInitiation = {
  check(buf: Uint8Array, offset = 0, length?: number): void {
    checkFixed(buf, offset, length, WG_INITIATION_LEN, WgMessageType.HandshakeInitiation, "wg initiation");
  },
  senderIndex(buf: Uint8Array, offset = 0): number {
    return readLe32(buf, offset + INIT_SENDER);
  },
  setSenderIndex(buf: Uint8Array, offset: number, index: number): void {
    writeLe32(buf, offset + INIT_SENDER, index);
  },
  parse(buf: Uint8Array, offset = 0, length?: number): WgInitiationRepr {
    WgInitiation.check(buf, offset, length);
    return {
      senderIndex: WgInitiation.senderIndex(buf, offset),
      ephemeral: copyField(buf, offset + INIT_EPHEMERAL, WG_KEY_LEN),
      encryptedStatic: copyField(buf, offset + INIT_STATIC, WG_KEY_LEN + WG_AEAD_TAG_LEN),
      encryptedTimestamp: copyField(buf, offset + INIT_TIMESTAMP, WG_TIMESTAMP_LEN + WG_AEAD_TAG_LEN),
      mac1: copyField(buf, offset + INIT_MAC1, WG_MAC_LEN),
      mac2: copyField(buf, offset + INIT_MAC2, WG_MAC_LEN),
    };
  },
  /** Writes the 148-byte message at `offset`; returns 148. */
  emit(repr: WgInitiationRepr, buf: Uint8Array, offset = 0): number {
    checkLen(buf, offset, WG_INITIATION_LEN, "wg initiation emit");
    writeHeader(buf, offset, WgMessageType.HandshakeInitiation);
    WgInitiation.setSenderIndex(buf, offset, repr.senderIndex);
    putField(buf, offset + INIT_EPHEMERAL, repr.ephemeral, WG_KEY_LEN, "ephemeral");
    putField(
      buf,
      offset + INIT_STATIC,
      repr.encryptedStatic,
      WG_KEY_LEN + WG_AEAD_TAG_LEN,
      "encrypted static",
    );
    putField(
      buf,
      offset + INIT_TIMESTAMP,
      repr.encryptedTimestamp,
      WG_TIMESTAMP_LEN + WG_AEAD_TAG_LEN,
      "encrypted timestamp",
    );
    putField(buf, offset + INIT_MAC1, repr.mac1, WG_MAC_LEN, "mac1");
    putField(buf, offset + INIT_MAC2, repr.mac2, WG_MAC_LEN, "mac2");
    return WG_INITIATION_LEN;
  },
};

export interface WgResponseRepr {
  senderIndex: number;
  receiverIndex: number;
  ephemeral: Uint8Array; // 32
  encryptedNothing: Uint8Array; // 16
  mac1: Uint8Array; // 16
  mac2: Uint8Array; // 16
}

export const WgResponse = {
  check(buf: Uint8Array, offset = 0, length?: number): void {
    checkFixed(buf, offset, length, WG_RESPONSE_LEN, WgMessageType.HandshakeResponse, "wg response");
  },
  senderIndex(buf: Uint8Array, offset = 0): number {
    return readLe32(buf, offset + RESP_SENDER);
  },
  receiverIndex(buf: Uint8Array, offset = 0): number {
    return readLe32(buf, offset + RESP_RECEIVER);
  },
  setSenderIndex(buf: Uint8Array, offset: number, index: number): void {
    writeLe32(buf, offset + RESP_SENDER, index);
  },
  setReceiverIndex(buf: Uint8Array, offset: number, index: number): void {
    writeLe32(buf, offset + RESP_RECEIVER, index);
  },
  parse(buf: Uint8Array, offset = 0, length?: number): WgResponseRepr {
    WgResponse.check(buf, offset, length);
    return {
      senderIndex: WgResponse.senderIndex(buf, offset),
      receiverIndex: WgResponse.receiverIndex(buf, offset),
      ephemeral: copyField(buf, offset + RESP_EPHEMERAL, WG_KEY_LEN),
      encryptedNothing: copyField(buf, offset + RESP_EMPTY, WG_AEAD_TAG_LEN),
      mac1: copyField(buf, offset + RESP_MAC1, WG_MAC_LEN),
      mac2: copyField(buf, offset + RESP_MAC2, WG_MAC_LEN),
    };
  },
  /** Writes the 92-byte message at `offset`; returns 92. */
  emit(repr: WgResponseRepr, buf: Uint8Array, offset = 0): number {
    checkLen(buf, offset, WG_RESPONSE_LEN, "wg response emit");
    writeHeader(buf, offset, WgMessageType.HandshakeResponse);
    WgResponse.setSenderIndex(buf, offset, repr.senderIndex);
    WgResponse.setReceiverIndex(buf, offset, repr.receiverIndex);
    putField(buf, offset + RESP_EPHEMERAL, repr.ephemeral, WG_KEY_LEN, "ephemeral");
    putField(buf, offset + RESP_EMPTY, repr.encryptedNothing, WG_AEAD_TAG_LEN, "encrypted nothing");
    putField(buf, offset + RESP_MAC1, repr.mac1, WG_MAC_LEN, "mac1");
    putField(buf, offset + RESP_MAC2, repr.mac2, WG_MAC_LEN, "mac2");
    return WG_RESPONSE_LEN;
  },
};

export interface WgCookieReplyRepr {
  receiverIndex: number;
  nonce: Uint8Array; // 24
  encryptedCookie: Uint8Array; // 32
}

export const WgCookieReply = {
  check(buf: Uint8Array, offset = 0, length?: number): void {
    checkFixed(buf, offset, length, WG_COOKIE_REPLY_LEN, WgMessageType.CookieReply, "wg cookie reply");
  },
  receiverIndex(buf: Uint8Array, offset = 0): number {
    return readLe32(buf, offset + COOKIE_RECEIVER);
  },
  setReceiverIndex(buf: Uint8Array, offset: number, index: number): void {
    writeLe32(buf, offset + COOKIE_RECEIVER, index);
  },
  parse(buf: Uint8Array, offset = 0, length?: number): WgCookieReplyRepr {
    WgCookieReply.check(buf, offset, length);
    return {
      receiverIndex: WgCookieReply.receiverIndex(buf, offset),
      nonce: copyField(buf, offset + COOKIE_NONCE, WG_COOKIE_NONCE_LEN),
      encryptedCookie: copyField(buf, offset + COOKIE_COOKIE, WG_MAC_LEN + WG_AEAD_TAG_LEN),
    };
  },
  /** Writes the 64-byte message at `offset`; returns 64. */
  emit(repr: WgCookieReplyRepr, buf: Uint8Array, offset = 0): number {
    checkLen(buf, offset, WG_COOKIE_REPLY_LEN, "wg cookie reply emit");
    writeHeader(buf, offset, WgMessageType.CookieReply);
    WgCookieReply.setReceiverIndex(buf, offset, repr.receiverIndex);
    putField(buf, offset + COOKIE_NONCE, repr.nonce, WG_COOKIE_NONCE_LEN, "nonce");
    putField(
      buf,
      offset + COOKIE_COOKIE,
      repr.encryptedCookie,
      WG_MAC_LEN + WG_AEAD_TAG_LEN,
      "encrypted cookie",
    );
    return WG_COOKIE_REPLY_LEN;
  },
};

export interface WgTransportRepr {
  receiverIndex: number;
  /** The full 64-bit counter (a bigint so that parse(emit(x)) holds for every value). */
  counter: bigint;
  /** Encrypted packet: padded ciphertext and the 16-byte tag (at least 16 bytes). */
  encrypted: Uint8Array;
}

export const WgTransport = {
  check(buf: Uint8Array, offset = 0, length?: number): void {
    const len = restLen(buf, offset, length);
    checkLen(buf, offset, Math.max(0, Math.min(len, WG_TRANSPORT_MIN_LEN)), "wg transport");
    if (len < WG_TRANSPORT_MIN_LEN)
      throw new WireError(
        "truncated",
        offset,
        `wg transport: need ${WG_TRANSPORT_MIN_LEN} bytes, have ${len}`,
      );
    checkLen(buf, offset, len, "wg transport");
    if (readLe32(buf, offset) !== WgMessageType.TransportData)
      throw new WireError("bad-value", offset, `wg transport: type word ${readLe32(buf, offset)} is not 4`);
  },
  receiverIndex(buf: Uint8Array, offset = 0): number {
    return readLe32(buf, offset + DATA_RECEIVER);
  },
  /** Low 32 bits of the counter. */
  counterLow(buf: Uint8Array, offset = 0): number {
    return readLe32(buf, offset + DATA_COUNTER);
  },
  /** High 32 bits of the counter. */
  counterHigh(buf: Uint8Array, offset = 0): number {
    return readLe32(buf, offset + DATA_COUNTER + 4);
  },
  /**
   * The counter as a number: exact below 2^53, which covers every counter a live keypair can
   * reach (callers refuse `counterHigh >= 2^21` before trusting it).
   */
  counter(buf: Uint8Array, offset = 0): number {
    return WgTransport.counterHigh(buf, offset) * 0x100000000 + WgTransport.counterLow(buf, offset);
  },
  setReceiverIndex(buf: Uint8Array, offset: number, index: number): void {
    writeLe32(buf, offset + DATA_RECEIVER, index);
  },
  /** Writes a counter given as a number (a non-negative integer below 2^53). */
  setCounter(buf: Uint8Array, offset: number, counter: number): void {
    writeLe32(buf, offset + DATA_COUNTER, counter >>> 0);
    writeLe32(buf, offset + DATA_COUNTER + 4, Math.floor(counter / 0x100000000) >>> 0);
  },
  /** Writes the 16-byte header (type, reserved, receiver, counter) at `offset`. */
  writeHeader(buf: Uint8Array, offset: number, receiverIndex: number, counter: number): void {
    writeHeader(buf, offset, WgMessageType.TransportData);
    WgTransport.setReceiverIndex(buf, offset, receiverIndex);
    WgTransport.setCounter(buf, offset, counter);
  },
  parse(buf: Uint8Array, offset = 0, length?: number): WgTransportRepr {
    WgTransport.check(buf, offset, length);
    const len = restLen(buf, offset, length);
    return {
      receiverIndex: WgTransport.receiverIndex(buf, offset),
      counter:
        (BigInt(WgTransport.counterHigh(buf, offset)) << 32n) | BigInt(WgTransport.counterLow(buf, offset)),
      encrypted: copyField(buf, offset + WG_TRANSPORT_HEADER_LEN, len - WG_TRANSPORT_HEADER_LEN),
    };
  },
  /** Writes header and encrypted payload at `offset`; returns the bytes written. */
  emit(repr: WgTransportRepr, buf: Uint8Array, offset = 0): number {
    if (repr.encrypted.length < WG_AEAD_TAG_LEN)
      throw new WireError("bad-length", offset, "wg transport emit: encrypted payload shorter than a tag");
    if (repr.counter < 0n || repr.counter >= 1n << 64n)
      throw new WireError("bad-value", offset, "wg transport emit: counter outside 64 bits");
    const len = WG_TRANSPORT_HEADER_LEN + repr.encrypted.length;
    checkLen(buf, offset, len, "wg transport emit");
    writeHeader(buf, offset, WgMessageType.TransportData);
    WgTransport.setReceiverIndex(buf, offset, repr.receiverIndex);
    writeLe32(buf, offset + DATA_COUNTER, Number(repr.counter & 0xffffffffn));
    writeLe32(buf, offset + DATA_COUNTER + 4, Number(repr.counter >> 32n));
    buf.set(repr.encrypted, offset + WG_TRANSPORT_HEADER_LEN);
    return len;
  },
};
