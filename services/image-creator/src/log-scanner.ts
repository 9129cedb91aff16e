// Reads the build's output as it streams: complete lines, the marker lines the sandbox script
// prints, and the tail of the log for error excerpts.
import type { Phase } from '@img/shared/contracts';

export interface Markers {
  onPhase(phase: Phase): void;
}

const PHASES = new Set<string>(['fetching', 'installing', 'post', 'assembling', 'verifying']);

export class LogScanner {
  private partial = '';
  readonly lines: string[] = [];
  failure?: { phase: string; reason: string };
  /** Kickstart line of the %post script running when the output ended. */
  postLine?: number;
  /** Index in `lines` where the current %post script's output begins. */
  postStart = 0;
  done = false;

  constructor(private readonly markers: Markers, private readonly keep = 2000) {}

  push(chunk: Buffer): void {
    const text = this.partial + chunk.toString('utf8');
    const parts = text.split('\n');
    this.partial = parts.pop() ?? '';
    for (const line of parts) this.line(line.replace(/\r$/, ''));
  }

  end(): void {
    if (this.partial) this.line(this.partial);
    this.partial = '';
  }

  private line(line: string): void {
    const m = /^@@IMG-(PHASE|POST|FAIL|DONE)\b ?(.*)$/.exec(line);
    if (m) {
      const [, kind, rest = ''] = m;
      if (kind === 'PHASE' && PHASES.has(rest.trim())) this.markers.onPhase(rest.trim() as Phase);
      if (kind === 'POST') {
        this.postLine = Number(rest) || undefined;
        this.postStart = this.lines.length;
      }
      if (kind === 'FAIL') {
        const [phase = '', reason = ''] = rest.split(' ');
        this.failure = { phase, reason };
      }
      if (kind === 'DONE') this.done = true;
      return;
    }
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
