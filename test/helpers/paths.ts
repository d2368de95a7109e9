import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../agent/paths.js';

export const FIXTURES = join(PACKAGE_ROOT, 'test', 'fixtures');
export const CLI = join(PACKAGE_ROOT, 'dist', 'agent', 'cli.js');
