// Every `fail REASON` the sandbox scripts can print has an error code, and the table holds no
// reason the scripts no longer print: a new reason without a code would reach people as a bare
// "the build failed".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '@img/shared/testing';
import { classifyFailure, failReasons } from '../../src/classify-failure.ts';
import { LogScanner } from '../../src/log-scanner.ts';

const dir = join(repoRoot, 'deploy/builder');
const printed = new Set<string>();
for (const name of readdirSync(dir).filter((f) => f.endsWith('.sh'))) {
  for (const line of readFileSync(join(dir, name), 'utf8').split('\n')) {
    if (/^\s*#/.test(line)) continue;
    for (const m of line.matchAll(/\bfail ([a-z_]+)/g)) printed.add(m[1]!);
  }
}

test('the scripts print the reasons the table knows, and no other', () => {
  assert.ok(printed.size >= 5, `found ${[...printed].join(', ')} in ${dir}`);
  assert.deepEqual([...printed].sort(), Object.keys(failReasons).sort());
});

test('each reason becomes its code, with a sentence that is not the generic one', () => {
  for (const [reason, code] of Object.entries(failReasons)) {
    const scan = new LogScanner({ onPhase: () => {} });
    scan.push(Buffer.from(`IMG: something specific went wrong\n@@IMG-FAIL post ${reason}\n`));
    scan.end();
    const c = classifyFailure({ exitCode: 1, timedOut: false, oomKilled: false }, scan, 'post', { timeoutS: 60, memoryMb: 512, pids: 100, diskMb: 1024, inodes: 10000 });
    assert.equal(c.code, code, reason);
    assert.doesNotMatch(c.message, /^the build failed in the/, `${reason} has a sentence of its own: ${c.message}`);
  }
});
