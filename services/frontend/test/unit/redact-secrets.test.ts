// Passwords in a kickstart or template are blanked, whatever the line endings, and nothing else changes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { redactSecrets } from '../../src/jobs/redact-secrets.ts';

const cases: Array<[string, string]> = [
  ['rootpw --plaintext hunter2', 'rootpw --plaintext [redacted]'],
  ['rootpw --iscrypted $6$salt$hash', 'rootpw --iscrypted [redacted]'],
  ['rootpw hunter2', 'rootpw [redacted]'],
  ['rootpw --plaintext "two words"', 'rootpw --plaintext [redacted]'],
  ['rootpw --lock', 'rootpw --lock'],
  ['user --name=alice --password=s3cret --plaintext --groups=wheel', 'user --name=alice --password=[redacted] --plaintext --groups=wheel'],
  ['user --name=bob --iscrypted --password $6$salt$hash', 'user --name=bob --iscrypted --password [redacted]'],
  ['user --name=carol --password="a b c"', 'user --name=carol --password=[redacted]'],
  ['sshpw --username=root --plaintext topsecret', 'sshpw --username=root --plaintext [redacted]'],
  ['  - rootpw --plaintext yamlsecret', '  - rootpw --plaintext [redacted]'],
  ['timezone UTC', 'timezone UTC'],
  ['user --name=dave --groups=wheel', 'user --name=dave --groups=wheel'],
];

test('rootpw, sshpw and --password values are blanked, options and other lines kept', () => {
  for (const [line, want] of cases) {
    const r = redactSecrets(line);
    assert.equal(r.text, want, line);
    assert.equal(r.redacted > 0, line !== want, `${line}: counted`);
  }
});

test('CRLF line endings (a browser\'s textarea) are kept and do not hide a password from redaction', () => {
  const ks = 'rootpw --plaintext crlf-secret\r\nuser --name=a --password=crlf-two\r\n%packages\r\nhostname\r\n%end\r\n';
  const r = redactSecrets(ks);
  assert.equal(r.text, 'rootpw --plaintext [redacted]\r\nuser --name=a --password=[redacted]\r\n%packages\r\nhostname\r\n%end\r\n');
  assert.ok(!r.text.includes('crlf-'));
});

test('a kickstart without secrets comes back unchanged', () => {
  const ks = '%packages\nhostname\n%end\n%post\necho rootpw is a word here\n%end\n';
  assert.equal(redactSecrets('%packages\nhostname\n%end\n').text, '%packages\nhostname\n%end\n');
  assert.equal(redactSecrets(ks).redacted, 1, 'a line that mentions rootpw loses what follows, erring on the side of hiding');
});
