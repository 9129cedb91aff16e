// The job record, after IMG's ImageJob model, and the rules for moving it between states.
import { randomBytes } from 'node:crypto';
import type { ErrorCode } from '../errors/index.ts';
import type { BuildStart, ImageType, Phase } from '../contracts/index.ts';

export const jobStatuses = ['queued', 'kickstarting', 'building', 'done', 'failed', 'cancelled'] as const;
export type JobStatus = (typeof jobStatuses)[number];
export const terminalStatuses: readonly JobStatus[] = ['done', 'failed', 'cancelled'];

/** From which states each state may be entered. A redelivered or late message can never move a job backwards. */
export const allowedFrom: Record<JobStatus, readonly JobStatus[]> = {
  queued: [],
  kickstarting: ['queued'],
  building: ['queued', 'kickstarting'],
  // A success can overtake the progress messages (they travel on another queue).
  done: ['queued', 'kickstarting', 'building'],
  failed: ['queued', 'kickstarting', 'building'],
  cancelled: ['queued', 'kickstarting', 'building'],
};

/** Phases only move forward; the rank decides. */
export const phaseRank: Record<Phase, number> = {
  queued: 0, kickstarting: 1, fetching: 2, installing: 3, post: 4, assembling: 5, verifying: 6,
};

export function statusForPhase(phase: Phase): JobStatus {
  if (phase === 'queued') return 'queued';
  return phase === 'kickstarting' ? 'kickstarting' : 'building';
}

export interface HistoryEntry {
  status: JobStatus;
  phase?: Phase;
  at: Date;
}

export interface Job {
  id: string;
  email: string;
  /** IMG's `type`: the image type. */
  type: ImageType;
  status: JobStatus;
  phase: Phase;
  progress?: number;
  /** 'kickstart' when the person sent a kickstart, 'template' when a YAML template + platform + overlay. */
  source: 'kickstart' | 'template';
  kickstart?: string;
  config?: string;
  platform?: string;
  overlay?: string;
  /** The Debian suite the image is built from, decided at submission (kickstart, template, field or default). */
  suite?: string;
  /** The architecture the image is built for (amd64, arm64), decided at submission; absent on older jobs: amd64. */
  arch?: string;
  /** IMG's `filename`: the kickstart's file name as uploaded. */
  filename?: string;
  logfile?: string;
  imagefile?: string;
  url?: string;
  logurl?: string;
  /** The file as downloaded: its size and sha256 (a .zst for raw, loop and the ISOs). */
  size?: number;
  sha256?: string;
  /** How the download is compressed; with 'zstd', the image's own size (on disk) and sha256 once decompressed. */
  compression?: 'zstd' | 'qcow2';
  disk_size?: number;
  disk_sha256?: string;
  /** Hash of the normalised request (kickstart, image type, builder version): identical requests share one build. */
  request_hash?: string;
  /** The submitter's client address (an IPv6 one by its /64), for the per-client pending cap; never shown. */
  client?: string;
  /** Where the outcome is posted when the job ends (a signed webhook); see shared/webhooks. */
  callback_url?: string;
  /** A fresh build was asked for: not answered from a finished identical request (see contracts' image_queue message). */
  rebuild?: boolean;
  /**
   * Where the kickstart's packages were checked against the package index: 'submission' (before it
   * was queued), 'build' (image-creator, when no index was read yet at submission), 'skipped' (a
   * repository of the kickstart's own); `detail` says against what, or why not.
   */
  package_check?: { how: 'submission' | 'build' | 'skipped'; detail: string; read_at?: Date };
  /** What the kickstart says that IMG accepts but does not act on, and packages a build skipped: capped. */
  warnings?: { line?: number; message: string }[];
  /** The boot check of a disk or ISO image, as image-creator recorded it. */
  verified?: { ok: boolean; detail: string; seconds: number };
  /** How image-creator started the build (from nothing, a prepared base, a cached root, an identical build), once it said. */
  start?: BuildStart;
  /** The package set the kickstart installs (frontend/src/jobs/package-set.ts): builds of the same set start from a cached root. */
  packages_key?: string;
  /** When the frontend first saw each phase (queued: the submission), for the phase times (phase-times.ts). */
  phase_at?: Partial<Record<Phase, Date>>;
  /** The estimate made when the job was queued, kept to set beside the actual figures once it has ended. */
  queued_estimate?: QueuedEstimate;
  error?: string;
  error_code?: ErrorCode;
  error_excerpt?: string[];
  created: Date;
  started?: Date;
  finished?: Date;
  duration_s?: number;
  history: HistoryEntry[];
}

export interface QueuedEstimate {
  start: Date;
  finish: Date;
  /** The build time expected, in seconds, and which past builds it came from (frontend/src/jobs/build-durations.ts). */
  build_s: number;
  basis: string;
  /** Build slots the queue was played over. */
  slots: number;
}

export type NewJob = Pick<Job, 'email' | 'type' | 'source'> &
  Partial<Pick<Job, 'kickstart' | 'config' | 'platform' | 'overlay' | 'suite' | 'arch' | 'filename' | 'request_hash' | 'client' | 'callback_url' | 'rebuild' | 'package_check' | 'warnings' | 'queued_estimate' | 'packages_key'>>;

/** 128 random bits: a job id cannot be guessed from another one. */
export function newJobId(): string {
  return randomBytes(16).toString('hex');
}

export class InvalidTransitionError extends Error {
  constructor(readonly id: string, readonly from: JobStatus | undefined, readonly to: JobStatus) {
    super(from === undefined ? `job ${id} does not exist` : `job ${id} cannot go from ${from} to ${to}`);
    this.name = 'InvalidTransitionError';
  }
}
