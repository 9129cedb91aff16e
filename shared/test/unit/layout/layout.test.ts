// The data layout: every service finds a job's files where the others put them, and no path is
// built from anything but a job id and a plain file name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataLayout, JobUrls, imageKey, imagePrefix, jobKeys } from '../../../src/layout/index.ts';

const id = '0123456789abcdef0123456789abcdef';

test('a job\'s files are keys under the data directory', () => {
  const files = new DataLayout('/srv/img').job(id);
  assert.deepEqual(files, {
    log: `/srv/img/logs/${id}.log`,
    failure: `/srv/img/logs/${id}.failed.json`,
    imageDir: `/srv/img/images/${id}`,
    result: `/srv/img/images/${id}/result.json`,
    work: `/srv/img/work/${id}`,
    spool: `/srv/img/work/${id}.log`,
    output: `/srv/img/work/${id}.out`,
  });
  // The result_queue's logfile field is the key, not a host path.
  assert.equal(jobKeys(id).log, `logs/${id}.log`);
});

test('anything but a job id is refused before a path is made', () => {
  const layout = new DataLayout('/srv/img');
  for (const bad of ['../etc', `${id}/..`, id.toUpperCase(), '', `${id}\0`]) {
    assert.throws(() => layout.job(bad), /32 lowercase hex digits/, JSON.stringify(bad));
  }
});

test('an image name must be a plain file name', () => {
  const layout = new DataLayout('/srv/img');
  assert.equal(layout.image(id, 'img-x-raw.raw'), `/srv/img/images/${id}/img-x-raw.raw`);
  for (const bad of ['', '.', '..', '../result.json', 'a/b', 'x\0y']) assert.equal(layout.image(id, bad), undefined, JSON.stringify(bad));
});

test('the store\'s keys of a job\'s image folder', () => {
  assert.equal(imageKey(id, 'img-x-raw.raw'), `images/${id}/img-x-raw.raw`);
  assert.equal(imagePrefix(id), `images/${id}/`);
  for (const bad of ['', '.', '..', '../result.json', 'a/b', 'x\0y', '.hidden', 'a b']) assert.equal(imageKey(id, bad), undefined, JSON.stringify(bad));
  assert.throws(() => imageKey('../etc', 'x'), /32 lowercase hex digits/);
});

test('the URLs the frontend serves', () => {
  const urls = new JobUrls('https://img.example');
  assert.equal(urls.page(id), `https://img.example/job/${id}`);
  assert.equal(urls.log(id), `https://img.example/job/${id}/log`);
  assert.equal(urls.image(id), `https://img.example/images/${id}`);
  assert.equal(urls.api(id), `https://img.example/api/v1/jobs/${id}`);
});
