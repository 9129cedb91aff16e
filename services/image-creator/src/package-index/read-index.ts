// Reads the package lists of some suites for one architecture: package-index.sh in a throwaway
// container from the builder image (the same apt sources and mirrors as builds, apt checking the
// signatures), its standard output read as hostile data by IndexStreamReader. The container has no
// capability at all and no host directory: it only downloads lists into its own work area.
import type { Logger } from '@img/shared/logging';
import { IndexStreamReader, sourcesOf, type IndexUnit, type UnitData } from '@img/shared/packages';
import type { DockerRunner } from '../docker-runner.ts';

export interface IndexReaderDeps {
  runner: Pick<DockerRunner, 'run'>;
  builderImage: string;
  log: Logger;
  mirrors: { default?: string | undefined; security?: string | undefined; checkValidUntil: boolean };
  timeoutMs: number;
}

export interface IndexReading {
  units: UnitData[];
  /** When apt read the lists: the check's messages say how old its knowledge is. */
  readAt: Date;
}

const WORK_AREA_MB = 1024;

export async function readPackageIndex(deps: IndexReaderDeps, units: readonly IndexUnit[]): Promise<IndexReading> {
  const arch = units[0]?.architecture;
  if (!arch || units.some((u) => u.architecture !== arch)) throw new Error('one architecture per reading');
  const reader = new IndexStreamReader({ architecture: arch, units });
  let stderr = '';
  const readAt = new Date();
  const started = Date.now();
  const result = await deps.runner.run({
    jobId: `package-index-${arch}`,
    image: deps.builderImage,
    cmd: ['/opt/img/package-index.sh'],
    env: {
      IMG_ARCH: arch,
      IMG_INDEX_SOURCES: sourcesOf(units),
      IMG_DEBIAN_MIRROR: deps.mirrors.default ?? '',
      IMG_DEBIAN_SECURITY_MIRROR: deps.mirrors.security ?? '',
      IMG_APT_CHECK_VALID_UNTIL: String(deps.mirrors.checkValidUntil),
    },
    mounts: [],
    memoryBytes: (512 + WORK_AREA_MB) * 1048576,
    nanoCpus: 1e9,
    pidsLimit: 256,
    timeoutMs: deps.timeoutMs,
    capabilities: [],
    network: 'bridge',
    workAreaMb: WORK_AREA_MB,
    workAreaInodes: 100_000,
    onStderr: (chunk) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-8192);
    },
  }, (chunk) => reader.push(chunk));
  if (result.timedOut) throw new Error(`reading the package lists took longer than ${Math.round(deps.timeoutMs / 1000)} s`);
  if (result.exitCode !== 0) {
    const why = stderr.trim().split('\n').filter((l) => /^(E|W):|[Ee]rr/.test(l)).slice(-3).join(' ') || stderr.trim().split('\n').slice(-2).join(' ');
    throw new Error(`apt could not read the package lists (exit ${result.exitCode}): ${why.slice(0, 600)}`);
  }
  const read = reader.end();
  deps.log.info({ arch, units: read.map((u) => `${u.unit.suite}/${u.unit.component}`), packages: read.reduce((n, u) => n + u.packages.size, 0), seconds: (Date.now() - started) / 1000 }, 'package lists read');
  return { units: read, readAt };
}
