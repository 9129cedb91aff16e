// Which lines open or close a kickstart section, read the way pykickstart reads them. Shared by the
// parser and by template validation, so a template's post-script can never contain a line that would
// end its %post early.
//
// pykickstart ends a section body at `%end`, and also at a line opening a section it knows (then the
// section was not terminated, an error since Fedora 8); `%include` inside a body is processed. Any
// other line starting with `%` is part of the body (a shell script may well have one). At the top
// level every `%word` opens a section, known or not, and its body runs to its `%end`.

/** Sections IMG runs. */
export const RUN_SECTIONS = ['%packages', '%post'] as const;

/**
 * Sections that mean nothing on an image build: skipped to their `%end`, with a warning saying why.
 * Anaconda's own, and mic's (MeeGo, Mer and Sailfish OS images were made with mic).
 */
export const IGNORED_SECTIONS: Readonly<Record<string, string>> = {
  '%pre': 'it runs in the installer before the installation; an image build has no installer, and IMG writes the image itself',
  '%pre-install': 'it runs in the installer before the packages are installed; an image build has no installer',
  '%onerror': 'it runs when the installer fails; IMG reports a failed build itself, in the log and by email',
  '%traceback': 'it runs when the installer crashes; IMG reports a failed build itself, in the log and by email',
  '%addon': 'installer add-ons (kdump and the like) configure the installer, which an image build does not have',
  '%anaconda': 'it configures anaconda, the installer, which an image build does not have',
  '%attachment': "mic's list of files to deliver beside the image; IMG delivers the image only (copy what you need into it in %post)",
  '%pack': "mic's script run after the image is packed; IMG packs the image itself",
};

/** One-line directives pykickstart processes before reading: refused, the file must come flattened. */
export const INCLUDE_DIRECTIVES = ['%include', '%ksappend'] as const;

export type SectionWord =
  | '%end'
  | (typeof RUN_SECTIONS)[number]
  | 'ignored'
  | 'include'
  | 'unknown';

/** The `%word` a (trimmed) line starts with, or undefined when it does not start with `%`. */
export function percentWord(trimmed: string): string | undefined {
  if (trimmed.charCodeAt(0) !== 37 /* % */) return undefined;
  let end = 1;
  while (end < trimmed.length) {
    const c = trimmed.charCodeAt(end);
    if (c === 32 || c === 9 || c === 35 /* # */) break;
    end++;
  }
  return trimmed.slice(0, end);
}

/** What a top-level line starting with `%` is: every `%word` opens a section there. */
export function sectionWord(trimmed: string): SectionWord | undefined {
  const word = percentWord(trimmed);
  if (word === undefined) return undefined;
  if (word === '%end') return '%end';
  if (word === '%packages' || word === '%post') return word;
  if (Object.hasOwn(IGNORED_SECTIONS, word)) return 'ignored';
  if ((INCLUDE_DIRECTIVES as readonly string[]).includes(word)) return 'include';
  return 'unknown';
}

/**
 * Whether a line inside a section body ends it (`%end`, or the header of a section pykickstart knows,
 * which means the body was not terminated) or is a directive the body may not hold (`%include`).
 * Any other `%…` line belongs to the body.
 */
export function breaksBody(trimmed: string): SectionWord | undefined {
  const kind = sectionWord(trimmed);
  return kind === 'unknown' ? undefined : kind;
}
