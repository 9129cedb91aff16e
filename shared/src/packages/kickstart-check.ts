// A kickstart read and, when its package index is at hand, checked against it: what the frontend's
// submission, POST /api/v1/kickstart/check, `img ks-check --server` and image-creator's build all run,
// so that each says the same about the same line.
import { parseKickstart, type KsError, type ParseOptions, type ParseResult } from '../kickstart/index.ts';
import type { PackageIndexCache } from './index-cache.ts';
import { checkPackages } from './package-check.ts';
import type { PackageIndexView } from './package-index.ts';
import { INDEX_ARCHITECTURES, unitsForPlan, type IndexUnit } from './units.ts';

/** What became of the package check: done against an index read at `readAt`, not possible yet, or not wanted. */
export type PackageCheckState =
  | { state: 'checked'; against: string; readAt: Date }
  | { state: 'no-index'; against: string; units: IndexUnit[] }
  | { state: 'skipped'; reason: string };

export interface KickstartCheck {
  parsed: ParseResult;
  errors: KsError[];
  warnings: KsError[];
  packages: PackageCheckState;
}

export async function checkKickstart(text: string, opts: ParseOptions & { index?: PackageIndexCache }): Promise<KickstartCheck> {
  const parsed = parseKickstart(text, opts);
  const planned = unitsForPlan(parsed.draft);
  if ('skipped' in planned) return { parsed, errors: parsed.errors, warnings: parsed.warnings, packages: { state: 'skipped', reason: planned.skipped } };
  if (!opts.index) return { parsed, errors: parsed.errors, warnings: parsed.warnings, packages: { state: 'no-index', against: planned.described, units: planned.units } };
  const answer = await opts.index.view(planned.units);
  if ('missing' in answer) {
    return { parsed, errors: parsed.errors, warnings: parsed.warnings, packages: { state: 'no-index', against: planned.described, units: answer.missing } };
  }
  const elsewhere: PackageIndexView[] = [];
  for (const arch of INDEX_ARCHITECTURES) {
    if (arch === parsed.draft.architecture) continue;
    const other = await opts.index.view(planned.units.map((u) => ({ ...u, architecture: arch })));
    if ('view' in other) elsewhere.push(other.view);
  }
  const checked = checkPackages(text, parsed, answer.view, { described: planned.described, elsewhere, ...(opts.groups ? { groups: opts.groups } : {}) });
  return { parsed, ...checked, packages: { state: 'checked', against: planned.described, readAt: answer.readAt } };
}
