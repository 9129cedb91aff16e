import { z } from 'zod';
import { commonEnv, env, parseConfig } from '@img/shared/config';

const schema = z.object({
  ...commonEnv,
  IMG_HTTP_HOST: env.str('0.0.0.0'),
  IMG_HTTP_PORT: env.int(8080, 0),
  /** Largest kickstart or template accepted, in bytes. */
  IMG_MAX_UPLOAD_BYTES: env.int(1024 * 1024, 1024),
});

export type Config = z.infer<typeof schema>;
export const loadConfig = (e: NodeJS.ProcessEnv): Config => parseConfig(schema, e);
