/**
 * Reads the fenced code blocks of a Markdown document, so tests can run a doc's examples as
 * written. A ```ts block immediately followed (prose between is allowed, another block is not)
 * by a ```text block has that text as its expected standard output.
 */

export interface DocBlock {
  lang: string;
  code: string;
  /** The output the doc shows for this block, or null when it shows none. */
  expected: string | null;
  /** 1-based line of the opening fence, for messages. */
  line: number;
}

export function docBlocks(markdown: string): DocBlock[] {
  const lines = markdown.split("\n");
  const raw: { lang: string; code: string; line: number }[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)\s*$/.exec(lines[i]);
    if (open === null) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]); i++) body.push(lines[i]);
    raw.push({ lang: open[1], code: `${body.join("\n")}\n`, line: start + 1 });
  }
  const blocks: DocBlock[] = [];
  for (let k = 0; k < raw.length; k++) {
    const b = raw[k];
    if (b.lang === "text") continue;
    const next = raw[k + 1];
    blocks.push({ ...b, expected: b.lang === "ts" && next?.lang === "text" ? next.code : null });
  }
  return blocks;
}
