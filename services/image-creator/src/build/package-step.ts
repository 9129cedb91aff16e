// Step 1b: the kickstart's packages against the package index, at build time. The frontend checks them
// at submission when it has the index; the build checks them again (cheap, and the index may be newer),
// reading the package lists first when none were read yet, so a kickstart naming a package its suite
// does not have fails here, before anything is installed, with the message and line the submission
// would have given. Which of the two checked is recorded on the job.
import type { ImageMessage, JobWarning, PackageCheck } from '@img/shared/contracts';
import type { GroupTable } from '@img/shared/kickstart';
import { checkPackages, unitsForPlan, type IndexUnit, type PackageIndexCache } from '@img/shared/packages';
import type { Logger } from '@img/shared/logging';
import { BuildFailure } from './failure.ts';
import type { JobLog } from './job-log.ts';
import type { PlannedBuild } from './plan.ts';

export interface PackageStepDeps {
  cache: Pick<PackageIndexCache, 'view'>;
  /** Reads the units now (waiting for another image-creator's reading of them). */
  ensure: (units: readonly IndexUnit[]) => Promise<void>;
  groups: GroupTable;
  log: Logger;
}

export interface PackageStepResult {
  check: PackageCheck;
  /** Every warning of the request, the kickstart's and the check's: they replace the job's. */
  warnings: JobWarning[];
  /** A package the build cannot install: the build fails with this, reporting the check and warnings too. */
  failure?: BuildFailure;
}

const clip = (m: string) => (m.length > 1000 ? `${m.slice(0, 999)}…` : m);

export async function checkBuildPackages(deps: PackageStepDeps, msg: ImageMessage, planned: PlannedBuild, jobLog: JobLog): Promise<PackageStepResult> {
  const how = msg.package_check === 'submission' ? 'submission' : 'build';
  const done = (check: PackageCheck, warnings = planned.parsed.warnings) => {
    for (const w of warnings) jobLog.write(`IMG: warning: kickstart line ${w.line}: ${w.message}\n`);
    return { check, warnings: warnings.map((w) => ({ line: w.line, message: clip(w.message) })) };
  };
  const planUnits = unitsForPlan(planned.plan);
  if ('skipped' in planUnits) {
    jobLog.write(`IMG: the packages are not checked before the build: ${planUnits.skipped}\n`);
    return done({ how: 'skipped', detail: planUnits.skipped });
  }
  let answer = await deps.cache.view(planUnits.units);
  if ('missing' in answer) {
    jobLog.write(`IMG: no package index of ${planUnits.described} was read yet: reading the package lists now, to check the kickstart before installing\n`);
    try {
      await deps.ensure(answer.missing);
      answer = await deps.cache.view(planUnits.units);
    } catch (err) {
      deps.log.warn({ jobId: msg.id, err: (err as Error).message }, 'package index: could not be read for a build; the build goes on unchecked');
    }
    if ('missing' in answer) {
      const detail = `the package lists of ${planUnits.described} could not be read, so the packages were not checked before the build`;
      jobLog.write(`IMG: ${detail}\n`);
      return done({ how: 'skipped', detail });
    }
  }
  const checked = checkPackages(msg.ksfile, planned.parsed, answer.view, { described: planUnits.described, groups: deps.groups });
  const readAt = answer.readAt.toISOString();
  const result = done({ how, detail: `checked against ${planUnits.described}, package lists read ${readAt}`, read_at: readAt }, checked.warnings);
  if (checked.errors.length > 0) {
    const first = checked.errors[0]!;
    return {
      ...result,
      failure: new BuildFailure('invalid_kickstart', `kickstart line ${first.line}: ${first.message}`, {
        phase: 'queued', excerpt: checked.errors.map((e) => `kickstart:${e.line}: ${e.message}`), line: first.line,
      }),
    };
  }
  jobLog.write(`IMG: the packages were checked ${how === 'submission' ? 'at submission and again now' : 'now'} against ${planUnits.described}, package lists read ${readAt}\n`);
  return result;
}
