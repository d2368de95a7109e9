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

test('docs/mqtt.md and docs/schemas are generated from the payload schemas (run npm run docs)', async () => {
  const { jsonSchemas, mqttDoc, EXAMPLES } = await import('../../agent/publish/docs.js');
  const { TOPIC_SCHEMAS } = await import('../../agent/publish/payloads.js');
  assert.equal(readFileSync(join(PACKAGE_ROOT, 'docs', 'mqtt.md'), 'utf8'), mqttDoc());
  for (const [file, text] of Object.entries(jsonSchemas())) assert.equal(readFileSync(join(PACKAGE_ROOT, 'docs', 'schemas', file), 'utf8'), text, file);
  for (const [topic, schema] of Object.entries(TOPIC_SCHEMAS)) schema.parse(EXAMPLES[topic as keyof typeof EXAMPLES]);
});
