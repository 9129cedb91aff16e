// The signing key: made once and kept (the same key at the next start), or the operator's; a key
// that cannot sign stops the start with a message naming the setting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { tempDir } from '@img/shared/testing';
import { GENERATED_KEY_FILE, loadSigningKey } from '../../src/provenance/signing-key.ts';

const publicUrl = 'http://img.test';

test('without IMG_SIGNING_KEY a key is made at the first start, kept 0600 in the state directory, and the same one is used next time', async () => {
  const dir = await tempDir('img-key-');
  try {
    const first = await loadSigningKey({ stateDir: join(dir, 'state'), publicUrl });
    const file = join(dir, 'state', GENERATED_KEY_FILE);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    const again = await loadSigningKey({ stateDir: join(dir, 'state'), publicUrl });
    assert.equal(again.fingerprint, first.fingerprint);
    assert.match(first.fingerprint, /^[0-9A-F]{40}$/);
    // What it signs verifies against the public key it publishes, and nothing else does.
    const signature = await first.sign('a  b\n');
    const verificationKeys = await openpgp.readKey({ armoredKey: first.publicArmored });
    const good = await openpgp.verify({ message: await openpgp.createMessage({ text: 'a  b\n' }), signature: await openpgp.readSignature({ armoredSignature: signature }), verificationKeys });
    await good.signatures[0]!.verified;
    const bad = await openpgp.verify({ message: await openpgp.createMessage({ text: 'a  c\n' }), signature: await openpgp.readSignature({ armoredSignature: signature }), verificationKeys });
    await assert.rejects(bad.signatures[0]!.verified);
    assert.doesNotMatch(first.publicArmored, /PRIVATE/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('IMG_SIGNING_KEY: the operator\'s key is used; a missing file, a public key or one with a passphrase stops the start, naming the setting', async () => {
  const dir = await tempDir('img-key-');
  try {
    const { privateKey, publicKey } = await openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ name: 'operator' }], format: 'armored' });
    const locked = await openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ name: 'locked' }], passphrase: 'secret', format: 'armored' });
    await writeFile(join(dir, 'secret.asc'), privateKey);
    await writeFile(join(dir, 'public.asc'), publicKey);
    await writeFile(join(dir, 'locked.asc'), locked.privateKey);
    await writeFile(join(dir, 'garbage.asc'), '-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nnot a key\n-----END PGP PRIVATE KEY BLOCK-----\n');
    const mine = await loadSigningKey({ keyPath: join(dir, 'secret.asc'), stateDir: join(dir, 'state'), publicUrl });
    assert.equal(mine.fingerprint, (await openpgp.readKey({ armoredKey: publicKey })).getFingerprint().toUpperCase());
    await assert.rejects(stat(join(dir, 'state', GENERATED_KEY_FILE)), 'no key is generated when one is configured');
    const cases: Array<[string, RegExp]> = [
      ['missing.asc', /ConfigError: IMG_SIGNING_KEY: the signing key .*missing\.asc cannot be read/],
      ['public.asc', /ConfigError: IMG_SIGNING_KEY: .*public\.asc holds no OpenPGP secret key/],
      ['locked.asc', /ConfigError: IMG_SIGNING_KEY: .*passphrase/],
      ['garbage.asc', /ConfigError: IMG_SIGNING_KEY: the secret key in .*garbage\.asc cannot be used/],
    ];
    for (const [name, message] of cases) {
      await assert.rejects(loadSigningKey({ keyPath: join(dir, name), stateDir: join(dir, 'state'), publicUrl }), message, name);
    }
    assert.match(await readFile(join(dir, 'secret.asc'), 'utf8'), /PRIVATE KEY/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
