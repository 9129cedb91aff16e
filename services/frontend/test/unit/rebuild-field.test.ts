// The submission's rebuild field: a JSON boolean, or the form's checkbox and the CLI's string.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rebuildAsked } from '../../src/submission.ts';

test('rebuild: booleans and the form\'s yes and no strings are read; anything else is undefined (refused, naming the field)', () => {
  for (const yes of [true, 'true', 'on', '1', 'TRUE', ' yes ']) assert.equal(rebuildAsked(yes), true, String(yes));
  for (const no of [false, 'false', 'off', '0', '', undefined]) assert.equal(rebuildAsked(no), false, String(no));
  for (const bad of ['maybe', '2', 'truee']) assert.equal(rebuildAsked(bad), undefined, bad);
});
