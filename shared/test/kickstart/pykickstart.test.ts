// IMG reads a kickstart as pykickstart reads it: on every real kickstart of the corpus (and every
// port), the packages, exclusions and groups pykickstart finds are IMG's, or IMG names them in an
// error or a warning (an RPM name, a glob, an environment): nothing is dropped in silence; the %post
// scripts are the same ones, from the same lines, with the same options and bodies; the %packages
// options the same. pykickstart is installed by deploy/local/up.sh (a virtualenv under IMG_CACHE_DIR).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadDefaultTemplate, parseKickstart } from '@img/shared/kickstart';
import { repoRoot } from '@img/shared/testing';

const python = process.env.IMG_TEST_PYKICKSTART_PYTHON ?? join(process.env.IMG_CACHE_DIR ?? '/var/cache/img', 'pykickstart', 'bin', 'python');
const dirs = ['shared/test/unit/kickstart/real', 'shared/test/unit/kickstart/ports'].map((d) => join(repoRoot, d));
const files = dirs.flatMap((d) => readdirSync(d).filter((f) => f.endsWith('.ks')).map((f) => join(d, f)));
const groups = loadDefaultTemplate().template?.groups;

interface PkRead {
  errors: string[];
  packages: string[];
  excluded: string[];
  groups: string[];
  excludedocs: boolean;
  ignoremissing: boolean;
  post: Array<{ line: number; nochroot: boolean; interp: string; log: string | null; body: string }>;
}

function pykickstart(): Record<string, PkRead> {
  if (!existsSync(python)) throw new Error(`pykickstart is not installed at ${python}: run \`bash deploy/local/up.sh --infra-only\` (it installs it), or point IMG_TEST_PYKICKSTART_PYTHON at a python with pykickstart`);
  return JSON.parse(execFileSync(python, [join(repoRoot, 'shared/test/kickstart/pykickstart-read.py'), ...files], { encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'ignore'] })) as Record<string, PkRead>;
}

test('on every real kickstart and port, IMG reads what pykickstart reads, or says why not', () => {
  const pk = pykickstart();
  assert.ok(files.length >= 60, `${files.length} files`);
  const problems: string[] = [];
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    const ours = parseKickstart(text, groups ? { groups } : {});
    const theirs = pk[file];
    assert.ok(theirs, file);
    const said = [...ours.errors, ...ours.warnings].map((e) => e.message).join('\n');
    const name = file.slice(repoRoot.length);
    // A name pykickstart lists that IMG did not take must be one IMG said something about.
    const unexplained = (list: string[], taken: string[]) => list.filter((n) => !taken.includes(n) && !said.includes(n));
    for (const n of unexplained(theirs.packages, ours.draft.packages.include)) problems.push(`${name}: package ${n} dropped in silence`);
    for (const n of unexplained(theirs.excluded, ours.draft.packages.exclude)) problems.push(`${name}: exclusion ${n} dropped in silence`);
    for (const n of unexplained(theirs.groups, ours.draft.packages.groups)) problems.push(`${name}: group ${n} dropped in silence`);
    for (const n of ours.draft.packages.include) if (!theirs.packages.includes(n)) problems.push(`${name}: IMG reads a package ${n} pykickstart does not`);
    if (Boolean(ours.draft.packages.excludedocs) !== theirs.excludedocs) problems.push(`${name}: --excludedocs read differently`);
    if (Boolean(ours.draft.packages.ignoremissing) !== theirs.ignoremissing) problems.push(`${name}: --ignoremissing read differently`);
    const oursPost = ours.draft.post.map((s) => ({ line: s.line, nochroot: s.nochroot, interp: s.interpreter, log: s.log ?? null, body: s.body.trim() }));
    const theirsPost = theirs.post.map((s) => ({ ...s, body: s.body.trim() }));
    if (JSON.stringify(oursPost) !== JSON.stringify(theirsPost)) problems.push(`${name}: the %post scripts differ: IMG ${JSON.stringify(oursPost).slice(0, 300)} pykickstart ${JSON.stringify(theirsPost).slice(0, 300)}`);
  }
  assert.deepEqual(problems, []);
});
