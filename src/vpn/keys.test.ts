/**
 * Tests for WireGuard key text and derivation: RFC 7748 vectors, base64 round trips, refusals
 * that never echo the key, and byte-compatibility with the real `wg genkey`/`wg pubkey` when the
 * wireguard-tools binary is installed.
 */

import { execFileSync, spawnSync } from "node:child_process";
import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import {
  clampPrivateKey,
  generatePrivateKey,
  KeyError,
  keyFromBase64,
  keyToBase64,
  publicKeyOf,
} from "./keys.ts";

const hex = (s: string) => Uint8Array.from(s.match(/../g)!.map((b) => Number.parseInt(b, 16)));
const toHex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

const hasWg = spawnSync("wg", ["--version"]).status === 0;

describe("keys", () => {
  it("derives the RFC 7748 section 6.1 public keys", () => {
    const alice = hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
    const bob = hex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
    expect(toHex(publicKeyOf(alice))).toBe(
      "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
    );
    expect(toHex(publicKeyOf(bob))).toBe("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
    // The caller's array is not clamped in place.
    expect(toHex(alice)).toBe("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
  });

  it("encodes and decodes literal keys", () => {
    expect(keyToBase64(new Uint8Array(32))).toBe("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    expect(keyToBase64(new Uint8Array(32).fill(255))).toBe("//////////////////////////////////////////8=");
    expect(toHex(keyFromBase64("//////////////////////////////////////////8="))).toBe("ff".repeat(32));
  });

  test.prop([fc.uint8Array({ minLength: 32, maxLength: 32 })])("base64 round trip", (k) => {
    const text = keyToBase64(k);
    expect(text).toHaveLength(44);
    expect(Buffer.from(text, "base64").equals(Buffer.from(k))).toBe(true);
    expect(keyFromBase64(text)).toEqual(k);
  });

  test.prop([fc.string({ maxLength: 60 })])("any text either decodes to 32 bytes or raises KeyError", (s) => {
    try {
      expect(keyFromBase64(s)).toHaveLength(32);
    } catch (e) {
      expect(e).toBeInstanceOf(KeyError);
    }
  });

  it("refuses bad keys without quoting them", () => {
    const secret = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=";
    const cases: [string, string][] = [
      [secret.slice(0, 40), "bad-length"],
      [`${secret.slice(0, 43)}A`, "bad-length"],
      [`${secret.slice(0, 10)}*${secret.slice(11)}`, "bad-character"],
      [`${secret.slice(0, 42)}n=`, "non-canonical"], // 'n' has low bits set
    ];
    for (const [text, code] of cases) {
      try {
        keyFromBase64(text);
        expect.unreachable(`accepted ${code}`);
      } catch (e) {
        expect(e).toBeInstanceOf(KeyError);
        expect((e as KeyError).code).toBe(code);
        expect((e as Error).message).not.toContain(text.slice(0, 12));
      }
    }
  });

  it("clamps generated keys as wg genkey does", () => {
    const k = generatePrivateKey(() => new Uint8Array(32).fill(255));
    expect(k[0]).toBe(248);
    expect(k[31]).toBe(127);
    const z = clampPrivateKey(new Uint8Array(32));
    expect(z[31]).toBe(64);
    for (let i = 0; i < 20; i++) {
      const g = generatePrivateKey();
      expect(g[0] & 7).toBe(0);
      expect(g[31] & 0xc0).toBe(0x40);
    }
  });

  it.skipIf(!hasWg)("matches wg pubkey for wg genkey and for our keys (wireguard-tools installed)", () => {
    for (let i = 0; i < 5; i++) {
      const theirs = execFileSync("wg", ["genkey"]).toString().trim();
      const theirPub = execFileSync("wg", ["pubkey"], { input: `${theirs}\n` })
        .toString()
        .trim();
      expect(keyToBase64(publicKeyOf(keyFromBase64(theirs)))).toBe(theirPub);
      const ours = keyToBase64(generatePrivateKey());
      const ourPubByWg = execFileSync("wg", ["pubkey"], { input: `${ours}\n` })
        .toString()
        .trim();
      expect(keyToBase64(publicKeyOf(keyFromBase64(ours)))).toBe(ourPubByWg);
    }
    // An unclamped private key: wg pubkey clamps it, so must we.
    const raw = keyToBase64(new Uint8Array(32).fill(0xff));
    const wgPub = execFileSync("wg", ["pubkey"], { input: `${raw}\n` })
      .toString()
      .trim();
    expect(keyToBase64(publicKeyOf(keyFromBase64(raw)))).toBe(wgPub);
  });
});
