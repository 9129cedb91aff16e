// The package index as the check reads it: units loaded from the store once, kept in memory, and
// loaded again only when the store holds a newer reading (looked at, cheaply, at most every
// `recheckMs`). A plan's view over its units is built once per set of readings, so checking a
// kickstart against a warm index is lookups in sets (deploy/bench/kickstart-check.ts measures it).
import { PackageIndexView } from './package-index.ts';
import type { PackageIndexStore, StoredUnit } from './index-store.ts';
import { unitKey, type IndexUnit } from './units.ts';

export type IndexAnswer =
  | { view: PackageIndexView; readAt: Date }
  | { missing: IndexUnit[] };

export class PackageIndexCache {
  private readonly units = new Map<string, StoredUnit>();
  private readonly checked = new Map<string, number>();
  private readonly views = new Map<string, PackageIndexView>();

  constructor(private readonly store: Pick<PackageIndexStore, 'readTimes' | 'load'>, private readonly opts: { recheckMs: number }) {}

  /** The view over these units (one architecture's), or the units the store does not hold yet. */
  async view(units: readonly IndexUnit[]): Promise<IndexAnswer> {
    const now = Date.now();
    const due = units.filter((u) => now - (this.checked.get(unitKey(u)) ?? 0) >= this.opts.recheckMs || !this.units.has(unitKey(u)));
    if (due.length > 0) {
      const times = await this.store.readTimes(due);
      for (const u of due) {
        const key = unitKey(u);
        const readAt = times.get(key);
        const held = this.units.get(key);
        if (readAt && (!held || held.readAt.getTime() !== readAt.getTime())) {
          const loaded = await this.store.load(u);
          if (loaded) this.units.set(key, loaded);
        }
        this.checked.set(key, now);
      }
    }
    const missing = units.filter((u) => !this.units.has(unitKey(u)));
    if (missing.length > 0) return { missing };
    const stored = units.map((u) => this.units.get(unitKey(u)) as StoredUnit);
    const viewKey = stored.map((s) => `${unitKey(s.unit)}@${s.readAt.getTime()}`).join(' ');
    let view = this.views.get(viewKey);
    if (!view) {
      const oldest = new Date(Math.min(...stored.map((s) => s.readAt.getTime())));
      view = new PackageIndexView(stored.map((s) => s.packages), units[0]?.architecture ?? 'amd64', oldest);
      // Views of older readings are dropped: only the current one of each set of units is asked for.
      for (const k of this.views.keys()) if (k.replace(/@\d+/g, '') === viewKey.replace(/@\d+/g, '')) this.views.delete(k);
      this.views.set(viewKey, view);
    }
    return { view, readAt: view.readAt };
  }
}
