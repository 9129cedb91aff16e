// Benchmark of the queue: puts 10,000 jobs in a database of its own, starts the frontend on it,
// and measures /queue and /api/v1/jobs with wrk. Prints p50/p95 latency and requests/s for each,
// and whether the targets (p95 < 50 ms, >= 500 requests/s) are met; exits 1 when they are not.
//
//   node --import tsx deploy/bench/frontend-queue.ts [--jobs 10000] [--duration 10] [--connections 16]
//        [--mongo mongodb://127.0.0.1:27017/img_bench_frontend] [--amqp URL]
//
// The frontend also consumes the result queues of the broker's virtual host: give it one no
// running stack or test uses (the default is the tests' host, $IMG_TEST_AMQP_URL).
import { execFileSync } from 'node:child_process';
import { writeFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import mongoose from 'mongoose';
import { MongoJobStore } from '@img/shared/jobs';
import { startService, stackEnv, tempDir, testEnv } from '@img/shared/testing';

const { values: opts } = parseArgs({
  options: {
    jobs: { type: 'string', default: '10000' },
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '16' },
    mongo: { type: 'string', default: 'mongodb://127.0.0.1:27017/img_bench_frontend' },
    amqp: { type: 'string', default: testEnv.amqpUrl },
  },
});
const JOBS = Number(opts.jobs);
const TARGET_P95_MS = 50;
const TARGET_RPS = 500;

const kickstart = ['lang en_US.UTF-8', 'timezone UTC', '%packages', 'hostname', 'openssh-server', 'vim', '%end', '%post', 'echo built > /etc/motd', '%end', ''].join('\n');
const statuses = ['done', 'done', 'done', 'done', 'failed', 'done', 'cancelled', 'done'] as const;

async function seed(): Promise<number> {
  const conn = await mongoose.createConnection(opts.mongo!, { serverSelectionTimeoutMS: 3000, autoIndex: false }).asPromise();
  try {
    await conn.dropDatabase();
    const store = new MongoJobStore(conn);
    await store.init();
    const model = conn.models.ImageJob!;
    const now = Date.now();
    const batch = 1000;
    for (let b = 0; b < JOBS; b += batch) {
      const docs = [];
      for (let i = b; i < Math.min(JOBS, b + batch); i++) {
        // The newest 30 are waiting and 2 building; the rest finished.
        const status = i >= JOBS - 30 ? 'queued' : i >= JOBS - 32 ? 'building' : statuses[i % statuses.length]!;
        const created = new Date(now - (JOBS - i) * 45_000);
        const finished = status === 'queued' || status === 'building' ? undefined : new Date(created.getTime() + 40_000);
        docs.push({
          _id: `${i.toString(16).padStart(8, '0')}${'0'.repeat(24)}`,
          email: `person${i % 97}@example.com`, type: 'tar', status, phase: status === 'building' ? 'installing' : 'queued',
          phase_rank: status === 'building' ? 3 : 0, source: 'kickstart', kickstart, filename: 'bench.ks', created,
          ...(status === 'building' ? { started: new Date(now - 10_000), progress: 0.4 } : {}),
          ...(finished ? { finished } : {}),
          ...(status === 'done' ? { size: 48_000_000 + i, sha256: 'ab'.repeat(32), imagefile: 'image.tar.zst', duration_s: 30 + (i % 20) } : {}),
          ...(status === 'failed' ? { error: 'a %post script failed: line 9: false', error_code: 'post_script_failed' } : {}),
          history: [{ status: 'queued', phase: 'queued', at: created }, ...(finished ? [{ status, at: finished }] : [])],
        });
      }
      await model.insertMany(docs, { ordered: false });
    }
    // What the frontend would pay per request if it asked the database each time.
    const t = performance.now();
    await store.list({}, { limit: 50, skip: 0 });
    return performance.now() - t;
  } finally {
    await conn.close();
  }
}

interface Result { path: string; p50: number; p95: number; rps: number; errors: number }

/** Filtering the queue by email is the operator's: those requests carry the operator token. */
const OPERATOR_TOKEN = 'bench-operator-token';

async function measure(base: string, path: string, luaFile: string): Promise<Result> {
  const auth = path.includes('email=') ? ['-H', `Authorization: Bearer ${OPERATOR_TOKEN}`] : [];
  const args = ['-t2', `-c${opts.connections}`, `-d${opts.duration}s`, ...auth, '-s', luaFile, `${base}${path}`];
  execFileSync('wrk', ['-t2', '-c4', '-d2s', ...auth, `${base}${path}`], { stdio: 'ignore' });
  const out = execFileSync('wrk', args, { encoding: 'utf8' });
  const line = /^BENCH (\S+) (\S+) (\S+) (\S+)$/m.exec(out);
  if (!line) throw new Error(`wrk printed no figures:\n${out}`);
  return { path, p50: Number(line[1]) / 1000, p95: Number(line[2]) / 1000, rps: Number(line[3]), errors: Number(line[4]) };
}

const lua = `
done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout + summary.errors.status
  io.write(string.format("BENCH %d %d %.1f %d\\n", latency:percentile(50), latency:percentile(95), summary.requests / (summary.duration / 1e6), errors))
end
`;

try {
  execFileSync('wrk', ['--version'], { stdio: 'ignore' });
} catch (err) {
  if ((err as { code?: string }).code === 'ENOENT') throw new Error('wrk is not installed: apt-get install wrk');
}
process.stdout.write(`seeding ${JOBS} jobs into ${opts.mongo} …\n`);
const direct = await seed();
process.stdout.write(`one page of 50 straight from the job store (find + sort + count): ${direct.toFixed(0)} ms\n`);

const dir = await tempDir('img-bench-');
const luaFile = join(dir, 'report.lua');
await writeFile(luaFile, lua);
const env = await stackEnv({ IMG_MONGO_URL: opts.mongo!, IMG_AMQP_URL: opts.amqp!, IMG_LOG_LEVEL: 'info', IMG_OPERATOR_TOKEN: OPERATOR_TOKEN });
const started = performance.now();
const frontend = await startService('frontend', env, { readyTimeoutMs: 120_000 });
process.stdout.write(`frontend ready after ${((performance.now() - started) / 1000).toFixed(1)} s (reads the job list once)\n\n`);
const results: Result[] = [];
try {
  for (const path of ['/queue', '/api/v1/jobs', '/queue?status=done&page=40', '/api/v1/jobs?status=finished&email=person3@example.com']) {
    results.push(await measure(env.IMG_PUBLIC_URL, path, luaFile));
  }
} finally {
  await frontend.stop();
  await rm(env.IMG_DATA_DIR, { recursive: true, force: true });
  await rm(dir, { recursive: true, force: true });
  // Ten thousand jobs are no use to anyone afterwards.
  const conn = await mongoose.createConnection(opts.mongo!, { serverSelectionTimeoutMS: 3000 }).asPromise();
  await conn.dropDatabase();
  await conn.close();
}

let ok = true;
process.stdout.write(`${'path'.padEnd(58)} ${'p50 ms'.padStart(8)} ${'p95 ms'.padStart(8)} ${'req/s'.padStart(8)} errors  target\n`);
for (const r of results) {
  const met = r.p95 < TARGET_P95_MS && r.rps >= TARGET_RPS && r.errors === 0;
  ok &&= met;
  process.stdout.write(`${r.path.padEnd(58)} ${r.p50.toFixed(2).padStart(8)} ${r.p95.toFixed(2).padStart(8)} ${r.rps.toFixed(0).padStart(8)} ${String(r.errors).padStart(6)}  ${met ? 'met' : 'MISSED'}\n`);
}
process.stdout.write(`\n${JOBS} jobs, ${opts.connections} connections, ${opts.duration} s each; targets p95 < ${TARGET_P95_MS} ms and >= ${TARGET_RPS} req/s: ${ok ? 'met' : 'NOT met'}\n`);
process.exitCode = ok ? 0 : 1;
