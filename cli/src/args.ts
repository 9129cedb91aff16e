// Every command reads its arguments the same way: --help prints the usage, a bad option or a wrong
// number of arguments prints the usage to stderr with exit code 2.
import { parseArgs, type ParseArgsConfig } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;
export type Parsed<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: O; strict: true; allowPositionals: true }>>;

/** Returns the parsed arguments, or the exit code when the command should stop here. */
export function commandArgs<O extends Options>(
  name: string, usage: string, args: string[], options: O, count: { min: number; max: number } = { min: 0, max: 0 },
): Parsed<O> | number {
  let parsed: Parsed<O>;
  try {
    parsed = parseArgs({ args: joinValues(args, options), options, strict: true, allowPositionals: true });
  } catch (e) {
    process.stderr.write(`img ${name}: ${(e as Error).message}\n${usage}`);
    return 2;
  }
  if ((parsed.values as { help?: boolean }).help) {
    process.stdout.write(usage);
    return 0;
  }
  if (parsed.positionals.length < count.min || parsed.positionals.length > count.max) {
    process.stderr.write(usage);
    return 2;
  }
  return parsed;
}

/**
 * `--opt VALUE` becomes `--opt=VALUE` for every option that takes a value: a value may begin with a
 * dash (a job token is base64url, so one in 32 does), which the parser would otherwise refuse as
 * ambiguous.
 */
function joinValues(args: string[], options: Options): string[] {
  const takesValue = new Set(Object.entries(options).filter(([, o]) => o.type === 'string').map(([name]) => `--${name}`));
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') {
      out.push(...args.slice(i));
      break;
    }
    if (a.startsWith('--') && takesValue.has(a) && i + 1 < args.length) {
      out.push(`${a}=${args[i + 1]}`);
      i++;
    } else out.push(a);
  }
  return out;
}
