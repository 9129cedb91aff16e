// A small shell-like tokenizer for kickstart command lines, splitting as pykickstart's
// `shlex.split(line, comments=True)` does: blanks separate words, "double" and 'single' quotes group
// them, a backslash escapes the next character (inside double quotes only \" \\ \$ and \`), and an
// unquoted # starts a comment, even inside a word (`keyboard us# Root password` is `keyboard us`).
// One pass over the characters; nothing is expanded.

export interface Token {
  value: string;
  /** The word began with a quote: `"--lock"` is a value, never an option. */
  quoted: boolean;
}

export type TokenizeResult = { tokens: Token[]; error?: undefined } | { tokens?: undefined; error: string };

const DQ_ESCAPABLE = '"\\$`';

export function tokenize(line: string): TokenizeResult {
  const tokens: Token[] = [];
  const n = line.length;
  let i = 0;
  let comment = false;
  while (i < n && !comment) {
    const c = line[i] as string;
    if (c === ' ' || c === '\t' || c === '\r') {
      i++;
      continue;
    }
    if (c === '#') break;
    let value = '';
    const quoted = c === '"' || c === "'";
    while (i < n) {
      const d = line[i] as string;
      if (d === ' ' || d === '\t' || d === '\r') break;
      if (d === '#') {
        comment = true;
        break;
      }
      if (d === "'") {
        const close = line.indexOf("'", i + 1);
        if (close < 0) return { error: 'unbalanced single quote' };
        value += line.slice(i + 1, close);
        i = close + 1;
      } else if (d === '"') {
        i++;
        let closed = false;
        while (i < n) {
          const e = line[i] as string;
          if (e === '"') {
            closed = true;
            i++;
            break;
          }
          if (e === '\\' && i + 1 < n && DQ_ESCAPABLE.includes(line[i + 1] as string)) {
            value += line[i + 1];
            i += 2;
          } else {
            value += e;
            i++;
          }
        }
        if (!closed) return { error: 'unbalanced double quote' };
      } else if (d === '\\') {
        if (i + 1 >= n) return { error: 'backslash at the end of the line (line continuations are not supported)' };
        value += line[i + 1];
        i += 2;
      } else {
        value += d;
        i++;
      }
    }
    // A word cut short by a comment still counts, unless the comment began it.
    if (value !== '' || quoted || !comment) tokens.push({ value, quoted });
  }
  return { tokens };
}

/** Writes a value so that `tokenize` reads it back unchanged as one word (and as a value, not an option). */
export function quoteWord(value: string): string {
  if (/^[A-Za-z0-9_./:@%+,=$!*~^][A-Za-z0-9_./:@%+,=$!*~^-]*$/.test(value)) return value;
  return `"${value.replace(/["\\$`]/g, (m) => `\\${m}`)}"`;
}

/** Always in double quotes, for values that read better quoted (`--append="…"`, sshkey). */
export function doubleQuote(value: string): string {
  return `"${value.replace(/["\\$`]/g, (m) => `\\${m}`)}"`;
}
