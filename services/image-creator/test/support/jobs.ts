// Test support for image-creator's integration tests: publish a build, and read what it ended with
// from the real queues.
import { execFileSync } from 'node:child_process';
import amqp from 'amqplib';
import { queues, routes, type Broker } from '@img/shared/broker';
import { imageMessage, type ErrorMessage, type ImageType, type LinkMessage, type ResultMessage } from '@img/shared/contracts';
import { MongoJobStore, sealJob } from '@img/shared/jobs';
import { connectTestDatabase, testEnv, testTokenSecret, waitFor } from '@img/shared/testing';

export type Outcome = { kind: 'link'; msg: LinkMessage } | { kind: 'error'; msg: ErrorMessage };

/** Waits for the job's outcome on link_queue or error_queue, and returns every outcome seen for it. */
export async function outcomes(id: string, timeoutMs: number, settleMs = 0): Promise<Outcome[]> {
  const seen: Outcome[] = [];
  const conn = await amqp.connect(testEnv.amqpUrl);
  try {
    const ch = await conn.createChannel();
    const drain = async () => {
      for (const [q, kind] of [[queues.link, 'link'], [queues.error, 'error']] as const) {
        for (let m = await ch.get(q, { noAck: true }); m; m = await ch.get(q, { noAck: true })) {
          const body = JSON.parse(m.content.toString()) as LinkMessage & ErrorMessage;
          if (body.id === id) seen.push(kind === 'link' ? { kind, msg: body } : { kind, msg: body });
        }
      }
    };
    await waitFor(`the outcome of ${id}`, async () => {
      await drain();
      return seen.length > 0;
    }, { timeoutMs, intervalMs: 500 });
    if (settleMs) {
      await new Promise((r) => setTimeout(r, settleMs));
      await drain();
    }
    return seen;
  } finally {
    await conn.close();
  }
}

let records: Promise<{ store: MongoJobStore; close: () => Promise<void> }> | undefined;

/**
 * Submits a build as the frontend does: the job's record first, then the message, sealed with the
 * frontend's key (image-creator builds only what the frontend sealed; it reads no job records).
 */
export async function publishBuild(broker: Broker, ksfile: string, imagetype: ImageType = 'tar', email = 'hostile@example.com', suite?: string): Promise<string> {
  const id = await recordJob(ksfile, imagetype, email);
  await broker.publish(routes.build, imageMessage, { id, email, imagetype, ksfile, ...(suite ? { suite } : {}), seal: sealJob(testTokenSecret, { id, email, imagetype }), submitted_at: new Date().toISOString() });
  return id;
}

/** Writes a queued job's record, as the frontend does on a submission; returns its id. */
export async function recordJob(ksfile: string, imagetype: ImageType = 'tar', email = 'hostile@example.com'): Promise<string> {
  records ??= connectTestDatabase().then(async (db) => {
    const store = new MongoJobStore(db);
    await store.init();
    return { store, close: () => db.close() };
  });
  return (await (await records).store.create({ email, type: imagetype, source: 'kickstart', kickstart: ksfile })).id;
}

/** Closes the database connection publishBuild opened; for a test file's after(). */
export async function closeJobRecords(): Promise<void> {
  const r = records;
  records = undefined;
  if (r) await (await r).close();
}

/** A tar build with one %post script. */
export function postKickstart(post: string, opts: { interpreter?: string; nochroot?: boolean } = {}): string {
  const header = ['%post', opts.interpreter ? `--interpreter=${opts.interpreter}` : '', opts.nochroot ? '--nochroot' : ''].filter(Boolean).join(' ');
  return `%packages\nhostname\n%end\n${header}\n${post}\n%end\n`;
}

export function containersOf(id: string): string[] {
  return execFileSync('docker', ['ps', '-aq', '--filter', `label=img.job=${id}`], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
}

const phasesSeen = new Map<string, string[]>();
/** The phases the job has reported on result_queue so far. */
export async function readPhases(id: string): Promise<string[]> {
  const conn = await amqp.connect(testEnv.amqpUrl);
  try {
    const ch = await conn.createChannel();
    for (let m = await ch.get(queues.result, { noAck: true }); m; m = await ch.get(queues.result, { noAck: true })) {
      const r = JSON.parse(m.content.toString()) as ResultMessage;
      phasesSeen.set(r.id, [...(phasesSeen.get(r.id) ?? []), r.phase]);
    }
  } finally {
    await conn.close();
  }
  return phasesSeen.get(id) ?? [];
}
