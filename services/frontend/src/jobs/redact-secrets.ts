// Passwords in a kickstart or template are blanked before it is shown, even to the job's owner,
// unless asked for explicitly (`?reveal=secrets`): a page left open, a screenshot or a shared
// terminal should not show them. Blanked: the password of `rootpw` and `sshpw` (plain or an
// --iscrypted hash) and the value of any `--password` option (`user --password=…`). Line by line,
// so it works on a kickstart and on the kickstart lines inside a YAML template alike; a line that
// only mentions the word loses what follows it, which errs on the side of hiding.
export const REDACTED = '[redacted]';

const PASSWORD_OPTION = /(--password)(=|\s+)("[^"]*"?|'[^']*'?|\S+)/g;
// [\s\S], not `.`: a password may hold any character but the line's end.
const POSITIONAL_PASSWORD = /^([\s\S]*?\b(?:rootpw|sshpw)\b)([\s\S]*)$/;

export function redactSecrets(text: string): { text: string; redacted: number } {
  let redacted = 0;
  const lines = text.split('\n').map((whole) => {
    // A browser's textarea and many editors end lines with CRLF: the CR is kept, and not taken for part of a word.
    const cr = whole.endsWith('\r') ? '\r' : '';
    const line = cr ? whole.slice(0, -1) : whole;
    let out = line.replace(PASSWORD_OPTION, (_m, opt: string, sep: string) => {
      redacted++;
      return `${opt}${sep === '=' ? '=' : ' '}${REDACTED}`;
    });
    const m = POSITIONAL_PASSWORD.exec(out);
    if (m) {
      const words = m[2]!.trim().split(/\s+/).filter(Boolean);
      // Options stay (--plaintext, --iscrypted, --lock, --username=…); every other word may be the password.
      const options = words.filter((w) => w.startsWith('--') && !w.includes(REDACTED));
      const rest = words.filter((w) => !options.includes(w));
      if (rest.some((w) => !w.includes(REDACTED))) redacted++;
      out = [m[1], ...options, ...(rest.length ? [REDACTED] : [])].join(' ');
      if (rest.length === 0 && !m[2]!.trim()) out = m[1]!;
    }
    return out + cr;
  });
  return { text: lines.join('\n'), redacted };
}
