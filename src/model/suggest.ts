/**
 * "Did you mean" for names in topology messages: the known name closest to a misspelt one by
 * edit distance, and the list of known names to show. Browser-safe.
 */

/**
 * Edit distance counting a swap of two neighbouring characters as one edit (optimal string
 * alignment: "wbe3" is one edit from "web3", as a typist sees it), with an early exit once it
 * exceeds `limit`.
 */
export function editDistance(a: string, b: string, limit = Number.POSITIVE_INFINITY): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  let prev2 = new Array<number>(b.length + 1).fill(0);
  let prev = new Array<number>(b.length + 1);
  let cur = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    cur[0] = i;
    let rowMin = cur[0];
    for (let j = 1; j <= b.length; j++) {
      const cost = a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? 0 : 1;
      let d = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
      if (
        i > 1 &&
        j > 1 &&
        a.charCodeAt(i - 1) === b.charCodeAt(j - 2) &&
        a.charCodeAt(i - 2) === b.charCodeAt(j - 1)
      )
        d = Math.min(d, prev2[j - 2] + 1);
      cur[j] = d;
      if (d < rowMin) rowMin = d;
    }
    if (rowMin > limit) return limit + 1;
    [prev2, prev, cur] = [prev, cur, prev2];
  }
  return prev[b.length];
}

/** The closest known name when it is close enough to be a typo (case-insensitive). */
export function closest(name: string, known: readonly string[]): string | undefined {
  const lower = name.toLowerCase();
  const limit = Math.max(1, Math.floor(name.length / 3));
  let best: string | undefined;
  let bestD = limit + 1;
  for (const k of known) {
    const d = editDistance(lower, k.toLowerCase(), limit);
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  return best;
}

/** Known names for a message, shortened when there are many. */
export function listKnown(known: readonly string[], max = 12): string {
  if (known.length === 0) return "none";
  if (known.length <= max) return known.join(", ");
  return `${known.slice(0, max).join(", ")}, ... (${known.length} in all)`;
}

/** "; did you mean 'db'? known: web, db" or "; known: web, db". */
export function hint(name: string, known: readonly string[]): string {
  const c = closest(name, known);
  const mean = c !== undefined && c !== name ? ` did you mean '${c}'?` : "";
  return `;${mean} known: ${listKnown(known)}`;
}
