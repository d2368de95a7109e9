// `npm run docs:config`: writes .env.example and the table of docs/configuration.md from the schema.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderEnvExample, replaceConfigTable } from '../agent/config/docs.js';
import { PACKAGE_ROOT } from '../agent/paths.js';

writeFileSync(join(PACKAGE_ROOT, '.env.example'), renderEnvExample());
const page = join(PACKAGE_ROOT, 'docs', 'configuration.md');
writeFileSync(page, replaceConfigTable(readFileSync(page, 'utf8')));
console.log('wrote .env.example and the table of docs/configuration.md');
