/**
 * WireGuard keys at the edges: the base64 text form that `wg` and its configuration files use,
 * key generation as `wg genkey` does it, and deriving a public key as `wg pubkey` does. The
 * protocol engine works on raw 32-byte keys; this file is what turns text into those bytes and
 * back. Browser-safe: no `node:` imports (randomness from Web Crypto's getRandomValues, X25519
 * from @noble/curves).
 *
 * A key is Curve25519 material, 32 bytes (RFC 7748 section 5). Its text form is standard base64
 * (RFC 4648 section 4) with padding: exactly 44 characters, the last one "=". As wireguard-tools
 * does, a text whose unused low bits of the last data character are not zero is refused: it is not
 * the canonical encoding of any key, so accepting it would let two different strings name one key.
 *
 * Error messages never contain the key text: a key that is almost right is still a secret.
 */

import { x25519 } from "@noble/curves/ed25519.js";
import { blake2s } from "@noble/hashes/blake2.js";

export const WG_KEY_BYTES = 32;
export const WG_KEY_BASE64_CHARS = 44;

export type KeyErrorCode = "bad-length" | "bad-character" | "non-canonical";

/** A key's text could not be read; the message never quotes the text. */
export class KeyError extends Error {
  override readonly name = "KeyError";
  constructor(
    readonly code: KeyErrorCode,
    message: string,
  ) {
    super(message);
  }
}

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const DECODE = new Int16Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i;

/** 32 bytes as the 44-character base64 text `wg` prints. */
export function keyToBase64(key: Uint8Array): string {
  if (key.length !== WG_KEY_BYTES) throw new KeyError("bad-length", `a key is ${WG_KEY_BYTES} bytes`);
  let s = "";
  let i = 0;
  for (; i + 3 <= key.length; i += 3) {
    const v = (key[i] << 16) | (key[i + 1] << 8) | key[i + 2];
    s += ALPHABET[v >>> 18] + ALPHABET[(v >>> 12) & 63] + ALPHABET[(v >>> 6) & 63] + ALPHABET[v & 63];
  }
  // 32 = 3 * 10 + 2: two bytes remain, which give three characters and one "=".
  const v = (key[i] << 16) | (key[i + 1] << 8);
  s += `${ALPHABET[v >>> 18]}${ALPHABET[(v >>> 12) & 63]}${ALPHABET[(v >>> 6) & 63]}=`;
  return s;
}

/**
 * Reads a key's base64 text (surrounding whitespace is the caller's business). Throws `KeyError`
 * with a message that says what is wrong and never what the text was.
 */
export function keyFromBase64(text: string): Uint8Array {
  if (text.length !== WG_KEY_BASE64_CHARS || text[WG_KEY_BASE64_CHARS - 1] !== "=") {
    throw new KeyError(
      "bad-length",
      `a key is ${WG_KEY_BASE64_CHARS} base64 characters ending in "=" (${WG_KEY_BYTES} bytes); got ${text.length} characters`,
    );
  }
  const out = new Uint8Array(WG_KEY_BYTES);
  let o = 0;
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < WG_KEY_BASE64_CHARS - 1; i++) {
    const c = text.charCodeAt(i);
    const d = c < 128 ? DECODE[c] : -1;
    if (d < 0)
      throw new KeyError(
        "bad-character",
        `a key holds only base64 characters (bad one at position ${i + 1})`,
      );
    acc = ((acc << 6) | d) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >>> bits) & 0xff;
    }
  }
  // 43 characters carry 258 bits: 256 of key and 2 that must be zero.
  if ((acc & ((1 << bits) - 1)) !== 0) {
    throw new KeyError(
      "non-canonical",
      "a key's base64 text is not canonical (its last character has stray low bits)",
    );
  }
  return out;
}

/** True when `text` is a well-formed key text. */
export function isKeyText(text: string): boolean {
  try {
    keyFromBase64(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * Clamps a Curve25519 private key in place as RFC 7748 section 5 decodes scalars (and as `wg genkey`
 * stores them): clear the three low bits, clear the top bit, set the second-highest bit.
 */
export function clampPrivateKey(key: Uint8Array): Uint8Array {
  key[0] &= 248;
  key[31] = (key[31] & 127) | 64;
  return key;
}

/** A fresh private key: 32 bytes from the platform's CSPRNG, clamped, as `wg genkey`. */
export function generatePrivateKey(randomBytes: (n: number) => Uint8Array = webRandomBytes): Uint8Array {
  const k = randomBytes(WG_KEY_BYTES);
  if (k.length !== WG_KEY_BYTES) throw new KeyError("bad-length", "random source returned the wrong length");
  return clampPrivateKey(k);
}

/**
 * A private key derived from a simulation's seed, a VPN's name and a gateway's name (BLAKE2s of
 * the three, clamped): the same topology and seed give the same keys, so runs and the configs
 * `vnet vpn export` prints are reproducible. Keys known to anyone who has the file and seed:
 * for simulations and labs, never for a real network (give `privateKey:` there).
 */
export function derivePrivateKey(seed: number, vpn: string, device: string): Uint8Array {
  const input = new TextEncoder().encode(`vnet wireguard key\0${seed}\0${vpn}\0${device}`);
  return clampPrivateKey(blake2s(input));
}

/** The X25519 public key of a private key (the private key is clamped first, as `wg pubkey`). */
export function publicKeyOf(privateKey: Uint8Array): Uint8Array {
  if (privateKey.length !== WG_KEY_BYTES) throw new KeyError("bad-length", `a key is ${WG_KEY_BYTES} bytes`);
  return x25519.getPublicKey(clampPrivateKey(Uint8Array.from(privateKey)));
}

/** The constant-time-enough equality of two keys (used for lookups, not for secrets' comparison). */
export function keysEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

function webRandomBytes(n: number): Uint8Array {
  const b = new Uint8Array(n);
  globalThis.crypto.getRandomValues(b);
  return b;
}

/** A short, non-secret label for a public key in messages: the first 8 base64 characters and "…". */
export function shortKey(publicKey: Uint8Array): string {
  return `${keyToBase64(publicKey).slice(0, 8)}…`;
}
