// The job's log stream on RabbitMQ: one stream queue per job, made by the build that writes it and
// deleted when the job is over and its log is in the store.
import type { Channel } from 'amqplib';

/** Not in the topology: made per job by image-creator, gone when the job is. */
export const logStreamName = (id: string) => `img.log.${id}`;

/** Messages a stream reader may hold unacked (a stream consumer must set one). */
export const STREAM_PREFETCH = 1000;

export async function declareLogStream(ch: Channel, id: string): Promise<void> {
  await ch.assertQueue(logStreamName(id), {
    durable: true,
    arguments: {
      'x-queue-type': 'stream',
      // A stream its build never deleted (the job's message was dead-lettered after its last
      // attempt) keeps no text past a day; its log, if any, is in the store.
      'x-max-age': '1D',
      // Small segments: a job's log is small, and a segment is what retention removes.
      'x-stream-max-segment-size-bytes': 4 * 1024 * 1024,
    },
  });
}

export async function deleteLogStream(ch: Channel, id: string): Promise<void> {
  await ch.deleteQueue(logStreamName(id));
}
