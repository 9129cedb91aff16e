// RabbitMQ's consumer_timeout stays above the longest a delivery is held unacked: a build with its
// boot checks, and the notifier's SMTP retry window. Past it RabbitMQ closes the consumer's channel
// and hands the message to another consumer while the first still works on it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../src/testing/index.ts';

const read = (p: string) => readFileSync(join(repoRoot, p), 'utf8');

function number(text: string, re: RegExp, what: string): number {
  const m = re.exec(text);
  assert.ok(m, `${what} not found`);
  return Number(m[1]!.replaceAll('_', ''));
}

const upSh = number(read('deploy/local/up.sh'), /IMG_RABBITMQ_CONSUMER_TIMEOUT_MS:-(\d+)/, 'the consumer timeout in up.sh');
const compose = number(read('compose.yaml'), /consumer_timeout \$\{IMG_RABBITMQ_CONSUMER_TIMEOUT_MS:-(\d+)\}/, 'the consumer timeout in compose.yaml');
const creator = read('services/image-creator/src/config.ts');
const notifier = read('services/notifier/src/config.ts');
const buildS = number(creator, /IMG_BUILD_TIMEOUT_S: env\.int\(([\d_]+)/, 'IMG_BUILD_TIMEOUT_S');
const verifyS = number(creator, /IMG_VERIFY_TIMEOUT_S: env\.int\(([\d_]+)/, 'IMG_VERIFY_TIMEOUT_S');
const mailWindowS = number(notifier, /IMG_MAIL_RETRY_WINDOW_S: env\.int\(([\d_]+)/, 'IMG_MAIL_RETRY_WINDOW_S');
const smtpTimeoutMs = number(notifier, /IMG_SMTP_TIMEOUT_MS: env\.int\(([\d_]+)/, 'IMG_SMTP_TIMEOUT_MS');

test('up.sh, compose.yaml and the README give RabbitMQ one consumer_timeout', () => {
  assert.equal(compose, upSh);
  assert.match(read('README.md'), new RegExp(`\`IMG_RABBITMQ_CONSUMER_TIMEOUT_MS\` \\| \`${upSh}\``));
});

test('the consumer timeout is above a whole build with two boot checks (BIOS and UEFI) and an hour to spare', () => {
  // Spare: packing and checksums, and a delivery that first waits for an identical request's build.
  assert.ok(upSh > (buildS + 2 * verifyS + 3600) * 1000, `${upSh} ms > build ${buildS} s + boot checks 2 × ${verifyS} s + 1 h`);
});

test('the notifier\'s SMTP retry window, with its last try, ends well before the consumer timeout', () => {
  // The last try may take connect, greeting and socket timeouts in turn.
  assert.ok(upSh > mailWindowS * 1000 + 3 * smtpTimeoutMs, `${upSh} ms > window ${mailWindowS} s + last try`);
});

test('the local stack\'s RabbitMQ runs with that consumer_timeout', () => {
  let out: string;
  try {
    out = execFileSync('rabbitmqctl', ['-n', 'rabbit@localhost', 'eval', 'application:get_env(rabbit, consumer_timeout).'], { encoding: 'utf8' });
  } catch (err) {
    throw new Error(`cannot ask the local RabbitMQ (${(err as Error).message.split('\n')[0]}); start it with \`bash deploy/local/up.sh --infra-only\` (as root)`);
  }
  assert.equal(out.trim(), `{ok,${upSh}}`, 'run deploy/local/up.sh again: it sets consumer_timeout on a running node');
});
