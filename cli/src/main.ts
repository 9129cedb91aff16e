// Dispatches `img <command> …` to cli/src/commands/<command>.ts, each exporting `run(args)`.
const commands: Record<string, string> = {
  kickstart: 'print a kickstart (or the merged platform) from a YAML template and an overlay',
  'ks-check': 'validate a kickstart file; errors as FILE:LINE: message',
};

export interface CommandModule {
  run(args: string[]): Promise<number>;
}

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  return ['usage: img <command> [options]', '', 'commands:',
    ...Object.entries(commands).map(([c, d]) => `  ${c.padEnd(width)}  ${d}`), ''].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name ? 0 : 2;
  }
  if (!Object.hasOwn(commands, name)) {
    process.stderr.write(`img: unknown command '${name}'\n${usage()}`);
    return 2;
  }
  const mod = (await import(`./commands/${name}.ts`)) as CommandModule;
  return mod.run(rest);
}
