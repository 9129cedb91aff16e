// `@Group` lines become Debian packages (often a task-… or metapackage) through one table, the template's
// Groups. Resolution happens at build time, so a kickstart written elsewhere is judged by the table the
// builder trusts, not by whatever table produced it.
import type { GroupTable } from './template.ts';

export interface GroupError {
  group: string;
  message: string;
}

export interface ResolvedGroups {
  /** Every package of every known group, first occurrence kept, in group order. */
  packages: string[];
  errors: GroupError[];
}

export function resolveGroups(groups: readonly string[], table: GroupTable): ResolvedGroups {
  const packages: string[] = [];
  const seen = new Set<string>();
  const errors: GroupError[] = [];
  for (const group of groups) {
    const members = Object.hasOwn(table, group) ? table[group] : undefined;
    if (!members) {
      const lower = group.toLowerCase();
      const near = Object.keys(table).find((k) => k.toLowerCase() === lower);
      errors.push({
        group,
        message: `unknown group '${group}'${near ? ` (did you mean '${near}'?)` : ''}; known groups: ${Object.keys(table).join(', ') || 'none'}`,
      });
      continue;
    }
    for (const p of members) {
      if (!seen.has(p)) {
        seen.add(p);
        packages.push(p);
      }
    }
  }
  return { packages, errors };
}
