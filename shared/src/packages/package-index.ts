// One plan's view of the package index: the units of its suites and components for its architecture,
// merged. Answers whether a name is a package apt can install (a real one, or a virtual one exactly one
// package provides, which apt picks), who provides a virtual one, and which real names are closest to a
// name that is neither. Built once per set of units and kept warm by PackageIndexCache.
import { best, charMask, editDistance, masksTooFar, suggestionDistance } from '../kickstart/edit-distance.ts';
import type { UnitPackages } from './index-format.ts';

export type Lookup =
  | { kind: 'real' }
  | { kind: 'virtual'; providers: string[] }
  | { kind: 'missing' };

export class PackageIndexView {
  private readonly real = new Set<string>();
  private readonly provided = new Map<string, string[]>();
  /** Real names by length, with their character masks: a suggestion is within a few characters of the name's length. */
  private byLength: Map<number, { names: string[]; masks: number[] }> | undefined;

  constructor(units: readonly UnitPackages[], readonly architecture: string, readonly readAt: Date) {
    for (const packages of units) {
      for (const [name, provides] of packages) {
        this.real.add(name);
        for (const v of provides) {
          const list = this.provided.get(v);
          if (!list) this.provided.set(v, [name]);
          else if (!list.includes(name)) list.push(name);
        }
      }
    }
  }

  get size(): number {
    return this.real.size;
  }

  lookup(name: string): Lookup {
    if (this.real.has(name)) return { kind: 'real' };
    const providers = this.provided.get(name);
    return providers ? { kind: 'virtual', providers: [...providers].sort() } : { kind: 'missing' };
  }

  /** Whether apt can install the name as it is (a real package, or a virtual one with one provider). */
  installable(name: string): boolean {
    const l = this.lookup(name);
    return l.kind === 'real' || (l.kind === 'virtual' && l.providers.length === 1);
  }

  /** Real package names close to `name` by edit distance, the closest first. */
  closest(name: string, limit = 3): string[] {
    if (!this.byLength) {
      const lengths = new Map<number, { names: string[]; masks: number[] }>();
      for (const n of this.real) {
        let bucket = lengths.get(n.length);
        if (!bucket) lengths.set(n.length, bucket = { names: [], masks: [] });
        bucket.names.push(n);
        bucket.masks.push(...charMask(n));
      }
      this.byLength = lengths;
    }
    const max = suggestionDistance(name);
    const mask = charMask(name);
    const found: { c: string; d: number }[] = [];
    for (let len = name.length - max; len <= name.length + max; len++) {
      const bucket = this.byLength.get(len);
      if (!bucket) continue;
      for (let k = 0; k < bucket.names.length; k++) {
        if (masksTooFar(mask, bucket.masks[2 * k] as number, bucket.masks[2 * k + 1] as number, max)) continue;
        const c = bucket.names[k] as string;
        const d = editDistance(name, c, max);
        if (d <= max) found.push({ c, d });
      }
    }
    return best(found, limit);
  }
}
