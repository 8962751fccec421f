/**
 * `WgCrypto` on node:crypto (OpenSSL): X25519 through KeyObjects built from raw keys (DER
 * wrappers, RFC 8410), ChaCha20-Poly1305 through `createCipheriv`, BLAKE2s-256 and HMAC-BLAKE2s
 * through `createHash`/`createHmac`. Node has neither a keyed BLAKE2s with a 16-byte digest nor
 * XChaCha20-Poly1305, so MAC comes from @noble/hashes (handshake path only) and XChaCha is built
 * here from `hchacha20` (crypto.ts) plus OpenSSL's ChaCha20-Poly1305.
 *
 * The transport path (`seal`/`open`) writes into the caller's buffer; Node still allocates the
 * Cipher object and the update() result per packet, which its API gives no way around.
 * Node-only: the browser uses `crypto-noble.ts`.
 */

import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  type KeyObject,
} from "node:crypto";
import { blake2s } from "@noble/hashes/blake2.js";
import { aeadMethods, isAllZero, WG_AEAD_TAG_LEN, type WgCrypto } from "./crypto.ts";

// RFC 8410 section 7 / 4: PKCS#8 and SubjectPublicKeyInfo prefixes for a raw X25519 key.
const PKCS8_X25519 = Buffer.from("302e020100300506032b656e04220420", "hex");
const SPKI_X25519 = Buffer.from("302a300506032b656e032100", "hex");

// Static keys are the same Uint8Array objects call after call: remember their KeyObjects, with
// a copy of the bytes so that an array changed in place (a wiped or reused key) is never served
// a stale KeyObject.
interface CachedKey {
  bytes: Uint8Array;
  key: KeyObject;
}
const privateKeys = new WeakMap<Uint8Array, CachedKey>();
const publicKeys = new WeakMap<Uint8Array, CachedKey>();

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function privateKeyObject(raw: Uint8Array): KeyObject {
  const hit = privateKeys.get(raw);
  if (hit && sameBytes(hit.bytes, raw)) return hit.key;
  if (raw.length !== 32) throw new RangeError("an X25519 private key is 32 bytes");
  const der = Buffer.concat([PKCS8_X25519, raw]);
  const key = createPrivateKey({ key: der, format: "der", type: "pkcs8" });
  der.fill(0);
  privateKeys.set(raw, { bytes: Uint8Array.from(raw), key });
  return key;
}

function publicKeyObject(raw: Uint8Array): KeyObject {
  const hit = publicKeys.get(raw);
  if (hit && sameBytes(hit.bytes, raw)) return hit.key;
  if (raw.length !== 32) throw new RangeError("an X25519 public key is 32 bytes");
  const key = createPublicKey({ key: Buffer.concat([SPKI_X25519, raw]), format: "der", type: "spki" });
  publicKeys.set(raw, { bytes: Uint8Array.from(raw), key });
  return key;
}

/** A plain Uint8Array copy of a Buffer (Buffer's slice() shares memory; ours must not). */
function plain(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
}

/** ChaCha20-Poly1305 with an arbitrary 12-byte nonce (exported for the RFC 8439 test vectors). */
export function chachaSeal(
  key: Uint8Array,
  nonce: Uint8Array,
  ad: Uint8Array | undefined,
  src: Uint8Array,
  srcOffset: number,
  length: number,
  out: Uint8Array,
  outOffset: number,
): number {
  const c = createCipheriv("chacha20-poly1305", key, nonce, { authTagLength: WG_AEAD_TAG_LEN });
  if (ad) c.setAAD(ad, { plaintextLength: length });
  const ct = c.update(src.subarray(srcOffset, srcOffset + length));
  c.final();
  out.set(ct, outOffset);
  out.set(c.getAuthTag(), outOffset + length);
  return length + WG_AEAD_TAG_LEN;
}

/** The inverse of `chachaSeal`; -1 when authentication fails. */
export function chachaOpen(
  key: Uint8Array,
  nonce: Uint8Array,
  ad: Uint8Array | undefined,
  src: Uint8Array,
  srcOffset: number,
  length: number,
  out: Uint8Array,
  outOffset: number,
): number {
  if (length < WG_AEAD_TAG_LEN) return -1;
  const ptLen = length - WG_AEAD_TAG_LEN;
  const d = createDecipheriv("chacha20-poly1305", key, nonce, { authTagLength: WG_AEAD_TAG_LEN });
  d.setAuthTag(src.subarray(srcOffset + ptLen, srcOffset + length));
  if (ad) d.setAAD(ad, { plaintextLength: ptLen });
  const pt = d.update(src.subarray(srcOffset, srcOffset + ptLen));
  try {
    d.final();
  } catch {
    return -1;
  }
  // Only now: `out` may alias `src`, and nothing unauthenticated may reach it.
  out.set(pt, outOffset);
  return ptLen;
}

export const nodeCrypto: WgCrypto = {
  name: "node",

  publicKey(privateKey) {
    const spki = createPublicKey(privateKeyObject(privateKey)).export({ format: "der", type: "spki" });
    return plain(spki.subarray(SPKI_X25519.length));
  },
  dh(privateKey, publicKey) {
    let shared: Buffer;
    try {
      shared = diffieHellman({
        privateKey: privateKeyObject(privateKey),
        publicKey: publicKeyObject(publicKey),
      });
    } catch {
      return undefined; // OpenSSL refuses an all-zero result (RFC 7748 section 6.1)
    }
    if (isAllZero(shared)) return undefined;
    return plain(shared);
  },

  hash(a, b) {
    const h = createHash("blake2s256").update(a);
    if (b) h.update(b);
    return plain(h.digest());
  },
  mac(key, data) {
    return blake2s(data, { key, dkLen: 16 });
  },
  hmac(key, data) {
    return plain(createHmac("blake2s256", key).update(data).digest());
  },

  ...aeadMethods(chachaSeal, chachaOpen),
};
