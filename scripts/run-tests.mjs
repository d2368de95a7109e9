// Runs every compiled test file (dist/test/**/*.test.js) under Node's test runner.
// Node 20's runner takes no globs, so the files are listed here. A compiled test whose
// source is gone (left in dist/ after a test was deleted or renamed) is not run. With
// CI=true a skipped test fails the run: CI installs every tool the suite uses.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const roots = process.argv.slice(2).length ? process.argv.slice(2) : ['dist/test'];
const files = [];
// The arm64 suite runs under emulation for minutes, the fleet suite for minutes on a cluster: only when asked for (npm run test:arm64, npm run test:fleet).
const walk = (dir) => {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory() && [join('dist', 'test', 'arm64'), join('dist', 'test', 'fleet')].includes(path) && !process.argv.slice(2).length) continue;
    if (entry.isDirectory()) walk(path);
    else if (entry.name.endsWith('.test.js')) files.push(path);
  }
};
for (const root of roots) {
  if (root.endsWith('.js')) files.push(root);
  else walk(root);
}
const source = (compiled) => relative('dist', compiled).replace(/\.js$/, '.ts');
const stale = files.filter((f) => !existsSync(source(f)));
for (const f of stale) console.log(`run-tests: not running ${f}: its source ${source(f)} is gone`);
const run = files.filter((f) => !stale.includes(f)).sort();

mkdirSync('dist', { recursive: true });
const tap = join('dist', 'test-report.tap');
const result = spawnSync(
  process.execPath,
  ['--test', '--test-reporter=spec', '--test-reporter-destination=stdout', '--test-reporter=tap', `--test-reporter-destination=${tap}`, ...run],
  { stdio: 'inherit' },
);
let status = result.status ?? 1;

if (process.env.CI === 'true' && existsSync(tap)) {
  // TAP marks a skipped test with "# SKIP" on its "ok" line.
  const skipped = readFileSync(tap, 'utf8')
    .split('\n')
    .filter((line) => /^\s*ok \d+ .*# SKIP/.test(line));
  if (skipped.length) {
    console.log(`\nrun-tests: ${skipped.length} test(s) skipped; in CI every tool is installed, so a skip is a failure:`);
    for (const line of skipped) console.log(`  ${line.trim()}`);
    status ||= 1;
  }
}
process.exit(status);
