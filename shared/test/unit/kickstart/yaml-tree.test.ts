import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lineAt, loadYamlTree, plainValue } from '../../../src/kickstart/yaml-tree.ts';

const DOC = `# comment
A:
  x: 1
  list:
    - a
    - b: 2
      c: [3, 4]
  flow: {k: v, n: null}
  text: |
    line one
    line two
B: &anchor [1, 2]
C: *anchor
'quoted key': "v"
`;

test('the tree gives the same values as js-yaml', () => {
  const r = loadYamlTree(DOC);
  assert.deepEqual(r.errors, []);
  assert.ok(r.root);
  assert.deepEqual(plainValue(r.root), {
    A: { x: 1, list: ['a', { b: 2, c: [3, 4] }], flow: { k: 'v', n: null }, text: 'line one\nline two\n' },
    B: [1, 2], C: [1, 2], 'quoted key': 'v',
  });
});

test('keys and list items keep their lines', () => {
  const root = loadYamlTree(DOC).root;
  assert.ok(root);
  assert.equal(lineAt(root, ['A']), 2);
  assert.equal(lineAt(root, ['A', 'x']), 3);
  assert.equal(lineAt(root, ['A', 'list', 0]), 5);
  assert.equal(lineAt(root, ['A', 'list', 1, 'c']), 7);
  assert.equal(lineAt(root, ['A', 'flow', 'n']), 8);
  assert.equal(lineAt(root, ['quoted key']), 14);
  assert.equal(lineAt(root, ['A', 'missing']), 2, 'the deepest node found on the way');
});

test('repeated list keys merge in order with a warning; nested ones too', () => {
  const r = loadYamlTree('P:\n  L: [a]\n  Q:\n    M: [x]\n    M: [y]\n  L:\n    - b\n');
  assert.deepEqual(r.errors, []);
  assert.ok(r.root);
  assert.deepEqual(plainValue(r.root), { P: { L: ['a', 'b'], Q: { M: ['x', 'y'] } } });
  assert.deepEqual(r.warnings.map((w) => w.line), [5, 6]);
  assert.equal(lineAt(r.root, ['P', 'L', 1]), 7);
});

test('three occurrences of a key merge into one list', () => {
  const r = loadYamlTree('L: [a]\nL: [b]\nL: [c]\n');
  assert.ok(r.root);
  assert.deepEqual(plainValue(r.root), { L: ['a', 'b', 'c'] });
  assert.equal(r.warnings.length, 2);
});

test('a repeated mapping or scalar key is an error with both lines', () => {
  const r = loadYamlTree('a: {x: 1}\nb: 2\na: {y: 1}\n');
  assert.deepEqual(r.errors, [{ line: 3, message: "key 'a' is repeated on lines 1 and 3; only lists may be repeated" }]);
});

test('syntax errors carry js-yaml\'s line', () => {
  const r = loadYamlTree('a: 1\nb: [2\n');
  assert.equal(r.errors.length, 1);
  assert.equal(r.root, undefined);
  assert.equal(typeof r.errors[0]?.line, 'number');
  assert.equal(loadYamlTree('a:\n\tb: 1\n').errors[0]?.line, 2);
});

test('keys without values in flow or explicit form still load, placed on their mapping\'s line', () => {
  const r = loadYamlTree('top:\n  inner: {a, b: 1}\n');
  assert.deepEqual(r.errors, []);
  assert.ok(r.root);
  assert.deepEqual(plainValue(r.root), { top: { inner: { a: null, b: 1 } } });
});

test('an empty document has no root', () => {
  assert.equal(loadYamlTree('').root, undefined);
  assert.deepEqual(loadYamlTree('# only a comment\n').root && plainValue(loadYamlTree('# only a comment\n').root!), null);
});

test('an alias stands for its anchor\'s structure, placed on the alias\'s line', () => {
  const r = loadYamlTree('base: &b\n  L: [x]\n  S: 1\ncopy: *b\n');
  assert.ok(r.root);
  assert.deepEqual(plainValue(r.root), { base: { L: ['x'], S: 1 }, copy: { L: ['x'], S: 1 } });
  assert.equal(lineAt(r.root, ['copy', 'L', 0]), 4);
});
