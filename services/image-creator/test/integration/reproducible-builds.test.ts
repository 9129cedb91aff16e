// A fresh build can be asked for (rebuild=true in the API, `img submit --rebuild`): it is built again
// rather than answered from a finished identical request, from the same package cache, and a
// reproducible image type gives the same bytes. Through the four real services and the real CLI.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decompressedImage, repoRoot, stackEnv, startService, purgeAllQueues, uniqueEmail, waitFor, type ServiceProcess } from '@img/shared/testing';

let env: Awaited<ReturnType<typeof stackEnv>>;
const services: ServiceProcess[] = [];
let creator: ServiceProcess;
let dir: string;

before(async () => {
  execFileSync('bash', [join(repoRoot, 'deploy/builder/build-image.sh')], { stdio: 'ignore' });
  await purgeAllQueues();
  env = await stackEnv({ IMG_VERIFY_BOOT: 'false' });
  for (const name of ['kickstarter', 'image-creator', 'notifier', 'frontend']) {
    const s = await startService(name, env, { readyTimeoutMs: 60_000 });
    services.push(s);
    if (name === 'image-creator') creator = s;
  }
  dir = await mkdtemp(join(tmpdir(), 'img-repro-'));
});
after(async () => {
  await Promise.all(services.map((s) => s.stop()));
  if (env) await rm(env.IMG_DATA_DIR, { recursive: true, force: true });
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface ApiJob { id: string; status: string; imagefile?: string; sha256?: string; size?: number; disk_sha256?: string; error?: string }
const tokens = new Map<string, string>();
const owner = (id: string) => ({ authorization: `Bearer ${tokens.get(id) ?? ''}` });

async function submit(body: Record<string, unknown>): Promise<{ status: number; body: ApiJob & { token: string; error?: { fields?: { field: string; message: string }[] } } }> {
  const res = await fetch(`${env.IMG_PUBLIC_URL}/api/v1/jobs`, {
    method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ email: uniqueEmail('repro'), ...body }),
  });
  const parsed = (await res.json()) as ApiJob & { token: string };
  if (res.status === 201) tokens.set(parsed.id, parsed.token);
  return { status: res.status, body: parsed };
}

async function finished(id: string): Promise<ApiJob> {
  return waitFor(`job ${id}`, async () => {
    const res = await fetch(`${env.IMG_PUBLIC_URL}/api/v1/jobs/${id}`, { headers: { accept: 'application/json', ...owner(id) } });
    const j = (await res.json()) as ApiJob;
    return ['done', 'failed', 'cancelled'].includes(j.status) ? j : undefined;
  }, { timeoutMs: 900_000, intervalMs: 500 });
}

async function logOf(id: string): Promise<string> {
  return (await fetch(`${env.IMG_PUBLIC_URL}/job/${id}/log`, { headers: owner(id) })).text();
}

/** How many builds image-creator ran for these jobs (its "image built" log lines). */
function builtBy(ids: string[]): number {
  return creator.output.filter((l) => l.includes('"msg":"image built"') && ids.some((id) => l.includes(id))).length;
}

/** `img submit …` as a person runs it; its state directory keeps the job's token. */
function img(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(repoRoot, 'cli/bin/img.js'), ...args], {
      cwd: dir, env: { ...process.env, IMG_SERVER: env.IMG_PUBLIC_URL, XDG_STATE_HOME: join(dir, 'state') }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => { stdout += b.toString(); });
    child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

test('a rebuild field that is not a yes or no is refused, naming the field', async () => {
  const res = await submit({ imagetype: 'tar', kickstart: '%packages\nhostname\n%end\n', rebuild: 'maybe' });
  assert.equal(res.status, 400);
  assert.ok(res.body.error?.fields?.some((e) => e.field === 'rebuild' && /true or false/.test(e.message)), JSON.stringify(res.body));
});

test('tar: rebuild=true (API) and img submit --rebuild build the same request again, from the same package cache, to the same sha256', async () => {
  const ks = `%packages\nhostname\n%end\n%post\necho repro-${Date.now()} > /etc/marker\n%end\n`;
  const first = await submit({ imagetype: 'tar', kickstart: ks });
  assert.equal(first.status, 201, JSON.stringify(first.body));
  const a = await finished(first.body.id);
  assert.equal(a.status, 'done', a.error);

  const again = await submit({ imagetype: 'tar', kickstart: ks, rebuild: true });
  assert.equal(again.status, 201, JSON.stringify(again.body));
  const b = await finished(again.body.id);
  assert.equal(b.status, 'done', b.error);
  assert.equal(builtBy([first.body.id, again.body.id]), 2, 'built again, not answered from the first build');
  const log = await logOf(again.body.id);
  assert.match(log, /a fresh build was asked for/);
  assert.doesNotMatch(log, /identical to an earlier build/);
  assert.doesNotMatch(log, /installed root file system \S+ of an earlier build .* is used/, 'the cached installed root is not used');

  // The command line's flag, through the form.
  await writeFile(join(dir, 'repro.ks'), ks);
  const cli = await img(['submit', '--ks', 'repro.ks', '--type', 'tar', '--email', uniqueEmail('repro-cli'), '--rebuild', '--wait', '--interval', '500']);
  assert.equal(cli.code, 0, cli.stderr);
  const cliId = cli.stdout.split('\n')[0]!.trim();
  assert.equal(builtBy([cliId]), 1, 'img submit --rebuild built it again');
  const c = /sha256 ([0-9a-f]{64})/.exec(cli.stdout)?.[1];

  // Without the field, the same request is answered from a finished build.
  const plain = await submit({ imagetype: 'tar', kickstart: ks });
  assert.equal((await finished(plain.body.id)).status, 'done');
  assert.equal(builtBy([plain.body.id]), 0, 'a plain repeat is not built');

  assert.equal(b.sha256, a.sha256, 'the rebuild gives the same bytes');
  assert.equal(c, a.sha256, 'the CLI rebuild gives the same bytes');
});

/** Builds the kickstart, then again with rebuild=true; both built (not answered), both done. */
async function builtTwice(imagetype: string, ks: string): Promise<[ApiJob, ApiJob]> {
  // Both fresh: a first build without rebuild may start from an earlier build's cached root, whose
  // files were installed at another time.
  const first = await submit({ imagetype, kickstart: ks, rebuild: true });
  assert.equal(first.status, 201, JSON.stringify(first.body));
  const a = await finished(first.body.id);
  assert.equal(a.status, 'done', a.error);
  const again = await submit({ imagetype, kickstart: ks, rebuild: true });
  assert.equal(again.status, 201, JSON.stringify(again.body));
  const b = await finished(again.body.id);
  assert.equal(b.status, 'done', b.error);
  assert.equal(builtBy([first.body.id, again.body.id]), 2, 'built twice');
  return [a, b];
}

test('loop: an ext4 file system built twice with rebuild=true, from the same package cache, has the same sha256', async () => {
  const ks = `part / --size=512 --fstype=ext4\n%packages\nhostname\n%end\n%post\necho loop-${Date.now()} > /etc/marker\n%end\n`;
  const [a, b] = await builtTwice('loop', ks);
  // The file system itself (it downloads as a .zst, whose sum follows from it).
  assert.ok(a.disk_sha256, 'a loop image records the sum of the file system it holds');
  assert.equal(b.disk_sha256, a.disk_sha256, 'the rebuild gives the same bytes');
  assert.equal(b.sha256, a.sha256, 'and the same download');
});


/**
 * Both builds' images are the same bytes; when they are not, where they differ (first offsets, from
 * cmp -l). A type kept compressed (zstd) compares the image it holds; a qcow2 is its own download.
 */
function assertSameImage(a: ApiJob, b: ApiJob, what: string, opts: { compressed: boolean } = { compressed: true }): void {
  if (opts.compressed) assert.ok(a.disk_sha256, `a ${what} records the sum of the image it holds`);
  const sum = (j: ApiJob) => (opts.compressed ? j.disk_sha256 : j.sha256);
  if (sum(b) !== sum(a)) {
    const files = [a, b].map((j) => decompressedImage(join(env.IMG_DATA_DIR, 'images', j.id, j.imagefile!)));
    const cmp = spawnSync('cmp', ['-l', ...files], { encoding: 'utf8', maxBuffer: 256 << 20 });
    const lines = cmp.stdout.trim().split('\n');
    assert.fail(`the rebuild differs in ${lines.length} bytes, first at (1-based offsets, octal values): ${lines.slice(0, 8).join('; ')}`);
  }
  assert.equal(b.sha256, a.sha256, 'and the same download');
}

test('raw: a bootable disk (MBR, FAT boot partition with syslinux and GRUB\'s EFI program, the kernel and initramfs, ext4 root) built twice with rebuild=true has the same sha256', async () => {
  const ks = `part / --size=1024 --fstype=ext4\n%packages\nhostname\n%end\n%post\necho raw-${Date.now()} > /etc/marker\n%end\n`;
  const [a, b] = await builtTwice('raw', ks);
  assertSameImage(a, b, 'raw image');
});

test('qcow2: the compressed qcow2 (qemu-img convert -c of the bootable disk) built twice with rebuild=true has the same sha256', async () => {
  const ks = `part / --size=1024 --fstype=ext4\n%packages\nhostname\n%end\n%post\necho qcow2-${Date.now()} > /etc/marker\n%end\n`;
  const [a, b] = await builtTwice('qcow2', ks);
  assertSameImage(a, b, 'qcow2 image', { compressed: false });
});

test('livecd: the hybrid ISO (squashfs root, isolinux, GRUB\'s EFI image) built twice with rebuild=true has the same sha256', async () => {
  const ks = `part / --size=1024 --fstype=ext4\n%packages\nhostname\n%end\n%post\necho live-${Date.now()} > /etc/marker\n%end\n`;
  const [a, b] = await builtTwice('livecd', ks);
  assertSameImage(a, b, 'live image');
});
