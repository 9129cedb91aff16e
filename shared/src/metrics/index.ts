// Prometheus metrics, with prom-client: one registry per service, holding the process's own figures
// (CPU, memory, event loop) and IMG's. Names follow the ecosystem's rules: base units (seconds,
// bytes), `_total` on counters, and labels drawn from small fixed sets (image types, architectures,
// error codes, phases), never from job ids or addresses.
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Logger } from '../logging/index.ts';

export { Counter, Gauge, Histogram, Registry };

/** Build times run from seconds (an identical request) to the hour the sandbox allows. */
export const BUILD_SECONDS_BUCKETS = [5, 15, 30, 60, 120, 180, 300, 600, 900, 1800, 3600];
/** Time spent in a queue: from nothing to hours when the build slots are busy. */
export const WAIT_SECONDS_BUCKETS = [0.1, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 10800];
/** One HTTP request of the frontend. */
export const HTTP_SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function createRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** What the shared broker client counts: reconnects and the messages it dead-letters. */
export interface BrokerMetrics {
  reconnected(): void;
  deadLettered(queue: string, reason: 'invalid' | 'not_json' | 'refused' | 'delivery_limit'): void;
}

export function brokerMetrics(registry: Registry): BrokerMetrics {
  const reconnects = new Counter({ name: 'img_broker_reconnects_total', help: 'Connections to RabbitMQ made again after one was lost', registers: [registry] });
  const dead = new Counter({ name: 'img_messages_dead_lettered_total', help: 'Messages this service sent to the dead-letter queue, by queue and reason', labelNames: ['queue', 'reason'], registers: [registry] });
  return {
    reconnected: () => reconnects.inc(),
    deadLettered: (queue, reason) => dead.inc({ queue, reason }),
  };
}

/**
 * Serves `/metrics` for a service that has no HTTP server of its own, on loopback unless told
 * otherwise. Port 0 takes a free one; the port is returned either way.
 */
export async function serveMetrics(registry: Registry, opts: { host: string; port: number; log: Logger }): Promise<{ port: number; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('only GET /metrics is served here\n');
      return;
    }
    registry.metrics().then((text) => {
      res.writeHead(200, { 'content-type': registry.contentType }).end(text);
    }, (err: Error) => {
      opts.log.warn({ err: err.message }, 'metrics could not be collected');
      res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics could not be collected\n');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  return { port, close: () => new Promise<void>((r) => server.close(() => r())) };
}

export * from './series-math.ts';
export * from './time-series.ts';
