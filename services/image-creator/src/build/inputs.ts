// What the sandbox script reads under /in: data only, never generated shell code. The directory is
// the host's and is mounted read-only; the build cannot write into it.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BuildPlan } from '@img/shared/kickstart';
import { writeUserInputs } from '../user-inputs.ts';
import { aptSources } from '@img/shared/kickstart';

export async function writeInputs(inDir: string, plan: BuildPlan): Promise<void> {
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
  }
}
