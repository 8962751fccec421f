/**
 * `WgCrypto` on @noble/ciphers, @noble/curves and @noble/hashes (pure JS, audited): the
 * implementation for the browser and anywhere node:crypto is missing. Slower than
 * `crypto-node.ts` (X25519 about 25x, ChaCha20-Poly1305 about 2x) but byte-identical, which
 * `crypto.test.ts` checks. Browser-safe: no `node:` imports.
 */

import { chacha20poly1305, xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import { x25519 } from "@noble/curves/ed25519.js";
import { blake2s } from "@noble/hashes/blake2.js";
import { hmac } from "@noble/hashes/hmac.js";
import { isAllZero, WG_AEAD_TAG_LEN, type WgCrypto, writeAeadNonce } from "./crypto.ts";

const NONCE = new Uint8Array(12);

export const nobleCrypto: WgCrypto = {
  name: "noble",

  publicKey(privateKey) {
    return x25519.getPublicKey(privateKey);
  },
  dh(privateKey, publicKey) {
    let shared: Uint8Array;
    try {
      shared = x25519.getSharedSecret(privateKey, publicKey);
    } catch {
      return undefined; // noble refuses an all-zero result, as RFC 7748 section 6.1 allows
    }
    return isAllZero(shared) ? undefined : shared;
  },

  hash(a, b) {
    const h = blake2s.create().update(a);
    if (b) h.update(b);
    return h.digest();
  },
  mac(key, data) {
    return blake2s(data, { key, dkLen: 16 });
  },
  hmac(key, data) {
    return hmac(blake2s, key, data);
  },

  seal(key, counter, ad, src, srcOffset, length, out, outOffset) {
    writeAeadNonce(NONCE, counter);
    const sealed = chacha20poly1305(key, NONCE, ad).encrypt(src.subarray(srcOffset, srcOffset + length));
    out.set(sealed, outOffset);
    return sealed.length;
  },
  open(key, counter, ad, src, srcOffset, length, out, outOffset) {
    if (length < WG_AEAD_TAG_LEN) return -1;
    writeAeadNonce(NONCE, counter);
    let pt: Uint8Array;
    try {
      pt = chacha20poly1305(key, NONCE, ad).decrypt(src.subarray(srcOffset, srcOffset + length));
    } catch {
      return -1;
    }
    out.set(pt, outOffset);
    return pt.length;
  },

  xseal(key, nonce, plaintext, ad) {
    return xchacha20poly1305(key, nonce, ad).encrypt(plaintext);
  },
  xopen(key, nonce, sealed, ad) {
    try {
      return xchacha20poly1305(key, nonce, ad).decrypt(sealed);
    } catch {
      return undefined;
    }
  },
};
