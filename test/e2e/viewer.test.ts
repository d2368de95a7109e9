// The live viewer in a real browser (Debian's chromium driven by playwright-core), the
// HTTP endpoints, and the restream read back by ffprobe.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { PACKAGE_ROOT } from '../../agent/paths.js';
import { freePort, hasBinary, MOSQUITTO, startMosquitto, type Mosquitto } from '../helpers/net.js';
import { edgecam, sleep, until, type Run } from '../helpers/agent.js';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const ARTIFACTS = join(PACKAGE_ROOT, 'test-artifacts');

describe('viewer', { skip: MOSQUITTO ? false : 'mosquitto is not installed', timeout: 120_000 }, () => {
  let broker: Mosquitto;
  let run: Run;
  let base: string;
  let hls: string;
  const token = 'test-token-5e1';

  before(async () => {
    broker = await startMosquitto();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    hls = join(mkdtempSync(join(tmpdir(), 'edgecam-hls-')), 'live.m3u8');
    run = edgecam([], { VIEWER_ENABLED: 'true', HTTP_PORT: String(port), HTTP_BIND: '127.0.0.1', HTTP_TOKEN: token, MQTT_URL: broker.url, METERS_PER_PIXEL: '0.05', RESTREAM_URL: hls, RESTART_BACKOFF_MAX: '2', DETECT_THREADS: '1' });
    await until(() => run.lines().some((l) => l.msg === 'HTTP server listening'), 20_000, 'the viewer');
  });

  after(async () => {
    run.child.kill('SIGTERM');
    await run.exit;
    await broker.stop();
  });

  const get = (path: string, headers: Record<string, string> = { Authorization: `Bearer ${token}` }) => fetch(base + path, { headers });

  test('a token is required, by header or query; security headers are set; nothing outside the page is served', async () => {
    assert.equal((await get('/', {})).status, 401);
    assert.equal((await get('/', { Authorization: 'Bearer wrong' })).status, 401);
    const page = await get(`/?token=${token}`, {});
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'self'/);
    assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
    assert.doesNotMatch(await page.text(), /https?:\/\//, 'no external resources');
    for (const path of ['/../package.json', '/%2e%2e/package.json', '/app.js/../../package.json', '/agent/viewer/public/app.js']) assert.equal((await get(path)).status, 404, path);
    assert.equal((await fetch(base + '/', { method: 'POST', headers: { Authorization: `Bearer ${token}` } })).status, 405);
  });

  test('/metrics is Prometheus text; /snapshot.jpg is a JPEG with and without boxes', async () => {
    await until(() => run.lines().some((l) => l.msg === 'source opened'), 10_000, 'frames');
    await sleep(1500);
    const text = await (await get('/metrics')).text();
    for (const name of ['edgecam_frames_in_total', 'edgecam_frames_dropped_total', 'edgecam_inference_ms_bucket', 'edgecam_mqtt_messages_sent_total', 'edgecam_mqtt_messages_queued_total', 'edgecam_mqtt_reconnects_total', 'edgecam_ffmpeg_restarts_total', 'edgecam_restream_restarts_total', 'edgecam_frame_copies_total', 'edgecam_frame_buffers']) {
      assert.match(text, new RegExp(`^${name}(\\{[^}]*\\})? \\d+(\\.\\d+)?(e[-+]\\d+)?$`, 'm'), name);
    }
    // The viewer draws frames, so they are copied, into a bounded pool of buffers.
    assert.ok(Number(/^edgecam_frame_copies_total (\d+)/m.exec(text)?.[1]) > 0, 'frames copied for the viewer');
    assert.ok(Number(/^edgecam_frame_buffers (\d+)/m.exec(text)?.[1]) <= 8, 'buffers bounded');
    // Every line is a comment or `name{labels} value`.
    for (const line of text.split('\n').filter(Boolean)) assert.match(line, /^(# (HELP|TYPE) \w+ .+|[a-zA-Z_:][\w:]*(\{[^}]*\})? -?[\d.e+-]+|[a-zA-Z_:][\w:]*(\{[^}]*\})? (NaN|[+-]Inf))$/, line);
    for (const path of ['/snapshot.jpg', '/snapshot.jpg?raw=1']) {
      const res = await get(path);
      assert.equal(res.status, 200);
      const body = Buffer.from(await res.arrayBuffer());
      assert.equal(res.headers.get('content-type'), 'image/jpeg');
      assert.deepEqual([...body.subarray(0, 3)], [0xff, 0xd8, 0xff]);
    }
  });

  test('the page in chromium: live video, boxes of the sample\'s objects, updating numbers', { skip: CHROMIUM ? false : 'chromium is not installed' }, async () => {
    let browser: Browser | undefined;
    try {
      browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'] });
      const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
      await page.goto(`${base}/?token=${token}`);
      await page.waitForFunction(() => document.getElementById('connection')?.textContent === 'live', null, { timeout: 15_000 });
      // Wait for a frame with a detection, then check the overlay has box pixels.
      await page.waitForFunction(() => (document.body.dataset.classes ?? '') !== '', null, { timeout: 20_000 });
      const classes = await page.evaluate(() => document.body.dataset.classes!.split(','));
      assert.ok(classes.some((c) => ['person', 'dog', 'car', 'bicycle', 'truck'].includes(c)), classes.join());
      const boxPixels = await page.evaluate(() => {
        const c = document.getElementById('overlay') as HTMLCanvasElement;
        const data = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 3; i < data.length; i += 4) if (data[i]! > 0) n++;
        return n;
      });
      assert.ok(boxPixels > 100, `${boxPixels} overlay pixels drawn`);
      const video = page.locator('#view');
      const first = await video.screenshot();
      const frameBefore = Number(await page.evaluate(() => document.body.dataset.frame));
      await sleep(1000);
      const second = await video.screenshot();
      const frameAfter = Number(await page.evaluate(() => document.body.dataset.frame));
      assert.ok(!first.equals(second), 'the video area changes within a second');
      assert.ok(frameAfter > frameBefore, `frame counter ${frameBefore} → ${frameAfter}`);
      const latency = await page.evaluate(() => document.getElementById('latency')!.textContent);
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, 'viewer.png') });
      writeFileSync(join(ARTIFACTS, 'viewer-latency.txt'), `${latency}\n`);
    } finally {
      await browser?.close();
    }
  });

  test('ffprobe reads the restream: H.264, the source size and frame rate', { skip: hasBinary('ffprobe') ? false : 'ffprobe is not installed' }, async () => {
    await until(() => existsSync(hls) && /\.ts/.test(readFileSync(hls, 'utf8')), 20_000, 'the HLS playlist');
    const out = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=codec_name,width,height,r_frame_rate', '-of', 'json', hls], { encoding: 'utf8' })) as { streams: { codec_name: string; width: number; height: number; r_frame_rate: string }[] };
    assert.deepEqual(out.streams[0], { codec_name: 'h264', width: 960, height: 540, r_frame_rate: '15/1' });
  });

  test('/healthz is 200 while frames flow and MQTT is connected, 503 with the reason when the broker stops', async () => {
    const ok = await get('/healthz');
    assert.equal(ok.status, 200, await ok.clone().text());
    await broker.stop();
    await sleep(500);
    const down = await get('/healthz');
    assert.equal(down.status, 503);
    assert.deepEqual((await down.json() as { reasons: string[] }).reasons, ['MQTT broker not connected']);
  });
});

test('annotated restream: H.264 at DETECT_FPS with the boxes burned in, readable by ffprobe', { skip: hasBinary('ffprobe') ? false : 'ffprobe is not installed', timeout: 60_000 }, async () => {
  const playlist = join(mkdtempSync(join(tmpdir(), 'edgecam-hls-')), 'annotated.m3u8');
  const port = await freePort();
  const agent = edgecam([], { MQTT_EMBEDDED_PORT: String(port), RESTREAM_URL: playlist, RESTREAM_ANNOTATE: 'true', RESTREAM_SIZE: '640x360', DETECT_THREADS: '1' });
  try {
    await until(() => existsSync(playlist) && /\.ts/.test(readFileSync(playlist, 'utf8')), 30_000, 'the annotated HLS playlist');
    const out = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=codec_name,width,height,r_frame_rate', '-of', 'json', playlist], { encoding: 'utf8' })) as { streams: unknown[] };
    assert.deepEqual(out.streams[0], { codec_name: 'h264', width: 640, height: 360, r_frame_rate: '5/1' });
  } finally {
    agent.child.kill('SIGTERM');
    await agent.exit;
  }
});
