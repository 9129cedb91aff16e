// Option parsing for kickstart commands: `--name=value`, `--name value` and `--flag`, as optparse in
// pykickstart accepts them. Each command declares its options, so anything else is a clear error.
import type { Token } from './ks-tokenize.ts';

export type OptionKind = 'flag' | 'value';
export type OptionSpec = Readonly<Record<string, OptionKind>>;

export interface ParsedOptions {
  options: Map<string, string | true>;
  args: string[];
  errors: string[];
}

export function parseOptions(command: string, tokens: readonly Token[], spec: OptionSpec): ParsedOptions {
  const options = new Map<string, string | true>();
  const args: string[] = [];
  const errors: string[] = [];
  const known = () => {
    const names = Object.keys(spec);
    return names.length === 0 ? `${command} takes no options` : `options of ${command}: ${names.map((o) => `--${o}`).join(', ')}`;
  };
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
    const name = eq < 0 ? word.slice(2) : word.slice(2, eq);
    if (name === '') {
      errors.push(`malformed option '${word}'`);
      continue;
    }
    const kind = Object.hasOwn(spec, name) ? spec[name] : undefined;
    if (!kind) {
      errors.push(`unknown option --${name} (${known()})`);
      continue;
    }
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
    if (value === undefined || value === '') errors.push(`option --${name} needs a value`);
    else options.set(name, value);
  }
  return { options, args, errors };
}

/** A non-negative decimal integer, without signs, exponents or fractions; undefined otherwise. */
export function parseCount(text: string, max: number): number | undefined {
  if (!/^[0-9]{1,15}$/.test(text)) return undefined;
  const n = Number(text);
  return n <= max ? n : undefined;
}
