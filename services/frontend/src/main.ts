// Composition root of the frontend: the web UI, and the consumer of every job result.
import { readFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { Broker, queues } from '@img/shared/broker';
import { errorMessage, linkMessage, resultMessage } from '@img/shared/contracts';
import { ConfigError, configForLog } from '@img/shared/config';
import { connectDatabase, MongoJobStore } from '@img/shared/jobs';
import { defaultTemplatePath, listPlatforms, loadTemplate } from '@img/shared/kickstart';
import { createLogger, redactUrl } from '@img/shared/logging';
import { createShutdown, onSignals } from '@img/shared/lifecycle';
import { loadConfig } from './config.ts';
import { createApp } from './app.ts';
import { resultHandlers } from './handlers/results.ts';

let config;
try {
  config = loadConfig(process.env);
} catch (err) {
  if (err instanceof ConfigError) {
    process.stderr.write(`frontend: ${err.message}\n`);
    process.exit(1);
  }
  throw err;
}
const log = createLogger('frontend', { level: config.IMG_LOG_LEVEL });
log.info({ config: configForLog(config) }, 'starting');

const templateText = await readFile(defaultTemplatePath, 'utf8');
const loaded = loadTemplate(templateText, { file: 'configurations.yaml' });
if (!loaded.template) throw new Error(`the default template is broken: ${loaded.errors.map((e) => `line ${e.line}: ${e.message}`).join('; ')}`);

const db = await connectDatabase(config.IMG_MONGO_URL, {
  onRetry: (attempt, delayMs, err) => log.warn({ url: redactUrl(config.IMG_MONGO_URL), attempt, retryInMs: delayMs, err: err.message }, 'database unreachable, retrying'),
});
const store = new MongoJobStore(db);
await store.init();
const broker = await Broker.connect({ url: config.IMG_AMQP_URL, logger: log, name: 'frontend' });

const results = resultHandlers(store, log);
await broker.consume(queues.link, linkMessage, results.link, { prefetch: 20 });
await broker.consume(queues.error, errorMessage, results.error, { prefetch: 20 });
await broker.consume(queues.result, resultMessage, results.result, { prefetch: 50 });

const app = createApp({ config, store, broker, log, platforms: listPlatforms(loaded.template), defaultTemplateText: templateText });
const server: Server = await new Promise((resolve) => {
  const s = app.listen(config.IMG_HTTP_PORT, config.IMG_HTTP_HOST, () => resolve(s));
});
const address = server.address();
const port = typeof address === 'object' && address ? address.port : config.IMG_HTTP_PORT;

const shutdown = createShutdown(log, [
  { name: 'stop http', run: () => new Promise<void>((r) => { server.close(() => r()); server.closeIdleConnections(); }) },
  { name: 'close broker', run: () => broker.close() },
  { name: 'close database', run: () => db.close() },
]);
onSignals(shutdown);
log.info({ port, url: config.IMG_PUBLIC_URL }, 'ready');
