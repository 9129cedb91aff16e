// The image-creator's process: reads the environment, starts the service (service.ts), stops it on a signal.
import { loadServiceConfig } from '@img/shared/config';
import { createLogger } from '@img/shared/logging';
import { runMain } from '@img/shared/lifecycle';
import { loadConfig } from './config.ts';
import { start } from './service.ts';

const config = loadServiceConfig('image-creator', loadConfig);
const log = createLogger('image-creator', { level: config.IMG_LOG_LEVEL });
await runMain(log, () => start(config, { log }));
