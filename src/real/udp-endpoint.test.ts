/**
 * Tests for the real UDP endpoint's edges (loopback only): start-up failures are typed
 * `EndpointError`s with a clear message (port in use, unresolvable host), test-only timer
 * overrides are read and checked, and the DeviceTimer runs a device's tick when it comes due.
 */

import { createSocket } from "node:dgram";
import { networkInterfaces } from "node:os";
import { describe, expect, it } from "vitest";
import { buildFloodInitiations } from "../../bench/wg-flood.ts";
import { parseWgConfig } from "../vpn/config.ts";
import { generatePrivateKey, keyToBase64, publicKeyOf } from "../vpn/keys.ts";
import { parseIpv6 } from "../wire/addr.ts";
import { DeviceTimer, RealClock } from "./clock.ts";
import {
  EndpointError,
  MAX_PEER_SOCKETS,
  timersFromEnv,
  WgUdpEndpoint,
  type WgUdpEndpointTuning,
} from "./udp-endpoint.ts";

const priv = keyToBase64(generatePrivateKey());
const peer = keyToBase64(publicKeyOf(generatePrivateKey()));

describe("WgUdpEndpoint", () => {
  it("uses the resolver for an Endpoint host name", async () => {
    const cfg = parseWgConfig(
      `[Interface]\nPrivateKey = ${priv}\n[Peer]\nPublicKey = ${peer}\nEndpoint = vpn.example.test:51820\n`,
    );
    const asked: string[] = [];
    const ep = await WgUdpEndpoint.open({
      config: cfg,
      bindAddress: "127.0.0.1",
      resolve: async (h) => {
        asked.push(h);
        return "127.0.0.1";
      },
    });
    expect(asked).toEqual(["vpn.example.test"]);
    expect(ep.peers[0].endpoint).toEqual({ address: "127.0.0.1", port: 51820 });
    await ep.close();
  });

  it("binds, reports its port, and closes", async () => {
    const ep = await WgUdpEndpoint.open({
      config: parseWgConfig(
        `[Interface]\nPrivateKey = ${priv}\n[Peer]\nPublicKey = ${peer}\nAllowedIPs = 10.0.0.2/32\n`,
      ),
      bindAddress: "127.0.0.1",
    });
    expect(ep.port).toBeGreaterThan(0);
    expect(ep.peers).toHaveLength(1);
    expect(ep.counters().peers[0].hasCurrentKeypair).toBe(false);
    await ep.close();
    await ep.close(); // idempotent
  });

  it("says so when the ListenPort is taken", async () => {
    const s = createSocket("udp4");
    await new Promise<void>((r) => s.bind(0, "127.0.0.1", r));
    const port = s.address().port;
    try {
      await expect(
        WgUdpEndpoint.open({
          config: parseWgConfig(`[Interface]\nPrivateKey = ${priv}\nListenPort = ${port}\n`),
          bindAddress: "127.0.0.1",
        }),
      ).rejects.toThrow(new EndpointError(`UDP port ${port} is already in use (udp4)`));
    } finally {
      s.close();
    }
  });

  it("names the file and line of an Endpoint host it cannot resolve", async () => {
    const cfg = parseWgConfig(
      `[Interface]\nPrivateKey = ${priv}\n\n[Peer]\nPublicKey = ${peer}\nEndpoint = no-such-host.invalid:51820\n`,
      "wg0.conf",
    );
    // A resolver that fails as the system one does for this name, without asking any network.
    const resolve = async (host: string): Promise<string> => {
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: "ENOTFOUND" });
    };
    await expect(WgUdpEndpoint.open({ config: cfg, bindAddress: "127.0.0.1", resolve })).rejects.toThrow(
      'wg0.conf:4: cannot resolve Endpoint host "no-such-host.invalid"',
    );
  });
});

/** Two endpoints on IPv4 loopback, b without an Endpoint for a (learned from the handshake). */
async function loopbackPair(tuningB: WgUdpEndpointTuning = {}, ka = generatePrivateKey()) {
  const kb = generatePrivateKey();
  const delivered: Uint8Array[] = [];
  const b = await WgUdpEndpoint.open({
    ...tuningB,
    config: parseWgConfig(
      `[Interface]\nPrivateKey = ${keyToBase64(kb)}\n[Peer]\nPublicKey = ${keyToBase64(publicKeyOf(ka))}\nAllowedIPs = 10.0.0.1/32\n`,
    ),
    bindAddress: "127.0.0.1",
    onPacket: (ip) => delivered.push(Uint8Array.from(ip)),
  });
  const a = await WgUdpEndpoint.open({
    config: parseWgConfig(
      `[Interface]\nPrivateKey = ${keyToBase64(ka)}\n[Peer]\nPublicKey = ${keyToBase64(publicKeyOf(kb))}\nAllowedIPs = 10.0.0.2/32\nEndpoint = 127.0.0.1:${b.port}\n`,
    ),
    bindAddress: "127.0.0.1",
  });
  return { a, b, kb, delivered };
}

/** An IPv4 header (no payload) from 10.0.0.1 to 10.0.0.2 with `id` in its identification field. */
function ipv4Packet(id: number): Uint8Array {
  const p = new Uint8Array(20);
  p[0] = 0x45;
  p[3] = 20;
  p[4] = id >>> 8;
  p[5] = id & 0xff;
  p[8] = 64;
  p[9] = 253;
  p.set([10, 0, 0, 1], 12);
  p.set([10, 0, 0, 2], 16);
  return p;
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!cond()) throw new Error(`timed out waiting for ${what}`);
}

describe("WgUdpEndpoint under a handshake flood (loopback)", () => {
  it("opens a peer socket for a learned endpoint, and the peer's data arrives on it", async () => {
    const { a, b, delivered } = await loopbackPair();
    try {
      await until(() => a.counters().peerSockets === 1, "a's peer socket (configured Endpoint)");
      expect(b.counters().peerSockets).toBe(0); // not known yet
      expect(a.sendPacket(ipv4Packet(1))).toBe("queued");
      await until(() => delivered.length === 1 && b.counters().peerSockets === 1, "the first packet");
      expect(a.sendPacket(ipv4Packet(2))).toBe("sent");
      await until(() => delivered.length === 2, "the second packet");
      const c = b.counters();
      expect(c.peerSocketDatagrams).toBeGreaterThanOrEqual(1);
      expect(c.peerSocketErrors).toBe(0);
      expect(c.recvBufferBytes).toBeGreaterThan(0);
      expect(c.queuedHandshakes).toBe(0);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("keeps delivering data while a flood of initiations waits, and counts what it pushes out", async () => {
    const { a, b, kb, delivered } = await loopbackPair({ maxQueuedHandshakes: 64 });
    const flooder = createSocket("udp4");
    try {
      a.sendPacket(ipv4Packet(1));
      await until(() => delivered.length === 1 && b.counters().peerSockets === 1, "the tunnel");
      await new Promise<void>((r) => flooder.connect(b.port, "127.0.0.1", r));
      const before = b.counters();
      const pool = buildFloodInitiations(publicKeyOf(kb), 16);
      for (let i = 0; i < 2000; i++) flooder.send(pool[i % pool.length]);
      for (let i = 2; i <= 5; i++) a.sendPacket(ipv4Packet(i));
      await until(() => delivered.length === 5, "the data behind the flood");
      await until(() => b.counters().queuedHandshakes === 0, "the queue to drain");
      // Nothing of the flood still on its way (loopback may deliver late on a busy machine).
      let seen = -1;
      await until(() => {
        const now = b.counters();
        const isStill = now.rxDatagrams === seen && now.queuedHandshakes === 0;
        seen = now.rxDatagrams;
        return isStill;
      }, "the flood to end");
      const c = b.counters();
      // Whatever the kernel let through: each was queued, then processed or pushed out (counted).
      const flood = c.rxDatagrams - before.rxDatagrams - (c.peerSocketDatagrams - before.peerSocketDatagrams);
      expect(flood).toBeGreaterThan(0);
      const processed = c.cookieRepliesSent + (c.drops["unknown-peer"] ?? 0) + (c.drops["bad-mac1"] ?? 0);
      expect(processed + (c.drops["handshake-queue-full"] ?? 0)).toBe(flood);
      expect(c.cookieRepliesSent).toBeGreaterThan(0); // an eighth of the queue waiting: under load
    } finally {
      flooder.close();
      await a.close();
      await b.close();
    }
  });

  it("a peer that roams gets a new peer socket; the old one is closed", async () => {
    const ka = generatePrivateKey();
    const { a, b, kb, delivered } = await loopbackPair({}, ka);
    let a2: WgUdpEndpoint | undefined;
    try {
      a.sendPacket(ipv4Packet(1));
      await until(() => delivered.length === 1 && b.counters().peerSockets === 1, "the tunnel");
      await a.close();
      // b consumes at most one initiation per peer per 20 ms (initiation-flood): let that pass.
      await new Promise((r) => setTimeout(r, 50));
      // The same key from another port: b follows it (roaming) and moves its peer socket.
      a2 = await WgUdpEndpoint.open({
        config: parseWgConfig(
          `[Interface]\nPrivateKey = ${keyToBase64(ka)}\n[Peer]\nPublicKey = ${keyToBase64(publicKeyOf(kb))}\nAllowedIPs = 10.0.0.2/32\nEndpoint = 127.0.0.1:${b.port}\n`,
        ),
        bindAddress: "127.0.0.1",
      });
      a2.sendPacket(ipv4Packet(2));
      await until(() => delivered.length === 2, "the packet from the new port");
      expect(b.peers[0].endpoint).toEqual({ address: "127.0.0.1", port: a2.port });
      await until(() => b.counters().peerSockets === 1, "one peer socket");
      const before = b.counters().peerSocketDatagrams;
      a2.sendPacket(ipv4Packet(3));
      await until(() => delivered.length === 3, "the third packet");
      expect(b.counters().peerSocketDatagrams).toBeGreaterThan(before);
    } finally {
      await a.close();
      await a2?.close();
      await b.close();
    }
  });

  it("opens at most MAX_PEER_SOCKETS peer sockets", async () => {
    const peers = Array.from(
      { length: MAX_PEER_SOCKETS + 2 },
      (_, i) =>
        `[Peer]\nPublicKey = ${keyToBase64(publicKeyOf(generatePrivateKey()))}\nAllowedIPs = 10.9.${i >> 8}.${i & 255}/32\nEndpoint = 127.0.0.1:${20000 + i}\n`,
    ).join("");
    const ep = await WgUdpEndpoint.open({
      config: parseWgConfig(`[Interface]\nPrivateKey = ${priv}\n${peers}`),
      bindAddress: "127.0.0.1",
    });
    try {
      await until(() => ep.counters().peerSockets === MAX_PEER_SOCKETS, "the peer sockets");
      await new Promise((r) => setTimeout(r, 50));
      expect(ep.counters()).toMatchObject({ peerSockets: MAX_PEER_SOCKETS, peerSocketErrors: 0 });
    } finally {
      await ep.close();
    }
  });

  it("works as before with inline handshakes and no peer sockets", async () => {
    const { a, b, delivered } = await loopbackPair({
      handshakeProcessing: "inline",
      hasPeerSockets: false,
      recvBufferBytes: 0,
    });
    try {
      a.sendPacket(ipv4Packet(1));
      await until(() => delivered.length === 1, "the first packet");
      expect(b.counters()).toMatchObject({ peerSockets: 0, peerSocketDatagrams: 0, queuedHandshakes: 0 });
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("two endpoints cannot share a ListenPort, although ours allow peer sockets on it", async () => {
    const first = await WgUdpEndpoint.open({
      config: parseWgConfig(`[Interface]\nPrivateKey = ${priv}\n`),
      bindAddress: "127.0.0.1",
    });
    try {
      await expect(
        WgUdpEndpoint.open({
          config: parseWgConfig(`[Interface]\nPrivateKey = ${priv}\nListenPort = ${first.port}\n`),
          bindAddress: "127.0.0.1",
        }),
      ).rejects.toThrow(new EndpointError(`UDP port ${first.port} is already in use (udp4)`));
    } finally {
      await first.close();
    }
  });

  it("refuses a handshake budget that is not positive", async () => {
    await expect(
      WgUdpEndpoint.open({
        config: parseWgConfig(`[Interface]\nPrivateKey = ${priv}\n`),
        bindAddress: "127.0.0.1",
        handshakeBudgetNs: 0,
      }),
    ).rejects.toThrow(/handshake budget must be positive/);
  });
});

describe("WgUdpEndpoint over IPv6", () => {
  const hasV6Loopback = (() => {
    try {
      return networkInterfaces().lo?.some((a) => a.family === "IPv6" && a.address === "::1") ?? false;
    } catch {
      return false;
    }
  })();

  it.skipIf(!hasV6Loopback)("completes a handshake and carries a packet over [::1]", async () => {
    const ka = generatePrivateKey();
    const kb = generatePrivateKey();
    const delivered: Uint8Array[] = [];
    const b = await WgUdpEndpoint.open({
      config: parseWgConfig(
        `[Interface]\nPrivateKey = ${keyToBase64(kb)}\n[Peer]\nPublicKey = ${keyToBase64(publicKeyOf(ka))}\nAllowedIPs = fd00::1/128\n`,
      ),
      bindAddress: "::1",
      onPacket: (ip) => delivered.push(Uint8Array.from(ip)),
    });
    const a = await WgUdpEndpoint.open({
      config: parseWgConfig(
        `[Interface]\nPrivateKey = ${keyToBase64(ka)}\n[Peer]\nPublicKey = ${keyToBase64(publicKeyOf(kb))}\nAllowedIPs = fd00::2/128\nEndpoint = [::1]:${b.port}\n`,
      ),
      bindAddress: "::1",
    });
    try {
      // An IPv6 header (no payload) from fd00::1 to fd00::2: queued, handshake, then delivered.
      const p = new Uint8Array(40);
      p[0] = 0x60;
      p[6] = 59; // no next header
      p[7] = 64;
      p.set(parseIpv6("fd00::1"), 8);
      p.set(parseIpv6("fd00::2"), 24);
      expect(a.sendPacket(p)).toBe("queued");
      for (let i = 0; i < 200 && delivered.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
      expect(delivered).toHaveLength(1);
      expect(Array.from(delivered[0])).toEqual(Array.from(p));
      expect(b.peers[0].endpoint).toEqual({ address: "::1", port: a.port });
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe("timersFromEnv", () => {
  it("reads decimal seconds into nanoseconds and refuses nonsense", () => {
    expect(timersFromEnv({})).toEqual({});
    expect(timersFromEnv({ VNET_WG_REKEY_AFTER_SEC: "1.5", VNET_WG_REKEY_TIMEOUT_SEC: "0.5" })).toEqual({
      rekeyAfterTimeNs: 1_500_000_000,
      rekeyTimeoutNs: 500_000_000,
    });
    expect(timersFromEnv({ VNET_WG_REJECT_AFTER_SEC: "3", VNET_WG_KEEPALIVE_SEC: "2" })).toEqual({
      rejectAfterTimeNs: 3e9,
      keepaliveTimeoutNs: 2e9,
    });
    expect(() => timersFromEnv({ VNET_WG_REKEY_AFTER_SEC: "soon" })).toThrow(EndpointError);
    expect(() => timersFromEnv({ VNET_WG_REKEY_AFTER_SEC: "-1" })).toThrow(/positive number of seconds/);
  });
});

describe("DeviceTimer", () => {
  it("ticks when the device's next timer comes due, and re-arms for the next", async () => {
    const clock = new RealClock();
    const dueTimes = [clock.nowNs() + 20e6, clock.nowNs() + 40e6];
    const ticks: number[] = [];
    let fired: () => void = () => {};
    const done = new Promise<void>((r) => {
      fired = r;
    });
    const timer = new DeviceTimer(
      clock,
      () => dueTimes[0],
      (now) => {
        while (dueTimes.length > 0 && dueTimes[0] <= now) ticks.push(dueTimes.shift()!);
        if (dueTimes.length === 0) fired();
      },
    );
    timer.rearm();
    timer.rearm(); // no second Node timer for the same due time
    await done;
    timer.close();
    expect(ticks).toHaveLength(2);
    expect(clock.nowNs()).toBeGreaterThanOrEqual(ticks[1]);
  });
});
