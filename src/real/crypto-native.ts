/**
 * `WgCrypto` for Node with the transport AEAD in vnet's native addon (`native/aead.cc`):
 * ChaCha20-Poly1305 through one reusable OpenSSL context per direction, writing into the
 * caller's buffer, where node:crypto builds a Cipher object and an output Buffer per packet
 * (its floor, BENCHMARKS.md "VPN"). Everything else (X25519, BLAKE2s, HMAC, the MAC) is
 * node:crypto's backend unchanged; XChaCha20 (cookie replies) is HChaCha20 plus the native AEAD.
 * Byte-identical to the other backends (`crypto-native.test.ts`).
 *
 * It lives in src/real/ because it loads a `.node` file; the engine (src/vpn/) only ever sees
 * the `WgCrypto` interface. `bestNodeCrypto()` picks it when the addon loads, node:crypto
 * otherwise; the browser keeps @noble.
 */

import { hchacha20, WG_AEAD_TAG_LEN, type WgCrypto, writeAeadNonce } from "../vpn/crypto.ts";
import { nodeCrypto } from "../vpn/crypto-node.ts";
import { loadNative, type NativeAddon, nativeFailure } from "./native.ts";

type NativeAead = Required<Pick<NativeAddon, "aeadSeal" | "aeadOpen">>;

function makeNativeCrypto({ aeadSeal: seal, aeadOpen: open }: NativeAead): WgCrypto {
  const nonce = new Uint8Array(12);
  const xnonce = new Uint8Array(12);
  const subkey = new Uint8Array(32);
  return {
    ...nodeCrypto,
    name: "native",
    seal(key, counter, ad, src, srcOffset, length, out, outOffset) {
      writeAeadNonce(nonce, counter);
      return seal(key, nonce, ad, src, srcOffset, length, out, outOffset);
    },
    open(key, counter, ad, src, srcOffset, length, out, outOffset) {
      writeAeadNonce(nonce, counter);
      return open(key, nonce, ad, src, srcOffset, length, out, outOffset);
    },
    xseal(key, xn, plaintext, ad) {
      hchacha20(key, xn.subarray(0, 16), subkey);
      xnonce.fill(0, 0, 4);
      xnonce.set(xn.subarray(16, 24), 4);
      const out = new Uint8Array(plaintext.length + WG_AEAD_TAG_LEN);
      seal(subkey, xnonce, ad, plaintext, 0, plaintext.length, out, 0);
      subkey.fill(0);
      return out;
    },
    xopen(key, xn, sealed, ad) {
      if (sealed.length < WG_AEAD_TAG_LEN) return undefined;
      hchacha20(key, xn.subarray(0, 16), subkey);
      xnonce.fill(0, 0, 4);
      xnonce.set(xn.subarray(16, 24), 4);
      const out = new Uint8Array(sealed.length - WG_AEAD_TAG_LEN);
      const n = open(subkey, xnonce, ad, sealed, 0, sealed.length, out, 0);
      subkey.fill(0);
      return n < 0 ? undefined : out;
    },
  };
}

let cached: WgCrypto | null | undefined;

/** The native backend, or null when the addon is not built or lacks the AEAD (`nativeCryptoFailure()`). */
export function nativeCrypto(): WgCrypto | null {
  if (cached !== undefined) return cached;
  const addon = loadNative();
  const seal = addon?.aeadSeal;
  const open = addon?.aeadOpen;
  cached = seal && open ? makeNativeCrypto({ aeadSeal: seal, aeadOpen: open }) : null;
  return cached;
}

/** Why `nativeCrypto()` is null ("" when it is not). */
export function nativeCryptoFailure(): string {
  if (nativeCrypto()) return "";
  return (
    nativeFailure() ||
    "vnet's native addon has no AEAD: this node binary exports no OpenSSL EVP functions (node:crypto is used)"
  );
}

/** The fastest backend this process has: native when the addon loads, else node:crypto. */
export function bestNodeCrypto(): WgCrypto {
  return nativeCrypto() ?? nodeCrypto;
}
