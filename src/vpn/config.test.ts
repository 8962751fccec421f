/**
 * Tests for WireGuard configuration files: a full wg-quick file, each mistake reported at its
 * line without key material, round trips through `formatWgConfig`, a fuzz property (any text parses
 * or raises ConfigError), and, when wireguard-tools is installed, `wg` itself reading our output.
 */

import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { formatCidr, maskCidr, parseCidr as parseCidrText } from "./allowed-ips.ts";
import { ConfigError, formatWgConfig, parseEndpoint, parseWgConfig } from "./config.ts";
import { keyToBase64, publicKeyOf } from "./keys.ts";

const key = (fill: number) => {
  const k = new Uint8Array(32).fill(fill);
  k[0] &= 248;
  k[31] = (k[31] & 127) | 64;
  return k;
};
const PRIV = keyToBase64(key(1));
const PEER1 = keyToBase64(publicKeyOf(key(2)));
const PEER2 = keyToBase64(publicKeyOf(key(3)));
const PSK = keyToBase64(new Uint8Array(32).fill(9));

const FULL = `# a wg-quick file
[Interface]
PrivateKey = ${PRIV}   # our key
Address = 10.0.0.1/24, fd00::1/64
Address = 10.0.1.1/24
listenport = 51820
MTU = 1420
DNS = 10.0.0.53, example.internal
PostUp = iptables -A FORWARD -i %i -j ACCEPT

[peer]
PublicKey = ${PEER1}
PresharedKey = ${PSK}
AllowedIPs = 10.0.0.2/32, 192.168.7.9/24
AllowedIPs = fd00::2
Endpoint = 192.0.2.1:51820
PersistentKeepalive = 25

[Peer]
PUBLICKEY=${PEER2}
Endpoint = [2001:db8::1]:4500
PersistentKeepalive = off
`;

/** A prefix: host bits cleared when `isMasked` (AllowedIPs are stored that way), kept otherwise. */
function cidr4Arb(isMasked: boolean) {
  return fc
    .record({
      family: fc.constant(4 as const),
      addr: fc.integer({ min: 0, max: 0xffffffff }),
      prefixLen: fc.integer({ min: 0, max: 32 }),
    })
    .map((c) => (isMasked ? (maskCidr(c) as typeof c) : c));
}
function cidr6Arb(isMasked: boolean) {
  return fc
    .record({
      family: fc.constant(6 as const),
      addr: fc.uint8Array({ minLength: 16, maxLength: 16 }),
      prefixLen: fc.integer({ min: 0, max: 128 }),
    })
    .map((c) => (isMasked ? (maskCidr(c) as typeof c) : c));
}

function errorOf(text: string): ConfigError {
  try {
    parseWgConfig(text, "wg0.conf");
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error("expected a ConfigError");
}

describe("parseWgConfig", () => {
  it("reads a full wg-quick file", () => {
    const c = parseWgConfig(FULL, "wg0.conf");
    expect(keyToBase64(c.interface.privateKey)).toBe(PRIV);
    expect(c.interface.publicKey).toEqual(publicKeyOf(key(1)));
    expect(c.interface.addresses.map(formatCidr)).toEqual(["10.0.0.1/24", "fd00::1/64", "10.0.1.1/24"]);
    expect(c.interface.listenPort).toBe(51820);
    expect(c.interface.mtu).toBe(1420);
    expect(c.peers).toHaveLength(2);
    const [a, b] = c.peers;
    expect(keyToBase64(a.publicKey)).toBe(PEER1);
    expect(keyToBase64(a.presharedKey!)).toBe(PSK);
    expect(a.allowedIps.map(formatCidr)).toEqual(["10.0.0.2/32", "192.168.7.0/24", "fd00::2/128"]);
    expect(a.endpoint).toEqual({ host: "192.0.2.1", port: 51820, family: 4 });
    expect(a.persistentKeepaliveSec).toBe(25);
    expect(a.line).toBe(11);
    expect(b.endpoint).toEqual({ host: "2001:db8::1", port: 4500, family: 6 });
    expect(b.persistentKeepaliveSec).toBe(0);
    expect(b.allowedIps).toEqual([]);
    expect(c.notes.map((n) => n.line)).toEqual([8, 9]);
    expect(c.notes[1].message).toContain("PostUp");
  });

  it("reports each mistake at its line, never quoting a key", () => {
    const cases: [string, number, string, RegExp][] = [
      [
        `[Interface]\nPrivateKey = ${PRIV}\nFoo = 1\n`,
        3,
        "unknown-key",
        /unknown key "Foo" in \[Interface\]/,
      ],
      [
        `[Interface]\nPrivateKey = ${PRIV}\nEndpoint = 1.2.3.4:5\n`,
        3,
        "unknown-key",
        /Endpoint belongs in \[Peer\]/,
      ],
      [`[Interface]\nPrivateKey = ${PRIV.slice(0, 40)}\n`, 2, "bad-key", /PrivateKey: a key is 44 base64/],
      [`[Interface]\nPrivateKey = ${PRIV.slice(0, 42)}n=\n`, 2, "bad-key", /not canonical/],
      [
        `[Interface]\nPrivateKey = ${PRIV}\n[Peer]\nPublicKey = ${PEER1}\nAllowedIPs = 10.0.0.0/33\n`,
        5,
        "bad-value",
        /AllowedIPs: .*0\.\.32/,
      ],
      [`[Interface]\nPrivateKey = ${PRIV}\nAddress = 10.0.0.1/24,\n`, 3, "bad-value", /empty entry/],
      [
        `[Interface]\nPrivateKey = ${PRIV}\n[Peer]\nPublicKey = ${PEER1}\n[Peer]\nPublicKey = ${PEER1}\n`,
        5,
        "duplicate",
        /also the peer's at line 3/,
      ],
      [
        `[Interface]\nPrivateKey = ${PRIV}\n[Peer]\nPublicKey = ${keyToBase64(publicKeyOf(key(1)))}\n`,
        3,
        "duplicate",
        /own public key/,
      ],
      [`[Interface]\nListenPort = 1\n`, 1, "missing", /no PrivateKey/],
      [`[Peer]\nPublicKey = ${PEER1}\n`, 1, "missing", /no \[Interface\]/],
      [`[Interface]\nPrivateKey = ${PRIV}\n\n[Peer]\nEndpoint = 1.2.3.4:5\n`, 4, "missing", /no PublicKey/],
      [`PrivateKey = ${PRIV}\n`, 1, "syntax", /before any/],
      [`[Interface]\nPrivateKey ${PRIV}\n`, 2, "syntax", /Key = Value/],
      [`[Interface]\n${"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ"}=\n`, 2, "syntax", /Key = Value/],
      [`[Interface\n`, 1, "syntax", /section header/],
      [`[Bogus]\n`, 1, "unknown-section", /\[Bogus\]/],
      [`[Interface]\nPrivateKey = ${PRIV}\n[Interface]\n`, 3, "duplicate", /second \[Interface\]/],
      [`[Interface]\nPrivateKey = ${PRIV}\nPrivateKey = ${PRIV}\n`, 3, "duplicate", /twice/],
      [`[Interface]\nPrivateKey = ${PRIV}\nListenPort = 70000\n`, 3, "bad-value", /ListenPort/],
      [`[Interface]\nPrivateKey = ${PRIV}\nMTU = 20\n`, 3, "bad-value", /MTU/],
      [
        `[Interface]\nPrivateKey = ${PRIV}\n[Peer]\nPublicKey = ${PEER1}\nEndpoint = 10.0.0.1\n`,
        5,
        "bad-value",
        /needs a port/,
      ],
      [
        `[Interface]\nPrivateKey = ${PRIV}\n[Peer]\nPublicKey = ${PEER1}\nEndpoint = fd00::1:51820\n`,
        5,
        "bad-value",
        /brackets/,
      ],
      [
        `[Interface]\nPrivateKey = ${PRIV}\n[Peer]\nPublicKey = ${PEER1}\nPersistentKeepalive = soon\n`,
        5,
        "bad-value",
        /PersistentKeepalive/,
      ],
    ];
    for (const [text, line, code, re] of cases) {
      const e = errorOf(text);
      expect(e.line, text).toBe(line);
      expect(e.code, text).toBe(code);
      expect(e.message, text).toMatch(re);
      expect(e.message.startsWith(`wg0.conf:${line}: `)).toBe(true);
      for (const k of [PRIV, PEER1, PSK]) expect(e.message).not.toContain(k.slice(0, 16));
      // Nor any long token of the input, which may be a key pasted where it does not belong.
      for (const token of text.match(/[A-Za-z0-9+/]{40,}/g) ?? [])
        expect(e.message).not.toContain(token.slice(0, 16));
    }
  });

  it("never echoes a private key pasted into the wrong field, in any field, in any form", () => {
    const hex = [...key(1)].map((b) => b.toString(16).padStart(2, "0")).join("");
    const pastes = [
      PRIV,
      PRIV.slice(0, 43),
      hex,
      `${PRIV}${PRIV}`,
      `x${PRIV}`,
      `10.0.0.1/${PRIV}`,
      `[${PRIV}]:51820`,
    ];
    const iface = (line: string) => `[Interface]\nPrivateKey = ${PRIV}\n${line}\n`;
    const peer = (line: string) => `${iface("")}[Peer]\nPublicKey = ${PEER1}\n${line}\n`;
    const fields = [
      (k: string) => iface(`Address = ${k}`),
      (k: string) => iface(`Address = 10.0.0.1/24, ${k}`),
      (k: string) => iface(`ListenPort = ${k}`),
      (k: string) => iface(`MTU = ${k}`),
      (k: string) => iface(`FwMark = ${k}`),
      (k: string) => iface(`SaveConfig = ${k}`),
      (k: string) => peer(`Endpoint = ${k}`),
      (k: string) => peer(`Endpoint = host.example:${k}`),
      (k: string) => peer(`AllowedIPs = ${k}`),
      (k: string) => peer(`PersistentKeepalive = ${k}`),
    ];
    let hidden = 0;
    for (const field of fields)
      for (const k of pastes) {
        const e = errorOf(field(k));
        for (const secret of [PRIV.slice(0, 12), PRIV.slice(20, 32), hex.slice(0, 12), hex.slice(40, 52)])
          expect(e.message, field(k)).not.toContain(secret);
        expect(e.detail).not.toContain(PRIV.slice(0, 12));
        if (e.message.includes("[key-shaped text hidden]")) hidden++;
      }
    expect(hidden).toBeGreaterThan(40); // most say what is wrong around the hidden text
    expect(errorOf(peer(`Endpoint = ${PRIV}`)).message).toBe(
      'wg0.conf:6: Endpoint: "[key-shaped text hidden]" needs a port (host:port, or [IPv6]:port)',
    );
  });

  it("escapes control characters of the file in its messages", () => {
    const e = errorOf(`[Interface]\nPrivateKey = ${PRIV}\nAddress = 10.0.0.1/2\u001b[2J\n`);
    expect(e.message).toBe(
      'wg0.conf:3: Address: "10.0.0.1/2\\x1b[2J": the prefix length must be a number 0..32',
    );
    expect(
      errorOf(`[Interface]\nPrivateKey = ${PRIV}\n[Peer]\nPublicKey = ${PEER1}\nEndpoint = a\u202eb:1\n`)
        .message,
    ).toBe('wg0.conf:5: Endpoint: "a\\u202eb" is neither an IPv4 address nor a host name');
  });

  it("lets a later peer take an AllowedIPs prefix, with a note", () => {
    const c = parseWgConfig(
      `[Interface]\nPrivateKey = ${PRIV}\n[Peer]\nPublicKey = ${PEER1}\nAllowedIPs = 10.0.0.0/24, 10.9.0.0/16\n[Peer]\nPublicKey = ${PEER2}\nAllowedIPs = 10.0.0.7/24\n`,
    );
    expect(c.peers[0].allowedIps.map(formatCidr)).toEqual(["10.9.0.0/16"]);
    expect(c.peers[1].allowedIps.map(formatCidr)).toEqual(["10.0.0.0/24"]);
    expect(c.notes[0]).toEqual({
      line: 6,
      message: expect.stringContaining("10.0.0.0/24 also belongs to the peer at line 3"),
    });
  });

  it("reads endpoints", () => {
    expect(parseEndpoint("vpn.example.com:51820")).toEqual({
      host: "vpn.example.com",
      port: 51820,
      family: undefined,
    });
    expect(parseEndpoint("[::1]:1")).toEqual({ host: "::1", port: 1, family: 6 });
    expect(parseEndpoint("1.2.3.4:0")).toMatch(/port/);
    expect(parseEndpoint("[::1]51820")).toMatch(/not \[IPv6\]:port/);
    expect(parseEndpoint("1.2.3:5")).toMatch(/neither/);
  });

  test.prop([fc.string({ maxLength: 200 })])("any text parses or raises ConfigError", (s) => {
    try {
      parseWgConfig(s);
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
    }
  });

  test.prop([fc.array(fc.constantFrom(...FULL.split("\n")), { maxLength: 25 })])(
    "any shuffle of real lines parses or raises ConfigError, never quoting a key",
    (lines) => {
      try {
        parseWgConfig(lines.join("\n"));
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        for (const k of [PRIV, PEER1, PEER2, PSK]) expect((e as Error).message).not.toContain(k.slice(0, 12));
      }
    },
  );

  test.prop(
    [
      fc.record({
        listenPort: fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
        mtu: fc.option(fc.integer({ min: 68, max: 65535 }), { nil: undefined }),
        addresses: fc.array(fc.oneof(cidr4Arb(false), cidr6Arb(false)), { maxLength: 3 }),
        peers: fc.uniqueArray(
          fc.record({
            seed: fc.integer({ min: 10, max: 250 }),
            hasPsk: fc.boolean(),
            allowedIps: fc.uniqueArray(fc.oneof(cidr4Arb(true), cidr6Arb(true)), {
              maxLength: 4,
              selector: (c) => formatCidr(c),
            }),
            endpoint: fc.option(
              fc.oneof(
                fc.record({
                  host: fc.ipV4(),
                  port: fc.integer({ min: 1, max: 65535 }),
                  family: fc.constant(4 as const),
                }),
                fc.record({
                  host: fc.ipV6().map((h) => formatCidr(parseCidrText(`${h}/128`)).split("/")[0]),
                  port: fc.integer({ min: 1, max: 65535 }),
                  family: fc.constant(6 as const),
                }),
                fc.record({
                  host: fc.domain(),
                  port: fc.integer({ min: 1, max: 65535 }),
                  family: fc.constant(undefined),
                }),
              ),
              { nil: undefined },
            ),
            keepalive: fc.integer({ min: 0, max: 65535 }),
          }),
          { maxLength: 4, selector: (p) => p.seed },
        ),
      }),
    ],
    { numRuns: 60 },
  )("parse(format(config)) gives the config back", (g) => {
    const privateKey = key(1);
    const cfg = {
      interface: {
        privateKey,
        publicKey: publicKeyOf(privateKey),
        addresses: g.addresses,
        listenPort: g.listenPort,
        mtu: g.mtu,
        line: 1,
      },
      // Distinct prefixes across peers, so that no later peer takes one from an earlier.
      peers: g.peers.map((p, i) => ({
        publicKey: publicKeyOf(key(p.seed)),
        presharedKey: p.hasPsk ? new Uint8Array(32).fill(p.seed) : undefined,
        allowedIps: p.allowedIps.filter(
          (c) => !g.peers.slice(i + 1).some((q) => q.allowedIps.some((d) => formatCidr(d) === formatCidr(c))),
        ),
        endpoint: p.endpoint,
        persistentKeepaliveSec: p.keepalive,
        line: 0,
      })),
    };
    const back = parseWgConfig(formatWgConfig(cfg));
    expect(back.notes).toEqual([]);
    expect({ ...back.interface, line: 1 }).toEqual(cfg.interface);
    expect(back.peers.map((p) => ({ ...p, line: 0 }))).toEqual(cfg.peers);
  });

  it("round-trips through formatWgConfig", () => {
    const c = parseWgConfig(FULL, "wg0.conf");
    const again = parseWgConfig(formatWgConfig(c));
    expect({ ...again.interface, line: 0 }).toEqual({ ...c.interface, line: 0 });
    expect(again.peers.map((p) => ({ ...p, line: 0 }))).toEqual(c.peers.map((p) => ({ ...p, line: 0 })));
  });

  it("writes setconf text without wg-quick keys", () => {
    const text = formatWgConfig(parseWgConfig(FULL), { isForSetconf: true });
    expect(text).not.toMatch(/Address|MTU|DNS|PostUp/);
    expect(text).toContain(`PublicKey = ${PEER2}`);
    expect(text).toContain("Endpoint = [2001:db8::1]:4500");
  });
});
