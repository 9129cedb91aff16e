// IMG_AMQP_URL takes one RabbitMQ address, as it always did, or a cluster's nodes separated by commas.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { commonEnv, configForLog, parseConfig } from '../../../src/config/index.ts';

const schema = z.object({ IMG_AMQP_URL: commonEnv.IMG_AMQP_URL });
const parse = (value?: string) => parseConfig(schema, value === undefined ? {} : { IMG_AMQP_URL: value }).IMG_AMQP_URL;

test('one address is a list of one, and unset is the local node', () => {
  assert.deepEqual(parse('amqp://img:secret@rabbit:5672/img'), ['amqp://img:secret@rabbit:5672/img']);
  assert.deepEqual(parse(), ['amqp://guest:guest@127.0.0.1:5672']);
});

test('several addresses are taken in their order, spaces and empty entries ignored', () => {
  assert.deepEqual(parse(' amqp://a:5672, amqps://b:5671/img ,,amqp://c:5672 '), ['amqp://a:5672', 'amqps://b:5671/img', 'amqp://c:5672']);
});

test('a bad address is named by its place in the list, its password not shown', () => {
  assert.throws(() => parse('amqp://a:5672,http://img:hunter2@b:15672'), (err: Error) => {
    assert.match(err.message, /IMG_AMQP_URL: address 2 of 2 \(http:\/\/img:\*\*\*@b:15672\/\) is not an amqp:\/\/ or amqps:\/\/ URL/);
    assert.doesNotMatch(err.message, /hunter2/);
    return true;
  });
  assert.throws(() => parse('rabbit-1:5672'), /IMG_AMQP_URL: \(rabbit-1:5672\) is not an amqp/);
  assert.throws(() => parse('the broker'), /IMG_AMQP_URL: \(not a URL\) is not an amqp/);
  assert.throws(() => parse(' , '), /IMG_AMQP_URL: no RabbitMQ address/);
});

test('the logged configuration blanks every address\'s password', () => {
  const logged = configForLog({ IMG_AMQP_URL: parse('amqp://img:s3cret@a:5672,amqp://img:s3cret@b:5672') });
  assert.deepEqual(logged.IMG_AMQP_URL, ['amqp://img:***@a:5672', 'amqp://img:***@b:5672']);
});
