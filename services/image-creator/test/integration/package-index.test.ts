// The check before a build is queued, against the real package index: image-creator reads the package
// lists of trixie for amd64 and arm64 with apt in a builder container (from the mirror builds use) and
// keeps them in the database; the frontend refuses at submission, naming the line, a misspelt package,
// an RPM name (saying Debian's), an unknown group and a package of the other architecture, and the
// same through POST /api/v1/kickstart/check and `img ks-check --server`. A submission made before any
// index of its suite was read is accepted and checked by the build instead, with the same message,
// and the job says which happened.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadDefaultTemplate, parseKickstart } from '@img/shared/kickstart';
import { checkPackages, PackageIndexCache, PackageIndexStore, unitsForPlan } from '@img/shared/packages';
import {
  connectTestDatabase, purgeAllQueues, repoRoot, stackEnv, startService, tempDir, uniqueEmail, waitFor, type ServiceProcess,
} from '@img/shared/testing';

let env: Awaited<ReturnType<typeof stackEnv>>;
const services: ServiceProcess[] = [];
let db: Awaited<ReturnType<typeof connectTestDatabase>>;
let store: PackageIndexStore;
const timings: string[] = [];

before(async () => {
  execFileSync('bash', [join(repoRoot, 'deploy/builder/build-image.sh')], { stdio: 'ignore' });
  await purgeAllQueues();
  db = await connectTestDatabase();
  // What this file shows is the reading itself: no index is kept from an earlier run.
  await db.collection('package_indexes').deleteMany({});
  await db.collection('package_index_locks').deleteMany({});
  store = new PackageIndexStore(db);
  env = await stackEnv({ IMG_BUILD_TIMEOUT_S: '600', IMG_VERIFY_BOOT: 'false', IMG_PACKAGE_INDEX_PRELOAD: 'trixie:amd64,trixie:arm64', IMG_PACKAGE_INDEX_POLL_S: '2' });
  services.push(await startService('image-creator', env, { readyTimeoutMs: 60_000 }));
  services.push(await startService('frontend', env));
});

after(async () => {
  for (const t of timings) process.stdout.write(`# ${t}\n`);
  await Promise.all(services.map((s) => s.stop()));
  await db?.close();
  if (env) await rm(env.IMG_DATA_DIR, { recursive: true, force: true });
});

const api = (path: string, init: RequestInit = {}) => fetch(`${env.IMG_PUBLIC_URL}${path}`, { ...init, headers: { accept: 'application/json', ...(init.headers ?? {}) } });

async function submit(kickstart: string, suite?: string, arch?: string): Promise<{ status: number; body: Record<string, any> }> {
  const res = await api('/api/v1/jobs', {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: uniqueEmail('pkgcheck'), imagetype: 'tar', kickstart, ...(suite ? { suite } : {}), ...(arch ? { arch } : {}) }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

async function indexed(key: string): Promise<{ packages: number; read_at: Date }> {
  return waitFor(`the package index ${key} in the database`, async () => {
    const doc = await db.collection('package_indexes').findOne({ _id: key as never, read_at: { $exists: true } });
    return doc ? { packages: doc.packages as number, read_at: doc.read_at as Date } : undefined;
  }, { timeoutMs: 600_000, intervalMs: 500 });
}

test('image-creator reads the package lists of trixie, trixie-updates and trixie-security for amd64 and arm64, signed, into the database', async () => {
  const started = Date.now();
  for (const arch of ['amd64', 'arm64']) {
    const main = await indexed(`trixie/main/${arch}`);
    assert.ok(main.packages > 50_000, `trixie main ${arch} has ${main.packages} packages`);
    await indexed(`trixie-updates/main/${arch}`);
    await indexed(`trixie-security/main/${arch}`);
  }
  timings.push(`the package lists of trixie for amd64 and arm64 read in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const cache = new PackageIndexCache(store, { recheckMs: 60_000 });
  const plan = parseKickstart('').draft;
  const units = unitsForPlan(plan);
  assert.ok('units' in units);
  const answer = await cache.view(units.units);
  assert.ok('view' in answer);
  assert.equal(answer.view.lookup('linux-image-amd64').kind, 'real');
  const mta = answer.view.lookup('mail-transport-agent');
  assert.equal(mta.kind, 'virtual', 'virtual packages are kept with their providers');
  assert.ok(mta.kind === 'virtual' && mta.providers.includes('exim4-daemon-light'));
});

const refusals: Array<{ what: string; kickstart: string; line: number; says: RegExp }> = [
  { what: 'a misspelt package', kickstart: 'lang en_US.UTF-8\n%packages\nopenssh-sever\n%end\n', line: 3, says: /package 'openssh-sever' is not in Debian trixie \(trixie, trixie-updates, trixie-security; main\) for amd64; did you mean 'openssh-server'/ },
  { what: 'an RPM name', kickstart: '%packages\nhostname\nvim-enhanced\n%end\n', line: 3, says: /package 'vim-enhanced' is not in Debian trixie .* for amd64; did you mean 'vim'/ },
  { what: 'an RPM name in RPM\'s spelling', kickstart: '%packages\nNetworkManager\n%end\n', line: 2, says: /'NetworkManager' is not a Debian package name .*; Debian trixie .* has 'network-manager'/ },
  { what: 'the kernel by its RPM name', kickstart: '%packages\nkernel\n%end\n', line: 2, says: /package 'kernel' is not in .*; did you mean 'linux-image-amd64'/ },
  { what: 'an unknown group', kickstart: '%packages\n@Core\nhostname\n%end\n', line: 2, says: /unknown group 'Core'; IMG's groups are @Standard System, .*@SSH Server/ },
  { what: 'an arm64-only package on amd64', kickstart: '%packages\nhostname\ngrub-efi-arm64\n%end\n', line: 3, says: /package 'grub-efi-arm64' is not in Debian trixie .* for amd64 \(it is there for arm64\)/ },
];

for (const r of refusals) {
  test(`refused at submission with its line, and by POST /api/v1/kickstart/check: ${r.what}`, async () => {
    await indexed('trixie/main/amd64');
    const { status, body } = await submit(r.kickstart);
    assert.equal(status, 400, JSON.stringify(body));
    const field = (body.error.fields as Array<{ field: string; line?: number; message: string }>).find((f) => f.line === r.line);
    assert.ok(field, `a problem on line ${r.line}: ${JSON.stringify(body.error.fields)}`);
    assert.match(field.message, r.says);
    const check = await api('/api/v1/kickstart/check', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ kickstart: r.kickstart }) });
    assert.equal(check.status, 200);
    const answer = (await check.json()) as { ok: boolean; errors: Array<{ line: number; message: string }>; package_check: { state: string } };
    assert.equal(answer.ok, false);
    assert.equal(answer.package_check.state, 'checked');
    assert.ok(answer.errors.some((e) => e.line === r.line && r.says.test(e.message)), JSON.stringify(answer.errors));
  });
}

test('for arm64: an amd64-only package is refused at submission with its line, and kernel is linux-image-arm64, against the arm64 index', async () => {
  await indexed('trixie/main/arm64');
  const text = '%packages\nhostname\ngrub-pc\nkernel\n%end\n';
  // The check itself, asked for arm64 directly.
  const parsed = parseKickstart(text, { arch: 'arm64' });
  const units = unitsForPlan(parsed.draft);
  assert.ok('units' in units);
  assert.ok(units.units.every((u) => u.architecture === 'arm64'));
  const cache = new PackageIndexCache(store, { recheckMs: 60_000 });
  const arm = await cache.view(units.units);
  const amd = await cache.view(units.units.map((u) => ({ ...u, architecture: 'amd64' })));
  assert.ok('view' in arm && 'view' in amd);
  const checked = checkPackages(text, parsed, arm.view, { described: units.described, elsewhere: [amd.view] });
  assert.deepEqual(checked.errors.map((e) => [e.line, e.text]), [[3, 'grub-pc'], [4, 'kernel']]);
  const amd64Only = /package 'grub-pc' is not in Debian trixie \(trixie, trixie-updates, trixie-security; main\) for arm64 \(it is there for amd64\)/;
  const kernel = /package 'kernel' is not in Debian trixie .* for arm64; did you mean 'linux-image-arm64'/;
  assert.match(checked.errors[0]?.message ?? '', amd64Only);
  assert.match(checked.errors[1]?.message ?? '', kernel);
  // The same through the request's arch field, at submission and by the check route.
  const { status, body } = await submit(text, undefined, 'arm64');
  assert.equal(status, 400, JSON.stringify(body));
  const fields = body.error.fields as Array<{ field: string; line?: number; message: string }>;
  assert.match(fields.find((f) => f.line === 3)?.message ?? '', amd64Only);
  assert.match(fields.find((f) => f.line === 4)?.message ?? '', kernel);
  const check = (await (await api('/api/v1/kickstart/check', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ kickstart: text, arch: 'arm64' }) })).json()) as Record<string, any>;
  assert.equal(check.architecture, 'arm64');
  assert.deepEqual((check.errors as Array<{ line: number }>).map((e) => e.line), [3, 4]);
  // And on amd64 the same text only lacks its kernel's Debian name.
  const onAmd = (await (await api('/api/v1/kickstart/check', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ kickstart: text }) })).json()) as Record<string, any>;
  assert.deepEqual((onAmd.errors as Array<{ line: number; message: string }>).map((e) => [e.line, /linux-image-amd64/.test(e.message)]), [[4, true]]);
});

test('img ks-check --server prints the server\'s errors by line and exits 1; a clean file passes with its warnings', async () => {
  const dir = await tempDir('img-kscheck-');
  const bad = join(dir, 'bad.ks');
  const good = join(dir, 'good.ks');
  await writeFile(bad, 'text\n%packages\nvim-enhanced\n%end\n');
  await writeFile(good, 'text\nreboot\n%packages --excludedocs\nvim\n%end\n');
  const run = (file: string) => spawnSync(process.execPath, [join(repoRoot, 'cli/bin/img.js'), 'ks-check', '--server', env.IMG_PUBLIC_URL, file], { cwd: repoRoot, encoding: 'utf8' });
  const b = run(bad);
  assert.equal(b.status, 1, b.stderr);
  assert.match(b.stderr, new RegExp(`${bad}:3: package 'vim-enhanced' is not in Debian trixie .*did you mean 'vim'`));
  assert.match(b.stderr, new RegExp(`warning: ${bad}:1: 'text' is ignored`));
  const g = run(good);
  assert.equal(g.status, 0, g.stderr);
  assert.match(g.stdout, /ok; Debian trixie for amd64; packages checked against Debian trixie/);
  assert.match(g.stderr, /warning: .*good\.ks:2: 'reboot' is ignored/);
  await rm(dir, { recursive: true, force: true });
});

test('a package missing under %packages --ignoremissing is accepted with a warning; the job says the check ran at submission', async () => {
  const { status, body } = await submit('%packages --ignoremissing\nhostname\nfake-package-name\n%end\n');
  assert.equal(status, 201, JSON.stringify(body));
  assert.equal(body.package_check.how, 'submission');
  assert.match(body.package_check.detail, /checked against Debian trixie .* package lists read/);
  assert.ok((body.warnings as Array<{ line: number; message: string }>).some((w) => w.line === 3 && /fake-package-name.*skips it \(%packages --ignoremissing\)/.test(w.message)), JSON.stringify(body.warnings));
  // The build (hostname only) runs to its end; its warnings keep the line.
  const done = await waitFor('the build', async () => {
    const j = (await (await api(`/api/v1/jobs/${body.id}`, { headers: { authorization: `Bearer ${body.token}` } })).json()) as Record<string, any>;
    return ['done', 'failed'].includes(j.status) ? j : undefined;
  }, { timeoutMs: 900_000, intervalMs: 1000 });
  assert.equal(done.status, 'done', done.error);
  assert.equal(done.package_check.how, 'submission');
  assert.ok((done.warnings as Array<{ line: number }>).some((w) => w.line === 3));
});

test('without an index of its suite the submission is accepted and the build checks the packages, with the same message and line, and says so', async () => {
  const kickstart = 'lang C.UTF-8\n%packages\nhostname\nvim-enhanced\n%end\n';
  const { status, body } = await submit(kickstart, 'bookworm');
  assert.equal(status, 201, JSON.stringify(body));
  assert.equal(body.package_check.how, 'build');
  assert.match(body.package_check.detail, /no package index of Debian bookworm .* was read yet: the build checks the packages/);
  const failed = await waitFor('the build to fail at its package check', async () => {
    const j = (await (await api(`/api/v1/jobs/${body.id}`, { headers: { authorization: `Bearer ${body.token}` } })).json()) as Record<string, any>;
    return j.status === 'failed' ? j : undefined;
  }, { timeoutMs: 600_000, intervalMs: 1000 });
  assert.equal(failed.error_code, 'invalid_kickstart');
  assert.match(failed.error, /^kickstart line 4: package 'vim-enhanced' is not in Debian bookworm \(bookworm, bookworm-updates, bookworm-security; main\) for amd64; did you mean 'vim'/);
  assert.equal(failed.package_check.how, 'build');
  assert.match(failed.package_check.detail, /checked against Debian bookworm/);
  const log = await (await api(`/api/v1/jobs/${body.id}/log`, { headers: { authorization: `Bearer ${body.token}` } })).text();
  assert.match(log, /no package index of Debian bookworm .* was read yet: reading the package lists now/);
  // Now that the lists were read, the same kickstart is refused at submission, with the same message.
  const again = await submit(kickstart, 'bookworm');
  assert.equal(again.status, 400);
  const field = (again.body.error.fields as Array<{ line?: number; message: string }>).find((f) => f.line === 4);
  assert.equal(field?.message, `line 4: ${failed.error.replace(/^kickstart line 4: /, '')}`);
});

test('a kickstart with a repository of its own is not checked before the build, and the job says why', async () => {
  const res = await api('/api/v1/kickstart/check', {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ kickstart: 'repo --name=mine --baseurl=https://example.org/debian --suite=trixie --components=main\n%packages\nsomething-of-mine\n%end\n' }),
  });
  const answer = (await res.json()) as { ok: boolean; package_check: { state: string; reason: string } };
  assert.equal(answer.ok, true);
  assert.equal(answer.package_check.state, 'skipped');
  assert.match(answer.package_check.reason, /repository of its own \(repo --name=mine\)/);
});

test('every Debian port of a real kickstart passes the check against the real index of trixie for amd64', async () => {
  await indexed('trixie/main/amd64');
  const dir = join(repoRoot, 'shared/test/unit/kickstart/ports');
  const ports = readdirSync(dir).filter((f) => f.endsWith('.ks'));
  assert.ok(ports.length >= 10);
  for (const file of ports) {
    const res = await api('/api/v1/kickstart/check', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ kickstart: readFileSync(join(dir, file), 'utf8') }) });
    const answer = (await res.json()) as { ok: boolean; errors: unknown[]; package_check: { state: string } };
    assert.deepEqual(answer.errors, [], file);
    assert.equal(answer.package_check.state, 'checked', file);
  }
});

test('the groups of IMG\'s own template are all in trixie for amd64', async () => {
  await indexed('trixie/main/amd64');
  const groups = loadDefaultTemplate().template?.groups ?? {};
  const text = `%packages\n${Object.keys(groups).map((g) => `@${g}`).join('\n')}\n%end\n`;
  const res = await api('/api/v1/kickstart/check', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ kickstart: text }) });
  const answer = (await res.json()) as { ok: boolean; errors: unknown[] };
  assert.deepEqual(answer.errors, []);
});
