// A merged platform → BuildPlan, resolving its repository and post-script names against the template.
// Problems name the template line or overlay item that brought the offending name in.
import type { BuildPlan, PlanRepo, PlanScript } from './build-plan.ts';
import type { TemplateIssue } from './errors.ts';
import { issueAt } from './platform.ts';
import type { Platform } from './platform.ts';
import type { Template } from './template.ts';
import { DEFAULT_SUITE, findSuite, releaseOf, unknownSuiteMessage } from './suites.ts';
import { DEFAULT_ARCH } from './architectures.ts';

export interface PlanResult {
  plan?: BuildPlan;
  errors: TemplateIssue[];
  warnings: TemplateIssue[];
}

/** A password starting with `$` is a crypt(3) hash (`$6$…`, `$y$…`); anything else is plain text. */
function isCrypted(password: string): boolean {
  return password.startsWith('$');
}

export function platformToPlan(template: Template, platform: Platform): PlanResult {
  const v = platform.values;
  const origin = (key: keyof typeof v, index = 0) => platform.origins[key]?.[index];
  const errors: TemplateIssue[] = [];
  const warnings: TemplateIssue[] = [];

  if (v.Suite !== undefined && !findSuite(v.Suite)) errors.push(issueAt(origin('Suite'), `Suite ${v.Suite}: ${unknownSuiteMessage(v.Suite)}`));
  const repos: PlanRepo[] = [];
  const repoNames = v.Repos ?? [];
  repoNames.forEach((name, index) => {
    const def = template.repositories.get(name);
    if (!def) {
      const known = [...template.repositories.keys()].join(', ') || 'none';
      errors.push(issueAt(origin('Repos', index), `repository '${name}' is not defined in Repositories (defined: ${known})`));
      return;
    }
    if (repos.some((r) => r.name === name)) {
      warnings.push(issueAt(origin('Repos', index), `repository '${name}' is listed twice; the repeat is ignored`));
      return;
    }
    // Without a Url a repository is the Debian mirror, whose suite is the platform's release.
    const repo: PlanRepo = { name, suite: def.Url === undefined ? v.Suite ?? def.Suite : def.Suite, components: [...def.Components] };
    // Said here, of the repository, rather than as a generated kickstart line its author never wrote.
    if (def.Url === undefined && v.Suite === undefined && releaseOf(repo.suite) === undefined) {
      errors.push({ source: 'template', line: def.line, message: `repository '${name}' Suite ${repo.suite}: ${unknownSuiteMessage(repo.suite)}` });
      return;
    }
    if (def.Url !== undefined) repo.baseurl = def.Url;
    if (def.Key !== undefined) repo.key = def.Key;
    repos.push(repo);
  });
  if (repoNames.length === 0) {
    errors.push({ source: 'template', message: `platform '${platform.name}' lists no Repos; list the Debian repository first` });
  }
  const first = repos[0];
  if (first && v.Suite !== undefined && first.suite !== v.Suite) {
    errors.push(issueAt(origin('Repos', 0), `the first repository '${first.name}' is for suite ${first.suite}, `
      + `but the platform's Suite is ${v.Suite}; list the Debian repository first`));
  }

  const post: PlanScript[] = [];
  (v.PostScripts ?? []).forEach((name, index) => {
    const def = template.postScripts.get(name);
    if (!def) {
      const known = [...template.postScripts.keys()].join(', ') || 'none';
      errors.push(issueAt(origin('PostScripts', index), `post-script '${name}' is not defined in PostScripts (defined: ${known})`));
      return;
    }
    const script: PlanScript = { interpreter: def.interpreter, nochroot: def.nochroot, body: def.body, line: 0 };
    if (def.erroronfail) script.erroronfail = true;
    post.push(script);
  });

  const groups = new Set<string>();
  (v.Groups ?? []).forEach((g, index) => {
    if (groups.has(g)) return;
    groups.add(g);
    if (!Object.hasOwn(template.groups, g)) {
      warnings.push(issueAt(origin('Groups', index), `group '${g}' is not in this template's Groups; the build will reject it unless the builder's table has it`));
    }
  });
  const entries = [...(v.Kernel !== undefined ? [v.Kernel] : []), ...(v.ExtraPackages ?? [])];
  const exclude = new Set(entries.filter((p) => p.startsWith('-')).map((p) => p.slice(1)));
  // An exclusion wins over an addition, wherever each came from: `-name` in an overlay removes a template package.
  const include = new Set(entries.filter((p) => !p.startsWith('-') && !exclude.has(p)));

  if (errors.length > 0) return { errors, warnings };
  const plan: BuildPlan = {
    suite: releaseOf(first?.suite ?? '') ?? v.Suite ?? DEFAULT_SUITE,
    architecture: v.Architecture ?? DEFAULT_ARCH,
    users: [],
    partitions: v.PartSize !== undefined ? [{ mountpoint: '/', sizeMiB: v.PartSize, fstype: 'ext4' }] : [],
    bootloader: {},
    repos,
    packages: { include: [...include], exclude: [...exclude], groups: [...groups] },
    post,
  };
  if (v.Language !== undefined) plan.lang = v.Language;
  if (v.Keyboard !== undefined) plan.keyboard = v.Keyboard;
  if (v.Timezone !== undefined) plan.timezone = { zone: v.Timezone, utc: true };
  if (v.RootPassword !== undefined) plan.rootpw = { password: v.RootPassword, iscrypted: isCrypted(v.RootPassword), lock: false };
  if (v.User) {
    const u = v.User;
    plan.users.push({
      name: u.Name, iscrypted: u.Password !== undefined && isCrypted(u.Password), groups: [...(u.Groups ?? [])],
      sshkeys: u.SshKey !== undefined ? [u.SshKey] : [],
      ...(u.Password !== undefined ? { password: u.Password } : {}),
    });
  }
  if (v.Hostname !== undefined) plan.hostname = v.Hostname;
  if (v.BootloaderTimeout !== undefined) plan.bootloader.timeout = v.BootloaderTimeout;
  if (v.BootloaderAppend !== undefined) plan.bootloader.append = v.BootloaderAppend;
  return { plan, errors, warnings };
}
