/**
 * In-process tests of `vnet vpn`: key commands, `check` (summary, notes, one-line file:line errors
 * with exit 2, no secrets), ping's usage errors, and a real ping between two vnet endpoints over
 * loopback UDP (no root needed: the userspace endpoint has no tun device).
 */

import { execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { listenOnTunnel } from "../real/wg-tunnel-host.ts";
import { parseWgConfig } from "../vpn/config.ts";
import { generatePrivateKey, keyFromBase64, keyToBase64, publicKeyOf } from "../vpn/keys.ts";
import { memoryIo } from "./io.ts";
import { main } from "./main.ts";
import { setStdinForTests } from "./vpn.ts";

const dir = mkdtempSync(join(tmpdir(), "vnet-vpn-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(args: string[]) {
  const io = memoryIo();
  const code = await main(args, io);
  return { code, out: io.stdout(), err: io.stderr() };
}

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

const privA = generatePrivateKey();
const privB = generatePrivateKey();
const pubA = publicKeyOf(privA);
const pubB = publicKeyOf(privB);

describe("vnet vpn", () => {
  it("genkey prints a clamped key whose pubkey matches", async () => {
    const r = await run(["vpn", "genkey"]);
    expect(r.code).toBe(0);
    const k = keyFromBase64(r.out.trim());
    expect(k[0] & 7).toBe(0);
    expect(k[31] & 0xc0).toBe(0x40);
    setStdinForTests(async () => `${r.out}\n`);
    const p = await run(["vpn", "pubkey", "--json"]);
    expect(p.code).toBe(0);
    expect(JSON.parse(p.out)).toEqual({ publicKey: keyToBase64(publicKeyOf(k)) });
  });

  it.skipIf(spawnSync("wg", ["--version"]).status !== 0)(
    "genkey/pubkey are byte-compatible with wg genkey/pubkey (wireguard-tools installed)",
    async () => {
      // wg's key into our pubkey, and our key into wg's pubkey.
      const theirs = execFileSync("wg", ["genkey"]).toString();
      setStdinForTests(async () => theirs);
      const ours = await run(["vpn", "pubkey"]);
      expect(ours.out).toBe(execFileSync("wg", ["pubkey"], { input: theirs }).toString());
      const generated = (await run(["vpn", "genkey"])).out;
      setStdinForTests(async () => generated);
      expect((await run(["vpn", "pubkey"])).out).toBe(
        execFileSync("wg", ["pubkey"], { input: generated }).toString(),
      );
    },
  );

  it("pubkey refuses bad input with exit 2 and one line", async () => {
    setStdinForTests(async () => "not a key\n");
    const r = await run(["vpn", "pubkey"]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^vnet: pubkey: stdin does not hold a private key: .*\n$/);
    expect(r.err.split("\n")).toHaveLength(2);
  });

  it("check summarizes a file without secrets and prints notes", async () => {
    const psk = keyToBase64(generatePrivateKey());
    const f = file(
      "ok.conf",
      `[Interface]\nPrivateKey = ${keyToBase64(privA)}\nAddress = 10.0.0.1/24\nMTU = 1420\nPostUp = echo hi\n\n[Peer]\nPublicKey = ${keyToBase64(pubB)}\nPresharedKey = ${psk}\nAllowedIPs = 10.0.0.2/32\nEndpoint = 127.0.0.1:51820\n`,
    );
    const r = await run(["vpn", "check", "--config", f]);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`interface: public key ${keyToBase64(pubA)}`);
    expect(r.out).toContain("preshared key: (hidden)");
    expect(r.out).toContain(`note: ${f}:5: PostUp is a wg-quick setting vnet does not apply; ignored`);
    expect(r.out).not.toContain(keyToBase64(privA));
    expect(r.out).not.toContain(psk);
    const j = await run(["vpn", "check", "--config", f, "--json"]);
    const s = JSON.parse(j.out);
    expect(s.peers[0]).toMatchObject({
      allowedIps: ["10.0.0.2/32"],
      endpoint: "127.0.0.1:51820",
      hasPresharedKey: true,
    });
    expect(j.out).not.toContain(psk);
  });

  it("check reports a mistake as file:line on one line, exit 2, without the key", async () => {
    const bad = keyToBase64(privA).slice(0, 40);
    const f = file("bad.conf", `[Interface]\nPrivateKey = ${bad}\n`);
    const r = await run(["vpn", "check", "--config", f]);
    expect(r.code).toBe(2);
    expect(r.err).toBe(
      `vnet: ${f}:2: PrivateKey: a key is 44 base64 characters ending in "=" (32 bytes); got 40 characters\n`,
    );
    expect(r.err).not.toContain(bad);
    const missing = await run(["vpn", "check", "--config", join(dir, "nope.conf")]);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/nope\.conf: cannot read the configuration file \(ENOENT\)/);
  });

  it("ping refuses what it cannot do, with exit 2", async () => {
    const f = file(
      "ping.conf",
      `[Interface]\nPrivateKey = ${keyToBase64(privA)}\nAddress = 10.0.0.1/24\n[Peer]\nPublicKey = ${keyToBase64(pubB)}\nAllowedIPs = 10.0.0.2/32\n`,
    );
    const cases: [string[], RegExp][] = [
      [["10.0.0.2"], /has no Endpoint/],
      [["10.9.9.9"], /no peer's AllowedIPs .* contain 10\.9\.9\.9/],
      [["banana"], /"banana" is not an IPv4 or IPv6 address/],
      [["fd00::2"], /no peer's AllowedIPs .* contain fd00::2/],
      [["10.0.0.2", "-c", "0"], /--count must be a whole number above 0/],
      [["10.0.0.2", "-i", "x"], /--interval/],
      [["10.0.0.2", "-s", "1393"], /--size 1393 does not fit the tunnel MTU 1420 \(at most 1392 data bytes/],
    ];
    for (const [args, re] of cases) {
      const r = await run(["vpn", "ping", "--config", f, ...args]);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.err).toMatch(re);
    }
  });

  it("pings between two vnet endpoints over loopback", async () => {
    const listenerCfg = parseWgConfig(
      `[Interface]\nPrivateKey = ${keyToBase64(privA)}\nAddress = 10.0.0.1/24, fd00::1/64\n[Peer]\nPublicKey = ${keyToBase64(pubB)}\nAllowedIPs = 10.0.0.2/32, fd00::2/128\n`,
    );
    const stop = new AbortController();
    let port = 0;
    let readyResolve: () => void = () => {};
    const ready = new Promise<void>((resolve) => {
      readyResolve = resolve;
    });
    const listenerPromise = listenOnTunnel({
      config: listenerCfg,
      bindAddress: "127.0.0.1",
      signal: stop.signal,
      onReady: (info) => {
        port = info.port;
        readyResolve();
      },
    });
    await ready;
    const f = file(
      "b.conf",
      `[Interface]\nPrivateKey = ${keyToBase64(privB)}\nAddress = 10.0.0.2/24, fd00::2/64\n[Peer]\nPublicKey = ${keyToBase64(pubA)}\nAllowedIPs = 10.0.0.0/24, fd00::/64\nEndpoint = 127.0.0.1:${port}\n`,
    );
    const r = await run(["vpn", "ping", "--config", f, "10.0.0.1", "-c", "3", "-i", "0.05"]);
    const r6 = await run([
      "vpn",
      "ping",
      "--config",
      f,
      "fd00::1",
      "-c",
      "2",
      "-i",
      "0.05",
      "-s",
      "100",
      "--json",
    ]);
    stop.abort();
    const summary = await listenerPromise;
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^PING 10\.0\.0\.1 from 10\.0\.0\.2 through peer .+: 56\(84\) bytes of data\.\n/);
    expect(r.out).toMatch(/handshake with peer \S+ at 127\.0\.0\.1:\d+ complete in [\d.]+ ms/);
    for (const seq of [1, 2, 3])
      expect(r.out).toMatch(
        new RegExp(`64 bytes from 10\\.0\\.0\\.1: icmp_seq=${seq} ttl=64 time=[\\d.]+ ms`),
      );
    expect(r.out).toMatch(/3 packets transmitted, 3 received, 0% packet loss/);
    expect(r6.code).toBe(0);
    const j = JSON.parse(r6.out);
    expect(j).toMatchObject({
      target: "fd00::1",
      source: "fd00::2",
      transmitted: 2,
      received: 2,
      lossPercent: 0,
    });
    expect(j.replies[0]).toMatchObject({ seq: 1, from: "fd00::1", ttl: 64, bytes: 108, isDuplicate: false });
    expect(summary.counters.echoRequestsAnswered).toBe(5);
    // Each ping run is a new process-like endpoint: a fresh handshake each.
    expect(summary.handshakes).toHaveLength(2);
    expect(summary.handshakes[0].role).toBe("responder");
  });

  it("pings IPv4 and IPv6 over the pure-JavaScript paths too (no native addon: node:crypto, node:dgram)", async () => {
    // Separate processes with VNET_NO_NATIVE=1, as on a machine without a compiler: the IPv6
    // reply was once built in place in node:crypto's Buffer and went back to its own sender.
    const bin = join(import.meta.dirname, "../../bin/vnet.js");
    const env = { ...process.env, VNET_NO_NATIVE: "1", VNET_FROM_SOURCE: "1" };
    const lf = file(
      "pure-l.conf",
      `[Interface]\nPrivateKey = ${keyToBase64(privA)}\nAddress = 10.0.0.1/24, fd00::1/64\nListenPort = 0\n[Peer]\nPublicKey = ${keyToBase64(pubB)}\nAllowedIPs = 10.0.0.2/32, fd00::2/128\n`,
    );
    const listener = spawn(process.execPath, [bin, "vpn", "listen", "--config", lf], { env });
    try {
      const port = await new Promise<number>((resolve, reject) => {
        let text = "";
        listener.stdout.on("data", (d: Buffer) => {
          text += d.toString();
          const m = /listening on UDP port (\d+)/.exec(text);
          if (m) resolve(Number(m[1]));
        });
        listener.on("exit", () => reject(new Error(`listener exited: ${text}`)));
      });
      const pf = file(
        "pure-p.conf",
        `[Interface]\nPrivateKey = ${keyToBase64(privB)}\nAddress = 10.0.0.2/24, fd00::2/64\n[Peer]\nPublicKey = ${keyToBase64(pubA)}\nAllowedIPs = 10.0.0.0/24, fd00::/64\nEndpoint = 127.0.0.1:${port}\n`,
      );
      for (const target of ["10.0.0.1", "fd00::1"]) {
        const r = spawnSync(
          process.execPath,
          [bin, "vpn", "ping", "--config", pf, target, "-c", "2", "-i", "0.05", "-s", "100"],
          { env, encoding: "utf8", timeout: 20_000 },
        );
        expect(r.stdout, r.stderr).toMatch(/2 packets transmitted, 2 received, 0% packet loss/);
        expect(r.status).toBe(0);
      }
    } finally {
      listener.kill();
    }
  });
});
