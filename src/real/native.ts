/**
 * Loads vnet's native addon (`native/`, built by `npm ci` through scripts/build-native.mjs into
 * build/Release/vnet_native.node): TAP devices, ChaCha20-Poly1305 with reusable contexts
 * (`crypto-native.ts`) and batched UDP (`udp-socket.ts`). Everything that works without it keeps a
 * pure-JavaScript path; what cannot (`vnet up`) asks `requireNative` and gets a one-line reason.
 */

import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import type { Aead12 } from "../vpn/crypto.ts";

/** Watches a descriptor and reads every queued frame into the caller's slots. */
export interface NativeTapReader {
  stop(): void;
  /** Stops watching until `resume` (the kernel queues, then drops, what arrives meanwhile). */
  pause(): void;
  resume(): void;
  /** Whether reads go through io_uring batches (false: one read() per frame). */
  ioUring(): boolean;
}

/** A thread that writes frames to TAPs (the kernel's receive work off the dataplane's core). */
export interface NativeTapWriter {
  /** Copies the frame into the ring; false when the ring is full. */
  push(port: number, fd: number, bytes: Uint8Array, start: number, end: number): boolean;
  /** Wakes the thread for what was pushed since (call once per batch). */
  flush(): void;
  /** Frames in the ring not yet written. */
  queued(): number;
  /** [written, bytes, failedFull, failedOther] for a port's frames so far. */
  stats(port: number): [number, number, number, number];
  /** Drains the ring and stops the thread. */
  close(): void;
  /** Whether the thread writes through io_uring batches (false: one write() per frame). */
  ioUring(): boolean;
}

/** A ChaCha20-Poly1305 direction of the addon: the engine's `Aead12` (12-byte nonce, offsets in, bytes written out). */
export type NativeAead = Aead12;

export interface NativeAddon {
  /** Opens (creating) TAP `name`, non-blocking, without the packet-information header. */
  tapOpen(name: string): { fd: number; name: string };
  /** Writes one frame; returns the bytes written or -errno (-11 EAGAIN: the kernel's queue is full). */
  tapWrite(fd: number, bytes: Uint8Array, start: number, end: number): number;
  closeFd(fd: number): void;
  TapWriter: new (slots: number, slotBytes: number, ports: number) => NativeTapWriter;
  TapReader: new (
    fd: number,
    slots: Uint8Array,
    slotBytes: number,
    lengths: Int32Array,
    onFrames: (count: number) => void,
  ) => NativeTapReader;

  /**
   * ChaCha20-Poly1305 (RFC 8439 2.8) of `src[srcOffset, +length)` into `out[outOffset..]`:
   * ciphertext then the 16-byte tag; returns length + 16. `out` may be `src` at the same offset.
   * Absent when the node binary exports no OpenSSL EVP functions (then node:crypto is used).
   */
  aeadSeal?: NativeAead;
  /** The inverse (`length` counts the tag): the plaintext's length, or -1 (output zeroed). */
  aeadOpen?: NativeAead;

  /** A bound non-blocking UDP socket (IPv6-only for 6); throws an Error with `code` (EADDRINUSE). */
  udpOpen(
    family: 4 | 6,
    address: string,
    port: number,
    isReusable: boolean,
    recvBufferBytes: number,
  ): { fd: number; port: number };
  udpConnect(fd: number, family: 4 | 6, address: string, port: number): void;
  /** The receive buffer the kernel granted (Linux reports double what was asked). */
  udpRecvBufferSize(fd: number): number;
  /**
   * One sendmmsg for `count` datagrams: datagram i is `bytes[meta[8i], +meta[8i+1])` to family
   * meta[8i+2], port meta[8i+3], address words meta[8i+4..8i+8). Returns the datagrams refused.
   */
  udpSendBatch(fd: number, bytes: Uint8Array, meta: Int32Array, count: number): number;
  /**
   * recvmmsg into `slots` (datagram i at i x slotBytes; meta[8i] its length, meta[8i+1] 1 when
   * truncated, then family, port, address words); `onDatagrams(n)` per batch, or
   * `onDatagrams(-errno)` for an error the socket reported.
   */
  UdpReader: new (
    fd: number,
    slots: Uint8Array,
    slotBytes: number,
    meta: Int32Array,
    onDatagrams: (count: number) => void,
  ) => NativeUdpReader;
}

/** Watches a UDP socket and reads every queued datagram into the caller's slots. */
export interface NativeUdpReader {
  stop(): void;
}

/** Int32 words of metadata per datagram in the UDP functions' `meta` arrays (see native/udp.cc). */
export const UDP_META_STRIDE = 8;

/** errno values the TypeScript side tests for. */
export const Errno = { EAGAIN: 11, ENOBUFS: 105, EIO: 5 } as const;

const ADDON_PATH = fileURLToPath(new URL("../../build/Release/vnet_native.node", import.meta.url));

let cached: NativeAddon | null | undefined;
let failure = "";

/** The addon, or null when it is not built or does not load (`nativeFailure()` says why). */
export function loadNative(): NativeAddon | null {
  if (cached !== undefined) return cached;
  if (process.env.VNET_NO_NATIVE === "1") {
    // The pure-JavaScript paths, as on a machine without a compiler (tests use it).
    failure = "vnet's native addon is turned off (VNET_NO_NATIVE=1)";
    cached = null;
    return null;
  }
  if (!existsSync(ADDON_PATH)) {
    failure =
      "vnet's native addon is not built (run `npm ci`, or `node scripts/build-native.mjs`; it needs g++ and python3)";
    cached = null;
    return null;
  }
  try {
    cached = createRequire(import.meta.url)(ADDON_PATH) as NativeAddon;
  } catch (e) {
    failure = `vnet's native addon does not load (${e instanceof Error ? e.message.split("\n")[0] : String(e)}); rebuild it with \`node scripts/build-native.mjs\``;
    cached = null;
  }
  return cached;
}

/** Why `loadNative()` returned null ("" when it loaded). */
export function nativeFailure(): string {
  loadNative();
  return failure;
}
