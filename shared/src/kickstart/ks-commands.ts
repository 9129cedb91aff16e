// The kickstart commands IMG honours, each with its options and what it writes into the build plan,
// and the way every other command pykickstart knows is answered: accepted with a warning that names
// the line and says why it means nothing here (ks-ignored.ts), or refused saying what to write instead.
// Options pykickstart knows but that mean nothing on a Debian image are accepted with a warning too;
// an option nobody knows is an error, since a silently ignored option is worse than a message.
// `network` is the one exception: its device options are accepted silently, because the image
// configures its network itself (DHCP); only --hostname matters.
import type { BuildPlan, PlanUser, PlanXkb } from './build-plan.ts';
import {
  isValidAbsolutePath, isValidGecos, isValidHostname, isValidRepoName, isValidRepoUrl, isValidSettingWord, isValidSshKey,
  isValidSuiteName, isValidUnitName, isValidUserName, isValidXkbWord,
} from './names.ts';
import {
  MAX_COMPONENTS, MAX_NTP_SERVERS, MAX_REPOS, MAX_SERVICES, MAX_SSHKEYS, MAX_USER_GROUPS, MAX_USERS, maxRootSizeMib,
} from './limits.ts';
import type { KickstartLimits } from './limits.ts';
import { parseCount, parseOptions } from './ks-options.ts';
import type { OptionSpec } from './ks-options.ts';
import type { Token } from './ks-tokenize.ts';
import { DISK, IGNORED_COMMANDS, NETWORK_IGNORED, PART_IGNORED, REFUSED_COMMANDS, REPO_IGNORED } from './ks-ignored.ts';
import type { IgnoredOption } from './ks-ignored.ts';
import { closest } from './edit-distance.ts';
import { releaseOf, unknownSuiteMessage } from './suites.ts';

/** What the parser keeps while it reads the commands. */
export interface Draft {
  plan: BuildPlan;
  /** Singleton command or user/repo/mountpoint key → the line it first appeared on. */
  firstSeen: Map<string, number>;
  sshkeys: { user: string; key: string; line: number }[];
  /** The line of each of plan.repos, in order: the suite check names the lines it compares. */
  repoLines: number[];
  /** The line of the services command, for the build's messages about its units. */
  servicesLine?: number;
  limits?: KickstartLimits;
}

interface Context {
  draft: Draft;
  line: number;
  options: Map<string, string | true>;
  args: string[];
  fail(message: string): void;
  warn(message: string): void;
}

interface CommandDef {
  options: OptionSpec;
  ignored?: Readonly<Record<string, IgnoredOption>>;
  /** Options whose value may be empty. */
  emptyAllowed?: readonly string[];
  /** At most one counts: a repeat replaces it, with a warning, as in anaconda. */
  singleton?: boolean;
  run(ctx: Context): void;
}

export const MAX_PART_MIB = 1048576;
/** The largest user id useradd takes, less the one of nobody's overflow id. */
const MAX_UID = 4294967294;
/** Root file systems a kickstart may ask for; which of them an image type can write is image-creator's rule. */
const FSTYPES = ['ext4', 'ext3', 'ext2', 'xfs'];
/** Encryption is asked for by these; an image that silently is not encrypted would be worse than no image. */
const PART_ENCRYPTION = ['encrypted', 'passphrase', 'escrowcert', 'backuppassphrase', 'cipher', 'luks-version', 'pbkdf', 'pbkdf-memory', 'pbkdf-time', 'pbkdf-iterations', 'hw-passphrase'];

const RPM_REPO = 'an RPM repository cannot be read by apt: a Debian repository needs --suite and --components, '
  + 'for example `repo --name=debian --suite=trixie --components=main` (Debian\'s own mirror) or '
  + '`repo --name=mine --baseurl=https://example.org/debian --suite=trixie --components=main --key=https://example.org/key.asc`';

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

/** A comma list as pykickstart splits it: blanks around the items do not count, empty items are dropped. */
function commaList(value: string | undefined): string[] {
  return (value ?? '').split(',').map((v) => v.trim()).filter((v) => v !== '');
}

/** `--xlayouts='cz (qwerty),us'` and `--switch=grp:alt_shift_toggle`: the X keyboard settings, or an error. */
function readXkb(ctx: Context): PlanXkb | undefined {
  const xkb: PlanXkb = { layouts: [], variants: [], options: [] };
  for (const item of commaList(str(ctx, 'xlayouts'))) {
    const m = /^([^\s()]+)\s*(?:\(\s*([^\s()]+)\s*\))?$/.exec(item);
    if (!m || !isValidXkbWord(m[1] as string) || (m[2] !== undefined && !isValidXkbWord(m[2]))) {
      ctx.fail(`'${item}' is not an X keyboard layout (a layout such as cz, with its variant in parentheses: 'cz (qwerty)')`);
      return undefined;
    }
    xkb.layouts.push(m[1] as string);
    xkb.variants.push(m[2] ?? '');
  }
  for (const option of commaList(str(ctx, 'switch'))) {
    if (!isValidXkbWord(option)) {
      ctx.fail(`'${option}' is not an X keyboard option (such as grp:alt_shift_toggle)`);
      return undefined;
    }
    xkb.options.push(option);
  }
  if (xkb.layouts.length > 16 || xkb.options.length > 16) {
    ctx.fail('at most 16 X keyboard layouts and 16 options');
    return undefined;
  }
  return xkb.layouts.length > 0 || xkb.options.length > 0 ? xkb : undefined;
}

/** NTP server names of --ntpservers and timesource: host names, each checked. */
function ntpServers(ctx: Context, names: string[]): string[] | undefined {
  const bad = names.find((n) => !isValidHostname(n));
  if (bad !== undefined) {
    ctx.fail(`'${bad}' is not an NTP server's host name`);
    return undefined;
  }
  if (names.length > MAX_NTP_SERVERS) {
    ctx.fail(`${names.length} NTP servers: the limit is ${MAX_NTP_SERVERS}`);
    return undefined;
  }
  return names;
}

export const COMMANDS: Readonly<Record<string, CommandDef>> = {
  lang: {
    options: {}, singleton: true,
    ignored: { addsupport: { kind: 'value', why: 'more languages come with the locales package; configure them in %post (/etc/locale.gen)' } },
    run(ctx) {
      const v = word(ctx, oneArg(ctx, 'language', 'lang en_US.UTF-8'), 'language');
      if (v) ctx.draft.plan.lang = v;
    },
  },
  keyboard: {
    options: { vckeymap: 'value', xlayouts: 'value', switch: 'value' }, singleton: true,
    run(ctx) {
      const named = str(ctx, 'vckeymap');
      if (ctx.args.length > 1) return ctx.fail(`unexpected argument '${ctx.args[1]}'`);
      // anaconda reads the bare argument as a console keymap or an X layout; --vckeymap says which.
      if (named !== undefined && ctx.args[0] !== undefined && ctx.args[0] !== named) {
        ctx.warn(`the argument '${ctx.args[0]}' is ignored: --vckeymap=${named} names the console keymap (X layouts go in --xlayouts)`);
      }
      const keymap = word(ctx, named ?? ctx.args[0], 'keyboard layout');
      if ((named ?? ctx.args[0]) !== undefined && keymap === undefined) return;
      const xkb = readXkb(ctx);
      if (keymap === undefined && xkb === undefined) {
        if (!ctx.options.has('xlayouts') && !ctx.options.has('switch')) ctx.fail('missing keyboard layout, e.g. keyboard us or keyboard --xlayouts=us');
        return;
      }
      delete ctx.draft.plan.keyboard;
      delete ctx.draft.plan.xkb;
      if (keymap !== undefined) ctx.draft.plan.keyboard = keymap;
      if (xkb) ctx.draft.plan.xkb = xkb;
    },
  },
  timezone: {
    options: { utc: 'flag', isUtc: 'flag', nontp: 'flag', ntpservers: 'value' }, singleton: true,
    run(ctx) {
      const zone = word(ctx, oneArg(ctx, 'time zone', 'timezone --utc Europe/Helsinki'), 'time zone');
      if (!zone) return;
      if (ctx.options.has('nontp') && ctx.options.has('ntpservers')) return ctx.fail('--nontp and --ntpservers exclude each other');
      if (ctx.options.has('ntpservers')) {
        const servers = ntpServers(ctx, commaList(str(ctx, 'ntpservers')));
        if (!servers) return;
        ctx.draft.plan.ntp = { servers };
      } else if (ctx.options.has('nontp')) {
        ctx.draft.plan.ntp = { disabled: true };
      }
      ctx.draft.plan.timezone = { zone, utc: ctx.options.has('utc') || ctx.options.has('isUtc') };
    },
  },
  timesource: {
    options: { 'ntp-server': 'value', 'ntp-pool': 'value', 'ntp-disable': 'flag' },
    ignored: { nts: { kind: 'flag', why: 'systemd-timesyncd does not speak NTS; install chrony and configure it in %post' } },
    run(ctx) {
      if (!noArgs(ctx)) return;
      if (ctx.options.has('ntp-disable')) {
        ctx.draft.plan.ntp = { disabled: true };
        return;
      }
      const name = str(ctx, 'ntp-server') ?? str(ctx, 'ntp-pool');
      if (name === undefined) return ctx.fail('missing --ntp-server, --ntp-pool or --ntp-disable');
      const before = ctx.draft.plan.ntp;
      const servers = ntpServers(ctx, [...(before && 'servers' in before ? before.servers : []), name]);
      if (servers) ctx.draft.plan.ntp = { servers };
    },
  },
  rootpw: {
    options: { iscrypted: 'flag', plaintext: 'flag', lock: 'flag' }, singleton: true,
    ignored: { 'allow-ssh': { kind: 'flag', why: "Debian's OpenSSH refuses root's password unless its configuration says otherwise; change /etc/ssh/sshd_config.d in %post" } },
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
    ignored: {
      lock: { kind: 'flag', why: 'an account without --password is locked; one with a password can log in' },
      gid: { kind: 'value', why: "the account gets a group of its own with the next free group id" },
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
      const groups = commaList(str(ctx, 'groups'));
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
      const first = ctx.draft.firstSeen.get('hostname');
      if (first !== undefined) ctx.warn(`the host name is set again (first on line ${first}); the last one counts, as in anaconda`);
      else ctx.draft.firstSeen.set('hostname', ctx.line);
      ctx.draft.plan.hostname = host;
    },
  },
  part: {
    options: {
      size: 'value', fstype: 'value', type: { alias: 'fstype' }, label: 'value',
      ...Object.fromEntries(PART_ENCRYPTION.map((o) => [o, o === 'encrypted' || o === 'backuppassphrase' ? 'flag' : 'value'])),
    },
    ignored: PART_IGNORED,
    run(ctx) {
      const mountpoint = oneArg(ctx, 'mount point', 'part / --size=2048 --fstype=ext4');
      if (mountpoint === undefined) return;
      const lvm = 'LVM is not built: IMG makes one root file system (part /); replace the LVM lines with one line such as `part / --size=4096 --fstype=ext4`';
      if (mountpoint !== '/') {
        if (mountpoint === 'swap') return ctx.fail('swap partitions are not built: IMG makes one root partition (part /); make a swap file in %post if the image needs swap');
        if (mountpoint.startsWith('pv.')) return ctx.fail(lvm);
        if (mountpoint.startsWith('raid.')) return ctx.fail('software RAID is not built: IMG makes one root file system (part /); replace the RAID lines with one line such as `part / --size=4096 --fstype=ext4`');
        if (mountpoint.startsWith('btrfs.')) return ctx.fail('btrfs volumes are not built: IMG makes one root file system (part /); replace the btrfs lines with one line such as `part / --size=4096 --fstype=ext4`');
        if (['/boot', '/boot/efi', 'biosboot', 'prepboot', 'appleboot'].includes(mountpoint)) {
          return ctx.fail(`part ${mountpoint}: IMG makes the boot partitions an image type needs itself; remove this line and keep part /`);
        }
        return ctx.fail(`part ${mountpoint}: only the root partition (part /) is built; put everything in / (and remove this line)`);
      }
      const encryption = PART_ENCRYPTION.find((o) => ctx.options.has(o));
      if (encryption !== undefined) return ctx.fail(`--${encryption}: IMG does not encrypt the root file system; remove the encryption options, or encrypt at first boot`);
      const sizeText = str(ctx, 'size');
      let sizeMiB: number | undefined;
      if (sizeText !== undefined) {
        sizeMiB = parseCount(sizeText, Number.MAX_SAFE_INTEGER);
        if (sizeMiB === undefined || sizeMiB === 0) return ctx.fail(`--size=${sizeText} is not a size in MiB (a whole number from 1)`);
        const cap = Math.min(maxRootSizeMib(ctx.draft.limits), MAX_PART_MIB);
        if (sizeMiB > cap) return ctx.fail(`part ${mountpoint} --size ${sizeMiB} is above this service's limit of ${cap} MiB`);
      }
      const fstype = str(ctx, 'fstype') ?? 'ext4';
      if (fstype === 'btrfs') return ctx.fail('a btrfs root file system is not built: use --fstype=ext4 (IMG writes the file system without mounting it)');
      if (!FSTYPES.includes(fstype)) return ctx.fail(`file system '${fstype}' is not supported (${FSTYPES.join(', ')})`);
      const label = str(ctx, 'label');
      if (label !== undefined && !/^[A-Za-z0-9_.-]{1,16}$/.test(label)) return ctx.fail(`--label=${label}: a label is 1 to 16 letters, digits, _ . and -`);
      if (!firstTime(ctx, `part ${mountpoint}`, `mount point ${mountpoint} is partitioned twice`)) return;
      ctx.draft.plan.partitions.push({ mountpoint, fstype, ...(sizeMiB !== undefined ? { sizeMiB } : {}), ...(label !== undefined ? { label } : {}) });
    },
  },
  bootloader: {
    options: { timeout: 'value', append: 'value', location: 'value', password: 'value', iscrypted: 'flag', md5pass: 'value' },
    ignored: {
      'boot-drive': { kind: 'value', why: `it chooses one of the installer's disks; ${DISK}` },
      driveorder: { kind: 'value', why: `it orders the installer's disks; ${DISK}` },
      default: { kind: 'value', why: 'the image boots its one kernel' },
      leavebootorder: { kind: 'flag', why: "IMG does not change a machine's firmware boot order" },
      extlinux: { kind: 'flag', why: 'IMG installs the boot loaders the image type needs (syslinux and GRUB)' },
      sdboot: { kind: 'flag', why: 'IMG installs the boot loaders the image type needs (syslinux and GRUB)' },
      nombr: { kind: 'flag', why: 'IMG installs the boot loaders the image type needs' },
      disabled: { kind: 'flag', why: 'whether the image has a boot loader is its image type\'s choice (tar and loop have none)' },
      // mic's own.
      menus: { kind: 'value', why: "mic's boot menu entries; the image boots its one kernel" },
      ptable: { kind: 'value', why: "mic's partition table type; IMG chooses the partition table itself" },
    },
    emptyAllowed: ['append'], singleton: true,
    run(ctx) {
      if (!noArgs(ctx)) return;
      if (ctx.options.has('password') || ctx.options.has('md5pass')) {
        return ctx.fail('IMG does not set a boot loader password; remove --password (a machine that needs one sets it at first boot)');
      }
      const location = str(ctx, 'location');
      if (location !== undefined && location !== 'mbr') {
        ctx.warn(`--location=${location} is ignored: IMG installs the boot loaders where the image type needs them (the MBR and the EFI partition of a disk, the ISO's boot catalogue)`);
      }
      const timeoutText = str(ctx, 'timeout');
      const bl: BuildPlan['bootloader'] = {};
      if (timeoutText !== undefined) {
        const timeout = parseCount(timeoutText, 3600);
        if (timeout === undefined) return ctx.fail(`--timeout=${timeoutText} is not a number of seconds (0 to 3600)`);
        bl.timeout = timeout;
      }
      const append = str(ctx, 'append');
      if (append === '') ctx.warn('--append is empty, so it adds nothing to the kernel command line');
      else if (append !== undefined) bl.append = append;
      ctx.draft.plan.bootloader = bl;
    },
  },
  repo: {
    options: { name: 'value', baseurl: 'value', suite: 'value', components: 'value', key: 'value', mirrorlist: 'value', metalink: 'value' },
    ignored: REPO_IGNORED,
    run(ctx) {
      if (!noArgs(ctx)) return;
      const name = str(ctx, 'name');
      const suite = str(ctx, 'suite');
      const components = str(ctx, 'components');
      if (ctx.options.has('mirrorlist') || ctx.options.has('metalink') || (suite === undefined && components === undefined)) return ctx.fail(RPM_REPO);
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
  services: {
    options: { enabled: 'value', disabled: 'value' }, singleton: true,
    run(ctx) {
      if (!noArgs(ctx)) return;
      if (!ctx.options.has('enabled') && !ctx.options.has('disabled')) return ctx.fail('missing --enabled or --disabled, e.g. services --enabled=ssh,systemd-timesyncd');
      const enabled = commaList(str(ctx, 'enabled'));
      const disabled = commaList(str(ctx, 'disabled'));
      const bad = [...enabled, ...disabled].find((u) => !isValidUnitName(u));
      if (bad !== undefined) return ctx.fail(`'${bad}' is not a systemd unit name (letters, digits and : - _ . @)`);
      if (enabled.length + disabled.length > MAX_SERVICES) return ctx.fail(`${enabled.length + disabled.length} services: the limit is ${MAX_SERVICES}`);
      const both = enabled.find((u) => disabled.includes(u));
      if (both !== undefined) return ctx.fail(`${both} is both enabled and disabled`);
      ctx.draft.plan.services = { enabled, disabled };
      ctx.draft.servicesLine = ctx.line;
    },
  },
};

/** Every command name pykickstart or mic knows, for "did you mean". */
const KNOWN_NAMES = [...Object.keys(COMMANDS), 'partition', 'sshkey', 'user', ...Object.keys(IGNORED_COMMANDS), ...Object.keys(REFUSED_COMMANDS)];

/** Runs one command line (already tokenized, command word first). */
export function runCommand(draft: Draft, line: number, tokens: readonly Token[], fail: (m: string) => void, warn: (m: string) => void): void {
  const name = (tokens[0] as Token).value;
  const canonical = name === 'partition' ? 'part' : name;
  if (Object.hasOwn(IGNORED_COMMANDS, canonical)) {
    warn(`'${name}' is ignored: ${IGNORED_COMMANDS[canonical]}`);
    return;
  }
  if (Object.hasOwn(REFUSED_COMMANDS, canonical)) {
    fail(`'${name}' is not supported: ${REFUSED_COMMANDS[canonical]}`);
    return;
  }
  const def = Object.hasOwn(COMMANDS, canonical) ? COMMANDS[canonical] : undefined;
  if (!def) {
    const near = closest(name.toLowerCase(), KNOWN_NAMES, 1)[0];
    fail(`unknown command '${name}'${near ? ` (did you mean '${near}'?)` : ''}; IMG reads ${Object.keys(COMMANDS).join(', ')}, and %packages and %post sections`);
    return;
  }
  const ignored = def.ignored ?? {};
  const spec: Record<string, OptionSpec[string]> = { ...def.options };
  for (const [o, i] of Object.entries(ignored)) spec[o] = 'alias' in i ? i : i.kind;
  const parsed = parseOptions(canonical, tokens.slice(1), spec, def.emptyAllowed ? { emptyAllowed: def.emptyAllowed } : {});
  if (parsed.errors.length > 0) {
    parsed.errors.forEach(fail);
    return;
  }
  for (const o of parsed.options.keys()) {
    const i = Object.hasOwn(ignored, o) ? ignored[o] : undefined;
    if (i && !('alias' in i)) warn(`${canonical} --${o} is ignored: ${i.why}`);
  }
  const ctx: Context = { draft, line, options: parsed.options, args: parsed.args, fail, warn };
  if (def.singleton) {
    const first = draft.firstSeen.get(canonical);
    if (first !== undefined) warn(`${canonical} is given again (first on line ${first}); the last one counts, as in anaconda`);
    else draft.firstSeen.set(canonical, line);
  }
  def.run(ctx);
}
