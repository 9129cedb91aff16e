// The README and compose.yaml stay true to the code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../src/testing/index.ts';

function files(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) files(p, out);
    else if (/\.(ts|sh)$/.test(name) && !p.includes('/test/')) out.push(p);
  }
  return out;
}

test('every IMG_ setting the code reads is in the README configuration table', () => {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const used = new Set<string>();
  for (const f of [...files(join(repoRoot, 'services')), ...files(join(repoRoot, 'shared/src')), ...files(join(repoRoot, 'deploy'))]) {
    for (const m of readFileSync(f, 'utf8').matchAll(/\b(IMG_[A-Z0-9_]+)\b/g)) used.add(m[1]!);
  }
  // Inputs image-creator hands to the build sandbox (documented in build-in-sandbox.sh), not settings.
  const internal = new Set(['IMG_ROOT', 'IMG_IMAGETYPE', 'IMG_SUITE', 'IMG_INCLUDE', 'IMG_EXCLUDE', 'IMG_HOSTNAME', 'IMG_TIMEZONE',
    'IMG_ROOT_SIZE_MIB', 'IMG_ROOT_FSTYPE', 'IMG_BOOT_APPEND', 'IMG_BOOT_APPEND_GRUB', 'IMG_BOOT_TIMEOUT', 'IMG_LIVE',
    'IMG_DEB_CACHE', 'IMG_ROOTFS_CACHED', 'IMG_ROOTFS_BASE', 'IMG_PREPARE_ONLY', 'IMG_CACHE_EXPORT', 'IMG_ROOTFS_EXPORT', 'IMG_ARCH', 'IMG_BUILDER_VERSION',
    // The kickstart's settings (kickstart-settings.sh) and the package index's sources (package-index.sh);
    // IMG_NAME is mic's name of the image, which a --nochroot %post may read.
    'IMG_EXCLUDEDOCS', 'IMG_IGNOREMISSING', 'IMG_IMAGE_NAME', 'IMG_NAME', 'IMG_NTP', 'IMG_ROOT_LABEL', 'IMG_XKB_LAYOUT', 'IMG_XKB_OPTIONS', 'IMG_XKB_VARIANT',
    'IMG_INDEX_SOURCES']);
  const missing = [...used].filter((v) => !internal.has(v) && !readme.includes(`\`${v}\``)).sort();
  assert.deepEqual(missing, [], `settings missing from the README: ${missing.join(', ')}`);
});

test('the README opens with the two commands, and .ci/run runs the same test command', () => {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const block = /```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
  const [up, tests] = block.trim().split('\n').map((l) => l.replace(/\s+#.*$/, '').trim());
  assert.equal(up, 'bash deploy/local/up.sh');
  assert.equal(tests, 'IMG_STORAGE=s3 bash deploy/local/up.sh --infra-only && npm test');
  const ci = readFileSync(join(repoRoot, '.ci/run'), 'utf8');
  assert.match(ci, /^IMG_STORAGE=s3 bash deploy\/local\/up\.sh --infra-only$/m);
  assert.match(ci, /^npm test$/m);
});

test('compose.yaml parses and runs every service with the health checks the stack needs', () => {
  // The RabbitMQ nodes' shared Erlang cookie has no default: compose refuses to run without one.
  const compose = (args: string[], env: NodeJS.ProcessEnv) => execFileSync('docker-compose', ['-f', join(repoRoot, 'compose.yaml'), ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env });
  const { IMG_RABBITMQ_COOKIE: _, ...noCookie } = process.env;
  assert.throws(() => compose(['config', '--services'], noCookie), /set IMG_RABBITMQ_COOKIE/);
  const env = { ...noCookie, IMG_RABBITMQ_COOKIE: 'a-test-cookie' };
  let out: string;
  try {
    out = compose(['config', '--services'], env);
  } catch (err) {
    throw new Error(`docker-compose could not read compose.yaml (install it with deploy/local/up.sh): ${(err as Error).message}`);
  }
  const nodes = ['rabbitmq1', 'rabbitmq2', 'rabbitmq3'];
  assert.deepEqual(out.trim().split('\n').sort(), [
    'binfmt', 'builder-image', 'frontend', 'image-creator-1', 'image-creator-2', 'kickstarter', 'mailpit', 'mongo-1', 'mongo-2', 'mongo-3', 'notifier',
    ...nodes, 'seaweedfs',
  ].sort());
  const full = compose(['config'], env);
  for (const svc of [...nodes, 'mongo-1', 'mailpit', 'frontend', 'seaweedfs']) {
    assert.match(full, new RegExp(`\\n  ${svc}:\\n[\\s\\S]*?healthcheck:`), `${svc} has a health check`);
  }
  // Laid out as on several hosts: no folder shared between services, images and logs in the object
  // store, each image-creator with a data directory of its own, the database a replica set.
  assert.doesNotMatch(full, /\/var\/lib\/img\/data:/, 'no shared data directory');
  assert.match(full, /IMG_STORAGE: s3/);
  assert.match(full, /\/var\/lib\/img\/host-1:\/var\/lib\/img\/host-1/);
  assert.match(full, /\/var\/lib\/img\/host-2:\/var\/lib\/img\/host-2/);
  assert.match(full, /replicaSet=img/);
  assert.match(full, /--replSet/);
  // A cluster: every node reads the same formation settings, and every service knows every node.
  assert.equal(full.match(/cluster\.conf:\/etc\/rabbitmq\/conf\.d\/20-img-cluster\.conf:ro/g)?.length, 3, 'each node mounts deploy/rabbitmq/cluster.conf');
  assert.equal(full.match(/RABBITMQ_ERLANG_COOKIE: a-test-cookie/g)?.length, 3, 'the three nodes share the cookie');
  for (const svc of ['frontend', 'kickstarter', 'image-creator-1', 'image-creator-2', 'notifier']) {
    const urls = new RegExp(`\\n  ${svc}:\\n[\\s\\S]*?IMG_AMQP_URL: (\\S+)`).exec(full)?.[1] ?? '';
    assert.deepEqual(urls.split(',').map((u) => new URL(u).host), ['rabbitmq1:5672', 'rabbitmq2:5672', 'rabbitmq3:5672'], `${svc} is given all three nodes`);
  }
  // arm64: the host's binfmt_misc registration is made before any image-creator starts.
  assert.match(full, /\n  binfmt:\n[\s\S]*?privileged: true/);
  const conf = readFileSync(join(repoRoot, 'deploy/rabbitmq/cluster.conf'), 'utf8');
  assert.match(conf, /^cluster_formation\.peer_discovery_backend = classic_config$/m);
  for (const [i, n] of nodes.entries()) assert.match(conf, new RegExp(`^cluster_formation\\.classic_config\\.nodes\\.${i + 1} = rabbit@${n}$`, 'm'));
});
