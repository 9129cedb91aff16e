// The kickstarter: YAML template + platform + overlay → kickstart. `start(config)` connects and
// consumes kickstarter_queue; main.ts runs it as a process, a test can run it in its own.
import { Broker, queues } from '@img/shared/broker';
import { kickstarterMessage } from '@img/shared/contracts';
import { configForLog } from '@img/shared/config';
import { createLogger, type Logger } from '@img/shared/logging';
import { createShutdown, type RunningService } from '@img/shared/lifecycle';
import type { Config } from './config.ts';
import { kickstartHandler } from './handlers/kickstart.ts';

export async function start(config: Config, opts: { log?: Logger } = {}): Promise<RunningService> {
  const log = opts.log ?? createLogger('kickstarter', { level: config.IMG_LOG_LEVEL });
  log.info({ config: configForLog(config) }, 'starting');
  const broker = await Broker.connect({ url: config.IMG_AMQP_URL, logger: log, name: 'kickstarter' });
  await broker.consume(queues.kickstarter, kickstarterMessage, kickstartHandler({ broker, log, publicUrl: config.IMG_PUBLIC_URL, limits: { maxRootSizeMib: config.IMG_MAX_DISK_MB } }), { prefetch: 4 });
  const stop = createShutdown(log, [{ name: 'close broker', run: () => broker.close() }]);
  log.info('ready');
  return { stop: (reason = 'stop') => stop(reason) };
}
