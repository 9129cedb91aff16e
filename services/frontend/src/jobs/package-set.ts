// Which package set a kickstart installs, as a key: two requests with the same key install the same
// root file system (image-creator keeps the root of each recent build, by much the same key: see its
// build-cache.ts), so the second starts from the first's cached root. The estimates use it to tell,
// before image-creator says, which builds will start cached, and which finished builds did.
import { createHash } from 'node:crypto';
import type { BuildPlan } from '@img/shared/kickstart';

/** What image-creator adds to the packages by image type: nothing, a kernel and boot loader, or those and live-boot. */
function family(type: string): string {
  if (type === 'livecd' || type === 'liveusb') return 'live';
  if (type === 'raw' || type === 'qcow2' || type === 'vmdk' || type === 'vdi') return 'boot';
  return 'plain';
}

export function packageSetKey(plan: BuildPlan, type: string): string {
  const doc = {
    suite: plan.suite, arch: plan.architecture, family: family(type),
    repos: plan.repos.map((r) => JSON.stringify(r)).sort(),
    include: [...new Set(plan.packages.include)].sort(), exclude: [...new Set(plan.packages.exclude)].sort(), groups: [...new Set(plan.packages.groups)].sort(),
    ...(plan.packages.excludedocs ? { excludedocs: true } : {}), ...(plan.packages.ignoremissing ? { ignoremissing: true } : {}),
  };
  return createHash('sha256').update(JSON.stringify(doc)).digest('hex').slice(0, 32);
}
