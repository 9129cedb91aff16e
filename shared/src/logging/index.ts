// pino with secrets redacted wherever they appear in a logged object.
import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

const secretPaths = [
  'password', 'pass', 'secret', 'token', 'authorization', 'cookie',
  '*.password', '*.pass', '*.secret', '*.token', '*.authorization', '*.cookie',
  'config.smtpPass', 'config.authToken', 'req.headers.authorization', 'req.headers.cookie',
];

export function createLogger(service: string, opts: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  const options: LoggerOptions = {
    name: service,
    level: opts.level ?? 'info',
    redact: { paths: secretPaths, censor: '[secret]' },
    base: { service, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return opts.destination ? pino(options, opts.destination) : pino(options);
}

/** Blanks the password in a URL such as amqp://user:pass@host or mongodb://user:pass@host. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '[unparseable url]';
  }
}
