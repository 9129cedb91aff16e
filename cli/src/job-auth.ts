// Which credential a subcommand sends for a job: --token wins, then the token `img submit` kept
// for that server and job, then the operator's token from IMG_OPERATOR_TOKEN; else none, and a
// refusal says how to get one.
import { ApiError, describeError } from './client.ts';
import { TokenStore } from './token-store.ts';

export type CredentialSource = 'flag' | 'remembered' | 'operator' | 'none';

export interface JobCredential {
  authorization?: string;
  source: CredentialSource;
}

/** The option every job subcommand takes, for parseArgs. */
export function tokenOption() {
  return { token: { type: 'string' as const } };
}

export const TOKEN_USAGE = `  --token TOKEN     the job's token (default: the one img submit kept for this server and job,
                    else the operator's, from IMG_OPERATOR_TOKEN)
`;

export async function credentialFor(
  server: string, id: string, flag: string | undefined,
  opts: { env?: NodeJS.ProcessEnv; store?: TokenStore; warn?: (line: string) => void } = {},
): Promise<JobCredential> {
  const env = opts.env ?? process.env;
  if (flag !== undefined) return { authorization: `Bearer ${flag.trim()}`, source: 'flag' };
  const store = opts.store ?? new TokenStore();
  try {
    const kept = await store.get(server, id);
    if (kept) return { authorization: `Bearer ${kept}`, source: 'remembered' };
  } catch (err) {
    opts.warn?.(`cannot read the kept job tokens: ${(err as Error).message}`);
  }
  const operator = env.IMG_OPERATOR_TOKEN?.trim();
  if (operator) return { authorization: `Bearer ${operator}`, source: 'operator' };
  return { source: 'none' };
}

export function noTokenMessage(id: string): string {
  return `no token for job ${id}: pass --token, or run this from the account that submitted it`;
}

/** An error as a job subcommand prints it: a refusal for want of the right token says what to do. */
export function describeJobError(err: unknown, id: string, cred: JobCredential, store = new TokenStore()): string {
  if (!(err instanceof ApiError)) return describeError(err);
  if (err.status === 401 && cred.source === 'none') return noTokenMessage(id);
  if (err.status === 401 || err.status === 403) {
    const what = {
      flag: `the token given with --token is not job ${id}'s`,
      remembered: `the token kept for job ${id} in ${store.file} was refused`,
      operator: `IMG_OPERATOR_TOKEN is not the operator's token of this server, and no token of job ${id} is kept`,
      none: noTokenMessage(id),
    }[cred.source];
    return `${what} (the server said: ${err.message})`;
  }
  return describeError(err);
}
