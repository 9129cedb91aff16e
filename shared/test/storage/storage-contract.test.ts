// The storage contract: one suite, run against both implementations (the local directory and the
// S3-compatible object store that up.sh starts with IMG_STORAGE=s3). Then what only one of them
// promises: the local store's refusal of links, FIFOs and climbing keys, and the object store's
// presigned URLs and part-by-part copies.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { open, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { LocalStorage, RangeNotSatisfiable, type Storage } from '@img/shared/storage';
import { newJobId } from '@img/shared/jobs';
import { tempDir, testS3Storage } from '@img/shared/testing';

async function text(s: Storage, key: string, range?: { start: number; end: number }): Promise<string | undefined> {
  const got = await s.get(key, range);
  if (!got) return undefined;
  const parts: Buffer[] = [];
  for await (const c of got.body) parts.push(c as Buffer);
  return Buffer.concat(parts).toString('utf8');
}

async function sha256Of(s: Storage, key: string): Promise<string> {
  const got = await s.get(key);
  assert.ok(got, key);
  const h = createHash('sha256');
  for await (const c of got.body) h.update(c as Buffer);
  return h.digest('hex');
}

/** A stream of `bytes` pseudo-random bytes, made as it is read (never whole in memory); `sha256()` once it was read. */
function generated(bytes: number, seed: number): { stream: Readable; sha256: () => string } {
  const cipher = createCipheriv('aes-256-ctr', createHash('sha256').update(String(seed)).digest(), Buffer.alloc(16));
  const zeros = Buffer.alloc(1024 * 1024);
  const h = createHash('sha256');
  let sent = 0;
  const stream = new Readable({
    read() {
      if (sent >= bytes) {
        this.push(null);
        return;
      }
      const c = cipher.update(zeros.subarray(0, Math.min(zeros.length, bytes - sent)));
      sent += c.length;
      h.update(c);
      this.push(c);
    },
  });
  let digest: string | undefined;
  return { stream, sha256: () => (digest ??= h.digest('hex')) };
}

function contract(name: string, make: () => Promise<{ storage: Storage; drop: () => Promise<void> }>) {
  describe(`${name}: the storage contract`, () => {
    let s: Storage;
    let drop: () => Promise<void>;
    const id = newJobId();
    before(async () => {
      ({ storage: s, drop } = await make());
    });
    after(async () => {
      await drop?.();
    });

    test('an object written from a string, a buffer or a stream reads back the same, with its size and time', async () => {
      const t0 = Date.now() - 60_000;
      const a = await s.put(`logs/${id}.log`, 'IMG build log\nline two ü\n');
      assert.equal(a.size, Buffer.byteLength('IMG build log\nline two ü\n'));
      assert.ok(a.modified.getTime() > t0, 'modified just now');
      await s.put(`images/${id}/result.json`, Buffer.from('{"ok":true}'));
      await s.put(`images/${id}/img-x.tar.zst`, Readable.from([Buffer.from('part one,'), Buffer.from(' part two')]));
      assert.equal(await text(s, `logs/${id}.log`), 'IMG build log\nline two ü\n');
      assert.equal(await text(s, `images/${id}/result.json`), '{"ok":true}');
      assert.equal(await text(s, `images/${id}/img-x.tar.zst`), 'part one, part two');
      assert.equal((await s.stat(`images/${id}/img-x.tar.zst`))?.size, 18);
      assert.deepEqual(JSON.parse((await s.getBuffer(`images/${id}/result.json`, 1024))!.toString()), { ok: true });
    });

    test('a missing object: get, stat and getBuffer say so, delete does nothing', async () => {
      const other = newJobId();
      assert.equal(await s.get(`logs/${other}.log`), undefined);
      assert.equal(await s.stat(`logs/${other}.log`), undefined);
      assert.equal(await s.getBuffer(`images/${other}/result.json`, 10), undefined);
      await s.delete(`logs/${other}.log`);
      assert.equal(await s.deletePrefix(`images/${other}/`), 0);
    });

    test('getBuffer refuses an object larger than asked for', async () => {
      await s.put(`logs/${id}.failed.json`, 'x'.repeat(100));
      assert.equal(await s.getBuffer(`logs/${id}.failed.json`, 99), undefined);
      assert.equal((await s.getBuffer(`logs/${id}.failed.json`, 100))?.length, 100);
    });

    test('byte ranges: the bytes asked for, the end clipped to the object, a start past it refused', async () => {
      await s.put(`images/${id}/ranged.raw`, '0123456789');
      assert.equal(await text(s, `images/${id}/ranged.raw`, { start: 2, end: 5 }), '2345');
      const got = await s.get(`images/${id}/ranged.raw`, { start: 7, end: 100 });
      assert.deepEqual(got?.range, { start: 7, end: 9 });
      assert.equal(got?.size, 10, 'the size is the whole object\'s');
      got?.body.destroy();
      assert.equal(await text(s, `images/${id}/ranged.raw`, { start: 9, end: 9 }), '9');
      await assert.rejects(s.get(`images/${id}/ranged.raw`, { start: 10, end: 12 }), RangeNotSatisfiable);
    });

    test('writing again replaces the object whole; until a write ends, readers see what was there before', async () => {
      const key = `logs/${id}.log`;
      await s.put(key, 'first version');
      const slow = new PassThrough();
      const writing = s.put(key, slow);
      slow.write('second ');
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(await text(s, key), 'first version', 'a write in progress is not seen');
      const fresh = `logs/${newJobId()}.log`;
      const writingNew = s.put(fresh, Readable.from(['not yet']));
      await writingNew;
      slow.end('version');
      await writing;
      assert.equal(await text(s, key), 'second version');
      assert.equal(await text(s, fresh), 'not yet');
    });

    test('list and deletePrefix see one job\'s objects and no other\'s', async () => {
      const a = newJobId();
      const b = newJobId();
      for (const f of ['one.raw', 'result.json', 'SHA256SUMS']) await s.put(`images/${a}/${f}`, f);
      await s.put(`images/${b}/result.json`, 'b');
      const keys = [];
      for await (const o of s.list(`images/${a}/`)) keys.push(o.key);
      assert.deepEqual(keys.sort(), [`images/${a}/SHA256SUMS`, `images/${a}/one.raw`, `images/${a}/result.json`]);
      const all = [];
      for await (const o of s.list('images/')) all.push(o.key);
      assert.ok(all.includes(`images/${b}/result.json`) && all.includes(`images/${a}/one.raw`));
      assert.equal(await s.deletePrefix(`images/${a}/`), 3);
      assert.equal(await s.stat(`images/${a}/one.raw`), undefined);
      assert.equal(await text(s, `images/${b}/result.json`), 'b', 'the other job keeps its files');
    });

    test('a copy outlives its original', async () => {
      const a = newJobId();
      const b = newJobId();
      await s.put(`images/${a}/img-a.qcow2`, 'the image bytes');
      const copied = await s.copy(`images/${a}/img-a.qcow2`, `images/${b}/img-b.qcow2`);
      assert.equal(copied.size, 15);
      await s.deletePrefix(`images/${a}/`);
      assert.equal(await text(s, `images/${b}/img-b.qcow2`), 'the image bytes');
      await assert.rejects(s.copy(`images/${a}/img-a.qcow2`, `images/${b}/again.qcow2`), /no object/);
    });

    test('a host file is taken in whole (40 MiB: several parts for S3) and is gone from the host after', async () => {
      const dir = await tempDir('img-storage-');
      const file = join(dir, 'image.raw');
      const { stream, sha256 } = generated(40 * 1024 * 1024 + 123, 1);
      const fh = await open(file, 'w');
      for await (const c of stream) await fh.write(c as Buffer);
      await fh.close();
      const stored = await s.putFile(`images/${id}/img-big.raw`, file);
      assert.equal(stored.size, 40 * 1024 * 1024 + 123);
      assert.equal(existsSync(file), false, 'the host file was taken');
      assert.equal(await sha256Of(s, `images/${id}/img-big.raw`), sha256());
      await rm(dir, { recursive: true, force: true });
    });

    test('a stream of 300 MiB is stored without being held in memory', async () => {
      const { stream, sha256 } = generated(300 * 1024 * 1024, 2);
      global.gc?.();
      const before = process.memoryUsage().rss;
      let peak = before;
      const sample = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 20);
      try {
        await s.put(`images/${id}/img-stream.raw`, stream);
      } finally {
        clearInterval(sample);
      }
      assert.ok(peak - before < 150 * 1024 * 1024, `memory grew by ${Math.round((peak - before) / 1048576)} MiB while storing 300 MiB`);
      assert.equal(await sha256Of(s, `images/${id}/img-stream.raw`), sha256());
      await s.delete(`images/${id}/img-stream.raw`);
    });

    test('anything but a layout key is refused before the store is touched', async () => {
      const bad = ['', '/etc/passwd', '../etc/passwd', 'images/../../etc/passwd', `images/${id}/../../x`, 'images/.hidden', `images/${id}/.tmp-x`,
        'etc/passwd', `images/${id}/a b`, `images/${id}/x\0y`, 'images', `images/${id}/`, `images//x`, `logs/${'a'.repeat(300)}`];
      for (const key of bad) {
        await assert.rejects(s.put(key, 'x'), /not a storage key/, JSON.stringify(key));
        await assert.rejects(s.get(key), /not a storage key/, JSON.stringify(key));
        await assert.rejects(s.delete(key), /not a storage key/, JSON.stringify(key));
      }
      for (const prefix of ['../', '/', 'etc/', `images/${id}/../`, '']) {
        await assert.rejects(s.deletePrefix(prefix), /not a storage key/, JSON.stringify(prefix));
      }
    });
  });
}

contract('local directory', async () => {
  const dir = await tempDir('img-store-');
  const storage = new LocalStorage(dir);
  await storage.init();
  return { storage, drop: () => rm(dir, { recursive: true, force: true }) };
});

contract('S3-compatible object store', async () => testS3Storage());

describe('local directory: what a planted link, FIFO or folder cannot make it do', () => {
  let dir: string;
  let outside: string;
  let s: LocalStorage;
  before(async () => {
    dir = await tempDir('img-store-');
    outside = await tempDir('img-outside-');
    writeFileSync(join(outside, 'secret'), 'host secret\n');
    s = new LocalStorage(dir);
    await s.init();
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
    await rm(outside, { recursive: true, force: true });
  });

  test('a link at a key is not read, and writing the key replaces the link, not the file it points to', async () => {
    const id = newJobId();
    mkdirSync(join(dir, 'images', id), { recursive: true });
    symlinkSync(join(outside, 'secret'), join(dir, 'images', id, 'img.raw'));
    assert.equal(await s.get(`images/${id}/img.raw`), undefined);
    assert.equal(await s.stat(`images/${id}/img.raw`), undefined);
    await s.put(`images/${id}/img.raw`, 'the image');
    assert.equal(readFileSync(join(outside, 'secret'), 'utf8'), 'host secret\n', 'the host file is untouched');
    assert.equal(await text(s, `images/${id}/img.raw`), 'the image');
  });

  test('a linked folder is neither read through nor written through nor emptied', async () => {
    const id = newJobId();
    mkdirSync(join(dir, 'images'), { recursive: true });
    symlinkSync(outside, join(dir, 'images', id));
    assert.equal(await s.get(`images/${id}/secret`), undefined);
    await assert.rejects(s.put(`images/${id}/new`, 'x'), /not a folder/);
    assert.equal(existsSync(join(outside, 'new')), false);
    assert.equal(await s.deletePrefix(`images/${id}/`), 0);
    await s.delete(`images/${id}/secret`);
    assert.equal(readFileSync(join(outside, 'secret'), 'utf8'), 'host secret\n');
    const listed = [];
    for await (const o of s.list('images/')) listed.push(o.key);
    assert.ok(!listed.some((k) => k.startsWith(`images/${id}/`)), 'nothing listed through the link');
  });

  test('a FIFO at a key is not opened for reading (it would hang the reader)', async () => {
    const id = newJobId();
    mkdirSync(join(dir, 'images', id), { recursive: true });
    execFileSync('mkfifo', [join(dir, 'images', id, 'img.raw')]);
    assert.equal(await s.get(`images/${id}/img.raw`), undefined);
    assert.equal(await s.getBuffer(`images/${id}/img.raw`, 10), undefined);
  });

  test('a host file handed in that is a link is refused', async () => {
    const link = join(outside, 'link.raw');
    symlinkSync(join(outside, 'secret'), link);
    await assert.rejects(s.putFile(`images/${newJobId()}/x.raw`, link), /not a regular file/);
    assert.equal(readFileSync(join(outside, 'secret'), 'utf8'), 'host secret\n');
  });

  test('the local store hands out no presigned URL', async () => {
    assert.equal(await s.presignedUrl(`logs/${newJobId()}.log`, { expiresS: 60 }), undefined);
  });
});

describe('S3-compatible object store: what only it does', () => {
  let store: Awaited<ReturnType<typeof testS3Storage>>;
  before(async () => {
    // Copies above 6 MiB go part by part here, as those above 5 GiB do in a real store.
    store = await testS3Storage({ multipartCopyAbove: 6 * 1024 * 1024 });
  });
  after(async () => {
    await store?.drop();
  });

  test('a presigned URL reads the object, ranges included, without the store\'s keys; it is refused once altered', async () => {
    const key = `images/${newJobId()}/img-p.raw`;
    await store.storage.put(key, 'presigned bytes');
    const url = await store.storage.presignedUrl(key, { expiresS: 60, filename: 'img-p.raw' });
    assert.ok(url);
    const whole = await fetch(url);
    assert.equal(whole.status, 200);
    assert.equal(await whole.text(), 'presigned bytes');
    assert.match(whole.headers.get('content-disposition') ?? '', /filename="img-p\.raw"/);
    const part = await fetch(url, { headers: { Range: 'bytes=10-14' } });
    assert.equal(part.status, 206);
    assert.equal(await part.text(), 'bytes');
    const forged = await fetch(url.replace('img-p.raw', 'img-q.raw'));
    assert.ok(forged.status === 403 || forged.status === 404, `an altered URL is refused (${forged.status})`);
  });

  test('a large object is copied part by part inside the store', async () => {
    const from = `images/${newJobId()}/img-big.raw`;
    const to = `images/${newJobId()}/img-big.raw`;
    const bytes = randomBytes(13 * 1024 * 1024 + 7);
    const dir = await tempDir('img-storage-');
    await writeFile(join(dir, 'f'), bytes);
    await store.storage.putFile(from, join(dir, 'f'));
    await rm(dir, { recursive: true, force: true });
    const copied = await store.storage.copy(from, to);
    assert.equal(copied.size, bytes.length);
    assert.equal(await sha256Of(store.storage, to), createHash('sha256').update(bytes).digest('hex'));
  });
});
