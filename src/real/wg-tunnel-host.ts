/**
 * A userspace host at the end of a WireGuard tunnel: `WgUdpEndpoint` (engine + UDP socket) with
 * the `IcmpHost` on its plaintext side, and the two sessions the CLI runs on it:
 * `pingThroughTunnel` (`vnet vpn ping`: handshake, echo requests at an interval, replies with
 * round-trip times, a summary as ping prints it) and `listenOnTunnel` (`vnet vpn listen`: stay up,
 * answer pings, report handshakes, counters at the end). Both answer echo requests addressed to
 * the interface's own Address, so two vnet endpoints can ping each other.
 */

import { randomInt } from "node:crypto";
import { AllowedIps, cidrContains, formatCidr } from "../vpn/allowed-ips.ts";
import type { WgConfig } from "../vpn/config.ts";
import type { WgCrypto } from "../vpn/crypto.ts";
import type { WgDeviceCounters, WgEvent, WgPeerInfo, WgTimerConfig } from "../vpn/engine-api.ts";
import { formatIpv4, formatIpv6, tryParseIpv4, tryParseIpv6 } from "../wire/addr.ts";
import { type EchoError, type EchoReply, IcmpHost, type IcmpHostDrop } from "./icmp-host.ts";
import { sleep } from "./signals.ts";
import {
  EndpointError,
  WgUdpEndpoint,
  type WgUdpEndpointCounters,
  type WgUdpEndpointTuning,
} from "./udp-endpoint.ts";

export interface TunnelHostOptions {
  readonly config: WgConfig;
  readonly crypto?: WgCrypto;
  readonly timers?: Partial<WgTimerConfig>;
  readonly bindAddress?: string;
  readonly onEvent?: (event: WgEvent, nowNs: number) => void;
  /** Handshake queue, budget, socket buffer and peer sockets (defaults: udp-endpoint.ts). */
  readonly tuning?: WgUdpEndpointTuning;
}

/** A handshake seen by the host, as the CLI prints it. */
export interface HandshakeNote {
  readonly peer: string;
  readonly role: "initiator" | "responder";
  readonly endpoint: string | undefined;
  readonly atMs: number;
}

export interface TunnelHostCounters {
  readonly device: WgDeviceCounters & WgUdpEndpointCounters;
  readonly echoRequestsAnswered: number;
  readonly echoRepliesReceived: number;
  readonly echoErrorsReceived: number;
  readonly hostDrops: Record<IcmpHostDrop, number>;
  /** Answers the engine refused to send (each reason from the engine's `WgSendOutcome`). */
  readonly replySendFailures: number;
}

export class TunnelHost {
  readonly icmp: IcmpHost;
  readonly ownIpv4: number[];
  readonly ownIpv6: Uint8Array[];
  readonly handshakes: HandshakeNote[] = [];
  replySendFailures = 0;
  private replyListener: ((r: EchoReply, nowNs: number) => void) | undefined;
  private errorListener: ((e: EchoError, nowNs: number) => void) | undefined;
  private handshakeListener: ((h: HandshakeNote) => void) | undefined;

  private constructor(
    readonly endpoint: WgUdpEndpoint,
    readonly config: WgConfig,
  ) {
    this.ownIpv4 = config.interface.addresses.flatMap((a) => (a.family === 4 ? [a.addr] : []));
    this.ownIpv6 = config.interface.addresses.flatMap((a) => (a.family === 6 ? [a.addr] : []));
    this.icmp = new IcmpHost(this.ownIpv4, this.ownIpv6);
  }

  static async open(opts: TunnelHostOptions): Promise<TunnelHost> {
    let host: TunnelHost | undefined;
    const ep = await WgUdpEndpoint.open({
      ...opts.tuning,
      config: opts.config,
      crypto: opts.crypto,
      timers: opts.timers,
      bindAddress: opts.bindAddress,
      onEvent: (e, now) => {
        opts.onEvent?.(e, now);
        host?.onDeviceEvent(e, now);
      },
      onPacket: (ip, _peer, now) => host?.onPacket(ip, now),
    });
    host = new TunnelHost(ep, opts.config);
    return host;
  }

  onEchoReply(listener: ((r: EchoReply, nowNs: number) => void) | undefined): void {
    this.replyListener = listener;
  }

  onEchoError(listener: ((e: EchoError, nowNs: number) => void) | undefined): void {
    this.errorListener = listener;
  }

  onHandshake(listener: ((h: HandshakeNote) => void) | undefined): void {
    this.handshakeListener = listener;
  }

  private onPacket(ip: Uint8Array, nowNs: number): void {
    const out = this.icmp.receive(ip);
    if (out.kind === "answered") {
      const sent = this.endpoint.sendPacket(out.reply);
      if (sent !== "sent" && sent !== "queued") this.replySendFailures++;
    } else if (out.kind === "echo-reply") {
      this.replyListener?.(out.reply, nowNs);
    } else if (out.kind === "echo-error") {
      this.errorListener?.(out.error, nowNs);
    }
  }

  private onDeviceEvent(e: WgEvent, nowNs: number): void {
    if (e.type !== "handshake-complete") return;
    const peer = this.endpoint.peers.find((p) => p.name === e.peer);
    const h: HandshakeNote = {
      peer: e.peer,
      role: e.role,
      endpoint: peer?.endpoint ? endpointText(peer.endpoint.address, peer.endpoint.port) : undefined,
      atMs: nowNs / 1e6,
    };
    this.handshakes.push(h);
    this.handshakeListener?.(h);
  }

  counters(): TunnelHostCounters {
    return {
      device: this.endpoint.counters(),
      echoRequestsAnswered: this.icmp.echoRequestsAnswered,
      echoRepliesReceived: this.icmp.echoRepliesReceived,
      echoErrorsReceived: this.icmp.echoErrorsReceived,
      hostDrops: { ...this.icmp.drops },
      replySendFailures: this.replySendFailures,
    };
  }

  close(): Promise<void> {
    return this.endpoint.close();
  }
}

function endpointText(address: string, port: number): string {
  return address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`;
}

// ---------------------------------------------------------------------------------------------
// vnet vpn ping

export interface PingRunOptions extends TunnelHostOptions {
  /** Destination: IPv4 or IPv6 text, inside some peer's AllowedIPs. */
  readonly target: string;
  /** Requests to send (Infinity: until `signal`). */
  readonly count: number;
  readonly intervalMs: number;
  /** How long to wait for replies after the last request. */
  readonly timeoutMs: number;
  /** ICMP data bytes (ping's -s). */
  readonly dataBytes: number;
  readonly handshakeTimeoutMs: number;
  readonly signal?: AbortSignal;
  readonly onStart?: (info: {
    family: 4 | 6;
    target: string;
    source: string;
    peer: string;
    port: number;
  }) => void;
  readonly onHandshake?: (h: HandshakeNote & { tookMs: number }) => void;
  readonly onReply?: (r: PingReply) => void;
  readonly onError?: (e: PingError) => void;
}

/** An ICMP error that came back for one of our requests (ping prints "From X icmp_seq=N ..."). */
export interface PingError {
  readonly seq: number;
  readonly from: string;
  readonly type: "dest-unreachable" | "time-exceeded" | "packet-too-big";
  readonly code: number;
  /** Text as ping prints it, e.g. "Destination Host Unreachable". */
  readonly text: string;
}

/**
 * An ICMP error in the words iputils ping uses: RFC 792 / RFC 1812 5.2.7.1 codes for IPv4,
 * RFC 4443 3.1-3.3 for IPv6.
 */
export function describeIcmpError(
  family: 4 | 6,
  type: "dest-unreachable" | "time-exceeded" | "packet-too-big",
  code: number,
  mtu = 0,
): string {
  if (family === 6) {
    if (type === "packet-too-big") return `Packet too big: mtu=${mtu}`;
    if (type === "time-exceeded") {
      return code === 0
        ? "Time exceeded: Hop limit"
        : code === 1
          ? "Time exceeded: Defragmentation failure"
          : `Time exceeded: code ${code}`;
    }
    const texts6: Record<number, string> = {
      0: "Destination unreachable: No route",
      1: "Destination unreachable: Administratively prohibited",
      2: "Destination unreachable: Beyond scope of source address",
      3: "Destination unreachable: Address unreachable",
      4: "Destination unreachable: Port unreachable",
      5: "Destination unreachable: Source address failed ingress/egress policy",
      6: "Destination unreachable: Reject route to destination",
    };
    return texts6[code] ?? `Destination unreachable: Unknown code ${code}`;
  }
  if (type === "time-exceeded") {
    return code === 0
      ? "Time to live exceeded"
      : code === 1
        ? "Frag reassembly time exceeded"
        : `Time exceeded, Bad Code: ${code}`;
  }
  const texts: Record<number, string> = {
    0: "Destination Net Unreachable",
    1: "Destination Host Unreachable",
    2: "Destination Protocol Unreachable",
    3: "Destination Port Unreachable",
    4: `Frag needed and DF set (mtu = ${mtu})`,
    5: "Source Route Failed",
    6: "Destination Net Unknown",
    7: "Destination Host Unknown",
    8: "Source Host Isolated",
    9: "Destination Net Prohibited",
    10: "Destination Host Prohibited",
    11: "Destination Net Unreachable for Type of Service",
    12: "Destination Host Unreachable for Type of Service",
    13: "Packet filtered",
    14: "Precedence Violation",
    15: "Precedence Cutoff",
  };
  return texts[code] ?? `Dest Unreachable, Bad Code: ${code}`;
}

export interface PingReply {
  readonly seq: number;
  readonly from: string;
  readonly ttl: number;
  readonly bytes: number;
  readonly rttMs: number;
  readonly isDuplicate: boolean;
}

export interface PingResult {
  readonly target: string;
  readonly source: string;
  readonly peer: string;
  /** undefined when no handshake completed in time (then nothing was sent). */
  readonly handshakeMs: number | undefined;
  readonly transmitted: number;
  readonly received: number;
  readonly duplicates: number;
  /** Requests answered by an ICMP error instead of a reply. */
  readonly errors: number;
  readonly lossPercent: number;
  readonly rttMs: { min: number; avg: number; max: number; mdev: number } | undefined;
  readonly elapsedMs: number;
  readonly replies: PingReply[];
  readonly errorReports: PingError[];
  readonly counters: TunnelHostCounters;
}

/** What a ping needs: the peer (by index in the config), the family, and both addresses. */
export type PingPlan =
  | { peerIndex: number; family: 4; source: number; target: number }
  | { peerIndex: number; family: 6; source: Uint8Array; target: Uint8Array };

/**
 * Which peer and source address a ping to `targetText` uses (longest-prefix match over the peers'
 * AllowedIPs; a source on the target's subnet if the interface has one, else its first address
 * of that family). Throws EndpointError when there is no such peer, endpoint or address.
 */
export function planPing(config: WgConfig, targetText: string): PingPlan {
  const v4 = tryParseIpv4(targetText);
  const v6 = v4 === undefined ? tryParseIpv6(targetText) : undefined;
  if (v4 === undefined && v6 === undefined) throw new EndpointError(`"${targetText}" is not an IP address`);
  const family = v4 !== undefined ? 4 : 6;
  const table = new AllowedIps<number>();
  config.peers.forEach((p, i) => {
    for (const c of p.allowedIps) table.insert(c, i);
  });
  const peerIndex = v4 !== undefined ? table.lookupIpv4(v4) : table.lookupIpv6(v6!, 0);
  if (peerIndex === undefined) {
    throw new EndpointError(`no peer's AllowedIPs in ${config.file} contain ${targetText}`);
  }
  const peer = config.peers[peerIndex];
  if (!peer.endpoint) {
    throw new EndpointError(
      `${config.file}:${peer.line}: the peer for ${targetText} has no Endpoint, so this side cannot start a handshake`,
    );
  }
  const own = config.interface.addresses.filter((a) => a.family === family);
  if (own.length === 0) {
    throw new EndpointError(
      `${config.file}:${config.interface.line}: [Interface] needs an IPv${family} Address to ping ${targetText} from`,
    );
  }
  const same = own.find((a) => cidrContains(a, v4 ?? v6!));
  const source = (same ?? own[0]).addr;
  if (family === 4 ? source === v4 : formatIpv6(source as Uint8Array, 0) === formatIpv6(v6!, 0)) {
    throw new EndpointError(`${targetText} is this interface's own Address`);
  }
  return family === 4
    ? { peerIndex, family, source: source as number, target: v4! }
    : { peerIndex, family, source: source as Uint8Array, target: v6! };
}

export async function pingThroughTunnel(opts: PingRunOptions): Promise<PingResult> {
  const plan = planPing(opts.config, opts.target);
  const { peerIndex } = plan;
  const targetText = plan.family === 4 ? formatIpv4(plan.target) : formatIpv6(plan.target, 0);
  const sourceText = plan.family === 4 ? formatIpv4(plan.source) : formatIpv6(plan.source, 0);
  const host = await TunnelHost.open(opts);
  const t0 = host.endpoint.nowNs();
  try {
    const peer = host.endpoint.peers[peerIndex];
    opts.onStart?.({
      family: plan.family,
      target: targetText,
      source: sourceText,
      peer: peer.name,
      port: host.endpoint.port,
    });

    const handshakeMs = await waitForHandshake(host, peer, opts.handshakeTimeoutMs, opts.signal);
    if (handshakeMs === undefined) {
      return result(host, targetText, sourceText, peer, undefined, 0, [], [], 0, t0);
    }
    opts.onHandshake?.({ ...host.handshakes[host.handshakes.length - 1], tookMs: handshakeMs });

    const ident = randomInt(0, 0x10000);
    const sentAtNs = new Map<number, number>();
    const replies: PingReply[] = [];
    const seen = new Set<number>();
    /** Sequence numbers with a reply or an error: nothing more to wait for. */
    const answered = new Set<number>();
    let duplicates = 0;
    let wake: (() => void) | undefined;
    host.onEchoReply((r, nowNs) => {
      if (r.ident !== ident || r.family !== plan.family || r.src !== targetText) return;
      const sent = sentAtNs.get(r.seq);
      if (sent === undefined) return;
      const isDuplicate = seen.has(r.seq);
      if (isDuplicate) duplicates++;
      seen.add(r.seq);
      answered.add(r.seq);
      const reply: PingReply = {
        seq: r.seq,
        from: r.src,
        ttl: r.ttl,
        bytes: r.icmpBytes,
        rttMs: (nowNs - sent) / 1e6,
        isDuplicate,
      };
      replies.push(reply);
      opts.onReply?.(reply);
      wake?.();
    });
    const errorReports: PingError[] = [];
    host.onEchoError((e) => {
      if (e.ident !== ident || e.family !== plan.family || !sentAtNs.has(e.seq)) return;
      const report: PingError = {
        seq: e.seq,
        from: e.src,
        type: e.type,
        code: e.code,
        text: describeIcmpError(e.family, e.type, e.code, e.nextHopMtu),
      };
      errorReports.push(report);
      answered.add(e.seq);
      opts.onError?.(report);
      wake?.();
    });

    let transmitted = 0;
    const start = host.endpoint.nowNs();
    for (let seq = 1; seq <= opts.count && !opts.signal?.aborted; seq++) {
      const due = start + (seq - 1) * opts.intervalMs * 1e6;
      const waitMs = (due - host.endpoint.nowNs()) / 1e6;
      if (waitMs > 0) await sleep(waitMs, opts.signal);
      if (opts.signal?.aborted) break;
      const now = host.endpoint.nowNs();
      const wireSeq = seq & 0xffff;
      const pkt =
        plan.family === 4
          ? host.icmp.buildEchoRequest(plan.source, plan.target, ident, wireSeq, opts.dataBytes, now)
          : host.icmp.buildEchoRequest6(plan.source, plan.target, ident, wireSeq, opts.dataBytes, now);
      sentAtNs.set(wireSeq, now);
      host.endpoint.sendPacket(pkt);
      transmitted++;
    }
    // Wait for the outstanding replies, or the timeout, or a signal.
    const deadline = host.endpoint.nowNs() + opts.timeoutMs * 1e6;
    while (answered.size < transmitted && !opts.signal?.aborted) {
      const left = (deadline - host.endpoint.nowNs()) / 1e6;
      if (left <= 0) break;
      // Sleep until the deadline, a reply or a signal; a pending timer must not outlive the wait
      // (it would keep the process alive after the last reply).
      const stop = new AbortController();
      const onAbort = () => stop.abort();
      opts.signal?.addEventListener("abort", onAbort, { once: true });
      wake = () => stop.abort();
      await sleep(left, stop.signal);
      opts.signal?.removeEventListener("abort", onAbort);
      wake = undefined;
    }
    host.onEchoReply(undefined);
    host.onEchoError(undefined);
    return result(
      host,
      targetText,
      sourceText,
      peer,
      handshakeMs,
      transmitted,
      replies,
      errorReports,
      duplicates,
      t0,
    );
  } finally {
    await host.close();
  }
}

function waitForHandshake(
  host: TunnelHost,
  peer: WgPeerInfo,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<number | undefined> {
  const t0 = host.endpoint.nowNs();
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  signal?.addEventListener("abort", onAbort, { once: true });
  return new Promise((resolve) => {
    let isDone = false;
    const finish = (v: number | undefined) => {
      if (isDone) return;
      isDone = true;
      host.onHandshake(undefined);
      signal?.removeEventListener("abort", onAbort);
      stop.abort(); // ends the timeout's timer
      resolve(v);
    };
    host.onHandshake((h) => {
      if (h.peer === peer.name) finish((host.endpoint.nowNs() - t0) / 1e6);
    });
    host.endpoint.initiateHandshake(peer);
    void sleep(timeoutMs, stop.signal).then(() => finish(undefined));
  });
}

function result(
  host: TunnelHost,
  target: string,
  source: string,
  peer: WgPeerInfo,
  handshakeMs: number | undefined,
  transmitted: number,
  replies: PingReply[],
  errorReports: PingError[],
  duplicates: number,
  t0: number,
): PingResult {
  const unique = replies.filter((r) => !r.isDuplicate);
  const rtts = unique.map((r) => r.rttMs);
  let rttMs: PingResult["rttMs"];
  if (rtts.length > 0) {
    const avg = rtts.reduce((a, b) => a + b, 0) / rtts.length;
    const sq = rtts.reduce((a, b) => a + b * b, 0) / rtts.length;
    rttMs = {
      min: Math.min(...rtts),
      avg,
      max: Math.max(...rtts),
      mdev: Math.sqrt(Math.max(0, sq - avg * avg)),
    };
  }
  return {
    target,
    source,
    peer: peer.name,
    handshakeMs,
    transmitted,
    received: unique.length,
    duplicates,
    errors: errorReports.length,
    lossPercent:
      transmitted === 0 ? 100 : Math.round((1000 * (transmitted - unique.length)) / transmitted) / 10,
    rttMs,
    elapsedMs: (host.endpoint.nowNs() - t0) / 1e6,
    replies,
    errorReports,
    counters: host.counters(),
  };
}

// ---------------------------------------------------------------------------------------------
// vnet vpn listen

export interface ListenRunOptions extends TunnelHostOptions {
  /** Stop after this long (undefined: until `signal`). */
  readonly durationMs?: number;
  readonly signal?: AbortSignal;
  readonly onReady?: (info: { port: number; addresses: string[]; peers: string[] }) => void;
  readonly onHandshake?: (h: HandshakeNote) => void;
}

export interface ListenResult {
  readonly elapsedMs: number;
  readonly handshakes: HandshakeNote[];
  readonly counters: TunnelHostCounters;
}

export async function listenOnTunnel(opts: ListenRunOptions): Promise<ListenResult> {
  const host = await TunnelHost.open(opts);
  const t0 = host.endpoint.nowNs();
  try {
    host.onHandshake(opts.onHandshake);
    opts.onReady?.({
      port: host.endpoint.port,
      addresses: opts.config.interface.addresses.map(formatCidr),
      peers: host.endpoint.peers.map((p) => p.name),
    });
    await sleep(opts.durationMs ?? 2 ** 31 - 1, opts.signal);
    while (opts.durationMs === undefined && !opts.signal?.aborted) await sleep(2 ** 31 - 1, opts.signal);
    return {
      elapsedMs: (host.endpoint.nowNs() - t0) / 1e6,
      handshakes: host.handshakes,
      counters: host.counters(),
    };
  } finally {
    await host.close();
  }
}
