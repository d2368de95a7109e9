import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderConfigTable, renderEnvExample, settingDocs } from '../../agent/config/docs.js';
import { PACKAGE_ROOT } from '../../agent/paths.js';

test('every setting has a description and an example', () => {
  for (const s of settingDocs()) {
    assert.ok(s.description.length > 10, `${s.name} needs a description`);
    assert.ok(s.example, `${s.name} needs an example`);
  }
});

test('.env.example is generated from the schema (run npm run docs:config)', () => {
  assert.equal(readFileSync(join(PACKAGE_ROOT, '.env.example'), 'utf8'), renderEnvExample());
});

test('the README configuration table is generated from the schema (run npm run docs:config)', () => {
  assert.ok(readFileSync(join(PACKAGE_ROOT, 'README.md'), 'utf8').includes(renderConfigTable()));
});
