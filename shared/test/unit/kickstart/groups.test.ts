import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKickstart, loadDefaultTemplate, parseKickstart, resolveGroups } from '@img/shared/kickstart';
import type { BuildPlan, Template } from '@img/shared/kickstart';

const TABLE = { 'Standard System': ['less', 'vim-tiny'], 'SSH Server': ['openssh-server', 'less'], Empty: [] };

test('known groups resolve to their packages in order, each package once', () => {
  assert.deepEqual(resolveGroups(['SSH Server', 'Standard System', 'Empty'], TABLE),
    { packages: ['openssh-server', 'less', 'vim-tiny'], errors: [] });
  assert.deepEqual(resolveGroups([], TABLE), { packages: [], errors: [] });
});

test('an unknown group is an error naming it, with a hint for a case slip', () => {
  const r = resolveGroups(['ssh server', 'MeeGo Netbook Desktop', 'Standard System'], TABLE);
  assert.deepEqual(r.packages, ['less', 'vim-tiny']);
  assert.deepEqual(r.errors.map((e) => e.group), ['ssh server', 'MeeGo Netbook Desktop']);
  assert.match(r.errors[0]?.message ?? '', /unknown group 'ssh server' \(did you mean 'SSH Server'\?\)/);
  assert.match(r.errors[1]?.message ?? '', /known groups: Standard System, SSH Server, Empty/);
});

test('object prototype names are not groups', () => {
  assert.equal(resolveGroups(['constructor', 'toString'], TABLE).errors.length, 2);
});

test('every group the shipped platforms use resolves with the shipped table', () => {
  const t: Template | undefined = loadDefaultTemplate().template;
  if (!t) return assert.fail('the shipped template does not load');
  for (const name of t.platforms.keys()) {
    const ks: string | undefined = generateKickstart(t, name).kickstart;
    const plan: BuildPlan | undefined = ks === undefined ? undefined : parseKickstart(ks).plan;
    if (!plan) return assert.fail(name);
    assert.deepEqual(resolveGroups(plan.packages.groups, t.groups).errors, [], name);
  }
});
