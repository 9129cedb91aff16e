// Live logs across hosts, against the real RabbitMQ (stream queues) and a real store: what a reader
// on another process sees while a build writes, after a build's host died and another went on, and
// once the log is in the store. The offsets a client follows stay one sequence throughout.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import amqp from 'amqplib';
import type { Broker } from '@img/shared/broker';
import { CONTRACT_VERSION } from '@img/shared/contracts';
import { newJobId } from '@img/shared/jobs';
import { jobKeys } from '@img/shared/layout';
import { cut, LiveLogs, LiveLogWriter, logStreamName } from '@img/shared/live-log';
import { LocalStorage } from '@img/shared/storage';
import { connectTestBroker, tempDir, testEnv, testLogger, waitFor } from '@img/shared/testing';

let writerBroker: Broker;
let readerBroker: Broker;
let dir: string;
let storage: LocalStorage;
let logs: LiveLogs;
const log = testLogger('live-log-test');

before(async () => {
  writerBroker = await connectTestBroker('live-log-writer');
  readerBroker = await connectTestBroker('live-log-reader');
  dir = await tempDir('img-live-');
  storage = new LocalStorage(dir);
  await storage.init();
  logs = new LiveLogs(readerBroker, storage, log, { absentMs: 50 });
});
after(async () => {
  await logs?.stop();
  await writerBroker?.close();
  await readerBroker?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Follows the log as a client does: small reads from the last offset, until `want` bytes are there. */
async function follow(id: string, want: number, max: number, finished = false): Promise<{ text: string; offsets: number[] }> {
  let offset = 0;
  let text = '';
  const offsets: number[] = [];
  await waitFor(`${want} bytes of ${id}'s log`, async () => {
    for (;;) {
      const r = await logs.read(id, offset, max, finished);
      if (r.next === offset) break;
      assert.equal(r.next - offset, Buffer.byteLength(r.text), 'next moves by the bytes of the text');
      text += r.text;
      offset = r.next;
      offsets.push(offset);
    }
    return offset >= want;
  }, { timeoutMs: 20_000, intervalMs: 50 });
  return { text, offsets };
}

test('text cut into chunks never splits a character', () => {
  const s = 'a€😀b'.repeat(50);
  for (let max = 1; max < 20; max++) {
    let rest = s;
    let joined = '';
    while (rest) {
      const c = cut(rest, max);
      assert.ok(c.length > 0);
      assert.ok(Buffer.byteLength(c) <= Math.max(max, 4), `chunk of ${Buffer.byteLength(c)} bytes for max ${max}`);
      assert.doesNotMatch(c, /\uFFFD/);
      joined += c;
      rest = rest.slice(c.length);
    }
    assert.equal(joined, s);
  }
});

test('a reader in another process follows the log as the build writes it, character-safe at every offset', async () => {
  const id = newJobId();
  const w = new LiveLogWriter(writerBroker, id, log, { flushMs: 20, maxChunkBytes: 7 });
  assert.equal(await w.open(1), '');
  const lines = Array.from({ length: 40 }, (_, i) => `line ${i}: ünïcödé € 😀\n`);
  const whole = lines.join('');
  const reading = follow(id, Buffer.byteLength(whole), 5);
  for (const l of lines) {
    w.write(l);
    await new Promise((r) => setTimeout(r, 5));
  }
  await w.flush();
  const got = await reading;
  assert.equal(got.text, whole);
  await w.close();
});

test('a host that died mid-build: the next attempt reads the stream back and goes on at the same offsets; the stored log is the same bytes', async () => {
  const id = newJobId();
  const first = new LiveLogWriter(writerBroker, id, log, { flushMs: 10 });
  await first.open(1);
  first.write('IMG build, attempt 1\nfetching…\n');
  await first.flush();
  // Dies without a word: no end mark, the stream stays.
  await first.close();

  // A reader that started following during the first attempt.
  const early = await follow(id, Buffer.byteLength('IMG build, attempt 1\nfetching…\n'), 1000);

  const second = new LiveLogWriter(writerBroker, id, log, { flushMs: 10 });
  const earlier = await second.open(2);
  assert.equal(earlier, 'IMG build, attempt 1\nfetching…\n');
  assert.equal(second.size, Buffer.byteLength(earlier));
  second.write('IMG build, attempt 2\nbuilt.\n');
  await second.flush();
  const whole = `${earlier}IMG build, attempt 2\nbuilt.\n`;

  const all = await follow(id, Buffer.byteLength(whole), 8);
  assert.equal(all.text, whole, 'a new reader gets both attempts, in order');
  // The early reader goes on from where it stopped: no repeat, no gap.
  const rest = await logs.read(id, Buffer.byteLength(early.text), 1 << 20, false);
  assert.equal(early.text + rest.text, whole);

  // The job ends: the log goes to the store, the end is marked, the stream is deleted.
  await storage.put(jobKeys(id).log, whole);
  await second.end();
  await second.remove();
  const conn = await amqp.connect(testEnv.amqpUrl);
  const ch = await conn.createChannel();
  ch.on('error', () => {});
  await assert.rejects(ch.checkQueue(logStreamName(id)), /404/, 'the stream is gone');
  await conn.close().catch(() => {});
  // The same offsets, from the store now.
  const stored = await follow(id, Buffer.byteLength(whole), 8, true);
  assert.equal(stored.text, whole);
  // Any offset the stream handed out goes on in the store with the same bytes.
  for (const o of all.offsets) assert.equal((await logs.read(id, o, 1 << 20, true)).text, Buffer.from(whole).subarray(o).toString('utf8'), `offset ${o}`);
  const mid = Buffer.byteLength('IMG build, attempt 1\nfetching…\n');
  assert.equal((await logs.read(id, mid, 1 << 20, false)).text, 'IMG build, attempt 2\nbuilt.\n', 'an unfinished job whose stream is gone is read from the store');
  assert.equal((await logs.tailText(id, 14, true)).text, 'built.\n');
});

test('a flood of output (a 6 MiB piece among many small ones) arrives whole and in order, and writing it stays cheap', async () => {
  const id = newJobId();
  const w = new LiveLogWriter(writerBroker, id, log, { flushMs: 10 });
  await w.open(1);
  const pieces: string[] = [];
  for (let i = 0; i < 2000; i++) pieces.push(`+ line ${i} ünï\n`);
  pieces.splice(1000, 0, `${'a'.repeat(6 * 1024 * 1024)}\n`);
  const t0 = performance.now();
  for (const p of pieces) w.write(p);
  const writing = performance.now() - t0;
  assert.ok(writing < 1000, `writing took ${Math.round(writing)} ms`);
  await w.flush();
  const whole = pieces.join('');
  assert.equal(w.size, Buffer.byteLength(whole));
  const got = await follow(id, Buffer.byteLength(whole), 1 << 20);
  assert.ok(got.text === whole, 'the same text');
  await w.remove();
});

test('a chunk published twice (its confirm was lost) is taken once', async () => {
  const id = newJobId();
  const w = new LiveLogWriter(writerBroker, id, log, { flushMs: 10 });
  await w.open(1);
  w.write('one\n');
  await w.flush();
  const conn = await amqp.connect(testEnv.amqpUrl);
  const ch = await conn.createConfirmChannel();
  ch.publish('', logStreamName(id), Buffer.from(JSON.stringify({ kind: 'text', id, offset: 0, text: 'one\n', version: CONTRACT_VERSION })));
  await ch.waitForConfirms();
  await conn.close();
  w.write('two\n');
  await w.flush();
  assert.equal((await follow(id, 8, 100)).text, 'one\ntwo\n');
  await w.remove();
});

test('a job whose build has not started has an empty log, and a watcher hears of a new chunk', async () => {
  const id = newJobId();
  assert.deepEqual(await logs.read(id, 0, 100, false), { text: '', next: 0, size: 0 });
  const w = new LiveLogWriter(writerBroker, id, log, { flushMs: 10 });
  await w.open(1);
  await new Promise((r) => setTimeout(r, 100));
  await logs.read(id, 0, 100, false);
  let told = 0;
  const stop = logs.watch(id, () => { told++; });
  w.write('hello\n');
  await w.flush();
  await waitFor('the watcher told', async () => told > 0, { timeoutMs: 10_000 });
  stop();
  assert.equal((await logs.read(id, 0, 100, false)).text, 'hello\n');
  await w.remove();
});
