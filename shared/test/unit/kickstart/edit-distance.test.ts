// The bounded, banded edit distance behind "did you mean" agrees with the plain full-table one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { charMask, closest, editDistance, masksTooFar } from '../../../src/kickstart/edit-distance.ts';

/** The textbook optimal string alignment distance, the whole table. */
function plain(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

test('the bounded distance is the plain one up to the bound, and bound + 1 past it; the mask filter never drops a near name', () => {
  let seed = 42;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const word = () => Array.from({ length: 1 + Math.floor(rnd() * 14) }, () => 'abcde-+.'[Math.floor(rnd() * 8)]).join('');
  for (let k = 0; k < 3000; k++) {
    const a = word();
    const b = rnd() < 0.5 ? word() : a.slice(0, Math.floor(rnd() * a.length)) + word().slice(0, 2) + a.slice(Math.floor(rnd() * a.length));
    for (const max of [1, 2, 3]) {
      const full = plain(a, b);
      assert.equal(editDistance(a, b, max), full <= max ? full : max + 1, `${a} ${b} ${max}`);
      const [lo, hi] = charMask(b);
      if (full <= max) assert.equal(masksTooFar(charMask(a), lo, hi, max), false, `${a} ${b}`);
    }
  }
});

test('suggestions are slips, the closest first', () => {
  assert.deepEqual(closest('openssh-sever', ['openssh-server', 'openssh-client', 'openssl']), ['openssh-server']);
  assert.deepEqual(closest('timzone', ['timezone', 'timesource', 'lang']), ['timezone']);
  assert.deepEqual(closest('vim-enhanced', ['vim', 'vim-tiny']), []);
});
