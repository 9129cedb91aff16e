// Test support for image-creator's integration tests: publish a build, and read what it ended with
// from the real queues.
import { execFileSync } from 'node:child_process';
import amqp from 'amqplib';
import { queues, routes, type Broker } from '@img/shared/broker';
import { imageMessage, type ErrorMessage, type ImageType, type LinkMessage, type ResultMessage } from '@img/shared/contracts';
import { newJobId } from '@img/shared/jobs';
import { testEnv, waitFor } from '@img/shared/testing';

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

export async function publishBuild(broker: Broker, ksfile: string, imagetype: ImageType = 'tar'): Promise<string> {
  const id = newJobId();
  await broker.publish(routes.build, imageMessage, { id, email: 'hostile@example.com', imagetype, ksfile });
  return id;
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
