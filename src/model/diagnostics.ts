/**
 * Diagnostics of the topology loader: one record per mistake (or warning) in a topology file,
 * with its place (`file:line:col`), the document path (`servers.server1.vms.vm2.nics[0]`) and a
 * message that says what would be valid. `TopologyError` carries all of a file's errors at once;
 * the loader throws it and nothing is built. Messages quote the user's text (a key, a value, a
 * file name), so every diagnostic leaving here has its terminal control characters escaped: a
 * file cannot clear the screen or reorder a line of the terminal that checks it. Browser-safe.
 */

export type Severity = "error" | "warning";

/**
 * What kind of mistake, for scripts (`vnet check --json`) that should not match message text.
 * Shape: the YAML or the schema. Meaning: names, addresses, VLANs, cabling.
 */
export type DiagnosticCode =
  | "unreadable-file"
  | "file-too-large"
  | "bad-encoding"
  | "empty-file"
  | "yaml-syntax"
  | "yaml-nesting"
  | "yaml-expansion"
  | "yaml-alias"
  | "yaml-key"
  | "duplicate-key"
  | "missing-key"
  | "unknown-key"
  | "bad-type"
  | "bad-value"
  | "bad-name"
  | "duplicate-name"
  | "unknown-name"
  | "ambiguous-name"
  | "bad-vlan"
  | "port-config"
  | "bad-mac"
  | "duplicate-mac"
  | "bad-address"
  | "duplicate-ip"
  | "subnet-overlap"
  | "bad-gateway"
  | "nic-in-use"
  | "nic-attachment"
  | "no-sriov"
  | "too-many-vfs"
  | "mac-table-too-small"
  | "link-to-self"
  | "link-to-vm"
  | "port-in-use"
  | "bad-unit"
  | "vlan-not-carried"
  | "l2-loop"
  | "lag-config"
  | "teaming-config"
  | "mlag-config"
  | "route-config"
  | "tunnel-config"
  | "vpn-config"
  | "nat-config"
  // warnings
  | "vpn-key-mismatch"
  | "vpn-no-endpoint"
  | "teaming-needs-port-channel"
  | "port-channel-needs-teaming"
  | "lacp-no-partner"
  | "lag-split"
  | "overlay-mtu"
  | "gateway-outside-subnet"
  | "gateway-wrong-vlan"
  | "gateway-unknown"
  | "gateway-unreachable"
  | "subnet-mismatch"
  | "vlan-mismatch"
  | "uncabled"
  | "vlan-hopping-risk"
  | "stp-config";

export interface Diagnostic {
  code: DiagnosticCode;
  file: string;
  /** 1-based; 0 when the place is unknown (the file as a whole). */
  line: number;
  col: number;
  /** The document path, e.g. `servers.server1.vms.vm2.nics[0].portGroup` ("" for the whole file). */
  path: string;
  /** Starts with the path when there is one; says what is wrong and what would be valid. */
  message: string;
  severity: Severity;
}

/** A path into the document, as keys and list indexes. */
export type DocPath = readonly (string | number)[];

const PLAIN_KEY = /^[A-Za-z0-9_-]+$/;

/** `["servers","server1","vms","vm2","nics",0,"portGroup"]` -> `servers.server1.vms.vm2.nics[0].portGroup`. */
export function formatDocPath(path: DocPath): string {
  let s = "";
  for (const seg of path) {
    if (typeof seg === "number") s += `[${seg}]`;
    else if (PLAIN_KEY.test(seg)) s += s === "" ? seg : `.${seg}`;
    else s += `[${quoteText(seg)}]`;
  }
  return s;
}

/**
 * Characters a terminal acts on rather than shows: C0 controls (ESC starts the sequences that
 * move the cursor, recolour or clear), DEL, C1 controls (0x9b is a one-byte CSI), and the Unicode
 * controls that reorder or break a line (bidirectional embeddings, overrides and isolates, the
 * marks, line and paragraph separators: the "Trojan Source" characters, CVE-2021-42574).
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
const UNPRINTABLE_ALL = new RegExp(UNPRINTABLE.source, "g");

const NAMED_ESCAPES: Record<string, string> = { "\t": "\\t", "\n": "\\n", "\r": "\\r" };

/** One unprintable character as text: `\x1b`, `\u202e`, `\n`. */
export function escapeChar(c: string): string {
  const named = NAMED_ESCAPES[c];
  if (named !== undefined) return named;
  const n = c.charCodeAt(0);
  return n <= 0xff ? `\\x${n.toString(16).padStart(2, "0")}` : `\\u${n.toString(16).padStart(4, "0")}`;
}

/** `text` with every unprintable character escaped (`\x1b`), safe to print on a terminal. */
export function escapeUnprintable(text: string): string {
  return UNPRINTABLE.test(text) ? text.replace(UNPRINTABLE_ALL, escapeChar) : text;
}

/** The first unprintable character of `text` (index in UTF-16 units) except those in `allowed`, or undefined. */
export function firstUnprintable(text: string, allowed = ""): { index: number; char: string } | undefined {
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (UNPRINTABLE.test(c) && !allowed.includes(c)) return { index: i, char: c };
  }
  return undefined;
}

/** A user's text in double quotes, as JSON would write it but with control characters as `\x1b`. */
export function quoteText(text: string): string {
  return `"${escapeUnprintable(text.replace(/[\\"]/g, "\\$&"))}"`;
}

/** The diagnostic with the user's text in it (file name, path, message) made printable. */
export function printableDiagnostic(d: Diagnostic): Diagnostic {
  const file = escapeUnprintable(d.file);
  const path = escapeUnprintable(d.path);
  const message = escapeUnprintable(d.message);
  return file === d.file && path === d.path && message === d.message ? d : { ...d, file, path, message };
}

export function formatDiagnostic(d: Diagnostic): string {
  const where = d.line > 0 ? `${d.file}:${d.line}:${d.col}` : d.file;
  return `${where}: ${d.severity === "warning" ? "warning: " : ""}${d.message}`;
}

/** Orders diagnostics by place in the file, then by message, so output is stable. */
export function sortDiagnostics(ds: Diagnostic[]): Diagnostic[] {
  return ds.sort(
    (a, b) =>
      a.line - b.line || a.col - b.col || (a.message < b.message ? -1 : a.message > b.message ? 1 : 0),
  );
}

/**
 * A topology file that cannot be used; `diagnostics` holds every error found (and the warnings),
 * their text made printable.
 */
export class TopologyError extends Error {
  override readonly name = "TopologyError";
  readonly code = "topology-invalid";
  readonly diagnostics: readonly Diagnostic[];
  readonly errors: readonly Diagnostic[];
  readonly warnings: readonly Diagnostic[];
  constructor(found: readonly Diagnostic[]) {
    const diagnostics = found.map(printableDiagnostic);
    const errors = diagnostics.filter((d) => d.severity === "error");
    super(
      errors.length === 0
        ? "invalid topology"
        : errors.length === 1
          ? formatDiagnostic(errors[0])
          : `${errors.map(formatDiagnostic).join("\n")}\n${errors.length} errors`,
    );
    this.diagnostics = diagnostics;
    this.errors = errors;
    this.warnings = diagnostics.filter((d) => d.severity === "warning");
  }
}
