#!/usr/bin/env node
// Runs every *.test.ts under shared/, services/ and cli/ with node's own test runner (through tsx),
// one file at a time: the integration tests share one RabbitMQ, one database and one Docker engine.
// Arguments narrow the run to files whose path contains one of them: `npm test -- kickstart broker`.
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const roots = ['shared', 'services', 'cli'];
const filters = process.argv.slice(2);

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.ts') && p.includes('/test/')) out.push(relative(root, p));
  }
  return out;
}

const files = roots.flatMap((r) => walk(join(root, r), [])).sort()
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)));
if (files.length === 0) {
  console.error(`no test file matches ${filters.join(' ')}`);
  process.exit(1);
}
const r = spawnSync(process.execPath, [
  '--import', 'tsx', '--test', '--test-concurrency=1', '--test-reporter=spec', ...files,
], { cwd: root, stdio: 'inherit', env: { ...process.env, NODE_ENV: 'test' } });
process.exit(r.status ?? 1);
