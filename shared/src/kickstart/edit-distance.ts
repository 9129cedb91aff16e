// "Did you mean" for commands and package names: the optimal string alignment distance (insertions,
// deletions, substitutions and swaps of two neighbours each cost 1), bounded, so that comparing a name
// with the 70,000 of a suite stays cheap: only cells within `max` of the diagonal are computed, rows
// stop as soon as every cell is past the bound, and a name whose set of characters differs too much
// is not compared at all (each edit changes that set by at most two characters).

// Three rows, reused: names are at most a few hundred characters.
let rows = [new Int32Array(256), new Int32Array(256), new Int32Array(256)];

/** The distance between a and b, or `max + 1` when it is larger than `max`. */
export function editDistance(a: string, b: string, max: number): number {
  const n = a.length;
  const m = b.length;
  if (Math.abs(n - m) > max) return max + 1;
  if (a === b) return 0;
  if (m + 1 > rows[0]!.length) rows = [new Int32Array(m + 1), new Int32Array(m + 1), new Int32Array(m + 1)];
  let [prev2, prev, cur] = rows as [Int32Array, Int32Array, Int32Array];
  const big = max + 1;
  for (let j = 0; j <= m; j++) prev[j] = j <= max ? j : big;
  for (let i = 1; i <= n; i++) {
    const lo = Math.max(1, i - max);
    const hi = Math.min(m, i + max);
    cur[0] = i <= max ? i : big;
    if (lo > 1) cur[lo - 1] = big;
    let rowMin = big;
    const ca = a.charCodeAt(i - 1);
    for (let j = lo; j <= hi; j++) {
      const cb = b.charCodeAt(j - 1);
      let d = prev[j - 1]! + (ca === cb ? 0 : 1);
      const del = prev[j]! + 1;
      if (del < d) d = del;
      const ins = cur[j - 1]! + 1;
      if (ins < d) d = ins;
      if (i > 1 && j > 1 && ca === b.charCodeAt(j - 2) && a.charCodeAt(i - 2) === cb) {
        const swap = prev2[j - 2]! + 1;
        if (swap < d) d = swap;
      }
      if (d > big) d = big;
      cur[j] = d;
      if (d < rowMin) rowMin = d;
    }
    if (hi < m) cur[hi + 1] = big;
    if (rowMin > max) return big;
    [prev2, prev, cur] = [prev, cur, prev2];
  }
  const d = prev[m]!;
  return d > max ? big : d;
}

/** The largest distance a suggestion may be from a name: a slip, not a different word. */
export function suggestionDistance(name: string): number {
  return name.length < 5 ? 1 : name.length < 10 ? 2 : 3;
}

/** Which of 64 character classes a name holds, as two 32-bit words: a cheap lower bound of the distance. */
export function charMask(name: string): [number, number] {
  let lo = 0;
  let hi = 0;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i) & 63;
    if (c < 32) lo |= 1 << c;
    else hi |= 1 << (c - 32);
  }
  return [lo >>> 0, hi >>> 0];
}

function popcount(x: number): number {
  let v = x - ((x >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/** Whether two names' character sets differ by more than `max` edits can explain. */
export function masksTooFar(a: [number, number], lo: number, hi: number, max: number): boolean {
  return popcount((a[0] ^ lo) >>> 0) + popcount((a[1] ^ hi) >>> 0) > 2 * max;
}

/** The candidates closest to `name`, at most `limit` of them, within suggestionDistance(name). */
export function closest(name: string, candidates: Iterable<string>, limit = 3): string[] {
  const max = suggestionDistance(name);
  const found: { c: string; d: number }[] = [];
  for (const c of candidates) {
    const d = editDistance(name, c, max);
    if (d <= max) found.push({ c, d });
  }
  return best(found, limit);
}

export function best(found: { c: string; d: number }[], limit: number): string[] {
  found.sort((x, y) => x.d - y.d || x.c.length - y.c.length || (x.c < y.c ? -1 : 1));
  return found.slice(0, limit).map((f) => f.c);
}
