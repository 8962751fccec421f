/**
 * Bounds on what a topology file's YAML may cost, checked before anything recursive or expanding
 * touches it. The `yaml` package's parser, composer and `toJS`, the fast reader and zod all
 * recurse once per level of nesting, so a file nested thousands of levels deep overflows the
 * stack; and YAML aliases let a few kilobytes name millions of values ("billion laughs"), which
 * the loader would then build. Both are refused here with the place where the file goes too far:
 *
 * - `nestingScan(text)` runs before the full parser: one pass over the `yaml` lexer's tokens (the
 *   lexer is a loop, not a recursion, and it already knows quotes, comments, block scalars and
 *   multi-line plain scalars, so a bracket inside a string is never counted). It counts the open
 *   indentation columns (each line's first token, and each token that follows `-`, `?` or `:` on
 *   the same line) plus the open flow brackets: an upper bound on the nesting the parser builds.
 *   It over-counts by one for a value on its own line, hence the `+ 1` in its default limit.
 * - `aliasScan(doc)` runs after parsing and before `toJS`: one walk (an explicit stack) in
 *   document order that resolves each alias to the anchor before it, and computes, for every
 *   node, the number of values it stands for and its depth once aliases are written out. It
 *   refuses an alias to an unknown anchor, an alias inside the node it names (a cycle), a map key
 *   that is itself a list or map, data nested deeper than `MAX_NESTING` (through aliases too), and
 *   aliases that add more values to the file than `maxAddedValues(text length)`.
 *
 * Browser-safe.
 */

import { type Document, isAlias, isMap, isPair, isSeq, Lexer, type Node as YamlNode } from "yaml";

/** Most levels of nested maps and lists (flow brackets included) a topology file may have; a topology needs about 8. */
export const MAX_NESTING = 64;

/**
 * Values (maps, lists, keys, scalars) aliases may add to any file when written out: about the
 * generated 16,000-VM data center, so a small file may alias its way to the largest network vnet
 * is measured on, no further.
 */
export const EXPANSION_FLOOR_VALUES = 250_000;
/** Beyond the floor, one added value per byte of text (a file's own text holds about 0.14 per byte). */
export const EXPANSION_VALUES_PER_BYTE = 1;
/** And never more than this many added values, however large the file. */
export const EXPANSION_MAX_VALUES = 2_500_000;

/** The most values aliases may add to a text of this length. */
export function maxAddedValues(textLength: number): number {
  return Math.min(
    EXPANSION_MAX_VALUES,
    Math.max(EXPANSION_FLOOR_VALUES, Math.ceil(textLength * EXPANSION_VALUES_PER_BYTE)),
  );
}

/** A place in the text where the file goes beyond a bound, and what to say there. */
export interface BoundFinding {
  offset: number;
  message: string;
  code: "yaml-nesting" | "yaml-expansion" | "yaml-alias" | "yaml-key";
}

export function nestingMessage(limit: number): string {
  return `the YAML is nested more than ${limit} levels deep here (maps, lists and brackets); a topology needs about 8`;
}

// The lexer's control tokens (yaml's CST module): they mark state and take no room in the text.
const DOCUMENT = "\x02";
const FLOW_END = "\x18";
const SCALAR = "\x1f";

/**
 * The first place where the nesting of `text` goes beyond `limit` levels, or undefined. Linear
 * in the text and never recursive, so it is safe on any input; see the file's opening paragraph
 * for what it counts.
 */
export function nestingScan(text: string, limit = MAX_NESTING + 1): BoundFinding | undefined {
  /** Columns of the open block levels, increasing. */
  const columns: number[] = [];
  let flowLevel = 0;
  let offset = 0;
  let lineStart = 0;
  let isLineStart = true;
  /** The previous significant token on this line was `-`, `?` or `:`, or a document marker. */
  let isAfterIndicator = false;
  const tooDeep = (at: number): BoundFinding => ({
    offset: at,
    message: nestingMessage(limit - 1),
    code: "yaml-nesting",
  });

  for (const tok of new Lexer().lex(text)) {
    if (tok === DOCUMENT || tok === SCALAR) continue;
    if (tok === FLOW_END) {
      // The lexer gave up on an unterminated flow collection and went back to block context.
      flowLevel = 0;
      continue;
    }
    const at = offset;
    offset += tok.length;
    const c = tok[0];
    if (tok === "" || tok === "\n" || tok === "\r\n") {
      lineStart = offset;
      isLineStart = true;
      isAfterIndicator = false;
      continue;
    }
    if (c === " " || c === "\t" || c === "#" || c === "\uFEFF" || c === "%") continue;
    if (tok === "---" || tok === "...") {
      columns.length = 0;
      flowLevel = 0;
      isLineStart = false;
      isAfterIndicator = true;
      continue;
    }
    const isFlowStart = tok === "[" || tok === "{";
    if (flowLevel > 0) {
      if (isFlowStart) {
        flowLevel++;
        if (columns.length + flowLevel > limit) return tooDeep(at);
      } else if (tok === "]" || tok === "}") flowLevel--;
    } else {
      const col = at - lineStart;
      if (isLineStart) while (columns.length > 0 && columns[columns.length - 1] > col) columns.pop();
      const top = columns.length > 0 ? columns[columns.length - 1] : -1;
      // A flow collection is counted by its bracket, not by its column as well.
      if ((isLineStart || isAfterIndicator) && !isFlowStart && col > top) {
        columns.push(col);
        if (columns.length > limit) return tooDeep(at);
      }
      if (isFlowStart) {
        flowLevel = 1;
        if (columns.length + flowLevel > limit) return tooDeep(at);
      }
      isAfterIndicator = tok === "-" || tok === "?" || tok === ":";
      isLineStart = false;
    }
    // A token spanning lines (a multi-line scalar) ends on a later line.
    const nl = tok.lastIndexOf("\n");
    if (nl >= 0) {
      lineStart = at + nl + 1;
      isLineStart = false;
    }
  }
  return undefined;
}

/** What `aliasScan` learned: how to resolve each alias (for placing diagnostics) and the expansion. */
export interface AliasScan {
  finding?: BoundFinding;
  /** Each alias node's target, the anchored node before it in document order. */
  targets: Map<YamlNode, YamlNode>;
  /** Values the aliases add to the document when written out (saturates above the cap). */
  addedValues: number;
}

interface Child {
  node: unknown;
  isKey: boolean;
}

interface Frame {
  node: unknown;
  /** Children still to visit, in document order (a map's pairs give key, value). */
  children: Child[];
  next: number;
  size: number;
  depth: number;
  /** Nesting of this node in the document (1 for the root collection). */
  level: number;
}

/**
 * Resolves aliases and measures the document with them expanded, in one walk in document order
 * with an explicit stack (the document may be as deep as `nestingScan` allows, or as long as the
 * file). Returns the first finding in document order, if any.
 */
export function aliasScan(doc: Document, textLength: number, limit = MAX_NESTING): AliasScan {
  const cap = maxAddedValues(textLength);
  const targets = new Map<YamlNode, YamlNode>();
  const anchors = new Map<string, YamlNode>();
  /** Per finished node (and alias): values it stands for and its depth, aliases written out. */
  const memo = new Map<unknown, { size: number; depth: number }>();
  /** Collections entered and not yet left: an alias to one of them is a cycle. */
  const open = new Set<unknown>();
  let added = 0;
  const start = (n: unknown) => rangeStart(n) ?? 0;
  const isCollection = (n: unknown) => isMap(n) || isSeq(n);
  const notPlainKey = (n: unknown): BoundFinding => ({
    offset: start(n),
    code: "yaml-key",
    message: "a key must be plain text, not a list or map",
  });

  const stack: Frame[] = [];
  const enter = (node: unknown, isKey: boolean, level: number): BoundFinding | undefined => {
    if (node === null || node === undefined) return undefined;
    const anchor = (node as { anchor?: string }).anchor;
    if (anchor) anchors.set(anchor, node as YamlNode);
    if (isAlias(node)) {
      const target = anchors.get(node.source);
      if (target === undefined)
        return {
          offset: start(node),
          code: "yaml-alias",
          message: `the alias *${node.source} names no anchor: an anchor &${node.source} must come before it`,
        };
      if (open.has(target))
        return {
          offset: start(node),
          code: "yaml-alias",
          message: `the alias *${node.source} is inside the node &${node.source} it names, which would make it endless`,
        };
      if (isKey && isCollection(target)) return notPlainKey(node);
      targets.set(node, target);
      const m = memo.get(target) ?? { size: 1, depth: 0 };
      memo.set(node, m);
      added = Math.min(added + m.size - 1, cap + 1);
      if (level - 1 + m.depth > limit)
        return {
          offset: start(node),
          code: "yaml-nesting",
          message: `${nestingMessage(limit)} (with the alias *${node.source} written out)`,
        };
      if (added > cap)
        return {
          offset: start(node),
          code: "yaml-expansion",
          message: `the aliases add more than ${fmt(cap)} values to this ${formatBytes(textLength)} file by here (at most ${fmt(EXPANSION_FLOOR_VALUES)}, or one per byte of the file, and never more than ${fmt(EXPANSION_MAX_VALUES)}); write the repeated parts out or alias less`,
        };
      return undefined;
    }
    if (isCollection(node)) {
      if (isKey) return notPlainKey(node);
      if (level > limit) return { offset: start(node), code: "yaml-nesting", message: nestingMessage(limit) };
      const children: Child[] = [];
      for (const item of (node as { items: unknown[] }).items) {
        if (isPair(item)) children.push({ node: item.key, isKey: true }, { node: item.value, isKey: false });
        else children.push({ node: item, isKey: false });
      }
      open.add(node);
      stack.push({ node, children, next: 0, size: 1, depth: 1, level });
      return undefined;
    }
    memo.set(node, { size: 1, depth: 0 });
    return undefined;
  };

  let finding = enter(doc.contents, false, 1);
  while (finding === undefined && stack.length > 0) {
    const f = stack[stack.length - 1];
    if (f.next < f.children.length) {
      const child = f.children[f.next++];
      finding = enter(child.node, child.isKey, f.level + 1);
      continue;
    }
    stack.pop();
    open.delete(f.node);
    for (const { node } of f.children) {
      const m = memo.get(node);
      if (m === undefined) continue;
      f.size = Math.min(f.size + m.size, Number.MAX_SAFE_INTEGER);
      if (m.depth + 1 > f.depth) f.depth = m.depth + 1;
    }
    memo.set(f.node, { size: f.size, depth: f.depth });
  }
  return { finding, targets, addedValues: added };
}

const fmt = (n: number) => n.toLocaleString("en-US");

function formatBytes(n: number): string {
  if (n < 1024) return `${n}-byte`;
  if (n < 1024 * 1024) return `${Math.round(n / 1024)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

function rangeStart(n: unknown): number | undefined {
  const r = (n as YamlNode | null | undefined)?.range;
  return r ? r[0] : undefined;
}
