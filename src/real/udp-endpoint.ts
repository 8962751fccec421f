/**
 * A real WireGuard endpoint without root: the pure engine (`src/vpn/engine.ts`) driven by UDP
 * sockets (`udp-socket.ts`: batched recvmmsg/sendmmsg through vnet's native addon on Linux,
 * node:dgram otherwise), the real monotonic clock and one Node timer. There is no tun device: the
 * plaintext side is the caller's, which hands IP packets to `sendPacket` and gets decrypted ones
 * through `onPacket`. The CLI (`vnet vpn ping`/`listen`) puts a tiny ICMP host there
 * (`icmp-host.ts`); wireguard-go on the other side cannot tell the difference.
 *
 * Sockets: one udp4 socket on ListenPort (any free port when absent), and a udp6 socket
 * (IPv6-only) on the same port when the host has IPv6, as wireguard-go binds both. Peer
 * endpoints given as host names are resolved once at start (wg resolves them once too).
 *
 * Under a handshake flood the tunnel's data comes first: the device runs in its "queued" mode,
 * so a socket message is only classified (transport data and cookie replies are processed at
 * once, handshake messages go to the device's bounded queue), and the queue is drained on
 * `setImmediate` for at most `handshakeBudgetNs` per turn of the event loop. Between turns Node
 * reads the sockets again (libuv reads up to 32 datagrams per socket per turn), so the data
 * behind a burst of initiations waits for a turn, not for every initiation's Diffie-Hellman or
 * cookie reply. A large socket receive buffer (`recvBufferBytes`) absorbs what arrives while a
 * turn runs (and garbage-collection pauses) instead of the kernel dropping it.
 *
 * The kernel's receive buffer is still one queue for everyone: a flood faster than Node reads a
 * socket (about 100-140k datagrams/s on one core of the reference machine, whatever is done with
 * them) overflows it, and the kernel drops the peer's data along with the flood. So on Linux,
 * each peer endpoint also gets a *peer socket*: a udp socket bound to the same port
 * (SO_REUSEADDR on all of ours) and connected to that endpoint, which the kernel prefers for
 * datagrams from exactly that address and port. A peer's traffic then has its own buffer that a
 * flood from elsewhere cannot fill; everything else (new peers, roaming, the flood) arrives on the
 * listening socket as before. Peer sockets follow the endpoints (roaming closes the old one). A
 * probe bind without SO_REUSEADDR first keeps "port already in use" true against other programs
 * and other vnet endpoints alike.
 *
 * Speed (BENCHMARKS.md, "VPN"): the transport AEAD is the native one when the addon loads
 * (`crypto-native.ts`), and received datagrams are decrypted in place (the device's
 * `isReceivedDatagramWritable`): with native I/O nothing is allocated per received packet, and a
 * packet handed to `onPacket` is a view into the receive slot, valid during the call.
 */

import { randomFillSync } from "node:crypto";
import { lookup } from "node:dns/promises";
import { formatCidr } from "../vpn/allowed-ips.ts";
import type { WgConfig } from "../vpn/config.ts";
import type { WgCrypto } from "../vpn/crypto.ts";
import { WgDevice } from "../vpn/engine.ts";
import type {
  WgDeviceCounters,
  WgEndpoint,
  WgEvent,
  WgHandshakeProcessing,
  WgPeerInfo,
  WgSendOutcome,
  WgTimerConfig,
} from "../vpn/engine-api.ts";
import { shortKey } from "../vpn/keys.ts";
import { DeviceTimer, RealClock } from "./clock.ts";
import { bestNodeCrypto } from "./crypto-native.ts";
import {
  bestUdpIo,
  NativeUdpShared,
  openUdpSocket,
  type UdpIo,
  type UdpSocket,
  UdpSocketError,
  type UdpSocketOptions,
} from "./udp-socket.ts";

export interface WgUdpEndpointOptions {
  readonly config: WgConfig;
  /** Default the native AEAD when vnet's addon loads (`bestNodeCrypto`), else node:crypto. */
  readonly crypto?: WgCrypto;
  /** Shortened protocol timers (tests; see `timersFromEnv`). */
  readonly timers?: Partial<WgTimerConfig>;
  /** Address the sockets bind to (default all: 0.0.0.0 and ::). */
  readonly bindAddress?: string;
  readonly onEvent?: (event: WgEvent, nowNs: number) => void;
  /**
   * A decrypted, authenticated IP packet from `peer`: a view into the endpoint's receive buffer,
   * valid during the call (copy it to keep it).
   */
  readonly onPacket?: (ipPacket: Uint8Array, peer: WgPeerInfo, nowNs: number) => void;
  /** Resolves an Endpoint host name to an address (default: the system resolver, dns.lookup). */
  readonly resolve?: (host: string) => Promise<string>;
  /** A socket error after start (the endpoint keeps running; the caller decides). */
  readonly onSocketError?: (error: Error) => void;
  /**
   * Time spent on queued handshake messages per turn of the event loop (default 50 µs): the
   * larger, the more handshakes a flood gets answered (cookie replies), the smaller, the sooner
   * the sockets are read again.
   */
  readonly handshakeBudgetNs?: number;
  /** Handshake messages waiting at most (default 1024; the oldest is dropped and counted). */
  readonly maxQueuedHandshakes?: number;
  /**
   * Socket receive buffer asked of the kernel per socket (default 4 MiB; Linux caps it at
   * net.core.rmem_max and reports double). 0: the system default.
   */
  readonly recvBufferBytes?: number;
  /**
   * A connected socket per peer endpoint (see above), at most MAX_PEER_SOCKETS. Default: on
   * Linux, where the kernel prefers it.
   */
  readonly hasPeerSockets?: boolean;
  /**
   * The device's handshake processing (engine-api.ts). Default "queued"; "inline" (every
   * handshake message processed in the socket's callback) is how the endpoint worked before the
   * queue, kept for the side-by-side benchmark (`bench/wg-flood.bench.ts`).
   */
  readonly handshakeProcessing?: WgHandshakeProcessing;
  /**
   * Socket I/O: "native" (batched recvmmsg/sendmmsg, vnet's addon, Linux) or "dgram"
   * (node:dgram). Default native when the addon loads (`bestUdpIo`).
   */
  readonly udpIo?: UdpIo;
}

/** The endpoint's knobs for traffic under attack, as the tunnel host and benchmarks pass them on. */
export type WgUdpEndpointTuning = Pick<
  WgUdpEndpointOptions,
  | "handshakeBudgetNs"
  | "maxQueuedHandshakes"
  | "recvBufferBytes"
  | "hasPeerSockets"
  | "handshakeProcessing"
  | "udpIo"
>;

/** What the endpoint counts besides the device's counters. */
export interface WgUdpEndpointCounters {
  socketSendErrors: number;
  /** What the kernel granted the listening socket (Linux reports double what was asked). */
  recvBufferBytes: number;
  /** Peer sockets open now. */
  peerSockets: number;
  peerSocketDatagrams: number;
  peerSocketErrors: number;
  /** Datagrams longer than a native receive slot (9,216 bytes), refused. */
  truncatedDatagrams: number;
}

/** See `WgUdpEndpointOptions.handshakeBudgetNs`. */
export const DEFAULT_HANDSHAKE_BUDGET_NS = 50_000;
/** Peer sockets open at most (the first peers in configuration order get them). */
export const MAX_PEER_SOCKETS = 256;
/** See `WgUdpEndpointOptions.recvBufferBytes`. */
export const DEFAULT_RECV_BUFFER_BYTES = 4 * 1024 * 1024;

/** Failure to bring the endpoint up (port in use, unresolvable endpoint): the user's to fix. */
export class EndpointError extends Error {
  override readonly name = "EndpointError";
}

export class WgUdpEndpoint {
  readonly clock = new RealClock();
  readonly device: WgDevice;
  readonly peers: WgPeerInfo[] = [];
  private readonly timer: DeviceTimer;
  /** "native" or "dgram" (`udp-socket.ts`). */
  readonly udpIo: UdpIo;
  private readonly nativeShared = new NativeUdpShared();
  private sock4: UdpSocket | undefined;
  private sock6: UdpSocket | undefined;
  private isClosed = false;
  private isDrainScheduled = false;
  private readonly handshakeBudgetNs: number;
  private readonly hasPeerSockets: boolean;
  private recvBufferBytes = 0;
  /** Connected sockets by peer endpoint ("address|port"); "opening" while bind/connect run. */
  private readonly peerSockets = new Map<string, UdpSocket | "opening">();
  /** Socket errors after start, in practice datagrams the kernel refused to send (counted, never silent). */
  sendErrors = 0;
  /** Datagrams that arrived on a peer socket (the rest arrived on the listening sockets). */
  peerSocketDatagrams = 0;
  /** Peer sockets that could not be opened, and errors on open ones (an unreachable peer's ICMP). */
  peerSocketErrors = 0;

  private constructor(private readonly opts: WgUdpEndpointOptions) {
    const { config } = opts;
    this.udpIo = opts.udpIo ?? bestUdpIo();
    this.device = new WgDevice({
      privateKey: config.interface.privateKey,
      crypto: opts.crypto ?? bestNodeCrypto(),
      randomBytes: (out) => {
        randomFillSync(out);
      },
      sendDatagram: (bytes, to) => this.sendDatagram(bytes, to),
      deliverPacket: (ip, peer) => opts.onPacket?.(ip, peer, this.clock.nowNs()),
      onEvent: (e) => {
        if (e.type === "endpoint-changed") this.syncPeerSockets();
        if (opts.onEvent) opts.onEvent(e, this.clock.nowNs());
      },
      timers: opts.timers,
      unixEpochOffsetNs: this.clock.unixEpochOffsetNs,
      mtu: config.interface.mtu,
      handshakeProcessing: opts.handshakeProcessing ?? "queued",
      maxQueuedHandshakes: opts.maxQueuedHandshakes,
      // Both kinds of socket hand over bytes that are ours (a slot, or a fresh Buffer).
      isReceivedDatagramWritable: true,
      // Native sockets copy a datagram into their send batch at once; dgram keeps it until sent.
      isSentDatagramCopied: this.udpIo === "native",
    });
    this.hasPeerSockets = opts.hasPeerSockets ?? process.platform === "linux";
    this.handshakeBudgetNs = opts.handshakeBudgetNs ?? DEFAULT_HANDSHAKE_BUDGET_NS;
    if (!(this.handshakeBudgetNs > 0))
      throw new EndpointError(`the handshake budget must be positive, got ${this.handshakeBudgetNs} ns`);
    this.timer = new DeviceTimer(
      this.clock,
      () => this.device.nextTimerNs(),
      (now) => this.device.tick(now),
    );
  }

  /** Binds the sockets, resolves peer endpoints and adds the peers. */
  static async open(opts: WgUdpEndpointOptions): Promise<WgUdpEndpoint> {
    const ep = new WgUdpEndpoint(opts);
    try {
      await ep.start();
    } catch (e) {
      await ep.close();
      throw e;
    }
    return ep;
  }

  private async start(): Promise<void> {
    const { config } = this.opts;
    const endpoints: (WgEndpoint | undefined)[] = [];
    for (const p of config.peers) {
      if (!p.endpoint) {
        endpoints.push(undefined);
        continue;
      }
      let address = p.endpoint.host;
      if (p.endpoint.family === undefined) {
        try {
          address = this.opts.resolve
            ? await this.opts.resolve(p.endpoint.host)
            : (await lookup(p.endpoint.host)).address;
        } catch {
          throw new EndpointError(
            `${config.file}:${p.line}: cannot resolve Endpoint host "${p.endpoint.host}"`,
          );
        }
      }
      endpoints.push({ address, port: p.endpoint.port });
    }

    const bind = this.opts.bindAddress;
    const isV6Bind = bind?.includes(":") ?? false;
    const recvBufferBytes = this.opts.recvBufferBytes ?? DEFAULT_RECV_BUFFER_BYTES;
    this.recvBufferBytes = recvBufferBytes;
    const isShared = this.hasPeerSockets;
    const listening = {
      recvBufferBytes,
      onDatagram: this.onMessage,
      onError: (err: Error) => {
        this.sendErrors++;
        this.opts.onSocketError?.(err);
      },
    };
    if (!isV6Bind)
      this.sock4 = await this.bindSocket(
        4,
        config.interface.listenPort ?? 0,
        bind ?? "0.0.0.0",
        listening,
        isShared,
      );
    const port = this.sock4?.port ?? config.interface.listenPort ?? 0;
    if (isV6Bind || bind === undefined) {
      try {
        this.sock6 = await this.bindSocket(6, port, bind ?? "::", listening, isShared);
      } catch (e) {
        // No IPv6 on this host (or only the v4 side was asked for): run IPv4-only, as documented.
        if (isV6Bind) throw e;
      }
    }

    config.peers.forEach((p, i) => {
      const info = this.device.addPeer({
        publicKey: p.publicKey,
        presharedKey: p.presharedKey,
        allowedIps: p.allowedIps.map(formatCidr),
        endpoint: endpoints[i],
        persistentKeepaliveSec: p.persistentKeepaliveSec,
        name: shortKey(p.publicKey),
      });
      this.peers.push(info);
    });
    this.syncPeerSockets();
    // Persistent keepalives start as soon as the interface is up.
    this.timer.rearm();
  }

  private readonly onMessage = (msg: Uint8Array, from: WgEndpoint): void => {
    if (this.isClosed) return;
    const outcome = this.device.receiveDatagram(msg, from, this.clock.nowNs());
    // A queued handshake changes no timer until it is processed: no rearm per flood message.
    if (outcome === "handshake-queued") this.scheduleHandshakes();
    else this.timer.rearm();
  };

  private readonly onPeerSocketMessage = (msg: Uint8Array, from: WgEndpoint): void => {
    this.peerSocketDatagrams++;
    this.onMessage(msg, from);
  };

  /** Opens a peer socket for every peer endpoint that lacks one, closes those no peer uses. */
  private syncPeerSockets(): void {
    if (!this.hasPeerSockets || this.isClosed) return;
    const wanted = new Map<string, WgEndpoint>();
    for (const p of this.peers) {
      const e = p.endpoint;
      if (e && (e.address.includes(":") ? this.sock6 : this.sock4)) wanted.set(`${e.address}|${e.port}`, e);
    }
    for (const [key, s] of this.peerSockets) {
      if (wanted.has(key)) continue;
      this.peerSockets.delete(key);
      if (s !== "opening") void s.close();
    }
    for (const [key, e] of wanted) {
      if (this.peerSockets.has(key)) continue;
      // A file descriptor each: past the cap, a peer is served by the listening socket alone.
      if (this.peerSockets.size >= MAX_PEER_SOCKETS) break;
      this.peerSockets.set(key, "opening");
      void this.openPeerSocket(key, e);
    }
  }

  private async openPeerSocket(key: string, to: WgEndpoint): Promise<void> {
    const family = to.address.includes(":") ? 6 : 4;
    let s: UdpSocket;
    try {
      s = await openUdpSocket(
        this.udpIo,
        {
          family,
          address: this.opts.bindAddress ?? (family === 6 ? "::" : "0.0.0.0"),
          port: this.port,
          isReusable: true,
          recvBufferBytes: this.recvBufferBytes,
          connectTo: to,
          onDatagram: this.onPeerSocketMessage,
          onError: () => {
            this.peerSocketErrors++;
          },
        },
        this.nativeShared,
      );
    } catch {
      // The listening socket still receives this peer.
      this.peerSocketErrors++;
      if (this.peerSockets.get(key) === "opening") this.peerSockets.delete(key);
      return;
    }
    if (this.isClosed || this.peerSockets.get(key) !== "opening") {
      void s.close(); // closed, or the peer roamed away meanwhile
      return;
    }
    this.peerSockets.set(key, s);
  }

  /** The UDP port the endpoint listens on. */
  get port(): number {
    return (this.sock4 ?? this.sock6)?.port ?? 0;
  }

  nowNs(): number {
    return this.clock.nowNs();
  }

  /** A plaintext IP packet into the tunnel (routed by allowed IPs, encrypted, sent or queued). */
  sendPacket(ipPacket: Uint8Array): WgSendOutcome {
    const outcome = this.device.sendPacket(ipPacket, this.clock.nowNs());
    this.timer.rearm();
    return outcome;
  }

  /** Starts a handshake with `peer` now, without waiting for traffic. */
  initiateHandshake(peer: WgPeerInfo): void {
    this.device.initiateHandshake(peer, this.clock.nowNs());
    this.timer.rearm();
  }

  counters(): WgDeviceCounters & WgUdpEndpointCounters {
    const recvBufferBytes = (this.sock4 ?? this.sock6)?.recvBufferBytes() ?? 0;
    let peerSockets = 0;
    for (const s of this.peerSockets.values()) if (s !== "opening") peerSockets++;
    return {
      ...this.device.counters(),
      socketSendErrors: this.sendErrors,
      recvBufferBytes,
      peerSockets,
      peerSocketDatagrams: this.peerSocketDatagrams,
      peerSocketErrors: this.peerSocketErrors,
      truncatedDatagrams: this.nativeShared.truncatedDatagrams,
    };
  }

  private scheduleHandshakes(): void {
    if (this.isDrainScheduled) return;
    this.isDrainScheduled = true;
    setImmediate(this.processHandshakes);
  }

  /**
   * One turn's share of the queued handshakes: one message at a time until the budget is spent
   * (a cookie reply costs tens of µs, a full handshake about a millisecond), then the event loop
   * reads the sockets again before the next turn.
   */
  private readonly processHandshakes = (): void => {
    this.isDrainScheduled = false;
    if (this.isClosed) return;
    let nowNs = this.clock.nowNs();
    const endNs = nowNs + this.handshakeBudgetNs;
    while (this.device.processHandshakes(nowNs, 1) > 0) {
      nowNs = this.clock.nowNs();
      if (nowNs >= endNs) break;
    }
    this.timer.rearm();
    if (this.device.queuedHandshakes() > 0) this.scheduleHandshakes();
  };

  private sendDatagram(bytes: Uint8Array, to: WgEndpoint): void {
    if (this.isClosed) return;
    const sock = to.address.includes(":") ? this.sock6 : this.sock4;
    if (!sock) {
      this.sendErrors++;
      return;
    }
    sock.send(bytes, to);
  }

  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    this.timer.close();
    const peerSockets = [...this.peerSockets.values()].filter((s): s is UdpSocket => s !== "opening");
    this.peerSockets.clear();
    await Promise.all([this.sock4, this.sock6, ...peerSockets].map((s) => s?.close()));
  }

  /** Binds a listening socket; `isShared`: with SO_REUSEADDR, after a probe that it is free. */
  private async bindSocket(
    family: 4 | 6,
    port: number,
    address: string,
    handlers: Pick<UdpSocketOptions, "recvBufferBytes" | "onDatagram" | "onError">,
    isShared: boolean,
  ): Promise<UdpSocket> {
    const open = (p: number, isReusable: boolean, recvBufferBytes: number, isProbe = false) =>
      openUdpSocket(
        this.udpIo,
        {
          ...handlers,
          family,
          address,
          port: p,
          isReusable,
          recvBufferBytes,
          ...(isProbe ? { onDatagram: () => {} } : {}),
        },
        this.nativeShared,
      ).catch((e: unknown) => {
        const code = e instanceof UdpSocketError ? e.code : "EUNKNOWN";
        const type = family === 4 ? "udp4" : "udp6";
        throw new EndpointError(
          code === "EADDRINUSE"
            ? `UDP port ${p} is already in use (${type})`
            : `cannot bind ${type} ${address}:${p}: ${code}`,
        );
      });
    if (!isShared) return open(port, false, handlers.recvBufferBytes);
    // SO_REUSEADDR would let us share the port with any other socket that sets it (another vnet
    // endpoint): a plain bind first says whether the port is really free (and picks one for 0).
    const probe = await open(port, false, 0, true);
    const freePort = probe.port;
    await probe.close();
    return open(freePort, true, handlers.recvBufferBytes);
  }
}

/**
 * Test-only protocol timer overrides from the environment, so that a real test can watch a rekey
 * in seconds instead of minutes: `VNET_WG_REKEY_AFTER_SEC`, `VNET_WG_REJECT_AFTER_SEC`,
 * `VNET_WG_KEEPALIVE_SEC`, `VNET_WG_REKEY_TIMEOUT_SEC` (decimal seconds). Not documented for users:
 * a shortened timer does not interoperate with the timing a normal WireGuard peer expects.
 */
export function timersFromEnv(env: NodeJS.ProcessEnv = process.env): Partial<WgTimerConfig> {
  const t: Partial<WgTimerConfig> = {};
  const read = (name: string): number | undefined => {
    const v = env[name];
    if (v === undefined || v === "") return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0)
      throw new EndpointError(`${name} must be a positive number of seconds`);
    return Math.round(n * 1e9);
  };
  const rekey = read("VNET_WG_REKEY_AFTER_SEC");
  if (rekey !== undefined) t.rekeyAfterTimeNs = rekey;
  const reject = read("VNET_WG_REJECT_AFTER_SEC");
  if (reject !== undefined) t.rejectAfterTimeNs = reject;
  const keepalive = read("VNET_WG_KEEPALIVE_SEC");
  if (keepalive !== undefined) t.keepaliveTimeoutNs = keepalive;
  const timeout = read("VNET_WG_REKEY_TIMEOUT_SEC");
  if (timeout !== undefined) t.rekeyTimeoutNs = timeout;
  return t;
}
