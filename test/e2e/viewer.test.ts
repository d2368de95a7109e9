// The live viewer in a real browser (Debian's chromium driven by playwright-core), the
// HTTP endpoints, and the restream read back by ffprobe.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { type Browser, type Page } from 'playwright-core';
import { CHROMIUM, launchChromium } from '../helpers/browser.js';
import { PACKAGE_ROOT } from '../../agent/paths.js';
import { freePort, hasBinary, MOSQUITTO, needs, startMosquitto, subscribe, type Mosquitto } from '../helpers/net.js';
import { classPayload, statePayload } from '../../agent/mqtt/payloads.js';
import sharp from 'sharp';
import { FIXTURES } from '../helpers/paths.js';
import { makeCarClip, stillClip } from '../helpers/clips.js';
import { edgecam, metric, sleep, until, untilAsync, type Run } from '../helpers/agent.js';

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
    run = edgecam([], {
      VIEWER_ENABLED: 'true',
      HTTP_PORT: String(port),
      HTTP_BIND: '127.0.0.1',
      HTTP_TOKEN: token,
      MQTT_URL: broker.url,
      RESTREAM_URL: hls,
      RESTART_BACKOFF_MAX: '2',
      DETECT_THREADS: '1',
    });
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
    for (const name of [
      'edgecam_frames_in_total',
      'edgecam_frames_dropped_total',
      'edgecam_inference_ms_bucket',
      'edgecam_mqtt_messages_sent_total',
      'edgecam_mqtt_messages_queued_total',
      'edgecam_mqtt_reconnects_total',
      'edgecam_ffmpeg_restarts_total',
      'edgecam_restream_restarts_total',
      'edgecam_frame_copies_total',
      'edgecam_frame_buffers',
    ]) {
      assert.match(text, new RegExp(`^${name}(\\{[^}]*\\})? \\d+(\\.\\d+)?(e[-+]\\d+)?$`, 'm'), name);
    }
    // The viewer draws frames, so they are copied, into a bounded pool of buffers.
    assert.ok(Number(/^edgecam_frame_copies_total (\d+)/m.exec(text)?.[1]) > 0, 'frames copied for the viewer');
    assert.ok(Number(/^edgecam_frame_buffers (\d+)/m.exec(text)?.[1]) <= 8, 'buffers bounded');
    // Every line is a comment or `name{labels} value`.
    for (const line of text.split('\n').filter(Boolean))
      assert.match(line, /^(# (HELP|TYPE) \w+ .+|[a-zA-Z_:][\w:]*(\{[^}]*\})? -?[\d.e+-]+|[a-zA-Z_:][\w:]*(\{[^}]*\})? (NaN|[+-]Inf))$/, line);
    for (const path of ['/snapshot.jpg', '/snapshot.jpg?raw=1']) {
      const res = await get(path);
      assert.equal(res.status, 200);
      const body = Buffer.from(await res.arrayBuffer());
      assert.equal(res.headers.get('content-type'), 'image/jpeg');
      assert.deepEqual([...body.subarray(0, 3)], [0xff, 0xd8, 0xff]);
    }
  });

  test("the page in chromium: live video, boxes of the sample's objects, updating numbers", { skip: CHROMIUM ? false : 'chromium is not installed' }, async () => {
    let browser: Browser | undefined;
    try {
      browser = await launchChromium();
      const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
      await page.goto(`${base}/?token=${token}`);
      await page.waitForFunction(() => document.getElementById('connection')?.textContent === 'live', null, { timeout: 60_000 });
      // Wait for a frame with a detection, then check the overlay has box pixels.
      await page.waitForFunction(() => (document.body.dataset.classes ?? '') !== '', null, { timeout: 60_000 });
      const classes = await page.evaluate(() => document.body.dataset.classes!.split(','));
      assert.ok(
        classes.some((c) => ['person', 'dog', 'car', 'bicycle', 'truck'].includes(c)),
        classes.join(),
      );
      // The boxes are drawn into the video's frames.
      const shot = await sharp(await page.locator('#video').screenshot())
        .removeAlpha()
        .raw()
        .toBuffer({ resolveWithObject: true });
      let boxPixels = 0;
      for (let i = 0; i < shot.data.length; i += 3) if (boxGreen(shot.data, i)) boxPixels++;
      assert.ok(boxPixels > 100, `${boxPixels} box pixels in the video`);
      const video = page.locator('#view');
      const first = await video.screenshot();
      const frameBefore = Number(await page.evaluate(() => document.body.dataset.frame));
      await sleep(1000);
      const second = await video.screenshot();
      const frameAfter = Number(await page.evaluate(() => document.body.dataset.frame));
      assert.ok(!first.equals(second), 'the video area changes within a second');
      assert.ok(frameAfter > frameBefore, `frame counter ${frameBefore} → ${frameAfter}`);
      // The bundled sample carries its own calibration: speeds show, true to the clip (21.6 km/h).
      // (Each estimate's accuracy is tested in agent.test.ts and speed.test.ts; here, that the page shows them.)
      await page.waitForFunction(() => document.querySelectorAll('#speeds li:not(.muted)').length >= 3, null, { timeout: 60_000 });
      assert.equal(await page.evaluate(() => document.getElementById('speeds')!.dataset.calibration), 'bundled sample');
      const shown = await page.evaluate(() => Array.from(document.querySelectorAll('#speeds li:not(.muted) span:last-child'), (e) => e.textContent!));
      for (const text of shown) assert.match(text, /^\d+(\.\d)? km\/h$/);
      assert.ok(
        shown.some((text) => Math.abs(parseFloat(text) - 21.6) < 2.2),
        `speeds shown: ${shown.join(', ')}`,
      );
      const latency = await page.evaluate(() => document.getElementById('latency')!.textContent);
      // The page says which model runs.
      assert.equal(await page.evaluate(() => document.getElementById('model')!.textContent), 'centernet-int8 (int8, 512x512)');
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, 'viewer.png') });
      writeFileSync(join(ARTIFACTS, 'viewer-latency.txt'), `${latency}\n`);
    } finally {
      await browser?.close();
    }
  });

  test('/snapshot.jpg is encoded once per frame, however many clients pull it', async () => {
    const value = async (name: string) => Number(await metric(base, name, { Authorization: `Bearer ${token}` }));
    const encodes = await value('edgecam_snapshot_encodes_total');
    const frames = await value('edgecam_frames_in_total');
    // 8 clients, 10 snapshots each, as fast as they can.
    const sizes = await Promise.all(
      Array.from({ length: 8 }, async () => {
        let bytes = 0;
        for (let i = 0; i < 10; i++) bytes += (await (await get('/snapshot.jpg')).arrayBuffer()).byteLength;
        return bytes;
      }),
    );
    assert.ok(sizes.every((b) => b > 10 * 1000));
    const encoded = (await value('edgecam_snapshot_encodes_total')) - encodes;
    const framesIn = (await value('edgecam_frames_in_total')) - frames;
    assert.ok(encoded <= framesIn + 2, `${encoded} encodes for 80 requests while ${framesIn} frames came in`);
    assert.ok(encoded < 80);
  });

  test("the retained state's fps is the viewer's fps: one clock", async () => {
    const sub = await subscribe(broker.url, ['state']);
    const controller = new AbortController();
    const sse: { at: number; fps: number }[] = [];
    const res = await get('/events');
    const reader = (async () => {
      const decoder = new TextDecoder();
      let buffered = '';
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffered += decoder.decode(chunk, { stream: true });
        for (let end = buffered.indexOf('\n\n'); end >= 0; end = buffered.indexOf('\n\n')) {
          const message = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          const data = /^event: detections\ndata: (.*)$/m.exec(message)?.[1];
          if (data) sse.push({ at: Date.now(), fps: (JSON.parse(data) as { fps: number }).fps });
        }
        if (controller.signal.aborted) break;
      }
    })().catch(() => {});
    const states: { at: number; fps: number }[] = [];
    sub.client.on('message', (_topic, payload) => states.push({ at: Date.now(), fps: statePayload.parse(JSON.parse(payload.toString())).fps }));
    try {
      // State messages published while frames flow and the page's events arrive. A change of counts is
      // published in the same event as the page's frame, so its fps is one the page was sent too.
      await until(() => sse.length > 0 && states.filter((s) => s.at > sse[0]!.at + 500 && s.fps > 0).length >= 3, 30_000, 'state messages among the viewer events');
      for (const state of states.filter((s) => s.at > sse[0]!.at + 500 && s.fps > 0)) {
        const near = sse.filter((e) => Math.abs(e.at - state.at) < 2000).map((e) => e.fps);
        assert.ok(near.includes(state.fps), `state fps ${state.fps}; the viewer's around it: ${near.join(', ')}`);
      }
    } finally {
      controller.abort();
      await res.body?.cancel().catch(() => {});
      await reader;
      await sub.close();
    }
  });

  test('ffprobe reads the restream: H.264, the source size and frame rate', { skip: hasBinary('ffprobe') ? false : 'ffprobe is not installed' }, async () => {
    await until(() => existsSync(hls) && /\.ts/.test(readFileSync(hls, 'utf8')), 20_000, 'the HLS playlist');
    const out = JSON.parse(
      execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=codec_name,width,height,r_frame_rate', '-of', 'json', hls], { encoding: 'utf8' }),
    ) as { streams: { codec_name: string; width: number; height: number; r_frame_rate: string }[] };
    assert.deepEqual(out.streams[0], { codec_name: 'h264', width: 960, height: 540, r_frame_rate: '15/1' });
  });

  test('/healthz is 200 while frames flow and MQTT is connected, 503 with the reason when the broker stops', async () => {
    await untilAsync(async () => (await get('/healthz')).status === 200, 30_000, '/healthz 200');
    await broker.stop();
    let down: Response | undefined;
    await untilAsync(async () => (down = await get('/healthz')).status === 503, 30_000, '/healthz 503 once the broker is gone');
    assert.deepEqual(((await down!.json()) as { reasons: string[] }).reasons, ['MQTT broker not connected']);
  });
});

/** Pixels drawn in the box colour (#00e676), allowing for JPEG and H.264 loss. */
const boxGreen = (px: Buffer, i: number) => px[i + 1]! > 150 && px[i]! < 110 && px[i + 1]! - px[i]! > 70 && px[i + 1]! - px[i + 2]! > 20;

/** The share of points along a box's four edges that have the box colour within 2 px, and whether its centre has it. */
function boxPixels(rgb: Buffer, width: number, box: number[]): { edges: number; centre: boolean } {
  const [x1, y1, x2, y2] = box.map((v) => Math.round(v));
  const green = (x: number, y: number) => {
    for (let dy = -2; dy <= 2; dy++) for (let dx = -2; dx <= 2; dx++) if (boxGreen(rgb, ((y + dy) * width + (x + dx)) * 3)) return true;
    return false;
  };
  const points: [number, number][] = [];
  for (let t = 0.2; t <= 0.8; t += 0.1) {
    const x = Math.round(x1! + (x2! - x1!) * t);
    const y = Math.round(y1! + (y2! - y1!) * t);
    points.push([x1!, y], [x2!, y], [x, y2!], [x, y1!]);
  }
  return { edges: points.filter(([x, y]) => green(x, y)).length / points.length, centre: green(Math.round((x1! + x2!) / 2), Math.round((y1! + y2!) / 2)) };
}

test('the boxes are burned in where the objects are: the annotated restream and /snapshot.jpg, not ?raw=1', { skip: needs('ffmpeg', 'ffprobe'), timeout: 90_000 }, async () => {
  // A still photo as a looping clip: the person stays where the detector puts its box.
  const dir = mkdtempSync(join(tmpdir(), 'edgecam-hls-'));
  const clip = join(dir, 'person.mp4');
  stillClip(join(FIXTURES, 'person.jpg'), 4, clip);
  const playlist = join(dir, 'annotated.m3u8');
  const [mqttPort, httpPort] = [await freePort(), await freePort()];
  const agent = edgecam([], {
    SOURCE: clip,
    SOURCE_LOOP: 'true',
    CLASSES: 'person',
    MQTT_EMBEDDED_PORT: String(mqttPort),
    HTTP_PORT: String(httpPort),
    HTTP_BIND: '127.0.0.1',
    VIEWER_ENABLED: 'true',
    RESTREAM_URL: playlist,
    RESTREAM_ANNOTATE: 'true',
    RESTREAM_SIZE: '640x424',
    DETECT_THREADS: '1',
  });
  try {
    const sub = await subscribe(`mqtt://127.0.0.1:${mqttPort}`, ['class'], 30_000);
    await sub.waitFor((m) => m.some((x) => classPayload.parse(x.json()).class_name.includes('person')), 30_000);
    const box = classPayload.parse(sub.messages.find((x) => classPayload.parse(x.json()).class_name.includes('person'))!.json()).detections[0]!.box;
    await sub.close();

    await until(() => existsSync(playlist) && /\.ts/.test(readFileSync(playlist, 'utf8')), 30_000, 'the annotated HLS playlist');
    const out = JSON.parse(
      execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=codec_name,width,height,r_frame_rate', '-of', 'json', playlist], {
        encoding: 'utf8',
      }),
    ) as { streams: unknown[] };
    assert.deepEqual(out.streams[0], { codec_name: 'h264', width: 640, height: 424, r_frame_rate: '5/1' });
    // The restream is the source's size here, so its pixels are the source's. Its newest segment: the first
    // frames precede the person's confirmation (TRACK_CONFIRM), which boxes only confirmed objects.
    await sleep(2500);
    const segments = readFileSync(playlist, 'utf8')
      .split('\n')
      .filter((l) => l.endsWith('.ts'));
    const newest = join(dirname(playlist), segments.at(-1)!);
    const restreamed = execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', newest, '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'], {
      maxBuffer: 64 << 20,
    });
    const inStream = boxPixels(restreamed, 640, box);
    assert.ok(
      inStream.edges >= 0.8 && !inStream.centre,
      `restream: ${Math.round(inStream.edges * 100)} % of the edge points green, centre ${inStream.centre}; box ${box.join(',')}`,
    );

    const jpeg = async (path: string) => {
      const res = await fetch(`http://127.0.0.1:${httpPort}${path}`);
      assert.equal(res.status, 200, path);
      const { data, info } = await sharp(Buffer.from(await res.arrayBuffer()))
        .raw()
        .toBuffer({ resolveWithObject: true });
      // The viewer's picture keeps the source's aspect, at most the model input's resolution.
      assert.equal(info.channels, 3);
      assert.ok(Math.abs(info.height / info.width - 424 / 640) < 0.01, `${info.width}x${info.height}`);
      return { data, width: info.width, box: box.map((v) => (v * info.width) / 640) };
    };
    const withBoxes = await jpeg('/snapshot.jpg');
    const withoutBoxes = await jpeg('/snapshot.jpg?raw=1');
    const drawn = boxPixels(withBoxes.data, withBoxes.width, withBoxes.box);
    const raw = boxPixels(withoutBoxes.data, withoutBoxes.width, withoutBoxes.box);
    assert.ok(drawn.edges >= 0.8 && !drawn.centre, `snapshot: ${Math.round(drawn.edges * 100)} % of the edge points green, centre ${drawn.centre}`);
    assert.ok(raw.edges <= 0.1, `raw snapshot: ${Math.round(raw.edges * 100)} % of the edge points green`);
  } finally {
    agent.child.kill('SIGTERM');
    await agent.exit;
  }
});

/** An agent with the viewer on a free port, and its page open in chromium at `query`; both end after `body`. */
async function withViewer(env: Record<string, string>, query: string, body: (page: Page, port: number) => Promise<void>): Promise<void> {
  const port = await freePort();
  const agent = edgecam([], { MQTT_EMBEDDED_PORT: String(await freePort()), HTTP_PORT: String(port), HTTP_BIND: '127.0.0.1', VIEWER_ENABLED: 'true', DETECT_THREADS: '1', ...env });
  let browser: Browser | undefined;
  try {
    await until(() => agent.lines().some((l) => l.msg === 'HTTP server listening'), 30_000, 'the viewer');
    browser = await launchChromium();
    const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
    await page.goto(`http://127.0.0.1:${port}/${query}`);
    await body(page, port);
  } finally {
    await browser?.close();
    agent.child.kill('SIGTERM');
    await agent.exit;
  }
}

/** The box drawn in a screenshot: the longest horizontal run of box colour, and the rows where the same span is box-coloured again (its top and bottom edges). */
function drawnBox(rgb: Buffer, width: number, height: number): [number, number, number, number] | undefined {
  let best = { y: -1, x1: 0, x2: 0 };
  for (let y = 0; y < height; y++) {
    let start = -1;
    for (let x = 0; x <= width; x++) {
      const green = x < width && boxGreen(rgb, (y * width + x) * 3);
      if (green && start < 0) start = x;
      if (!green && start >= 0) {
        if (x - start > best.x2 - best.x1) best = { y, x1: start, x2: x - 1 };
        start = -1;
      }
    }
  }
  if (best.y < 0 || best.x2 - best.x1 < 40) return undefined;
  const spans = (y: number) => {
    let n = 0;
    for (let x = best.x1 + 4; x <= best.x2 - 4; x++) if (boxGreen(rgb, (y * width + x) * 3)) n++;
    return n >= 0.9 * (best.x2 - best.x1 - 7);
  };
  const rows = Array.from({ length: height }, (_, y) => y).filter(spans);
  // The label is filled box colour above the top edge: the box is the tallest gap between such rows.
  let box: [number, number, number, number] | undefined;
  for (let i = 1; i < rows.length; i++) {
    if (rows[i]! - rows[i - 1]! > 20 && (!box || rows[i]! - rows[i - 1]! > box[3] - box[1])) box = [best.x1, rows[i - 1]!, best.x2, rows[i]!];
  }
  return box;
}

test(
  'with a slow detector (+500 ms per inference) the boxes in the page are on their objects',
  { skip: CHROMIUM && hasBinary('ffmpeg') ? false : 'chromium or ffmpeg is not installed', timeout: 120_000 },
  async () => {
    // The white pick-up truck of a real photo crossing a grey road at 240 px/s. A box drawn over a
    // later or earlier picture than its own sits beside the truck, on the grey road.
    const dir = mkdtempSync(join(tmpdir(), 'edgecam-slow-'));
    const clip = makeCarClip({ out: join(dir, 'truck.mp4'), width: 640, height: 360, fps: 15, seconds: 3.5, x0: -60, y: 150, speedPxPerSec: 240 });
    const token = 'slow-token-7f3';
    const env = {
      SOURCE: clip,
      SOURCE_LOOP: 'true',
      CLASSES: 'car,truck',
      HTTP_TOKEN: token,
      // Test hook (agent/detect/worker.ts): a detector as slow as a loaded Pi's. No real model here is slow on demand.
      EDGECAM_TEST_DETECT_DELAY_MS: '500',
    };
    await withViewer(env, `?token=${token}`, async (page, port) => {
      await page.waitForFunction(() => (document.body.dataset.classes ?? '') !== '', null, { timeout: 60_000 });
      const results: string[] = [];
      let checked = 0;
      for (let shot = 0; shot < 12 && checked < 5; shot++) {
        await sleep(450);
        const png = await page.locator('#view').screenshot();
        const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
        const box = drawnBox(data, info.width, info.height);
        // A truck cut off by the frame's edge has a box cut off too: only whole boxes are checked.
        if (!box || box[0] < 3 || box[2] > info.width - 4) continue;
        // Inside the box, 4 px in from its edges: the truck's white body, or the road's grey?
        const [x1, y1, x2, y2] = box;
        let white = 0;
        let road = 0;
        let all = 0;
        for (let y = y1 + 4; y < y2 - 4; y++)
          for (let x = x1 + 4; x < x2 - 4; x++) {
            const i = (y * info.width + x) * 3;
            const [r, g, b] = [data[i]!, data[i + 1]!, data[i + 2]!];
            all++;
            if (r > 170 && g > 170 && b > 170) white++;
            if (Math.abs(r - 80) < 14 && Math.abs(g - 80) < 14 && Math.abs(b - 80) < 14) road++;
          }
        checked++;
        results.push(`box ${box.join(',')}: white ${((100 * white) / all).toFixed(0)} %, road ${((100 * road) / all).toFixed(0)} %`);
        assert.ok(white / all > 0.2 && road / all < 0.15, results.join('; '));
      }
      assert.ok(checked >= 3, `boxes found in ${checked} of 12 screenshots: ${results.join('; ')}`);
      // A real source without calibration: the page says so and links how to calibrate.
      const speeds = await page.evaluate(() => ({ text: document.getElementById('speeds')!.textContent, link: document.querySelector('#speeds a')?.getAttribute('href') }));
      assert.match(speeds.text!, /no speeds: this camera has no calibration/);
      assert.equal(speeds.link, 'help/calibration');
      const help = await fetch(`http://127.0.0.1:${port}/help/calibration`);
      assert.equal(help.status, 200);
      assert.match(await help.text(), /^### Calibrating a real road\n[\s\S]*CALIBRATION_WORLD_POINTS/);
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, 'viewer-slow-detector.png') });
      writeFileSync(join(ARTIFACTS, 'viewer-slow-detector.txt'), results.join('\n') + '\n');
    });
  },
);

test(
  'the page draws the counting lines with their counts, and its editor turns clicks into the LINES and calibration settings',
  { skip: CHROMIUM && hasBinary('ffmpeg') ? false : 'chromium or ffmpeg is not installed', timeout: 120_000 },
  async () => {
    // The truck crosses a 640x360 frame left to right at 240 px/s, through a line drawn upwards at x = 320.
    const dir = mkdtempSync(join(tmpdir(), 'edgecam-editor-'));
    const clip = makeCarClip({ out: join(dir, 'truck.mp4'), width: 640, height: 360, fps: 15, seconds: 3.5, x0: -60, y: 150, speedPxPerSec: 240 });
    const env = { SOURCE: clip, SOURCE_LOOP: 'true', CLASSES: 'car,truck', LINES: 'gate:320,360;320,100', ZONES: 'dock:400,200;640,200;640,360;400,360' };
    await withViewer(env, '', async (page) => {
      // The overlay: the line with its counts, counted up once the truck has crossed.
      await page.waitForFunction(() => /gate in\s*1/.test(document.getElementById('lines')!.textContent ?? ''), null, { timeout: 60_000 });
      // A crossing flashes the line red for 0.8 s; then it is yellow again (polled: a loaded machine draws late).
      let yellow = 0;
      for (let tries = 0; tries < 40 && yellow <= 200; tries++) {
        await sleep(tries ? 250 : 1200);
        const overlay = await sharp(await page.locator('#view').screenshot())
          .removeAlpha()
          .raw()
          .toBuffer({ resolveWithObject: true });
        yellow = 0;
        for (let i = 0; i < overlay.data.length; i += 3) if (overlay.data[i]! > 200 && overlay.data[i + 1]! > 180 && overlay.data[i + 2]! < 80) yellow++;
      }
      assert.ok(yellow > 200, `${yellow} pixels of the line's yellow on the picture`);

      // The editor: a line by two clicks. The picture shows the 640x360 source at the canvas's width.
      await page.click('[data-tool="line"]');
      await page.fill('#shape-name', 'exit');
      // Where a source pixel is on the screen now (typing in the side panel may scroll the page).
      let box = (await page.locator('#overlay').boundingBox())!;
      const at = (x: number, y: number) => ({ x: box.x + (x * box.width) / 640, y: box.y + (y * box.height) / 360 });
      await page.mouse.click(at(100, 300).x, at(100, 300).y);
      await page.mouse.click(at(500, 310).x, at(500, 310).y);
      const env = await page.inputValue('#env');
      const m = /^LINES="gate:320,360;320,100\|exit:(\d+),(\d+);(\d+),(\d+)"$/m.exec(env);
      assert.ok(m, env);
      const [x1, y1, x2, y2] = m.slice(1).map(Number) as [number, number, number, number];
      for (const [got, want] of [
        [x1, 100],
        [y1, 300],
        [x2, 500],
        [y2, 310],
      ] as const)
        assert.ok(Math.abs(got - want) <= 2, `clicked ${want}, got ${got}: ${env}`);
      assert.match(env, /^ZONES="dock:400,200;640,200;640,360;400,360"$/m);

      // The calibration: four clicks and the ground positions; the agent says what it means.
      await page.click('[data-tool="calibration"]');
      await page.fill('#world', '0,0;7,0;7,30;0,30');
      await page.locator('#overlay').scrollIntoViewIfNeeded();
      box = (await page.locator('#overlay').boundingBox())!;
      for (const [x, y] of [
        [100, 340],
        [540, 340],
        [400, 150],
        [240, 150],
      ] as const)
        await page.mouse.click(at(x, y).x, at(x, y).y);
      await page
        .waitForFunction(() => /Homography/.test(document.getElementById('calibration-report')!.textContent ?? ''), null, { timeout: 60_000 })
        .catch(async (err: Error) => assert.fail(`${err.message}; env: ${await page.inputValue('#env')}; report: ${await page.textContent('#calibration-report')}`));
      assert.match(await page.inputValue('#env'), /^CALIBRATION_IMAGE_POINTS="\d+,\d+;\d+,\d+;\d+,\d+;\d+,\d+"\nCALIBRATION_WORLD_POINTS="0,0;7,0;7,30;0,30"$/m);
      assert.match((await page.textContent('#calibration-report'))!, /sides 7\.00, 30\.00, 7\.00, 30\.00 m/);
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, 'viewer-editor.png') });
    });
  },
);
