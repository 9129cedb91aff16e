// Reads the build's output as it streams: complete lines, the marker lines the sandbox script
// prints, and the tail of the log for error excerpts.
import { buildStarts, type BuildStart, type Phase } from '@img/shared/contracts';

export interface Markers {
  onPhase(phase: Phase): void;
  /** The build's cache offer is complete and sealed by `sum` (its SHA256SUMS's, when the line has one). Only ever called before the post phase, and once. */
  onCacheExport?(sum: string | undefined): void;
  /** The script says its output is complete and waits for it to be taken. Called once. */
  onDone?(): void;
  /** How the packages came (the script may fall back to scratch): before the post phase only. */
  onStart?(start: BuildStart): void;
  /** The prepared root file system given to the build is older than the package lists: before the post phase only, once. */
  onBaseStale?(): void;
}

const MAX_LINE = 2000;
/** Text kept of a line that has no newline yet; past it the line is cut and the rest dropped. */
const MAX_PARTIAL = 64 * 1024;

const PROCESS_LIMIT = /fork: (retry: )?Resource temporarily unavailable|Cannot fork|fork: Interrupted system call/;

const DISK_FULL = /No space left on device|ENOSPC/;

const PHASES = new Set<string>(['fetching', 'installing', 'post', 'assembling', 'verifying']);

export class LogScanner {
  private partial = '';
  readonly lines: string[] = [];
  failure?: { phase: string; reason: string };
  /** Kickstart line of the %post script running when the output ended. */
  postLine?: number;
  /** Kickstart line the script named for the failure that followed (services, a setting). */
  settingLine?: number;
  /** Packages left out under %packages --ignoremissing (before the kickstart's own code runs). */
  readonly skippedPackages: string[] = [];
  /** Index in `lines` where the current %post script's output begins. */
  postStart = 0;
  done = false;
  /** How the packages came, as the script said before the post phase. */
  start?: BuildStart;
  baseStale = false;
  /** Lines where a fork was refused: the build ran into its process limit (a fork bomb, or a runaway script). */
  readonly processLimitLines: string[] = [];
  /** Lines where a write failed because the work area is full. */
  readonly diskFullLines: string[] = [];
  /** The post phase began: the kickstart's own code may run, and may print anything. */
  private userCode = false;
  private cacheOffered = false;

  constructor(private readonly markers: Markers, private readonly keep = 2000) {}

  push(chunk: Buffer): void {
    const text = this.partial + chunk.toString('utf8');
    const parts = text.split('\n');
    this.partial = parts.pop() ?? '';
    if (this.partial.length > MAX_PARTIAL) this.partial = this.partial.slice(0, MAX_PARTIAL);
    for (const line of parts) this.line(line.replace(/\r$/, ''));
  }

  end(): void {
    if (this.partial) this.line(this.partial);
    this.partial = '';
  }

  private line(raw: string): void {
    // One line can be anything a %post prints (a fork bomb prints megabytes without a newline).
    const line = raw.length > MAX_LINE ? `${raw.slice(0, MAX_LINE - 40)} …[${raw.length - MAX_LINE + 40} characters cut]` : raw;
    const m = /^@@IMG-(PHASE|POST|FAIL|DONE|CACHE-EXPORT|LINE|SKIPPED|START|BASE-STALE)(?: (.*))?$/.exec(line);
    if (m) {
      const [, kind, rest = ''] = m;
      if (kind === 'PHASE' && PHASES.has(rest.trim())) {
        if (rest.trim() === 'post') this.userCode = true;
        this.markers.onPhase(rest.trim() as Phase);
      }
      if (kind === 'CACHE-EXPORT' && !this.userCode && !this.cacheOffered) {
        this.cacheOffered = true;
        this.markers.onCacheExport?.(/^[0-9a-f]{64}$/.test(rest) ? rest : undefined);
      }
      // Said by the script itself, before the post phase: a %post printing these is not believed.
      if (kind === 'LINE' && !this.userCode) this.settingLine = Number(rest) || undefined;
      if (kind === 'SKIPPED' && !this.userCode && /^[a-z0-9][a-z0-9+.-]{1,199}$/.test(rest) && this.skippedPackages.length < 5000 && !this.skippedPackages.includes(rest)) {
        this.skippedPackages.push(rest);
      }
      if (kind === 'START' && !this.userCode && (buildStarts as readonly string[]).includes(rest) && rest !== 'identical') {
        this.start = rest as BuildStart;
        this.markers.onStart?.(this.start);
      }
      if (kind === 'BASE-STALE' && !this.userCode && !this.baseStale) {
        this.baseStale = true;
        this.markers.onBaseStale?.();
      }
      if (kind === 'POST') {
        this.postLine = Number(rest) || undefined;
        this.postStart = this.lines.length;
      }
      if (kind === 'FAIL') {
        const [phase = '', reason = ''] = rest.split(' ');
        this.failure = { phase, reason };
      }
      if (kind === 'DONE' && !this.done) {
        this.done = true;
        this.markers.onDone?.();
      }
      return;
    }
    if (PROCESS_LIMIT.test(line) && this.processLimitLines.length < 5) this.processLimitLines.push(line);
    if (DISK_FULL.test(line) && this.diskFullLines.length < 5) this.diskFullLines.push(line);
    this.lines.push(line);
    if (this.lines.length > this.keep) {
      const drop = this.lines.length - this.keep;
      this.lines.splice(0, drop);
      this.postStart = Math.max(0, this.postStart - drop);
    }
  }

  tail(n: number, from = 0): string[] {
    return this.lines.slice(Math.max(from, this.lines.length - n));
  }
}
