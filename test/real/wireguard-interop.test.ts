/**
 * Real interop between vnet's userspace WireGuard endpoint and wireguard-go, in network namespaces
 * (root only; skipped with one line elsewhere). Each test builds two namespaces joined by a veth
 * pair (underlay 10.99.x.0/24) and a tunnel (10.200.x.0/24) and removes everything afterwards.
 *
 * (a) the kernel's ping (IPv4 and IPv6), through wireguard-go's tun device, pings `vnet vpn listen`;
 * (b) `vnet vpn ping` pings the kernel addresses (IPv4, IPv6) behind wireguard-go, with a preshared key;
 * (c) with REKEY_AFTER_TIME shortened on our side, `vnet vpn ping` rekeys under continuous ping
 *     and loses no reply; wireguard-go follows;
 * (d) `vnet vpn ping` against `vnet vpn listen`, both rekeying every second;
 * (e) `vnet vpn listen` with PersistentKeepalive starts the handshake itself and keeps it alive;
 * (f) ICMP errors from behind wireguard-go reach `vnet vpn ping`, which reports them as ping does;
 * (g) the real `wg` reads our configuration text (setconf) and we read its (showconf): same config.
 */

import { afterAll, describe, expect, it } from "vitest";
import { formatCidr, parseCidr } from "../../src/vpn/allowed-ips.ts";
import { formatEndpoint, parseWgConfig, type WgConfig } from "../../src/vpn/config.ts";
import { keyToBase64 } from "../../src/vpn/keys.ts";
import { keypair, RealLab, realWireguardSkipReason, sh, wgConfig } from "./wireguard-harness.ts";

const skipReason = realWireguardSkipReason();
if (skipReason) process.stderr.write(`wireguard interop tests skipped: ${skipReason}\n`);

describe.skipIf(skipReason !== undefined)(
  "WireGuard interop with wireguard-go (namespaces)",
  { concurrent: true },
  () => {
    const lab = skipReason ? undefined : new RealLab();
    afterAll(async () => {
      await lab?.cleanup();
    });

    it("(a) wireguard-go with the kernel's ping reaches vnet vpn listen", async () => {
      const { nsA, nsB } = lab!.pair({ a: "10.99.1.1", b: "10.99.1.2", prefixLen: 24 });
      const go = keypair();
      const us = keypair();
      await lab!.wireguardGo(
        nsA,
        wgConfig({
          self: go,
          listenPort: 51820,
          peer: {
            publicKey: us.publicKey,
            allowedIps: ["10.200.1.2/32", "fd00:200:1::2/128"],
            endpoint: { host: "10.99.1.2", port: 51821 },
          },
        }),
        ["10.200.1.1/24", "fd00:200:1::1/64"],
      );
      const file = lab!.configFile(
        wgConfig({
          self: us,
          listenPort: 51821,
          addresses: ["10.200.1.2/24", "fd00:200:1::2/64"],
          peer: { publicKey: go.publicKey, allowedIps: ["10.200.1.1/32", "fd00:200:1::1/128"] },
        }),
      );
      const listen = lab!.vnet(nsB, ["vpn", "listen", "--config", file]);
      await listen.waitFor("listening on UDP port 51821");
      const ping = sh("ip", ["netns", "exec", nsA, "ping", "-c", "3", "-i", "0.2", "-W", "3", "10.200.1.2"]);
      expect(ping).toMatch(/3 packets transmitted, 3 received, 0% packet loss/);
      const ping6 = sh("ip", [
        "netns",
        "exec",
        nsA,
        "ping",
        "-6",
        "-c",
        "2",
        "-i",
        "0.2",
        "-W",
        "3",
        "fd00:200:1::2",
      ]);
      expect(ping6).toMatch(/2 packets transmitted, 2 received, 0% packet loss/);
      await listen.waitFor(/handshake with peer \S+ \(responder\) at 10\.99\.1\.1:51820/);
      listen.child.kill("SIGINT");
      expect(await listen.exited).toBe(0);
      expect(listen.stdout()).toMatch(/stopped by SIGINT/);
      expect(listen.stdout()).toMatch(/echo requests answered 5/);
      // No key material in what we printed, except the interface's own public key on purpose.
      expect(listen.stdout()).not.toContain(keyToBase64(us.privateKey));
      const shown = sh("ip", ["netns", "exec", nsA, "wg", "show", "all", "latest-handshakes"]);
      expect(shown).toContain(keyToBase64(us.publicKey));
    });

    it("(b) vnet vpn ping reaches the kernel address behind wireguard-go, with a preshared key", async () => {
      const { nsA, nsB } = lab!.pair({ a: "10.99.2.1", b: "10.99.2.2", prefixLen: 24 });
      const go = keypair();
      const us = keypair();
      const psk = keypair().privateKey;
      await lab!.wireguardGo(
        nsA,
        wgConfig({
          self: go,
          listenPort: 51820,
          peer: {
            publicKey: us.publicKey,
            presharedKey: psk,
            allowedIps: ["10.200.2.2/32", "fd00:200:2::2/128"],
          },
        }),
        ["10.200.2.1/24", "fd00:200:2::1/64"],
      );
      const file = lab!.configFile(
        wgConfig({
          self: us,
          addresses: ["10.200.2.2/24", "fd00:200:2::2/64"],
          peer: {
            publicKey: go.publicKey,
            presharedKey: psk,
            allowedIps: ["10.200.2.0/24", "fd00:200:2::/64"],
            endpoint: { host: "10.99.2.1", port: 51820 },
          },
        }),
      );
      const ping = lab!.vnet(nsB, [
        "vpn",
        "ping",
        "--config",
        file,
        "10.200.2.1",
        "-c",
        "3",
        "-i",
        "0.2",
        "--json",
      ]);
      expect(await ping.exited, ping.stderr()).toBe(0);
      const r = JSON.parse(ping.stdout());
      expect(r.transmitted).toBe(3);
      expect(r.received).toBe(3);
      expect(r.lossPercent).toBe(0);
      expect(r.replies.map((x: { seq: number }) => x.seq)).toEqual([1, 2, 3]);
      expect(r.rttMs.min).toBeGreaterThan(0);
      expect(r.counters.device.peers[0].handshakesCompleted).toBe(1);
      expect(ping.stdout()).not.toContain(keyToBase64(psk));
      const ping6 = lab!.vnet(nsB, [
        "vpn",
        "ping",
        "--config",
        file,
        "fd00:200:2::1",
        "-c",
        "2",
        "-i",
        "0.2",
      ]);
      expect(await ping6.exited, ping6.stderr()).toBe(0);
      expect(ping6.stdout()).toMatch(
        /PING fd00:200:2::1 from fd00:200:2::2 through peer \S+ \(UDP port \d+\): 56 data bytes\./,
      );
      expect(ping6.stdout()).toMatch(/64 bytes from fd00:200:2::1: icmp_seq=2 ttl=64 time=/);
      expect(ping6.stdout()).toMatch(/2 packets transmitted, 2 received, 0% packet loss/);
    });

    it("(b') text output and exit 1 when the peer does not answer", async () => {
      const { nsB } = lab!.pair({ a: "10.99.3.1", b: "10.99.3.2", prefixLen: 24 });
      const us = keypair();
      const file = lab!.configFile(
        wgConfig({
          self: us,
          addresses: ["10.200.3.2/24"],
          peer: {
            publicKey: keypair().publicKey,
            allowedIps: ["10.200.3.0/24"],
            endpoint: { host: "10.99.3.1", port: 51820 },
          },
        }),
      );
      const ping = lab!.vnet(nsB, [
        "vpn",
        "ping",
        "--config",
        file,
        "10.200.3.1",
        "-c",
        "1",
        "--handshake-timeout",
        "1.5",
      ]);
      expect(await ping.exited).toBe(1);
      expect(ping.stdout()).toMatch(/no handshake with peer \S+ within 1\.5 s/);
    });

    it("(c) our side rekeys under continuous ping without losing a reply", async () => {
      const { nsA, nsB } = lab!.pair({ a: "10.99.4.1", b: "10.99.4.2", prefixLen: 24 });
      const go = keypair();
      const us = keypair();
      await lab!.wireguardGo(
        nsA,
        wgConfig({
          self: go,
          listenPort: 51820,
          peer: { publicKey: us.publicKey, allowedIps: ["10.200.4.2/32"] },
        }),
        "10.200.4.1/24",
      );
      const file = lab!.configFile(
        wgConfig({
          self: us,
          addresses: ["10.200.4.2/24"],
          peer: {
            publicKey: go.publicKey,
            allowedIps: ["10.200.4.1/32"],
            endpoint: { host: "10.99.4.1", port: 51820 },
          },
        }),
      );
      // REKEY_AFTER_TIME 1.5 s (and REKEY_TIMEOUT 1 s, which also spaces initiations): over 6 s of
      // pings every 0.1 s, three rekeys after the first handshake.
      const ping = lab!.vnet(
        nsB,
        ["vpn", "ping", "--config", file, "10.200.4.1", "-c", "60", "-i", "0.1", "--json"],
        {
          VNET_WG_REKEY_AFTER_SEC: "1.5",
          VNET_WG_REKEY_TIMEOUT_SEC: "1",
        },
      );
      expect(await ping.exited, ping.stderr()).toBe(0);
      const r = JSON.parse(ping.stdout());
      expect(r.transmitted).toBe(60);
      expect(r.received).toBe(60);
      expect(r.duplicates).toBe(0);
      expect(r.counters.device.peers[0].handshakesCompleted).toBeGreaterThanOrEqual(3);
      expect(r.counters.device.dropsTotal).toBe(0);
    });

    it("(d) vnet vpn ping reaches vnet vpn listen", async () => {
      const { nsA, nsB } = lab!.pair({ a: "10.99.5.1", b: "10.99.5.2", prefixLen: 24 });
      const a = keypair();
      const b = keypair();
      const fileA = lab!.configFile(
        wgConfig({
          self: a,
          listenPort: 51820,
          addresses: ["10.200.5.1/24"],
          peer: { publicKey: b.publicKey, allowedIps: ["10.200.5.2/32"] },
        }),
      );
      const fileB = lab!.configFile(
        wgConfig({
          self: b,
          addresses: ["10.200.5.2/24"],
          peer: {
            publicKey: a.publicKey,
            allowedIps: ["10.200.5.1/32"],
            endpoint: { host: "10.99.5.1", port: 51820 },
          },
        }),
      );
      const fast = { VNET_WG_REKEY_AFTER_SEC: "1", VNET_WG_REKEY_TIMEOUT_SEC: "0.5" };
      const listen = lab!.vnet(nsA, ["vpn", "listen", "--config", fileA, "--json"], fast);
      await listen.waitFor('"event":"listening"');
      const ping = lab!.vnet(
        nsB,
        ["vpn", "ping", "--config", fileB, "10.200.5.1", "-c", "30", "-i", "0.1"],
        fast,
      );
      expect(await ping.exited, ping.stderr()).toBe(0);
      expect(ping.stdout()).toMatch(/30 packets transmitted, 30 received, 0% packet loss/);
      expect(ping.stdout()).toMatch(/rtt min\/avg\/max\/mdev = [\d.]+\/[\d.]+\/[\d.]+\/[\d.]+ ms/);
      listen.child.kill("SIGTERM");
      expect(await listen.exited).toBe(0);
      const lines = listen
        .stdout()
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l));
      // Both sides rekey on a 1 s REKEY_AFTER_TIME over 3 s of pings: the listener sees them all.
      expect(lines.filter((l) => l.event === "handshake").length).toBeGreaterThanOrEqual(3);
      const summary = lines.at(-1);
      expect(summary.event).toBe("summary");
      expect(summary.signal).toBe("SIGTERM");
      expect(summary.counters.echoRequestsAnswered).toBe(30);
      expect(summary.counters.device.dropsTotal).toBe(0);
    });

    it("(e) vnet vpn listen with PersistentKeepalive contacts wireguard-go by itself and keeps it alive", async () => {
      const { nsA, nsB } = lab!.pair({ a: "10.99.6.1", b: "10.99.6.2", prefixLen: 24 });
      const go = keypair();
      const us = keypair();
      await lab!.wireguardGo(
        nsA,
        wgConfig({
          self: go,
          listenPort: 51820,
          peer: { publicKey: us.publicKey, allowedIps: ["10.200.6.2/32"] },
        }),
        "10.200.6.1/24",
      );
      const file = lab!.configFile(
        wgConfig({
          self: us,
          addresses: ["10.200.6.2/24"],
          peer: {
            publicKey: go.publicKey,
            allowedIps: ["10.200.6.1/32"],
            endpoint: { host: "10.99.6.1", port: 51820 },
            keepaliveSec: 1,
          },
        }),
      );
      const listen = lab!.vnet(nsB, ["vpn", "listen", "--config", file, "--duration", "3.5"]);
      await listen.waitFor(/handshake with peer \S+ \(initiator\) at 10\.99\.6\.1:51820/);
      expect(await listen.exited).toBe(0);
      // wireguard-go saw the handshake and about one keepalive a second (32 bytes each).
      const dump = sh("ip", ["netns", "exec", nsA, "wg", "show", "all", "dump"]).trim().split("\n");
      const peerLine = dump.find((l) => l.includes(keyToBase64(us.publicKey)))!.split("\t");
      const [latestHandshake, rxBytes] = [Number(peerLine[5]), Number(peerLine[6])];
      expect(latestHandshake).toBeGreaterThan(0);
      expect(rxBytes).toBeGreaterThanOrEqual(148 + 32 * 2);
      // One initiation and a keepalive about every second after it (no data: 0 packets).
      expect(listen.stdout()).toMatch(/1 handshake\(s\), rx 0 packets\/92 bytes/);
      const txDatagrams = Number(/datagrams rx \d+ tx (\d+)/.exec(listen.stdout())![1]);
      expect(txDatagrams).toBeGreaterThanOrEqual(3);
    });

    it("(f) vnet vpn ping reports the ICMP errors that come back through wireguard-go", async () => {
      const { nsA, nsB } = lab!.pair({ a: "10.99.7.1", b: "10.99.7.2", prefixLen: 24 });
      const go = keypair();
      const us = keypair();
      await lab!.wireguardGo(
        nsA,
        wgConfig({
          self: go,
          listenPort: 51820,
          peer: { publicKey: us.publicKey, allowedIps: ["10.200.7.2/32", "fd00:200:7::2/128"] },
        }),
        ["10.200.7.1/24", "fd00:200:7::1/64"],
      );
      // Behind wireguard-go a router that knows 10.77.0.0/16 is unreachable (RFC 1812 5.2.7.1).
      sh("ip", ["netns", "exec", nsA, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]);
      sh("ip", ["-n", nsA, "route", "add", "unreachable", "10.77.0.0/16"]);
      sh("ip", ["netns", "exec", nsA, "sysctl", "-q", "-w", "net.ipv6.conf.all.forwarding=1"]);
      sh("ip", ["-n", nsA, "-6", "route", "add", "unreachable", "fd77::/16"]);
      const file = lab!.configFile(
        wgConfig({
          self: us,
          addresses: ["10.200.7.2/24", "fd00:200:7::2/64"],
          peer: {
            publicKey: go.publicKey,
            allowedIps: ["10.200.7.0/24", "10.77.0.0/16", "fd00:200:7::/64", "fd77::/16"],
            endpoint: { host: "10.99.7.1", port: 51820 },
          },
        }),
      );
      const ping = lab!.vnet(nsB, ["vpn", "ping", "--config", file, "10.77.0.1", "-c", "2", "-i", "0.2"]);
      expect(await ping.exited).toBe(1);
      expect(ping.stdout()).toMatch(/From 10\.200\.7\.1 icmp_seq=1 Destination Host Unreachable\n/);
      expect(ping.stdout()).toMatch(/2 packets transmitted, 0 received, \+2 errors, 100% packet loss/);
      const ping6 = lab!.vnet(nsB, ["vpn", "ping", "--config", file, "fd77::1", "-c", "1", "--json"]);
      expect(await ping6.exited).toBe(1);
      const r6 = JSON.parse(ping6.stdout());
      expect(r6.errorReports).toEqual([
        {
          seq: 1,
          from: "fd00:200:7::1",
          type: "dest-unreachable",
          code: 0,
          text: "Destination unreachable: No route",
        },
      ]);
    });

    it("(g) wg setconf accepts our configuration text and wg showconf reads back the same", async () => {
      const { nsA } = lab!.pair({ a: "10.99.8.1", b: "10.99.8.2", prefixLen: 24 });
      const self = keypair();
      const peers = [keypair(), keypair(), keypair()];
      const cfg: WgConfig = {
        file: "<generated>",
        notes: [],
        interface: {
          ...wgConfig({ self, listenPort: 51999, peer: { publicKey: peers[0].publicKey, allowedIps: [] } })
            .interface,
        },
        peers: [
          {
            publicKey: peers[0].publicKey,
            presharedKey: keypair().privateKey,
            allowedIps: ["10.1.0.0/16", "10.2.3.4/32", "fd00:1::/48"].map(parseCidr),
            endpoint: { host: "192.0.2.10", port: 51820, family: 4 },
            persistentKeepaliveSec: 25,
            line: 0,
          },
          {
            publicKey: peers[1].publicKey,
            presharedKey: undefined,
            allowedIps: ["0.0.0.0/0", "::/0"].map(parseCidr),
            endpoint: { host: "2001:db8::7", port: 4500, family: 6 },
            persistentKeepaliveSec: 0,
            line: 0,
          },
          {
            publicKey: peers[2].publicKey,
            presharedKey: undefined,
            allowedIps: [],
            endpoint: undefined,
            persistentKeepaliveSec: 0,
            line: 0,
          },
        ],
      };
      const ifname = await lab!.wireguardGo(nsA, cfg, "10.200.8.1/24");
      const shown = parseWgConfig(sh("ip", ["netns", "exec", nsA, "wg", "showconf", ifname]), "showconf");
      expect(keyToBase64(shown.interface.privateKey)).toBe(keyToBase64(self.privateKey));
      expect(shown.interface.listenPort).toBe(51999);
      const norm = (c: WgConfig) =>
        c.peers
          .map((p) => ({
            publicKey: keyToBase64(p.publicKey),
            presharedKey: p.presharedKey ? keyToBase64(p.presharedKey) : undefined,
            allowedIps: p.allowedIps.map(formatCidr).sort(),
            endpoint: p.endpoint ? formatEndpoint(p.endpoint) : undefined,
            keepalive: p.persistentKeepaliveSec,
          }))
          .sort((a, b) => a.publicKey.localeCompare(b.publicKey));
      expect(norm(shown)).toEqual(norm(cfg));
    });
  },
);
