// The package index as package-index.sh writes it out of its container, read as hostile data, and as it
// is kept: per unit, each package's name and the virtual packages it provides, nothing else.
//
//   @@UNIT SUITE COMPONENT ARCH TRUSTED
//   NAME [PROVIDED...]
//   @@END
//
// Every line is bounded, every name checked against Debian's package name rule, every count capped, and a
// list apt did not verify (TRUSTED not yes) is refused: the output of a container is only believed as
// far as it has the expected shape.
import { gunzipSync, gzipSync } from 'node:zlib';
import type { IndexUnit } from './units.ts';

/** name → the virtual packages it provides. */
export type UnitPackages = Map<string, string[]>;

export interface UnitData {
  unit: IndexUnit;
  packages: UnitPackages;
}

/** Far above Debian's (sid's main has some 70,000 packages per architecture). */
export const MAX_PACKAGES_PER_UNIT = 400_000;
/** librust-winapi-dev provides some 1,600 names on one 50 KB line: room for much more, bounded all the same. */
const MAX_LINE = 1024 * 1024;
const MAX_PROVIDES = 8192;
const MAX_UNITS = 64;
/** Far above the whole output for every suite and component of one architecture. */
export const MAX_INDEX_OUTPUT_BYTES = 256 * 1024 * 1024;
const NAME = /^[a-z0-9][a-z0-9+.-]{0,199}$/;
const WORD = /^[a-z0-9][a-z0-9.+_-]{0,63}$/;

export class IndexFormatError extends Error {}

/** Reads the container's output as it streams, chunk by chunk; `end` gives the units or throws. */
export class IndexStreamReader {
  private partial = '';
  private bytes = 0;
  private current: UnitData | undefined;
  private readonly units: UnitData[] = [];
  private ended = false;
  private failure: string | undefined;

  constructor(private readonly expect: { architecture: string; units: readonly IndexUnit[] }) {}

  push(chunk: Buffer): void {
    if (this.failure) return;
    this.bytes += chunk.length;
    if (this.bytes > MAX_INDEX_OUTPUT_BYTES) return this.fail(`the index output is larger than ${MAX_INDEX_OUTPUT_BYTES} bytes`);
    const lines = (this.partial + chunk.toString('utf8')).split('\n');
    this.partial = lines.pop() ?? '';
    if (this.partial.length > MAX_LINE) return this.fail(`a line of the index output is longer than ${MAX_LINE} characters`);
    for (const line of lines) {
      this.line(line);
      if (this.failure) return;
    }
  }

  end(): UnitData[] {
    if (!this.failure && this.partial !== '') this.line(this.partial);
    if (!this.failure && !this.ended) this.fail('the index output ended before @@END');
    if (this.failure) throw new IndexFormatError(this.failure);
    for (const u of this.expect.units) {
      if (!this.units.some((d) => d.unit.suite === u.suite && d.unit.component === u.component)) {
        throw new IndexFormatError(`apt read no list for ${u.suite}/${u.component} (${u.architecture}): the suite or component may not exist`);
      }
    }
    return this.units;
  }

  private fail(message: string): void {
    this.failure ??= message;
  }

  private line(raw: string): void {
    const line = raw.replace(/\r$/, '');
    if (line.length > MAX_LINE) return this.fail(`a line of the index output is longer than ${MAX_LINE} characters`);
    if (this.ended) return line === '' ? undefined : this.fail('output after @@END');
    if (line.startsWith('@@')) return this.marker(line);
    if (line.trim() === '') return;
    if (!this.current) return this.fail('a package before the first @@UNIT line');
    const words = line.trim().split(/\s+/);
    const [name, ...provides] = words as [string, ...string[]];
    if (!NAME.test(name)) return this.fail(`'${name.slice(0, 80)}' is not a Debian package name`);
    const bad = provides.find((p) => !NAME.test(p));
    if (bad !== undefined) return this.fail(`'${bad.slice(0, 80)}' (provided by ${name}) is not a Debian package name`);
    const pkgs = this.current.packages;
    if (pkgs.size >= MAX_PACKAGES_PER_UNIT && !pkgs.has(name)) return this.fail(`more than ${MAX_PACKAGES_PER_UNIT} packages in one list`);
    // A name listed twice (several versions) keeps every virtual package of each.
    const had = pkgs.get(name) ?? [];
    pkgs.set(name, [...new Set([...had, ...provides])].slice(0, MAX_PROVIDES));
  }

  private marker(line: string): void {
    if (line === '@@END') {
      this.ended = true;
      return;
    }
    const m = /^@@UNIT (\S+) (\S+) (\S+) (\S+)$/.exec(line);
    if (!m) return this.fail(`unexpected line '${line.slice(0, 80)}'`);
    const [, suite, component, architecture, trusted] = m as unknown as [string, string, string, string, string];
    if (!WORD.test(suite) || !WORD.test(component)) return this.fail(`bad unit '${line.slice(0, 80)}'`);
    if (architecture !== this.expect.architecture) return this.fail(`a list of ${architecture.slice(0, 20)}, not ${this.expect.architecture}`);
    if (trusted !== 'yes') return this.fail(`apt could not verify the signature of ${suite}/${component}`);
    if (!this.expect.units.some((u) => u.suite === suite && u.component === component)) return this.fail(`a list that was not asked for: ${suite}/${component}`);
    if (this.units.length >= MAX_UNITS) return this.fail(`more than ${MAX_UNITS} lists`);
    const existing = this.units.find((d) => d.unit.suite === suite && d.unit.component === component);
    if (existing) {
      this.current = existing;
      return;
    }
    this.current = { unit: { suite, component, architecture: this.expect.architecture }, packages: new Map() };
    this.units.push(this.current);
  }
}

/** The kept form of a unit: "NAME[\tPROVIDED PROVIDED…]" lines, sorted, gzipped. */
export function encodeUnit(packages: UnitPackages): Buffer {
  const lines = [...packages.keys()].sort().map((n) => {
    const p = packages.get(n) ?? [];
    return p.length > 0 ? `${n}\t${p.join(' ')}` : n;
  });
  return gzipSync(Buffer.from(lines.join('\n')), { level: 6 });
}

/** The inverse of encodeUnit, checking the same rules: what is in the database was written by any image-creator. */
export function decodeUnit(data: Buffer): UnitPackages {
  const text = gunzipSync(data, { maxOutputLength: MAX_INDEX_OUTPUT_BYTES }).toString('utf8');
  const packages: UnitPackages = new Map();
  if (text === '') return packages;
  for (const line of text.split('\n')) {
    const tab = line.indexOf('\t');
    const name = tab < 0 ? line : line.slice(0, tab);
    const provides = tab < 0 ? [] : line.slice(tab + 1).split(' ');
    if (!NAME.test(name) || provides.some((p) => !NAME.test(p))) throw new IndexFormatError(`a stored package index holds '${line.slice(0, 80)}'`);
    if (packages.size >= MAX_PACKAGES_PER_UNIT) throw new IndexFormatError('a stored package index is too large');
    packages.set(name, provides);
  }
  return packages;
}
