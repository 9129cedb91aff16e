// What a Debian port of a kickstart may change: its repositories (repo and url lines) and its package
// names (the lines of %packages), nothing else. `%ksappend FILE` lines of the original are first
// replaced by the fragment they append, as ksflatten does, so a port may be the flattened file.
// Returns one sentence per line changed that is neither; none means the port is honest.

type Kind = 'packages' | 'repository' | 'other';

function kinds(lines: readonly string[]): Kind[] {
  let inPackages = false;
  return lines.map((line) => {
    const t = line.trim();
    if (inPackages) {
      if (t === '%end' || (t.startsWith('%') && !t.startsWith('%include'))) {
        inPackages = t !== '%end' && t.startsWith('%packages');
        return 'other';
      }
      return 'packages';
    }
    if (/^%packages(\s|$)/.test(t)) {
      inPackages = true;
      return 'other';
    }
    const first = t.split(/\s+/, 1)[0];
    return first === 'repo' || first === 'url' ? 'repository' : 'other';
  });
}

function flatten(text: string, fragment: (path: string) => string | undefined): string[] {
  const out: string[] = [];
  for (const line of text.replace(/\r\n?/g, '\n').replace(/\n$/, '').split('\n')) {
    const m = /^%ksappend\s+(\S+)\s*$/.exec(line.trim());
    const body = m ? fragment(m[1] as string) : undefined;
    if (body === undefined) out.push(line);
    else out.push(...body.replace(/\n$/, '').split('\n'));
  }
  return out;
}

/** Longest common subsequence of lines, as the pairs of indexes kept. */
function common(a: readonly string[], b: readonly string[]): [number, number][] {
  const n = a.length;
  const m = b.length;
  const len = Array.from({ length: n + 1 }, () => new Uint16Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      (len[i] as Uint16Array)[j] = a[i] === b[j] ? (len[i + 1] as Uint16Array)[j + 1]! + 1 : Math.max((len[i + 1] as Uint16Array)[j]!, (len[i] as Uint16Array)[j + 1]!);
    }
  }
  const pairs: [number, number][] = [];
  for (let i = 0, j = 0; i < n && j < m;) {
    if (a[i] === b[j]) {
      pairs.push([i, j]);
      i++;
      j++;
    } else if ((len[i + 1] as Uint16Array)[j]! >= (len[i] as Uint16Array)[j + 1]!) i++;
    else j++;
  }
  return pairs;
}

export function portDiff(original: string, port: string, fragment: (path: string) => string | undefined): string[] {
  const a = flatten(original, fragment);
  const b = port.replace(/\r\n?/g, '\n').replace(/\n$/, '').split('\n');
  const ka = kinds(a);
  const kb = kinds(b);
  const kept = common(a, b);
  const keptA = new Set(kept.map(([i]) => i));
  const keptB = new Set(kept.map(([, j]) => j));
  const problems: string[] = [];
  a.forEach((line, i) => {
    if (!keptA.has(i) && ka[i] === 'other') problems.push(`line ${i + 1} of the original, ${JSON.stringify(line)}, is gone`);
  });
  b.forEach((line, j) => {
    if (!keptB.has(j) && kb[j] === 'other') problems.push(`line ${j + 1} of the port, ${JSON.stringify(line)}, is not the original's`);
  });
  return problems;
}
