// The SBOM of an image: SPDX 2.3 JSON written from its manifest (IMG's own data, so written here
// rather than by a library), with a Debian package URL per package. It is made the same way every
// time (its times and names come from the job), so its checksum in SHA256SUMS holds.
import type { Manifest, ManifestPackage } from './manifest.ts';

/** The SBOM's name in the job's image folder, and the file the SHA256SUMS names. */
export const SBOM_FILE = 'sbom.spdx.json';

export interface SbomImage {
  /** The image's file name as downloaded. */
  filename: string;
  sha256: string;
  /** Where the SBOM is served: its document namespace, unique to the job. */
  url: string;
}

/** `pkg:deb/debian/NAME@VERSION?arch=ARCH&distro=SUITE`, percent-encoded as the purl spec asks (an epoch's ':' and '+' included). */
export function debPurl(p: ManifestPackage, suite?: string): string {
  const q = [`arch=${encodeURIComponent(p.architecture)}`];
  if (suite) q.push(`distro=${encodeURIComponent(suite)}`);
  return `pkg:deb/debian/${encodeURIComponent(p.name)}@${encodeURIComponent(p.version)}?${q.join('&')}`;
}

/** SPDX ids allow letters, digits, '.' and '-' only. */
const spdxId = (s: string) => s.replace(/[^A-Za-z0-9.-]/g, '-');

export function buildSbom(m: Manifest, image: SbomImage): Record<string, unknown> {
  const NOASSERTION = 'NOASSERTION';
  const imageId = 'SPDXRef-Image';
  const packages = m.packages.map((p, i) => ({
    SPDXID: `SPDXRef-Package-${i + 1}-${spdxId(p.name)}-${spdxId(p.architecture)}`,
    name: p.name,
    versionInfo: p.version,
    supplier: NOASSERTION,
    downloadLocation: NOASSERTION,
    filesAnalyzed: false,
    licenseConcluded: NOASSERTION,
    licenseDeclared: NOASSERTION,
    copyrightText: NOASSERTION,
    sourceInfo: `built from Debian source package ${p.source} ${p.source_version}`,
    externalRefs: [{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: debPurl(p, m.suite) }],
  }));
  return {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: image.filename,
    documentNamespace: image.url,
    creationInfo: {
      // SPDX wants whole seconds: YYYY-MM-DDThh:mm:ssZ.
      created: new Date(m.created).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      creators: ['Tool: IMG image build service', 'Organization: IMG'],
    },
    packages: [
      {
        SPDXID: imageId,
        name: image.filename,
        downloadLocation: NOASSERTION,
        filesAnalyzed: false,
        checksums: [{ algorithm: 'SHA256', checksumValue: image.sha256 }],
        primaryPackagePurpose: 'OPERATING-SYSTEM',
        licenseConcluded: NOASSERTION,
        licenseDeclared: NOASSERTION,
        copyrightText: NOASSERTION,
        comment: `Debian ${m.suite ?? ''} ${m.arch ?? ''} image built by IMG job ${m.job}`.replace(/ +/g, ' '),
      },
      ...packages,
    ],
    relationships: [
      { spdxElementId: 'SPDXRef-DOCUMENT', relationshipType: 'DESCRIBES', relatedSpdxElement: imageId },
      ...packages.map((p) => ({ spdxElementId: imageId, relationshipType: 'CONTAINS', relatedSpdxElement: p.SPDXID })),
    ],
  };
}

/** The SBOM's bytes as served: the same for the same manifest and image. */
export const sbomText = (m: Manifest, image: SbomImage): string => `${JSON.stringify(buildSbom(m, image), null, 1)}\n`;
