// A frontend on its own for a test file: clean queues and jobs, its own data directory and port,
// and a broker connection to play the other services with.
import { rm } from 'node:fs/promises';
import type { Broker } from '@img/shared/broker';
import { connectTestBroker, purgeAllQueues, stackEnv, startService, type ServiceProcess } from '@img/shared/testing';
import { wipeJobs } from './http.ts';

export interface FrontendStack {
  env: Awaited<ReturnType<typeof stackEnv>>;
  base: string;
  frontend: ServiceProcess;
  broker: Broker;
  stop(): Promise<void>;
}

export async function startFrontendStack(name: string, settings: Record<string, string>): Promise<FrontendStack> {
  await purgeAllQueues();
  await wipeJobs();
  // The tests submit from one address and many jobs stay queued: the limits are for fair-share.test.ts to set.
  const env = await stackEnv({ IMG_SUBMIT_RATE_LIMIT: '1000', IMG_MAX_PENDING_PER_SUBMITTER: '1000', ...settings });
  const frontend = await startService('frontend', env);
  const broker = await connectTestBroker(name);
  return {
    env, base: env.IMG_PUBLIC_URL, frontend, broker,
    async stop() {
      await broker.close();
      await frontend.stop();
      await rm(env.IMG_DATA_DIR, { recursive: true, force: true });
      await purgeAllQueues();
    },
  };
}
