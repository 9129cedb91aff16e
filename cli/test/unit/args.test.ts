// The arguments every img command reads: an option's value may begin with a dash (a job token is
// base64url, and about one in 32 does), and `--opt=value` and `--opt value` mean the same.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { commandArgs } from '../../src/args.ts';

const options = { token: { type: 'string' }, follow: { type: 'boolean' } } as const;

test('a value that begins with a dash is the option\'s value, in either spelling', () => {
  for (const args of [['ID', '--token', '-Ab_c9'], ['ID', '--token=-Ab_c9'], ['--token', '-Ab_c9', 'ID']]) {
    const r = commandArgs('log', 'usage\n', args, options, { min: 1, max: 1 });
    assert.notEqual(typeof r, 'number', args.join(' '));
    if (typeof r === 'number') return;
    assert.equal(r.values.token, '-Ab_c9');
    assert.deepEqual(r.positionals, ['ID']);
  }
});

test('flags and positionals are read as before, and an unknown option is still a usage error', () => {
  const r = commandArgs('log', 'usage\n', ['ID', '--follow'], options, { min: 1, max: 1 });
  assert.ok(typeof r !== 'number' && r.values.follow === true);
  const write = process.stderr.write;
  process.stderr.write = (() => true) as typeof process.stderr.write;
  try {
    assert.equal(commandArgs('log', 'usage\n', ['ID', '--nope'], options, { min: 1, max: 1 }), 2);
    assert.equal(commandArgs('log', 'usage\n', ['ID', '--token'], options, { min: 1, max: 1 }), 2, 'a value is still needed');
  } finally {
    process.stderr.write = write;
  }
});
