// `npm run docs:screenshot`: the README's picture, docs/viewer.png, from a real run: the
// agent on the bundled sample with a counting line, its viewer in Debian's chromium,
// taken once the line has counted.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { PACKAGE_ROOT } from '../agent/paths.js';
import { freePort } from './net.js';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
if (!CHROMIUM) throw new Error('chromium is not installed: apt-get install chromium');

const port = await freePort();
const agent = spawn(process.execPath, [join(PACKAGE_ROOT, 'dist', 'agent', 'cli.js'), 'run'], {
  env: {
    PATH: process.env.PATH,
    STATE_DIR: mkdtempSync(join(tmpdir(), 'edgecam-screenshot-')),
    HTTP_PORT: String(port),
    MQTT_EMBEDDED_PORT: String(await freePort()),
    LINES: 'gate:480,540;480,250',
    LINE_DIRECTIONS: 'gate:eastbound,westbound',
    LOG_LEVEL: 'warn',
  },
  stdio: 'ignore',
});
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await page.goto(`http://127.0.0.1:${port}/`);
      break;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  await page.waitForFunction(() => document.getElementById('connection')?.textContent === 'live', null, { timeout: 30_000 });
  // Once the line has counted something and the sample's objects are in view.
  await page.waitForFunction(() => /[1-9]/.test(document.getElementById('lines')?.textContent ?? ''), null, { timeout: 60_000 });
  await page.waitForFunction(() => (document.body.dataset.classes ?? '').split(',').filter(Boolean).length >= 2, null, { timeout: 30_000 });
  await page.screenshot({ path: join(PACKAGE_ROOT, 'docs', 'viewer.png') });
  console.log('wrote docs/viewer.png');
} finally {
  await browser.close();
  agent.kill('SIGTERM');
}
