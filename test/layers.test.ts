/**
 * The layers of docs/architecture.md, held by the import graph of `src/` (test files left out):
 *
 *   wire <- dataplane <- vpn <- model <- sim <- analysis <- real <- network.ts
 *        <- the entries (browser.ts, node.ts, index.ts) <- ui (the web page) <- cli
 *
 * 1. An arrow only points down: a file imports from its own layer or a lower one. Type-only
 *    imports (`import type`, `export type`, `import("...").T`) count here too: a type from a
 *    higher layer is still a dependency on it.
 * 2. The browser-safe files (wire, dataplane, vpn but its node:crypto backend, model but
 *    `load.ts`, sim, analysis, network.ts, browser.ts) import no `node:` module and no file
 *    that is not browser-safe, directly or through other files, and only packages that run in a
 *    browser. Type-only imports are ignored here (erased from the JavaScript); `import { type X }`
 *    is not type-only: with `verbatimModuleSyntax` it stays as `import {} from`, which loads
 *    the module.
 * 3. Browser-safe files use none of Node's globals (`Buffer`, `process`, `require`, ...).
 * 4. The web page's packages (preact, cytoscape) are imported by `src/ui/` only: the engine
 *    stays free of any view library.
 *
 * Imports are read from the TypeScript syntax tree: static `import`/`export ... from`, and
 * dynamic `import("...")` with a literal string.
 */

import { readdirSync, readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** Lowest first. A file's layer is the first entry with a matching prefix or name. */
const LAYERS: { name: string; files: string[] }[] = [
  { name: "wire", files: ["src/wire/"] },
  { name: "dataplane", files: ["src/dataplane/"] },
  { name: "vpn", files: ["src/vpn/"] },
  { name: "model", files: ["src/model/"] },
  { name: "sim", files: ["src/sim/"] },
  { name: "analysis", files: ["src/analysis/"] },
  { name: "real", files: ["src/real/"] },
  { name: "network", files: ["src/network.ts"] },
  { name: "entries", files: ["src/browser.ts", "src/node.ts", "src/index.ts"] },
  { name: "ui", files: ["src/ui/"] },
  { name: "cli", files: ["src/cli/"] },
];

/** Browser-safe by place, less the listed Node-only files. */
const BROWSER_SAFE = [
  "src/wire/",
  "src/dataplane/",
  "src/vpn/",
  "src/model/",
  "src/sim/",
  "src/analysis/",
  "src/ui/",
];
const BROWSER_SAFE_FILES = ["src/network.ts", "src/browser.ts"];
const NODE_ONLY = ["src/vpn/crypto-node.ts", "src/model/load.ts"];

/** Packages a browser-safe file may import: they run in a browser. */
const BROWSER_PACKAGES = /^(yaml|zod|@noble\/(ciphers|curves|hashes)|preact|cytoscape)(\/|$)/;
/** The web page's own packages: only `src/ui/` imports them. */
const UI_PACKAGES = /^(preact|cytoscape)(\/|$)/;

/**
 * Edges known to break a rule, each with the reason it is tolerated for now. Empty today: the
 * test fails on any new one. A listed edge that no longer exists fails the test too, so the list
 * cannot outlive the problem.
 */
const KNOWN_UPWARD_EDGES: { from: string; to: string; why: string }[] = [];

const NODE_GLOBALS = new Set([
  "Buffer",
  "process",
  "require",
  "__dirname",
  "__filename",
  "global",
  "setImmediate",
]);

interface Edge {
  from: string;
  /** A file under src/ (relative to the repo), or the specifier of a package or builtin. */
  to: string;
  isTypeOnly: boolean;
  isDynamic: boolean;
  line: number;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory()) out.push(...sourceFiles(p));
    else if (/\.tsx?$/.test(p) && !/\.test\.tsx?$/.test(p) && !p.endsWith(".d.ts")) out.push(p);
  }
  return out.sort();
}

function parse(file: string): { edges: Edge[]; globals: { name: string; line: number }[] } {
  const text = readFileSync(join(ROOT, file), "utf8");
  const sf = ts.createSourceFile(
    file,
    text,
    ts.ScriptTarget.Latest,
    true,
    file.endsWith(".tsx") ? ts.ScriptKind.TSX : ts.ScriptKind.TS,
  );
  const edges: Edge[] = [];
  const globals: { name: string; line: number }[] = [];
  const lineOf = (n: ts.Node) => sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1;
  const add = (spec: string, node: ts.Node, isTypeOnly: boolean, isDynamic: boolean) => {
    const to = spec.startsWith(".") ? relative(ROOT, resolve(ROOT, dirname(file), spec)) : spec;
    edges.push({ from: file, to, isTypeOnly, isDynamic, line: lineOf(node) });
  };
  const visit = (n: ts.Node): void => {
    if (ts.isImportDeclaration(n) && ts.isStringLiteral(n.moduleSpecifier)) {
      add(n.moduleSpecifier.text, n, n.importClause?.isTypeOnly === true, false);
    } else if (ts.isExportDeclaration(n) && n.moduleSpecifier && ts.isStringLiteral(n.moduleSpecifier)) {
      add(n.moduleSpecifier.text, n, n.isTypeOnly, false);
    } else if (
      ts.isCallExpression(n) &&
      n.expression.kind === ts.SyntaxKind.ImportKeyword &&
      n.arguments.length > 0 &&
      ts.isStringLiteralLike(n.arguments[0])
    ) {
      add(n.arguments[0].text, n, false, true);
    } else if (
      ts.isImportTypeNode(n) &&
      ts.isLiteralTypeNode(n.argument) &&
      ts.isStringLiteral(n.argument.literal)
    ) {
      add(n.argument.literal.text, n, true, false);
    } else if (ts.isIdentifier(n) && NODE_GLOBALS.has(n.text) && isGlobalReference(n)) {
      globals.push({ name: n.text, line: lineOf(n) });
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  // JSX compiles to imports of its runtime (tsconfig's jsxImportSource) that no line spells out.
  if (file.endsWith(".tsx"))
    edges.push({ from: file, to: "preact/jsx-runtime", isTypeOnly: false, isDynamic: false, line: 1 });
  return { edges, globals };
}

/** An identifier read as a value from the global scope (not a property name, declaration, or type). */
function isGlobalReference(n: ts.Identifier): boolean {
  const p = n.parent;
  if (ts.isPropertyAccessExpression(p) && p.name === n) return false;
  if (
    (ts.isPropertyAssignment(p) || ts.isPropertyDeclaration(p) || ts.isMethodDeclaration(p)) &&
    p.name === n
  )
    return false;
  if (ts.isPropertySignature(p) || ts.isTypeReferenceNode(p) || ts.isQualifiedName(p)) return false;
  if ((ts.isVariableDeclaration(p) || ts.isParameter(p) || ts.isBindingElement(p)) && p.name === n)
    return false;
  if (ts.isImportSpecifier(p) || ts.isExportSpecifier(p)) return false;
  return true;
}

const FILES = sourceFiles("src");
const PARSED = new Map(FILES.map((f) => [f, parse(f)]));
const EDGES = [...PARSED.values()].flatMap((p) => p.edges);
const isLocal = (to: string) => to.startsWith("src/");
const isBuiltin = (to: string) => to.startsWith("node:") || builtinModules.includes(to.split("/")[0]);

function layerOf(file: string): number {
  return LAYERS.findIndex((l) => l.files.some((p) => (p.endsWith("/") ? file.startsWith(p) : file === p)));
}

function isBrowserSafe(file: string): boolean {
  if (NODE_ONLY.includes(file)) return false;
  return BROWSER_SAFE_FILES.includes(file) || BROWSER_SAFE.some((p) => file.startsWith(p));
}

const show = (e: Edge) => `${e.from}:${e.line} -> ${e.to}${e.isTypeOnly ? " (type only)" : ""}`;

describe("layers", () => {
  it("reads the import graph (static, dynamic and type-only imports)", () => {
    expect(FILES.length).toBeGreaterThan(80);
    expect(EDGES.length).toBeGreaterThan(300);
    expect(
      EDGES.some((e) => e.isDynamic && e.from === "src/cli/main.ts" && e.to === "src/cli/check.ts"),
    ).toBe(true);
    expect(
      EDGES.some((e) => e.isTypeOnly && e.from === "src/sim/build.ts" && e.to === "src/model/types.ts"),
    ).toBe(true);
    expect(EDGES.some((e) => e.from === "src/model/load.ts" && e.to === "node:fs")).toBe(true);
    for (const e of EDGES.filter((e) => isLocal(e.to))) {
      expect(FILES.includes(e.to) || e.to.endsWith(".test.ts"), `${show(e)}: no such source file`).toBe(true);
    }
  });

  it("every file of src/ belongs to a layer", () => {
    expect(FILES.filter((f) => layerOf(f) < 0)).toEqual([]);
  });

  it("an arrow only points down (type-only imports count)", () => {
    const upward = EDGES.filter((e) => isLocal(e.to) && layerOf(e.to) > layerOf(e.from));
    const known = (e: Edge) => KNOWN_UPWARD_EDGES.some((k) => k.from === e.from && k.to === e.to);
    expect(
      upward
        .filter((e) => !known(e))
        .map((e) => `${show(e)}: ${LAYERS[layerOf(e.from)].name} imports ${LAYERS[layerOf(e.to)].name}`),
    ).toEqual([]);
    for (const k of KNOWN_UPWARD_EDGES) {
      expect(
        upward.some((e) => e.from === k.from && e.to === k.to),
        `stale exception ${k.from} -> ${k.to}`,
      ).toBe(true);
    }
  });

  it("the browser-safe files reach no node: module and no Node-only file, even through others", () => {
    const runtime = new Map<string, Edge[]>();
    for (const e of EDGES) if (!e.isTypeOnly) runtime.set(e.from, [...(runtime.get(e.from) ?? []), e]);
    const problems: string[] = [];
    for (const start of FILES.filter(isBrowserSafe)) {
      // Breadth-first over runtime imports, keeping how each file was reached for the message.
      const via = new Map<string, Edge | null>([[start, null]]);
      const queue = [start];
      while (queue.length > 0) {
        const file = queue.shift()!;
        for (const e of runtime.get(file) ?? []) {
          const bad = isLocal(e.to) ? !isBrowserSafe(e.to) : isBuiltin(e.to) || !BROWSER_PACKAGES.test(e.to);
          if (bad) {
            const chain = [show(e)];
            for (let p = via.get(file); p; p = via.get(p.from) ?? null) chain.unshift(show(p));
            problems.push(chain.join(" => "));
            continue;
          }
          if (isLocal(e.to) && !via.has(e.to)) {
            via.set(e.to, e);
            queue.push(e.to);
          }
        }
      }
    }
    expect([...new Set(problems)]).toEqual([]);
  });

  it("the browser-safe files use none of Node's globals", () => {
    const uses = FILES.filter(isBrowserSafe).flatMap((f) =>
      PARSED.get(f)!.globals.map((g) => `${f}:${g.line}: ${g.name}`),
    );
    expect(uses).toEqual([]);
  });

  it("only the web page (src/ui/) imports the view packages", () => {
    const outside = EDGES.filter((e) => UI_PACKAGES.test(e.to) && !e.from.startsWith("src/ui/"));
    expect(outside.map(show)).toEqual([]);
    // The ui folder is read (its .tsx files too) and held to the browser rules above.
    expect(FILES.some((f) => f.startsWith("src/ui/") && f.endsWith(".tsx"))).toBe(true);
  });

  it("the Node-only files are what the architecture says: they do use Node", () => {
    for (const f of NODE_ONLY) {
      expect(
        PARSED.get(f)!.edges.some((e) => isBuiltin(e.to)),
        `${f} imports no node: module; is it browser-safe now?`,
      ).toBe(true);
    }
  });
});
