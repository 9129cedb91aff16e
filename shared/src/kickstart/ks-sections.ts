// Which lines open or close a kickstart section. Shared by the parser and by template validation,
// so a template's post-script can never contain a line that would end its %post early.

/** Sections IMG runs. */
export const KNOWN_SECTIONS = ['%packages', '%post'] as const;

/** Anaconda sections IMG does not run: reported, and skipped up to their %end. */
export const FOREIGN_SECTIONS = ['%pre', '%pre-install', '%onerror', '%traceback', '%addon', '%anaconda'];

export type SectionWord = '%end' | (typeof KNOWN_SECTIONS)[number] | 'foreign';

/** The section keyword a (trimmed) line starts with, if it is `%end` or a section header. */
export function sectionWord(trimmed: string): SectionWord | undefined {
  if (trimmed.charCodeAt(0) !== 37 /* % */) return undefined;
  let end = 1;
  while (end < trimmed.length) {
    const c = trimmed.charCodeAt(end);
    if (c === 32 || c === 9 || c === 35 /* # */) break;
    end++;
  }
  const word = trimmed.slice(0, end);
  if (word === '%end') return '%end';
  if (word === '%packages' || word === '%post') return word;
  return FOREIGN_SECTIONS.includes(word) ? 'foreign' : undefined;
}
