/**
 * traceroute as a guest application on the IPv4 stack of `ip-host.ts`: UDP probes with TTL 1,
 * 2, 3, ... to ports 33434 and up (the classic Van Jacobson traceroute that Linux's
 * `traceroute` still does by default), three per hop, each answered by an ICMP time exceeded
 * from the router where its TTL ran out, or by a port unreachable from the destination itself.
 * Probes go one at a time (the original's behaviour; Linux's sends several at once, which only
 * changes how long it takes), each waits up to 5 s. Pure like the stack: time comes in, the
 * answer goes out through a callback.
 *
 * Annotations follow traceroute(8): `!H` host, `!N` network, `!P` protocol unreachable, `!F`
 * fragmentation needed, `!X` administratively prohibited; such an answer ends the trace like
 * reaching the destination does.
 */

import type { Ipv4 } from "../wire/addr.ts";
import type { IcmpErrorReport, IpHost } from "./ip-host.ts";

export interface TracerouteOptions {
  /** Highest TTL tried (traceroute -m), default 30. */
  maxHops?: number;
  /** Probes per hop (-q), default 3. */
  probesPerHop?: number;
  /** Destination port of the first probe (-p), default 33434; each probe uses the next. */
  firstPort?: number;
  /** Source port of every probe, default 33433 (real traceroute picks a free one). */
  srcPort?: number;
  /** How long a probe waits for an answer (-w), default 5 s. */
  timeoutNs?: number;
  /** UDP payload bytes, default 32 (traceroute's 60-byte packets). */
  payloadBytes?: number;
}

export interface TracerouteProbe {
  /** Who answered, or null for a timeout ("*"). */
  from: Ipv4 | null;
  rttNs: number;
  /** "" for an ordinary answer, else traceroute's annotation ("!H", "!N", ...). */
  annotation: string;
}

export interface TracerouteHop {
  ttl: number;
  probes: TracerouteProbe[];
}

export interface TracerouteResult {
  dst: Ipv4;
  hops: TracerouteHop[];
  /** Whether a probe reached the destination (port unreachable from it). */
  isReached: boolean;
}

export const TRACEROUTE_DEFAULTS = {
  maxHops: 30,
  probesPerHop: 3,
  firstPort: 33434,
  srcPort: 33433,
  timeoutNs: 5e9,
  payloadBytes: 32,
} as const;

function annotation(report: IcmpErrorReport, dst: Ipv4): string | null {
  if (report.icmpType === 11) return "";
  if (report.icmpType !== 3) return null;
  switch (report.icmpCode) {
    case 3:
      return report.from === dst ? "" : "!P";
    case 0:
      return "!N";
    case 1:
      return "!H";
    case 2:
      return "!P";
    case 4:
      return "!F";
    case 9:
    case 10:
    case 13:
      return "!X";
    default:
      return `!<${report.icmpCode}>`;
  }
}

/**
 * Traces the route to `dst` from `host`; `onDone` gets the hops once the destination answered,
 * an unreachable ended the trace, or `maxHops` was tried. Returns why the first probe could not
 * be sent ("no-route": Network is unreachable), or null once the trace has started.
 */
export function traceroute(
  host: IpHost,
  dst: Ipv4,
  options: TracerouteOptions,
  nowNs: number,
  onDone: (result: TracerouteResult) => void,
): string | null {
  const o = { ...TRACEROUTE_DEFAULTS, ...options };
  const hops: TracerouteHop[] = [];
  let probe = 0;
  let sentNs = 0;
  let timer = 0;
  let isFinished = false;
  let isReached = false;
  let isEnded = false;

  const finish = (): void => {
    isFinished = true;
    host.offIcmpError(listener);
    onDone({ dst, hops, isReached });
  };

  const record = (p: TracerouteProbe, t: number): void => {
    const ttl = Math.floor(probe / o.probesPerHop) + 1;
    if (hops.length < ttl) hops.push({ ttl, probes: [] });
    hops[ttl - 1].probes.push(p);
    probe++;
    const isHopDone = probe % o.probesPerHop === 0;
    if (isHopDone && (isReached || isEnded || ttl >= o.maxHops)) {
      finish();
      return;
    }
    send(t);
  };

  const send = (t: number): string | null => {
    const ttl = Math.floor(probe / o.probesPerHop) + 1;
    sentNs = t;
    const err = host.sendUdp(dst, o.srcPort, o.firstPort + probe, o.payloadBytes, t, ttl);
    if (err !== null) return err;
    const mine = probe;
    timer = host.env.setTimer(o.timeoutNs, (at) => {
      if (isFinished || probe !== mine) return;
      record({ from: null, rttNs: 0, annotation: "" }, at);
    });
    return null;
  };

  const listener = (report: IcmpErrorReport): void => {
    if (isFinished) return;
    if (
      report.quotedDst !== dst ||
      report.quotedProtocol !== 17 ||
      report.quotedSrcPort !== o.srcPort ||
      report.quotedDstPort !== o.firstPort + probe
    )
      return;
    const note = annotation(report, dst);
    if (note === null) return;
    host.env.cancelTimer(timer);
    if (report.icmpType === 3 && report.from === dst && report.icmpCode === 3) isReached = true;
    else if (note !== "") isEnded = true;
    record({ from: report.from, rttNs: report.nowNs - sentNs, annotation: note }, report.nowNs);
  };

  host.onIcmpError(listener);
  const err = send(nowNs);
  if (err !== null) {
    isFinished = true;
    host.offIcmpError(listener);
    return err;
  }
  return null;
}
