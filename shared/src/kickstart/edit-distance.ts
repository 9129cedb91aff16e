// "Did you mean" for commands and package names: the optimal string alignment distance (insertions,
// deletions, substitutions and swaps of two neighbours each cost 1), bounded so that comparing a name
// with tens of thousands of others stays cheap: rows stop as soon as every cell is past the bound.

/** The distance between a and b, or `max + 1` when it is larger than `max`. */
export function editDistance(a: string, b: string, max: number): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  if (a === b) return 0;
  const n = b.length;
  let prev2 = new Array<number>(n + 1).fill(0);
  let prev = Array.from({ length: n + 1 }, (_, j) => j);
  let cur = new Array<number>(n + 1).fill(0);
  for (let i = 1; i <= a.length; i++) {
    cur[0] = i;
    let rowMin = cur[0];
    const ca = a.charCodeAt(i - 1);
    for (let j = 1; j <= n; j++) {
      const cb = b.charCodeAt(j - 1);
      let d = Math.min((prev[j] as number) + 1, (cur[j - 1] as number) + 1, (prev[j - 1] as number) + (ca === cb ? 0 : 1));
      if (i > 1 && j > 1 && ca === b.charCodeAt(j - 2) && a.charCodeAt(i - 2) === cb) d = Math.min(d, (prev2[j - 2] as number) + 1);
      cur[j] = d;
      if (d < rowMin) rowMin = d;
    }
    if (rowMin > max) return max + 1;
    [prev2, prev, cur] = [prev, cur, prev2];
  }
  const d = prev[n] as number;
  return d > max ? max + 1 : d;
}

/**
 * The candidates closest to `name`, at most `limit` of them, each within a distance that grows with
 * the name's length (1 for short names, 2 from 5 characters, 3 from 10): a suggestion must look like
 * a slip, not a different word.
 */
export function closest(name: string, candidates: Iterable<string>, limit = 3): string[] {
  const max = name.length < 5 ? 1 : name.length < 10 ? 2 : 3;
  const found: { c: string; d: number }[] = [];
  for (const c of candidates) {
    const d = editDistance(name, c, max);
    if (d <= max) found.push({ c, d });
  }
  found.sort((x, y) => x.d - y.d || x.c.length - y.c.length || (x.c < y.c ? -1 : 1));
  return found.slice(0, limit).map((f) => f.c);
}
