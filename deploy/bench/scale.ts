// Benchmark: 100 queued jobs drained by 1, 2 and 4 build hosts, in one run. Each build host is an
// image-creator in a network namespace of its own, reaching RabbitMQ, the database and the object
// store over its veth (shared/test/scale/build-hosts.ts), with a data directory of its own; images
// and logs go to the object store (IMG_STORAGE=s3), as on real hosts.
//
// This machine has 2 cores, so the builds themselves cannot go faster with more hosts. What is
// measured is what the service adds to each job outside its build, and whether a host sits idle
// while jobs wait:
//   dispatch  from a host's previous job ending (its outcome published) to its next build message
//             arriving: the host idle while the queue still holds jobs;
//   claim     from the message arriving to the build container started: the seal, the earlier
//             outcome looked up in the store, the live log opened, the kickstart planned, the
//             request claimed in the registry, the inputs written, the container made;
//   build     the sandbox (not overhead; shown for scale);
//   store     the image, the log and the result put in the object store;
//   report    from the result stored to the job `done` on the frontend's record: the registry, the
//             link message, the frontend's check and transition;
//   mail      from the record to the email accepted by the relay (the notify message, the seal, SMTP).
// The builds are cheap: the same package (the installed root file system is cached: a build cache
// shared by the hosts, as builds on one machine share it) with a different %post each.
//
//   node --import tsx deploy/bench/scale.ts [--jobs 100] [--hosts 1,2,4]
//
// Needs root (network namespaces), `IMG_STORAGE=s3 bash deploy/local/up.sh --infra-only`; it makes a
// RabbitMQ virtual host, a database and a bucket of its own, and removes them at the end.
import { execFileSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { MailCatcher } from '../mail-catcher/mail-catcher.ts';
import {
  freePort, repoRoot, stackEnv, startService, tempDir, testEnv, testS3Storage, waitFor, type ServiceProcess,
} from '@img/shared/testing';
import { connectDatabase } from '@img/shared/jobs';
import { BuildHosts, type BuildHost } from '../../shared/test/scale/build-hosts.ts';

const { values: opts } = parseArgs({ options: { jobs: { type: 'string', default: '100' }, hosts: { type: 'string', default: '1,2,4' } } });
const JOBS = Number(opts.jobs);
const HOST_COUNTS = opts.hosts.split(',').map(Number);
const MAX_HOSTS = Math.max(...HOST_COUNTS);

interface Submitted { id: string; token: string; email: string; submittedAt: number }
interface JobTimes { id: string; host: string; received: number; started: number; sandboxDone: number; storeS: number; built: number; finished: number; mailed: number; submitted: number }

const line = (o: string[], msg: string, id: string) => o.find((l) => l.includes(`"msg":"${msg}"`) && l.includes(id));
const at = (l: string | undefined) => (l ? new Date((JSON.parse(l) as { time: string | number }).time).getTime() : NaN);
const field = (l: string | undefined, k: string) => (l ? Number((JSON.parse(l) as Record<string, unknown>)[k]) : NaN);
const median = (xs: number[]) => { const s = xs.filter(Number.isFinite).sort((a, b) => a - b); return s.length ? s[Math.floor((s.length - 1) / 2)]! : NaN; };
const p95 = (xs: number[]) => { const s = xs.filter(Number.isFinite).sort((a, b) => a - b); return s.length ? s[Math.min(s.length - 1, Math.ceil(s.length * 0.95) - 1)]! : NaN; };
const sec = (ms: number) => (ms / 1000).toFixed(2);

async function main(): Promise<void> {
  execFileSync('bash', [join(repoRoot, 'deploy/builder/build-image.sh')], { stdio: 'ignore' });
  // A RabbitMQ virtual host of its own: no test's service takes its jobs, it takes none of theirs.
  const vhost = `img-bench-scale-${process.pid}`;
  const rabbitmqctl = (...a: string[]) => execFileSync('rabbitmqctl', ['-n', 'rabbit@localhost', ...a], { stdio: 'ignore', env: { ...process.env, RABBITMQ_NODENAME: 'rabbit@localhost' } });
  rabbitmqctl('add_vhost', vhost);
  rabbitmqctl('set_permissions', '-p', vhost, new URL(testEnv.amqpUrl).username || 'guest', '.*', '.*', '.*');
  const amqp = new URL(testEnv.amqpUrl);
  amqp.pathname = `/${vhost}`;
  const store = await testS3Storage();
  const mailDir = await tempDir('img-bench-mail-');
  const smtpPort = await freePort();
  const catcher = new MailCatcher({ dir: mailDir, smtpPort, httpPort: await freePort() });
  await catcher.start();
  const cacheDir = await tempDir('img-bench-cache-');
  // A database of its own: no job left by a test counts against the queue's caps.
  const mongo = new URL(testEnv.mongoUrl);
  mongo.pathname = `/img_bench_scale_${process.pid}`;
  const env = await stackEnv({
    ...store.env, IMG_MONGO_URL: mongo.toString(), IMG_AMQP_URL: amqp.toString(), IMG_SMTP_PORT: String(smtpPort), IMG_VERIFY_BOOT: 'false', IMG_BUILD_CONCURRENCY: '1', IMG_BUILD_TIMEOUT_S: '600',
    IMG_BUILD_MEMORY_MB: '1024', IMG_BUILD_DISK_MB: '1536', IMG_MAX_PENDING_JOBS: String(JOBS * 10), IMG_LOG_LEVEL: 'info',
  });
  const s3 = new URL(testEnv.s3Endpoint);
  const hosts = new BuildHosts([
    { name: 'rabbitmq', port: 5672, target: { host: amqp.hostname, port: Number(amqp.port || 5672) } },
    { name: 'database', port: 27017, target: { host: mongo.hostname, port: Number(mongo.port || 27017) } },
    { name: 'store', port: 8333, target: { host: s3.hostname, port: Number(s3.port || 80) } },
  ]);
  const machine: ServiceProcess[] = [];
  let creators: Array<{ host: BuildHost; proc: ServiceProcess }> = [];
  const dirs = [mailDir, cacheDir];
  try {
    await hosts.create(MAX_HOSTS);
    for (const name of ['notifier', 'frontend']) {
      const dir = await tempDir(`img-bench-${name}-`);
      dirs.push(dir);
      machine.push(await startService(name, { ...env, IMG_DATA_DIR: dir }, { readyTimeoutMs: 60_000 }));
    }
    const notifier = machine[0]!;
    const base = env.IMG_PUBLIC_URL;
    const startCreators = async (n: number) => Promise.all(hosts.hosts.slice(0, n).map(async (h) => {
      const to = (u: URL, port: number) => { const c = new URL(u); c.hostname = h.gateway; c.port = String(port); return c.toString().replace(/\/$/, ''); };
      const proc = await startService('image-creator', {
        ...env, IMG_DATA_DIR: h.dataDir, IMG_BUILD_CACHE_DIR: cacheDir, IMG_AMQP_URL: to(amqp, 5672), IMG_MONGO_URL: to(mongo, 27017), IMG_S3_ENDPOINT: to(s3, 8333),
      }, { readyTimeoutMs: 120_000, prefix: h.exec });
      return { host: h, proc };
    }));
    const submitAll = async (tag: string, n: number): Promise<Submitted[]> => {
      const out: Submitted[] = [];
      for (let i = 0; i < n; i++) {
        const email = `bench-${tag}-${i}@example.com`;
        const kickstart = `%packages\nhostname\n%end\n%post\necho ${tag} job ${i} > /etc/img-bench\n%end\n`;
        const submittedAt = Date.now();
        const res = await fetch(`${base}/api/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, imagetype: 'tar', kickstart }) });
        const body = (await res.json()) as { id: string; token: string };
        if (res.status !== 201) throw new Error(`submission refused: ${res.status} ${JSON.stringify(body)}`);
        out.push({ id: body.id, token: body.token, email, submittedAt });
      }
      return out;
    };
    const finishedAll = async (jobs: Submitted[], timeoutMs: number) => {
      const done = new Map<string, { status: string; finished: string }>();
      await waitFor(`${jobs.length} jobs to finish`, async () => {
        for (const j of jobs) {
          if (done.has(j.id)) continue;
          const r = (await (await fetch(`${base}/api/v1/jobs/${j.id}`, { headers: { authorization: `Bearer ${j.token}` } })).json()) as { status: string; finished: string };
          if (['done', 'failed', 'cancelled'].includes(r.status)) done.set(j.id, r);
        }
        return done.size === jobs.length;
      }, { timeoutMs, intervalMs: 2000 });
      return done;
    };

    // A warm-up build fills the shared cache (the installed root file system), not counted.
    process.stdout.write('warming the build cache…\n');
    creators = await startCreators(1);
    const warm = await submitAll('warm', 1);
    // A cold build: the packages downloaded and installed once.
    const warmed = await finishedAll(warm, 30 * 60_000);
    if ([...warmed.values()].some((j) => j.status !== 'done')) throw new Error('the warm-up build failed');
    await Promise.all(creators.map((c) => c.proc.stop()));

    const results: Array<{ hosts: number; wallS: number; perMin: number; times: JobTimes[]; idleS: number; dispatch: number[]; mails: number; failed: number }> = [];
    for (const n of HOST_COUNTS) {
      process.stdout.write(`\n${n} build host${n > 1 ? 's' : ''}: queueing ${JOBS} jobs…\n`);
      const jobs = await submitAll(`h${n}`, JOBS);
      const notifierFrom = notifier.output.length;
      creators = await startCreators(n);
      const firstReady = Math.min(...creators.map((c) => at(c.proc.output.find((l) => l.includes('"msg":"ready"')))));
      const done = await finishedAll(jobs, JOBS * 120_000);
      await waitFor('every email', async () => notifier.output.slice(notifierFrom).filter((l) => l.includes('"msg":"email sent"')).length >= JOBS, { timeoutMs: 120_000 });
      const failedJobs = jobs.filter((j) => done.get(j.id)!.status !== 'done');
      const failed = failedJobs.length;
      for (const j of failedJobs) {
        const r = (await (await fetch(`${base}/api/v1/jobs/${j.id}`, { headers: { authorization: `Bearer ${j.token}` } })).json()) as { status: string; error_code?: string; error?: string };
        process.stdout.write(`  not built: ${j.id} ${r.status} ${r.error_code ?? ''}: ${(r.error ?? '').slice(0, 300)}\n`);
      }
      const times: JobTimes[] = [];
      for (const j of jobs) {
        const c = creators.find((x) => line(x.proc.output, 'image built', j.id));
        if (!c) continue;
        const o = c.proc.output;
        const built = line(o, 'image built', j.id);
        times.push({
          id: j.id, host: c.host.name, submitted: j.submittedAt,
          received: at(line(o, 'build message received', j.id)), started: at(line(o, 'build container started', j.id)),
          sandboxDone: at(line(o, 'sandbox done', j.id)), storeS: field(built, 'store_s'), built: at(built),
          finished: Date.parse(done.get(j.id)!.finished), mailed: at(line(notifier.output.slice(notifierFrom), 'email sent', j.id)),
        });
      }
      const lastEnd = Math.max(...times.map((t) => t.finished));
      // A host is idle while jobs wait: from its being ready, or its previous job's end (its result
      // stored, or its failure reported), to its next build message, while some job still waited in
      // the queue (all were queued first). Failed jobs count as work, not as idle time.
      const dispatch: number[] = [];
      let idle = 0;
      const spans = creators.flatMap((c) => jobs.map((j) => ({
        host: c.host.name, received: at(line(c.proc.output, 'build message received', j.id)),
        end: at(line(c.proc.output, 'image built', j.id) ?? line(c.proc.output, 'build failed', j.id)),
      })).filter((x) => Number.isFinite(x.received)));
      for (const c of creators) {
        const mine = spans.filter((t) => t.host === c.host.name).sort((a, b) => a.received - b.received);
        let free = at(c.proc.output.find((l) => l.includes('"msg":"ready"')));
        for (const t of mine) {
          const gap = Math.max(0, t.received - free);
          if (t !== mine[0]) dispatch.push(gap);
          if (spans.some((o) => o.received > free)) idle += gap;
          free = Number.isFinite(t.end) ? t.end : t.received;
        }
      }
      const wallS = (lastEnd - firstReady) / 1000;
      const mails = notifier.output.slice(notifierFrom).filter((l) => l.includes('"msg":"email sent"') && jobs.some((j) => l.includes(j.id))).length;
      results.push({ hosts: n, wallS, perMin: (times.length / wallS) * 60, times, idleS: idle / 1000, dispatch, mails, failed });
      await Promise.all(creators.map((c) => c.proc.stop()));
      creators = [];
    }

    const row = (label: string, f: (t: JobTimes) => number) => {
      const cols = results.map((r) => { const xs = r.times.map(f); return `${sec(median(xs)).padStart(7)} ${sec(p95(xs)).padStart(7)}`; });
      return `${label.padEnd(28)}${cols.join('   ')}`;
    };
    process.stdout.write(`\n${JOBS} queued jobs (tar, the same package, a different %post each), drained by build hosts in network namespaces, object store\n`);
    process.stdout.write(`${''.padEnd(28)}${results.map((r) => `${`${r.hosts} host${r.hosts > 1 ? 's' : ''}`.padStart(7)} (median / p95 s)`).join('   ')}\n`);
    process.stdout.write(`${row('claim (message → container)', (t) => t.started - t.received)}\n`);
    process.stdout.write(`${row('build (sandbox, not overhead)', (t) => t.sandboxDone - t.started)}\n`);
    process.stdout.write(`${row('store (image, log, result)', (t) => t.storeS * 1000)}\n`);
    process.stdout.write(`${row('report (stored → record done)', (t) => t.finished - (t.sandboxDone + t.storeS * 1000))}\n`);
    process.stdout.write(`${row('overhead (claim+store+report)', (t) => (t.started - t.received) + (t.finished - t.sandboxDone))}\n`);
    process.stdout.write(`${row('mail (record → email sent)', (t) => t.mailed - t.finished)}\n`);
    process.stdout.write(`${row('queued (submit → message)', (t) => t.received - t.submitted)}\n`);
    process.stdout.write(`${'dispatch gap (host idle)'.padEnd(28)}${results.map((r) => `${sec(median(r.dispatch)).padStart(7)} ${sec(p95(r.dispatch)).padStart(7)}`).join('   ')}\n`);
    for (const r of results) {
      const perHost = Object.entries(r.times.reduce<Record<string, number>>((m, t) => ({ ...m, [t.host]: (m[t.host] ?? 0) + 1 }), {})).map(([, v]) => v);
      process.stdout.write(`${r.hosts} host(s): ${r.times.length}/${JOBS} built, ${r.failed} failed, ${r.mails} emails; drained in ${r.wallS.toFixed(1)} s (${r.perMin.toFixed(1)} jobs/min); jobs per host ${perHost.join('/')}; hosts idle while jobs waited: ${r.idleS.toFixed(2)} s in all\n`);
    }
    const m = (r: (typeof results)[number]) => median(r.times.map((t) => (t.started - t.received) + (t.finished - t.sandboxDone)));
    const base1 = results[0]!;
    process.stdout.write(`overhead ratio against ${base1.hosts} host(s): ${results.map((r) => `${r.hosts}: ${(m(r) / m(base1)).toFixed(2)}`).join(', ')}\n`);
    // On 2 cores, more hosts make every process slower, builds first: the overhead set against the build.
    const b = (r: (typeof results)[number]) => median(r.times.map((t) => t.sandboxDone - t.started));
    process.stdout.write(`overhead / build time (medians): ${results.map((r) => `${r.hosts}: ${(m(r) / b(r)).toFixed(2)}`).join(', ')}\n`);
  } finally {
    await Promise.all([...creators.map((c) => c.proc.stop()), ...machine.map((p) => p.stop())]);
    await hosts.destroy();
    await catcher.stop();
    await store.drop();
    const db = await connectDatabase(mongo.toString(), { maxAttempts: 2 });
    await db.dropDatabase();
    await db.close();
    rabbitmqctl('delete_vhost', vhost);
    for (const d of [...dirs, env.IMG_DATA_DIR]) await rm(d, { recursive: true, force: true });
  }
}

await main();
