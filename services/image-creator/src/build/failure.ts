// A build step that cannot go on throws a BuildFailure: the code and sentence a person reads, the
// phase it happened in, the log lines that show why and, where there is one, the kickstart line.
import { ImgError, type ErrorCode } from '@img/shared/errors';
import type { Phase } from '@img/shared/contracts';

export class BuildFailure extends ImgError {
  readonly phase: Phase;
  readonly excerpt: string[];
  readonly line: number | undefined;
  constructor(code: ErrorCode, message: string, o: { phase: Phase; excerpt?: string[]; line?: number | undefined }) {
    super(code, message);
    this.name = 'BuildFailure';
    this.phase = o.phase;
    this.excerpt = o.excerpt ?? [];
    this.line = o.line;
  }
}
