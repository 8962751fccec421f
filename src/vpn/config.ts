/**
 * WireGuard configuration files, as `wg setconf` and `wg-quick` read them (wg(8) "CONFIGURATION
 * FILE FORMAT", wg-quick(8)): an `[Interface]` section and any number of `[Peer]` sections of
 * `Key = Value` lines, keys case-insensitive, `#` starting a comment. This file turns that text into
 * a checked `WgConfig` (keys as 32 raw bytes, prefixes as `Cidr`) that the CLI hands to the engine,
 * and back into text. Browser-safe; the caller reads the file.
 *
 * What is read, per section:
 * - `[Interface]`: PrivateKey (required), ListenPort, FwMark (accepted, no meaning here: noted),
 *   and wg-quick's Address (one or more, repeatable), MTU, DNS, Table, PreUp/PostUp/PreDown/
 *   PostDown, SaveConfig (accepted; the ones vnet cannot honour are noted, never run).
 * - `[Peer]`: PublicKey (required), PresharedKey, AllowedIPs (repeatable, comma-separated),
 *   Endpoint (`host:port`, `[v6]:port`), PersistentKeepalive (seconds, or `off`).
 *
 * As wg does, whitespace inside the value of a wg key is ignored ("10.0.0.0/8, fd00::/8"), a bare
 * address in AllowedIPs means a host prefix, and host bits of an AllowedIPs prefix are cleared.
 * Stricter than wg, because each is surely a mistake: a single-valued key given twice, a second
 * `[Interface]`, two peers with one public key, a peer with the interface's own key.
 *
 * Mistakes raise `ConfigError` naming `file:line`; its message never contains key material:
 * a value is often quoted in it, and a private key pasted into the wrong field (`Endpoint`,
 * `Address`) would be echoed, so anything key-shaped is redacted, and control characters are
 * escaped so the file cannot act on the terminal that shows the error.
 */

import { tryParseIpv4 } from "../wire/addr.ts";
import { type Cidr, CidrError, formatCidr, maskCidr, parseCidr, tryParseIpv6 } from "./allowed-ips.ts";
import { KeyError, keyFromBase64, keysEqual, keyToBase64, publicKeyOf, shortKey } from "./keys.ts";

export type ConfigErrorCode =
  | "syntax" // not a section header, not Key = Value
  | "unknown-section"
  | "unknown-key"
  | "duplicate" // a single-valued key twice, a second [Interface], a repeated public key
  | "bad-key" // base64 key text wrong
  | "bad-value" // a number, prefix or endpoint that does not parse
  | "missing"; // a required key or section is absent

/**
 * Text shaped like key material: a run of 32 or more base64 characters, with its padding. A
 * WireGuard key is 44 of them ending in "=", its hex form (`wg` prints keys as hex in some
 * places) 64 hex digits, which are base64 characters too; a key cut short or two run together
 * match as well. No value vnet quotes (addresses, ports, host names) has such a run.
 */
const KEY_SHAPED = /[A-Za-z0-9+/]{32,}={0,2}/g;

/** `text` with anything key-shaped replaced by a marker. */
export function redactKeys(text: string): string {
  return text.replace(KEY_SHAPED, "[key-shaped text hidden]");
}

/** C0 and C1 controls, DEL, and the Unicode controls that reorder or break a line (Trojan Source). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** `text` with control characters written as `\x1b`, `\u202e`: safe to print on a terminal. */
function escapeControls(text: string): string {
  return text.replace(UNPRINTABLE, (c) => {
    const n = c.charCodeAt(0);
    return n <= 0xff ? `\\x${n.toString(16).padStart(2, "0")}` : `\\u${n.toString(16).padStart(4, "0")}`;
  });
}

/** A mistake in a configuration file, at `file:line`; `detail` has key-shaped text redacted. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly detail: string;
  constructor(
    readonly code: ConfigErrorCode,
    readonly file: string,
    readonly line: number,
    detail: string,
  ) {
    const safe = escapeControls(redactKeys(detail));
    super(`${escapeControls(file)}:${line}: ${safe}`);
    this.detail = safe;
  }
}

/** A peer's Endpoint as written in the file (the engine's `WgEndpoint` is the resolved address). */
export interface ConfigEndpoint {
  /** An IPv4 or IPv6 literal (without brackets) or a host name to resolve. */
  readonly host: string;
  readonly port: number;
  /** 4 or 6 when `host` is a literal address; undefined for a name. */
  readonly family: 4 | 6 | undefined;
}

export interface WgInterfaceConfig {
  readonly privateKey: Uint8Array;
  /** Derived from the private key. */
  readonly publicKey: Uint8Array;
  /** wg-quick's Address: the interface's own addresses, host bits kept. */
  readonly addresses: Cidr[];
  /** Undefined: pick any free port (as wg does when ListenPort is absent or 0). */
  readonly listenPort: number | undefined;
  readonly mtu: number | undefined;
  readonly line: number;
}

export interface WgPeerConfig {
  readonly publicKey: Uint8Array;
  readonly presharedKey: Uint8Array | undefined;
  /** Host bits cleared, in file order, without repeats. */
  readonly allowedIps: Cidr[];
  readonly endpoint: ConfigEndpoint | undefined;
  /** 0 means off. */
  readonly persistentKeepaliveSec: number;
  /** The line of this peer's `[Peer]` header. */
  readonly line: number;
}

/** Something accepted but not acted on, or legal but suspicious; the CLI may print these. */
export interface ConfigNote {
  readonly line: number;
  readonly message: string;
}

export interface WgConfig {
  readonly file: string;
  readonly interface: WgInterfaceConfig;
  readonly peers: WgPeerConfig[];
  readonly notes: ConfigNote[];
}

type Section = "interface" | "peer";

/** Keys per section, lowercase, and whether each may repeat (repeats accumulate). */
const INTERFACE_KEYS: Record<string, string> = {
  privatekey: "PrivateKey",
  listenport: "ListenPort",
  fwmark: "FwMark",
  address: "Address",
  dns: "DNS",
  mtu: "MTU",
  table: "Table",
  preup: "PreUp",
  postup: "PostUp",
  predown: "PreDown",
  postdown: "PostDown",
  saveconfig: "SaveConfig",
};
const PEER_KEYS: Record<string, string> = {
  publickey: "PublicKey",
  presharedkey: "PresharedKey",
  allowedips: "AllowedIPs",
  endpoint: "Endpoint",
  persistentkeepalive: "PersistentKeepalive",
};
const REPEATABLE = new Set(["address", "allowedips", "dns", "preup", "postup", "predown", "postdown"]);
/** wg-quick keys whose values are shell commands or names: their inner whitespace matters. */
const VERBATIM = new Set(["preup", "postup", "predown", "postdown", "table", "dns"]);

interface PeerDraft {
  line: number;
  publicKey?: Uint8Array;
  presharedKey?: Uint8Array;
  allowedIps: Cidr[];
  endpoint?: ConfigEndpoint;
  persistentKeepaliveSec: number;
  seen: Map<string, number>;
}

/** Parses a configuration file's text; `file` names it in errors. */
export function parseWgConfig(text: string, file = "<config>"): WgConfig {
  const notes: ConfigNote[] = [];
  const fail = (code: ConfigErrorCode, line: number, msg: string): never => {
    throw new ConfigError(code, file, line, msg);
  };

  let section: Section | undefined;
  let ifaceLine = 0;
  const ifaceSeen = new Map<string, number>();
  let privateKey: Uint8Array | undefined;
  const addresses: Cidr[] = [];
  let listenPort: number | undefined;
  let mtu: number | undefined;
  const peers: PeerDraft[] = [];
  let peer: PeerDraft | undefined;

  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const raw = lines[i];
    const hash = raw.indexOf("#");
    const stripped = (hash >= 0 ? raw.slice(0, hash) : raw).trim();
    if (stripped === "") continue;

    if (stripped.startsWith("[")) {
      const m = /^\[\s*([A-Za-z]+)\s*\]$/.exec(stripped);
      if (!m) fail("syntax", lineNo, "a section header looks like [Interface] or [Peer]");
      const name = m![1].toLowerCase();
      if (name === "interface") {
        if (ifaceLine > 0)
          fail("duplicate", lineNo, `a second [Interface] section (the first is at line ${ifaceLine})`);
        ifaceLine = lineNo;
        section = "interface";
      } else if (name === "peer") {
        peer = { line: lineNo, allowedIps: [], persistentKeepaliveSec: 0, seen: new Map() };
        peers.push(peer);
        section = "peer";
      } else {
        fail("unknown-section", lineNo, `unknown section [${m![1]}] (valid: [Interface], [Peer])`);
      }
      continue;
    }

    const eq = stripped.indexOf("=");
    if (eq < 0) fail("syntax", lineNo, 'expected "Key = Value" or a section header');
    const keyText = stripped.slice(0, eq).trim();
    // No key name is longer than 19 letters; a longer "name" may be a pasted key: never echo it.
    if (!/^[A-Za-z]{1,24}$/.test(keyText))
      fail("syntax", lineNo, 'expected "Key = Value" with a key of letters');
    const key = keyText.toLowerCase();
    if (section === undefined)
      fail("syntax", lineNo, `"${keyText}" appears before any [Interface] or [Peer] section`);
    const table = section === "interface" ? INTERFACE_KEYS : PEER_KEYS;
    const canonical = table[key];
    if (canonical === undefined) {
      const other = section === "interface" ? PEER_KEYS[key] : INTERFACE_KEYS[key];
      fail(
        "unknown-key",
        lineNo,
        other
          ? `${other} belongs in ${section === "interface" ? "[Peer]" : "[Interface]"}, not ${section === "interface" ? "[Interface]" : "[Peer]"}`
          : `unknown key "${keyText}" in ${section === "interface" ? "[Interface]" : "[Peer]"} (valid: ${Object.values(table).join(", ")})`,
      );
    }
    const seen = section === "interface" ? ifaceSeen : peer!.seen;
    const first = seen.get(key);
    if (first !== undefined && !REPEATABLE.has(key)) {
      fail("duplicate", lineNo, `${canonical} is given twice in this section (first at line ${first})`);
    }
    seen.set(key, lineNo);
    const rawValue = stripped.slice(eq + 1);
    const value = VERBATIM.has(key) ? rawValue.trim() : rawValue.replace(/\s+/g, "");

    const readKey = (what: string): Uint8Array => {
      try {
        return keyFromBase64(value);
      } catch (e) {
        if (e instanceof KeyError) return fail("bad-key", lineNo, `${what}: ${e.message}`);
        throw e;
      }
    };
    const readPrefixes = (what: string): Cidr[] => {
      if (value === "") return [];
      return value.split(",").map((part) => {
        if (part === "") fail("bad-value", lineNo, `${what}: empty entry in a comma-separated list`);
        try {
          return parseCidr(part);
        } catch (e) {
          if (e instanceof CidrError) return fail("bad-value", lineNo, `${what}: ${e.message}`);
          throw e;
        }
      });
    };

    if (section === "interface") {
      switch (key) {
        case "privatekey":
          privateKey = readKey("PrivateKey");
          break;
        case "listenport": {
          const p = readInt(value, 0, 65535);
          if (p === undefined)
            fail("bad-value", lineNo, `ListenPort must be a port number 0..65535, got "${value}"`);
          listenPort = p === 0 ? undefined : p;
          break;
        }
        case "fwmark":
          if (
            value !== "off" &&
            readInt(value, 0, 0xffffffff) === undefined &&
            !/^0x[0-9a-fA-F]{1,8}$/.test(value)
          ) {
            fail("bad-value", lineNo, `FwMark must be a 32-bit number or "off", got "${value}"`);
          }
          notes.push({ line: lineNo, message: "FwMark has no meaning for a userspace endpoint; ignored" });
          break;
        case "address":
          for (const c of readPrefixes("Address")) addresses.push(c);
          break;
        case "mtu": {
          const v = readInt(value, 68, 65535);
          if (v === undefined) fail("bad-value", lineNo, `MTU must be a number 68..65535, got "${value}"`);
          mtu = v;
          break;
        }
        case "saveconfig":
          if (!/^(true|false)$/i.test(value)) fail("bad-value", lineNo, `SaveConfig must be true or false`);
          notes.push({
            line: lineNo,
            message: "SaveConfig is a wg-quick feature; vnet never rewrites the file",
          });
          break;
        default:
          // DNS, Table, Pre/Post Up/Down: wg-quick's system integration, which a userspace
          // endpoint has no business doing. Accepted so that a wg-quick file loads unchanged.
          notes.push({
            line: lineNo,
            message: `${canonical} is a wg-quick setting vnet does not apply; ignored`,
          });
      }
    } else {
      const p = peer!;
      switch (key) {
        case "publickey":
          p.publicKey = readKey("PublicKey");
          break;
        case "presharedkey":
          p.presharedKey = readKey("PresharedKey");
          break;
        case "allowedips":
          for (const c of readPrefixes("AllowedIPs")) {
            const m = maskCidr(c);
            if (!p.allowedIps.some((x) => formatCidr(x) === formatCidr(m))) p.allowedIps.push(m);
          }
          break;
        case "endpoint": {
          const ep = parseEndpoint(value);
          if (typeof ep === "string") fail("bad-value", lineNo, `Endpoint: ${ep}`);
          p.endpoint = ep as ConfigEndpoint;
          break;
        }
        case "persistentkeepalive": {
          const v = value.toLowerCase() === "off" ? 0 : readInt(value, 0, 65535);
          if (v === undefined) {
            fail(
              "bad-value",
              lineNo,
              `PersistentKeepalive must be seconds 0..65535 or "off", got "${value}"`,
            );
          }
          p.persistentKeepaliveSec = v!;
          break;
        }
      }
    }
  }

  if (ifaceLine === 0) fail("missing", 1, "no [Interface] section");
  if (!privateKey) fail("missing", ifaceLine, "[Interface] has no PrivateKey");
  const publicKey = publicKeyOf(privateKey!);

  const done: WgPeerConfig[] = [];
  const owner = new Map<string, number>();
  for (const p of peers) {
    if (!p.publicKey) fail("missing", p.line, "[Peer] has no PublicKey");
    if (keysEqual(p.publicKey!, publicKey)) {
      fail("duplicate", p.line, "this peer's PublicKey is the interface's own public key");
    }
    const twin = done.find((d) => keysEqual(d.publicKey, p.publicKey!));
    if (twin) fail("duplicate", p.line, `this peer's PublicKey is also the peer's at line ${twin.line}`);
    for (const c of p.allowedIps) {
      const k = formatCidr(c);
      const before = owner.get(k);
      if (before !== undefined) {
        notes.push({
          line: p.line,
          message: `AllowedIPs ${k} also belongs to the peer at line ${before}; this later peer takes it (as wg does)`,
        });
      }
      owner.set(k, p.line);
    }
    done.push({
      publicKey: p.publicKey!,
      presharedKey: p.presharedKey,
      allowedIps: p.allowedIps,
      endpoint: p.endpoint,
      persistentKeepaliveSec: p.persistentKeepaliveSec,
      line: p.line,
    });
  }
  // Cryptokey routing: an earlier peer loses the prefixes a later one takes.
  for (const d of done) {
    d.allowedIps.splice(
      0,
      d.allowedIps.length,
      ...d.allowedIps.filter((c) => owner.get(formatCidr(c)) === d.line),
    );
  }

  return {
    file,
    interface: { privateKey: privateKey!, publicKey, addresses, listenPort, mtu, line: ifaceLine },
    peers: done,
    notes,
  };
}

function readInt(text: string, min: number, max: number): number | undefined {
  if (!/^\d{1,10}$/.test(text)) return undefined;
  const v = Number(text);
  return v >= min && v <= max ? v : undefined;
}

const HOSTNAME_RE =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

/** Reads `host:port` or `[v6]:port`; returns the reason as a string when it is not one. */
export function parseEndpoint(text: string): ConfigEndpoint | string {
  let host: string;
  let portText: string;
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    if (close < 0 || text[close + 1] !== ":") return `"${text}" is not [IPv6]:port`;
    host = text.slice(1, close);
    portText = text.slice(close + 2);
    if (!tryParseIpv6(host)) return `"${host}" is not an IPv6 address`;
  } else {
    const colon = text.lastIndexOf(":");
    if (colon < 0) return `"${text}" needs a port (host:port, or [IPv6]:port)`;
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(":")) return `"${text}": write an IPv6 endpoint in brackets, [${host}]:${portText}`;
    if (tryParseIpv4(host) === undefined && (!HOSTNAME_RE.test(host) || /^[\d.]+$/.test(host))) {
      return `"${host}" is neither an IPv4 address nor a host name`;
    }
  }
  const port = readInt(portText, 1, 65535);
  if (port === undefined) return `the port must be 1..65535, got "${portText}"`;
  const family = tryParseIpv4(host) !== undefined ? 4 : host.includes(":") ? 6 : undefined;
  return { host, port, family };
}

export function formatEndpoint(ep: ConfigEndpoint): string {
  return ep.family === 6 ? `[${ep.host}]:${ep.port}` : `${ep.host}:${ep.port}`;
}

export interface FormatOptions {
  /** Only the keys `wg setconf` reads (no Address, MTU): for feeding the real wg tool. */
  readonly isForSetconf?: boolean;
}

/** The configuration as text that `parseWgConfig` (and wg/wg-quick) read back to the same thing. */
export function formatWgConfig(cfg: Omit<WgConfig, "file" | "notes">, opts: FormatOptions = {}): string {
  const out: string[] = ["[Interface]", `PrivateKey = ${keyToBase64(cfg.interface.privateKey)}`];
  if (cfg.interface.listenPort !== undefined) out.push(`ListenPort = ${cfg.interface.listenPort}`);
  if (!opts.isForSetconf) {
    if (cfg.interface.addresses.length > 0)
      out.push(`Address = ${cfg.interface.addresses.map(formatCidr).join(", ")}`);
    if (cfg.interface.mtu !== undefined) out.push(`MTU = ${cfg.interface.mtu}`);
  }
  for (const p of cfg.peers) {
    out.push("", "[Peer]", `PublicKey = ${keyToBase64(p.publicKey)}`);
    if (p.presharedKey) out.push(`PresharedKey = ${keyToBase64(p.presharedKey)}`);
    if (p.allowedIps.length > 0) out.push(`AllowedIPs = ${p.allowedIps.map(formatCidr).join(", ")}`);
    if (p.endpoint) out.push(`Endpoint = ${formatEndpoint(p.endpoint)}`);
    if (p.persistentKeepaliveSec > 0) out.push(`PersistentKeepalive = ${p.persistentKeepaliveSec}`);
  }
  return `${out.join("\n")}\n`;
}

/** A one-line, secret-free description of a peer for messages: its short public key and line. */
export function describePeer(p: WgPeerConfig): string {
  return `peer ${shortKey(p.publicKey)} (line ${p.line})`;
}
