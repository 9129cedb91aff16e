// Dispatches `img <command> …` to cli/src/commands/<command>.ts, each exporting `run(args)`.
const commands: Record<string, string> = {
  kickstart: 'print a kickstart (or the merged platform) from a YAML template and an overlay',
  'ks-check': 'validate a kickstart file; errors as FILE:LINE: message (--server URL: also its packages, against the server\'s package index)',
  submit: 'submit a build: --ks FILE | --config FILE --platform NAME [--overlay TEXT], --type TYPE --email ADDR [--wait]',
  status: 'show a job: img status ID [--token TOKEN]',
  log: 'print a job\'s log: img log ID [--follow] [--token TOKEN]',
  download: 'download a job\'s image: img download ID [-o FILE] [--token TOKEN]',
  cancel: 'cancel a job: img cancel ID [--token TOKEN]',
  verify: 'boot a disk or ISO image in QEMU and wait for its marker or a login prompt: img verify FILE',
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
  let mod: CommandModule;
  try {
    mod = (await import(`./commands/${name}.ts`)) as CommandModule;
  } catch (err) {
    if ((err as { code?: string }).code !== 'ERR_MODULE_NOT_FOUND') throw err;
    process.stderr.write(`img: '${name}' is not available in this version\n`);
    return 2;
  }
  return mod.run(rest);
}
