// One plan's view of the package index: the units of its suites and components for its architecture,
// merged. Answers whether a name is a package apt can install (a real one, or a virtual one exactly one
// package provides, which apt picks), who provides a virtual one, and which real names are closest to a
// name that is neither. Built once per set of units and kept warm by PackageIndexCache.
import { closest } from '../kickstart/edit-distance.ts';
import type { UnitPackages } from './index-format.ts';

export type Lookup =
  | { kind: 'real' }
  | { kind: 'virtual'; providers: string[] }
  | { kind: 'missing' };

export class PackageIndexView {
  private readonly real = new Set<string>();
  private readonly provided = new Map<string, string[]>();
  /** Real names by length: a suggestion is within a few characters of the name's length. */
  private byLength: Map<number, string[]> | undefined;

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
      this.byLength = new Map();
      for (const n of this.real) {
        const list = this.byLength.get(n.length);
        if (list) list.push(n);
        else this.byLength.set(n.length, [n]);
      }
    }
    const lengths = this.byLength;
    function* near(): Generator<string> {
      for (let d = -3; d <= 3; d++) yield* lengths.get(name.length + d) ?? [];
    }
    return closest(name, near(), limit);
  }
}
