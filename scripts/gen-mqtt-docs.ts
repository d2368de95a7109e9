// `npm run docs`: writes docs/mqtt.md and docs/schemas/*.schema.json from the payload schemas.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { jsonSchemas, mqttDoc } from '../agent/mqtt/docs.js';
import { PACKAGE_ROOT } from '../agent/paths.js';

const docs = join(PACKAGE_ROOT, 'docs');
mkdirSync(join(docs, 'schemas'), { recursive: true });
writeFileSync(join(docs, 'mqtt.md'), mqttDoc());
for (const [file, text] of Object.entries(jsonSchemas())) writeFileSync(join(docs, 'schemas', file), text);
console.log('wrote docs/mqtt.md and docs/schemas/');
