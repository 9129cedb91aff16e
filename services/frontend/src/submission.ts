// Checks a submission before anything is queued. Every problem names its field and, for a
// kickstart or template, the line; the form shows them next to the person's input.
import { EMAIL_CONTROL_MESSAGE, emailControlCharacter, emailSchema, imageTypes, legacyImageTypes, type ImageType, type PackageCheck } from '@img/shared/contracts';
import {
  DEFAULT_ARCH, findArchitecture, findSuite, formatTemplateIssues, generateKickstart, listPlatforms, loadTemplate, parseKickstart, platformArchitecture, releaseOf, unknownArchitectureMessage,
  unknownSuiteMessage, type KickstartLimits,
} from '@img/shared/kickstart';
import type { NewJob } from '@img/shared/jobs';
import { checkCallbackUrl, type CallbackRules } from '@img/shared/webhooks';
import type { KickstartChecker } from './kickstart-checker.ts';

export interface FieldError {
  field: string;
  message: string;
  line?: number;
}

/** A line of the kickstart IMG accepts but does not act on, and why; shown beside the errors. */
export type FieldWarning = FieldError;

export interface SubmissionInput {
  email?: string;
  imagetype?: string;
  kickstart?: { text: string; filename?: string };
  template?: { text: string; filename?: string };
  platform?: string;
  overlay?: string;
  /** The Debian suite asked for; it applies when the kickstart's repo lines name none, and to a platform. */
  suite?: string;
  /** The architecture asked for (amd64, arm64); a platform's Architecture must agree with it. Empty: amd64, or the platform's. */
  arch?: string;
  /** Where to post the outcome (a signed webhook); checked by checkCallback. */
  callback_url?: string;
  /** A fresh build: true, or the form's 'true'/'on'/'1'; see rebuildAsked. */
  rebuild?: boolean | string;
  /** The client address it came from (see jobs/fair-share.ts), kept on the job for the per-client cap. */
  client?: string;
}

export type Checked =
  | { ok: true; job: NewJob; kind: 'kickstart' | 'template'; warnings: FieldWarning[] }
  | { ok: false; errors: FieldError[]; warnings: FieldWarning[] };

/** The rebuild field: a boolean, or the form's 'true', 'on', '1' (and 'false', '0', '' for no); anything else: undefined, an error. */
export function rebuildAsked(v: boolean | string | undefined): boolean | undefined {
  if (typeof v === 'boolean') return v;
  const t = (v ?? '').trim().toLowerCase();
  if (['true', 'on', '1', 'yes'].includes(t)) return true;
  if (['false', 'off', '0', 'no', ''].includes(t)) return false;
  return undefined;
}

/** At most this many of a kickstart's problems of each kind are listed on the form and in the API's answer. */
export const MAX_FIELD_PROBLEMS = 100;

/** Text, not binary: no NUL byte and valid UTF-8 (the content decides, not the file name). */
function textProblem(buf: Buffer | string): string | undefined {
  const b = typeof buf === 'string' ? Buffer.from(buf) : buf;
  if (b.includes(0)) return 'is not a text file (it contains NUL bytes)';
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(b);
  } catch {
    return 'is not UTF-8 text';
  }
  return undefined;
}

/**
 * `defaults.limits`: the operator's caps (IMG_MAX_DISK_MB), the same the builder's parser is given.
 * `defaults.suite`: the operator's IMG_DEFAULT_SUITE, for a kickstart that names no suite and no field asking for one.
 */
export async function checkSubmission(input: SubmissionInput, defaults: { templateText: string; limits?: KickstartLimits; suite: string; kickstarts?: KickstartChecker }): Promise<Checked> {
  const errors: FieldError[] = [];
  const warnings: FieldWarning[] = [];
  const asked = (input.suite ?? '').trim();
  if (asked && !findSuite(asked)) errors.push({ field: 'suite', message: unknownSuiteMessage(asked) });
  const suite = asked && findSuite(asked) ? asked : undefined;
  const askedArch = (input.arch ?? '').trim();
  if (askedArch && !findArchitecture(askedArch)) errors.push({ field: 'arch', message: unknownArchitectureMessage(askedArch) });
  const arch = askedArch && findArchitecture(askedArch) ? askedArch : undefined;
  const email = emailSchema.safeParse(input.email ?? '');
  if (!input.email?.trim()) errors.push({ field: 'email', message: 'an email address is required' });
  else if (emailControlCharacter(input.email)) {
    // Not echoed: the character itself would be invisible, or worse, in the page and the JSON.
    errors.push({ field: 'email', message: `not a valid email address: ${EMAIL_CONTROL_MESSAGE}, and this one contains ${emailControlCharacter(input.email)}` });
  } else if (!email.success) errors.push({ field: 'email', message: `'${input.email.slice(0, 80)}' is not a valid email address` });

  const type = (input.imagetype ?? '').trim();
  if (!type) errors.push({ field: 'imagetype', message: 'an image type is required' });
  else if ((legacyImageTypes as readonly string[]).includes(type)) {
    errors.push({ field: 'imagetype', message: `'${type}' was a MeeGo hardware format and is not supported; choose one of ${imageTypes.join(', ')}` });
  } else if (!(imageTypes as readonly string[]).includes(type)) {
    errors.push({ field: 'imagetype', message: `unknown image type '${type.slice(0, 40)}'; choose one of ${imageTypes.join(', ')}` });
  }

  const ks = input.kickstart?.text ?? '';
  const useTemplate = !ks.trim() && Boolean(input.platform?.trim() || input.template?.text.trim());
  let job: NewJob | undefined;
  let builtSuite: string | undefined;
  let packageCheck: PackageCheck | undefined;
  let builtArch: string | undefined;
  if (!useTemplate) {
    if (!ks.trim()) {
      errors.push({ field: 'ksfile', message: 'the kickstart is empty: upload or paste a kickstart, or choose a platform' });
    } else {
      const bad = textProblem(ks);
      if (bad) errors.push({ field: 'ksfile', message: `the kickstart ${bad}` });
      else {
        const file = input.kickstart?.filename ?? 'kickstart';
        const checked = defaults.kickstarts ? await defaults.kickstarts.check(ks, { file, suite: suite ?? defaults.suite, arch: arch ?? DEFAULT_ARCH }) : undefined;
        const parsed = checked?.parsed ?? parseKickstart(ks, {
          file, defaultSuite: suite ?? defaults.suite, arch: arch ?? DEFAULT_ARCH, ...(defaults.limits ? { limits: defaults.limits } : {}),
        });
        for (const e of (checked?.errors ?? parsed.errors).slice(0, MAX_FIELD_PROBLEMS + 1)) errors.push({ field: 'ksfile', line: e.line, message: `line ${e.line}: ${e.message}` });
        for (const w of (checked?.warnings ?? parsed.warnings).slice(0, MAX_FIELD_PROBLEMS + 1)) warnings.push({ field: 'ksfile', line: w.line, message: `line ${w.line}: ${w.message}` });
        if (checked) packageCheck = checked.record;
        // The kickstart's own repo lines decide; a field asking for another suite is a contradiction, not a choice.
        const named = parsed.plan?.repos.find((r) => releaseOf(r.suite) !== undefined);
        if (named && suite && parsed.plan?.suite !== suite) {
          errors.push({ field: 'suite', message: `the kickstart's repo line (repo --name=${named.name} --suite=${named.suite}) builds ${parsed.plan?.suite}, not ${suite}; leave suite empty or make them agree` });
        }
        builtSuite = parsed.plan?.suite;
      }
    }
    job = { email: email.data ?? '', type: type as ImageType, source: 'kickstart', kickstart: ks, filename: input.kickstart?.filename ?? 'kickstart.ks' };
    if (builtSuite) job.suite = builtSuite;
    if (packageCheck) {
      const { read_at: readAt, ...rest } = packageCheck;
      job.package_check = { ...rest, ...(readAt ? { read_at: new Date(readAt) } : {}) };
    }
    if (warnings.length > 0) job.warnings = warnings.map((w) => ({ ...(w.line ? { line: w.line } : {}), message: w.message.replace(/^line \d+: /, '').slice(0, 1000) }));
    job.arch = arch ?? DEFAULT_ARCH;
  } else {
    const text = input.template?.text.trim() ? input.template.text : defaults.templateText;
    const file = input.template?.text.trim() ? (input.template.filename ?? 'template.yaml') : 'configurations.yaml';
    const bad = textProblem(text);
    const platform = (input.platform ?? '').trim();
    if (bad) errors.push({ field: 'template', message: `the template ${bad}` });
    else if (!platform) errors.push({ field: 'platform', message: 'choose a platform of the template' });
    else {
      const loaded = loadTemplate(text, { file });
      // Concatenated, not pushed as arguments: a report may be long, and arguments live on the stack.
      const generated = loaded.template
        ? generateKickstart(loaded.template, platform, input.overlay ?? '', { ...(defaults.limits ? { limits: defaults.limits } : {}), ...(suite ? { suite } : {}) })
        : undefined;
      builtSuite = generated?.suite;
      builtArch = generated?.arch;
      // A platform is made for one architecture (its kernel, its boot loader settings): the field may only agree with it.
      if (arch && builtArch && arch !== builtArch && loaded.template) {
        const fitting = listPlatforms(loaded.template).filter((p) => platformArchitecture(loaded.template!, p) === arch);
        errors.push({
          field: 'arch', message: `platform ${platform} builds ${builtArch}, not ${arch}; `
            + (fitting.length > 0 ? `choose an ${arch} platform (${fitting.join(', ')}) or leave arch empty` : `this template has no ${arch} platform; leave arch empty`),
        });
      }
      const issues = loaded.errors.concat(generated?.errors ?? []);
      for (const e of issues.slice(0, 20)) {
        const field = e.source === 'overlay' ? 'overlay' : !e.line && /platform/i.test(e.message) ? 'platform' : 'template';
        errors.push({ field, ...(e.line ? { line: e.line } : {}), message: formatTemplateIssues(file, [e])[0] ?? e.message });
      }
    }
    job = { email: email.data ?? '', type: type as ImageType, source: 'template', config: text, platform, overlay: input.overlay ?? '', filename: file };
    if (builtSuite) job.suite = builtSuite;
    if (builtArch) job.arch = builtArch;
  }
  const rebuild = rebuildAsked(input.rebuild);
  if (rebuild === undefined) errors.push({ field: 'rebuild', message: `rebuild must be true or false, not ${JSON.stringify(String(input.rebuild).slice(0, 20))}` });
  if (errors.length > 0) return { ok: false, errors, warnings };
  if (rebuild) job.rebuild = true;
  if (input.client) job.client = input.client;
  if (input.callback_url?.trim()) job.callback_url = input.callback_url.trim();
  return { ok: true, job, kind: useTemplate ? 'template' : 'kickstart', warnings };
}

/** The callback URL's problems: its form, the operator's allow-list, and where its name resolves now. */
export async function checkCallback(input: SubmissionInput, rules: CallbackRules): Promise<FieldError[]> {
  const url = input.callback_url?.trim();
  if (!url) return [];
  const problem = await checkCallbackUrl(url, rules);
  return problem ? [{ field: 'callback_url', message: `the callback URL ${problem}` }] : [];
}
