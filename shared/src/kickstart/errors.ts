// Problem reports of the kickstart library. Two shapes, because the two inputs differ:
// a kickstart is always a file with lines, a template problem may instead come from an overlay item.

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
