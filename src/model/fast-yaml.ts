/**
 * A fast reader for the plain subset of YAML that topology files (and the generator) use:
 * block maps and sequences by indentation, one-line flow collections, plain and quoted
 * one-line scalars typed by the YAML 1.2 core schema, comments. It exists because the `yaml`
 * library's full parser (kept for every diagnostic position) spends about two seconds of CPU
 * on a 16,000-VM file; this reader takes a tenth of that. It gives up (returns undefined) on
 * anything outside the subset (anchors, aliases, tags, block scalars, multi-line scalars,
 * complex keys, documents, tabs, duplicate keys, escapes it does not know, odd keys, nesting
 * beyond `MAX_NESTING`) and the loader then uses `yaml` (behind the bounds of yaml-bounds.ts),
 * so it never has to be right about the rest of YAML, and it never recurses deeply; where it
 * answers, it answers what `yaml`'s `toJS()` would (property-tested against it).
 * Browser-safe.
 */

import { MAX_NESTING } from "./yaml-bounds.ts";

/** Thrown inside to give up; never escapes `tryParseSimpleYaml`. */
class Unsupported extends Error {}
const UNSUPPORTED = new Unsupported("unsupported");

interface Line {
  /** 1-based line number in the text. */
  no: number;
  indent: number;
  /** The content after the indentation, comment not yet removed. */
  text: string;
}

const NULL_RE = /^(?:~|null|Null|NULL)$/;
const TRUE_RE = /^(?:true|True|TRUE)$/;
const FALSE_RE = /^(?:false|False|FALSE)$/;
const INT_RE = /^[-+]?[0-9]+$/;
const FLOAT_RE = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$/;
/** Forms of the core schema this reader does not type itself (octal, hex, .inf, .nan). */
const OTHER_CORE_RE = /^(?:[-+]?0o|0x|[-+]?\.(?:inf|Inf|INF)$|\.(?:nan|NaN|NAN)$)/;
/** Keys whose text is also what a JS object key made from `yaml`'s typed key would be. */
const KEY_RE = /^(?:[A-Za-z_][A-Za-z0-9_./-]*|0|[1-9][0-9]*)$/;
const RESERVED_KEY_RE = /^(?:null|Null|NULL|true|True|TRUE|false|False|FALSE)$/;

/** Types a plain scalar as the YAML 1.2 core schema does. */
function plainValue(s: string): unknown {
  if (s === "" || NULL_RE.test(s)) return null;
  if (TRUE_RE.test(s)) return true;
  if (FALSE_RE.test(s)) return false;
  if (OTHER_CORE_RE.test(s)) throw UNSUPPORTED;
  if (INT_RE.test(s)) {
    const n = Number(s);
    if (!Number.isSafeInteger(n)) throw UNSUPPORTED;
    return n;
  }
  if (FLOAT_RE.test(s)) return Number(s);
  return s;
}

function checkKey(k: string): string {
  if (!KEY_RE.test(k) || RESERVED_KEY_RE.test(k)) throw UNSUPPORTED;
  return k;
}

/** Characters that may not begin a plain scalar (YAML 1.2 §7.3.3 c-indicator), besides "-" handled apart. */
const INDICATOR_START = new Set([
  "?",
  ":",
  ",",
  "[",
  "]",
  "{",
  "}",
  "#",
  "&",
  "*",
  "!",
  "|",
  ">",
  "'",
  '"',
  "%",
  "@",
  "`",
]);

/** Index of a comment start ("#" after a space) outside quotes, or -1. */
function commentStart(text: string, from: number): number {
  for (let i = from; i < text.length; i++) {
    const c = text[i];
    if (c === "#" && (i === 0 || text[i - 1] === " ")) return i;
    if (c === '"' || c === "'") throw UNSUPPORTED; // quotes after a plain start: leave to yaml
  }
  return -1;
}

/**
 * Gives up beyond `MAX_NESTING` levels: the full reader then places the refusal (see
 * yaml-bounds.ts), and this reader's recursion stays shallow whatever the input.
 */
function enterLevel(depth: number): number {
  if (depth >= MAX_NESTING) throw UNSUPPORTED;
  return depth + 1;
}

/** A one-line scalar or flow collection that is a whole value (rest of a line), `depth` levels down. */
function inlineValue(raw: string, depth: number): unknown {
  const text = raw.trim();
  if (text === "") return null;
  const c = text[0];
  if (c === "{" || c === "[") {
    const p = new FlowParser(text, depth);
    const v = p.value();
    p.skipSpaces();
    if (p.i < text.length) {
      if (text[p.i] === "#" && text[p.i - 1] === " ") return v;
      throw UNSUPPORTED;
    }
    return v;
  }
  if (c === '"' || c === "'") {
    const [v, end] = c === '"' ? doubleQuoted(text, 0) : singleQuoted(text, 0);
    const rest = text.slice(end);
    // Only a comment may follow, and YAML wants white space before its "#".
    if (rest.trim() !== "" && !(rest[0] === " " && rest.trimStart().startsWith("#"))) throw UNSUPPORTED;
    return v;
  }
  if (INDICATOR_START.has(c) || (c === "-" && (text.length === 1 || text[1] === " "))) throw UNSUPPORTED;
  const hash = commentStart(text, 0);
  const s = (hash < 0 ? text : text.slice(0, hash)).trimEnd();
  if (s.includes(": ") || s.endsWith(":") || s.includes(" #")) throw UNSUPPORTED;
  return plainValue(s);
}

const ESCAPES: Record<string, string> = {
  '"': '"',
  "\\": "\\",
  "/": "/",
  n: "\n",
  t: "\t",
  r: "\r",
  "0": "\0",
};

/** A double-quoted scalar starting at `i`; returns the value and the index after the closing quote. */
function doubleQuoted(text: string, i: number): [string, number] {
  let out = "";
  for (let j = i + 1; j < text.length; j++) {
    const c = text[j];
    if (c === '"') return [out, j + 1];
    if (c === "\\") {
      const e = ESCAPES[text[j + 1]];
      if (e === undefined) throw UNSUPPORTED;
      out += e;
      j++;
    } else out += c;
  }
  throw UNSUPPORTED; // a multi-line quoted scalar
}

function singleQuoted(text: string, i: number): [string, number] {
  let out = "";
  for (let j = i + 1; j < text.length; j++) {
    const c = text[j];
    if (c === "'") {
      if (text[j + 1] === "'") {
        out += "'";
        j++;
        continue;
      }
      return [out, j + 1];
    }
    out += c;
  }
  throw UNSUPPORTED;
}

/** One-line flow collections: `{ a: 1, b: [x, y] }`. */
class FlowParser {
  i = 0;
  constructor(
    private readonly s: string,
    /** Levels of nesting around the collection being read. */
    private depth: number,
  ) {}

  skipSpaces(): void {
    while (this.s[this.i] === " ") this.i++;
  }

  value(): unknown {
    this.skipSpaces();
    const c = this.s[this.i];
    if (c === "{") return this.map();
    if (c === "[") return this.seq();
    if (c === '"' || c === "'") {
      const [v, end] = c === '"' ? doubleQuoted(this.s, this.i) : singleQuoted(this.s, this.i);
      this.i = end;
      return v;
    }
    return plainValue(this.plain());
  }

  /** A plain scalar in flow context: up to , ] } or ": ", no comment inside. */
  private plain(): string {
    const start = this.i;
    const c = this.s[start];
    // "-" starts a plain scalar only before a safe character (YAML 1.2 §7.3.3 ns-plain-first).
    const next = this.s[start + 1];
    if (
      c === undefined ||
      INDICATOR_START.has(c) ||
      (c === "-" && (next === undefined || " ,[]{}".includes(next)))
    )
      throw UNSUPPORTED;
    for (; this.i < this.s.length; this.i++) {
      const d = this.s[this.i];
      if (d === "," || d === "]" || d === "}" || d === "[" || d === "{") break;
      // ":" ends a key when a space, a flow indicator or the end follows (YAML 1.2 §7.3.3).
      if (d === ":" && (this.i + 1 === this.s.length || " ,[]{}".includes(this.s[this.i + 1]))) break;
      if (d === "#" && this.s[this.i - 1] === " ") throw UNSUPPORTED;
      if (d === '"' || d === "'") throw UNSUPPORTED;
    }
    return this.s.slice(start, this.i).trimEnd();
  }

  private map(): Record<string, unknown> {
    this.i++; // {
    this.depth = enterLevel(this.depth);
    const out: Record<string, unknown> = {};
    this.skipSpaces();
    if (this.s[this.i] === "}") {
      this.i++;
      this.depth--;
      return out;
    }
    for (;;) {
      this.skipSpaces();
      const key = checkKey(this.plain());
      if (this.s[this.i] !== ":") throw UNSUPPORTED; // `{ a }`: a key without value
      this.i++;
      if (Object.hasOwn(out, key)) throw UNSUPPORTED;
      this.skipSpaces();
      const next = this.s[this.i];
      out[key] = next === "," || next === "}" ? null : this.value();
      this.skipSpaces();
      const sep = this.s[this.i++];
      if (sep === "}") {
        this.depth--;
        return out;
      }
      if (sep !== ",") throw UNSUPPORTED;
      this.skipSpaces();
      if (this.s[this.i] === "}") throw UNSUPPORTED; // trailing comma
    }
  }

  private seq(): unknown[] {
    this.i++; // [
    this.depth = enterLevel(this.depth);
    const out: unknown[] = [];
    this.skipSpaces();
    if (this.s[this.i] === "]") {
      this.i++;
      this.depth--;
      return out;
    }
    for (;;) {
      const v = this.value();
      this.skipSpaces();
      if (this.s[this.i] === ":") throw UNSUPPORTED; // `[a: b]`: a one-pair map in a sequence
      out.push(v);
      const sep = this.s[this.i++];
      if (sep === "]") {
        this.depth--;
        return out;
      }
      if (sep !== ",") throw UNSUPPORTED;
      this.skipSpaces();
      if (this.s[this.i] === "]") throw UNSUPPORTED;
    }
  }
}

/** Block structure over the significant lines. */
class BlockParser {
  pos = 0;
  /** Index of the line being read (where the reader gives up, if it does). */
  at = 0;
  /** Levels of nesting around the node being read. */
  private depth = 0;
  constructor(private readonly lines: Line[]) {}

  /** The node whose first line is at `this.pos` and has exactly `indent`. */
  node(indent: number): unknown {
    const line = this.lines[this.pos];
    if (line.text === "-" || line.text.startsWith("- ")) return this.seq(indent);
    return this.map(indent);
  }

  private seq(indent: number): unknown[] {
    this.depth = enterLevel(this.depth);
    const out: unknown[] = [];
    while (this.pos < this.lines.length) {
      const line = this.lines[this.pos];
      this.at = this.pos;
      if (line.indent < indent) break;
      if (line.indent > indent) throw UNSUPPORTED;
      if (!(line.text === "-" || line.text.startsWith("- "))) break;
      const rest = line.text.slice(1);
      const trimmed = rest.trimStart();
      if (trimmed === "" || trimmed.startsWith("#")) {
        this.pos++;
        out.push(this.nested(indent, true));
        continue;
      }
      const childIndent = indent + 1 + (rest.length - trimmed.length);
      if (startsMapEntry(trimmed) || trimmed.startsWith("- ") || trimmed === "-") {
        // A compact nested node: read it as if it began on its own line at its column.
        this.lines[this.pos] = { no: line.no, indent: childIndent, text: trimmed };
        out.push(this.node(childIndent));
      } else {
        this.pos++;
        out.push(inlineValue(trimmed, this.depth));
        this.noContinuation(indent);
      }
    }
    this.depth--;
    return out;
  }

  private map(indent: number): Record<string, unknown> {
    this.depth = enterLevel(this.depth);
    const out: Record<string, unknown> = {};
    while (this.pos < this.lines.length) {
      const line = this.lines[this.pos];
      this.at = this.pos;
      if (line.indent < indent) break;
      if (line.indent > indent) throw UNSUPPORTED;
      if (line.text === "-" || line.text.startsWith("- ")) break;
      const colon = mapColon(line.text);
      if (colon < 0) throw UNSUPPORTED;
      const key = checkKey(line.text.slice(0, colon));
      if (Object.hasOwn(out, key)) throw UNSUPPORTED;
      const rest = line.text.slice(colon + 1);
      this.pos++;
      const trimmed = rest.trim();
      if (trimmed === "" || trimmed.startsWith("#")) out[key] = this.nested(indent, false);
      else {
        out[key] = inlineValue(trimmed, this.depth);
        this.noContinuation(indent);
      }
    }
    this.depth--;
    return out;
  }

  /** The value of a key or dash whose line ended after it: an indented node, a sequence at the key's indent, or null. */
  private nested(indent: number, isSeqItem: boolean): unknown {
    const next = this.lines[this.pos];
    if (next === undefined) return null;
    if (next.indent > indent) return this.node(next.indent);
    // YAML lets a map value be a block sequence at the key's own indentation.
    if (!isSeqItem && next.indent === indent && (next.text === "-" || next.text.startsWith("- ")))
      return this.seq(indent);
    return null;
  }

  /** After a one-line value, a more indented line would be a multi-line scalar: not ours. */
  private noContinuation(indent: number): void {
    const next = this.lines[this.pos];
    if (next !== undefined && next.indent > indent) {
      this.at = this.pos;
      throw UNSUPPORTED;
    }
  }
}

/** Whether `text` begins with `key:` (a map entry), as opposed to a scalar. */
function startsMapEntry(text: string): boolean {
  return mapColon(text) > 0;
}

/** Index of the ": " (or final ":") that ends a block map key, or -1 when the line is no entry. */
function mapColon(text: string): number {
  const c = text[0];
  if (c === undefined || c === '"' || c === "'" || c === "?" || c === "{" || c === "[") return -1;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === ":" && (i + 1 === text.length || text[i + 1] === " ")) return i;
    if (text[i] === "#" && i > 0 && text[i - 1] === " ") return -1;
  }
  return -1;
}

/** The 1-based line of offset `i` in `text`. */
function lineOf(text: string, i: number): number {
  let n = 1;
  for (let j = text.indexOf("\n"); j >= 0 && j < i; j = text.indexOf("\n", j + 1)) n++;
  return n;
}

/**
 * Parses text in the plain subset and returns what `yaml`'s `parseDocument(text).toJS()` would,
 * or undefined when the text uses anything else (then use `yaml`); `stop.line` then says on
 * which line it gave up.
 */
export function tryParseSimpleYaml(text: string, stop: { line: number } = { line: 0 }): unknown {
  for (const c of ["\t", "\r", "\uFEFF"]) {
    const i = text.indexOf(c);
    if (i >= 0) {
      stop.line = lineOf(text, i);
      return undefined;
    }
  }
  const lines: Line[] = [];
  let start = 0;
  let no = 0;
  while (start <= text.length) {
    let end = text.indexOf("\n", start);
    if (end < 0) end = text.length;
    const raw = text.slice(start, end);
    start = end + 1;
    no++;
    let indent = 0;
    while (raw.charCodeAt(indent) === 32) indent++;
    const body = raw.slice(indent).trimEnd();
    if (body === "" || body[0] === "#") continue;
    // Document markers and directives belong to full YAML.
    if (indent === 0 && (body.startsWith("---") || body.startsWith("...") || body[0] === "%")) {
      stop.line = no;
      return undefined;
    }
    lines.push({ no, indent, text: body });
  }
  if (lines.length === 0) return null;
  const p = new BlockParser(lines);
  try {
    const first = lines[0];
    let v: unknown;
    if (first.indent === 0 && (mapColon(first.text) > 0 || first.text === "-" || first.text.startsWith("- ")))
      v = p.node(0);
    else if (lines.length === 1 && first.indent === 0) {
      v = inlineValue(first.text, 0);
      p.pos = 1;
    } else {
      stop.line = first.no;
      return undefined;
    }
    if (p.pos !== lines.length) {
      stop.line = lines[p.pos].no;
      return undefined;
    }
    return v;
  } catch (e) {
    if (!(e instanceof Unsupported)) throw e;
    stop.line = lines[Math.min(p.at, lines.length - 1)].no;
    return undefined;
  }
}
