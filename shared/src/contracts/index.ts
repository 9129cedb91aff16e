// The messages that cross RabbitMQ, one zod schema each, validated on every consume and before
// every publish. IMG's field names are kept; fields are added, never renamed.
import { z } from 'zod';
import { errorCodeSchema } from '../errors/index.ts';
import { findSuite, unknownSuiteMessage } from '../kickstart/suites.ts';
import { findArchitecture, unknownArchitectureMessage } from '../kickstart/architectures.ts';

export const CONTRACT_VERSION = 1;

/** Image types IMG offered plus `fs`/`tar` and `qcow2`; `nand`/`mrstnand` are refused at submission. */
export const imageTypes = ['tar', 'fs', 'loop', 'raw', 'qcow2', 'vmdk', 'vdi', 'livecd', 'liveusb'] as const;
export const legacyImageTypes = ['nand', 'mrstnand'] as const;
export const imageTypeSchema = z.enum(imageTypes);
export type ImageType = z.infer<typeof imageTypeSchema>;

/** Job ids are 128 random bits in hex: unguessable, and safe in file names and URLs. */
export const jobIdSchema = z.string().regex(/^[0-9a-f]{32}$/, 'a job id is 32 lowercase hex digits');

/**
 * Control characters (C0 with TAB, CR and LF; DEL; C1), format characters (zero-width, bidi
 * overrides, BOM), the Unicode line and paragraph separators and lone surrogates. No mailbox name
 * has one; each could inject a mail header, end a log line, hide in a page or be cut off by a C
 * library (NUL). Tested before trimming, so a trailing newline is refused rather than trimmed away.
 */
const forbiddenInEmail = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/u;
export const EMAIL_CONTROL_MESSAGE = 'an email address cannot contain control characters';

/** The first character an address may not contain, as `U+0000`, or undefined. */
export function emailControlCharacter(address: string): string | undefined {
  const hit = forbiddenInEmail.exec(address)?.[0];
  return hit === undefined ? undefined : `U+${hit.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** Refused at every edge: the form, the JSON API and every message that carries an address. */
export const emailSchema = z.string()
  .regex(/^[^\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]*$/u, EMAIL_CONTROL_MESSAGE)
  .trim()
  .max(254)
  .regex(/^[^\s@<>()[\]\\,;:"]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$/, 'not a valid email address');

export const phases = ['queued', 'kickstarting', 'fetching', 'installing', 'post', 'assembling', 'verifying'] as const;
export const phaseSchema = z.enum(phases);
export type Phase = z.infer<typeof phaseSchema>;

const version = z.number().int().positive().default(CONTRACT_VERSION);

/** A Debian suite IMG builds (kickstart/suites.ts). */
export const suiteSchema = z.string().max(40).refine((s) => findSuite(s) !== undefined, (s) => ({ message: unknownSuiteMessage(s) }));
/** An architecture IMG builds (kickstart/architectures.ts); a message without one means amd64, as before. */
export const archSchema = z.string().max(40).refine((a) => findArchitecture(a) !== undefined, (a) => ({ message: unknownArchitectureMessage(a) }));

/**
 * image_queue and kickstarter_queue carry a seal: HMAC-SHA256 of the job's identity (id, email,
 * image type) under a key derived from IMG_TOKEN_SECRET (shared/src/jobs/message-seal.ts). The
 * frontend seals what it queues, the kickstarter forwards the seal, and image-creator builds only a
 * sealed job: whoever can publish to the broker cannot have a build run for a job nobody submitted,
 * and image-creator never reads the frontend's records to know it.
 */
export const sealSchema = z.string().regex(/^[0-9a-f]{64}$/, 'a seal is 64 lowercase hex digits');

/**
 * Where a kickstart's packages were checked against the package index: at submission (the frontend),
 * at build time (image-creator, when the submission found no index yet), or not at all (a repository
 * of the kickstart's own). `detail` says against what, or why not.
 */
export const packageCheckSchema = z.object({
  how: z.enum(['submission', 'build', 'skipped']),
  detail: z.string().max(1000),
  /** When apt read the lists the check used (ISO 8601). */
  read_at: z.string().datetime().optional(),
});
export type PackageCheck = z.infer<typeof packageCheckSchema>;

/** A warning about the request: a kickstart line accepted but not acted on, a package skipped. */
export const jobWarningSchema = z.object({
  line: z.number().int().positive().optional(),
  message: z.string().max(1000),
});
export type JobWarning = z.infer<typeof jobWarningSchema>;
/** Warnings are capped like errors (kickstart/limits.ts): 100, and one saying how many more. */
export const jobWarningsSchema = z.array(jobWarningSchema).max(101);

export const kickstarterMessage = z.object({
  id: jobIdSchema,
  email: emailSchema,
  imagetype: imageTypeSchema,
  config: z.string().min(1).max(1024 * 1024),
  platform: z.string().min(1).max(100),
  overlay: z.string().max(64 * 1024).default(''),
  /** The request's `suite` field: the platform is built for it instead of its template's Suite. */
  suite: suiteSchema.optional(),
  /** The request's `arch` field; the platform's Architecture must agree (the frontend checked it). */
  arch: archSchema.optional(),
  /** The frontend's seal of the job; the kickstarter forwards it on the image_queue message. */
  seal: sealSchema.optional(),
  /** When the job was queued: image-creator counts the queueing time from it. */
  submitted_at: z.string().datetime().optional(),
  /** A fresh build was asked for; the kickstarter forwards it on the image_queue message. */
  rebuild: z.boolean().optional(),
  version,
});
export type KickstarterMessage = z.infer<typeof kickstarterMessage>;

/**
 * How a build starts: from nothing ('scratch'), from a prepared root file system whose packages are a
 * subset of the request's ('base': apt installs the difference), from the root of an earlier build with
 * exactly these packages ('cached'), or not at all: a finished identical request answers it ('identical').
 */
export const buildStarts = ['scratch', 'base', 'cached', 'identical'] as const;
export const buildStartSchema = z.enum(buildStarts);
export type BuildStart = z.infer<typeof buildStartSchema>;

export const imageMessage = z.object({
  id: jobIdSchema,
  email: emailSchema,
  imagetype: imageTypeSchema,
  ksfile: z.string().min(1).max(1024 * 1024),
  /** The suite when the kickstart's repo lines name none (the request's field, else the frontend's default). */
  suite: suiteSchema.optional(),
  /** The architecture to build for (a kickstart does not say it); absent: amd64. */
  arch: archSchema.optional(),
  /** The frontend's seal of the job (id, email, image type): a message without a valid one is dead-lettered, not built. */
  seal: sealSchema.optional(),
  /** When the job was queued: image-creator counts the queueing time from it. */
  submitted_at: z.string().datetime().optional(),
  /** 'submission': the frontend checked the packages before queueing; otherwise the build checks them. */
  package_check: z.enum(['submission']).optional(),
  /**
   * A fresh build was asked for: not answered from a finished identical request, nor from the cached
   * installed root file system (the package cache is used: a rebuild from the same packages is the
   * point, to check that it gives the same bytes).
   */
  rebuild: z.boolean().optional(),
  version,
});
export type ImageMessage = z.infer<typeof imageMessage>;

/**
 * How the image is delivered: `size` and `sha256` are always the file as downloaded. A disk or ISO
 * kept as a .zst (compression 'zstd') also says the image's own size and sha256 once decompressed,
 * the size it takes on disk or stick; a qcow2 ('qcow2') is compressed inside (qemu-img -c) and has
 * no other form. Absent: an image built before compression, delivered as built.
 */
export const deliveryFields = {
  compression: z.enum(['zstd', 'qcow2']).optional(),
  disk_size: z.number().int().nonnegative().optional(),
  disk_sha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
};
export type Delivery = { compression?: 'zstd' | 'qcow2'; disk_size?: number; disk_sha256?: string };

export const linkMessage = z.object({
  id: jobIdSchema,
  url: z.string().url(),
  email: emailSchema,
  imagetype: imageTypeSchema,
  filename: z.string().min(1),
  size: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  duration_s: z.number().nonnegative(),
  logurl: z.string().url(),
  /** Hash of the normalised request, so the job records which build answered it. */
  request_hash: z.string().regex(/^[0-9a-f]{64}$/).optional(),
  /** The boot check's outcome, when image-creator ran it (disk and ISO types). */
  verified: z.object({ ok: z.boolean(), detail: z.string().max(2000), seconds: z.number().nonnegative() }).optional(),
  /** How the build started (see buildStartSchema). */
  start: buildStartSchema.optional(),
  /** The suite and architecture the image was built for, for the email. */
  suite: suiteSchema.optional(),
  arch: archSchema.optional(),
  /** Where the packages were checked, and the request's warnings as the build knows them (they replace the job's). */
  package_check: packageCheckSchema.optional(),
  warnings: jobWarningsSchema.optional(),
  /** How many packages the image's manifest lists; absent: the job has no manifest (an older builder). */
  packages: z.number().int().nonnegative().optional(),
  ...deliveryFields,
  version,
});
export type LinkMessage = z.infer<typeof linkMessage>;

export const errorMessage = z.object({
  id: jobIdSchema,
  error: z.string().min(1).max(4000),
  url: z.string().url(),
  email: emailSchema,
  imagetype: imageTypeSchema.optional(),
  code: errorCodeSchema,
  phase: phaseSchema,
  /** The log lines that show the cause. */
  excerpt: z.array(z.string().max(2000)).max(200).default([]),
  /** Where in the user's input the error is, when it is there. */
  position: z.object({ file: z.string().optional(), line: z.number().int().positive().optional(), item: z.string().optional() }).optional(),
  /** The suite and architecture it was to be built for, when the kickstart was read that far. */
  suite: suiteSchema.optional(),
  arch: archSchema.optional(),
  /** Where the packages were checked, and the request's warnings as the build knows them (they replace the job's). */
  package_check: packageCheckSchema.optional(),
  warnings: jobWarningsSchema.optional(),
  version,
});
export type ErrorMessage = z.infer<typeof errorMessage>;

export const resultMessage = z.object({
  id: jobIdSchema,
  logfile: z.string().min(1),
  phase: phaseSchema,
  /** 0..1, or absent where progress cannot be told. */
  progress: z.number().min(0).max(1).optional(),
  /** How image-creator starts this build, once it knows (before the first package is installed). */
  start: buildStartSchema.optional(),
  /** Where the packages were checked, and the request's warnings as the build knows them (they replace the job's). */
  package_check: packageCheckSchema.optional(),
  warnings: jobWarningsSchema.optional(),
  version,
});
export type ResultMessage = z.infer<typeof resultMessage>;

/** control_exchange (fanout): every image-creator hears it and stops the build if it runs it. */
export const cancelMessage = z.object({
  id: jobIdSchema,
  reason: z.string().max(500).default('cancelled by request'),
  version,
});
export type CancelMessage = z.infer<typeof cancelMessage>;

/** result_exchange, key `cancelled`: the frontend says a job was cancelled, so the notifier can tell the person. */
export const cancelledMessage = z.object({
  id: jobIdSchema,
  email: emailSchema,
  imagetype: imageTypeSchema,
  reason: z.string().max(500),
  version,
});
export type CancelledMessage = z.infer<typeof cancelledMessage>;

// --- Build hosts that share nothing but the broker, the database and the store (issue 15) ---

/** One piece of a build's log, in the job's own stream queue (`img.log.<id>`, shared/src/live-log). */
export const logChunkMessage = z.discriminatedUnion('kind', [
  /** `text` holds the log's bytes from `offset` (UTF-8): the same bytes, at the same offsets, as the stored log. */
  z.object({ kind: z.literal('text'), id: jobIdSchema, offset: z.number().int().nonnegative(), text: z.string().max(1024 * 1024), version }),
  /** A later attempt (another host, after the first died) reads the stream up to this mark, then goes on from its end. */
  z.object({ kind: z.literal('resume'), id: jobIdSchema, attempt: z.number().int().positive(), nonce: z.string().regex(/^[0-9a-f]{16,64}$/), version }),
  /** The log is whole and kept in the store (`logs/<id>.log`), `size` bytes. */
  z.object({ kind: z.literal('end'), id: jobIdSchema, size: z.number().int().nonnegative(), version }),
]);
export type LogChunkMessage = z.infer<typeof logChunkMessage>;

export const outcomes = ['done', 'failed', 'cancelled'] as const;
export const outcomeSchema = z.enum(outcomes);

/**
 * result_exchange, key `notify` → notify_queue and webhook_queue. The frontend (which owns the job
 * records) checks each outcome against the job's record, and then says what to tell the job's owner:
 * the record's address, the job as the email and the webhook show it, and the outcome as it was
 * reported. Sealed like image_queue messages (over every other field), so a message published
 * straight to the broker mails nobody.
 */
export const notifyMessage = z.object({
  id: jobIdSchema,
  outcome: outcomeSchema,
  /** The address on the job's record, whatever the report said. */
  email: emailSchema,
  job: z.object({
    type: imageTypeSchema,
    status: z.enum(['queued', 'kickstarting', 'building', 'done', 'failed', 'cancelled']),
    phase: phaseSchema,
    created: z.string().datetime(),
    started: z.string().datetime().optional(),
    finished: z.string().datetime().optional(),
    duration_s: z.number().nonnegative().optional(),
    progress: z.number().min(0).max(1).optional(),
    platform: z.string().max(100).optional(),
    suite: z.string().max(40).optional(),
    arch: z.string().max(40).optional(),
    /** Where the webhook goes (the job's callback_url), when it has one. */
    callback_url: z.string().url().max(2048).optional(),
  }),
  report: z.union([linkMessage, errorMessage, cancelledMessage]),
  seal: sealSchema,
  version,
});
export type NotifyMessage = z.infer<typeof notifyMessage>;

/**
 * result_exchange, keys `email_status` and `webhook_status` → delivery_status_queue (frontend): what
 * became of a job's email or webhook post, told by the notifier, which owns those records. The
 * frontend shows it on the job's page and in the API without reading the notifier's collections.
 */
export const deliveryStatusMessage = z.object({
  id: jobIdSchema,
  outcome: outcomeSchema,
  channel: z.enum(['email', 'webhook']),
  /** email: sent, rejected, undeliverable; webhook: delivered, retrying, refused, undeliverable. */
  state: z.enum(['sent', 'rejected', 'undeliverable', 'delivered', 'retrying', 'refused']),
  attempts: z.number().int().nonnegative(),
  at: z.string().datetime(),
  error: z.string().max(2000).optional(),
  status_code: z.number().int().min(100).max(599).optional(),
  version,
});
export type DeliveryStatusMessage = z.infer<typeof deliveryStatusMessage>;
