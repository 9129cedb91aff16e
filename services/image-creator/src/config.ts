import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { commonEnv, env, metricsEnv, parseConfig } from '@img/shared/config';
import { tokenSecretSetting } from '@img/shared/jobs';
import { checkStorageConfig, storageEnv } from '@img/shared/storage';

const schema = z.object({
  ...metricsEnv(9102),
  ...commonEnv,
  ...storageEnv,
  /** The frontend's job-token key: a build message must carry the frontend's seal made with it. */
  IMG_TOKEN_SECRET: tokenSecretSetting,
  /** The builder image tag; main.ts asks deploy/builder/build-image.sh when it is empty. */
  IMG_BUILDER_IMAGE: env.optionalStr(),
  IMG_DOCKER_SOCKET: env.str('/var/run/docker.sock'),
  IMG_BUILD_CONCURRENCY: env.int(Math.max(1, Math.floor(availableParallelism() / 2)), 1),
  IMG_BUILD_TIMEOUT_S: env.int(3600, 10),
  IMG_BUILD_MEMORY_MB: env.int(3072, 256),
  /** CPUs per build; empty: the machine's cores shared among the concurrent builds. */
  IMG_BUILD_CPUS: z.coerce.number().positive().optional(),
  IMG_BUILD_PIDS: env.int(2048, 64),
  /**
   * The build's work area in MiB: a tmpfs, so a full one fails the build with "no space left", and its
   * pages count as memory (the container's hard limit is IMG_BUILD_MEMORY_MB + this, and its processes
   * are held to IMG_BUILD_MEMORY_MB apart). The build's output is written there too, and so is held to it.
   */
  IMG_BUILD_DISK_MB: env.int(8192, 256),
  /** Largest `part / --size` (MiB) a kickstart may ask for: the same cap as the frontend's and the kickstarter's. */
  IMG_MAX_DISK_MB: env.int(65536, 1),
  /** Files (inodes) the work area may hold: a tmpfs has no other bound on their number. */
  IMG_BUILD_INODES: env.int(1_000_000, 10_000),
  /** Where the build caches live (packages, installed root file systems); empty: <IMG_DATA_DIR>/cache. */
  IMG_BUILD_CACHE_DIR: env.optionalStr(),
  /** Keep downloaded .deb files for later builds. */
  IMG_PACKAGE_CACHE: env.bool(true),
  /** Reuse an installed root file system of the same packages and repositories for this many hours; 0: never. */
  IMG_ROOTFS_CACHE_HOURS: env.int(24, 0),
  /**
   * A build that started from a prepared root keeps its own root only when apt installed at least this
   * many packages on top of it; with fewer, the next request for them starts from the same root again,
   * in less time than reading and keeping a copy of a whole root costs. 0: every root is kept.
   */
  IMG_ROOTFS_MIN_ADDED: env.int(10, 0),
  /**
   * Bases prepared ahead of demand, at start and whenever the package lists are read again: "SUITE:ARCH"
   * items, comma-separated ("none": none); empty: the default suite for amd64. Each is the root file
   * system a minimal bootable disk installs; a build whose packages include its packages starts from it.
   */
  IMG_PREPARED_BASES: env.str(''),
  /** The caches together are kept under this size (least recently used files go first). */
  IMG_CACHE_MAX_MB: env.int(10240, 64),
  /** Largest build log kept, in MiB; past it the build's output is dropped with a note. */
  IMG_MAX_LOG_MB: env.int(64, 1),
  /** Boot every disk and ISO image in QEMU after its build; an image that does not boot fails its job. */
  IMG_VERIFY_BOOT: env.bool(true),
  /** How long the boot check waits for the marker or a login prompt (QEMU emulates: no KVM). */
  IMG_VERIFY_TIMEOUT_S: env.int(300, 10),
  /**
   * Refuse to start unless the Docker engine remaps user namespaces (`userns-remap`), so a build's
   * root is an unprivileged uid on the host. Off only for an engine that cannot (say so in the log).
   */
  IMG_REQUIRE_USERNS: env.bool(true),
  /** Empty: the builder's default Debian mirror. */
  IMG_DEBIAN_MIRROR: env.optionalStr(),
  /** Empty: the builder's default mirror of the security archive (stable and oldstable builds use it). */
  IMG_DEBIAN_SECURITY_MIRROR: env.optionalStr(),
  /**
   * false: builds accept package lists past their Valid-Until date, for a mirror that is a snapshot.
   * The image's own apt keeps checking: it is meant for a live mirror.
   */
  IMG_APT_CHECK_VALID_UNTIL: env.bool(true),
  /** Where the host kernel's binfmt_misc entries are read, to tell whether this host can build arm64 (in a container: the host's, bound in). */
  IMG_BINFMT_DIR: env.str('/proc/sys/fs/binfmt_misc'),
  /** The suite of a kickstart that names none, when its message carries none either (a frontend's own default does). */
  IMG_DEFAULT_SUITE: env.suite(),
  /** Hours after which a package index is read again (the check before a build is queued reads it). */
  IMG_PACKAGE_INDEX_REFRESH_H: env.int(6, 1),
  /** How often image-creator looks for package indexes to read: stale ones, and those a submission needed. */
  IMG_PACKAGE_INDEX_POLL_S: env.int(60, 1),
  /**
   * Package indexes kept read from the start: "SUITE:ARCH" items, comma-separated ("none": only those
   * submissions need); empty: the default suite for amd64.
   */
  IMG_PACKAGE_INDEX_PRELOAD: env.str(''),
  /** The longest reading of the package lists (an apt update in a container). */
  IMG_PACKAGE_INDEX_TIMEOUT_S: env.int(600, 30),
}).superRefine(checkStorageConfig);

export type Config = Omit<z.infer<typeof schema>, 'IMG_BUILD_CPUS'> & { IMG_BUILD_CPUS: number };
export const loadConfig = (e: NodeJS.ProcessEnv): Config => {
  const c = parseConfig(schema, e);
  return { ...c, IMG_BUILD_CPUS: c.IMG_BUILD_CPUS ?? Math.max(1, availableParallelism() / c.IMG_BUILD_CONCURRENCY) };
};
