// The kickstart commands IMG honours, each with its options and what it writes into the build plan.
// Anything that is not here is an error naming the line: an option the builder would silently ignore
// is worse than a message. The one exception is `network`, whose device options are accepted and
// ignored because the image configures its network itself (DHCP); only --hostname matters.
import type { BuildPlan, PlanUser } from './build-plan.ts';
import {
  isValidAbsolutePath, isValidGecos, isValidHostname, isValidRepoName, isValidRepoUrl, isValidSettingWord, isValidSshKey,
  isValidSuiteName, isValidUserName,
} from './names.ts';
import {
  MAX_COMPONENTS, MAX_REPOS, MAX_SSHKEYS, MAX_USER_GROUPS, MAX_USERS, maxRootSizeMib,
} from './limits.ts';
import type { KickstartLimits } from './limits.ts';
import { parseCount, parseOptions } from './ks-options.ts';
import type { OptionSpec } from './ks-options.ts';
import type { Token } from './ks-tokenize.ts';
import { releaseOf, unknownSuiteMessage } from './suites.ts';

/** What the parser keeps while it reads the commands. */
export interface Draft {
  plan: BuildPlan;
  /** Singleton command or user/repo/mountpoint key → the line it first appeared on. */
  firstSeen: Map<string, number>;
  sshkeys: { user: string; key: string; line: number }[];
  /** The line of each of plan.repos, in order: the suite check names the lines it compares. */
  repoLines: number[];
  limits?: KickstartLimits;
}

interface Context {
  draft: Draft;
  line: number;
  options: Map<string, string | true>;
  args: string[];
  fail(message: string): void;
}

interface CommandDef {
  options: OptionSpec;
  /** At most one per kickstart. */
  singleton?: boolean;
  run(ctx: Context): void;
}

export const MAX_PART_MIB = 1048576;
/** The largest user id useradd takes, less the one of nobody's overflow id. */
const MAX_UID = 4294967294;
const FSTYPES = ['ext4', 'ext3', 'ext2', 'xfs', 'btrfs', 'vfat'];
const NETWORK_IGNORED: OptionSpec = {
  bootproto: 'value', device: 'value', onboot: 'value', activate: 'flag', 'no-activate': 'flag',
  ip: 'value', ipv6: 'value', netmask: 'value', gateway: 'value', ipv6gateway: 'value', nameserver: 'value',
  noipv4: 'flag', noipv6: 'flag', nodefroute: 'flag', nodns: 'flag', mtu: 'value', ethtool: 'value',
  essid: 'value', wepkey: 'value', wpakey: 'value', dhcpclass: 'value', interfacename: 'value',
};

function str(ctx: Context, name: string): string | undefined {
  const v = ctx.options.get(name);
  return typeof v === 'string' ? v : undefined;
}

function oneArg(ctx: Context, what: string, example: string): string | undefined {
  if (ctx.args.length === 0) ctx.fail(`missing ${what}, e.g. ${example}`);
  else if (ctx.args.length > 1) ctx.fail(`unexpected argument '${ctx.args[1]}'`);
  else return ctx.args[0];
  return undefined;
}

function noArgs(ctx: Context): boolean {
  if (ctx.args.length > 0) ctx.fail(`unexpected argument '${ctx.args[0]}'`);
  return ctx.args.length === 0;
}

function word(ctx: Context, value: string | undefined, what: string): string | undefined {
  if (value === undefined) return undefined;
  if (isValidSettingWord(value)) return value;
  ctx.fail(`'${value}' is not a valid ${what}`);
  return undefined;
}

/** Records `key` as seen on this line; false (with an error) when it was seen before. */
function firstTime(ctx: Context, key: string, what: string): boolean {
  const first = ctx.draft.firstSeen.get(key);
  if (first !== undefined) {
    ctx.fail(`${what} (first on line ${first})`);
    return false;
  }
  ctx.draft.firstSeen.set(key, ctx.line);
  return true;
}

export const COMMANDS: Readonly<Record<string, CommandDef>> = {
  lang: {
    options: {}, singleton: true,
    run(ctx) {
      const v = word(ctx, oneArg(ctx, 'language', 'lang en_US.UTF-8'), 'language');
      if (v) ctx.draft.plan.lang = v;
    },
  },
  keyboard: {
    options: { vckeymap: 'value' }, singleton: true,
    run(ctx) {
      const named = str(ctx, 'vckeymap');
      if (named !== undefined && ctx.args.length > 0) return ctx.fail('give the layout once: as argument or as --vckeymap');
      const v = word(ctx, named ?? oneArg(ctx, 'keyboard layout', 'keyboard us'), 'keyboard layout');
      if (v) ctx.draft.plan.keyboard = v;
    },
  },
  timezone: {
    options: { utc: 'flag', isUtc: 'flag' }, singleton: true,
    run(ctx) {
      const zone = word(ctx, oneArg(ctx, 'time zone', 'timezone --utc Europe/Helsinki'), 'time zone');
      if (zone) ctx.draft.plan.timezone = { zone, utc: ctx.options.has('utc') || ctx.options.has('isUtc') };
    },
  },
  rootpw: {
    options: { iscrypted: 'flag', plaintext: 'flag', lock: 'flag' }, singleton: true,
    run(ctx) {
      const lock = ctx.options.has('lock');
      const iscrypted = ctx.options.has('iscrypted');
      if (iscrypted && ctx.options.has('plaintext')) return ctx.fail('--iscrypted and --plaintext exclude each other');
      if (ctx.args.length > 1) return ctx.fail(`unexpected argument '${ctx.args[1]}'`);
      const password = ctx.args[0];
      if (password === undefined && !lock) return ctx.fail('missing password (or --lock), e.g. rootpw --iscrypted $6$…');
      if (password === undefined && iscrypted) return ctx.fail('--iscrypted needs a password hash');
      ctx.draft.plan.rootpw = { password: password ?? '', iscrypted, lock };
    },
  },
  user: {
    options: {
      name: 'value', password: 'value', iscrypted: 'flag', plaintext: 'flag', groups: 'value',
      homedir: 'value', shell: 'value', uid: 'value', gecos: 'value',
    },
    run(ctx) {
      if (!noArgs(ctx)) return;
      const name = str(ctx, 'name');
      if (name === undefined) return ctx.fail('missing --name');
      if (!isValidUserName(name)) return ctx.fail(`'${name}' is not a valid user name`);
      if (name === 'root') return ctx.fail("root is not made with a user line: use rootpw, and sshkey --username=root for its keys");
      if (ctx.draft.plan.users.length >= MAX_USERS) return ctx.fail(`too many user lines: the limit is ${MAX_USERS}`);
      const password = str(ctx, 'password');
      const iscrypted = ctx.options.has('iscrypted');
      if (iscrypted && ctx.options.has('plaintext')) return ctx.fail('--iscrypted and --plaintext exclude each other');
      if (iscrypted && password === undefined) return ctx.fail('--iscrypted needs --password');
      const groups = (str(ctx, 'groups') ?? '').split(',').map((g) => g.trim()).filter((g) => g !== '');
      if (groups.length > MAX_USER_GROUPS) return ctx.fail(`--groups lists ${groups.length} groups: the limit is ${MAX_USER_GROUPS}`);
      const bad = groups.find((g) => !isValidUserName(g));
      if (bad !== undefined) return ctx.fail(`'${bad}' is not a valid group name`);
      const homedir = str(ctx, 'homedir');
      if (homedir !== undefined && (!isValidAbsolutePath(homedir) || homedir === '/')) {
        return ctx.fail(`--homedir=${homedir} is not an absolute path (letters, digits, _ . + - and /)`);
      }
      const shell = str(ctx, 'shell');
      if (shell !== undefined && !isValidAbsolutePath(shell)) return ctx.fail(`--shell=${shell} is not an absolute path`);
      const uidText = str(ctx, 'uid');
      let uid: number | undefined;
      if (uidText !== undefined) {
        uid = parseCount(uidText, MAX_UID);
        if (uid === undefined || uid === 0) return ctx.fail(`--uid=${uidText} is not a user id between 1 and ${MAX_UID}`);
      }
      const gecos = str(ctx, 'gecos');
      if (gecos !== undefined && !isValidGecos(gecos)) return ctx.fail('--gecos must be at most 256 characters, without : or control characters');
      if (!firstTime(ctx, `user ${name}`, `user '${name}' is defined twice`)) return;
      const user: PlanUser = { name, iscrypted, groups, sshkeys: [] };
      if (password !== undefined) user.password = password;
      if (homedir !== undefined) user.homedir = homedir;
      if (shell !== undefined) user.shell = shell;
      if (uid !== undefined) user.uid = uid;
      if (gecos !== undefined) user.gecos = gecos;
      ctx.draft.plan.users.push(user);
    },
  },
  sshkey: {
    options: { username: 'value' },
    run(ctx) {
      const user = str(ctx, 'username');
      const key = oneArg(ctx, 'key', 'sshkey --username=admin "ssh-ed25519 AAAA… admin@host"');
      if (user === undefined) return ctx.fail('missing --username');
      if (!isValidUserName(user)) return ctx.fail(`'${user}' is not a valid user name`);
      if (key === undefined) return;
      if (!isValidSshKey(key)) return ctx.fail('the key must be one line of at most 16384 characters, e.g. "ssh-ed25519 AAAA… admin@host"');
      if (ctx.draft.sshkeys.length >= MAX_SSHKEYS) return ctx.fail(`too many sshkey lines: the limit is ${MAX_SSHKEYS}`);
      ctx.draft.sshkeys.push({ user, key, line: ctx.line });
    },
  },
  network: {
    options: { hostname: 'value', ...NETWORK_IGNORED },
    run(ctx) {
      if (!noArgs(ctx)) return;
      const host = str(ctx, 'hostname');
      if (host === undefined) return;
      if (!isValidHostname(host)) return ctx.fail(`'${host}' is not a valid host name`);
      if (firstTime(ctx, 'hostname', 'the host name is set twice')) ctx.draft.plan.hostname = host;
    },
  },
  part: {
    options: { size: 'value', fstype: 'value' },
    run(ctx) {
      const mountpoint = oneArg(ctx, 'mount point', 'part / --size=2048 --fstype=ext4');
      if (mountpoint === undefined) return;
      if (!mountpoint.startsWith('/')) return ctx.fail(`mount point '${mountpoint}' must be an absolute path`);
      const sizeText = str(ctx, 'size');
      if (sizeText === undefined) return ctx.fail('missing --size (MiB)');
      const sizeMiB = parseCount(sizeText, Number.MAX_SAFE_INTEGER);
      if (sizeMiB === undefined || sizeMiB === 0) return ctx.fail(`--size=${sizeText} is not a size in MiB (a whole number from 1)`);
      const cap = Math.min(maxRootSizeMib(ctx.draft.limits), MAX_PART_MIB);
      if (sizeMiB > cap) return ctx.fail(`part ${mountpoint} --size ${sizeMiB} is above this service's limit of ${cap} MiB`);
      const fstype = str(ctx, 'fstype') ?? 'ext4';
      if (!FSTYPES.includes(fstype)) return ctx.fail(`file system '${fstype}' is not supported (${FSTYPES.join(', ')})`);
      if (!firstTime(ctx, `part ${mountpoint}`, `mount point ${mountpoint} is partitioned twice`)) return;
      ctx.draft.plan.partitions.push({ mountpoint, sizeMiB, fstype });
    },
  },
  bootloader: {
    // --location is accepted because the builder always installs GRUB to the disk's MBR anyway.
    options: { timeout: 'value', append: 'value', location: 'value' }, singleton: true,
    run(ctx) {
      if (!noArgs(ctx)) return;
      const location = str(ctx, 'location');
      if (location !== undefined && location !== 'mbr') return ctx.fail(`--location=${location} is not supported (only mbr)`);
      const timeoutText = str(ctx, 'timeout');
      const bl: BuildPlan['bootloader'] = {};
      if (timeoutText !== undefined) {
        const timeout = parseCount(timeoutText, 3600);
        if (timeout === undefined) return ctx.fail(`--timeout=${timeoutText} is not a number of seconds (0 to 3600)`);
        bl.timeout = timeout;
      }
      const append = str(ctx, 'append');
      if (append !== undefined) bl.append = append;
      ctx.draft.plan.bootloader = bl;
    },
  },
  repo: {
    options: { name: 'value', baseurl: 'value', suite: 'value', components: 'value', key: 'value' },
    run(ctx) {
      if (!noArgs(ctx)) return;
      const name = str(ctx, 'name');
      const suite = str(ctx, 'suite');
      const components = str(ctx, 'components');
      if (name === undefined) return ctx.fail('missing --name');
      if (!isValidRepoName(name)) return ctx.fail(`'${name}' is not a valid repository name`);
      if (suite === undefined) return ctx.fail('missing --suite (a Debian suite, e.g. trixie)');
      if (!isValidSuiteName(suite)) return ctx.fail(`'${suite}' is not a valid suite name`);
      if (components === undefined) return ctx.fail('missing --components (e.g. main,contrib)');
      const list = components.split(',');
      if (list.length > MAX_COMPONENTS) return ctx.fail(`--components lists ${list.length} components: the limit is ${MAX_COMPONENTS}`);
      const bad = list.find((c) => !isValidSuiteName(c));
      if (bad !== undefined) return ctx.fail(`'${bad}' is not a valid component name`);
      const baseurl = str(ctx, 'baseurl');
      if (baseurl !== undefined && !isValidRepoUrl(baseurl)) return ctx.fail(`--baseurl=${baseurl} is not an http, https or file URL`);
      // Without --baseurl the repository is Debian's own mirror: only a release IMG builds is there.
      // A repository of its own may call its suite anything (`stable`, `main`).
      if (baseurl === undefined && releaseOf(suite) === undefined) return ctx.fail(`--suite=${suite}: ${unknownSuiteMessage(suite)}`);
      if (!firstTime(ctx, `repo ${name}`, `repository '${name}' is defined twice`)) return;
      if (ctx.draft.plan.repos.length >= MAX_REPOS) return ctx.fail(`too many repo lines: the limit is ${MAX_REPOS}`);
      const repo: BuildPlan['repos'][number] = { name, suite, components: list };
      if (baseurl !== undefined) repo.baseurl = baseurl;
      const key = str(ctx, 'key');
      if (key !== undefined) repo.key = key;
      ctx.draft.plan.repos.push(repo);
      ctx.draft.repoLines.push(ctx.line);
    },
  },
};

/** Runs one command line (already tokenized, command word first). */
export function runCommand(draft: Draft, line: number, tokens: readonly Token[], fail: (m: string) => void): void {
  const name = (tokens[0] as Token).value;
  const canonical = name === 'partition' ? 'part' : name;
  const def = Object.hasOwn(COMMANDS, canonical) ? COMMANDS[canonical] : undefined;
  if (!def) {
    fail(`unknown command '${name}' (known: ${Object.keys(COMMANDS).join(', ')}, and %packages / %post sections)`);
    return;
  }
  const parsed = parseOptions(canonical, tokens.slice(1), def.options);
  if (parsed.errors.length > 0) {
    parsed.errors.forEach(fail);
    return;
  }
  const ctx: Context = { draft, line, options: parsed.options, args: parsed.args, fail };
  if (def.singleton && !firstTime(ctx, canonical, `duplicate ${canonical}`)) return;
  def.run(ctx);
}
