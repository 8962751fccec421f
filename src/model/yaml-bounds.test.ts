/**
 * The loader's bounds on YAML (yaml-bounds.ts, as load-text.ts applies them): nesting thousands
 * of levels deep and alias bombs are refused at their place, quickly, as one diagnostic; the
 * nesting pre-scan is an upper bound on what the parser builds (property) and never refuses what
 * the limit allows; YAML's own words and API names never reach a message; control characters
 * in the user's text are escaped in every message and refused in printed names. The big inputs
 * are generated here, not committed.
 */

import { fc, test } from "@fast-check/vitest";
import { describe, expect, it, vi } from "vitest";
import { isMap, isPair, isSeq, Parser, parseDocument, stringify } from "yaml";
import { type Diagnostic, TopologyError } from "./diagnostics.ts";
import { tryParseSimpleYaml } from "./fast-yaml.ts";
import { loadTopologyText, MAX_FULL_YAML_BYTES } from "./load-text.ts";
import { EXPANSION_FLOOR_VALUES, MAX_NESTING, nestingScan } from "./yaml-bounds.ts";

/** The one error of refusing `text`, and how long the loader took to say it. */
function refusal(text: string): Diagnostic & { ms: number } {
  const t0 = performance.now();
  try {
    loadTopologyText(text, "t.yaml");
  } catch (e) {
    const ms = performance.now() - t0;
    expect(e).toBeInstanceOf(TopologyError);
    const errors = (e as TopologyError).errors;
    expect(errors).toHaveLength(1);
    return { ...errors[0], ms };
  }
  throw new Error("expected the topology to be refused");
}

/** Nested maps by indentation, one more space per level: `foo:` then ` a:`, `  a:`, ... */
function blockNesting(levels: number): string {
  const lines = ["name: deep", "foo:"];
  for (let i = 1; i < levels; i++) lines.push(`${" ".repeat(i)}a:`);
  return `${lines.join("\n")}\n`;
}

const NESTING = /^the YAML is nested more than 64 levels deep here/;
/** Generous: the point is linear time, not a benchmark (the machine is shared). */
const QUICK_MS = 3000;

describe("nesting deeper than the limit", () => {
  const cases: [string, string, number, number][] = [
    // [what, text, line, col] of the place where the refusal points
    ["flow [ 5,000 deep, closed", `name: x\nfoo: ${"[".repeat(5000)}${"]".repeat(5000)}\n`, 2, 70],
    ["flow [ 5,000 deep, never closed", `name: x\nfoo: ${"[".repeat(5000)}\n`, 2, 70],
    ["flow { 5,000 deep", `name: x\nfoo: ${"{a: ".repeat(5000)}${"}".repeat(5000)}\n`, 2, 262],
    ["compact - - - 5,000 deep", `name: x\nfoo:\n${"- ".repeat(5000)}x\n`, 3, 131],
    ["explicit keys ? ? ? 5,000 deep", `${"? ".repeat(5000)}x\n`, 1, 131],
    ["block maps 1,500 deep", blockNesting(1500), 67, 66],
    ["block maps 3,000 deep (4.5 MB)", blockNesting(3000), 67, 66],
  ];
  for (const [what, text, line, col] of cases) {
    it(`${what}: one line at the place, no stack overflow`, () => {
      const d = refusal(text);
      expect(d.code).toBe("yaml-nesting");
      expect(d.message).toMatch(NESTING);
      expect([d.line, d.col]).toEqual([line, col]);
      expect(d.ms).toBeLessThan(QUICK_MS);
    });
  }

  it("the fast reader gives up on deep nesting instead of recursing", () => {
    expect(tryParseSimpleYaml(`a: ${"[".repeat(5000)}${"]".repeat(5000)}\n`)).toBeUndefined();
    expect(tryParseSimpleYaml(`a:\n${"- ".repeat(5000)}x\n`)).toBeUndefined();
    expect(tryParseSimpleYaml(blockNesting(200))).toBeUndefined();
  });

  /** A list nested `levels` deep as the value of `description` (a collection count, with the root map). */
  const nestedDescription = (levels: number, forceFullParser: boolean) =>
    `name: x\n${forceFullParser ? "description: &d\n  " : "description:\n  "}${"[".repeat(levels - 1)}1${"]".repeat(levels - 1)}\n`;

  it("takes 64 levels and refuses 65, the same with the fast reader and the full parser", () => {
    for (const full of [false, true]) {
      const ok = refusal(nestedDescription(MAX_NESTING, full));
      expect(ok.code).toBe("bad-type"); // past the YAML: the schema wants text there
      const deep = refusal(nestedDescription(MAX_NESTING + 1, full));
      expect(deep.code).toBe("yaml-nesting");
      expect([deep.line, deep.col]).toEqual([3, 3 + MAX_NESTING - 1]);
    }
  });

  it("counts levels that aliases add", () => {
    // Each anchor wraps the one before: 100 levels deep once written out, 2 in the text.
    const lines = ["name: x", "a0: &a0 [1]"];
    for (let i = 1; i < 100; i++) lines.push(`a${i}: &a${i} [*a${i - 1}]`);
    const d = refusal(`${lines.join("\n")}\n`);
    expect(d.code).toBe("yaml-nesting");
    expect(d.message).toMatch(/\(with the alias \*a62 written out\)$/);
    expect(d.line).toBe(65);
  });
});

/** The depth of the collections `yaml` builds for `text`: of its document and of its CST. */
function builtDepth(text: string): number {
  let max = 0;
  // biome-ignore lint/suspicious/noExplicitAny: document nodes and CST tokens are walked alike
  type Any = any;
  const walk = (root: unknown, isCollection: (n: Any) => boolean, children: (n: Any) => unknown[]) => {
    const stack: [unknown, number][] = [[root, 0]];
    while (stack.length > 0) {
      const [n, level] = stack.pop()!;
      if (n === null || typeof n !== "object") continue;
      const l = isCollection(n) ? level + 1 : level;
      if (l > max) max = l;
      for (const c of children(n)) stack.push([c, l]);
    }
  };
  const doc = parseDocument(text, { uniqueKeys: false, logLevel: "silent" });
  walk(
    doc.contents,
    (n) => isMap(n) || isSeq(n),
    (n) => (isMap(n) || isSeq(n) ? n.items : isPair(n) ? [n.key, n.value] : []),
  );
  for (const tok of new Parser().parse(text))
    walk(
      tok,
      (n) => n.type === "block-map" || n.type === "block-seq" || n.type === "flow-collection",
      (n) => Object.values(n).flatMap((v) => (Array.isArray(v) ? v : [v])),
    );
  return max;
}

/** The smallest limit `nestingScan` accepts `text` under. */
function scanned(text: string): number {
  let l = 0;
  while (nestingScan(text, l) !== undefined) l++;
  return l;
}

describe("the nesting pre-scan", () => {
  const yamlish = fc
    .array(
      fc.constantFrom(
        "-",
        " ",
        "  ",
        "\n",
        ":",
        "? ",
        "[",
        "]",
        "{",
        "}",
        ",",
        "a",
        "#",
        "'",
        '"',
        "&x ",
        "*x",
      ),
      { maxLength: 40 },
    )
    .map((parts) => parts.join(""));
  test.prop([yamlish], { numRuns: 2000 })(
    "bounds what the parser builds from any text, valid or not (at most 2 x + 2 levels)",
    (text) => {
      expect(builtDepth(text)).toBeLessThanOrEqual(2 * scanned(text) + 2);
    },
  );

  const value = fc.letrec((tie) => ({
    v: fc.oneof(
      { depthSize: "small" },
      fc.string({ maxLength: 4 }),
      fc.integer(),
      fc.constant(null),
      fc.array(tie("v"), { maxLength: 3 }),
      fc.dictionary(fc.string({ minLength: 1, maxLength: 3 }), tie("v"), { maxKeys: 3 }),
    ),
  })).v;
  test.prop([value, fc.integer({ min: 1, max: 4 }), fc.constantFrom("any", "block", "flow")], {
    numRuns: 500,
  })("counts at most one level more than valid YAML has (a value on its own line)", (v, indent, style) => {
    const text = stringify({ root: v }, { indent, collectionStyle: style as "any" });
    expect(scanned(text)).toBeLessThanOrEqual(builtDepth(text) + 1);
  });
});

describe("files too large for the full YAML parser", () => {
  // Comments cost the fast reader nothing, so a big file is cheap to make and to read.
  const padding = `${"# padding padding padding padding padding padding padding padding\n".repeat(70_000)}`;

  it("refuses a file over 4 MiB that is not plain YAML, at the line the fast reader stopped", () => {
    const text = `name: big\n${padding}servers: &s {}\n`;
    expect(text.length).toBeGreaterThan(MAX_FULL_YAML_BYTES);
    const d = refusal(text);
    expect(d.code).toBe("file-too-large");
    expect([d.line, d.col]).toEqual([70_002, 1]);
    expect(d.message).toMatch(/^this file is 4\.\d MiB, and a topology file over 4 MiB must be plain YAML/);
    expect(d.ms).toBeLessThan(QUICK_MS);
  });

  it("names the path but no line for an error in a plain file over 4 MiB (placing it would need the full parse)", () => {
    const d = refusal(`name: big\n${padding}servers: { s2: 7 }\n`);
    expect(d).toMatchObject({ line: 0, col: 0, code: "bad-type" });
    expect(d.message).toBe("servers.s2: expected a map (key: value lines), got 7");
  });
});

describe("a file with the same mistake 150,000 times", () => {
  it("lists the mistakes of a sample instead of overflowing the shape checker", () => {
    // Over 4 MiB (padded with comments) so that no position is computed: the point is zod.
    const pad = "# pad pad pad pad pad pad pad pad pad pad pad pad pad pad pad pad pad pad pad pad\n".repeat(
      22_000,
    );
    const nics = Array(150_000).fill("{portGroup: w}").join(", ");
    const t0 = performance.now();
    let err: TopologyError | undefined;
    try {
      loadTopologyText(`name: x\n${pad}servers:\n  s1:\n    vms:\n      v1: { nics: [${nics}] }\n`, "t.yaml");
    } catch (e) {
      err = e as TopologyError;
    }
    expect(err).toBeInstanceOf(TopologyError);
    expect(performance.now() - t0).toBeLessThan(QUICK_MS);
    const messages = err!.errors.map((d) => d.message);
    expect(messages).toContain(
      "too many mistakes to list: only the first 5,000 values of the file were checked; fix these and check again",
    );
    expect(messages).toContain(
      "servers.s1.vms.v1.nics[0]: missing required key 'ip' (expected an IPv4 address with prefix length (e.g. 192.168.10.11/24))",
    );
    expect(messages.length).toBeLessThan(5_000);
  });
});

describe("aliases", () => {
  it("refuses a billion laughs at the alias where the expansion passes the cap, at once", () => {
    const lines = ["name: lol", 'a0: &a0 ["lol"]'];
    for (let i = 1; i <= 9; i++)
      lines.push(
        `a${i}: &a${i} [${Array(10)
          .fill(`*a${i - 1}`)
          .join(", ")}]`,
      );
    const d = refusal(`${lines.join("\n")}\n`);
    expect(d.code).toBe("yaml-expansion");
    expect(d.message).toMatch(/^the aliases add more than 250,000 values to this \d+-byte file by here/);
    expect(d.line).toBe(8); // a6: 10^6 values
    expect(d.ms).toBeLessThan(QUICK_MS);
  });

  it("refuses a few kilobytes aliased into a million NICs", () => {
    const nics = Array(1000).fill("{portGroup: web}").join(", ");
    const vms = Array.from({ length: 999 }, (_, i) => `      vm${i}: { nics: *n }`);
    const text = `name: bomb
servers:
  server1:
    nics: [eth0]
    vswitches: { vs0: { uplinks: [eth0], portGroups: { web: { vlan: 10 } } } }
    vms:
      tmpl: { nics: &n [${nics}] }
${vms.join("\n")}
`;
    const d = refusal(text);
    expect(d.code).toBe("yaml-expansion");
    // Each alias adds the list's 3,001 values (a map, a key and a value per NIC) but the one it replaces.
    expect(d.line).toBe(8 + Math.floor(EXPANSION_FLOOR_VALUES / 3001));
    expect(d.ms).toBeLessThan(QUICK_MS);
  });

  it("loads what aliases are for: port groups shared by 200 servers", () => {
    const servers = Array.from(
      { length: 200 },
      (_, i) => `  s${i}: { nics: [eth0], vswitches: { vs0: { uplinks: [eth0], portGroups: *pgs } } }`,
    );
    const pgs = Array.from({ length: 50 }, (_, i) => `p${i}: { vlan: ${i + 1} }`).join(", ");
    const text = `name: shared\nx-port-groups: &pgs { ${pgs} }\nservers:\n${servers.join("\n")}\n`;
    const d = refusal(text); // only the unknown key of the anchor's holder
    expect(d.message).toMatch(/unknown key 'x-port-groups'/);
  });

  it("refuses an unknown alias, a cycle and a list used as a key, at their place", () => {
    expect(refusal("name: x\nservers: *none\n")).toMatchObject({ code: "yaml-alias", line: 2, col: 10 });
    expect(refusal("name: x\nservers: &s\n  a: [*s]\n")).toMatchObject({
      code: "yaml-alias",
      line: 3,
      col: 7,
    });
    expect(refusal("name: x\n? [a]\n: 1\n")).toMatchObject({ code: "yaml-key", line: 2, col: 3 });
    expect(refusal("name: x\nk: &k {a: 1}\n*k : 2\n")).toMatchObject({ code: "yaml-key", line: 3, col: 1 });
  });

  it("never lets the yaml package print a warning of its own", () => {
    const warn = vi.spyOn(process, "emitWarning");
    refusal("name: x\n{a: 1}: 2\n");
    expect(warn).not.toHaveBeenCalled();
    warn.mockRestore();
  });
});

describe("messages in vnet's words", () => {
  const broken = [
    "name: a\n---\nname: b\n",
    "name: a\n...\nx\n",
    "name: a\nservers:\n\ts1: {}\n",
    "name: a\nservers:\n  s1: {}\n   s2: {}\n",
    "name: a\nservers:\n  - a\n  b: c\n",
    'name: "abc\nservers: {}\n',
    "name: 'abc\n",
    "name: [a, b\n",
    "name: a\nservers: {\n",
    "name: a\nservers: {a: 1}}\n",
    "name: a\n  b: c\n",
    "name: a\n- x\n",
    "name: a\n@x: 1\n",
    'name: "a\\qb"\n',
    "name: a\nx: [a b: c]\n",
    "name: a\nx: {a: 1 b: 2}\n",
    "name: a\nx: [a,, b]\n",
    "name: a\nx: &a &b 1\n",
    "name: a\nx: !a !b 1\n",
    "name: a\nx: &a *b\n",
    "name: a\nx: [\n- a]\n",
    "name: a\nx: {a:1}\n",
  ];
  const jargon =
    /YAML\.|parseAll|token|implicit|flow (sequence|map|collection)|block (collection|sequence|map)|mapping|scalar|indicator|compact/i;
  for (const text of broken) {
    it(JSON.stringify(text), () => {
      const d = refusal(text);
      expect(d.message).not.toMatch(jargon);
      expect(d.line).toBeGreaterThan(0);
    });
  }

  it("points at where an unclosed quote or bracket was opened", () => {
    expect(refusal('name: "abc\nservers: {}\n')).toMatchObject({ line: 1, col: 7 });
    expect(refusal("name: a\nservers: {a: [1, 2]\nlinks: []\n")).toMatchObject({
      line: 2,
      col: 10,
      message: "YAML syntax: this { is not closed by a } (or a line inside it is not indented enough)",
    });
  });
});

/** Written out here rather than borrowed from diagnostics.ts, which is what is tested. */
function hasControl(text: string): boolean {
  for (const ch of text) {
    const c = ch.codePointAt(0) ?? 0;
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f) || (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069))
      return true;
  }
  return false;
}

describe("control characters", () => {
  const controls: [string, string, string][] = [
    // [what, YAML escape, as the message shows it]
    ["ESC (starts a terminal sequence)", "\\e", "\\x1b"],
    ["NUL", "\\0", "\\x00"],
    ["DEL", "\\x7f", "\\x7f"],
    ["a C1 CSI", "\\x9b", "\\x9b"],
    ["a right-to-left override", "\\u202e", "\\u202e"],
    ["a bidi isolate", "\\u2066", "\\u2066"],
    ["a line separator", "\\u2028", "\\u2028"],
    ["a newline", "\\n", "\\n"],
  ];
  for (const [what, yaml, shown] of controls) {
    it(`refuses ${what} in the topology's name, naming it escaped`, () => {
      const d = refusal(`name: "lab${yaml}[2J"\n`);
      expect(d.message).toBe(
        `name: "lab${shown}[2J": a name must be printable, but character 4 is the control character ${shown}`,
      );
    });
  }

  it("lets a description span lines, but not hold other controls", () => {
    const { topology } = loadTopologyText('name: x\ndescription: "two\\nlines\\tand a tab"\n', "t.yaml");
    expect(topology.description).toBe("two\nlines\tand a tab");
    expect(refusal('name: x\ndescription: "a\\eb"\n').message).toMatch(
      /character 2 is the control character \\x1b$/,
    );
  });

  it("escapes them wherever a message quotes the user (keys, values, names, the path)", () => {
    const texts = [
      'name: x\n"serv\\eers": {}\n',
      'name: x\nservers:\n  "s\\x9b1": {}\n',
      'name: x\nservers:\n  s1:\n    vms:\n      v1: { nics: [ { portGroup: "w\\u202eb", ip: 10.0.0.1/24 } ] }\n',
      'name: x\nlinks:\n  - endpoints: ["a\\e:b", "c:d"]\n',
      'name: x\nswitches:\n  t1: { ports: { p1: { mode: "tr\\eunk" } } }\n',
    ];
    for (const text of texts) {
      try {
        loadTopologyText(text, "t\u001b.yaml");
        expect.unreachable();
      } catch (e) {
        const err = e as TopologyError;
        for (const d of err.diagnostics) {
          expect(hasControl(d.message)).toBe(false);
          expect(d.file).toBe("t\\x1b.yaml");
        }
        expect(hasControl(err.message.replaceAll("\n", " "))).toBe(false);
      }
    }
  });
});
