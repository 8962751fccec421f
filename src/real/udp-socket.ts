/**
 * The UDP sockets of the real WireGuard endpoint (`udp-endpoint.ts`) behind one small interface,
 * in two implementations:
 *
 * - **native** (`native/udp.cc`, Linux): a plain non-blocking descriptor; datagrams sent during
 *   one turn of JavaScript are copied into one buffer and leave in one `sendmmsg` when the turn
 *   ends (a microtask) or the buffer fills; received ones arrive up to 64 at a time through
 *   `recvmmsg` into slots the endpoint's sockets share, one callback per batch, with the source
 *   address as numbers (turned into a cached `WgEndpoint`, not a new object per datagram). A
 *   datagram handed to `onDatagram` is a view into a slot: writable, and valid only during the
 *   call.
 * - **dgram** (node:dgram, anywhere): one syscall, request and callback per datagram; the
 *   fallback when the addon is not built, and the "before" of the benchmarks. Its datagrams are
 *   fresh Buffers.
 *
 * `openUdpSocket` binds (and optionally connects) either kind; errors are `UdpSocketError` with
 * the errno name as `code` (EADDRINUSE), so the endpoint words them the same either way.
 */

import { createSocket, type Socket } from "node:dgram";
import type { WgEndpoint } from "../vpn/engine-api.ts";
import { formatIpv6, parseIpv6 } from "../wire/addr.ts";
import { loadNative, type NativeAddon, type NativeUdpReader, UDP_META_STRIDE } from "./native.ts";

export type UdpIo = "native" | "dgram";

export interface UdpSocketOptions {
  readonly family: 4 | 6;
  /** Local address to bind ("0.0.0.0", "::", "127.0.0.1"). */
  readonly address: string;
  /** Local port (0: any free one). */
  readonly port: number;
  /** SO_REUSEADDR (peer sockets share the listening port). */
  readonly isReusable: boolean;
  /** Receive buffer to ask for (0: the system default). */
  readonly recvBufferBytes: number;
  /** Connect to this remote endpoint after binding (a peer socket). */
  readonly connectTo?: WgEndpoint;
  /** A datagram; native: a view valid during the call only, which the handler may overwrite. */
  readonly onDatagram: (bytes: Uint8Array, from: WgEndpoint) => void;
  /** An error the socket reported after opening (a refused send, a connected socket's ICMP error). */
  readonly onError: (error: Error) => void;
}

export interface UdpSocket {
  readonly io: UdpIo;
  /** The local port bound. */
  readonly port: number;
  /** Sends (native: at the end of this turn, batched); failures come to `onError`. */
  send(bytes: Uint8Array, to: WgEndpoint): void;
  /** The receive buffer the kernel granted (Linux reports double what was asked). */
  recvBufferBytes(): number;
  close(): Promise<void>;
}

/** A socket that could not be opened or bound; `code` is the errno name ("EADDRINUSE"). */
export class UdpSocketError extends Error {
  override readonly name = "UdpSocketError";
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

/** The I/O this process can do: native when the addon has batched UDP (Linux), else dgram. */
export function bestUdpIo(): UdpIo {
  const addon = loadNative();
  return addon && typeof addon.udpOpen === "function" && process.platform === "linux" ? "native" : "dgram";
}

/** Opens, binds and (with `connectTo`) connects a socket of the given kind. */
export async function openUdpSocket(
  io: UdpIo,
  options: UdpSocketOptions,
  shared?: NativeUdpShared,
): Promise<UdpSocket> {
  if (io === "native") {
    const addon = loadNative();
    if (!addon) throw new UdpSocketError("vnet's native addon is not available for batched UDP", "ENOTSUP");
    return new NativeUdpSocket(addon, options, shared ?? new NativeUdpShared());
  }
  return openDgramSocket(options);
}

// ------------------------------------------------------------------------------------ native

/** Datagrams per recvmmsg / sendmmsg batch. */
const BATCH = 64;
/** A receive slot: the largest datagram read whole (larger ones are truncated, refused and counted). */
const RECV_SLOT_BYTES = 9216;
/** The send buffer: datagrams of one batch packed end to end. */
const SEND_ARENA_BYTES = 256 * 1024;

/**
 * What the native sockets of one endpoint share: the receive slots (callbacks never nest, so one
 * set serves every socket) and the source-address cache.
 */
export class NativeUdpShared {
  readonly slots = new Uint8Array(RECV_SLOT_BYTES * BATCH);
  readonly meta = new Int32Array(UDP_META_STRIDE * BATCH);
  /** Source endpoints by address and port: the same object for the same source, no allocation. */
  private readonly v4 = new Map<number, WgEndpoint>();
  private readonly v6 = new Map<string, WgEndpoint>();
  /** Datagrams longer than a slot (truncated by the kernel): refused, counted here. */
  truncatedDatagrams = 0;

  /** The endpoint of datagram `i` in `meta`. */
  endpointAt(i: number): WgEndpoint {
    const m = this.meta;
    const o = i * UDP_META_STRIDE;
    const port = m[o + 3];
    if (m[o + 2] === 4) {
      const addr = m[o + 4] >>> 0;
      const key = addr * 65536 + port;
      let e = this.v4.get(key);
      if (e === undefined) {
        if (this.v4.size >= 4096) this.v4.clear();
        e = Object.freeze({
          address: `${addr >>> 24}.${(addr >>> 16) & 255}.${(addr >>> 8) & 255}.${addr & 255}`,
          port,
        });
        this.v4.set(key, e);
      }
      return e;
    }
    const key = `${m[o + 4]},${m[o + 5]},${m[o + 6]},${m[o + 7]},${port}`;
    let e = this.v6.get(key);
    if (e === undefined) {
      if (this.v6.size >= 4096) this.v6.clear();
      const b = new Uint8Array(16);
      const v = new DataView(b.buffer);
      for (let w = 0; w < 4; w++) v.setUint32(w * 4, m[o + 4 + w] >>> 0);
      e = Object.freeze({ address: formatIpv6(b, 0), port });
      this.v6.set(key, e);
    }
    return e;
  }
}

/** errno numbers the reader reports as -errno, by name (Linux). */
const ERRNO_NAMES: Record<number, string> = {
  111: "ECONNREFUSED",
  113: "EHOSTUNREACH",
  101: "ENETUNREACH",
  90: "EMSGSIZE",
  105: "ENOBUFS",
};

class NativeUdpSocket implements UdpSocket {
  readonly io = "native";
  readonly port: number;
  private fd: number;
  private readonly family: 4 | 6;
  private readonly reader: NativeUdpReader;
  private readonly sendBytes = new Uint8Array(SEND_ARENA_BYTES);
  private readonly sendMeta = new Int32Array(UDP_META_STRIDE * BATCH);
  private sendCount = 0;
  private sendFill = 0;
  private isFlushScheduled = false;
  /** The last destination encoded (the engine passes the same object for a peer). */
  private lastTo: WgEndpoint | undefined;
  private readonly lastWords = new Int32Array(4);
  private readonly flushNow = (): void => {
    this.isFlushScheduled = false;
    this.flush();
  };

  constructor(
    private readonly addon: NativeAddon,
    private readonly options: UdpSocketOptions,
    private readonly shared: NativeUdpShared,
  ) {
    this.family = options.family;
    let opened: { fd: number; port: number };
    try {
      opened = addon.udpOpen(
        options.family,
        options.address,
        options.port,
        options.isReusable,
        options.recvBufferBytes,
      );
    } catch (e) {
      throw asSocketError(e);
    }
    this.fd = opened.fd;
    this.port = opened.port;
    try {
      const to = options.connectTo;
      if (to) addon.udpConnect(this.fd, options.family, to.address, to.port);
      this.reader = new addon.UdpReader(this.fd, shared.slots, RECV_SLOT_BYTES, shared.meta, this.onBatch);
    } catch (e) {
      addon.closeFd(this.fd);
      throw asSocketError(e);
    }
  }

  private readonly onBatch = (count: number): void => {
    if (count < 0) {
      const code = ERRNO_NAMES[-count] ?? `errno ${-count}`;
      this.options.onError(new UdpSocketError(`UDP socket error: ${code}`, code));
      return;
    }
    const { slots, meta } = this.shared;
    const deliver = this.options.onDatagram;
    for (let i = 0; i < count; i++) {
      const o = i * UDP_META_STRIDE;
      if (meta[o + 1] !== 0) {
        this.shared.truncatedDatagrams++;
        continue;
      }
      const start = i * RECV_SLOT_BYTES;
      deliver(slots.subarray(start, start + meta[o]), this.shared.endpointAt(i));
      if (this.fd < 0) return;
    }
  };

  send(bytes: Uint8Array, to: WgEndpoint): void {
    if (this.fd < 0) return;
    const len = bytes.length;
    if (this.sendCount === BATCH || this.sendFill + len > SEND_ARENA_BYTES) this.flush();
    if (len > SEND_ARENA_BYTES) {
      this.sendAlone(bytes, to);
      return;
    }
    const m = this.sendMeta;
    const o = this.sendCount * UDP_META_STRIDE;
    this.encode(to, m, o);
    m[o] = this.sendFill;
    m[o + 1] = len;
    this.sendBytes.set(bytes, this.sendFill);
    this.sendFill += len;
    this.sendCount++;
    if (!this.isFlushScheduled) {
      this.isFlushScheduled = true;
      queueMicrotask(this.flushNow);
    }
  }

  /** Writes family, port and address words of `to` at meta[o + 2 ..]. */
  private encode(to: WgEndpoint, m: Int32Array, o: number): void {
    const w = this.lastWords;
    if (to !== this.lastTo) {
      if (this.family === 4) {
        const parts = to.address.split(".");
        w[0] = (+parts[0] << 24) | (+parts[1] << 16) | (+parts[2] << 8) | +parts[3] | 0;
      } else {
        const b = parseIpv6(to.address);
        const v = new DataView(b.buffer, b.byteOffset, 16);
        for (let i = 0; i < 4; i++) w[i] = v.getInt32(i * 4);
      }
      this.lastTo = to;
    }
    m[o + 2] = this.family;
    m[o + 3] = to.port;
    m[o + 4] = w[0];
    m[o + 5] = w[1];
    m[o + 6] = w[2];
    m[o + 7] = w[3];
  }

  private sendAlone(bytes: Uint8Array, to: WgEndpoint): void {
    const m = new Int32Array(UDP_META_STRIDE);
    this.encode(to, m, 0);
    m[0] = 0;
    m[1] = bytes.length;
    this.report(this.addon.udpSendBatch(this.fd, bytes, m, 1));
  }

  private flush(): void {
    if (this.sendCount === 0 || this.fd < 0) return;
    const n = this.sendCount;
    this.sendCount = 0;
    this.sendFill = 0;
    this.report(this.addon.udpSendBatch(this.fd, this.sendBytes, this.sendMeta, n));
  }

  private report(refused: number): void {
    for (let i = 0; i < refused; i++)
      this.options.onError(new UdpSocketError("the kernel refused a datagram", "ESEND"));
  }

  recvBufferBytes(): number {
    return this.fd < 0 ? 0 : this.addon.udpRecvBufferSize(this.fd);
  }

  close(): Promise<void> {
    if (this.fd >= 0) {
      this.flush();
      this.reader.stop();
      this.addon.closeFd(this.fd);
      this.fd = -1;
    }
    return Promise.resolve();
  }
}

function asSocketError(e: unknown): UdpSocketError {
  if (e instanceof UdpSocketError) return e;
  const err = e as { message?: string; code?: string };
  return new UdpSocketError(err?.message ?? String(e), err?.code ?? "EUNKNOWN");
}

// ------------------------------------------------------------------------------------- dgram

class DgramUdpSocket implements UdpSocket {
  readonly io = "dgram";
  constructor(
    private readonly s: Socket,
    readonly port: number,
  ) {}

  send(bytes: Uint8Array, to: WgEndpoint): void {
    // No per-datagram callback (a closure per packet on the hot path): a failed send surfaces
    // as the socket's "error" event.
    this.s.send(bytes, to.port, to.address);
  }

  recvBufferBytes(): number {
    try {
      return this.s.getRecvBufferSize();
    } catch {
      return 0; // closed
    }
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      try {
        this.s.close(() => resolve());
      } catch {
        resolve(); // already closed
      }
    });
  }
}

function openDgramSocket(o: UdpSocketOptions): Promise<UdpSocket> {
  return new Promise((resolve, reject) => {
    const type = o.family === 4 ? "udp4" : "udp6";
    const s = createSocket({ type, ipv6Only: o.family === 6, reuseAddr: o.isReusable });
    const onError = (err: NodeJS.ErrnoException) => {
      try {
        s.close();
      } catch {
        // already closed
      }
      reject(new UdpSocketError(err.message, err.code ?? "EUNKNOWN"));
    };
    s.once("error", onError);
    s.bind(o.port, o.address, () => {
      const ready = () => {
        s.off("error", onError);
        if (o.recvBufferBytes > 0) {
          try {
            s.setRecvBufferSize(o.recvBufferBytes);
          } catch {
            // Above what this system allows (not Linux, which caps silently): keep its default.
          }
        }
        s.on("message", (msg, rinfo) => o.onDatagram(msg, { address: rinfo.address, port: rinfo.port }));
        s.on("error", o.onError);
        resolve(new DgramUdpSocket(s, s.address().port));
      };
      if (o.connectTo) s.connect(o.connectTo.port, o.connectTo.address, ready);
      else ready();
    });
  });
}
