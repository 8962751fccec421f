/**
 * The cryptographic primitives of WireGuard (whitepaper section 5.4, "Noise_IKpsk2_25519_
 * ChaChaPoly_BLAKE2s") behind one small synchronous interface, so that the protocol engine runs
 * on node:crypto in Node (`crypto-node.ts`, fast) and on @noble/* in a browser (`crypto-noble.ts`).
 * Both implementations must give byte-identical results; `crypto.test.ts` checks that, and checks
 * the RFC test vectors on each.
 *
 * Also here, because they are built only from the interface: the whitepaper's KDF1/2/3 (HKDF over
 * HMAC-BLAKE2s, RFC 5869 without the info string) and the WireGuard AEAD nonce layout.
 * Browser-safe: no `node:` imports.
 */

export const WG_KEY_LEN = 32;
export const WG_HASH_LEN = 32;
export const WG_MAC_LEN = 16;
export const WG_AEAD_TAG_LEN = 16;
export const WG_XNONCE_LEN = 24;

/** The primitives the engine needs. Every method is synchronous and never retains its inputs. */
export interface WgCrypto {
  /** "node" or "noble"; shows up in counters and benchmarks, never a secret. */
  readonly name: string;

  /** X25519 public key of `privateKey` (clamped first, RFC 7748 section 5). */
  publicKey(privateKey: Uint8Array): Uint8Array;
  /**
   * X25519(privateKey, publicKey), RFC 7748 section 6.1. Returns undefined when the result is
   * all zero (a low-order public key): the protocol must refuse such a peer or ephemeral.
   */
  dh(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array | undefined;

  /** BLAKE2s-256 (RFC 7693) of `a || b` (b optional): the whitepaper's HASH. */
  hash(a: Uint8Array, b?: Uint8Array): Uint8Array;
  /** Keyed BLAKE2s with a 16-byte digest (RFC 7693 section 2.5 keying): the whitepaper's MAC. */
  mac(key: Uint8Array, data: Uint8Array): Uint8Array;
  /** HMAC (RFC 2104) over BLAKE2s-256, 64-byte block: the whitepaper's HMAC. */
  hmac(key: Uint8Array, data: Uint8Array): Uint8Array;

  /**
   * ChaCha20-Poly1305 (RFC 8439 section 2.8) with WireGuard's nonce: 4 zero bytes then `counter`
   * as a 64-bit little-endian integer (whitepaper 5.4 AEAD). Encrypts `src[srcOffset ..
   * srcOffset+length)` and writes ciphertext then the 16-byte tag at `out[outOffset..]`
   * (`out` may be `src`, same offset). Returns the bytes written (`length + 16`).
   * `counter` is a non-negative integer below 2^53 (the engine never gets near that).
   */
  seal(
    key: Uint8Array,
    counter: number,
    ad: Uint8Array | undefined,
    src: Uint8Array,
    srcOffset: number,
    length: number,
    out: Uint8Array,
    outOffset: number,
  ): number;
  /**
   * The inverse of `seal`: `length` counts ciphertext plus tag. Writes the plaintext at
   * `out[outOffset..]` and returns its length, or -1 when authentication fails (then nothing
   * meaningful has been written).
   */
  open(
    key: Uint8Array,
    counter: number,
    ad: Uint8Array | undefined,
    src: Uint8Array,
    srcOffset: number,
    length: number,
    out: Uint8Array,
    outOffset: number,
  ): number;

  /**
   * XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha: HChaCha20 subkey, then ChaCha20-Poly1305 with
   * nonce 4 zero bytes || nonce[16..24)): the whitepaper's XAEAD, used only by cookie replies.
   * Returns ciphertext || tag.
   */
  xseal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, ad: Uint8Array): Uint8Array;
  /** Returns the plaintext, or undefined when authentication fails. */
  xopen(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, ad: Uint8Array): Uint8Array | undefined;
}

const ONE = Uint8Array.of(1);

/** KDF1(key, input) of the whitepaper (section 5.4): HKDF with HMAC-BLAKE2s, one output. */
export function kdf1(c: WgCrypto, key: Uint8Array, input: Uint8Array): Uint8Array {
  const t0 = c.hmac(key, input);
  return c.hmac(t0, ONE);
}

/** KDF2: two 32-byte outputs, t1 = HMAC(t0, 0x1), t2 = HMAC(t0, t1 || 0x2). */
export function kdf2(c: WgCrypto, key: Uint8Array, input: Uint8Array): [Uint8Array, Uint8Array] {
  const t0 = c.hmac(key, input);
  const t1 = c.hmac(t0, ONE);
  const t2 = c.hmac(t0, concat2(t1, 2));
  return [t1, t2];
}

/** KDF3: three outputs, t3 = HMAC(t0, t2 || 0x3). */
export function kdf3(c: WgCrypto, key: Uint8Array, input: Uint8Array): [Uint8Array, Uint8Array, Uint8Array] {
  const t0 = c.hmac(key, input);
  const t1 = c.hmac(t0, ONE);
  const t2 = c.hmac(t0, concat2(t1, 2));
  const t3 = c.hmac(t0, concat2(t2, 3));
  return [t1, t2, t3];
}

function concat2(a: Uint8Array, b: number): Uint8Array {
  const out = new Uint8Array(a.length + 1);
  out.set(a, 0);
  out[a.length] = b;
  return out;
}

/** Writes WireGuard's 12-byte AEAD nonce for `counter` (4 zero bytes, then 64-bit LE) into `nonce`. */
export function writeAeadNonce(nonce: Uint8Array, counter: number): void {
  const lo = counter >>> 0;
  const hi = Math.floor(counter / 0x100000000) >>> 0;
  nonce[0] = 0;
  nonce[1] = 0;
  nonce[2] = 0;
  nonce[3] = 0;
  nonce[4] = lo & 0xff;
  nonce[5] = (lo >>> 8) & 0xff;
  nonce[6] = (lo >>> 16) & 0xff;
  nonce[7] = lo >>> 24;
  nonce[8] = hi & 0xff;
  nonce[9] = (hi >>> 8) & 0xff;
  nonce[10] = (hi >>> 16) & 0xff;
  nonce[11] = hi >>> 24;
}

/**
 * ChaCha20-Poly1305 (RFC 8439) with an explicit 12-byte nonce, writing into the caller's buffer:
 * seals `src[srcOffset .. srcOffset+length)` to `out[outOffset..]` (ciphertext then tag) and
 * returns the bytes written; opens (`length` counts the tag) and returns the plaintext length, or
 * -1 when authentication fails. The one primitive a Node backend brings (node:crypto's, or the
 * native addon's); `aeadMethods` builds WireGuard's four AEAD methods on it.
 */
export type Aead12 = (
  key: Uint8Array,
  nonce: Uint8Array,
  ad: Uint8Array | undefined,
  src: Uint8Array,
  srcOffset: number,
  length: number,
  out: Uint8Array,
  outOffset: number,
) => number;

/**
 * `seal`/`open` (WireGuard's counter nonce) and `xseal`/`xopen` (XChaCha20-Poly1305: HChaCha20
 * subkey, then the 12-byte AEAD) over one `Aead12` pair. The nonces and subkey are scratch
 * buffers of this backend (the methods are synchronous, so one set serves every call).
 */
export function aeadMethods(seal: Aead12, open: Aead12): Pick<WgCrypto, "seal" | "open" | "xseal" | "xopen"> {
  const nonce = new Uint8Array(12);
  const xnonce = new Uint8Array(12);
  const subkey = new Uint8Array(32);
  const xnonceOf = (key: Uint8Array, xn: Uint8Array) => {
    hchacha20(key, xn.subarray(0, 16), subkey);
    xnonce.fill(0, 0, 4);
    xnonce.set(xn.subarray(16, 24), 4);
  };
  return {
    seal(key, counter, ad, src, srcOffset, length, out, outOffset) {
      writeAeadNonce(nonce, counter);
      return seal(key, nonce, ad, src, srcOffset, length, out, outOffset);
    },
    open(key, counter, ad, src, srcOffset, length, out, outOffset) {
      writeAeadNonce(nonce, counter);
      return open(key, nonce, ad, src, srcOffset, length, out, outOffset);
    },
    xseal(key, xn, plaintext, ad) {
      xnonceOf(key, xn);
      const out = new Uint8Array(plaintext.length + WG_AEAD_TAG_LEN);
      seal(subkey, xnonce, ad, plaintext, 0, plaintext.length, out, 0);
      subkey.fill(0);
      return out;
    },
    xopen(key, xn, sealed, ad) {
      if (sealed.length < WG_AEAD_TAG_LEN) return undefined;
      xnonceOf(key, xn);
      const out = new Uint8Array(sealed.length - WG_AEAD_TAG_LEN);
      const n = open(subkey, xnonce, ad, sealed, 0, sealed.length, out, 0);
      subkey.fill(0);
      return n < 0 ? undefined : out;
    },
  };
}

/** Constant-time equality of two byte strings of the same length (MACs, tags, keys). */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array, bOffset = 0, length = a.length): boolean {
  if (a.length < length || b.length < bOffset + length) return false;
  let d = 0;
  for (let i = 0; i < length; i++) d |= a[i] ^ b[bOffset + i];
  return d === 0;
}

/** True when every byte is zero (an unset MAC2, an all-zero DH result). */
export function isAllZero(a: Uint8Array, offset = 0, length = a.length - offset): boolean {
  let d = 0;
  for (let i = 0; i < length; i++) d |= a[offset + i];
  return d === 0;
}

/** Overwrites key material that is no longer needed (best effort: JS may have copies). */
export function wipe(a: Uint8Array | undefined): void {
  if (a) a.fill(0);
}

/**
 * HChaCha20 (draft-irtf-cfrg-xchacha section 2.2): 20 ChaCha rounds over the constants, the
 * 32-byte key and a 16-byte nonce, keeping words 0-3 and 12-15 without the feed-forward. Used to
 * derive the XChaCha20 subkey; written here so that the node implementation needs no other library.
 */
export function hchacha20(
  key: Uint8Array,
  nonce16: Uint8Array,
  out: Uint8Array = new Uint8Array(32),
): Uint8Array {
  const s = new Uint32Array(16);
  s[0] = 0x61707865;
  s[1] = 0x3320646e;
  s[2] = 0x79622d32;
  s[3] = 0x6b206574;
  for (let i = 0; i < 8; i++) s[4 + i] = readLe32(key, i * 4);
  for (let i = 0; i < 4; i++) s[12 + i] = readLe32(nonce16, i * 4);
  for (let r = 0; r < 10; r++) {
    quarter(s, 0, 4, 8, 12);
    quarter(s, 1, 5, 9, 13);
    quarter(s, 2, 6, 10, 14);
    quarter(s, 3, 7, 11, 15);
    quarter(s, 0, 5, 10, 15);
    quarter(s, 1, 6, 11, 12);
    quarter(s, 2, 7, 8, 13);
    quarter(s, 3, 4, 9, 14);
  }
  for (let i = 0; i < 4; i++) writeLe32(out, i * 4, s[i]);
  for (let i = 0; i < 4; i++) writeLe32(out, 16 + i * 4, s[12 + i]);
  return out;
}

function quarter(s: Uint32Array, a: number, b: number, c: number, d: number): void {
  s[a] = (s[a] + s[b]) >>> 0;
  s[d] = rotl(s[d] ^ s[a], 16);
  s[c] = (s[c] + s[d]) >>> 0;
  s[b] = rotl(s[b] ^ s[c], 12);
  s[a] = (s[a] + s[b]) >>> 0;
  s[d] = rotl(s[d] ^ s[a], 8);
  s[c] = (s[c] + s[d]) >>> 0;
  s[b] = rotl(s[b] ^ s[c], 7);
}

function rotl(v: number, n: number): number {
  return ((v << n) | (v >>> (32 - n))) >>> 0;
}

function readLe32(b: Uint8Array, o: number): number {
  return (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
}

function writeLe32(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff;
  b[o + 1] = (v >>> 8) & 0xff;
  b[o + 2] = (v >>> 16) & 0xff;
  b[o + 3] = v >>> 24;
}
