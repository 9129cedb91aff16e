// The frontend's check of a kickstart: the one parser, then the package check against the package index
// image-creator keeps in the database, when it has read the lists this kickstart builds from. When it has
// not, the units are marked wanted (the next refresh reads them) and the build checks the packages
// instead: the submission still goes through, and the job says which happened.
import type { PackageCheck } from '@img/shared/contracts';
import type { GroupTable, KickstartLimits } from '@img/shared/kickstart';
import type { Logger } from '@img/shared/logging';
import { checkKickstart, unitKey, type KickstartCheck, type PackageIndexCache, type PackageIndexStore } from '@img/shared/packages';

export interface CheckedKickstartText extends KickstartCheck {
  /** What the job records: checked at submission, to be checked by the build, or not checked (why). */
  record: PackageCheck;
}

export interface KickstartChecker {
  check(text: string, o: { file: string; suite: string; arch: string }): Promise<CheckedKickstartText>;
}

export function kickstartChecker(deps: {
  cache: PackageIndexCache;
  store: Pick<PackageIndexStore, 'want'>;
  groups: GroupTable;
  limits: KickstartLimits;
  log: Logger;
}): KickstartChecker {
  return {
    async check(text, o) {
      let checked: KickstartCheck;
      try {
        checked = await checkKickstart(text, { file: o.file, defaultSuite: o.suite, arch: o.arch, limits: deps.limits, groups: deps.groups, index: deps.cache });
      } catch (err) {
        // The database is the index's only source: without it, the kickstart is read and the build checks the rest.
        deps.log.warn({ err: (err as Error).message }, 'package index unreadable; the packages are left to the build to check');
        checked = await checkKickstart(text, { file: o.file, defaultSuite: o.suite, arch: o.arch, limits: deps.limits, groups: deps.groups });
      }
      const p = checked.packages;
      let record: PackageCheck;
      if (p.state === 'checked') {
        record = { how: 'submission', detail: `checked against ${p.against}, package lists read ${p.readAt.toISOString()}`, read_at: p.readAt.toISOString() };
      } else if (p.state === 'skipped') {
        record = { how: 'skipped', detail: p.reason };
      } else {
        record = { how: 'build', detail: `no package index of ${p.against} was read yet: the build checks the packages before installing them` };
        deps.store.want(p.units).catch((err: Error) => deps.log.warn({ err: err.message, units: p.units.map(unitKey) }, 'could not ask for a package index'));
      }
      return { ...checked, record };
    },
  };
}
