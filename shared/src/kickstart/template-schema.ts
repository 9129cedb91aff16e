// The template's shape, after MeeGo kickstarter's configurations.yaml, checked with zod.
// Values reach a kickstart line, so every string is one line and every name obeys its syntax in names.ts.
import { z } from 'zod';
import {
  isValidAbsolutePath, isValidDebianPackageName, isValidGroupName, isValidHostname, isValidRepoName, isValidRepoUrl,
  isValidSettingWord, isValidSuiteName, isValidUserName,
} from './names.ts';
import {
  MAX_COMPONENTS, MAX_GROUPS, MAX_PACKAGES, MAX_POST_SCRIPTS, MAX_REPOS, MAX_USER_GROUPS,
} from './limits.ts';
import { findArchitecture, unknownArchitectureMessage } from './architectures.ts';

const oneLine = z.string().min(1, 'must not be empty')
  .refine((s) => !s.includes('\n') && !s.includes('\r'), 'must be a single line');

const named = (check: (s: string) => boolean, what: string) =>
  z.string().refine(check, (s) => ({ message: `'${s}' is not a valid ${what}` }));

const packageName = named(isValidDebianPackageName, 'Debian package name');
/** `-name` in ExtraPackages excludes the package, as in a kickstart's %packages. */
const packageEntry = named((s) => isValidDebianPackageName(s.startsWith('-') ? s.slice(1) : s),
  'Debian package name (or -name to exclude one)');

/**
 * An empty list key (`Groups:`) reads as null in YAML; it means an empty list, which clears Default's.
 * The length is checked before the items, so a huge list costs one issue, not one per item.
 */
const list = <T extends z.ZodTypeAny>(item: T, cap: number) =>
  z.preprocess((v) => (v === null ? [] : v),
    z.array(z.unknown()).max(cap, `lists more than ${cap} entries: the limit is ${cap}`).pipe(z.array(item)));

export const userSchema = z.object({
  Name: named(isValidUserName, 'user name'),
  /** Starting with `$` it is a crypt(3) hash, otherwise plain text. */
  Password: oneLine.optional(),
  Groups: list(named(isValidUserName, 'group name'), MAX_USER_GROUPS).optional(),
  SshKey: oneLine.optional(),
}).strict();

export const platformSchema = z.object({
  PartSize: z.number().int().positive().max(1048576, 'must be at most 1048576 MiB'),
  BootloaderAppend: oneLine,
  BootloaderTimeout: z.number().int().min(0).max(3600),
  Kernel: packageName,
  Groups: list(named(isValidGroupName, 'group name'), MAX_GROUPS),
  Repos: list(named(isValidRepoName, 'repository name'), MAX_REPOS),
  PostScripts: list(named(isValidRepoName, 'post-script name'), MAX_POST_SCRIPTS),
  ExtraPackages: list(packageEntry, MAX_PACKAGES),
  Suite: named(isValidSuiteName, 'Debian suite name'),
  Architecture: z.string().refine((a) => findArchitecture(a) !== undefined, (a) => ({ message: unknownArchitectureMessage(a) })),
  Timezone: named(isValidSettingWord, 'time zone'),
  Language: named(isValidSettingWord, 'locale'),
  Keyboard: named(isValidSettingWord, 'keyboard layout'),
  Hostname: named(isValidHostname, 'host name'),
  /** Starting with `$` it is a crypt(3) hash, otherwise plain text. */
  RootPassword: oneLine,
  User: userSchema,
}).partial().strict();

export type PlatformValues = z.infer<typeof platformSchema>;
export type PlatformKey = keyof PlatformValues;
export type TemplateUser = z.infer<typeof userSchema>;

export const PLATFORM_KEYS = Object.keys(platformSchema.shape) as PlatformKey[];
export const LIST_KEYS = ['Groups', 'Repos', 'PostScripts', 'ExtraPackages'] as const;
export type ListKey = (typeof LIST_KEYS)[number];

/** The most entries each list may have, also once an overlay has added to it. */
export const LIST_CAPS: Readonly<Record<ListKey, number>> = {
  Groups: MAX_GROUPS, Repos: MAX_REPOS, PostScripts: MAX_POST_SCRIPTS, ExtraPackages: MAX_PACKAGES,
};

export function isListKey(key: string): key is ListKey {
  return (LIST_KEYS as readonly string[]).includes(key);
}

export const repositorySchema = z.object({
  Name: named(isValidRepoName, 'repository name'),
  /** Absent: the builder's default Debian mirror. */
  Url: oneLine.refine(isValidRepoUrl, 'must be an http, https or file URL').optional(),
  Suite: named(isValidSuiteName, 'Debian suite name'),
  Components: z.array(z.unknown()).min(1, 'must list at least one component')
    .max(MAX_COMPONENTS, `lists more than ${MAX_COMPONENTS} components: the limit is ${MAX_COMPONENTS}`)
    .pipe(z.array(named(isValidSuiteName, 'component name'))),
  Key: oneLine.optional(),
}).strict();

export type TemplateRepositoryValues = z.infer<typeof repositorySchema>;

/** A named post-script is its text, or this mapping when it needs another interpreter or runs outside the image. */
export const postScriptObjectSchema = z.object({
  Script: z.string(),
  Interpreter: z.string().refine(isValidAbsolutePath, 'must be an absolute path').optional(),
  NoChroot: z.boolean().optional(),
  ErrorOnFail: z.boolean().optional(),
}).strict();

export const groupSchema = list(packageName, MAX_PACKAGES);
