import { fc, test } from "@fast-check/vitest";
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { describe, expect, it } from "vitest";
import { hchacha20, kdf1, kdf2, kdf3, type WgCrypto } from "./crypto.ts";
import { nobleCrypto } from "./crypto-noble.ts";
import { chachaOpen, chachaSeal, nodeCrypto } from "./crypto-node.ts";

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ""), "hex"));
const toHex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const ascii = (s: string) => new TextEncoder().encode(s);

const SUNSCREEN = ascii(
  "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
);
const KEY_80_9F = hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
const AAD_8439 = hex("50515253c0c1c2c3c4c5c6c7");

for (const c of [nodeCrypto, nobleCrypto] as WgCrypto[]) {
  describe(`crypto (${c.name})`, () => {
    it("X25519: RFC 7748 section 5.2 scalar multiplication", () => {
      const scalar = hex("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4");
      const u = hex("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c");
      expect(toHex(c.dh(scalar, u)!)).toBe(
        "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552",
      );
    });
    it("X25519: RFC 7748 section 6.1 Diffie-Hellman", () => {
      const a = hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
      const b = hex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
      const aPub = c.publicKey(a);
      const bPub = c.publicKey(b);
      expect(toHex(aPub)).toBe("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
      expect(toHex(bPub)).toBe("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
      const k = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";
      expect(toHex(c.dh(a, bPub)!)).toBe(k);
      expect(toHex(c.dh(b, aPub)!)).toBe(k);
    });
    it("X25519: a low-order public key gives undefined, not an all-zero secret", () => {
      const a = hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
      expect(c.dh(a, new Uint8Array(32))).toBeUndefined();
      // u = 1 is a point of order 4 (RFC 7748 section 6.1's "check for all-zero" case)
      const one = new Uint8Array(32);
      one[0] = 1;
      expect(c.dh(a, one)).toBeUndefined();
    });
    it("X25519: a key array changed in place gives the new key's result (no stale cache)", () => {
      const k = hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
      const bPub = hex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
      const first = toHex(c.dh(k, bPub)!);
      k.set(hex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"));
      expect(toHex(c.publicKey(k))).toBe("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
      expect(toHex(c.dh(k, bPub)!)).not.toBe(first);
    });
    it("BLAKE2s-256: RFC 7693 appendix B ('abc')", () => {
      expect(toHex(c.hash(ascii("abc")))).toBe(
        "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982",
      );
      expect(toHex(c.hash(ascii("a"), ascii("bc")))).toBe(toHex(c.hash(ascii("abc"))));
    });
    it("ChaCha20-Poly1305 with WireGuard's nonce round-trips, and a flipped bit fails", () => {
      const buf = new Uint8Array(SUNSCREEN.length + 16);
      buf.set(SUNSCREEN);
      expect(c.seal(KEY_80_9F, 7, AAD_8439, buf, 0, SUNSCREEN.length, buf, 0)).toBe(SUNSCREEN.length + 16);
      const out = new Uint8Array(SUNSCREEN.length);
      expect(c.open(KEY_80_9F, 7, AAD_8439, buf, 0, buf.length, out, 0)).toBe(SUNSCREEN.length);
      expect(out).toEqual(SUNSCREEN);
      expect(c.open(KEY_80_9F, 8, AAD_8439, buf, 0, buf.length, out, 0)).toBe(-1);
      buf[3] ^= 1;
      expect(c.open(KEY_80_9F, 7, AAD_8439, buf, 0, buf.length, out, 0)).toBe(-1);
      expect(c.open(KEY_80_9F, 7, AAD_8439, buf, 0, 15, out, 0)).toBe(-1);
    });
    it("XChaCha20-Poly1305: draft-irtf-cfrg-xchacha appendix A.3.1", () => {
      const iv = hex("404142434445464748494a4b4c4d4e4f5051525354555657");
      const sealed = c.xseal(KEY_80_9F, iv, SUNSCREEN, AAD_8439);
      expect(toHex(sealed)).toBe(
        "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b4522f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff921f9664c97637da9768812f615c68b13b52e" +
          "c0875924c1c7987947deafd8780acf49",
      );
      expect(c.xopen(KEY_80_9F, iv, sealed, AAD_8439)).toEqual(SUNSCREEN);
      sealed[0] ^= 0x80;
      expect(c.xopen(KEY_80_9F, iv, sealed, AAD_8439)).toBeUndefined();
    });
  });
}

describe("crypto primitives", () => {
  it("ChaCha20-Poly1305: RFC 8439 section 2.8.2 (node, arbitrary nonce)", () => {
    const nonce = hex("070000004041424344454647");
    const out = new Uint8Array(SUNSCREEN.length + 16);
    chachaSeal(KEY_80_9F, nonce, AAD_8439, SUNSCREEN, 0, SUNSCREEN.length, out, 0);
    const want =
      "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116" +
      "1ae10b594f09e26a7e902ecbd0600691";
    expect(toHex(out)).toBe(want);
    expect(toHex(chacha20poly1305(KEY_80_9F, nonce, AAD_8439).encrypt(SUNSCREEN))).toBe(want);
    const back = new Uint8Array(SUNSCREEN.length);
    expect(chachaOpen(KEY_80_9F, nonce, AAD_8439, out, 0, out.length, back, 0)).toBe(SUNSCREEN.length);
    expect(back).toEqual(SUNSCREEN);
  });
  it("HChaCha20: draft-irtf-cfrg-xchacha section 2.2.1", () => {
    const key = hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
    const nonce = hex("000000090000004a0000000031415927");
    expect(toHex(hchacha20(key, nonce))).toBe(
      "82413b4227b27bfed30e42508a877d73a0f9e4d58a74a853c12ec41326d3ecdc",
    );
  });

  const bytes = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max });
  test.prop([bytes(32, 32), bytes(0, 200), bytes(0, 40), fc.integer({ min: 0, max: 2 ** 53 - 1 })])(
    "node and noble agree: seal/open with WireGuard nonces",
    (key, pt, ad, counter) => {
      const a = new Uint8Array(pt.length + 16);
      const b = new Uint8Array(pt.length + 16);
      nodeCrypto.seal(key, counter, ad, pt, 0, pt.length, a, 0);
      nobleCrypto.seal(key, counter, ad, pt, 0, pt.length, b, 0);
      expect(toHex(a)).toBe(toHex(b));
      const back = new Uint8Array(pt.length);
      expect(nobleCrypto.open(key, counter, ad, a, 0, a.length, back, 0)).toBe(pt.length);
      expect(nodeCrypto.open(key, counter, ad, b, 0, b.length, back, 0)).toBe(pt.length);
      expect(back).toEqual(pt);
    },
  );
  test.prop([bytes(32, 32), bytes(24, 24), bytes(0, 64), bytes(0, 40)])(
    "node and noble agree: XChaCha20-Poly1305",
    (key, nonce, pt, ad) => {
      const a = nodeCrypto.xseal(key, nonce, pt, ad);
      expect(toHex(a)).toBe(toHex(nobleCrypto.xseal(key, nonce, pt, ad)));
      expect(nodeCrypto.xopen(key, nonce, a, ad)).toEqual(pt);
    },
  );
  test.prop([bytes(1, 64), bytes(0, 100), bytes(0, 100)])(
    "node and noble agree: hash, hmac, mac, kdf1/2/3",
    (key, a, b) => {
      const k32 = key.length >= 32 ? key.subarray(0, 32) : key;
      expect(toHex(nodeCrypto.hash(a, b))).toBe(toHex(nobleCrypto.hash(a, b)));
      expect(toHex(nodeCrypto.hmac(key, a))).toBe(toHex(nobleCrypto.hmac(key, a)));
      expect(toHex(nodeCrypto.mac(k32, a))).toBe(toHex(nobleCrypto.mac(k32, a)));
      expect(nodeCrypto.mac(k32, a).length).toBe(16);
      expect(toHex(kdf1(nodeCrypto, key, a))).toBe(toHex(kdf1(nobleCrypto, key, a)));
      expect(kdf2(nodeCrypto, key, a).map(toHex)).toEqual(kdf2(nobleCrypto, key, a).map(toHex));
      expect(kdf3(nodeCrypto, key, a).map(toHex)).toEqual(kdf3(nobleCrypto, key, a).map(toHex));
    },
  );
  test.prop([bytes(32, 32), bytes(32, 32)], { numRuns: 20 })("node and noble agree: X25519", (priv, pub) => {
    expect(toHex(nodeCrypto.publicKey(priv))).toBe(toHex(nobleCrypto.publicKey(priv)));
    const x = nodeCrypto.dh(priv, pub);
    const y = nobleCrypto.dh(priv, pub);
    expect(x === undefined ? "none" : toHex(x)).toBe(y === undefined ? "none" : toHex(y));
  });
  it("KDF: HMAC-BLAKE2s chain as the whitepaper defines it", () => {
    const c = nodeCrypto;
    const key = new Uint8Array(32).fill(1);
    const input = ascii("input");
    const t0 = c.hmac(key, input);
    const t1 = c.hmac(t0, Uint8Array.of(1));
    const t2 = c.hmac(t0, Uint8Array.from([...t1, 2]));
    expect(kdf1(c, key, input)).toEqual(t1);
    expect(kdf2(c, key, input)).toEqual([t1, t2]);
    expect(kdf3(c, key, input)[2]).toEqual(c.hmac(t0, Uint8Array.from([...t2, 3])));
  });
});
