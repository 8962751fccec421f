/**
 * Addresses in the representations the hot paths use: a MAC address is a plain number (48 bits
 * fit exactly in a double) and an IPv4 address is a uint32. Text forms exist only at the edges
 * (CLI, topology files, traces), through the parse/format helpers here.
 */

import { WireError } from "./error.ts";

export type Mac = number;
export type Ipv4 = number;

export const MAC_BROADCAST: Mac = 0xffffffffffff;

/** Reads a 48-bit MAC address at `offset` as a number. The caller has checked the length. */
export function readMac(buf: Uint8Array, offset: number): Mac {
  return (
    (buf[offset] * 0x10000 + buf[offset + 1] * 0x100 + buf[offset + 2]) * 0x1000000 +
    buf[offset + 3] * 0x10000 +
    buf[offset + 4] * 0x100 +
    buf[offset + 5]
  );
}

export function writeMac(buf: Uint8Array, offset: number, mac: Mac): void {
  const hi = Math.floor(mac / 0x1000000);
  const lo = mac - hi * 0x1000000;
  buf[offset] = hi >>> 16;
  buf[offset + 1] = (hi >>> 8) & 0xff;
  buf[offset + 2] = hi & 0xff;
  buf[offset + 3] = lo >>> 16;
  buf[offset + 4] = (lo >>> 8) & 0xff;
  buf[offset + 5] = lo & 0xff;
}

/** Group bit (I/G): the least significant bit of the first octet. */
export function isMulticastMac(mac: Mac): boolean {
  return Math.floor(mac / 0x10000000000) % 2 === 1;
}

export function isBroadcastMac(mac: Mac): boolean {
  return mac === MAC_BROADCAST;
}

const HEX = "0123456789abcdef";

export function formatMac(mac: Mac): string {
  let s = "";
  for (let i = 5; i >= 0; i--) {
    const b = Math.floor(mac / 2 ** (8 * i)) % 256;
    s += HEX[b >>> 4] + HEX[b & 15];
    if (i > 0) s += ":";
  }
  return s;
}

const MAC_RE =
  /^([0-9a-fA-F]{2})[:-]([0-9a-fA-F]{2})[:-]([0-9a-fA-F]{2})[:-]([0-9a-fA-F]{2})[:-]([0-9a-fA-F]{2})[:-]([0-9a-fA-F]{2})$/;

/** Parses "02:00:00:00:20:12" (or with dashes). Returns undefined when the text is not a MAC. */
export function tryParseMac(text: string): Mac | undefined {
  const m = MAC_RE.exec(text);
  if (!m) return undefined;
  let v = 0;
  for (let i = 1; i <= 6; i++) v = v * 256 + Number.parseInt(m[i], 16);
  return v;
}

export function parseMac(text: string): Mac {
  const v = tryParseMac(text);
  if (v === undefined) throw new WireError("bad-value", 0, `not a MAC address: "${text}"`);
  return v;
}

export function readIpv4(buf: Uint8Array, offset: number): Ipv4 {
  return ((buf[offset] << 24) | (buf[offset + 1] << 16) | (buf[offset + 2] << 8) | buf[offset + 3]) >>> 0;
}

export function writeIpv4(buf: Uint8Array, offset: number, ip: Ipv4): void {
  buf[offset] = ip >>> 24;
  buf[offset + 1] = (ip >>> 16) & 0xff;
  buf[offset + 2] = (ip >>> 8) & 0xff;
  buf[offset + 3] = ip & 0xff;
}

export function formatIpv4(ip: Ipv4): string {
  return `${ip >>> 24}.${(ip >>> 16) & 0xff}.${(ip >>> 8) & 0xff}.${ip & 0xff}`;
}

const IPV4_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

export function tryParseIpv4(text: string): Ipv4 | undefined {
  const m = IPV4_RE.exec(text);
  if (!m) return undefined;
  let v = 0;
  for (let i = 1; i <= 4; i++) {
    const o = Number(m[i]);
    if (o > 255 || (m[i].length > 1 && m[i][0] === "0")) return undefined;
    v = v * 256 + o;
  }
  return v;
}

export function parseIpv4(text: string): Ipv4 {
  const v = tryParseIpv4(text);
  if (v === undefined) throw new WireError("bad-value", 0, `not an IPv4 address: "${text}"`);
  return v;
}

/** A prefix length as a netmask: 24 -> 0xffffff00. */
export function prefixMask(prefixLen: number): number {
  return prefixLen === 0 ? 0 : (0xffffffff << (32 - prefixLen)) >>> 0;
}

export function sameSubnet(a: Ipv4, b: Ipv4, prefixLen: number): boolean {
  const m = prefixMask(prefixLen);
  return (a & m) >>> 0 === (b & m) >>> 0;
}

/** An IPv6 address as 16 bytes, formatted per RFC 5952 (lowercase, longest zero run as ::). */
export function formatIpv6(buf: Uint8Array, offset: number): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push((buf[offset + 2 * i] << 8) | buf[offset + 2 * i + 1]);
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (g: number) => g.toString(16);
  if (bestStart < 0) return groups.map(hex).join(":");
  const left = groups.slice(0, bestStart).map(hex).join(":");
  const right = groups
    .slice(bestStart + bestLen)
    .map(hex)
    .join(":");
  return `${left}::${right}`;
}

/**
 * Parses IPv6 text (RFC 4291 §2.2: hex groups, one `::`, an optional dotted IPv4 tail) into 16
 * bytes. Returns undefined when the text is not an IPv6 address. Zone ids (`%eth0`) are refused.
 */
export function tryParseIpv6(text: string): Uint8Array | undefined {
  let s = text;
  const words: number[] = [];
  const dot = s.lastIndexOf(".");
  let v4: number | undefined;
  if (dot >= 0) {
    const colon = s.lastIndexOf(":");
    if (colon < 0) return undefined;
    v4 = tryParseIpv4(s.slice(colon + 1));
    if (v4 === undefined) return undefined;
    // keep a "::" that precedes the IPv4 part, drop a plain ":" separator
    s = s.slice(0, colon + 1);
    if (!s.endsWith("::")) s = s.slice(0, -1);
  }
  const groupsWanted = v4 === undefined ? 8 : 6;
  const halves = s.split("::");
  if (halves.length > 2) return undefined;
  const parseGroups = (part: string): number[] | undefined => {
    if (part === "") return [];
    const out: number[] = [];
    for (const g of part.split(":")) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(Number.parseInt(g, 16));
    }
    return out;
  };
  const head = parseGroups(halves[0]);
  const tail = halves.length === 2 ? parseGroups(halves[1]) : [];
  if (!head || !tail) return undefined;
  if (halves.length === 2) {
    if (head.length + tail.length > groupsWanted - 1) return undefined;
    words.push(...head, ...new Array(groupsWanted - head.length - tail.length).fill(0), ...tail);
  } else {
    if (head.length !== groupsWanted) return undefined;
    words.push(...head);
  }
  if (v4 !== undefined) words.push(v4 >>> 16, v4 & 0xffff);
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    out[2 * i] = words[i] >>> 8;
    out[2 * i + 1] = words[i] & 0xff;
  }
  return out;
}

export function parseIpv6(text: string): Uint8Array {
  const v = tryParseIpv6(text);
  if (v === undefined) throw new WireError("bad-value", 0, `not an IPv6 address: "${text}"`);
  return v;
}
