import { describe, expect, it } from "vitest";
import { CookieChecker, CookieMaker, endpointBytes } from "./cookie.ts";
import { nobleCrypto } from "./crypto-noble.ts";
import { nodeCrypto } from "./crypto-node.ts";
import {
  consumeInitiation,
  consumeResponse,
  createInitiation,
  createResponse,
  deriveTransportKeys,
  initialChainAndHash,
  isTimestampAfter,
  tai64n,
} from "./noise.ts";

const hex = (s: string) => Uint8Array.from(Buffer.from(s, "hex"));
const toHex = (b: Uint8Array) => Buffer.from(b).toString("hex");

// An initiation made by wireguard-go's CreateMessageInitiation (before MACs are added) between
// two devices with fixed static keys, as published with a port of its noise code (third-party
// data, used here only as a known-good transcript).
const GO_INIT_PRIV = hex("0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20");
const GO_RESP_PRIV = hex("c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf");
const GO_INIT_PUB = "07a37cbc142093c8b755dc1b10e86cb426374ad16aa853ed0bdfc0b2b86d1c7c";
const GO_RESP_PUB = "dc2cca31e8e43bbd91dff7e475cca3347eb478107d5bd765aba4ae4a30c35d44";
const GO_INITIATION = hex(
  "01000000460de87b66c88e23df92c946c349d90449afaa3c07c61ae9f58e3232ef68e2e6dc9bd4064da0bf271857aa06c279722cb75891c9693d936c8350c2040750355dfc5e6543616f0fc5cc055c06affc3812c42fde392a871b8b9e7278b58b29acba530362955654e79ff6e7ee1d58da041c" +
    "00".repeat(32),
);

describe("noise IKpsk2 (whitepaper 5.4)", () => {
  it("initial chaining key and hash are the published constants", () => {
    const { chainKey, hash } = initialChainAndHash(nodeCrypto);
    expect(toHex(chainKey)).toBe("60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36");
    expect(toHex(hash)).toBe("2211b361081ac566691243db458ad5322d9c6c662293e8b70ee19c65ba079ef3");
  });

  it("consumes an initiation produced by wireguard-go", () => {
    expect(GO_INITIATION.length).toBe(148);
    expect(toHex(nodeCrypto.publicKey(GO_INIT_PRIV))).toBe(GO_INIT_PUB);
    const respPub = nodeCrypto.publicKey(GO_RESP_PRIV);
    expect(toHex(respPub)).toBe(GO_RESP_PUB);
    for (const c of [nodeCrypto, nobleCrypto]) {
      const got = consumeInitiation(c, GO_RESP_PRIV, respPub, GO_INITIATION, (remote) =>
        toHex(remote) === GO_INIT_PUB ? c.dh(GO_RESP_PRIV, remote) : undefined,
      );
      if (typeof got === "string") throw new Error(got);
      expect(toHex(got.remoteStatic)).toBe(GO_INIT_PUB);
      expect(got.senderIndex).toBe(2078805318);
      // A TAI64N label: 2^62 + 10 + Unix seconds of 2025.
      const secs = Buffer.from(got.timestamp).readBigUInt64BE(0) - (1n << 62n) - 10n;
      expect(secs > 1_700_000_000n && secs < 1_900_000_000n).toBe(true);
    }
    const tampered = Uint8Array.from(GO_INITIATION);
    tampered[50] ^= 1;
    expect(
      consumeInitiation(nodeCrypto, GO_RESP_PRIV, respPub, tampered, (r) => nodeCrypto.dh(GO_RESP_PRIV, r)),
    ).toBe("handshake-decrypt-failed");
  });

  it("a full handshake gives both sides the same keys, crossed; a wrong PSK fails", () => {
    const c = nodeCrypto;
    const iPriv = GO_INIT_PRIV;
    const rPriv = GO_RESP_PRIV;
    const iPub = c.publicKey(iPriv);
    const rPub = c.publicKey(rPriv);
    const psk = hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
    const run = (respPsk: Uint8Array) => {
      const init = new Uint8Array(148);
      const st = createInitiation(
        c,
        iPub,
        rPub,
        c.dh(iPriv, rPub)!,
        new Uint8Array(32).fill(7),
        0x11111111,
        tai64n(1e18),
        init,
      );
      if (typeof st === "string") throw new Error(st);
      const consumed = consumeInitiation(c, rPriv, rPub, init, (r) => c.dh(rPriv, r));
      if (typeof consumed === "string") throw new Error(consumed);
      const resp = new Uint8Array(92);
      const rck = createResponse(
        c,
        consumed.state,
        iPub,
        respPsk,
        new Uint8Array(32).fill(9),
        0x22222222,
        0x11111111,
        resp,
      );
      if (typeof rck === "string") throw new Error(rck);
      const ick = consumeResponse(c, st, iPriv, psk, resp);
      return { rck, ick };
    };
    const { rck, ick } = run(psk);
    if (typeof ick === "string") throw new Error(ick);
    const ik = deriveTransportKeys(c, ick, true);
    const rk = deriveTransportKeys(c, rck, false);
    expect(ik.sendKey).toEqual(rk.recvKey);
    expect(ik.recvKey).toEqual(rk.sendKey);
    expect(ik.sendKey).not.toEqual(ik.recvKey);
    const wrong = Uint8Array.from(psk);
    wrong[31] ^= 1;
    expect(run(wrong).ick).toBe("handshake-decrypt-failed");
  });

  it("TAI64N: 2^62 + 10 + seconds, big-endian, nanoseconds whitened to 2^24 ns", () => {
    expect(toHex(tai64n(0))).toBe("400000000000000a00000000");
    expect(toHex(tai64n(1_700_000_000 * 1e9 + 123_456_789))).toBe(
      `${(0x400000000000000an + 1_700_000_000n).toString(16)}${(123_456_789 & ~0xffffff).toString(16).padStart(8, "0")}`,
    );
    expect(isTimestampAfter(tai64n(2e9), tai64n(1e9))).toBe(true);
    expect(isTimestampAfter(tai64n(1e9), tai64n(1e9))).toBe(false);
    expect(isTimestampAfter(tai64n(1e9 + 1000), tai64n(1e9))).toBe(false); // same whitened stamp
    expect(isTimestampAfter(tai64n(1e9 + 20e6), tai64n(1e9))).toBe(true);
  });
});

describe("cookies (whitepaper 5.3, 5.4.7)", () => {
  const c = nodeCrypto;
  const rPriv = GO_RESP_PRIV;
  const rPub = c.publicKey(rPriv);
  const src = { address: "192.0.2.7", port: 51820 };
  const bytesFrom = (seed: number) => (out: Uint8Array) => out.fill(seed);

  it("mac1 made for a public key checks with that key only", () => {
    const msg = Uint8Array.from(GO_INITIATION);
    new CookieMaker(c, rPub, 120e9).addMacs(msg, 148, 0);
    const checker = new CookieChecker(c, rPub, bytesFrom(1), 120e9);
    expect(checker.checkMac1(msg, 148)).toBe(true);
    msg[10] ^= 1;
    expect(checker.checkMac1(msg, 148)).toBe(false);
    const other = new CookieChecker(c, c.publicKey(GO_INIT_PRIV), bytesFrom(1), 120e9);
    msg[10] ^= 1;
    expect(other.checkMac1(msg, 148)).toBe(false);
  });

  it("cookie round trip: reply, consume, mac2 valid from the same source only, until the secret rotates", () => {
    const maker = new CookieMaker(c, rPub, 120e9);
    let n = 0;
    const checker = new CookieChecker(c, rPub, (out) => out.fill(++n), 120e9);
    const msg = Uint8Array.from(GO_INITIATION);
    expect(maker.addMacs(msg, 148, 0)).toBe(false);
    expect(checker.checkMac2(msg, 148, src, 0)).toBe(false);
    const reply = checker.makeReply(msg, 148, 0x460de87b, src, 0);
    expect(reply.length).toBe(64);
    expect(maker.consumeReply(reply, 1)).toBe(true);
    expect(maker.consumeReply(reply, 1)).toBe(false); // answers one message only
    expect(maker.addMacs(msg, 148, 2)).toBe(true);
    expect(checker.checkMac2(msg, 148, src, 3)).toBe(true);
    expect(checker.checkMac2(msg, 148, { address: "192.0.2.8", port: 51820 }, 3)).toBe(false);
    expect(checker.checkMac2(msg, 148, src, 121e9)).toBe(false); // new secret
    expect(maker.hasFreshCookie(120e9 + 1)).toBe(false);
    expect(maker.addMacs(msg, 148, 120e9 + 1)).toBe(false);
  });

  it("endpoint bytes: IPv4 as 4 bytes and port, others as text and port", () => {
    expect(toHex(endpointBytes(src))).toBe("c0000207ca6c");
    expect(endpointBytes({ address: "2001:db8::1", port: 1 }).length).toBe(13);
  });
});
