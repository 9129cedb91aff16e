// The kickstarter: YAML template + platform + overlay → kickstart. `start(config)` connects and
// consumes kickstarter_queue; main.ts runs it as a process, a test can run it in its own.
import { Broker, queues } from '@img/shared/broker';
import { kickstarterMessage } from '@img/shared/contracts';
import { configForLog } from '@img/shared/config';
import { createLogger, type Logger } from '@img/shared/logging';
import { createShutdown, type RunningService } from '@img/shared/lifecycle';
import { brokerMetrics, Counter, createRegistry, serveMetrics } from '@img/shared/metrics';
import type { Config } from './config.ts';
import { kickstartHandler } from './handlers/kickstart.ts';

export async function start(config: Config, opts: { log?: Logger } = {}): Promise<RunningService & { metricsPort: number }> {
  const log = opts.log ?? createLogger('kickstarter', { level: config.IMG_LOG_LEVEL });
  log.info({ config: configForLog(config) }, 'starting');
  const registry = createRegistry('kickstarter');
  const kickstarts = new Counter({ name: 'img_kickstarts_total', help: 'Template jobs turned into a kickstart (ok) or refused (the error code)', labelNames: ['result'], registers: [registry] });
  const broker = await Broker.connect({ url: config.IMG_AMQP_URL, logger: log, name: 'kickstarter', metrics: brokerMetrics(registry) });
  await broker.consume(queues.kickstarter, kickstarterMessage, kickstartHandler({ broker, log, publicUrl: config.IMG_PUBLIC_URL, limits: { maxRootSizeMib: config.IMG_MAX_DISK_MB }, counted: (result) => kickstarts.inc({ result }) }), { prefetch: 4 });
  const metricsServer = await serveMetrics(registry, { host: config.IMG_METRICS_HOST, port: config.IMG_METRICS_PORT, log });
  const stop = createShutdown(log, [
    { name: 'stop metrics', run: () => metricsServer.close() },
    { name: 'close broker', run: () => broker.close() },
  ]);
  log.info({ metrics: `http://${config.IMG_METRICS_HOST}:${metricsServer.port}/metrics` }, 'ready');
  return { metricsPort: metricsServer.port, stop: (reason = 'stop') => stop(reason) };
}
