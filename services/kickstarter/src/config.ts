import { z } from 'zod';
import { commonEnv, env, metricsEnv, parseConfig } from '@img/shared/config';

const schema = z.object({
  ...metricsEnv(9101),
  IMG_AMQP_URL: commonEnv.IMG_AMQP_URL, IMG_LOG_LEVEL: commonEnv.IMG_LOG_LEVEL, IMG_PUBLIC_URL: commonEnv.IMG_PUBLIC_URL,
  /** Largest template PartSize (part --size) accepted, in MiB: the frontend's and image-creator's limit. */
  IMG_MAX_DISK_MB: env.int(65536, 1),
});
export type Config = z.infer<typeof schema>;
export const loadConfig = (e: NodeJS.ProcessEnv): Config => parseConfig(schema, e);
