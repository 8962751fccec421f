/**
 * Text forms of the topology file turned into numbers: bandwidths (`10Gbps`), delays (`2us`),
 * loss (`0.1%`), VLAN lists (`[10, "100-199"]`) and IPv4 prefixes (`192.168.10.11/24`). The
 * schema (`schema.ts`) has already checked the text's form; these return the value or a message
 * saying what is wrong with it. Browser-safe.
 */

import { type Ipv4, tryParseIpv4 } from "../wire/addr.ts";
import { BANDWIDTH_RE, DELAY_RE, PERCENT_RE, TIME_RE, VLAN_RANGE_RE } from "./schema.ts";

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = <T>(message: string): Parsed<T> => ({ ok: false, message });

// Network rates are decimal (IEEE 802.3 speaks of 10 Gb/s = 10^10 b/s), not powers of two.
const RATE_PREFIX: Record<string, number> = { "": 1, k: 1e3, K: 1e3, M: 1e6, G: 1e9, T: 1e12 };
/** The fastest link we accept: 1.6 Tb/s, the largest Ethernet rate in IEEE 802.3 work. */
export const MAX_BANDWIDTH_BPS = 1.6e12;

export function parseBandwidth(text: string): Parsed<number> {
  const m = BANDWIDTH_RE.exec(text);
  if (!m) return fail(`expected a bandwidth like 10Gbps, 1G, 100Mbps, got ${JSON.stringify(text)}`);
  const bps = Math.round(Number(m[1]) * RATE_PREFIX[m[2]]);
  if (bps < 1000) return fail(`bandwidth ${text} is too low: at least 1kbps`);
  if (bps > MAX_BANDWIDTH_BPS) return fail(`bandwidth ${text} is too high: at most 1.6Tbps`);
  return ok(bps);
}

const DELAY_NS: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9 };
export const MAX_DELAY_NS = 10e9;

export function parseDelay(text: string): Parsed<number> {
  const m = DELAY_RE.exec(text);
  if (!m) return fail(`expected a delay like 2us, 1ms, 500ns, got ${JSON.stringify(text)}`);
  const ns = Math.round(Number(m[1]) * DELAY_NS[m[2]]);
  if (ns > MAX_DELAY_NS) return fail(`delay ${text} is too long: at most 10s`);
  return ok(ns);
}

export function parseLoss(v: number | string): Parsed<number> {
  if (typeof v === "number") return ok(v);
  const m = PERCENT_RE.exec(v);
  if (!m) return fail(`expected a loss like 0.001 or "0.1%", got ${JSON.stringify(v)}`);
  const p = Number(m[1]);
  if (p > 100) return fail(`loss ${v} is above 100%`);
  return ok(p / 100);
}

/** One entry of a trunk's `vlans`: an id (checked by the schema) or "a-b". */
export function parseVlanRange(v: number | string): Parsed<[number, number]> {
  if (typeof v === "number") return ok([v, v]);
  const m = VLAN_RANGE_RE.exec(v);
  if (!m) return fail(`expected a VLAN id or a range like "100-199", got ${JSON.stringify(v)}`);
  const lo = Number(m[1]);
  const hi = Number(m[2]);
  if (lo < 1 || hi > 4094) return fail(`VLAN range ${v} leaves 1..4094 (IEEE 802.1Q reserves 0 and 4095)`);
  if (lo > hi) return fail(`VLAN range ${v} is backwards; write ${hi}-${lo}`);
  return ok([lo, hi]);
}

export interface Cidr {
  ip: Ipv4;
  prefixLen: number;
}

/** "192.168.10.11/24" (form checked by the schema). */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf("/");
  if (slash < 0) return undefined;
  const ip = tryParseIpv4(text.slice(0, slash));
  const prefixLen = Number(text.slice(slash + 1));
  if (ip === undefined || !Number.isInteger(prefixLen) || prefixLen < 0 || prefixLen > 32) return undefined;
  return { ip, prefixLen };
}

const PPS_RE = /^\s*(\d+(?:\.\d+)?)\s*(?:([kKmM]?)pps)?\s*$/;

/** A rate in packets per second: a number, or "500pps", "10kpps", "1Mpps"; null when not one (or not above 0). */
export function parsePps(v: number | string): number | null {
  let pps: number;
  if (typeof v === "number") pps = v;
  else {
    const m = PPS_RE.exec(v);
    if (m === null) return null;
    const unit = m[2] ?? "";
    const scale = unit === "" ? 1 : unit.toLowerCase() === "k" ? 1e3 : 1e6;
    pps = Number(m[1]) * scale;
  }
  return Number.isFinite(pps) && pps > 0 && pps <= 1e12 ? pps : null;
}

/**
 * A time in a run (`faults[].at`, `vnet run --for`): "2s", "150ms", "10us", "500ns", or a number
 * of seconds; at most `maxNs`. Whole nanoseconds.
 */
export function parseTime(v: number | string, maxNs: number): Parsed<number> {
  let ns: number;
  if (typeof v === "number") {
    if (!Number.isFinite(v)) return fail(`expected a time like 2s, 150ms, 10us, got ${v}`);
    ns = Math.round(v * 1e9);
  } else {
    const m = TIME_RE.exec(v.trim());
    if (!m)
      return fail(`expected a time like 2s, 150ms, 10us (or a number of seconds), got ${JSON.stringify(v)}`);
    ns = Math.round(Number(m[1]) * DELAY_NS[m[2]]);
  }
  if (ns < 0)
    return fail(
      `${typeof v === "number" ? v : JSON.stringify(v)} is before the start of the run: a time is 0 or later`,
    );
  if (ns > maxNs)
    return fail(`${typeof v === "number" ? `${v} s` : v} is too late: at most ${maxNs / 1e9} s`);
  return ok(ns);
}
