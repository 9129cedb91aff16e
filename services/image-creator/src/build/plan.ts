// Step 1: from the message to what the sandbox is told. Reads the kickstart with the one parser,
// resolves its groups, and checks it against the image type. Throws a BuildFailure naming the line.
import type { ImageMessage } from '@img/shared/contracts';
import { DEFAULT_ARCH, parseKickstart, resolveGroups, type BuildPlan, type GroupTable, type KickstartLimits, type ParseResult } from '@img/shared/kickstart';
import { requestHash } from '@img/shared/builds';
import { imageKinds, prepareBuild, type ImageKind } from '../image-types.ts';
import { BuildFailure } from './failure.ts';

export interface PlannedBuild {
  plan: BuildPlan;
  /** The kickstart as read, with the lines of its packages: the package check reports by them. */
  parsed: ParseResult;
  kind: ImageKind;
  /** Every package the build installs: the kickstart's, its groups' and the image type's. */
  include: string[];
  /** The sandbox script's settings that come from the image type. */
  env: Record<string, string>;
  /** Notes for the log (what the image type adds). */
  notes: string[];
  /** Identical requests (same normalised kickstart, type, builder, suite and architecture) share one build. */
  hash: string;
}

/** `o.defaultSuite`: this image-creator's IMG_DEFAULT_SUITE, for a message that names no suite. */
export function planBuild(msg: ImageMessage, o: { groups: GroupTable; builderVersion: string; limits: KickstartLimits; defaultSuite: string }): PlannedBuild {
  // The same caps as the frontend's check (IMG_MAX_DISK_MB): a message that did not pass it is held to them too.
  // The builder's own group table: an unknown @Group is an error on its line, as at submission.
  const parsed = parseKickstart(msg.ksfile, { file: 'kickstart', limits: o.limits, defaultSuite: msg.suite ?? o.defaultSuite, arch: msg.arch ?? DEFAULT_ARCH, groups: o.groups });
  if (!parsed.plan || parsed.errors.length > 0) {
    const first = parsed.errors[0];
    throw new BuildFailure('invalid_kickstart', first ? `kickstart line ${first.line}: ${first.message}` : 'the kickstart could not be read', {
      phase: 'queued', excerpt: parsed.errors.map((e) => `kickstart:${e.line}: ${e.message}`), line: first?.line,
    });
  }
  const plan = parsed.plan;
  const include = [...plan.packages.include];
  if (plan.packages.groups.length > 0) {
    const resolved = resolveGroups(plan.packages.groups, o.groups);
    if (resolved.errors.length > 0) {
      const lines = resolved.errors.map((e) => e.message);
      throw new BuildFailure('invalid_kickstart', lines[0] ?? 'unknown group', { phase: 'queued', excerpt: lines });
    }
    include.push(...resolved.packages);
  }
  const prepared = prepareBuild(plan, msg.imagetype, include);
  if (prepared.error) throw new BuildFailure('invalid_kickstart', prepared.error, { phase: 'queued', excerpt: [prepared.error] });
  return {
    plan, parsed, kind: imageKinds[msg.imagetype], include: prepared.include, env: prepared.env, notes: prepared.notes,
    hash: requestHash(plan, msg.imagetype, o.builderVersion),
  };
}
