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

import { type Aead12, aeadMethods, type WgCrypto } from "../vpn/crypto.ts";
import { nodeCrypto } from "../vpn/crypto-node.ts";
import { loadNative, nativeFailure } from "./native.ts";

function makeNativeCrypto(seal: Aead12, open: Aead12): WgCrypto {
  return { ...nodeCrypto, name: "native", ...aeadMethods(seal, open) };
}

let cached: WgCrypto | null | undefined;

/** The native backend, or null when the addon is not built or lacks the AEAD (`nativeCryptoFailure()`). */
export function nativeCrypto(): WgCrypto | null {
  if (cached !== undefined) return cached;
  const addon = loadNative();
  const seal = addon?.aeadSeal;
  const open = addon?.aeadOpen;
  cached = seal && open ? makeNativeCrypto(seal, open) : null;
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
