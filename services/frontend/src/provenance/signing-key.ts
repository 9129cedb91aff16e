// The service's OpenPGP signing key, which signs each job's SHA256SUMS. Only the frontend reads it
// (it serves the downloads and signs when a SHA256SUMS.sign is asked for). It is the operator's key
// (IMG_SIGNING_KEY, an armored secret key file), or one made at the first start and kept in the
// state directory. A configured key that cannot be used stops the service at start: signing with
// some other key would be worse than not starting.
import { constants } from 'node:fs';
import { mkdir, open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { ConfigError } from '@img/shared/config';

/** The key file's name in the state directory when IMG_SIGNING_KEY is not set. */
export const GENERATED_KEY_FILE = 'signing-key.asc';
/** Largest key file read. */
const MAX_KEY_BYTES = 1 << 20;

export interface SigningKey {
  /** The public key, ASCII armored, as /signing-key.asc serves it. */
  publicArmored: string;
  /** Upper-case hex, as gpg prints it. */
  fingerprint: string;
  /** Where it came from: the setting, or the generated file. */
  source: string;
  /** A detached, ASCII-armored signature of `text`. */
  sign(text: string): Promise<string>;
}

async function fromArmored(armored: string, source: string): Promise<SigningKey> {
  const key = await openpgp.readPrivateKey({ armoredKey: armored });
  if (!key.isDecrypted()) throw new Error('the key is protected by a passphrase; IMG needs a key without one (keep the file readable by the service only)');
  const publicArmored = key.toPublic().armor();
  return {
    publicArmored, source,
    fingerprint: key.getFingerprint().toUpperCase(),
    async sign(text: string) {
      const message = await openpgp.createMessage({ text });
      return openpgp.sign({ message, signingKeys: key, detached: true, format: 'armored' });
    },
  };
}

/**
 * Loads the signing key: `keyPath` when set (IMG_SIGNING_KEY), else `<stateDir>/signing-key.asc`,
 * generated there (mode 0600) when missing. Throws ConfigError naming the setting when the
 * configured key cannot be read or has no secret part.
 */
export async function loadSigningKey(opts: { keyPath?: string | undefined; stateDir: string; publicUrl: string }): Promise<SigningKey> {
  if (opts.keyPath) {
    let text: string;
    try {
      const buf = await readFile(opts.keyPath);
      if (buf.length > MAX_KEY_BYTES) throw new Error(`it is larger than ${MAX_KEY_BYTES} bytes`);
      text = buf.toString('utf8');
    } catch (err) {
      throw new ConfigError(`IMG_SIGNING_KEY: the signing key ${opts.keyPath} cannot be read: ${(err as Error).message}`);
    }
    if (!text.includes('-----BEGIN PGP PRIVATE KEY BLOCK-----')) {
      throw new ConfigError(`IMG_SIGNING_KEY: ${opts.keyPath} holds no OpenPGP secret key (an ASCII-armored "PRIVATE KEY BLOCK" is needed, as \`gpg --export-secret-keys --armor\` writes it; a public key cannot sign)`);
    }
    try {
      return await fromArmored(text, opts.keyPath);
    } catch (err) {
      throw new ConfigError(`IMG_SIGNING_KEY: the secret key in ${opts.keyPath} cannot be used: ${(err as Error).message}`);
    }
  }
  const path = join(opts.stateDir, GENERATED_KEY_FILE);
  let text: string | undefined;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new ConfigError(`IMG_STATE_DIR: the generated signing key ${path} cannot be read: ${(err as Error).message}`);
  }
  if (text === undefined) {
    const host = new URL(opts.publicUrl).host;
    const { privateKey } = await openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ name: `IMG image signing key (${host})` }], format: 'armored' });
    await mkdir(opts.stateDir, { recursive: true, mode: 0o700 });
    // O_EXCL: a second copy starting at the same moment keeps the key the first one wrote.
    try {
      const fh = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
      await fh.writeFile(privateKey);
      await fh.close();
      text = privateKey;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new ConfigError(`IMG_STATE_DIR: the signing key cannot be kept in ${path}: ${(err as Error).message}`);
      text = await readFile(path, 'utf8');
    }
  }
  try {
    return await fromArmored(text, path);
  } catch (err) {
    throw new ConfigError(`IMG_STATE_DIR: the generated signing key ${path} cannot be used: ${(err as Error).message}; remove it to make a new one, or set IMG_SIGNING_KEY`);
  }
}
