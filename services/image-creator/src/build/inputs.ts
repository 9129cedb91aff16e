// What the sandbox script reads under /in: data only, never generated shell code. The directory is
// the host's and is mounted read-only; the build cannot write into it.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BuildPlan } from '@img/shared/kickstart';
import { writeUserInputs } from '../user-inputs.ts';
import { aptSources } from '@img/shared/kickstart';

export async function writeInputs(inDir: string, plan: BuildPlan, servicesLine?: number): Promise<void> {
  await mkdir(join(inDir, 'post'), { recursive: true });
  const apt = aptSources(plan);
  await writeFile(join(inDir, 'sources.list'), apt.install);
  await mkdir(join(inDir, 'apt'), { recursive: true });
  await writeFile(join(inDir, 'apt', apt.image.file), apt.image.text);
  if (plan.rootpw && !plan.rootpw.lock) {
    await writeFile(join(inDir, 'rootpw'), `root:${plan.rootpw.password}\n`, { mode: 0o600 });
    if (plan.rootpw.iscrypted) await writeFile(join(inDir, 'rootpw.crypted'), '');
  }
  await writeUserInputs(inDir, plan);
  let n = 0;
  for (const s of plan.post) {
    const name = String(++n).padStart(2, '0');
    await writeFile(join(inDir, 'post', name), s.body.endsWith('\n') ? s.body : `${s.body}\n`);
    await writeFile(join(inDir, 'post', `${name}.interp`), s.interpreter);
    await writeFile(join(inDir, 'post', `${name}.line`), String(s.line));
    if (s.nochroot) await writeFile(join(inDir, 'post', `${name}.nochroot`), '');
    if (s.log !== undefined) await writeFile(join(inDir, 'post', `${name}.log`), s.log);
  }
  // services --enabled/--disabled: one unit per line, and the kickstart line for the messages.
  if (plan.services && (plan.services.enabled.length > 0 || plan.services.disabled.length > 0)) {
    await mkdir(join(inDir, 'services'), { recursive: true });
    await writeFile(join(inDir, 'services', 'enabled'), plan.services.enabled.map((u) => `${u}\n`).join(''));
    await writeFile(join(inDir, 'services', 'disabled'), plan.services.disabled.map((u) => `${u}\n`).join(''));
    await writeFile(join(inDir, 'services', 'line'), String(servicesLine ?? 0));
  }
}

/** The sandbox script's settings from the kickstart (deploy/builder/kickstart-settings.sh): data only. */
export function kickstartEnv(plan: BuildPlan, imageName: string): Record<string, string> {
  const env: Record<string, string> = { IMG_IMAGE_NAME: imageName };
  if (plan.packages.excludedocs) env.IMG_EXCLUDEDOCS = '1';
  if (plan.packages.ignoremissing) env.IMG_IGNOREMISSING = '1';
  if (plan.xkb) {
    env.IMG_XKB_LAYOUT = plan.xkb.layouts.join(',');
    env.IMG_XKB_VARIANT = plan.xkb.variants.join(',');
    env.IMG_XKB_OPTIONS = plan.xkb.options.join(',');
  }
  if (plan.ntp) env.IMG_NTP = 'disabled' in plan.ntp ? 'off' : plan.ntp.servers.join(' ');
  return env;
}
