// Option parsing for kickstart commands, as pykickstart's argparse parsers accept them: `--name=value`,
// `--name value` and `--flag`, other names of one option (`--ondrive` for `--ondisk`), and any
// unambiguous prefix of a name (`bootloader --disable` is `--disabled`, as Rocky's kickstarts write it).
// Each command declares its options, so anything else is a clear error.
import type { Token } from './ks-tokenize.ts';

export type OptionKind = 'flag' | 'value';
/** An option's kind, or the canonical name it is another name of. */
export type OptionSpecEntry = OptionKind | { alias: string };
export type OptionSpec = Readonly<Record<string, OptionSpecEntry>>;

export interface ParsedOptions {
  /** Canonical option name → value (true for a flag). */
  options: Map<string, string | true>;
  args: string[];
  errors: string[];
}

export interface ParseOptionsOpts {
  /** Options whose value may be empty (`bootloader --append=""`); an empty value of any other is an error. */
  emptyAllowed?: readonly string[];
}

export function parseOptions(command: string, tokens: readonly Token[], spec: OptionSpec, o: ParseOptionsOpts = {}): ParsedOptions {
  const options = new Map<string, string | true>();
  const args: string[] = [];
  const errors: string[] = [];
  const names = Object.keys(spec);
  const known = () => (names.length === 0
    ? `${command} takes no options`
    : `options of ${command}: ${names.filter((n) => typeof spec[n] === 'string').map((n) => `--${n}`).join(', ')}`);
  for (let i = 0; i < tokens.length; i++) {
    const tok = tokens[i] as Token;
    const word = tok.value;
    if (tok.quoted || word.length < 2 || word[0] !== '-') {
      args.push(word);
      continue;
    }
    if (word[1] !== '-') {
      errors.push(`malformed option '${word}': options start with --`);
      continue;
    }
    const eq = word.indexOf('=');
    const given = eq < 0 ? word.slice(2) : word.slice(2, eq);
    if (given === '') {
      errors.push(`malformed option '${word}'`);
      continue;
    }
    const resolved = resolve(spec, names, given);
    if (typeof resolved !== 'string') {
      errors.push(resolved.ambiguous
        ? `ambiguous option --${given} (it could be ${resolved.ambiguous.map((n) => `--${n}`).join(' or ')})`
        : `unknown option --${given} (${known()})`);
      continue;
    }
    const name = resolved;
    const kind = spec[name] as OptionKind;
    if (options.has(name)) {
      errors.push(`option --${name} is given twice`);
      continue;
    }
    if (kind === 'flag') {
      if (eq >= 0) errors.push(`option --${name} takes no value`);
      else options.set(name, true);
      continue;
    }
    let value: string | undefined;
    if (eq >= 0) {
      value = word.slice(eq + 1);
    } else {
      const next = tokens[i + 1];
      if (next && (next.quoted || !next.value.startsWith('--'))) {
        value = next.value;
        i++;
      }
    }
    if (value === undefined || (value === '' && !o.emptyAllowed?.includes(name))) errors.push(`option --${name} needs a value`);
    else options.set(name, value);
  }
  return { options, args, errors };
}

/** The canonical name of a given option name: exact, another name of it, or the one option it is a prefix of. */
function resolve(spec: OptionSpec, names: readonly string[], given: string): string | { ambiguous?: string[] } {
  const canonical = (n: string): string => {
    const e = spec[n];
    return typeof e === 'object' ? e.alias : n;
  };
  if (Object.hasOwn(spec, given)) return canonical(given);
  const matches = [...new Set(names.filter((n) => n.startsWith(given)).map(canonical))];
  if (matches.length === 1) return matches[0] as string;
  return matches.length > 1 ? { ambiguous: matches } : {};
}

/** A non-negative decimal integer, without signs, exponents or fractions; undefined otherwise. */
export function parseCount(text: string, max: number): number | undefined {
  if (!/^[0-9]{1,15}$/.test(text)) return undefined;
  const n = Number(text);
  return n <= max ? n : undefined;
}
