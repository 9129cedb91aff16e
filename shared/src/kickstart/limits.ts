// How much a kickstart, a template or an overlay may ask for. Every input of the kickstart library
// comes from a stranger: each list has a cap, and so has the YAML behind a template (its nesting and
// its size once aliases are expanded), so that reading a request costs a bounded amount of memory
// and stack whatever it says. The caps are far above what a real image needs; past one, the error
// names the field and the cap.

/** Entries of one package list: `%packages` lines, a platform's ExtraPackages, a group's packages. */
export const MAX_PACKAGES = 5000;
/** `@Group` lines, a platform's Groups. */
export const MAX_GROUPS = 200;
/** `repo` lines, a platform's Repos, a template's Repositories. */
export const MAX_REPOS = 50;
/** `%post` sections, a platform's PostScripts, a template's PostScripts definitions. */
export const MAX_POST_SCRIPTS = 100;
/** `user` lines. */
export const MAX_USERS = 100;
/** `sshkey` lines. */
export const MAX_SSHKEYS = 200;
/** Groups of one user (`user --groups=`). */
export const MAX_USER_GROUPS = 64;
/** Components of one repository. */
export const MAX_COMPONENTS = 20;
/** Platforms of one template, and entries of its Groups table. */
export const MAX_PLATFORMS = 500;
/** Items of a comma overlay. */
export const MAX_OVERLAY_ITEMS = 5000;
/** Nodes of a template's YAML, counting what every alias stands for. */
export const MAX_YAML_NODES = 100_000;
/** Nesting of a template's or overlay's YAML, aliases included. */
export const MAX_YAML_DEPTH = 64;
/** Past this many problems a report says so and stops: a long report helps nobody. */
export const MAX_REPORTED_ERRORS = 100;
/** The same for warnings: past it the report says how many more there were. */
export const MAX_REPORTED_WARNINGS = 100;
/** Units of a `services` line, enabled and disabled together. */
export const MAX_SERVICES = 200;
/** NTP servers of `timezone --ntpservers` and `timesource` lines. */
export const MAX_NTP_SERVERS = 20;

/** The default of `limits.maxRootSizeMib`: the largest `part --size` a service builds, 64 GiB. */
export const DEFAULT_MAX_ROOT_SIZE_MIB = 65536;

/** What an operator sets for the kickstart parser (IMG_MAX_DISK_MB). */
export interface KickstartLimits {
  /** Largest `part --size` (and template PartSize), in MiB. */
  maxRootSizeMib?: number;
}

export function maxRootSizeMib(limits: KickstartLimits | undefined): number {
  return limits?.maxRootSizeMib ?? DEFAULT_MAX_ROOT_SIZE_MIB;
}
