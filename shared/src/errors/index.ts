// Errors are data across processes: {code, message, details}. Every code is listed here once and
// marked as caused by the user's request (their kickstart, template, address…) or internal (ours).
import { z } from 'zod';

export const errorCodes = {
  invalid_request: { user: true, title: 'The request is invalid' },
  invalid_kickstart: { user: true, title: 'The kickstart has errors' },
  invalid_template: { user: true, title: 'The template or overlay has errors' },
  unsupported_image_type: { user: true, title: 'This image type is not supported' },
  package_not_found: { user: true, title: 'A package could not be found' },
  repo_unreachable: { user: true, title: 'A package repository could not be reached' },
  post_script_failed: { user: true, title: 'A %post script failed' },
  resource_limit: { user: true, title: 'The build went over a resource limit' },
  timeout: { user: true, title: 'The build took too long' },
  cancelled: { user: true, title: 'The job was cancelled' },
  // A user error: the image is built as the kickstart describes it, and a marker or a login prompt
  // that never shows usually comes from the kickstart (its %post, packages, kernel arguments).
  boot_failed: { user: true, title: 'The image did not boot' },
  // The build left something other than its image where the image goes (a link, a FIFO, a device,
  // an extra file): made by the kickstart's own scripts, and never retried.
  build_output_invalid: { user: true, title: 'The build left something other than its image' },
  build_failed: { user: false, title: 'The image build failed' },
  sandbox_error: { user: false, title: 'The build sandbox could not be run' },
  internal: { user: false, title: 'Internal error' },
} as const satisfies Record<string, { user: boolean; title: string }>;

export type ErrorCode = keyof typeof errorCodes;
export const errorCodeSchema = z.enum(Object.keys(errorCodes) as [ErrorCode, ...ErrorCode[]]);

export function isUserError(code: ErrorCode): boolean {
  return errorCodes[code].user;
}

export interface ErrorData {
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
}

/** An error with a code; `transient` ones are retried by the consumer, the rest are recorded and acked. */
export class ImgError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;
  readonly transient: boolean;
  constructor(code: ErrorCode, message: string, opts: { details?: Record<string, unknown>; transient?: boolean; cause?: unknown } = {}) {
    super(message, { cause: opts.cause });
    this.name = 'ImgError';
    this.code = code;
    this.details = opts.details;
    this.transient = opts.transient ?? false;
  }
  toData(): ErrorData {
    return this.details ? { code: this.code, message: this.message, details: this.details } : { code: this.code, message: this.message };
  }
}

/** A failure of infrastructure that should clear up by itself (broker, database, Docker engine down). */
export class TransientError extends ImgError {
  constructor(message: string, cause?: unknown) {
    super('internal', message, { transient: true, cause });
    this.name = 'TransientError';
  }
}
