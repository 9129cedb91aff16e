// The builder's package list is read strictly (it is the build's output), and the SBOM made from it
// names each package with its Debian package URL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSbom, debPurl, parsePackagesTsv, sha256sums, type Manifest } from '../../../src/provenance/index.ts';

test('packages.tsv: source and source version default to the package, the list is sorted by name', () => {
  const got = parsePackagesTsv('zlib1g\t1:1.3.dfsg-3.1\tamd64\tzlib\t1:1.3.dfsg-3.1\nbash\t5.2.37-2+b5\tamd64\t\t\n');
  assert.deepEqual(got, [
    { name: 'bash', version: '5.2.37-2+b5', architecture: 'amd64', source: 'bash', source_version: '5.2.37-2+b5' },
    { name: 'zlib1g', version: '1:1.3.dfsg-3.1', architecture: 'amd64', source: 'zlib', source_version: '1:1.3.dfsg-3.1' },
  ]);
  assert.deepEqual(parsePackagesTsv(''), []);
});

test('packages.tsv: a line that is not a package is refused, naming the line', () => {
  assert.throws(() => parsePackagesTsv('bash\t5.2\tamd64\tbash\t5.2\nevil\t1.0\tamd64\n'), /line 2 has 3 fields, not 5/);
  assert.throws(() => parsePackagesTsv('bash\t5.2\tamd64\tbash\t5.2\n<script>\t1\tamd64\tx\t1\n'), /line 2 is not a package/);
  assert.throws(() => parsePackagesTsv('bash\t5.2 $(reboot)\tamd64\tbash\t5.2\n'), /line 1 is not a package/);
});

test('a Debian package URL percent-encodes the epoch and a plus, and names the architecture and the suite', () => {
  const p = { name: 'libstdc++6', version: '1:14.2.0-19', architecture: 'amd64', source: 'gcc-14', source_version: '14.2.0-19' };
  assert.equal(debPurl(p, 'trixie'), 'pkg:deb/debian/libstdc%2B%2B6@1%3A14.2.0-19?arch=amd64&distro=trixie');
  assert.equal(debPurl({ ...p, name: 'base-files', version: '13.8' }), 'pkg:deb/debian/base-files@13.8?arch=amd64');
});

test('the SBOM describes the image, which contains every package, each with its purl; made twice, it is the same', () => {
  const m: Manifest = {
    format: 'img-manifest/1', job: 'a'.repeat(32), suite: 'trixie', arch: 'amd64', created: '2026-12-02T10:00:00.123Z',
    packages: parsePackagesTsv('bash\t5.2.37-2+b5\tamd64\tbash\t5.2.37-2\nlibstdc++6\t14.2.0-19\tamd64\tgcc-14\t14.2.0-19\n'),
  };
  const image = { filename: 'img-aaaa-tar.tar.zst', sha256: 'b'.repeat(64), url: 'http://img.example/images/x/sbom.spdx.json' };
  const doc = buildSbom(m, image) as { packages: Array<{ SPDXID: string; externalRefs?: Array<{ referenceLocator: string }> }>; relationships: unknown[]; creationInfo: { created: string } };
  assert.equal(doc.creationInfo.created, '2026-12-02T10:00:00Z');
  assert.equal(doc.packages.length, 3);
  assert.deepEqual(doc.packages.slice(1).map((p) => p.externalRefs?.[0]?.referenceLocator), [
    'pkg:deb/debian/bash@5.2.37-2%2Bb5?arch=amd64&distro=trixie', 'pkg:deb/debian/libstdc%2B%2B6@14.2.0-19?arch=amd64&distro=trixie',
  ]);
  assert.ok(doc.packages.every((p) => /^SPDXRef-[A-Za-z0-9.-]+$/.test(p.SPDXID)), 'SPDX ids use only the allowed characters');
  assert.equal(doc.relationships.length, 3);
  assert.deepEqual(buildSbom(m, image), doc);
});

test('SHA256SUMS is in the format sha256sum -c reads', () => {
  assert.equal(sha256sums([{ name: 'a.img', sha256: 'c'.repeat(64) }, { name: 'manifest.json', sha256: 'd'.repeat(64) }]),
    `${'c'.repeat(64)}  a.img\n${'d'.repeat(64)}  manifest.json\n`);
});
