// Debian ports of real kickstarts (shared/test/unit/kickstart/ports/, each changing only repositories
// and package names), submitted through the frontend's API and built by image-creator into tar images,
// in which what IMG honours is checked as a person would check it:
//   anaconda's packages-ignoremissing: the missing package is left out, said in the log and on the job;
//   MeeGo's core-ia32-mint (mic): --excludedocs, and the file its --nochroot %post wrote through $INSTALL_ROOT;
//   kickstart-tests' script-post (flattened): both %post --log files, one through /mnt/sysroot;
//   anaconda's keyboard: --xlayouts in /etc/default/keyboard;
//   anaconda's services: where its own %post stops on Debian, and (without that %post) the units in the image.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { purgeAllQueues, repoRoot, stackEnv, startService, uniqueEmail, waitFor, type ServiceProcess } from '@img/shared/testing';

let env: Awaited<ReturnType<typeof stackEnv>>;
const services: ServiceProcess[] = [];
const timings: string[] = [];

before(async () => {
  execFileSync('bash', [join(repoRoot, 'deploy/builder/build-image.sh')], { stdio: 'ignore' });
  await purgeAllQueues();
  env = await stackEnv({ IMG_BUILD_TIMEOUT_S: '900', IMG_VERIFY_BOOT: 'false', IMG_PACKAGE_INDEX_POLL_S: '5' });
  services.push(await startService('image-creator', env, { readyTimeoutMs: 60_000 }));
  services.push(await startService('frontend', env));
  // The ports' packages are checked at submission once the frontend has the package index that
  // image-creator reads at start; before that, the build checks them. Wait for the index.
  await waitFor('the frontend to check packages against the package index', async () => {
    const res = await fetch(`${env.IMG_PUBLIC_URL}/api/v1/kickstart/check`, {
      method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ kickstart: '%packages\nhostname\n%end\n' }),
    });
    return res.ok && ((await res.json()) as { package_check?: { state?: string } }).package_check?.state === 'checked';
  }, { timeoutMs: 600_000, intervalMs: 1000 });
});

after(async () => {
  for (const t of timings) process.stdout.write(`# ${t}\n`);
  await Promise.all(services.map((s) => s.stop()));
  if (env) await rm(env.IMG_DATA_DIR, { recursive: true, force: true });
});

interface Built { id: string; token: string; job: Record<string, any>; archive: string; log: string }

const port = (name: string) => readFileSync(join(repoRoot, 'shared/test/unit/kickstart/ports', `${name}.ks`), 'utf8');

/** Submits a port as a tar image through the API and waits for its end. */
async function build(name: string, kickstart = port(name)): Promise<Built> {
  const started = Date.now();
  const res = await fetch(`${env.IMG_PUBLIC_URL}/api/v1/jobs`, {
    method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ email: uniqueEmail('port'), imagetype: 'tar', kickstart }),
  });
  const submitted = (await res.json()) as Record<string, any>;
  assert.equal(res.status, 201, `${name} is accepted: ${JSON.stringify(submitted)}`);
  const auth = { authorization: `Bearer ${submitted.token}` };
  const job = await waitFor(`the build of ${name}`, async () => {
    const j = (await (await fetch(`${env.IMG_PUBLIC_URL}/api/v1/jobs/${submitted.id}`, { headers: auth })).json()) as Record<string, any>;
    return ['done', 'failed', 'cancelled'].includes(j.status) ? j : undefined;
  }, { timeoutMs: 1_200_000, intervalMs: 2000 });
  const log = await (await fetch(`${env.IMG_PUBLIC_URL}/api/v1/jobs/${submitted.id}/log`, { headers: auth })).text();
  timings.push(`${name}${kickstart === port(name) ? '' : ' (edited)'}: ${job.status} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return { id: submitted.id, token: submitted.token, job, log, archive: join(env.IMG_DATA_DIR, 'images', submitted.id, job.imagefile ?? '') };
}

// The image is read by child processes that do not block this process: a test that stops its own
// event loop for seconds finds its idle connections to the frontend closed under it.
const run = promisify(execFile);

/** One file of the image, as text; undefined when there is none. */
async function member(archive: string, path: string): Promise<string | undefined> {
  try {
    return (await run('bash', ['-c', 'zstd -dc "$1" | tar -xOf - "$2"', 'member', archive, `.${path}`], { encoding: 'utf8', maxBuffer: 64 << 20 })).stdout;
  } catch {
    return undefined;
  }
}

/** Every path of the image. */
async function listing(archive: string): Promise<string[]> {
  const { stdout } = await run('bash', ['-c', 'zstd -dc "$1" | tar -tf -', 'list', archive], { encoding: 'utf8', maxBuffer: 256 << 20 });
  return stdout.split('\n').map((p) => p.replace(/^\./, ''));
}

/** The regular files of the image (tar -tv's '-' entries), without links and directories. */
async function regularFiles(archive: string): Promise<string[]> {
  const { stdout } = await run('bash', ['-c', 'zstd -dc "$1" | tar -tvf -', 'list', archive], { encoding: 'utf8', maxBuffer: 256 << 20 });
  return stdout.split('\n').filter((l) => l.startsWith('-')).map((l) => l.slice(l.indexOf(' ./') + 2));
}

test('anaconda\'s packages-ignoremissing: the package apt does not know is left out, in the log and on the job with its line', async () => {
  const b = await build('anaconda-packages-ignoremissing');
  assert.equal(b.job.status, 'done', b.job.error);
  assert.equal(await member(b.archive, '/root/RESULT'), 'SUCCESS\n', 'the port\'s own %post ran to its end');
  assert.match(b.log, /IMG: %packages --ignoremissing: apt knows no package fake-package-name in these suites: it is left out/);
  const line = port('anaconda-packages-ignoremissing').split('\n').indexOf('fake-package-name') + 1;
  assert.ok((b.job.warnings as Array<{ line?: number; message: string }>).some((w) => w.line === line && /fake-package-name/.test(w.message)), JSON.stringify(b.job.warnings));
  assert.equal(b.job.package_check.how, 'submission');
});

test('MeeGo\'s core-ia32-mint (mic): --excludedocs leaves only the copyright files, and the --nochroot %post wrote through $INSTALL_ROOT', async () => {
  const b = await build('meego-core-ia32-mint');
  assert.equal(b.job.status, 'done', `${b.job.error}\n${b.log.slice(-3000)}`);
  // dpkg leaves a package's symbolic links (NEWS.gz -> changelog.gz), not its files.
  const files = await regularFiles(b.archive);
  const docs = files.filter((p) => p.startsWith('/usr/share/doc/'));
  assert.ok(docs.length > 20, `copyright files are kept: ${docs.length}`);
  assert.deepEqual(docs.filter((p) => !p.endsWith('/copyright')), [], 'nothing but copyright files under /usr/share/doc');
  assert.deepEqual(files.filter((p) => p.startsWith('/usr/share/man/')), [], 'no manual pages');
  assert.ok(files.includes('/usr/bin/ssh-keygen') && files.includes('/usr/bin/rpm'), 'the ported packages are there');
  assert.match(await member(b.archive, '/etc/dpkg/dpkg.cfg.d/99mmdebstrap') ?? '', /path-exclude=\/usr\/share\/doc\/\*/, 'packages installed later leave their documentation out too');
  assert.match(await member(b.archive, '/etc/meego-release') ?? '', /^BUILD: img-[0-9a-f]{12}-tar\n$/, 'mic\'s IMG_NAME, written by the --nochroot %post into $INSTALL_ROOT/etc/meego-release');
  assert.match(await member(b.archive, '/etc/passwd') ?? '', /^meego:x:\d+:\d+::\/home\/meego:/m, 'the user line');
  assert.ok((await member(b.archive, '/root/.ssh/authorized_keys'))?.startsWith('ssh-rsa '), 'its %post made root\'s key with ssh-keygen');
});

test('kickstart-tests\' script-post: %post --log writes each script\'s output into the image, the --nochroot one through /mnt/sysroot', async () => {
  const b = await build('kstests-script-post');
  assert.equal(b.job.status, 'done', `${b.job.error}\n${b.log.slice(-3000)}`);
  assert.equal(await member(b.archive, '/root/RESULT'), 'SUCCESS\n');
  const nochroot = await member(b.archive, '/root/post-nochroot.log') ?? '';
  assert.match(nochroot, /Post-install \(nochroot\) script started/);
  assert.match(nochroot, /Post-install \(nochroot\) script finished/);
  const chroot = await member(b.archive, '/root/post-chroot.log') ?? '';
  assert.match(chroot, /SUCCESS found in \/root\/RESULT, everything is good!/);
  assert.match(chroot, /Post-install \(chroot\) script finished/);
  // The same output is in the build log too.
  assert.match(b.log, /SUCCESS found in \/root\/RESULT, everything is good!/);
});

test('anaconda\'s keyboard: keyboard --xlayouts=cz is Debian\'s /etc/default/keyboard', async () => {
  const b = await build('anaconda-keyboard');
  assert.equal(b.job.status, 'done', `${b.job.error}\n${b.log.slice(-3000)}`);
  const keyboard = await member(b.archive, '/etc/default/keyboard') ?? '';
  assert.match(keyboard, /^XKBLAYOUT="cz"$/m);
  assert.match(keyboard, /^XKBVARIANT=""$/m);
});

test('anaconda\'s services: the units are enabled and disabled before its %post, whose bash-and-Fedora checks then fail under IMG\'s sh -e', async () => {
  const b = await build('anaconda-services');
  assert.match(b.log, /IMG: services: systemd-timesyncd\.service enabled \(kickstart line 17\)/);
  assert.match(b.log, /IMG: services: ssh\.service disabled \(the kickstart calls it sshd\) \(kickstart line 17\)/);
  // The image's own systemctl answers the %post's first check.
  assert.match(b.log, /@@IMG-POST 27\n(?:.*\n)*?enabled\n/);
  // Debian's sshd is only an alias of ssh.service, which `systemctl disable ssh` removes, so the
  // port's `systemctl is-enabled sshd | grep disabled` finds nothing; IMG runs %post with sh -e (anaconda
  // without -e, and with bash as /bin/sh, which its [[ ]] also need), so the build stops there.
  assert.equal(b.job.status, 'failed');
  assert.equal(b.job.error_code, 'post_script_failed', b.job.error);
  assert.match(b.job.error, /kickstart line 27/);
  // The command named is that pipeline's: dash traces its two commands from two processes at once,
  // so their words may come interleaved ('+ systemctl is-enabledgrep sshd disabled').
  const command = /failed at the command: (.*)$/.exec(b.job.error)?.[1] ?? '';
  assert.match(command, /^(?:\s|\+|systemctl|is-enabled|sshd|grep|disabled)+$/, b.job.error);
  assert.match(command, /sshd|disabled/);
});

test('anaconda\'s services without its %post: in the image, systemd-timesyncd is enabled, ssh (sshd) is not, systemd-networkd stays as Debian ships it', async () => {
  const text = port('anaconda-services');
  const b = await build('anaconda-services', text.slice(0, text.indexOf('%post')));
  assert.equal(b.job.status, 'done', `${b.job.error}\n${b.log.slice(-3000)}`);
  const paths = await listing(b.archive);
  assert.ok(paths.includes('/etc/systemd/system/sysinit.target.wants/systemd-timesyncd.service'), 'systemd-timesyncd is enabled in the image');
  assert.deepEqual(paths.filter((p) => /\/etc\/systemd\/system\/(?:.*\.wants\/)?sshd?\.service$/.test(p)), [], 'ssh is neither enabled nor aliased in the image');
  assert.ok(paths.includes('/usr/lib/systemd/system/ssh.service'), 'while its unit is installed');
  assert.deepEqual(paths.filter((p) => /\/etc\/systemd\/system\/.*\/systemd-networkd\.service$/.test(p)), [], 'systemd-networkd is not enabled');
});
