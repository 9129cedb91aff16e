// The package index as package-index.sh writes it is read as hostile data: bounded lines and counts,
// names checked, only the lists asked for, only lists apt verified, and the kept form reads back the same.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { decodeUnit, encodeUnit, IndexFormatError, IndexStreamReader, type IndexUnit } from '@img/shared/packages';

const units: IndexUnit[] = [
  { suite: 'trixie', component: 'main', architecture: 'amd64' },
  { suite: 'trixie-security', component: 'main', architecture: 'amd64' },
];

function read(text: string | string[], expect = units): ReturnType<IndexStreamReader['end']> {
  const r = new IndexStreamReader({ architecture: 'amd64', units: expect });
  for (const chunk of Array.isArray(text) ? text : [text]) r.push(Buffer.from(chunk));
  return r.end();
}

const GOOD = '@@UNIT trixie main amd64 yes\nvim vim-editor\nhostname \nexim4-daemon-light mail-transport-agent default-mta\n@@UNIT trixie-security main amd64 yes\nvim\n@@END\n';

test('a good output reads into one map per list, provides with each name', () => {
  const got = read(GOOD);
  assert.deepEqual(got.map((u) => `${u.unit.suite}/${u.unit.component}`), ['trixie/main', 'trixie-security/main']);
  assert.deepEqual(got[0]?.packages.get('exim4-daemon-light'), ['mail-transport-agent', 'default-mta']);
  assert.deepEqual(got[0]?.packages.get('hostname'), []);
  assert.deepEqual(got[1]?.packages.get('vim'), []);
});

test('chunks may end anywhere, even inside a line or a marker', () => {
  const chunks: string[] = [];
  for (let i = 0; i < GOOD.length; i += 7) chunks.push(GOOD.slice(i, i + 7));
  assert.deepEqual(read(chunks).map((u) => [...u.packages.keys()]), read(GOOD).map((u) => [...u.packages.keys()]));
});

test('a line of 50 KB (librust-winapi-dev provides 1,600 names) is read', () => {
  const provides = Array.from({ length: 1600 }, (_, i) => `librust-winapi-${i}-dev`).join(' ');
  const got = read(`@@UNIT trixie main amd64 yes\nlibrust-winapi-dev ${provides}\n@@UNIT trixie-security main amd64 yes\n@@END\n`);
  assert.equal(got[0]?.packages.get('librust-winapi-dev')?.length, 1600);
});

const refused: Array<[string, string, RegExp]> = [
  ['a list apt did not verify', '@@UNIT trixie main amd64 no\nvim\n@@UNIT trixie-security main amd64 yes\n@@END\n', /could not verify the signature of trixie\/main/],
  ['a list not asked for', '@@UNIT sid main amd64 yes\nvim\n@@END\n', /a list that was not asked for: sid\/main/],
  ['another architecture', '@@UNIT trixie main arm64 yes\n@@END\n', /a list of arm64, not amd64/],
  ['a name that is no package name', '@@UNIT trixie main amd64 yes\n../../etc/passwd\n@@END\n', /is not a Debian package name/],
  ['a provided name that is no package name', '@@UNIT trixie main amd64 yes\nvim $(reboot)\n@@END\n', /\(provided by vim\) is not a Debian package name/],
  ['a package before any list', 'vim\n@@END\n', /a package before the first @@UNIT line/],
  ['an unknown marker', '@@UNIT trixie main amd64 yes\n@@EXEC rm -rf /\n@@END\n', /unexpected line '@@EXEC rm -rf \/'/],
  ['no end', '@@UNIT trixie main amd64 yes\nvim\n', /ended before @@END/],
  ['output after the end', '@@UNIT trixie main amd64 yes\n@@UNIT trixie-security main amd64 yes\n@@END\nvim\n', /output after @@END/],
  ['a list missing', '@@UNIT trixie main amd64 yes\nvim\n@@END\n', /apt read no list for trixie-security\/main \(amd64\)/],
  ['a line past a megabyte', `@@UNIT trixie main amd64 yes\nvim ${'a'.repeat(1_100_000)}\n`, /longer than 1048576 characters/],
];

for (const [what, text, says] of refused) {
  test(`refused: ${what}`, () => {
    assert.throws(() => read(text), (err: Error) => err instanceof IndexFormatError && says.test(err.message));
  });
}

test('the kept form reads back the same, and a damaged one is refused', () => {
  const packages = read(GOOD)[0]!.packages;
  const data = encodeUnit(packages);
  assert.deepEqual(decodeUnit(data), new Map([...packages].sort(([a], [b]) => (a < b ? -1 : 1))));
  assert.ok(data.length < 200);
  assert.throws(() => decodeUnit(gzipSync(Buffer.from('vim\n../x\n'))), IndexFormatError);
  assert.throws(() => decodeUnit(Buffer.from('not gzip')));
});
