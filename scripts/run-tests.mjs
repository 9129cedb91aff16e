#!/usr/bin/env node
// Runs the *.test.ts files under shared/, services/ and cli/ with node's own test runner (through
// tsx). The unit tier shares nothing, so its files run a file per core. The integration tier shares
// one RabbitMQ, one database and one Docker engine: its files run two at a time (`--jobs N`, or
// IMG_TEST_JOBS), each of the two in a RabbitMQ virtual host and a database of its own, so one
// file's purged queues or cleared collections never touch the other's. A file that measures
// something of the whole host (its inodes, its disk) says so with the line `// test-runner: alone`,
// and runs with nothing beside it; one that takes many minutes (emulated arm64 builds) says
// `// test-runner: long`, and starts before the others.
//
//   node scripts/run-tests.mjs                      every test (what `npm test` and CI run)
//   node scripts/run-tests.mjs --tier unit          the tests that need no service: files under a test/unit/ folder
//   node scripts/run-tests.mjs --tier integration   the others (RabbitMQ, the database, Docker, SMTP, a browser)
//   node scripts/run-tests.mjs PATH...              the files at or under these paths (a file or a folder, from the repository root)
//   node scripts/run-tests.mjs --jobs 1 ...         integration files one at a time, in the virtual host and database of IMG_TEST_*_URL
//
// Both narrow together: `--tier unit services/image-creator`. A path that names no test file is an error.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { availableParallelism } from 'node:os';

const root = fileURLToPath(new URL('..', import.meta.url));
const roots = ['shared', 'services', 'cli'];
const tiers = { unit: (f) => f.includes(`${sep}test${sep}unit${sep}`), integration: (f) => !f.includes(`${sep}test${sep}unit${sep}`) };

const args = process.argv.slice(2);
let tier;
let jobs = Number(process.env.IMG_TEST_JOBS ?? 2);
const paths = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--tier') tier = args[++i];
  else if (args[i].startsWith('--tier=')) tier = args[i].slice(7);
  else if (args[i] === '--jobs') jobs = Number(args[++i]);
  else if (args[i].startsWith('--jobs=')) jobs = Number(args[i].slice(7));
  else paths.push(args[i]);
}
if (tier !== undefined && !(tier in tiers)) {
  console.error(`unknown tier '${tier}': use ${Object.keys(tiers).join(' or ')}`);
  process.exit(2);
}
if (!Number.isInteger(jobs) || jobs < 1) {
  console.error('--jobs (IMG_TEST_JOBS) is a whole number from 1');
  process.exit(2);
}

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.ts') && p.includes(`${sep}test${sep}`)) out.push(relative(root, p));
  }
  return out;
}

let files = roots.flatMap((r) => walk(join(root, r), [])).sort();
if (tier) files = files.filter(tiers[tier]);
if (paths.length > 0) {
  const wanted = paths.map((p) => {
    const abs = resolve(process.cwd(), p);
    if (!existsSync(abs)) {
      console.error(`no such file or folder: ${p}`);
      process.exit(2);
    }
    return relative(root, abs);
  });
  files = files.filter((f) => wanted.some((w) => f === w || f.startsWith(w + sep)));
}
if (files.length === 0) {
  console.error(`no test file${tier ? ` of the ${tier} tier` : ''}${paths.length ? ` at ${paths.join(' ')}` : ''}`);
  process.exit(1);
}

const testArgs = (concurrency, list) => ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...list];
const unit = files.filter(tiers.unit);
const integration = files.filter(tiers.integration);
let failed = false;

if (unit.length > 0) {
  const r = spawnSync(process.execPath, testArgs(availableParallelism(), unit), { cwd: root, stdio: 'inherit', env: { ...process.env, NODE_ENV: 'test' } });
  failed ||= r.status !== 0;
}

if (integration.length > 0) failed = !(await runIntegration(integration)) || failed;
process.exit(failed ? 1 : 0);

/**
 * The integration files, `jobs` at a time. With one slot they run in the virtual host and database
 * the environment names; with more, slot N gets `<vhost>-sN` and `<database>_sN`, made here (and the
 * virtual hosts removed again at the end) with rabbitmqctl, as `.ci/run` makes its own.
 */
async function runIntegration(list) {
  const amqpUrl = process.env.IMG_TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672/img-test';
  const mongoUrl = process.env.IMG_TEST_MONGO_URL ?? 'mongodb://127.0.0.1:27017/img_test';
  const slots = Math.min(jobs, list.length);
  const envs = [];
  const made = [];
  if (slots === 1) envs.push({});
  else {
    for (let s = 1; s <= slots; s++) {
      const a = new URL(amqpUrl);
      const vhost = `${decodeURIComponent(a.pathname.slice(1)) || 'img-test'}-s${s}`;
      a.pathname = `/${encodeURIComponent(vhost)}`;
      const m = new URL(mongoUrl);
      m.pathname = `${m.pathname.replace(/\/$/, '') || '/img_test'}_s${s}`;
      if (!rabbitmqctl(['add_vhost', vhost], true) || !rabbitmqctl(['set_permissions', '-p', vhost, a.username || 'guest', '.*', '.*', '.*'])) {
        console.error(`could not make the RabbitMQ virtual host ${vhost} for a second test file at a time (rabbitmqctl, as root, with RabbitMQ running: bash deploy/local/up.sh --infra-only); or run them one at a time with --jobs 1`);
        return false;
      }
      made.push(vhost);
      envs.push({ IMG_TEST_AMQP_URL: a.toString(), IMG_TEST_MONGO_URL: m.toString() });
    }
  }
  const marked = (f, what) => new RegExp(`^// test-runner: ${what}$`, 'm').test(readFileSync(join(root, f), 'utf8'));
  const alone = new Set(list.filter((f) => marked(f, 'alone')));
  // The longest files start first, so that none of them is what the run waits for at its end.
  const long = new Set(list.filter((f) => marked(f, 'long')));
  list = [...list.filter((f) => long.has(f)), ...list.filter((f) => !long.has(f))];
  const stream = slots === 1;
  const queue = [...list];
  const results = [];
  const started = Date.now();
  const free = envs.map((_, i) => i);
  let running = 0;
  let aloneRunning = false;
  await new Promise((done) => {
    const next = () => {
      while (queue.length > 0 && free.length > 0 && !aloneRunning) {
        // A file that must run alone starts when nothing runs, and nothing starts beside it.
        const i = queue.findIndex((f) => !alone.has(f) || running === 0);
        if (i < 0) break;
        const file = queue.splice(i, 1)[0];
        const slot = free.shift();
        running++;
        aloneRunning = alone.has(file);
        runFile(file, envs[slot], stream).then((r) => {
          results.push({ file, ...r });
          if (!stream) process.stdout.write(r.output);
          process.stdout.write(`# ${file}: ${r.code === 0 ? 'passed' : 'FAILED'} in ${Math.round(r.seconds)} s\n`);
          free.push(slot);
          running--;
          if (alone.has(file)) aloneRunning = false;
          if (queue.length === 0 && running === 0) done();
          else next();
        });
      }
    };
    next();
  });
  for (const v of made) rabbitmqctl(['delete_vhost', v], true);
  const count = (what) => results.reduce((n, r) => n + Number(new RegExp(`^ℹ ${what} (\\d+)$`, 'm').exec(r.output)?.[1] ?? 0), 0);
  const bad = results.filter((r) => r.code !== 0).map((r) => r.file);
  console.log(`# integration: ${results.length} files (${results.length - bad.length} passed, ${bad.length} failed), ${slots} at a time, `
    + `${Math.round((Date.now() - started) / 1000)} s; tests ${count('tests')}, pass ${count('pass')}, fail ${count('fail')}`);
  // A long run's log is read from its end: what failed, and why, is repeated there.
  for (const r of results.filter((x) => x.code !== 0)) {
    console.log(`# FAILED: ${r.file}`);
    const i = r.output.indexOf('✖ failing tests:');
    const why = (i >= 0 ? r.output.slice(i) : r.output).split('\n');
    const shown = why.length > 80 ? [...why.slice(0, 40), `# … ${why.length - 80} lines …`, ...why.slice(-40)] : why;
    for (const line of shown) console.log(`#   ${line}`);
  }
  return bad.length === 0;
}

/** One file in a test runner of its own; its output is kept (and, with `stream`, shown as it comes), or printed whole when it ends. */
function runFile(file, env, stream) {
  return new Promise((resolveRun) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, testArgs(1, [file]), { cwd: root, env: { ...process.env, NODE_ENV: 'test', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const out = [];
    child.stdout.on('data', (b) => { out.push(b); if (stream) process.stdout.write(b); });
    child.stderr.on('data', (b) => { out.push(b); if (stream) process.stderr.write(b); });
    child.on('close', (code, signal) => resolveRun({ code: code ?? (signal ? 1 : 0), output: Buffer.concat(out).toString('utf8'), seconds: (Date.now() - t0) / 1000 }));
  });
}

function rabbitmqctl(cmd, tolerate = false) {
  const r = spawnSync('rabbitmqctl', ['-n', process.env.RABBITMQ_NODENAME ?? 'rabbit@localhost', ...cmd], { encoding: 'utf8', env: { ...process.env, RABBITMQ_NODENAME: process.env.RABBITMQ_NODENAME ?? 'rabbit@localhost' } });
  if (r.status === 0) return true;
  // An existing virtual host is fine (a run that was killed before it removed its own).
  return tolerate && /already exists|vhost_already_exists|does not exist|no_such_vhost/.test(`${r.stdout}${r.stderr}`);
}
