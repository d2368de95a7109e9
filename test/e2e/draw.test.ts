// Draw, Save, count, in a real browser (Debian's chromium): the bundled sample with no
// lines; a line drawn across the path on the page and saved counts within 10 s and shows
// its counts; after a restart with the same env file it is still there and counting;
// Delete stops its messages and removes its Home Assistant configs.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, type Page } from 'playwright-core';
import { CHROMIUM, launchChromium } from '../helpers/browser.js';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../agent/mqtt/broker.js';
import { memoryLogger } from '../helpers/log.js';
import { freePort, subscribe, type Subscriber } from '../helpers/net.js';
import { edgecam, sleep, until, type Run } from '../helpers/agent.js';
import { PACKAGE_ROOT } from '../../agent/paths.js';

const ARTIFACTS = join(PACKAGE_ROOT, 'test-artifacts');

const TOKEN = 'draw-token-41c';

describe('draw, save, count', { skip: CHROMIUM ? false : 'chromium is not installed', timeout: 240_000 }, () => {
  let broker: EmbeddedBroker;
  let browser: Browser;
  let sub: Subscriber;
  let run: Run;
  let base: string;
  let port: number;
  const dir = mkdtempSync(join(tmpdir(), 'edgecam-draw-'));
  const envFile = join(dir, 'front.env');

  before(async () => {
    broker = await startEmbeddedBroker({ port: 0, host: '127.0.0.1', log: memoryLogger().log });
    port = await freePort();
    base = `http://127.0.0.1:${port}`;
    writeFileSync(
      envFile,
      [
        `MQTT_URL=mqtt://127.0.0.1:${broker.port}`,
        `HTTP_PORT=${port}`,
        'HTTP_BIND=127.0.0.1',
        `HTTP_TOKEN=${TOKEN}`,
        'VIEWER_ENABLED=true',
        'HA_DISCOVERY=true',
        'DETECT_THREADS=1',
        `STATE_DIR=${join(dir, 'state')}`,
        '',
      ].join('\n'),
    );
    sub = await subscribe(`mqtt://127.0.0.1:${broker.port}`, ['line/#', 'homeassistant/#']);
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await sub?.close();
    await broker?.close();
  });

  const start = async () => {
    // The test helper's own defaults (no viewer, any port) give way to the env file's.
    run = edgecam(['--env-file', envFile], { HTTP_PORT: String(port), VIEWER_ENABLED: 'true' });
    await until(() => run.lines().some((l) => l.msg === 'source opened'), 60_000, 'frames');
  };
  const stop = async () => {
    run.child.kill('SIGTERM');
    await run.exit;
  };
  const open = async (): Promise<Page> => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(`${base}/?token=${TOKEN}`);
    await page.waitForFunction(() => Number(document.body.dataset.frame ?? 0) > 0, null, { timeout: 60_000 });
    return page;
  };
  const lineConfigs = () => [...new Set(sub.messages.filter((m) => m.topic.startsWith('homeassistant/') && m.topic.includes('/line_door_')).map((m) => m.topic))];

  test('a line drawn and saved counts at once, survives a restart, and Delete removes it', async () => {
    await start();
    try {
      let page = await open();
      assert.equal(await page.locator('#in-force li').count(), 0, 'no lines, zones or masks at start');
      // Draw a line across the path: the sample is 960x540, its objects cross x = 480.
      await page.click('[data-tool="line"]');
      await page.fill('#shape-name', 'door');
      await page.locator('#overlay').scrollIntoViewIfNeeded();
      const box = (await page.locator('#overlay').boundingBox())!;
      const at = (x: number, y: number) => [box.x + (x * box.width) / 960, box.y + (y * box.height) / 540] as const;
      await page.mouse.click(...at(480, 520));
      await page.mouse.click(...at(480, 60));
      const saved = Date.now();
      await page.click('#save');
      await page.waitForFunction(() => document.getElementById('save-result')!.textContent === 'saved and applied', null, { timeout: 10_000 });
      await sub.waitFor((m) => m.some((x) => x.topic === 'line/door'), 10_000);
      assert.ok(Date.now() - saved <= 10_000);
      // The page draws it with its counts, and lists it as in force.
      await page.waitForFunction(() => /door out\s*[1-9]/.test(document.getElementById('lines')!.textContent ?? ''), null, { timeout: 20_000 });
      assert.match((await page.textContent('#in-force'))!, /line door/);
      assert.ok(lineConfigs().length >= 2, `Home Assistant sensors of the new line: ${lineConfigs().join(', ')}`);
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, 'viewer-saved-line.png') });
      await page.close();

      // The same env file again: the saved line is still there, and counting.
      await stop();
      sub.messages.length = 0;
      await start();
      await sub.waitFor((m) => m.some((x) => x.topic === 'line/door'), 30_000);
      page = await open();
      await page.waitForFunction(() => /line door/.test(document.getElementById('in-force')!.textContent ?? ''), null, { timeout: 10_000 });

      // Delete: its Home Assistant configs are cleared, and no crossing goes out any more.
      const configs = lineConfigs();
      await page.locator('#in-force li', { hasText: 'line door' }).locator('button.delete').click();
      await page.waitForFunction(() => document.getElementById('save-result')!.textContent === 'saved and applied', null, { timeout: 10_000 });
      await sub.waitFor((m) => configs.every((t) => m.some((x) => x.topic === t && x.payload === '')), 10_000);
      await sleep(1000);
      const after = sub.messages.filter((m) => m.topic === 'line/door').length;
      await sleep(10_000);
      assert.equal(sub.messages.filter((m) => m.topic === 'line/door').length, after, 'no crossing of a deleted line');
      assert.equal(await page.locator('#in-force li').count(), 0);
      await page.close();
    } finally {
      await stop();
    }
  });
});
