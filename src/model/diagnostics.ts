/**
 * Diagnostics of the topology loader: one record per mistake (or warning) in a topology file,
 * with its place (`file:line:col`), the document path (`servers.server1.vms.vm2.nics[0]`) and a
 * message that says what would be valid. `TopologyError` carries all of a file's errors at once;
 * the loader throws it and nothing is built. Browser-safe.
 */

export type Severity = "error" | "warning";

/**
 * What kind of mistake, for scripts (`vnet check --json`) that should not match message text.
 * Shape: the YAML or the schema. Meaning: names, addresses, VLANs, cabling.
 */
export type DiagnosticCode =
  | "unreadable-file"
  | "empty-file"
  | "yaml-syntax"
  | "yaml-expansion"
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
  // warnings
  | "gateway-outside-subnet"
  | "gateway-wrong-vlan"
  | "gateway-unknown"
  | "gateway-unreachable"
  | "subnet-mismatch"
  | "vlan-mismatch"
  | "uncabled";

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
    else s += `[${JSON.stringify(seg)}]`;
  }
  return s;
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

/** A topology file that cannot be used; `diagnostics` holds every error found (and the warnings). */
export class TopologyError extends Error {
  override readonly name = "TopologyError";
  readonly code = "topology-invalid";
  readonly errors: readonly Diagnostic[];
  readonly warnings: readonly Diagnostic[];
  constructor(readonly diagnostics: readonly Diagnostic[]) {
    const errors = diagnostics.filter((d) => d.severity === "error");
    super(
      errors.length === 0
        ? "invalid topology"
        : errors.length === 1
          ? formatDiagnostic(errors[0])
          : `${errors.map(formatDiagnostic).join("\n")}\n${errors.length} errors`,
    );
    this.errors = errors;
    this.warnings = diagnostics.filter((d) => d.severity === "warning");
  }
}
