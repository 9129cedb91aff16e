// Benchmark of the check before a build is queued: a 500-package kickstart read and checked against a
// warm package index (the real one image-creator keeps in the database, loaded once, as the frontend
// holds it), beside reading it alone; and the same with a few misspelt names, whose suggestions are
// the costly part. Target: median under 200 ms.
// Run: node --import tsx deploy/bench/kickstart-check.ts   (IMG_MONGO_URL: the database; default the local stack's)
import { connectDatabase } from '@img/shared/jobs';
import { loadDefaultTemplate, parseKickstart } from '@img/shared/kickstart';
import { checkKickstart, PackageIndexCache, PackageIndexStore, unitsForPlan } from '@img/shared/packages';

const url = process.env.IMG_MONGO_URL ?? 'mongodb://127.0.0.1:27017/img';
const db = await connectDatabase(url, { maxAttempts: 2 });
const store = new PackageIndexStore(db);
const cache = new PackageIndexCache(store, { recheckMs: 3_600_000 });
const groups = loadDefaultTemplate().template?.groups;

const planned = unitsForPlan(parseKickstart('').draft);
if (!('units' in planned)) throw new Error('the default plan has no units');
const answer = await cache.view(planned.units);
if ('missing' in answer) {
  console.error(`no package index of ${planned.described} in ${url}: start image-creator (deploy/local/up.sh does) and let it read the package lists first`);
  process.exit(2);
}
const all = [...(await store.load(planned.units[0]!))!.packages.keys()].sort();
const pick = (n: number) => Array.from({ length: n }, (_, i) => all[Math.floor((i * all.length) / n)] as string);

function kickstart(packages: string[]): string {
  return ['lang en_US.UTF-8', 'keyboard us', 'timezone --utc UTC', 'text', 'reboot', 'part / --size=8192', '%packages --excludedocs', '@Standard System',
    ...packages, '-nano', '%end', '%post', 'echo checked > /etc/motd', '%end', ''].join('\n');
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

async function time(what: string, text: string, run: () => Promise<unknown> | unknown): Promise<number> {
  await run();
  const times: number[] = [];
  for (let i = 0; i < 21; i++) {
    const t0 = performance.now();
    await run();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const median = percentile(times, 50);
  console.log(`${what} x21 (${Buffer.byteLength(text)} bytes): median ${median.toFixed(2)} ms, p95 ${percentile(times, 95).toFixed(2)} ms`);
  return median;
}

const clean = kickstart(pick(500));
const checked = await checkKickstart(clean, { groups: groups ?? {}, index: cache });
if (checked.errors.length > 0 || checked.packages.state !== 'checked') throw new Error(`the benchmark kickstart does not pass: ${checked.errors[0]?.message ?? checked.packages.state}`);
console.log(`index: ${planned.described}, ${answer.view.size} packages, read ${answer.readAt.toISOString()}`);
const parse = await time('parseKickstart alone          ', clean, () => parseKickstart(clean, { groups: groups ?? {} }));
const check = await time('checkKickstart, 500 packages  ', clean, () => checkKickstart(clean, { groups: groups ?? {}, index: cache }));
const typos = pick(500);
for (let i = 0; i < 5; i++) typos[i * 100] = `${typos[i * 100]}x`;
const misspelt = kickstart(typos);
const withTypos = await time('checkKickstart, 5 of them misspelt', misspelt, () => checkKickstart(misspelt, { groups: groups ?? {}, index: cache }));
console.log(`check / parse: ${(check / parse).toFixed(1)}x; with suggestions for 5 names: ${(withTypos / parse).toFixed(1)}x; target: median under 200 ms (${check < 200 && withTypos < 200 ? 'met' : 'NOT met'})`);
await db.close();
