// The sandbox's inputs for the kickstart's `user` and `sshkey` lines, read by
// deploy/builder/create-users.sh. Called by writeInputs, the writer of the build's other inputs,
// with the same /in directory.
//
// Data only, one value per file, so the script never parses a format nor runs anything it was given:
//   /in/users/NN/name              the user name (NN: 01, 02, … in the kickstart's order)
//   /in/users/NN/groups            supplementary groups, one per line (absent: none)
//   /in/users/NN/password          'NAME:PASSWORD' for chpasswd, mode 0600 (absent: no password, the account is locked)
//   /in/users/NN/password.crypted  present when that password is already a crypt(3) hash
//   /in/users/NN/homedir, shell, uid, gecos   the options of the same name, when given
//   /in/authorized_keys/NAME       the keys of `sshkey --username=NAME`, one per line (root's too)
// Passwords go to files, not the environment, so they never show in `docker inspect`; a plain-text
// one is hashed inside the sandbox by the image's own chpasswd.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BuildPlan } from '@img/shared/kickstart';

export async function writeUserInputs(inDir: string, plan: Pick<BuildPlan, 'users' | 'rootSshkeys'>): Promise<void> {
  const keys = new Map<string, string[]>();
  if (plan.rootSshkeys && plan.rootSshkeys.length > 0) keys.set('root', [...plan.rootSshkeys]);
  let n = 0;
  for (const u of plan.users) {
    const dir = join(inDir, 'users', String(++n).padStart(2, '0'));
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'name'), `${u.name}\n`);
    if (u.groups.length > 0) await writeFile(join(dir, 'groups'), `${u.groups.join('\n')}\n`);
    if (u.password !== undefined) {
      await writeFile(join(dir, 'password'), `${u.name}:${u.password}\n`, { mode: 0o600 });
      if (u.iscrypted) await writeFile(join(dir, 'password.crypted'), '');
    }
    if (u.homedir !== undefined) await writeFile(join(dir, 'homedir'), `${u.homedir}\n`);
    if (u.shell !== undefined) await writeFile(join(dir, 'shell'), `${u.shell}\n`);
    if (u.uid !== undefined) await writeFile(join(dir, 'uid'), `${u.uid}\n`);
    if (u.gecos !== undefined) await writeFile(join(dir, 'gecos'), `${u.gecos}\n`);
    if (u.sshkeys.length > 0) keys.set(u.name, [...(keys.get(u.name) ?? []), ...u.sshkeys]);
  }
  if (keys.size === 0) return;
  await mkdir(join(inDir, 'authorized_keys'), { recursive: true });
  for (const [name, lines] of keys) await writeFile(join(inDir, 'authorized_keys', name), `${lines.join('\n')}\n`);
}
