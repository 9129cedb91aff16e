// Problem reports of the kickstart library. Two shapes, because the two inputs differ:
// a kickstart is always a file with lines, a template problem may instead come from an overlay item.
import { MAX_REPORTED_ERRORS, MAX_REPORTED_WARNINGS } from './limits.ts';

/** A problem in a kickstart: `line` is 1-based, `text` is the offending source line as written. */
export interface KsError {
  line: number;
  message: string;
  text: string;
}

/**
 * A problem in a template, a YAML overlay (`line` counts from the overlay's first line),
 * or a comma overlay (`item` is the 1-based position of the item, `text` the item as written).
 */
export interface TemplateIssue {
  source: 'template' | 'overlay';
  message: string;
  line?: number;
  item?: number;
  text?: string;
}

/**
 * Collects a kickstart's errors and warnings, each capped: past MAX_REPORTED_ERRORS errors the reading
 * stops (`full`, `stop`), past MAX_REPORTED_WARNINGS warnings the rest are counted, and `done` ends
 * the list with one that says how many were left out. A 250,000-line file of repeats makes 101
 * warnings, not 249,999.
 */
export class Report {
  private readonly errors: KsError[] = [];
  private readonly warnings: KsError[] = [];
  private droppedWarnings = 0;
  private firstDropped = 0;

  constructor(private readonly lines: readonly string[], private readonly caps = { errors: MAX_REPORTED_ERRORS, warnings: MAX_REPORTED_WARNINGS }) {}

  error(line: number, message: string): void {
    this.errors.push({ line, message, text: this.lines[line - 1] ?? '' });
  }

  warn(line: number, message: string): void {
    if (this.warnings.length >= this.caps.warnings) {
      if (this.droppedWarnings++ === 0) this.firstDropped = line;
      return;
    }
    this.warnings.push({ line, message, text: this.lines[line - 1] ?? '' });
  }

  /** Enough errors: the rest of the file is not worth reading. */
  full(): boolean {
    return this.errors.length >= this.caps.errors;
  }

  stop(line: number): void {
    this.error(line, `too many errors (${this.caps.errors}); the rest of the file is not checked`);
  }

  get errorCount(): number {
    return this.errors.length;
  }

  /** Warnings an earlier report left out: counted with this one's, in its closing note. */
  omitted(count: number, from: number): void {
    if (count <= 0) return;
    if (this.droppedWarnings === 0 || from < this.firstDropped) this.firstDropped = from;
    this.droppedWarnings += count;
  }

  /** The warnings left out so far, and the first line they came from. */
  get dropped(): { warnings: number; from: number } {
    return { warnings: this.droppedWarnings, from: this.firstDropped };
  }

  done(): { errors: KsError[]; warnings: KsError[] } {
    const errors = [...this.errors].sort((a, b) => a.line - b.line);
    const warnings = [...this.warnings].sort((a, b) => a.line - b.line);
    if (this.droppedWarnings > 0) {
      warnings.push({
        line: this.firstDropped,
        message: `${this.droppedWarnings} more warning${this.droppedWarnings === 1 ? '' : 's'} from line ${this.firstDropped} on ${this.droppedWarnings === 1 ? 'is' : 'are'} not shown (at most ${this.caps.warnings} are)`,
        text: this.lines[this.firstDropped - 1] ?? '',
      });
    }
    return { errors, warnings };
  }
}

export function formatKsErrors(file: string, errors: readonly KsError[]): string[] {
  return errors.map((e) => `${file}:${e.line}: ${e.message}`);
}

/** `FILE:LINE: message` for the template, `overlay: item N 'x': message` or `overlay:LINE: message` for overlays. */
export function formatTemplateIssues(file: string, issues: readonly TemplateIssue[]): string[] {
  return issues.map((i) => {
    if (i.source === 'overlay') {
      if (i.item !== undefined) return `overlay: item ${i.item} '${i.text ?? ''}': ${i.message}`;
      return i.line !== undefined ? `overlay:${i.line}: ${i.message}` : `overlay: ${i.message}`;
    }
    return i.line !== undefined ? `${file}:${i.line}: ${i.message}` : `${file}: ${i.message}`;
  });
}
