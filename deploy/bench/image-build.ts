// Benchmark of a minimal bootable `raw` image, measured side by side in each round:
//   (a)  by hand: the builder's own script in a plain `docker run` with the sandbox's settings, no
//        service, no queue, no cache: root file system + disk assembly (+ the script's own zstd of the
//        disk, since the sandbox compresses it);
//   (b)  cold, through the four services: submit over the REST API → email, with the build caches emptied;
//   (c)  warm, a different request (another %post) with the same packages: caches filled by (b);
//   (c2) warm, a different request with one more package: it starts from the root of (b), whose
//        packages are a subset of its own, and apt installs the one more;
//   (e)  a request never seen before whose packages are the base plus three others: it starts from
//        the base (the root of (b): the minimal bootable system, the same packages image-creator
//        prepares ahead of demand) and apt installs the three;
//   (d)  the request of (c) again: answered from its image (submit → job done, and → email);
//   (b64) the request of (b) for arm64, cold, through the services: built under user-mode emulation.
// Prints every round, the medians, the ratios of the medians and whether the targets are met
// (b/a <= 1.15, c/b <= 0.5, c2/b <= 0.3, e/b <= 0.3, d < 1 s, and for (b) the .zst download at most a quarter of the disk,
// zstd and the SBOM and signature under 10 % of the cold build); exits 1 when one is not. b64/b has no target: it is the price
// of emulation, and the time of each build phase of (b) and (b64) is printed beside it (from
// image-creator's own metrics) to show where it goes.
//
//   node --import tsx deploy/bench/image-build.ts [--rounds 3] [--no-arm64]
//
// Needs the infrastructure of `bash deploy/local/up.sh --infra-only` and no test run at the same
// time (it uses the tests' RabbitMQ virtual host and database). The boot check is off for (b)–(d),
// as (a) does not boot either; it is timed on its own in the tests (bootable-images).
import { execFileSync, spawn } from 'node:child_process';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { DataLayout } from '@img/shared/layout';
import { mailsTo, purgeAllQueues, repoRoot, stackEnv, startService, tempDir, uniqueEmail, waitFor, type ServiceProcess } from '@img/shared/testing';
import { SANDBOX_CAPABILITIES } from '@img/shared/sandbox';
import { aptSources, DEFAULT_SUITE, parseKickstart } from '@img/shared/kickstart';

// --no-arm64: leave out (b64), the slowest case (minutes under emulation), when only the amd64 ratios are wanted.
const { values: opts } = parseArgs({ options: { rounds: { type: 'string', default: '3' }, 'no-arm64': { type: 'boolean', default: false } } });
const ROUNDS = Number(opts.rounds);
const WORK_MB = 8192;
const MEMORY_MB = 3072;
/** One build at a time, with the whole machine: the service's default for one build. Both sides get the same. */
const CPUS = availableParallelism();

const builder = execFileSync('bash', [join(repoRoot, 'deploy/builder/build-image.sh'), '--print-tag'], { encoding: 'utf8' }).trim();
execFileSync('bash', [join(repoRoot, 'deploy/builder/build-image.sh')], { stdio: 'ignore' });

function kickstart(tag: string, extra: string[] = []): string {
  return [
    'part / --size=1024 --fstype=ext4',
    'bootloader --timeout=1',
    ...(extra.length ? ['%packages', ...extra, '%end'] : []),
    '%post',
    `echo ${tag} > /etc/img-bench`,
    '%end',
    '',
  ].join('\n');
}

/** (a): what image-creator would run, started by hand. The packages are those image-creator adds to a raw image. */
async function byHand(tag: string): Promise<number> {
  const dir = await tempDir('img-bench-hand-');
  try {
    await mkdir(join(dir, 'in', 'post'), { recursive: true });
    await mkdir(join(dir, 'out'));
    // The default suite with its updates and security suites, as image-creator writes them.
    const apt = aptSources({ ...parseKickstart('').plan!, suite: DEFAULT_SUITE });
    await writeFile(join(dir, 'in', 'sources.list'), apt.install);
    await mkdir(join(dir, 'in', 'apt'));
    await writeFile(join(dir, 'in', 'apt', apt.image.file), apt.image.text);
    await writeFile(join(dir, 'in', 'post', '01'), `echo ${tag} > /etc/img-bench\n`);
    await writeFile(join(dir, 'in', 'post', '01.interp'), '/bin/sh');
    await writeFile(join(dir, 'in', 'post', '01.line'), '3');
    const env = { IMG_IMAGETYPE: 'raw', IMG_SUITE: DEFAULT_SUITE, IMG_INCLUDE: 'linux-image-amd64,systemd-sysv,zstd', IMG_ROOT_SIZE_MIB: '1024', IMG_ROOT_FSTYPE: 'ext4', IMG_BOOT_TIMEOUT: '1' };
    const args = [
      'run', '--rm', '--cap-drop', 'ALL', ...SANDBOX_CAPABILITIES.flatMap((c) => ['--cap-add', c]), '--security-opt', 'no-new-privileges',
      '--read-only', '--tmpfs', `/work:rw,exec,dev,suid,mode=0755,size=${WORK_MB}m`, '--tmpfs', '/tmp:rw,exec,nosuid,nodev,mode=1777,size=64m',
      '--memory', `${MEMORY_MB + WORK_MB}m`, '--cpus', String(CPUS), '--init',
      '-v', `${join(dir, 'in')}:/in:ro`,
      ...Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]),
      builder, '/opt/img/build-in-sandbox.sh',
    ];
    // The script says @@IMG-DONE when /out (the builder image's link into its work area) holds the
    // image, then waits for its taker to say it has it (/work/.img-collected): here the taker is
    // `docker exec … cat` and `docker exec … touch`. The time is taken at @@IMG-DONE.
    const name = `img-bench-hand-${process.pid}-${Date.now()}`;
    args.splice(1, 0, '--name', name);
    const started = performance.now();
    let seconds = 0;
    const code = await new Promise<number>((resolve) => {
      const child = spawn('docker', args, { stdio: ['ignore', 'pipe', 'ignore'] });
      let tail = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        tail = (tail + d).slice(-4096);
        if (!seconds && /^@@IMG-DONE$/m.test(tail)) {
          seconds = (performance.now() - started) / 1000;
          spawn('bash', ['-c', 'docker exec "$1" cat /work/out/image.raw.zst > "$2/image.raw.zst" && docker exec "$1" touch /work/.img-collected', '_', name, join(dir, 'out')], { stdio: 'ignore' });
        }
      });
      child.on('exit', (c) => resolve(c ?? 1));
    });
    const made = await readdir(join(dir, 'out'));
    if (code !== 0 || !seconds || !made.includes('image.raw.zst')) throw new Error(`the build by hand failed (exit ${code}, made ${made.join(' ')})`);
    return seconds;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

let env!: Awaited<ReturnType<typeof stackEnv>>;

/** Each job's token, from its submission: the job's error is shown only with it. */
const tokens = new Map<string, string>();

async function submit(ks: string, email: string, arch = 'amd64'): Promise<string> {
  const res = await fetch(`${env.IMG_PUBLIC_URL}/api/v1/jobs`, {
    method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ email, imagetype: 'raw', kickstart: ks, arch }),
  });
  const body = (await res.json()) as { id: string; token: string };
  if (res.status !== 201) throw new Error(`submit answered ${res.status}: ${JSON.stringify(body)}`);
  tokens.set(body.id, body.token);
  return body.id;
}

async function status(id: string): Promise<{ status: string; error?: string }> {
  return (await (await fetch(`${env.IMG_PUBLIC_URL}/api/v1/jobs/${id}`, { headers: { accept: 'application/json', authorization: `Bearer ${tokens.get(id) ?? ''}` } })).json()) as { status: string; error?: string };
}

/** Seconds image-creator spent in each build phase so far, from its Prometheus histogram's sums. */
async function phaseSums(): Promise<Record<string, number>> {
  const text = await (await fetch(creator.metricsUrl!)).text();
  // The labels in any order: the registry's default label (service) comes before the phase.
  return Object.fromEntries([...text.matchAll(/^img_build_phase_duration_seconds_sum\{([^}]*)\} (\S+)$/gm)]
    .map((m) => [/(?:^|,)phase="(\w+)"/.exec(m[1]!)?.[1] ?? '', Number(m[2])]).filter(([p]) => p));
}

/**
 * What delivery costs and saves for a finished job: the download against the disk (the .zst against
 * the image), the seconds zstd took (from the job's log), and the seconds the frontend takes to make
 * the SBOM, the SHA256SUMS and its signature when they are first asked for.
 */
async function delivery(id: string): Promise<{ size: number; diskSize: number; compressS: number; provenanceS: number }> {
  const auth = { authorization: `Bearer ${tokens.get(id) ?? ''}` };
  const job = (await (await fetch(`${env.IMG_PUBLIC_URL}/api/v1/jobs/${id}`, { headers: { accept: 'application/json', ...auth } })).json()) as { size: number; disk_size?: number };
  const log = await (await fetch(`${env.IMG_PUBLIC_URL}/job/${id}/log`, { headers: auth })).text();
  const started = performance.now();
  for (const f of ['sbom.spdx.json', 'SHA256SUMS.sign']) {
    const res = await fetch(`${env.IMG_PUBLIC_URL}/images/${id}/${f}`, { headers: auth });
    if (!res.ok) throw new Error(`${f} of job ${id}: ${res.status}`);
    await res.arrayBuffer();
  }
  const provenanceS = (performance.now() - started) / 1000;
  // zstd in the sandbox, then the host unpacking the .zst to count and hash the disk: both are the compression's price.
  const compressS = Number(/^IMG: compressed with zstd to \d+ bytes in ([\d.]+) s$/m.exec(log)?.[1] ?? NaN)
    + Number(/^IMG: the image is \d+ bytes, sha256 [0-9a-f]+: unpacked and counted by the host as it was taken out, in ([\d.]+) s$/m.exec(log)?.[1] ?? NaN);
  return { size: job.size, diskSize: job.disk_size ?? job.size, compressS, provenanceS };
}

/** Submit → email in the mail catcher, in seconds; also submit → job done, and the seconds of each build phase. */
async function throughService(ks: string, arch = 'amd64'): Promise<{ id: string; email: number; done: number; phases: Record<string, number> }> {
  const email = uniqueEmail('bench');
  const before = await phaseSums();
  const started = performance.now();
  const id = await submit(ks, email, arch);
  const done = await waitFor(`job ${id} to finish`, async () => {
    const j = await status(id);
    if (j.status === 'failed' || j.status === 'cancelled') throw new Error(`job ${id} ${j.status}: ${j.error}`);
    return j.status === 'done' ? (performance.now() - started) / 1000 : undefined;
  }, { timeoutMs: 1_800_000, intervalMs: 50 });
  const mailed = await waitFor(`the email for ${id}`, async () => ((await mailsTo(email)).length > 0 ? (performance.now() - started) / 1000 : undefined), { timeoutMs: 120_000, intervalMs: 50 });
  const after = await phaseSums();
  const phases = Object.fromEntries(Object.entries(after).map(([p, s]) => [p, s - (before[p] ?? 0)]).filter(([, s]) => (s as number) > 0));
  return { id, email: mailed, done, phases };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const f = (x: number) => x.toFixed(2).padStart(7);

const services: ServiceProcess[] = [];
let creator!: ServiceProcess;
try {
  await purgeAllQueues();
  env = await stackEnv({ IMG_VERIFY_BOOT: 'false', IMG_BUILD_CONCURRENCY: '1', IMG_BUILD_DISK_MB: String(WORK_MB), IMG_BUILD_MEMORY_MB: String(MEMORY_MB), IMG_BUILD_CPUS: String(CPUS) });
  for (const name of ['kickstarter', 'image-creator', 'notifier', 'frontend']) services.push(await startService(name, env, { readyTimeoutMs: 60_000 }));
  creator = services[1]!;
  const cacheDir = new DataLayout(env.IMG_DATA_DIR).root('cache');
  const rows: Array<{ a: number; b: number; c: number; c2: number; e: number; d: number; dMail: number; b64: number }> = [];
  const phaseRows: Array<Record<'b' | 'c' | 'c2' | 'e' | 'b64', Record<string, number>>> = [];
  const deliveryRows: Array<Awaited<ReturnType<typeof delivery>> & { build: number }> = [];
  console.log(`builder ${builder}; ${ROUNDS} rounds; ${CPUS} CPUs per build on both sides; seconds`);
  console.log('round       a       b       c      c2       e  d(done) d(email)     b64');
  for (let round = 1; round <= ROUNDS; round++) {
    const tag = `bench-${Date.now().toString(36)}`;
    const a = await byHand(`${tag}-a`);
    // Cold: nothing cached, a request never seen.
    for (const sub of ['debs', 'rootfs']) await rm(join(cacheDir, sub), { recursive: true, force: true }).then(() => mkdir(join(cacheDir, sub), { recursive: true }));
    const b = await throughService(kickstart(`${tag}-b`));
    deliveryRows.push({ ...(await delivery(b.id)), build: b.email });
    const cKs = kickstart(`${tag}-c`);
    const c = await throughService(cKs);
    const c2 = await throughService(kickstart(`${tag}-c2`, ['less']));
    const e = await throughService(kickstart(`${tag}-e`, ['bzip2', 'file', 'nano']));
    const d = await throughService(cKs);
    // The request of (b) for arm64, cold as (b) was: its packages are another architecture's anyway.
    const b64 = opts['no-arm64'] ? { email: Number.NaN, done: Number.NaN, phases: {} } : await throughService(kickstart(`${tag}-b`), 'arm64');
    rows.push({ a, b: b.email, c: c.email, c2: c2.email, e: e.email, d: d.done, dMail: d.email, b64: b64.email });
    phaseRows.push({ b: b.phases, c: c.phases, c2: c2.phases, e: e.phases, b64: b64.phases });
    console.log(`${String(round).padStart(5)} ${f(a)} ${f(b.email)} ${f(c.email)} ${f(c2.email)} ${f(e.email)} ${f(d.done)} ${f(d.email)} ${f(b64.email)}`);
  }
  const m = {
    a: median(rows.map((r) => r.a)), b: median(rows.map((r) => r.b)), c: median(rows.map((r) => r.c)), c2: median(rows.map((r) => r.c2)), e: median(rows.map((r) => r.e)),
    d: median(rows.map((r) => r.d)), dMail: median(rows.map((r) => r.dMail)), b64: median(rows.map((r) => r.b64)),
  };
  console.log(`median ${f(m.a)} ${f(m.b)} ${f(m.c)} ${f(m.c2)} ${f(m.e)} ${f(m.d)} ${f(m.dMail)} ${f(m.b64)}`);
  console.log(`b64/b (arm64 under emulation against amd64, cold): ${(m.b64 / m.b).toFixed(2)} (no target)`);
  console.log('phase              b       c      c2       e     b64  b64/b  (medians, s; from image-creator\'s metrics)');
  for (const phase of ['fetching', 'installing', 'post', 'assembling']) {
    const at = (k: 'b' | 'c' | 'c2' | 'e' | 'b64') => median(phaseRows.map((r) => r[k][phase] ?? 0));
    const pb = at('b');
    console.log(`${phase.padEnd(12)} ${f(pb)} ${f(at('c'))} ${f(at('c2'))} ${f(at('e'))} ${f(at('b64'))} ${pb > 0 ? (at('b64') / pb).toFixed(1).padStart(6) : '     -'}`);
  }
  const targets = [
    { what: 'b/a (service overhead, cold)', value: m.b / m.a, limit: 1.15 },
    { what: 'c/b (warm, same packages)', value: m.c / m.b, limit: 0.5 },
    { what: 'c2/b (one more package, from the root of b)', value: m.c2 / m.b, limit: 0.3 },
    { what: 'e/b (never seen: the base plus three packages)', value: m.e / m.b, limit: 0.3 },
    { what: 'd (identical request, submit → done), s', value: m.d, limit: 1 },
  ];
  const dl = {
    size: median(deliveryRows.map((r) => r.size)), disk: median(deliveryRows.map((r) => r.diskSize)),
    compressS: median(deliveryRows.map((r) => r.compressS)), provenanceS: median(deliveryRows.map((r) => r.provenanceS)),
  };
  console.log(`(b) raw delivery: download ${dl.size} bytes (.zst), disk ${dl.disk} bytes; zstd ${dl.compressS.toFixed(2)} s; SBOM + SHA256SUMS + signature ${dl.provenanceS.toFixed(2)} s (medians; the manifest is read by dpkg inside the sandbox, in the assembling phase)`);
  targets.push(
    { what: 'download / disk size, minimal raw', value: dl.size / dl.disk, limit: 0.25 },
    { what: '(zstd + SBOM + signature) / cold build (b)', value: (dl.compressS + dl.provenanceS) / m.b, limit: 0.1 },
  );
  console.log(`d (identical request, submit → email): ${m.dMail.toFixed(2)} s`);
  let ok = true;
  for (const t of targets) {
    const met = t.value <= t.limit;
    ok &&= met;
    console.log(`${t.what}: ${t.value.toFixed(2)} (target <= ${t.limit}) ${met ? 'met' : 'NOT MET'}`);
  }
  process.exitCode = ok ? 0 : 1;
} finally {
  await Promise.all(services.map((s) => s.stop()));
  if (env) await rm(env.IMG_DATA_DIR, { recursive: true, force: true });
}
