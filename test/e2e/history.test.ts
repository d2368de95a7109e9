// The History page in a real browser (Debian's chromium driven by playwright-core) on a
// running agent: its charts draw the numbers the agent recorded, and the latest crossings'
// evidence thumbnails load; without the token, neither the page nor its data is served.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser } from 'playwright-core';
import { CHROMIUM, launchChromium } from '../helpers/browser.js';
import sharp from 'sharp';
import { edgecam, httpBase, untilAsync } from '../helpers/agent.js';
import { PACKAGE_ROOT } from '../../agent/paths.js';

const ARTIFACTS = join(PACKAGE_ROOT, 'test-artifacts');

interface StatsRow {
  direction: string;
  class_name: string;
  count: number;
}

test(
  'the History page charts the recorded counts per line, direction and class, and shows the latest crossings with their photos',
  { skip: CHROMIUM ? false : 'chromium is not installed', timeout: 180_000 },
  async () => {
    const token = 'history-page-7c2';
    const run = edgecam([], {
      VIEWER_ENABLED: 'true',
      HTTP_TOKEN: token,
      HTTP_BIND: '127.0.0.1',
      MQTT_EMBEDDED_PORT: '0',
      STATE_DIR: mkdtempSync(join(tmpdir(), 'edgecam-history-page-')),
      DETECT_THREADS: '1',
      LINES: 'mid:480,540;480,0',
      STATS_INTERVAL: '10',
      EVIDENCE_CLASSES: 'person,dog,cat,sheep,horse,car,truck,bicycle,bird,cow',
    });
    let browser: Browser | undefined;
    try {
      const base = await httpBase(run);
      const api = async <T>(path: string): Promise<T> => (await (await fetch(`${base}${path}`, { headers: { Authorization: `Bearer ${token}` } })).json()) as T;
      // Two intervals with crossings in them, and photos.
      await untilAsync(async () => (await api<StatsRow[]>('/api/stats.json?class=*')).filter((r) => r.count > 0).length >= 2, 90_000, 'two intervals with crossings');
      assert.equal((await fetch(`${base}/history`)).status, 401);
      assert.equal((await fetch(`${base}/api/stats.json`)).status, 401);

      browser = await launchChromium();
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      await page.goto(`${base}/?token=${token}`);
      await page.waitForFunction(() => !(document.getElementById('history') as HTMLAnchorElement).hidden, null, { timeout: 30_000 });
      await page.click('#history');
      await page.waitForURL(/\/history\?token=/);

      // The page and the API read at the same moment: retried when an interval ends in between.
      const totals = (rows: StatsRow[]) => {
        const out: Record<string, number> = {};
        for (const r of rows.filter((x) => x.class_name !== '*')) out[`${r.direction} · ${r.class_name}`] = (out[`${r.direction} · ${r.class_name}`] ?? 0) + r.count;
        return out;
      };
      let shown: Record<string, number> | undefined;
      let recorded: Record<string, number> | undefined;
      for (let attempt = 0; attempt < 5; attempt++) {
        const before = totals(await api<StatsRow[]>('/api/stats.json'));
        await page.reload();
        await page.waitForFunction(() => document.body.dataset.ready, null, { timeout: 30_000 });
        shown = await page.evaluate(
          () => (window as unknown as { edgecamHistory: { lines: Record<string, { counts: Record<string, number> }> } }).edgecamHistory.lines.mid?.counts,
        );
        recorded = totals(await api<StatsRow[]>('/api/stats.json'));
        if (JSON.stringify(before) === JSON.stringify(recorded)) break;
      }
      assert.ok(Object.values(recorded!).reduce((a, b) => a + b, 0) >= 2);
      assert.deepEqual(shown, recorded, 'the counts chart sums the recorded intervals');

      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, 'history.png'), fullPage: true });
      // Three charts for the line; the distribution's canvas (not its legend) holds the bars of the recorded speeds.
      assert.equal(await page.locator('.uplot').count(), 3);
      const png = await page.locator('.uplot canvas').nth(2).screenshot();
      const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
      let blue = 0;
      for (let i = 0; i < data.length; i += info.channels) if (Math.abs(data[i]! - 0x1e) < 40 && Math.abs(data[i + 1]! - 0x88) < 40 && data[i + 2]! > 190) blue++;
      const histogram = await page.evaluate(
        () => (window as unknown as { edgecamHistory: { lines: Record<string, { histogram: number[] }> } }).edgecamHistory.lines.mid!.histogram,
      );
      assert.ok(histogram.reduce((a, b) => a + b, 0) >= 2, `histogram ${histogram.join(',')}`);
      assert.ok(blue > 50, `${blue} pixels of bars`);

      // The latest crossings, one row each, every one with its photo loaded at the source's size
      // (a photo is written a moment after its crossing: a row that came first is looked at again).
      let widths: number[] = [];
      for (let attempt = 0; attempt < 3; attempt++) {
        await page.waitForFunction(() => Array.from(document.querySelectorAll('#crossings img')).every((i) => (i as HTMLImageElement).complete), null, { timeout: 10_000 });
        const rows = await page.locator('#crossings tbody tr').count();
        assert.equal(rows, await page.evaluate(() => (window as unknown as { edgecamHistory: { crossings: number } }).edgecamHistory.crossings));
        assert.ok(rows >= 2, `${rows} rows`);
        widths = await page.$$eval('#crossings img', (imgs) => imgs.map((i) => (i as HTMLImageElement).naturalWidth));
        assert.equal(widths.length, rows, 'every crossing of EVIDENCE_CLASSES has a photo');
        if (widths.every((w) => w === 960)) break;
        await page.reload();
        await page.waitForFunction(() => document.body.dataset.ready, null, { timeout: 30_000 });
      }
      assert.ok(
        widths.every((w) => w === 960),
        `thumbnails ${widths.join(',')}`,
      );
    } finally {
      await browser?.close();
      run.child.kill('SIGKILL');
    }
  },
);
