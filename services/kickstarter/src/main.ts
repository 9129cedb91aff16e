// Composition root of the kickstarter: YAML template + platform + overlay → kickstart.
import { Broker, queues } from '@img/shared/broker';
import { kickstarterMessage } from '@img/shared/contracts';
import { configForLog, loadServiceConfig } from '@img/shared/config';
import { createLogger } from '@img/shared/logging';
import { createShutdown, onSignals } from '@img/shared/lifecycle';
import { loadConfig } from './config.ts';
import { kickstartHandler } from './handlers/kickstart.ts';

const config = loadServiceConfig('kickstarter', loadConfig);
const log = createLogger('kickstarter', { level: config.IMG_LOG_LEVEL });
log.info({ config: configForLog(config) }, 'starting');
const broker = await Broker.connect({ url: config.IMG_AMQP_URL, logger: log, name: 'kickstarter' });
await broker.consume(queues.kickstarter, kickstarterMessage, kickstartHandler({ broker, log, publicUrl: config.IMG_PUBLIC_URL, limits: { maxRootSizeMib: config.IMG_MAX_DISK_MB } }), { prefetch: 4 });
onSignals(createShutdown(log, [{ name: 'close broker', run: () => broker.close() }]));
log.info('ready');
