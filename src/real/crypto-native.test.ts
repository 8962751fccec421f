/**
 * Tests for the native ChaCha20-Poly1305 (`native/aead.cc` through `crypto-native.ts`): RFC 8439
 * vectors (2.8.2 and the A.5 decryption), agreement with node:crypto and @noble on random keys,
 * counters, additional data and lengths, tags that do not verify refused with the output zeroed,
 * in-place operation at offsets, and bad arguments refused with typed errors, never a crash.
 * Skipped with one line when the addon is not built.
 */

import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import type { WgCrypto } from "../vpn/crypto.ts";
import { nobleCrypto } from "../vpn/crypto-noble.ts";
import { nodeCrypto } from "../vpn/crypto-node.ts";
import { bestNodeCrypto, nativeCrypto, nativeCryptoFailure } from "./crypto-native.ts";
import { loadNative } from "./native.ts";

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ""), "hex"));
const toHex = (b: Uint8Array) => Buffer.from(b).toString("hex");

const addon = loadNative();
const native = nativeCrypto();
if (!native) process.stderr.write(`native AEAD tests skipped: ${nativeCryptoFailure()}\n`);

// RFC 8439 section 2.8.2.
const KEY_2_8_2 = hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
const NONCE_2_8_2 = hex("070000004041424344454647");
const AAD_2_8_2 = hex("50515253c0c1c2c3c4c5c6c7");
const PT_2_8_2 = new TextEncoder().encode(
  "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
);
const CT_2_8_2 =
  "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116";
const TAG_2_8_2 = "1ae10b594f09e26a7e902ecbd0600691";

// RFC 8439 appendix A.5 (decryption).
const KEY_A5 = hex("1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0");
const NONCE_A5 = hex("000000000102030405060708");
const AAD_A5 = hex("f33388860000000000004e91");
const CT_A5 = hex(`
  64a0861575861af460f062c79be643bd5e805cfd345cf389f108670ac76c8cb2
  4c6cfc18755d43eea09ee94e382d26b0bdb7b73c321b0100d4f03b7f355894cf
  332f830e710b97ce98c8a84abd0b948114ad176e008d33bd60f982b1ff37c855
  9797a06ef4f0ef61c186324e2b3506383606907b6a7c02b0f9f6157b53c867e4
  b9166c767b804d46a59b5216cde7a4e99040c5a40433225ee282a1b0a06c523e
  af4534d7f83fa1155b0047718cbc546a0d072b04b3564eea1b422273f548271a
  0bb2316053fa76991955ebd63159434ecebb4e466dae5a1073a6727627097a10
  49e617d91d361094fa68f0ff77987130305beaba2eda04df997b714d6c6f2c29
  a6ad5cb4022b02709b`);
const TAG_A5 = hex("eead9d67890cbb22392336fea1851f38");
const PT_A5_START = "Internet-Drafts are draft documents valid for a maximum of six months";

describe.skipIf(!native)("native ChaCha20-Poly1305 (native/aead.cc)", () => {
  const a = addon as Required<NonNullable<typeof addon>>;
  const c = native!;

  it("is what bestNodeCrypto() picks when the addon loads", () => {
    expect(bestNodeCrypto().name).toBe("native");
  });

  it("RFC 8439 section 2.8.2: seal gives the ciphertext and tag", () => {
    const out = new Uint8Array(PT_2_8_2.length + 16);
    expect(a.aeadSeal(KEY_2_8_2, NONCE_2_8_2, AAD_2_8_2, PT_2_8_2, 0, PT_2_8_2.length, out, 0)).toBe(
      PT_2_8_2.length + 16,
    );
    expect(toHex(out)).toBe(CT_2_8_2 + TAG_2_8_2);
    const back = new Uint8Array(PT_2_8_2.length);
    expect(a.aeadOpen(KEY_2_8_2, NONCE_2_8_2, AAD_2_8_2, out, 0, out.length, back, 0)).toBe(PT_2_8_2.length);
    expect(back).toEqual(PT_2_8_2);
  });

  it("RFC 8439 appendix A.5: open verifies and decrypts", () => {
    const sealed = new Uint8Array(CT_A5.length + 16);
    sealed.set(CT_A5);
    sealed.set(TAG_A5, CT_A5.length);
    const out = new Uint8Array(CT_A5.length);
    expect(a.aeadOpen(KEY_A5, NONCE_A5, AAD_A5, sealed, 0, sealed.length, out, 0)).toBe(CT_A5.length);
    expect(new TextDecoder().decode(out).startsWith(PT_A5_START)).toBe(true);
  });

  it("a tag that does not verify is refused and leaves no plaintext behind", () => {
    const sealed = new Uint8Array(CT_A5.length + 16);
    sealed.set(CT_A5);
    sealed.set(TAG_A5, CT_A5.length);
    for (const flip of [0, CT_A5.length - 1, CT_A5.length, sealed.length - 1]) {
      const bad = Uint8Array.from(sealed);
      bad[flip] ^= 0x01;
      const out = new Uint8Array(CT_A5.length).fill(0xee);
      expect(a.aeadOpen(KEY_A5, NONCE_A5, AAD_A5, bad, 0, bad.length, out, 0)).toBe(-1);
      expect(out.every((b) => b === 0)).toBe(true);
    }
    const out = new Uint8Array(CT_A5.length);
    expect(
      a.aeadOpen(KEY_A5, NONCE_A5, hex("f33388860000000000004e92"), sealed, 0, sealed.length, out, 0),
    ).toBe(-1);
    expect(a.aeadOpen(KEY_A5, NONCE_A5, AAD_A5, sealed, 0, 15, out, 0)).toBe(-1);
  });

  it("works in place at an offset (the engine's layout: 16-byte header, then the packet)", () => {
    const buf = new Uint8Array(16 + PT_2_8_2.length + 16);
    buf.set(PT_2_8_2, 16);
    c.seal(KEY_2_8_2, 99, undefined, buf, 16, PT_2_8_2.length, buf, 16);
    const viaNode = new Uint8Array(PT_2_8_2.length + 16);
    nodeCrypto.seal(KEY_2_8_2, 99, undefined, PT_2_8_2, 0, PT_2_8_2.length, viaNode, 0);
    expect(toHex(buf.subarray(16))).toBe(toHex(viaNode));
    expect(c.open(KEY_2_8_2, 99, undefined, buf, 16, PT_2_8_2.length + 16, buf, 16)).toBe(PT_2_8_2.length);
    expect(buf.subarray(16, 16 + PT_2_8_2.length)).toEqual(PT_2_8_2);
  });

  it("refuses bad arguments with typed errors", () => {
    const out = new Uint8Array(64);
    const pt = new Uint8Array(32);
    const nonce = new Uint8Array(12);
    expect(() => a.aeadSeal(new Uint8Array(31), nonce, undefined, pt, 0, 32, out, 0)).toThrow(RangeError);
    expect(() => a.aeadSeal(KEY_A5, new Uint8Array(8), undefined, pt, 0, 32, out, 0)).toThrow(RangeError);
    expect(() => a.aeadSeal(KEY_A5, nonce, undefined, pt, 8, 32, out, 0)).toThrow(RangeError);
    expect(() => a.aeadSeal(KEY_A5, nonce, undefined, pt, 0, 32, out, 40)).toThrow(RangeError);
    expect(() => a.aeadSeal(KEY_A5, nonce, undefined, pt, 0, 32, out, -1)).toThrow(RangeError);
    expect(() => a.aeadSeal(KEY_A5, nonce, undefined, out, 0, 32, out, 8)).toThrow(RangeError);
    expect(() => a.aeadSeal("key" as unknown as Uint8Array, nonce, undefined, pt, 0, 32, out, 0)).toThrow(
      TypeError,
    );
    expect(() => a.aeadOpen(KEY_A5, nonce, undefined, out, 0, 48, new Uint8Array(8), 0)).toThrow(RangeError);
  });

  const others: WgCrypto[] = [nodeCrypto, nobleCrypto];
  test.prop(
    [
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.nat({ max: Number.MAX_SAFE_INTEGER }),
      fc.option(fc.uint8Array({ maxLength: 40 }), { nil: undefined }),
      fc.uint8Array({ maxLength: 1500 }),
    ],
    { numRuns: 150 },
  )("agrees with node:crypto and @noble on random inputs", (key, counter, ad, pt) => {
    const mine = new Uint8Array(pt.length + 16);
    expect(c.seal(key, counter, ad, pt, 0, pt.length, mine, 0)).toBe(pt.length + 16);
    for (const o of others) {
      const theirs = new Uint8Array(pt.length + 16);
      o.seal(key, counter, ad, pt, 0, pt.length, theirs, 0);
      expect(toHex(mine)).toBe(toHex(theirs));
      const back = new Uint8Array(pt.length);
      expect(o.open(key, counter, ad, mine, 0, mine.length, back, 0)).toBe(pt.length);
    }
    const back = new Uint8Array(pt.length);
    expect(c.open(key, counter, ad, mine, 0, mine.length, back, 0)).toBe(pt.length);
    expect(back).toEqual(pt);
    expect(c.open(key, counter + 1, ad, mine, 0, mine.length, back, 0)).toBe(-1);
  });

  it("XChaCha20-Poly1305 (cookie replies) agrees with node:crypto's", () => {
    const key = KEY_2_8_2;
    const xn = hex("404142434445464748494a4b4c4d4e4f5051525354555657");
    const sealed = c.xseal(key, xn, PT_2_8_2, AAD_2_8_2);
    expect(toHex(sealed)).toBe(toHex(nodeCrypto.xseal(key, xn, PT_2_8_2, AAD_2_8_2)));
    expect(c.xopen(key, xn, sealed, AAD_2_8_2)).toEqual(PT_2_8_2);
    sealed[1] ^= 4;
    expect(c.xopen(key, xn, sealed, AAD_2_8_2)).toBeUndefined();
  });
});
