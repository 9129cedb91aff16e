// The one kickstart writer: BuildPlan → text. Templates reach a kickstart only through here, so that
// parse(write(plan)) written again is the same text: the order of lines is fixed and values are quoted
// exactly when the tokenizer needs it.
import type { BuildPlan, PlanScript } from './build-plan.ts';
import { doubleQuote, quoteWord } from './ks-tokenize.ts';

export function kickstartFromPlan(plan: BuildPlan): string {
  const out: string[] = [];
  if (plan.lang !== undefined) out.push(`lang ${quoteWord(plan.lang)}`);
  if (plan.keyboard !== undefined || plan.xkb) {
    const parts = ['keyboard'];
    if (plan.keyboard !== undefined) parts.push(quoteWord(plan.keyboard));
    const xkb = plan.xkb;
    if (xkb && xkb.layouts.length > 0) parts.push(`--xlayouts=${doubleQuote(xkb.layouts.map((l, i) => (xkb.variants[i] ? `${l} (${xkb.variants[i]})` : l)).join(','))}`);
    if (xkb && xkb.options.length > 0) parts.push(`--switch=${quoteWord(xkb.options.join(','))}`);
    out.push(parts.join(' '));
  }
  if (plan.timezone) out.push(`timezone ${plan.timezone.utc ? '--utc ' : ''}${quoteWord(plan.timezone.zone)}`);
  if (plan.ntp && 'disabled' in plan.ntp) out.push('timesource --ntp-disable');
  else if (plan.ntp) out.push(...plan.ntp.servers.map((s) => `timesource --ntp-server=${quoteWord(s)}`));
  if (plan.rootpw) {
    const { password, iscrypted, lock } = plan.rootpw;
    const flags = [iscrypted ? '--iscrypted' : password !== '' ? '--plaintext' : '', lock ? '--lock' : '']
      .filter((f) => f !== '');
    out.push(['rootpw', ...flags, ...(password !== '' ? [quoteWord(password)] : [])].join(' '));
  }
  for (const u of plan.users) {
    const parts = ['user', `--name=${quoteWord(u.name)}`];
    if (u.password !== undefined) parts.push(`--password=${quoteWord(u.password)}`, u.iscrypted ? '--iscrypted' : '--plaintext');
    if (u.groups.length > 0) parts.push(`--groups=${quoteWord(u.groups.join(','))}`);
    if (u.homedir !== undefined) parts.push(`--homedir=${quoteWord(u.homedir)}`);
    if (u.shell !== undefined) parts.push(`--shell=${quoteWord(u.shell)}`);
    if (u.uid !== undefined) parts.push(`--uid=${u.uid}`);
    if (u.gecos !== undefined) parts.push(`--gecos=${doubleQuote(u.gecos)}`);
    out.push(parts.join(' '));
  }
  for (const key of plan.rootSshkeys ?? []) out.push(`sshkey --username=root ${doubleQuote(key)}`);
  for (const u of plan.users) {
    for (const key of u.sshkeys) out.push(`sshkey --username=${quoteWord(u.name)} ${doubleQuote(key)}`);
  }
  if (plan.hostname !== undefined) out.push(`network --hostname=${quoteWord(plan.hostname)}`);
  for (const p of plan.partitions) {
    out.push([`part ${quoteWord(p.mountpoint)}`, ...(p.sizeMiB !== undefined ? [`--size=${p.sizeMiB}`] : []), `--fstype=${quoteWord(p.fstype)}`,
      ...(p.label !== undefined ? [`--label=${quoteWord(p.label)}`] : [])].join(' '));
  }
  const bl = plan.bootloader;
  if (bl.timeout !== undefined || bl.append !== undefined) {
    out.push(['bootloader',
      ...(bl.timeout !== undefined ? [`--timeout=${bl.timeout}`] : []),
      ...(bl.append !== undefined ? [`--append=${doubleQuote(bl.append)}`] : [])].join(' '));
  }
  for (const r of plan.repos) {
    const parts = ['repo', `--name=${quoteWord(r.name)}`];
    if (r.baseurl !== undefined) parts.push(`--baseurl=${quoteWord(r.baseurl)}`);
    parts.push(`--suite=${quoteWord(r.suite)}`, `--components=${quoteWord(r.components.join(','))}`);
    if (r.key !== undefined) parts.push(`--key=${quoteWord(r.key)}`);
    out.push(parts.join(' '));
  }
  const services = plan.services;
  if (services && (services.enabled.length > 0 || services.disabled.length > 0)) {
    out.push(['services',
      ...(services.enabled.length > 0 ? [`--enabled=${quoteWord(services.enabled.join(','))}`] : []),
      ...(services.disabled.length > 0 ? [`--disabled=${quoteWord(services.disabled.join(','))}`] : [])].join(' '));
  }
  // Groups first, then packages (the kernel leads them), then exclusions: a reader sees what selects
  // the bulk of the system before the additions and removals.
  if (out.length > 0) out.push('');
  out.push(['%packages', ...(plan.packages.excludedocs ? ['--excludedocs'] : []), ...(plan.packages.ignoremissing ? ['--ignoremissing'] : [])].join(' '),
    ...plan.packages.groups.map((g) => `@${g}`),
    ...plan.packages.include,
    ...plan.packages.exclude.map((p) => `-${p}`),
    '%end');
  for (const script of plan.post) out.push('', postHeader(script), ...(script.body === '' ? [] : [script.body]), '%end');
  return `${out.join('\n')}\n`;
}

function postHeader(s: PlanScript): string {
  const parts = ['%post'];
  if (s.interpreter !== '/bin/sh') parts.push(`--interpreter=${quoteWord(s.interpreter)}`);
  if (s.nochroot) parts.push('--nochroot');
  if (s.erroronfail) parts.push('--erroronfail');
  if (s.log !== undefined) parts.push(`--log=${quoteWord(s.log)}`);
  return parts.join(' ');
}
