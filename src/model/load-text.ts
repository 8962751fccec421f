/**
 * The topology loader, from text: YAML (with positions) -> shape check (zod, `schema.ts`) ->
 * meaning check and normalization (`normalize.ts`) -> `Topology`. Every finding becomes a
 * `Diagnostic` at `file:line:col`; any error throws one `TopologyError` carrying all of them,
 * sorted by place, and nothing is built. Before the full YAML parser runs, `yaml-bounds.ts`
 * refuses nesting and alias expansion beyond its limits, so no input can exhaust the stack or
 * the memory. Browser-safe: reading the file is `load.ts`'s job.
 */

import {
  type Document,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  Lexer,
  LineCounter,
  type Pair,
  parseDocument,
  type YAMLError,
  type YAMLMap,
  type Node as YamlNode,
} from "yaml";
import type * as z from "zod";
import {
  type Diagnostic,
  type DiagnosticCode,
  type DocPath,
  formatDocPath,
  printableDiagnostic,
  sortDiagnostics,
  TopologyError,
} from "./diagnostics.ts";
import { tryParseSimpleYaml } from "./fast-yaml.ts";
import { normalize, type RawDiagnostic } from "./normalize.ts";
import { listHint, showValue, type TopologyFile, TopologyFileSchema } from "./schema.ts";
import { hint } from "./suggest.ts";
import type { Topology } from "./types.ts";
import { aliasScan, type BoundFinding, nestingScan } from "./yaml-bounds.ts";

/**
 * The largest text the `yaml` package's full parser is run on: about 0.8 GB of heap and 10 s
 * here (it takes some 200 bytes of heap per byte of text), 2.4 times the generated 16,000-VM data
 * center. Larger files load through the fast reader only, so they must be plain YAML; their
 * diagnostics name the document path but no line (placing them needs the full parse).
 */
export const MAX_FULL_YAML_BYTES = 4 * 1024 * 1024;

export interface LoadResult {
  topology: Topology;
  warnings: Diagnostic[];
}

/**
 * The YAML document with positions; built only when a position is needed or the fast reader gave
 * up, and only on text whose nesting `nestingScan` (or the fast reader) has bounded.
 */
class Positions {
  readonly lineCounter = new LineCounter();
  /** Undefined for a text too large to parse fully: its diagnostics then have no line. */
  readonly doc: Document | undefined;
  /** Each alias's anchored node (from `aliasScan`); yaml's own lookup walks the document per call. */
  aliasTargets = new Map<YamlNode, YamlNode>();
  constructor(text: string | undefined) {
    if (text === undefined) return;
    this.doc = parseDocument(text, {
      lineCounter: this.lineCounter,
      prettyErrors: false,
      // yaml's own duplicate-key check compares every key with every other (quadratic in a
      // map's size: seconds for a map of 16,000 VMs); `duplicateKeys` below uses a set.
      uniqueKeys: false,
      merge: true,
      // yaml would print its warnings (a list used as a key) on the process's stderr.
      logLevel: "error",
    });
  }
  /** Per map, its pairs by key text (first of each), built on first use: a diagnostic per entry of a map of 100,000 would otherwise search it 100,000 times. */
  private readonly pairsByKey = new WeakMap<object, Map<string, Pair>>();
  pairOf(map: YAMLMap, key: string): Pair | undefined {
    let index = this.pairsByKey.get(map);
    if (index === undefined) {
      index = new Map();
      for (const pair of map.items) {
        const k = keyText(pair.key);
        if (k !== undefined && !index.has(k)) index.set(k, pair);
      }
      this.pairsByKey.set(map, index);
    }
    return index.get(key);
  }
  at(offset: number): { line: number; col: number } {
    if (this.doc === undefined) return { line: 0, col: 0 };
    const p = this.lineCounter.linePos(offset);
    return { line: p.line, col: p.col };
  }
}

/** Refuses the whole file with one diagnostic (control characters in it escaped). */
function refuse(d: Diagnostic): never {
  throw new TopologyError([d]);
}

/** Loads a topology from YAML text; throws `TopologyError` when the file has any error. */
export function loadTopologyText(text: string, sourcePath: string): LoadResult {
  // Most files are plain YAML that the fast reader handles; the full parser (and its positions)
  // is then needed only when there is something to report.
  const stop = { line: 0 };
  let data = tryParseSimpleYaml(text, stop);
  const isBig = text.length > MAX_FULL_YAML_BYTES;
  let positions: Positions | undefined;
  const pos = () => {
    positions ??= new Positions(isBig ? undefined : text);
    return positions;
  };
  if (data === undefined) {
    // The fast reader gave up (it also gives up on deep nesting), so the full parser, which
    // recurses per level, runs next: bound the nesting first, in one pass that cannot overflow.
    const deep = nestingScan(text);
    if (deep !== undefined) refuse(boundDiagnostic(deep, new LineCounterOf(text), sourcePath));
    if (isBig)
      refuse({
        file: sourcePath,
        line: stop.line,
        col: 1,
        path: "",
        message: `this file is ${(text.length / 1024 / 1024).toFixed(1)} MiB, and a topology file over ${MAX_FULL_YAML_BYTES / 1024 / 1024} MiB must be plain YAML (block maps and lists, one-line values, comments; no anchors, tags, tabs, multi-line values or document markers), which this line is not`,
        severity: "error",
        code: "file-too-large",
      });
    data = readFullYaml(pos(), sourcePath, text);
  }
  if (data === null || data === undefined) {
    throw new TopologyError([
      {
        file: sourcePath,
        line: 1,
        col: 1,
        path: "",
        message:
          "the file is empty; a topology needs at least name:, and usually servers:, switches: and links:",
        severity: "error",
        code: "empty-file",
      },
    ]);
  }

  const place = (
    code: DiagnosticCode,
    path: DocPath,
    where: "key" | "value",
    message: string,
    severity: Diagnostic["severity"],
  ) => {
    const p = pos();
    const { line, col } = p.at(locate(p, path, where));
    return { code, file: sourcePath, line, col, path: formatDocPath(path), message, severity };
  };

  let parsed: ReturnType<typeof TopologyFileSchema.safeParse>;
  try {
    parsed = TopologyFileSchema.safeParse(data, { error: genericMessage });
  } catch (e) {
    // zod gathers a node's issues with push(...issues): past about 100,000 in one list or map
    // (a huge file with the same mistake everywhere) that overflows the stack. Then only a
    // sample is checked and said to be one.
    if (!(e instanceof RangeError)) throw e;
    const sample = sampleOf(data, SAMPLE_VALUES);
    const raws: RawDiagnostic[] = [];
    const r = TopologyFileSchema.safeParse(sample, { error: genericMessage });
    if (!r.success) for (const iss of r.error.issues) zodToRaw(iss, [], sample, raws);
    const diags = dedupe(raws).map((r) => place(r.code, r.path, r.at, r.message, r.severity));
    diags.push({
      code: "bad-type",
      file: sourcePath,
      line: 0,
      col: 0,
      path: "",
      message: `too many mistakes to list: only the first ${SAMPLE_VALUES.toLocaleString("en-US")} values of the file were checked; fix these and check again`,
      severity: "error",
    });
    throw new TopologyError(sortDiagnostics(diags));
  }
  if (!parsed.success) {
    const raws: RawDiagnostic[] = [];
    for (const iss of parsed.error.issues) zodToRaw(iss, [], data, raws);
    // Meaning is still checked on the rest of the file, so that all errors come at once; its
    // warnings wait until the file is well-formed (some would only echo what was cut).
    const cut = cutToShape(data);
    if (cut !== null) {
      const r = normalize(cut.data, sourcePath, cut);
      for (const d of r.diagnostics) if (d.severity === "error") raws.push(d);
    }
    const diags = dedupe(raws).map((r) => place(r.code, r.path, r.at, r.message, r.severity));
    throw new TopologyError(sortDiagnostics(diags));
  }

  const { topology, diagnostics } = normalize(parsed.data, sourcePath);
  const diags = diagnostics.map((r) => place(r.code, r.path, r.at, r.message, r.severity));
  const errors = diags.filter((d) => d.severity === "error");
  // With errors, the warnings are left out: computed on a model with broken parts, they mostly
  // echo an error (a NIC "not cabled" because its link names an unknown node), and a warning
  // printed above the error that caused it misleads. They come back once the errors are fixed.
  if (errors.length > 0) throw new TopologyError(sortDiagnostics(errors));
  if (topology === null) throw new TopologyError(sortDiagnostics(diags));
  return { topology, warnings: sortDiagnostics(diags).map(printableDiagnostic) };
}

/** Line and column of offsets in a text, for findings made before (or without) the YAML document. */
class LineCounterOf {
  private readonly lc = new LineCounter();
  constructor(text: string) {
    this.lc.addNewLine(0);
    for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) this.lc.addNewLine(i + 1);
  }
  at(offset: number): { line: number; col: number } {
    return this.lc.linePos(offset);
  }
}

function boundDiagnostic(
  f: BoundFinding,
  lines: { at(offset: number): { line: number; col: number } },
  file: string,
): Diagnostic {
  const { line, col } = lines.at(f.offset);
  return { file, line, col, path: "", message: f.message, severity: "error", code: f.code };
}

/** Syntax errors, duplicate keys and alias bombs of the full YAML parse, then its data. */
function readFullYaml(p: Positions, sourcePath: string, text: string): unknown {
  const doc = p.doc as Document; // a text the full parser may read
  // Only the first syntax error: after it the parser's view of the structure is a guess, and
  // what follows is usually an echo of the same mistake.
  const first = doc.errors[0];
  if (first !== undefined) {
    // yaml notices an unclosed quote or bracket where the file ends or the block resumes; the
    // user needs the place where it was opened.
    const opened = isUnclosed(first) ? unclosedStart(text) : undefined;
    const { line, col } = opened ? p.at(opened.offset) : (first.linePos?.[0] ?? p.at(first.pos[0]));
    refuse({
      file: sourcePath,
      line,
      col,
      path: "",
      message: opened ? unclosedMessage(opened.opener) : yamlMessage(first),
      severity: "error",
      code: "yaml-syntax",
    });
  }
  const dups = duplicateKeys(doc).map((d) => {
    const { line, col } = p.at(d.offset);
    const first = p.at(d.firstOffset);
    return {
      file: sourcePath,
      line,
      col,
      path: "",
      message: `duplicate key '${d.key}' (first at line ${first.line}): each key may appear once in a map`,
      severity: "error" as const,
      code: "duplicate-key" as const,
    };
  });
  if (dups.length > 0) throw new TopologyError(sortDiagnostics(dups));
  // Aliases can expand exponentially ("billion laughs") or name the node they sit in; measured
  // here without expanding anything, so toJS never meets one it cannot afford.
  const scan = aliasScan(doc, text.length);
  if (scan.finding !== undefined) refuse(boundDiagnostic(scan.finding, p, sourcePath));
  p.aliasTargets = scan.targets;
  // yaml's own alias limit counts differently (and in a message of its own): aliasScan bounds it.
  try {
    return doc.toJS({ maxAliasCount: -1 });
  } catch {
    // A merge key (`<<`) whose value is not a map (or an alias of one) is refused by the yaml
    // package while it builds the data: name the first such key as the user wrote it.
    const at = text.search(/(^|[\s{,])<<\s*:/m);
    const { line, col } = at < 0 ? { line: 1, col: 1 } : p.at(at + (text[at] === "<" ? 0 : 1));
    refuse({
      file: sourcePath,
      line,
      col,
      path: "",
      message: "a merge key (<<) must name a map or an alias of one",
      severity: "error",
      code: "yaml-syntax",
    });
  }
}

// --- a sample of a file with too many mistakes ----------------------------------------------------

/** Values a sample holds: its mistakes are far fewer than the ~100,000 that overflow zod. */
const SAMPLE_VALUES = 5_000;

/**
 * The first `budget` values of `data`, breadth first: every list and map keeps a prefix of its
 * items (so paths into the sample are paths into the file) and loses the rest.
 */
function sampleOf(data: unknown, budget: number): unknown {
  const copy = (v: unknown): unknown =>
    v === null || typeof v !== "object" ? v : Array.isArray(v) ? [] : Object.create(null);
  const root = copy(data);
  let left = budget;
  const queue: [unknown, unknown][] = [[data, root]];
  for (let q = 0; q < queue.length && left > 0; q++) {
    const [from, to] = queue[q];
    if (Array.isArray(from)) {
      for (const item of from) {
        if (left-- <= 0) break;
        const c = copy(item);
        (to as unknown[]).push(c);
        queue.push([item, c]);
      }
    } else if (from !== null && typeof from === "object") {
      for (const [k, item] of Object.entries(from)) {
        if (left-- <= 0) break;
        const c = copy(item);
        (to as Record<string, unknown>)[k] = c;
        queue.push([item, c]);
      }
    }
  }
  return root;
}

// --- cutting a file to its well-formed part -----------------------------------------------------

/** Keys whose values map names to entities: an entry is the unit to cut. */
const RECORD_KEYS = new Set(["switches", "servers", "ports", "gateway", "vswitches", "portGroups", "vms"]);

/** The list item or named entry that holds `path` (a required key of it is missing or broken). */
function enclosingEntity(path: DocPath): DocPath {
  for (let i = path.length - 1; i >= 1; i--) {
    if (typeof path[i] === "number") return path.slice(0, i + 1);
    if (typeof path[i - 1] === "string" && RECORD_KEYS.has(path[i - 1] as string))
      return path.slice(0, i + 1);
  }
  return path.slice(0, 1);
}

function isPrefix(p: DocPath, of: DocPath): boolean {
  if (p.length > of.length) return false;
  for (let i = 0; i < p.length; i++) if (p[i] !== of[i]) return false;
  return true;
}

/** Later list items first, so cutting one does not move the next one to cut. */
function compareForCutting(a: DocPath, b: DocPath): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i];
    const y = b[i];
    if (x === y) continue;
    if (typeof x === "number" && typeof y === "number") return y - x;
    return String(x) < String(y) ? -1 : 1;
  }
  return b.length - a.length;
}

interface Cut {
  data: TopologyFile;
  translate: (path: DocPath) => DocPath;
  isPrunedUnder: (path: DocPath) => boolean;
}

/**
 * The file without the parts the shape check refuses: broken values and unknown keys removed,
 * entities that lack a required key (or whose required key is broken) removed whole, until
 * the schema accepts what is left. Null when nothing useful is left (the root itself is wrong).
 */
function cutToShape(original: unknown): Cut | null {
  if (original === null || typeof original !== "object" || Array.isArray(original)) return null;
  const work = structuredClone(original) as Record<string, unknown>;
  /** Per list (by identity): the original index of each remaining item. */
  const origIndex = new WeakMap<unknown[], number[]>();
  const pruned: DocPath[] = [];
  const translate = (path: DocPath): DocPath => {
    let node: unknown = work;
    const out: (string | number)[] = [];
    for (const seg of path) {
      if (Array.isArray(node) && typeof seg === "number") out.push(origIndex.get(node)?.[seg] ?? seg);
      else out.push(seg);
      node =
        node !== null && typeof node === "object"
          ? (node as Record<string | number, unknown>)[seg]
          : undefined;
    }
    return out;
  };

  for (let round = 0; round < 20; round++) {
    const r = TopologyFileSchema.safeParse(work);
    if (r.success)
      return {
        data: r.data,
        translate,
        isPrunedUnder: (path) => {
          const t = translate(path);
          return pruned.some((p) => isPrefix(p, t) || isPrefix(t, p));
        },
      };
    const targets: DocPath[] = [];
    for (const iss of r.error.issues) {
      const path = iss.path as (string | number)[];
      if (iss.code === "unrecognized_keys") for (const k of iss.keys) targets.push([...path, k]);
      // A required key that is absent (a union such as `faults[].at` reports it as invalid_union).
      else if (
        (iss.code === "invalid_type" || iss.code === "invalid_union") &&
        valueAt(work, path) === undefined
      ) {
        if (path.length === 1 && path[0] === "name") work.name = "unnamed";
        else targets.push(enclosingEntity(path));
      } else targets.push(path);
    }
    if (targets.length === 0 || targets.some((t) => t.length === 0)) return null;
    // Record every target in the user's coordinates before anything moves.
    const unique = [...new Map(targets.map((t) => [JSON.stringify(t), t])).values()].sort(compareForCutting);
    for (const t of unique) pruned.push(translate(t));
    for (const t of unique) {
      const parent = valueAt(work, t.slice(0, -1));
      const last = t[t.length - 1];
      if (Array.isArray(parent) && typeof last === "number") {
        if (last >= parent.length) continue;
        const idx = origIndex.get(parent) ?? parent.map((_, i) => i);
        parent.splice(last, 1);
        idx.splice(last, 1);
        origIndex.set(parent, idx);
      } else if (parent !== null && typeof parent === "object")
        delete (parent as Record<string, unknown>)[last];
    }
  }
  return null;
}

// --- YAML syntax errors -----------------------------------------------------------------------

function isUnclosed(e: YAMLError): boolean {
  return (
    (e.code === "MISSING_CHAR" && /closing ["']quote/.test(e.message)) ||
    (e.code === "BAD_INDENT" && /must be sufficiently indented and end with/.test(e.message))
  );
}

function unclosedMessage(opener: string): string {
  if (opener === '"' || opener === "'")
    return `YAML syntax: the ${opener} that opens this quoted value is never closed`;
  const closer = opener === "[" ? "]" : "}";
  return `YAML syntax: this ${opener} is not closed by a ${closer} (or a line inside it is not indented enough)`;
}

/** A CST token type (or source character) of the `yaml` package, as a user would name it. */
function tokenWords(type: string): string {
  const words: Record<string, string> = {
    "flow-map-end": "'}'",
    "flow-seq-end": "']'",
    "flow-map-start": "'{'",
    "flow-seq-start": "'['",
    "map-value-ind": "':'",
    "seq-item-ind": "'-'",
    "explicit-key-ind": "'?'",
    comma: "','",
    scalar: "text",
    "single-quoted-scalar": "a quoted value",
    "double-quoted-scalar": "a quoted value",
    "block-scalar": "a | or > block",
    "block-scalar-header": "a | or > block",
    "block-map": "a map",
    "block-seq": "a list",
    "flow-collection": "a [ ] or { }",
    alias: "an *alias",
    anchor: "an &anchor",
    tag: "a !tag",
    comment: "a comment",
    "doc-start": "'---'",
    "doc-end": "'...'",
    "directive-line": "a % directive",
  };
  return words[type] ?? (type.length === 1 ? `'${type}'` : "text");
}

/**
 * Where the first quoted value or flow bracket that is never closed was opened, from the lexer's
 * tokens (a loop, safe on any text); only asked when yaml reported one.
 */
function unclosedStart(text: string): { offset: number; opener: string } | undefined {
  const open: { offset: number; opener: string }[] = [];
  let offset = 0;
  for (const tok of new Lexer().lex(text)) {
    if (tok === "\x02" || tok === "\x1f") continue; // control tokens take no room in the text
    if (tok === "\x18") break; // the lexer gave up on an unterminated [ or {
    const at = offset;
    offset += tok.length;
    const c = tok[0];
    if (c === '"' || c === "'") {
      const isClosed =
        tok.length >= 2 &&
        tok.endsWith(c) &&
        (c === "'" || (tok.length - tok.replace(/\\*"$/, "").length) % 2 === 1);
      if (!isClosed) return { offset: at, opener: c };
    } else if (tok === "[" || tok === "{") open.push({ offset: at, opener: tok });
    else if (tok === "]" || tok === "}") open.pop();
  }
  return open.at(-1);
}

/**
 * A syntax error of the `yaml` package in vnet's words: its messages use the YAML spec's terms
 * ("flow sequence", "implicit key") and sometimes its own API ("use YAML.parseAllDocuments()").
 */
function yamlMessage(e: YAMLError): string {
  // yaml's messages end with " at line N, column M" plus a source excerpt; we give the place ourselves.
  const text = e.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "");
  const say = (m: string) => `YAML syntax: ${m}`;
  switch (e.code) {
    case "TAB_AS_INDENT":
      return say("tabs are not allowed for indentation; use spaces");
    case "MULTIPLE_DOCS":
      return say("a second document ('---' or '...' line) begins here; a topology file holds one");
    case "BAD_INDENT":
      if (/sequence items/i.test(text)) return say("the items of a list must start at the same column");
      if (/mapping items/i.test(text)) return say("the keys of a map must start at the same column");
      return say("this line is not indented like the lines around it");
    case "MULTILINE_IMPLICIT_KEY":
      return say("a key must be on one line (is a ':' missing on the line above?)");
    case "BLOCK_AS_IMPLICIT_KEY":
      return say(
        "a nested 'key: value' must be on a line of its own, under a key with nothing after its ':'",
      );
    case "BLOCK_IN_FLOW":
      return say("an indented block cannot appear inside [ ] or { }");
    case "MISSING_CHAR":
      if (/closing "quote/.test(text)) return say('a "quoted value is not closed');
      if (/closing 'quote/.test(text)) return say("a 'quoted value is not closed");
      if (/^Missing , or : between flow map/.test(text))
        return say("expected ',' or ':' between the entries of { }");
      if (/^Missing , between flow map/.test(text)) return say("expected ',' between the entries of { }");
      if (/^Missing , (or : )?between flow sequence/.test(text))
        return say("expected ',' between the items of [ ]");
      if (/^Missing space after : in/.test(text)) return say("a ':' in [ ] or { } needs a space after it");
      if (/followed by map values/.test(text)) return say("a key needs a ':' after it");
      if (/without - indicator/.test(text)) return say("a list item needs a '- ' before it");
      break;
    case "UNEXPECTED_TOKEN": {
      if (/^Unexpected empty item/.test(text))
        return say("an empty item in [ ] or { } (two commas in a row?)");
      if (/^Unexpected block-seq-ind on same line with key/.test(text))
        return say("a list cannot start on the line of its key; put its '- ' items on the lines below");
      if (/^Block scalar header includes extra characters/.test(text))
        return say("after | or > only an indentation digit and - or + may follow");
      const m =
        /^Unexpected (\S+)(?: token)?(?: in YAML (?:stream|document)| in flow (?:map|sequence)| in collection)?( at node end)?(?::.*)?$/.exec(
          text,
        );
      if (m) return say(`unexpected ${tokenWords(m[1])} ${m[2] ? "after the value" : "here"}`);
      break;
    }

    case "BAD_SCALAR_START":
      return say(`${lowerFirst(text.replace(/^Plain value/, "an unquoted value"))}; quote the value`);
    case "BAD_DQ_ESCAPE":
      return say(`${lowerFirst(text)} in a "quoted value"; write \\\\ for a backslash`);
    case "MULTIPLE_ANCHORS":
      return say("a value may have one &anchor");
    case "MULTIPLE_TAGS":
      return say("a value may have one !tag");
    case "ALIAS_PROPS":
      return say("an *alias cannot have an &anchor or a !tag");
    case "KEY_OVER_1024_CHARS":
      return say("a key longer than 1024 characters");
    case "RESOURCE_EXHAUSTION":
      return say("the YAML is too deeply nested");
  }
  return say(lowerFirst(text));
}

/** Keys that appear twice in one map (YAML 1.2 §3.2.1.1: mapping keys are unique), in one pass. */
function duplicateKeys(doc: Document): { key: string; offset: number; firstOffset: number }[] {
  const out: { key: string; offset: number; firstOffset: number }[] = [];
  const stack: unknown[] = [doc.contents];
  while (stack.length > 0) {
    const node = stack.pop();
    if (isMap(node)) {
      const seen = new Map<string, number>();
      for (const pair of node.items) {
        const k = keyText(pair.key);
        const offset = rangeStart(pair.key) ?? 0;
        if (k !== undefined && k !== "<<") {
          const first = seen.get(k);
          if (first !== undefined) out.push({ key: k, offset, firstOffset: first });
          else seen.set(k, offset);
        }
        stack.push(pair.value);
      }
    } else if (isSeq(node)) for (const item of node.items) stack.push(item);
  }
  return out;
}

// --- positions --------------------------------------------------------------------------------

/** The offset in the source of the node at `path` (its key when `where` is "key"), or of the deepest ancestor found. */
function locate(p: Positions, path: DocPath, where: "key" | "value"): number {
  if (p.doc === undefined) return 0;
  let node: unknown = p.doc.contents;
  let best = rangeStart(node) ?? 0;
  for (let i = 0; i < path.length; i++) {
    if (isAlias(node)) node = p.aliasTargets.get(node);
    const seg = path[i];
    if (isMap(node)) {
      const pair = p.pairOf(node, String(seg));
      if (pair === undefined) return best;
      const keyStart = rangeStart(pair.key);
      if (i === path.length - 1 && where === "key" && keyStart !== undefined) return keyStart;
      if (pair.value === null || pair.value === undefined) return keyStart ?? best;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === "number") {
      const item = node.items[seg];
      if (item === undefined) return best;
      node = item;
    } else return best;
    best = rangeStart(node) ?? best;
  }
  return best;
}

function keyText(k: unknown): string | undefined {
  if (isScalar(k)) return String(k.value);
  return undefined;
}

function rangeStart(n: unknown): number | undefined {
  const r = (n as YamlNode | null | undefined)?.range;
  return r ? r[0] : undefined;
}

// --- zod issues -> diagnostics ----------------------------------------------------------------

/**
 * The parse-wide error map: for every issue the schema has no message of its own for, a
 * marker our mapper recognizes, with what it needs (known keys for unknown-key issues).
 */
const GENERIC = "\u0000";
function genericMessage(iss: { code?: string; inst?: unknown }): string {
  const inst = iss.inst as
    | { description?: string; _zod?: { def?: { shape?: Record<string, unknown> } } }
    | undefined;
  if (iss.code === "unrecognized_keys") {
    const shape = inst?._zod?.def?.shape;
    return GENERIC + JSON.stringify(shape ? Object.keys(shape) : []);
  }
  return GENERIC + JSON.stringify(inst?.description ?? "");
}

function valueAt(root: unknown, path: DocPath): unknown {
  let v = root;
  for (const seg of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<string | number, unknown>)[seg];
  }
  return v;
}

const TYPE_WORDS: Record<string, string> = {
  string: "text",
  number: "a number",
  int: "a whole number",
  boolean: "true or false",
  object: "a map (key: value lines)",
  array: "a list",
  record: "a map (key: value lines)",
  tuple: "a list",
};

function describeGot(v: unknown): string {
  if (v === null) return "an empty value";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a map";
  return showValue(v);
}

const FIELD_KINDS: Record<string, DiagnosticCode> = {
  vlan: "bad-vlan",
  vlans: "bad-vlan",
  native: "bad-vlan",
  bandwidth: "bad-unit",
  delay: "bad-unit",
  loss: "bad-unit",
  mtu: "bad-unit",
  queue: "bad-unit",
  mac: "bad-mac",
  ip: "bad-address",
  gateway: "bad-address",
};

/** A wrong value's kind by the key it sits under (`vlan` -> bad-vlan), for scripts. */
function fieldKind(path: DocPath, kind: DiagnosticCode): DiagnosticCode {
  if (kind !== "bad-value" && kind !== "bad-type") return kind;
  for (let i = path.length - 1; i >= 0; i--) {
    const seg = path[i];
    if (typeof seg !== "string") continue;
    if (i > 0 && path[i - 1] === "gateway") return "bad-address"; // a switch's SVI: `10: 192.168.10.1/24`
    return FIELD_KINDS[seg] ?? kind;
  }
  return kind;
}

function zodToRaw(iss: z.core.$ZodIssue, base: DocPath, data: unknown, out: RawDiagnostic[]): void {
  const path: DocPath = [...base, ...(iss.path as (string | number)[])];
  const kind: DiagnosticCode =
    iss.code === "unrecognized_keys"
      ? "unknown-key"
      : iss.code === "invalid_key"
        ? "bad-name"
        : iss.code === "invalid_type" || iss.code === "invalid_union"
          ? "bad-type"
          : "bad-value";
  const push = (
    at: DocPath,
    where: "key" | "value",
    message: string,
    code: DiagnosticCode = fieldKind(path, kind),
  ) => {
    const shown = formatDocPath(at);
    out.push({
      code,
      path: at,
      at: where,
      message: shown === "" ? message : `${shown}: ${message}`,
      severity: "error",
    });
  };
  const isGeneric = iss.message.startsWith(GENERIC);

  if (iss.code === "invalid_union") {
    // Pick the branch whose own type matched (the user wrote a map, so the map branch's
    // complaints are the useful ones); when none matched, the union's message says what fits.
    const isTypeMiss = (b: z.core.$ZodIssue[]) =>
      b.some((e) => e.code === "invalid_type" && e.path.length === 0);
    const branches = iss.errors.filter((b) => !isTypeMiss(b));
    // A branch that refused the value itself, as a whole, would hide what the other branches
    // take: a literal or enum ("all") refusing "10,20" says nothing of the list `vlans` also
    // takes, nor an address refusing "a, b" of the list `via` takes. The union's message names
    // every form.
    const isListElsewhere = iss.errors.some((b) =>
      b.some((e) => e.code === "invalid_type" && e.path.length === 0 && e.expected === "array"),
    );
    const isWholeRefusal = (b: z.core.$ZodIssue[]) =>
      b.every((e) => e.path.length === 0) && (b.some((e) => e.code === "invalid_value") || isListElsewhere);
    if (branches.length > 0 && !isGeneric && !branches.every(isWholeRefusal)) {
      const best = branches.filter((b) => !isWholeRefusal(b)).reduce((a, b) => (b.length < a.length ? b : a));
      for (const e of best) zodToRaw(e, path, data, out);
      return;
    }
    push(path, "value", isGeneric ? `unexpected ${describeGot(valueAt(data, path))}` : iss.message);
    return;
  }
  if (iss.code === "unrecognized_keys") {
    const known: string[] = isGeneric ? JSON.parse(iss.message.slice(1)) : [];
    for (const k of iss.keys) push([...path, k], "key", `unknown key '${k}'${hint(k, known)}`);
    return;
  }
  const v = valueAt(data, path);
  if (iss.code === "invalid_type" && v === undefined && path.length > 0) {
    // A required key is absent: point at the map that lacks it and say what belongs there.
    const key = String(path[path.length - 1]);
    const what = lowerFirst(
      isGeneric
        ? (JSON.parse(iss.message.slice(1)) as string).replace(/\.$/, "")
        : iss.message.replace(/, got nothing$/, ""),
    );
    push(
      path.slice(0, -1),
      "value",
      `missing required key '${key}'${what ? ` (${what})` : ""}`,
      "missing-key",
    );
    return;
  }
  if (!isGeneric) {
    push(path, "value", iss.message);
    return;
  }
  switch (iss.code) {
    case "invalid_type": {
      const want = TYPE_WORDS[iss.expected] ?? iss.expected;
      // `name:x` is one plain value to YAML, not a key and its value.
      const colon =
        typeof v === "string" &&
        (iss.expected === "object" || iss.expected === "record") &&
        /^[^\s:#]+:\S/.test(v)
          ? "; YAML needs a space after the ':' of a key"
          : "";
      push(
        path,
        "value",
        `expected ${want}, got ${describeGot(v)}${colon}${iss.expected === "array" && typeof v === "string" ? listHint(v) : ""}`,
      );
      return;
    }
    case "too_small":
      push(path, "value", `${describeGot(v)} is too small: at least ${String(iss.minimum)}`);
      return;
    case "too_big":
      push(path, "value", `${describeGot(v)} is too big: at most ${String(iss.maximum)}`);
      return;
    case "invalid_value":
      push(path, "value", `${describeGot(v)} is not one of ${iss.values.map((x) => String(x)).join(", ")}`);
      return;
    case "invalid_key": {
      const inner = iss.issues.find((x) => !x.message.startsWith(GENERIC));
      push(
        path,
        "key",
        inner ? inner.message : `invalid key ${JSON.stringify(String(path[path.length - 1]))}`,
      );
      return;
    }
    default:
      push(path, "value", `invalid value ${describeGot(v)}`);
  }
}

/** "The VM's NICs" -> "the VM's NICs", but "VLAN ids" stays. */
function lowerFirst(t: string): string {
  return /^[A-Z][a-z]/.test(t) ? t.charAt(0).toLowerCase() + t.slice(1) : t;
}

/** One message per place and text (unions can report the same issue twice). */
function dedupe(raws: RawDiagnostic[]): RawDiagnostic[] {
  const seen = new Set<string>();
  return raws.filter((r) => {
    const k = `${formatDocPath(r.path)}\u0001${r.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
