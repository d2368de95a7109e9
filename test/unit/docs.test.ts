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

test('the table of docs/configuration.md is generated from the schema (run npm run docs:config)', () => {
  assert.ok(readFileSync(join(PACKAGE_ROOT, 'docs', 'configuration.md'), 'utf8').includes(renderConfigTable()));
});

test('docs/mqtt.md and docs/schemas are generated from the payload schemas (run npm run docs)', async () => {
  const { jsonSchemas, mqttDoc, EXAMPLES } = await import('../../agent/mqtt/docs.js');
  const { TOPIC_SCHEMAS } = await import('../../agent/mqtt/payloads.js');
  assert.equal(readFileSync(join(PACKAGE_ROOT, 'docs', 'mqtt.md'), 'utf8'), mqttDoc());
  for (const [file, text] of Object.entries(jsonSchemas())) assert.equal(readFileSync(join(PACKAGE_ROOT, 'docs', 'schemas', file), 'utf8'), text, file);
  for (const [topic, schema] of Object.entries(TOPIC_SCHEMAS)) schema.parse(EXAMPLES[topic as keyof typeof EXAMPLES]);
});

test('docs/architecture.md names only folders and files that exist, and every folder under agent/', async () => {
  const { existsSync, readdirSync } = await import('node:fs');
  const text = readFileSync(join(PACKAGE_ROOT, 'docs', 'architecture.md'), 'utf8');
  const named = new Set([...text.matchAll(/`(agent\/[\w./<>-]*)`/g)].map((m) => m[1]!).filter((p) => !p.includes('<')));
  assert.ok(named.size > 20, `${named.size} paths named`);
  for (const path of named) assert.ok(existsSync(join(PACKAGE_ROOT, path)), `${path} is named in docs/architecture.md but does not exist`);
  const folders = readdirSync(join(PACKAGE_ROOT, 'agent'), { withFileTypes: true }).filter((e) => e.isDirectory());
  for (const folder of folders) assert.ok(named.has(`agent/${folder.name}/`), `agent/${folder.name}/ is missing from docs/architecture.md`);
});
