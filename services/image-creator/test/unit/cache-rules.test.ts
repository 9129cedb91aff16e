// The rules of the build caches that need no Docker: which builds may share what they install, what
// a build's offer may put into the cache, that the offer is only heard before the kickstart's own
// code runs, how old and how much is kept; and how `bootloader --append` is quoted for GRUB.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseKickstart } from '@img/shared/kickstart';
import { BuildCache, offerUnsealed } from '../../src/build-cache.ts';
import { LogScanner } from '../../src/log-scanner.ts';
import { grubKernelArgs } from '../../src/image-types.ts';

function plan(ks: string) {
  const r = parseKickstart(ks);
  assert.deepEqual(r.errors, []);
  return r.plan!;
}

function withCache(fn: (cache: BuildCache, dir: string) => Promise<void>, o: { rootfsHours?: number; maxBytes?: number; rootfsMinAdded?: number } = {}) {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'img-cache-'));
    try {
      const cache = new BuildCache({ dir: join(dir, 'cache'), packages: true, rootfsHours: o.rootfsHours ?? 24, maxBytes: o.maxBytes ?? 1e12, ...(o.rootfsMinAdded === undefined ? {} : { rootfsMinAdded: o.rootfsMinAdded }) });
      await cache.init();
      await fn(cache, dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

test('the root file system key follows packages, exclusions, repositories and builder, not the %post or the settings', () => {
  const base = plan('%packages\nvim\ncurl\n-nano\n%end\n%post\necho a\n%end\n');
  const key = (p: ReturnType<typeof plan>, include = p.packages.include, builder = 'b1') => BuildCache.rootfsKey(p, include, builder, '');
  const k = key(base);
  assert.equal(key(plan('network --hostname=x\nrootpw secret\n%packages\ncurl\nvim\n-nano\n%end\n%post\necho b\n%end\n')), k, 'order, %post, hostname and password do not matter');
  assert.notEqual(key(plan('%packages\nvim\n%end\n')), k, 'packages do');
  assert.notEqual(key(plan('%packages\nvim\ncurl\n%end\n')), k, 'exclusions do');
  assert.notEqual(key(base, base.packages.include, 'b2'), k, 'the builder does');
  assert.notEqual(key(plan('repo --name=x --baseurl=http://repo.example/debian --suite=bookworm --components=main\n%packages\nvim\ncurl\n-nano\n%end\n')), k, 'repositories do');
  assert.notEqual(key(plan('%packages --excludedocs\nvim\ncurl\n-nano\n%end\n')), k, '--excludedocs does');
  assert.notEqual(key(plan('%packages --ignoremissing\nvim\ncurl\n-nano\n%end\n')), k, '--ignoremissing does');
});

test('the same packages for another suite are another root file system: a bookworm one is never given to a trixie build', () => {
  const ks = '%packages\nvim\n%end\n';
  const key = (p: ReturnType<typeof plan>, mirrors = '') => BuildCache.rootfsKey(p, p.packages.include, 'b1', mirrors);
  const trixie = key(plan(ks));
  assert.equal(key(plan(`repo --name=debian --suite=trixie --components=main\n${ks}`)), trixie, 'trixie named or by default is trixie');
  assert.notEqual(key(plan(`repo --name=debian --suite=bookworm --components=main\n${ks}`)), trixie);
  assert.notEqual(key(parseKickstart(ks, { defaultSuite: 'sid' }).plan!), trixie, 'the request\'s suite counts without any repo line');
  assert.notEqual(key(plan(ks), ' https://security-mirror.example.invalid/'), trixie, 'so does the security mirror');
});

test('a kickstart with its own repository shares nothing; one on the default mirror may', withCache(async (cache) => {
  const own = await cache.plan(plan('repo --name=x --baseurl=http://repo.example/debian --suite=bookworm --components=main\n%packages\nvim\n%end\n'), ['vim'], 'b', '');
  assert.equal(own.shareable, false);
  assert.equal(own.exportRootfs, false);
  assert.equal(own.rootfsHit, undefined);
  const def = await cache.plan(plan('%packages\nvim\n%end\n'), ['vim'], 'b', '');
  assert.equal(def.shareable, true);
  assert.equal(def.exportRootfs, true, 'nothing cached yet: the build offers its root file system');
}));

test('an offer is taken whole: well-named packages and the root file system go in, anything else is dropped', withCache(async (cache, dir) => {
  const offer = join(dir, 'offer');
  mkdirSync(join(offer, 'debs'), { recursive: true });
  writeFileSync(join(offer, 'debs', 'libc6_2.36-9+deb12u10_amd64.deb'), 'deb');
  writeFileSync(join(offer, 'debs', 'tzdata_2025b-0+deb12u1_all.deb'), 'deb');
  writeFileSync(join(offer, 'debs', 'bash_1%3a5.2.15-2+b8_amd64.deb'), 'deb');
  writeFileSync(join(offer, 'debs', '../../evil.deb'.replaceAll('/', '_')), 'x');
  writeFileSync(join(offer, 'debs', 'notes.txt'), 'x');
  writeFileSync(join(offer, 'debs', 'empty_1_all.deb'), '');
  execFileSync('ln', ['-s', '/etc/passwd', join(offer, 'debs', 'link_1_all.deb')]);
  writeFileSync(join(offer, 'rootfs.tar'), 'tar');
  const got = await cache.admit(offer, 'k1', 'job1');
  assert.deepEqual(got, { debs: 3, debBytes: 9, rootfs: true });
  assert.deepEqual(readdirSync(cache.debDir).sort(), ['bash_1%3a5.2.15-2+b8_amd64.deb', 'libc6_2.36-9+deb12u10_amd64.deb', 'tzdata_2025b-0+deb12u1_all.deb']);
  assert.deepEqual(readdirSync(cache.rootfsDir), ['k1.tar']);
  assert.equal(existsSync(offer), false, 'the offer is out of the build\'s reach');
  const p = await cache.plan(plan('%packages\nvim\n%end\n'), ['vim'], 'b', '');
  assert.equal(p.rootfsHit, undefined, 'another key is not a hit');
  await assert.rejects(cache.admit(offer, 'k1', 'job1'), /ENOENT/, 'a second offer from the same place finds nothing');
}));

test('a cached root file system is used while young, and not after IMG_ROOTFS_CACHE_HOURS', withCache(async (cache) => {
  const p = plan('%packages\nvim\n%end\n');
  const key = BuildCache.rootfsKey(p, ['vim'], 'b', '');
  const file = join(cache.rootfsDir, `${key}.tar`);
  writeFileSync(file, 'tar');
  assert.equal((await cache.plan(p, ['vim'], 'b', '')).rootfsHit, file);
  const old = new Date(Date.now() - 25 * 3_600_000);
  utimesSync(file, old, old);
  const stale = await cache.plan(p, ['vim'], 'b', '');
  assert.equal(stale.rootfsHit, undefined);
  assert.equal(stale.exportRootfs, true, 'a stale one is replaced by the next build');
  await cache.prune();
  assert.equal(existsSync(file), false, 'the prune removes it');
}));

/** Keeps a root file system as a build's offer would: its tar, the installed packages, the host's record. */
async function keep(cache: BuildCache, dir: string, ks: string, installed: string[] = []): Promise<string> {
  const p = plan(ks);
  const cp = await cache.plan(p, p.packages.include, 'b', '');
  const offer = join(dir, `offer-${cp.rootfsKey}`);
  mkdirSync(join(offer, 'debs'), { recursive: true });
  writeFileSync(join(offer, 'rootfs.tar'), 'tar');
  writeFileSync(join(offer, 'packages'), [...installed, ...p.packages.include, '../evil', ''].join('\n'));
  await cache.admit(offer, cp.rootfsKey, `job-${cp.rootfsKey}`, cp.record);
  return cp.rootfsKey;
}

test('a build starts from the cached root whose packages are the largest subset of its own, of its suite and options only', withCache(async (cache, dir) => {
  const small = await keep(cache, dir, '%packages\nvim\n%end\n', ['apt', 'bash']);
  const large = await keep(cache, dir, '%packages\nvim\ncurl\n%end\n', ['apt', 'bash']);
  await keep(cache, dir, '%packages\nvim\ncurl\nless\ngit\n%end\n');
  await keep(cache, dir, '%packages --excludedocs\nvim\ncurl\nless\n%end\n');
  await keep(cache, dir, 'repo --name=debian --suite=bookworm --components=main\n%packages\nvim\ncurl\nless\n%end\n');
  const want = plan('%packages\nvim\ncurl\nless\n%end\n');
  const got = await cache.plan(want, want.packages.include, 'b', '');
  assert.equal(got.rootfsHit, undefined);
  assert.equal(got.base?.key, large, 'vim and curl: the largest subset (not the one with git, not another suite, not without docs)');
  assert.deepEqual(got.base?.include, ['curl', 'vim']);
  assert.equal(got.base?.minAdded, 7, 'the build is told how many packages it must add on top for its own root to be kept');
  assert.equal(got.exportRootfs, true);
  const vimOnly = plan('%packages\nvim\nless\n%end\n');
  assert.equal((await cache.plan(vimOnly, vimOnly.packages.include, 'b', '')).base?.key, small);
  assert.equal((await cache.plan(want, want.packages.include, 'other-builder', '')).base, undefined, 'another builder: nothing');
  const record = JSON.parse(readFileSync(join(cache.rootfsDir, `${large}.json`), 'utf8')) as { installed: string[] };
  assert.deepEqual(record.installed, ['apt', 'bash', 'curl', 'vim'], 'the offer\'s package list, names only');
}, { rootfsMinAdded: 7 }));

test('an exclusion never starts from a root holding the excluded package, a root installed with exclusions is no base, and --ignoremissing gets only exact hits', withCache(async (cache, dir) => {
  const withNano = await keep(cache, dir, '%packages\nvim\ncurl\n%end\n', ['nano']);
  const plain = await keep(cache, dir, '%packages\nvim\n%end\n', ['bash']);
  await keep(cache, dir, '%packages\nvim\ncurl\nless\n-nano\n%end\n');
  const excl = plan('%packages\nvim\ncurl\nless\n-nano\n%end\n');
  // Its exact root exists (an exclusion's root is used for the same request only).
  const exact = await cache.plan(excl, excl.packages.include, 'b', '');
  assert.ok(exact.rootfsHit);
  const other = plan('%packages\nvim\ncurl\nless\ngit\n-nano\n%end\n');
  const p = await cache.plan(other, other.packages.include, 'b', '');
  assert.equal(p.base?.key, plain, 'the root with nano in it is passed over for a smaller one');
  assert.notEqual(p.base?.key, withNano);
  const noExcl = plan('%packages\nvim\ncurl\nless\ngit\n%end\n');
  assert.equal((await cache.plan(noExcl, noExcl.packages.include, 'b', '')).base?.key, withNano, 'the root installed with -nano is not a base; the largest other is');
  const ignore = plan('%packages --ignoremissing\nvim\ncurl\nless\n%end\n');
  assert.equal((await cache.plan(ignore, ignore.packages.include, 'b', '')).base, undefined);
}));

test('a base past IMG_ROOTFS_CACHE_HOURS is not used and goes with its record; a dropped one is gone', withCache(async (cache, dir) => {
  const key = await keep(cache, dir, '%packages\nvim\n%end\n');
  const want = plan('%packages\nvim\nless\n%end\n');
  assert.equal((await cache.plan(want, want.packages.include, 'b', '')).base?.key, key);
  const old = new Date(Date.now() - 25 * 3_600_000);
  utimesSync(join(cache.rootfsDir, `${key}.tar`), old, old);
  assert.equal((await cache.plan(want, want.packages.include, 'b', '')).base, undefined);
  const pruned = await cache.prune();
  assert.deepEqual(readdirSync(cache.rootfsDir), [], 'the tar and its record');
  assert.equal(pruned.rootfsBytes, 0);
  const again = await keep(cache, dir, '%packages\nvim\n%end\n');
  assert.equal((await cache.prune()).rootfsBytes, 3, 'the disk the roots take is reported');
  await cache.drop(again);
  assert.equal((await cache.plan(want, want.packages.include, 'b', '')).base, undefined);
}));

test('the sandbox\'s word on how it started, and on a stale base, is heard only before the kickstart\'s code runs', () => {
  const starts: string[] = [];
  let stale = 0;
  const s = new LogScanner({ onPhase: () => {}, onStart: (k) => starts.push(k), onBaseStale: () => stale++ });
  s.push(Buffer.from('@@IMG-START base\n@@IMG-BASE-STALE\n@@IMG-START scratch\n@@IMG-START identical\n@@IMG-START bogus\n@@IMG-PHASE post\n@@IMG-START cached\n@@IMG-BASE-STALE\n'));
  assert.deepEqual(starts, ['base', 'scratch']);
  assert.equal(s.start, 'scratch');
  assert.equal(stale, 1);
});

test('the caches are kept under their size, least recently used first', withCache(async (cache) => {
  const now = Date.now() / 1000;
  for (const [i, name] of ['a_1_all.deb', 'b_1_all.deb', 'c_1_all.deb'].entries()) {
    const f = join(cache.debDir, name);
    writeFileSync(f, Buffer.alloc(400));
    utimesSync(f, now - 1000 + i * 100, now - 1000 + i * 100);
  }
  const r = await cache.prune();
  assert.deepEqual(readdirSync(cache.debDir).sort(), ['b_1_all.deb', 'c_1_all.deb']);
  assert.equal(r.bytes, 800);
}, { maxBytes: 1000 }));

test('the cache offer is heard once, and never once the kickstart\'s %post may be running', () => {
  let offers = 0;
  const s = new LogScanner({ onPhase: () => {}, onCacheExport: () => offers++ });
  s.push(Buffer.from('@@IMG-PHASE installing\n@@IMG-CACHE-EXPORT\n@@IMG-CACHE-EXPORT\n'));
  assert.equal(offers, 1);
  const late = new LogScanner({ onPhase: () => {}, onCacheExport: () => offers++ });
  late.push(Buffer.from('@@IMG-PHASE post\n@@IMG-POST 4\n@@IMG-CACHE-EXPORT\n'));
  assert.equal(offers, 1, 'printed by a %post: ignored');
});

test('the offer\'s seal comes with its marker, and only a sum is taken for one', () => {
  const sums: Array<string | undefined> = [];
  const sum = 'ab'.repeat(32);
  new LogScanner({ onPhase: () => {}, onCacheExport: (s) => sums.push(s) }).push(Buffer.from(`@@IMG-PHASE installing\n@@IMG-CACHE-EXPORT ${sum}\n`));
  new LogScanner({ onPhase: () => {}, onCacheExport: (s) => sums.push(s) }).push(Buffer.from('@@IMG-CACHE-EXPORT ../etc/passwd\n'));
  assert.deepEqual(sums, [sum, undefined]);
});

test('an offer read while the %post ran is kept only if it is what the script sealed before it', () => {
  const sha = (t: string) => createHash('sha256').update(t).digest('hex');
  const files = { rootfs: 'the root', deb: 'a package', packages: 'bash\n' };
  const list = `${sha(files.packages)}  packages\n${sha(files.rootfs)}  rootfs.tar\n${sha(files.deb)}  debs/a_1_all.deb\n`;
  const read = (over: Partial<typeof files> = {}, text = list) => [
    { name: 'SHA256SUMS', sha256: sha(text) },
    { name: 'packages', sha256: sha(over.packages ?? files.packages) },
    { name: 'rootfs.tar', sha256: sha(over.rootfs ?? files.rootfs) },
    { name: 'debs/a_1_all.deb', sha256: sha(over.deb ?? files.deb) },
  ];
  assert.equal(offerUnsealed(read(), list, sha(list)), undefined, 'the offer as sealed');
  assert.equal(offerUnsealed(read().filter((f) => f.name !== 'rootfs.tar'), list, sha(list)), undefined, 'a file the %post removed is only not kept');
  assert.equal(offerUnsealed(read({ rootfs: 'a planted root' }), list, sha(list)), 'rootfs.tar changed after it was sealed');
  assert.equal(offerUnsealed(read({ deb: 'planted' }), list, sha(list)), 'debs/a_1_all.deb changed after it was sealed');
  // The list rewritten to match planted files: it is no longer the list whose sum was printed.
  const forged = `${sha(files.packages)}  packages\n${sha('a planted root')}  rootfs.tar\n${sha(files.deb)}  debs/a_1_all.deb\n`;
  assert.match(offerUnsealed(read({ rootfs: 'a planted root' }, forged), forged, sha(list)) ?? '', /SHA256SUMS is not the list the build sealed/);
  assert.equal(offerUnsealed([...read(), { name: 'debs/b_1_all.deb', sha256: sha('x') }], list, sha(list)), 'debs/b_1_all.deb was not in it when it was sealed');
  assert.equal(offerUnsealed(read(), list, undefined), 'the build gave no sum for it');
  assert.equal(offerUnsealed(read().filter((f) => f.name !== 'SHA256SUMS'), undefined, sha(list)), 'it has no SHA256SUMS');
});

test('a full work area is noticed in the log', () => {
  const s = new LogScanner({ onPhase: () => {} });
  s.push(Buffer.from('dd: error writing \'/fill\': No space left on device\n'));
  assert.equal(s.diskFullLines.length, 1);
});

test('bootloader --append is quoted for GRUB word by word, as the kernel splits it', () => {
  assert.equal(grubKernelArgs(''), '');
  assert.equal(grubKernelArgs('quiet  splash'), "'quiet' 'splash'");
  assert.equal(grubKernelArgs('a=$x;reboot #c {b}'), "'a=$x;reboot' '#c' '{b}'");
  assert.equal(grubKernelArgs('msg="hello world" x'), "'msg=hello world' 'x'");
  assert.equal(grubKernelArgs("it's"), "'it'\\''s'");
  assert.equal(grubKernelArgs('empty=""'), "'empty='");
});
