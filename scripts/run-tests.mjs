#!/usr/bin/env node
// Runs the *.test.ts files under shared/, services/ and cli/ with node's own test runner (through
// tsx), one file at a time (the integration tests share one RabbitMQ, one database and one Docker
// engine); the unit tier alone runs a file per core.
//
//   node scripts/run-tests.mjs                      every test (what `npm test` and CI run)
//   node scripts/run-tests.mjs --tier unit          the tests that need no service: files under a test/unit/ folder
//   node scripts/run-tests.mjs --tier integration   the others (RabbitMQ, the database, Docker, SMTP, a browser)
//   node scripts/run-tests.mjs PATH...              the files at or under these paths (a file or a folder, from the repository root)
//
// Both narrow together: `--tier unit services/image-creator`. A path that names no test file is an error.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { availableParallelism } from 'node:os';

const root = fileURLToPath(new URL('..', import.meta.url));
const roots = ['shared', 'services', 'cli'];
const tiers = { unit: (f) => f.includes(`${sep}test${sep}unit${sep}`), integration: (f) => !f.includes(`${sep}test${sep}unit${sep}`) };

const args = process.argv.slice(2);
let tier;
const paths = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--tier') tier = args[++i];
  else if (args[i].startsWith('--tier=')) tier = args[i].slice(7);
  else paths.push(args[i]);
}
if (tier !== undefined && !(tier in tiers)) {
  console.error(`unknown tier '${tier}': use ${Object.keys(tiers).join(' or ')}`);
  process.exit(2);
}

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.ts') && p.includes(`${sep}test${sep}`)) out.push(relative(root, p));
  }
  return out;
}

let files = roots.flatMap((r) => walk(join(root, r), [])).sort();
if (tier) files = files.filter(tiers[tier]);
if (paths.length > 0) {
  const wanted = paths.map((p) => {
    const abs = resolve(process.cwd(), p);
    if (!existsSync(abs)) {
      console.error(`no such file or folder: ${p}`);
      process.exit(2);
    }
    return relative(root, abs);
  });
  files = files.filter((f) => wanted.some((w) => f === w || f.startsWith(w + sep)));
}
if (files.length === 0) {
  console.error(`no test file${tier ? ` of the ${tier} tier` : ''}${paths.length ? ` at ${paths.join(' ')}` : ''}`);
  process.exit(1);
}
const r = spawnSync(process.execPath, [
  // The unit tier shares nothing, so its files run side by side; the others share the services.
  '--import', 'tsx', '--test', `--test-concurrency=${tier === 'unit' ? availableParallelism() : 1}`, '--test-reporter=spec', ...files,
], { cwd: root, stdio: 'inherit', env: { ...process.env, NODE_ENV: 'test' } });
process.exit(r.status ?? 1);
