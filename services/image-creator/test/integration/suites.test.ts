// Real builds for each kind of suite, checked as a user would: the image's os-release, its apt
// sources, its build-info, and `apt-get update` run inside it (the built tar imported into Docker)
// reading every suite the sources name, the security suite included.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Broker } from '@img/shared/broker';
import type { LinkMessage } from '@img/shared/contracts';
import { builderVersion } from '@img/shared/builds';
import { connectTestBroker, purgeAllQueues, repoRoot, stackEnv, startService, type ServiceProcess } from '@img/shared/testing';
import { closeJobRecords, outcomes, publishBuild } from '../support/jobs.ts';

let env: Awaited<ReturnType<typeof stackEnv>>;
let creator: ServiceProcess | undefined;
let broker: Broker;
/** Build times, printed at the end: the suites side by side. */
const diagnostics: string[] = [];
/** Docker images this file made from built tars; removed afterwards (only these). */
const imported: string[] = [];

before(async () => {
  execFileSync('bash', [join(repoRoot, 'deploy/builder/build-image.sh')], { stdio: 'ignore' });
  env = await stackEnv({ IMG_BUILD_TIMEOUT_S: '900', IMG_VERIFY_BOOT: 'false' });
  broker = await connectTestBroker('suites-test');
});
after(async () => {
  for (const d of diagnostics) process.stdout.write(`# ${d}\n`);
  await creator?.stop();
  await broker?.close();
  await closeJobRecords();
  for (const tag of imported) execFileSync('docker', ['rmi', '-f', tag], { stdio: 'ignore' });
  if (env) await rm(env.IMG_DATA_DIR, { recursive: true, force: true });
});
beforeEach(async () => {
  await purgeAllQueues();
  if (!creator || creator.proc.exitCode !== null || creator.proc.signalCode !== null) creator = await startService('image-creator', env, { readyTimeoutMs: 60_000 });
});

const PACKAGES = '%packages\nhostname\n%end\n';

/** Builds a tar through image-creator and returns its link message and the archive's path. */
async function build(ksfile: string, suite?: string): Promise<{ link: LinkMessage; archive: string; started: number; ended: number }> {
  const started = Date.now();
  // As the frontend does: the job's record, then the message (image-creator builds only jobs it knows).
  const id = await publishBuild(broker, ksfile, 'tar', 'suites@example.com', suite);
  const [first] = await outcomes(id, 900_000);
  assert.equal(first?.kind, 'link', `the build succeeds: ${JSON.stringify(first?.msg).slice(0, 2000)}`);
  const link = first.msg as LinkMessage;
  diagnostics.push(`${link.suite} tar built in ${link.duration_s} s`);
  return { link, archive: join(env.IMG_DATA_DIR, 'images', id, link.filename), started, ended: Date.now() };
}

/** One file of the archive, as text; undefined when the archive has no such file. */
function member(archive: string, path: string): string | undefined {
  try {
    return execFileSync('bash', ['-c', 'zstd -dc "$1" | tar -xOf - "$2"', 'member', archive, `.${path}`], { encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return undefined;
  }
}

function keyValues(text: string | undefined): Record<string, string> {
  return Object.fromEntries((text ?? '').split('\n').filter((l) => l.includes('=')).map((l) => {
    const i = l.indexOf('=');
    return [l.slice(0, i), l.slice(i + 1).replace(/^"|"$/g, '')];
  }));
}

/** The built root file system as a Docker image, to run commands in as in the booted system. */
function importImage(archive: string, name: string): string {
  const tag = `img-suites-test:${name}-${process.pid}`;
  execFileSync('bash', ['-c', 'zstd -dc "$1" | docker import - "$2"', 'import', archive, tag], { stdio: ['ignore', 'ignore', 'inherit'] });
  imported.push(tag);
  return tag;
}

function runIn(tag: string, ...cmd: string[]): string {
  return execFileSync('docker', ['run', '--rm', '--label', 'img.test=suites', tag, ...cmd], { encoding: 'utf8', timeout: 300_000 });
}

/** The suites apt fetched an index of, from its "Get:"/"Hit:" lines (`URI SUITE InRelease`). */
function suitesRead(aptOutput: string): string[] {
  return [...aptOutput.matchAll(/^(?:Get|Hit):\d+ \S+ (\S+) InRelease/gm)].map((m) => m[1]!).sort();
}

function checkBuildInfo(archive: string, suite: string, started: number, ended: number): void {
  const info = keyValues(member(archive, '/etc/img/build-info'));
  assert.equal(info.SUITE, suite);
  assert.equal(info.ARCHITECTURE, 'amd64');
  assert.equal(info.BUILDER_VERSION, builderVersion());
  // The lists' own date (the newest Release file's), not when they were read: the image must not change with the clock.
  // A mirror may be a snapshot weeks old (sid's here was), so the date is only bounded: a real date,
  // not after the build, and from this year's archive.
  const dated = Date.parse(info.PACKAGE_LISTS_DATE ?? '');
  assert.ok(dated <= ended && dated > started - 365 * 86_400_000, `the package lists' date, not after the build: ${info.PACKAGE_LISTS_DATE}`);
  assert.equal(Number(info.SOURCE_DATE_EPOCH) * 1000, dated, 'SOURCE_DATE_EPOCH is that date');
}

test('a kickstart without a repo line is trixie, with trixie-updates and trixie-security that apt reads inside the image', async () => {
  const { link, archive, started, ended } = await build(PACKAGES);
  assert.equal(link.suite, 'trixie', 'the result names the suite');
  const tag = importImage(archive, 'trixie');
  const osRelease = keyValues(runIn(tag, 'cat', '/etc/os-release'));
  assert.equal(osRelease.VERSION_CODENAME, 'trixie');
  assert.equal(osRelease.VERSION_ID, '13');
  // Trixie's own format: deb822 debian.sources, and no one-line list beside it.
  assert.equal(member(archive, '/etc/apt/sources.list'), undefined);
  const sources = member(archive, '/etc/apt/sources.list.d/debian.sources') ?? '';
  assert.match(sources, /^Suites: trixie trixie-updates$/m);
  assert.match(sources, /^Suites: trixie-security$/m);
  checkBuildInfo(archive, 'trixie', started, ended);
  assert.deepEqual(suitesRead(runIn(tag, 'apt-get', 'update')), ['trixie', 'trixie-security', 'trixie-updates']);
});

test('repo --suite=bookworm is bookworm, with bookworm-security in a one-line sources.list', async () => {
  const { link, archive, started, ended } = await build(`repo --name=debian --suite=bookworm --components=main\n${PACKAGES}`);
  assert.equal(link.suite, 'bookworm');
  const tag = importImage(archive, 'bookworm');
  const osRelease = keyValues(runIn(tag, 'cat', '/etc/os-release'));
  assert.equal(osRelease.VERSION_CODENAME, 'bookworm');
  // A merged /usr made as debootstrap makes it, without the usrmerge package and the perl it pulls in.
  const installed = runIn(tag, 'dpkg-query', '-W', '-f', '${Package}\n').trim().split('\n');
  assert.ok(!installed.includes('usrmerge'), 'usrmerge is not installed');
  assert.ok(!installed.includes('perl'), 'perl is not installed (perl-base, which is Essential, is)');
  assert.ok(installed.includes('perl-base'));
  assert.equal(runIn(tag, 'readlink', '/bin').trim(), 'usr/bin', '/bin is a link into /usr');
  assert.equal(member(archive, '/etc/apt/sources.list.d/debian.sources'), undefined);
  const lines = (member(archive, '/etc/apt/sources.list') ?? '').trim().split('\n').map((l) => l.split(' ').filter((_, i) => i !== 1).join(' '));
  assert.deepEqual(lines, ['deb bookworm main', 'deb bookworm-updates main', 'deb bookworm-security main']);
  checkBuildInfo(archive, 'bookworm', started, ended);
  assert.deepEqual(suitesRead(runIn(tag, 'apt-get', 'update')), ['bookworm', 'bookworm-security', 'bookworm-updates']);
});

test('a sid build, asked for by the request rather than the kickstart, works and has no security suite', async () => {
  // The mirror these tests reach serves a sid whose lists are past their Valid-Until date (a
  // snapshot): the operator's setting accepts them for the build, as it would on such a mirror.
  await creator?.stop();
  creator = await startService('image-creator', { ...env, IMG_APT_CHECK_VALID_UNTIL: 'false' }, { readyTimeoutMs: 60_000 });
  const { link, archive, started, ended } = await build(PACKAGES, 'sid');
  assert.equal(link.suite, 'sid');
  const tag = importImage(archive, 'sid');
  const osRelease = keyValues(runIn(tag, 'cat', '/etc/os-release'));
  assert.match(osRelease.PRETTY_NAME ?? '', /sid/);
  const sources = member(archive, '/etc/apt/sources.list.d/debian.sources') ?? '';
  assert.match(sources, /^Suites: sid$/m);
  assert.doesNotMatch(sources, /-security|-updates/);
  checkBuildInfo(archive, 'sid', started, ended);
  // The image itself checks the dates, as it should against a live mirror; here it is told not to.
  assert.deepEqual(suitesRead(runIn(tag, 'apt-get', '-o', 'Acquire::Check-Valid-Until=false', 'update')), ['sid']);
});
