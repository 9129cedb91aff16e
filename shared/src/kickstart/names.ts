// Syntax of the names that reach the builder. Values end up in apt, debconf and shell scripts inside the
// sandbox, so they are checked here, once, by patterns without nested quantifiers (linear time).

/** Debian policy 5.6.1: lowercase letters, digits, `+`, `-`, `.`; at least two characters; alphanumeric first. */
export function isValidDebianPackageName(name: string): boolean {
  return /^[a-z0-9][a-z0-9+.-]+$/.test(name);
}

/** Repository names appear in `repo --name=` and in apt source file names. */
export function isValidRepoName(name: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9+._-]*$/.test(name);
}

/** Debian suites and components: `bookworm`, `bookworm-updates`, `main`, `non-free-firmware`. */
export function isValidSuiteName(name: string): boolean {
  return /^[a-z0-9][a-z0-9.+_/-]*$/.test(name);
}

/** useradd's default NAME_REGEX in Debian, without the trailing `$` of machine accounts. */
export function isValidUserName(name: string): boolean {
  return name.length <= 32 && /^[a-z_][a-z0-9_-]*$/.test(name);
}

/** A passwd comment field (`user --gecos`): one line, no `:` (the field separator), no control characters. */
export function isValidGecos(text: string): boolean {
  return text.length <= 256 && !/[:\x00-\x1f\x7f]/.test(text);
}

/** One authorized_keys line (`sshkey`): no control characters, so it stays one line of the file. */
export function isValidSshKey(key: string): boolean {
  return key.length > 0 && key.length <= 16384 && !/[\x00-\x1f\x7f]/.test(key);
}

/** RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens, 63 characters each. */
export function isValidHostname(name: string): boolean {
  if (name.length === 0 || name.length > 253) return false;
  return name.split('.').every((l) => l.length <= 63 && /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$/.test(l));
}

/** Locale (`en_US.UTF-8`), keymap (`us`, `de-latin1`) and zone (`Europe/Helsinki`) names: one word, no shell syntax. */
export function isValidSettingWord(value: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9_.+@/:-]*$/.test(value);
}

/** Group names are table keys with spaces (`X for Netbooks`): words, no shell or kickstart syntax. */
export function isValidGroupName(name: string): boolean {
  return name.length <= 128 && /^[A-Za-z0-9][A-Za-z0-9 _.+&()\/-]*$/.test(name) && !name.endsWith(' ');
}

/** Absolute paths for `--interpreter` and `--log`: no spaces or quotes, so they survive a round trip bare. */
export function isValidAbsolutePath(path: string): boolean {
  return /^\/[A-Za-z0-9_.+\/-]*$/.test(path);
}

/** Repository URLs: http, https or file, one word (they are written bare into `repo --baseurl=`). */
export function isValidRepoUrl(url: string): boolean {
  if (/[\s"'\\#]/.test(url)) return false;
  try {
    return ['http:', 'https:', 'file:'].includes(new URL(url).protocol);
  } catch {
    return false;
  }
}

/** systemd unit names (`services`): letters, digits and `: - _ . @`, at most 256 characters (systemd's own rule, less `\`). */
export function isValidUnitName(name: string): boolean {
  return name.length <= 256 && /^[A-Za-z0-9:_.@-]+$/.test(name) && !name.startsWith('-');
}

/** XKB layout, variant and option names (`cz`, `qwerty`, `grp:alt_shift_toggle`): one word each. */
export function isValidXkbWord(name: string): boolean {
  return name.length <= 64 && /^[A-Za-z0-9][A-Za-z0-9_:+.-]*$/.test(name);
}
