// What the route modules receive from the composition root.
import type { RequestHandler } from 'express';
import type { CallbackRules } from '@img/shared/webhooks';
import type { Connection } from 'mongoose';
import type { JobStore } from '@img/shared/jobs';
import type { Logger } from '@img/shared/logging';
import type { LiveLogs } from '@img/shared/live-log';
import type { Storage } from '@img/shared/storage';
import type { Config } from '../config.ts';
import type { Csrf } from '../http/csrf.ts';
import type { JobAccess } from '../http/job-access.ts';
import type { OperatorAuth } from '../http/operator-auth.ts';
import type { SseHub } from '../http/sse-hub.ts';
import type { SubmissionParser } from '../http/upload.ts';
import type { JobActions } from '../jobs/job-actions.ts';
import type { JobIndex } from '../jobs/job-index.ts';
import type { DeliveryStatuses } from '../jobs/delivery-status.ts';
import type { QueueEstimator } from '../jobs/queue-estimate.ts';
import type { FrontendMetrics } from '../http/metrics.ts';
import type { KickstartChecker } from '../kickstart-checker.ts';
import type { SigningKey } from '../provenance/signing-key.ts';

export interface RouteDeps {
  config: Config;
  store: JobStore;
  index: JobIndex;
  estimator: QueueEstimator;
  actions: JobActions;
  notifications: Pick<DeliveryStatuses, 'forJob' | 'webhookFor'>;
  /** Images and stored logs: a local directory, or the object store build hosts share. */
  storage: Storage;
  /** Build logs, live from the broker while the job runs, from the store after. */
  logs: Pick<LiveLogs, 'read' | 'tailText' | 'size' | 'watch'>;
  hub: SseHub;
  csrf: Csrf;
  operator: OperatorAuth;
  /** Answers 503 (none configured), 401 or 403 unless the request is the operator's. */
  requireOperator: RequestHandler;
  /** A job's token or the operator: see http/job-access.ts. */
  access: JobAccess;
  /** Body size, rate and queue-cap checks, run before a submission's body is read. */
  submitGuards: RequestHandler[];
  /** Body size and rate checks of POST /api/v1/kickstart/check. */
  checkGuards: RequestHandler[];
  parseSubmission: SubmissionParser;
  /** The default template's platforms, each with the architecture it builds. */
  platforms: Array<{ name: string; arch: string }>;
  defaultTemplateText: string;
  log: Logger;
  /** The operator's rules for callback URLs (the webhook settings). */
  callbacks: CallbackRules;
  /** Request timing and the /metrics registry; none: no metrics are kept. */
  metrics?: FrontendMetrics;
  /** The database, for the operator's dashboard (its time series); none: no dashboard. */
  db?: Connection;
  /** Reads a kickstart and checks its packages against the package index. */
  kickstarts: KickstartChecker;
  /** Signs each job's SHA256SUMS; its public half is served at /signing-key.asc. */
  signing: SigningKey;
}
