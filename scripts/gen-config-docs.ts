// `npm run docs:config`: writes .env.example and the README's configuration table from the schema.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderEnvExample, replaceConfigTable } from '../agent/config/docs.js';
import { PACKAGE_ROOT } from '../agent/paths.js';

writeFileSync(join(PACKAGE_ROOT, '.env.example'), renderEnvExample());
const readmePath = join(PACKAGE_ROOT, 'README.md');
writeFileSync(readmePath, replaceConfigTable(readFileSync(readmePath, 'utf8')));
console.log('wrote .env.example and the README configuration table');
