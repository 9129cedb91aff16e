// How many builds run at once: learned from the consumers of image_queue, since each image-creator
// takes work through one consumer per build slot (IMG_BUILD_CONCURRENCY of them, prefetch 1 each).
// RabbitMQ says how many there are in the answer to a passive declare (checkQueue). Until it has
// answered, or while no image-creator is connected, the setting IMG_BUILD_SLOTS stands in.
import type { Channel } from 'amqplib';
import { queues } from '@img/shared/broker';
import type { Logger } from '@img/shared/logging';

export class BuildSlots {
  private learned: number | undefined;
  private channel: Channel | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly broker: { openChannel(): Promise<Channel> },
    private readonly opts: { fallback: number; everyMs: number; log: Logger },
  ) {}

  /** Build slots over all image-creators: the consumers RabbitMQ counts, else the setting. */
  current(): number {
    return this.learned && this.learned > 0 ? this.learned : this.opts.fallback;
  }

  /** The consumer count as RabbitMQ last said it; undefined before it answered. */
  consumers(): number | undefined {
    return this.learned;
  }

  async refresh(): Promise<number | undefined> {
    try {
      this.channel ??= await this.openChannel();
      const ok = await this.channel.checkQueue(queues.image);
      if (ok.consumerCount !== this.learned) this.opts.log.info({ consumers: ok.consumerCount }, 'build slots learned from image_queue');
      this.learned = ok.consumerCount;
    } catch (err) {
      // The channel is gone with the error; the next round opens another. The last count stands meanwhile.
      this.channel = undefined;
      this.opts.log.warn({ err: (err as Error).message }, 'could not count the consumers of image_queue');
    }
    return this.learned;
  }

  start(): void {
    const tick = () => {
      void this.refresh().finally(() => {
        if (!this.stopped) this.timer = setTimeout(tick, this.opts.everyMs).unref();
      });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.channel?.close().catch(() => {});
    this.channel = undefined;
  }

  private async openChannel(): Promise<Channel> {
    const ch = await this.broker.openChannel();
    ch.on('error', () => {});
    ch.on('close', () => {
      if (this.channel === ch) this.channel = undefined;
    });
    return ch;
  }
}
