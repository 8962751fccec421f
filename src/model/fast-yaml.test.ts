/**
 * The fast reader against the `yaml` library: wherever it answers, it must answer exactly what
 * `parseDocument(text).toJS()` does for a text `yaml` accepts without error, and it must give up
 * on what is outside its subset.
 */

import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { parseDocument, stringify } from "yaml";
import { tryParseSimpleYaml } from "./fast-yaml.ts";
import { generateDatacenter } from "./generate.ts";

const root = join(import.meta.dirname, "..", "..");

/** yaml's reading, or undefined when yaml reports an error or a warning. */
function viaYaml(text: string): { value: unknown } | undefined {
  const doc = parseDocument(text);
  if (doc.errors.length > 0 || doc.warnings.length > 0) return undefined;
  return { value: doc.toJS() };
}

/** The property: an answer of the fast reader is yaml's answer. */
function agrees(text: string): boolean {
  const fast = tryParseSimpleYaml(text);
  if (fast === undefined) return false;
  const full = viaYaml(text);
  expect(full, `yaml refuses what the fast reader accepted:\n${text}`).toBeDefined();
  expect(fast).toEqual(full!.value);
  return true;
}

describe("tryParseSimpleYaml", () => {
  it("says on which line it gave up", () => {
    const at = (text: string) => {
      const stop = { line: 0 };
      expect(tryParseSimpleYaml(text, stop)).toBeUndefined();
      return stop.line;
    };
    expect(at("a: 1\nb: &x 2\n")).toBe(2);
    expect(at("a: 1\n# c\nb:\n\tc: 1\n")).toBe(4);
    expect(at("a: 1\n---\n")).toBe(2);
    expect(at("a: x\n  y\n")).toBe(2);
    expect(at("a:\n  - [1, 2\n")).toBe(2);
  });

  it("reads block maps, sequences, flow collections, scalars and comments", () => {
    const text = `# a comment
name: t   # trailing comment
n: 10
f: 1.5
e: 1e3
neg: -4
b: true
nul: ~
empty:
s: "a \\"q\\" b"
q: 'it''s'
mac: 02:00:00:00:20:12
ep: [server1:eth0, tor1:eth1]
m: { a: 1, b: [x, y], c: { d: null }, e: }
list:
- a
- { k: v }
-
  - nested
seq:
  - key: 1
    other: two
  - - deep
gateway:
  10: 192.168.10.1/24
`;
    expect(tryParseSimpleYaml(text)).toEqual({
      name: "t",
      n: 10,
      f: 1.5,
      e: 1000,
      neg: -4,
      b: true,
      nul: null,
      empty: null,
      s: 'a "q" b',
      q: "it's",
      mac: "02:00:00:00:20:12",
      ep: ["server1:eth0", "tor1:eth1"],
      m: { a: 1, b: ["x", "y"], c: { d: null }, e: null },
      list: ["a", { k: "v" }, ["nested"]],
      seq: [{ key: 1, other: "two" }, ["deep"]],
      gateway: { 10: "192.168.10.1/24" },
    });
    expect(agrees(text)).toBe(true);
  });

  it("gives up outside its subset", () => {
    for (const text of [
      "a: &x 1\nb: *x\n",
      "a: |\n  text\n",
      "a: >-\n  folded\n",
      "a: !!str 1\n",
      "a:\tb\n",
      "---\na: 1\n",
      "a: 1\na: 2\n",
      "? a\n: b\n",
      "a: multi\n  line\n",
      "a: { b: 1,\n  c: 2 }\n",
      "a: 0x1f\n",
      "a: .inf\n",
      "<<: { a: 1 }\n",
      '"quoted key": 1\n',
      "a: [1, 2, ]\n",
      "a: 'unterminated\n",
    ])
      expect(tryParseSimpleYaml(text), text).toBeUndefined();
  });

  it("agrees with yaml on every example, corpus file and generated data center", () => {
    const files = [
      ...readdirSync(join(root, "examples"))
        .filter((f) => f.endsWith(".yaml") || f.endsWith(".json"))
        .map((f) => join(root, "examples", f)),
      ...["broken", "warnings"].flatMap((d) =>
        readdirSync(join(root, "test", "topologies", d))
          .filter((f) => f.endsWith(".yaml"))
          .map((f) => join(root, "test", "topologies", d, f)),
      ),
    ];
    let accepted = 0;
    for (const f of files) if (agrees(readFileSync(f, "utf8"))) accepted++;
    expect(accepted).toBeGreaterThan(files.length / 2);
    const gen = generateDatacenter({ racks: 2, serversPerRack: 3, vmsPerServer: 4, sriovVmsPerServer: 1 });
    expect(agrees(gen)).toBe(true);
  });
});

const seeds = ["two-racks.yaml", "seed-datacenter.yaml"].map((f) =>
  readFileSync(join(root, "examples", f), "utf8"),
);
const insert = fc.constantFrom(
  ...["", ":", ": ", "-", "- ", " ", "  ", "\n", "\n  ", "\n-", "{", "}", "[", "]", ",", "'", '"', "#", " #"],
  ...[
    "0",
    "x",
    "~",
    "&a ",
    "*a",
    "?",
    "|",
    "-,",
    ":]",
    ": [",
    "{}",
    "[]",
    "\\",
    "'x'",
    '"\\n"',
    "null",
    "1.5",
  ],
  ...["0x1", "- a: b", "!"],
);
/** Two random edits of an example: most are refused by one reader or both, enough are not. */
const edits = fc
  .tuple(fc.constantFrom(0, 1), fc.nat(), fc.nat(40), insert, fc.nat(), insert)
  .map(([s, a, cut, i, b, j]) => {
    const t = seeds[s];
    const at = a % t.length;
    const u = t.slice(0, at) + i + t.slice(at + cut);
    const at2 = b % u.length;
    return u.slice(0, at2) + j + u.slice(at2);
  });

const scalar = fc.oneof(
  fc.integer({ min: -1000, max: 100000 }),
  fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }),
  fc.boolean(),
  fc.constant(null),
  fc.string({ maxLength: 8 }),
  fc.constantFrom("10Gbps", "a b", "x:y", "1.2.3.4/24", "-x", "# no", "yes", "NULL", "0o7", "1_000"),
);
const value = fc.letrec((tie) => ({
  v: fc.oneof({ depthSize: "small" }, scalar, fc.array(tie("v"), { maxLength: 4 }), tie("m")),
  m: fc.dictionary(
    fc.oneof(fc.stringMatching(/^[a-z][a-z0-9_-]{0,5}$/), fc.integer({ min: 0, max: 5000 }).map(String)),
    tie("v"),
    { maxKeys: 4 },
  ),
}));

describe("property: the fast reader answers as yaml does", () => {
  test.prop([edits], { numRuns: 1000 })("random edits of the examples", (t) => {
    agrees(t);
  });
  test.prop([value.v, fc.constantFrom(0, 1, 2, 8), fc.boolean()], { numRuns: 300 })(
    "values written by yaml, block and flow",
    (v, flowLevel, isJsonish) => {
      const text = stringify(v, {
        flowCollectionPadding: true,
        ...(flowLevel ? { collectionStyle: "any" } : {}),
        defaultStringType: isJsonish ? "QUOTE_DOUBLE" : "PLAIN",
      });
      agrees(text);
    },
  );
});
