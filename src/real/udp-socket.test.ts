/**
 * Tests for the endpoint's UDP sockets (`udp-socket.ts`), loopback only (127.0.0.1, and ::1 when
 * the host has it): native batched I/O against node:dgram and against itself, sends of one turn
 * leaving as one batch and arriving in order, sources reported as the same endpoint object,
 * connected sockets, oversize datagrams refused and counted, and bind errors with their errno
 * name. The native part is skipped with one line when the addon is not built.
 */

import { spawnSync } from "node:child_process";
import { createSocket } from "node:dgram";
import { networkInterfaces } from "node:os";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { WgEndpoint } from "../vpn/engine-api.ts";
import { nativeFailure } from "./native.ts";
import {
  bestUdpIo,
  NativeUdpShared,
  openUdpSocket,
  type UdpIo,
  type UdpSocket,
  UdpSocketError,
  type UdpSocketOptions,
} from "./udp-socket.ts";

const hasNative = bestUdpIo() === "native";
if (!hasNative) process.stderr.write(`native UDP tests skipped: ${nativeFailure() || "not Linux"}\n`);
const hasV6Loopback = Object.values(networkInterfaces()).some((l) =>
  l?.some((i) => i.family === "IPv6" && i.address === "::1"),
);

interface Received {
  bytes: Uint8Array;
  from: WgEndpoint;
}

async function open(
  io: UdpIo,
  extra: Partial<UdpSocketOptions> = {},
  shared?: NativeUdpShared,
): Promise<{ s: UdpSocket; got: Received[]; errors: Error[] }> {
  const got: Received[] = [];
  const errors: Error[] = [];
  const s = await openUdpSocket(
    io,
    {
      family: 4,
      address: "127.0.0.1",
      port: 0,
      isReusable: false,
      recvBufferBytes: 0,
      onDatagram: (bytes, from) => got.push({ bytes: Uint8Array.from(bytes), from }),
      onError: (e) => errors.push(e),
      ...extra,
    },
    shared,
  );
  return { s, got, errors };
}

async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out waiting on loopback");
    await new Promise((r) => setTimeout(r, 5));
  }
}

const datagram = (i: number, len = 100) =>
  new Uint8Array(len).fill(i & 0xff).map((b, j) => (j < 4 ? i >> (8 * j) : b));

for (const io of ["dgram", "native"] as UdpIo[]) {
  describe.skipIf(io === "native" && !hasNative)(`UDP sockets (${io})`, () => {
    it("carries datagrams both ways on 127.0.0.1, in order, with the sender's address", async () => {
      const a = await open(io);
      const b = await open(io);
      try {
        const toB = { address: "127.0.0.1", port: b.s.port };
        for (let i = 0; i < 200; i++) a.s.send(datagram(i, 60 + (i % 1400)), toB);
        await until(() => b.got.length === 200);
        b.got.forEach((d, i) => {
          expect(d.bytes).toEqual(datagram(i, 60 + (i % 1400)));
          expect(d.from).toEqual({ address: "127.0.0.1", port: a.s.port });
        });
        b.s.send(Uint8Array.of(1, 2, 3), { address: "127.0.0.1", port: a.s.port });
        await until(() => a.got.length === 1);
        expect(a.got[0].bytes).toEqual(Uint8Array.of(1, 2, 3));
        expect(a.errors).toEqual([]);
        expect(b.errors).toEqual([]);
      } finally {
        await a.s.close();
        await b.s.close();
      }
    });

    it("says EADDRINUSE for a port that is taken", async () => {
      const a = await open(io);
      try {
        const e = await open(io, { port: a.s.port }).catch((x: unknown) => x);
        expect(e).toBeInstanceOf(UdpSocketError);
        expect((e as UdpSocketError).code).toBe("EADDRINUSE");
      } finally {
        await a.s.close();
      }
    });

    it("a connected socket on a shared port gets exactly its peer's datagrams", async () => {
      const peer = await open(io);
      const other = await open(io);
      const listening = await open(io, { isReusable: true });
      const connected = await open(io, {
        isReusable: true,
        port: listening.s.port,
        connectTo: { address: "127.0.0.1", port: peer.s.port },
      });
      try {
        const to = { address: "127.0.0.1", port: listening.s.port };
        peer.s.send(Uint8Array.of(1), to);
        other.s.send(Uint8Array.of(2), to);
        await until(() => connected.got.length === 1 && listening.got.length === 1);
        expect(connected.got[0].bytes).toEqual(Uint8Array.of(1));
        expect(listening.got[0].bytes).toEqual(Uint8Array.of(2));
        expect(connected.s.recvBufferBytes()).toBeGreaterThan(0);
      } finally {
        for (const x of [peer, other, listening, connected]) await x.s.close();
      }
    });

    it.skipIf(!hasV6Loopback)("works over ::1", async () => {
      const a = await open(io, { family: 6, address: "::1" });
      const b = await open(io, { family: 6, address: "::1" });
      try {
        a.s.send(datagram(7), { address: "::1", port: b.s.port });
        await until(() => b.got.length === 1);
        expect(b.got[0].bytes).toEqual(datagram(7));
        expect(b.got[0].from).toEqual({ address: "::1", port: a.s.port });
      } finally {
        await a.s.close();
        await b.s.close();
      }
    });
  });
}

describe.skipIf(!hasNative)("UDP sockets (native only)", () => {
  it("interoperates with node:dgram and batches one turn's sends", async () => {
    const shared = new NativeUdpShared();
    const a = await open("native", {}, shared);
    const peer = createSocket("udp4");
    const seen: Buffer[] = [];
    peer.on("message", (m) => seen.push(m));
    await new Promise<void>((r) => peer.bind(0, "127.0.0.1", () => r()));
    peer.setRecvBufferSize(4 * 1024 * 1024); // 150 datagrams at once: more than the default holds
    try {
      const to = { address: "127.0.0.1", port: peer.address().port };
      for (let i = 0; i < 150; i++) a.s.send(datagram(i, 1432), to); // past one batch of 64
      await until(() => seen.length === 150);
      for (const [i, m] of seen.entries()) expect(new Uint8Array(m)).toEqual(datagram(i, 1432));
      peer.send(Uint8Array.of(9, 9), a.s.port, "127.0.0.1");
      peer.send(Uint8Array.of(8), a.s.port, "127.0.0.1");
      await until(() => a.got.length === 2);
      // The same source comes as the same endpoint object: no allocation per datagram.
      expect(a.got[0].from).toBe(a.got[1].from);
      expect(a.got[0].from).toEqual({ address: "127.0.0.1", port: peer.address().port });
    } finally {
      await a.s.close();
      peer.close();
    }
  });

  it("refuses and counts a datagram longer than a receive slot", async () => {
    const shared = new NativeUdpShared();
    const a = await open("native", {}, shared);
    const peer = createSocket("udp4");
    await new Promise<void>((r) => peer.bind(0, "127.0.0.1", () => r()));
    try {
      peer.send(new Uint8Array(20_000), a.s.port, "127.0.0.1");
      peer.send(Uint8Array.of(5), a.s.port, "127.0.0.1");
      await until(() => a.got.length === 1);
      expect(a.got[0].bytes).toEqual(Uint8Array.of(5));
      expect(shared.truncatedDatagrams).toBe(1);
    } finally {
      await a.s.close();
      peer.close();
    }
  });

  it("a connected socket reports its peer's ICMP port unreachable as an error", async () => {
    const gone = createSocket("udp4");
    await new Promise<void>((r) => gone.bind(0, "127.0.0.1", () => r()));
    const port = gone.address().port;
    await new Promise<void>((r) => gone.close(() => r()));
    const a = await open("native", { connectTo: { address: "127.0.0.1", port } });
    try {
      a.s.send(Uint8Array.of(1), { address: "127.0.0.1", port });
      await until(() => a.errors.length > 0);
      expect((a.errors[0] as UdpSocketError).code).toBe("ECONNREFUSED");
    } finally {
      await a.s.close();
    }
  });

  it("an exception thrown by the batch callback is an uncaught exception, not an abort", () => {
    // In a child process: the exception must reach process.on("uncaughtException") and the
    // reader keep working (a C++ exception unwinding into libuv would abort with SIGABRT).
    const addonPath = fileURLToPath(new URL("../../build/Release/vnet_native.node", import.meta.url));
    const script = `
      const a = require(${JSON.stringify(addonPath)});
      const dgram = require("node:dgram");
      const { fd, port } = a.udpOpen(4, "127.0.0.1", 0, false, 0);
      process.on("uncaughtException", (e) => console.log("uncaught " + e.message));
      let n = 0;
      const s = dgram.createSocket("udp4");
      const r = new a.UdpReader(fd, new Uint8Array(9216 * 4), 9216, new Int32Array(32), (c) => {
        if (++n === 1) throw new Error("boom");
        console.log("read again");
        r.stop(); a.closeFd(fd); s.close();
      });
      s.send(Buffer.from("x"), port, "127.0.0.1", () =>
        setTimeout(() => s.send(Buffer.from("y"), port, "127.0.0.1"), 50));`;
    const r = spawnSync(process.execPath, ["-e", script], { encoding: "utf8", timeout: 10_000 });
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    expect(r.stdout).toBe("uncaught boom\nread again\n");
  });
});
