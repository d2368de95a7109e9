// Capture with real FFmpeg on real media: timestamps, geometry, backpressure, restarts.
import { test } from 'node:test';
import { existsSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname } from 'node:path';
import assert from 'node:assert/strict';
import { Capture, type CaptureOptions, type Frame } from '../../agent/capture/index.js';
import { BUNDLED_SAMPLE } from '../../agent/paths.js';
import { memoryLogger } from '../helpers/log.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function capture(over: Partial<CaptureOptions>): Capture {
  return new Capture({
    source: { url: BUNDLED_SAMPLE, kind: 'file', loop: false, realtime: false },
    width: 160,
    height: 160,
    resize: 'letterbox',
    fps: 5,
    lossless: true,
    log: memoryLogger().log,
    ...over,
  });
}

async function drain(c: Capture, limit = 1000): Promise<Omit<Frame, 'data'>[]> {
  const frames = [];
  for (let f = await c.next(); f && frames.length < limit; f = await c.next()) {
    const { data: _data, ...rest } = f;
    frames.push(rest);
  }
  return frames;
}

test('a lavfi test source: frames at DETECT_FPS with source timestamps and the letterbox transform', async () => {
  const c = capture({ source: { url: 'lavfi:testsrc2=size=320x240:rate=10:duration=3', kind: 'lavfi', loop: false, realtime: false } });
  await c.start();
  let top: number[] = [];
  const frames: Omit<Frame, 'data'>[] = [];
  for (let f = await c.next(); f; f = await c.next()) {
    if (!top.length) top = [...f.data.subarray(0, 9)];
    const { data: _data, ...rest } = f;
    frames.push(rest);
  }
  await c.stop();
  assert.equal(frames.length, 15, '3 s at 5 fps');
  assert.deepEqual(
    frames.map((f) => f.index),
    [...Array(15).keys()],
  );
  frames.forEach((f, i) => assert.ok(Math.abs(f.pts - i * 0.2) < 1e-6, `frame ${i} pts ${f.pts}`));
  assert.equal(frames[0]!.sourceWidth, 320);
  assert.equal(frames[0]!.sourceHeight, 240);
  assert.deepEqual(frames[0]!.transform, { scaleX: 0.5, scaleY: 0.5, padX: 0, padY: 20 });
  assert.deepEqual(top, [114, 114, 114, 114, 114, 114, 114, 114, 114], 'letterbox bars are grey 114');
  assert.deepEqual(c.stats, { framesIn: 15, framesDropped: 0, restarts: 0 });
});

test('the letterboxed picture sits exactly where the transform says, also when the scaled size is odd', async () => {
  // 960x540 into 300x300: scaled to 300x169, so 65 grey rows on top and 66 below.
  const c = capture({ source: { url: 'lavfi:color=white:size=960x540:rate=5:duration=1', kind: 'lavfi', loop: false, realtime: false }, width: 300, height: 300 });
  await c.start();
  try {
    const f = (await c.next())!;
    const { padY, scaleY } = f.transform;
    assert.equal(padY, 65);
    const rows = Math.round(540 * scaleY);
    assert.equal(rows, 169);
    const red = (row: number) => f.data[(row * 300 + 150) * 3]!;
    const edges = [red(padY - 1), red(padY), red(padY + rows - 1), red(padY + rows)];
    assert.ok(edges[0] === 114 && edges[1]! > 240 && edges[2]! > 240 && edges[3] === 114, `grey, white picture, white picture, grey: ${edges}`);
  } finally {
    await c.stop();
  }
});

test('lossless file processing delivers every frame of the bundled clip, none dropped', async () => {
  const c = capture({ width: 512, height: 512, resize: 'stretch' });
  await c.start();
  const frames = await drain(c);
  await c.stop();
  assert.equal(frames.length, 60, '12 s at 5 fps');
  assert.equal(c.stats.framesDropped, 0);
  assert.equal(frames[0]!.sourceWidth, 960);
  assert.ok(
    frames.every((f, i) => i === 0 || f.pts > frames[i - 1]!.pts),
    'timestamps increase',
  );
});

/** Every frame's pts and pixel hash; `delayMs` makes a slow consumer, so FFmpeg is paused and resumed. */
async function fingerprint(c: Capture, delayMs = 0): Promise<string[]> {
  const out: string[] = [];
  for (let f = await c.next(); f; f = await c.next()) {
    out.push(`${f.pts.toFixed(3)} ${createHash('sha1').update(f.data).digest('hex')}`);
    if (delayMs) await sleep(delayMs);
  }
  return out;
}

test('frames come through a named pipe, byte for byte as through stdout, also when a slow consumer pauses FFmpeg', { timeout: 60_000 }, async () => {
  const viaStdout = capture({ width: 256, height: 256, resize: 'stretch', namedPipe: false });
  await viaStdout.start();
  const reference = await fingerprint(viaStdout);
  await viaStdout.stop();
  assert.equal(reference.length, 60);

  const viaPipe = capture({ width: 256, height: 256, resize: 'stretch' });
  await viaPipe.start();
  let path: string | undefined;
  try {
    // FFmpeg starts through a wrapper (sh, then setpriv): until the last exec, its command line is not FFmpeg's yet.
    let cmdline: string[] = [];
    for (let i = 0; i < 500 && !path; i++) {
      try {
        if (viaPipe.ffmpegPid) cmdline = readFileSync(`/proc/${viaPipe.ffmpegPid}/cmdline`, 'utf8').split('\0');
      } catch {
        cmdline = []; // between two execs
      }
      path = cmdline.find((a) => a.includes('edgecam-frames-'));
      if (!path) await sleep(10);
    }
    assert.ok(path, `FFmpeg writes to the named pipe: ${cmdline.join(' ')}`);
    assert.deepEqual(await fingerprint(viaPipe, 30), reference, 'same frames, same pixels, none dropped');
    assert.equal(viaPipe.stats.framesDropped, 0);
  } finally {
    await viaPipe.stop();
  }
  assert.equal(existsSync(dirname(path)), false, 'the pipe is removed on stop');
});

test('a slow consumer of a live-paced source gets the newest frame; older ones are dropped and counted', async () => {
  const c = capture({ source: { url: 'lavfi:testsrc2=size=320x240:rate=30', kind: 'lavfi', loop: false, realtime: true }, fps: 30, lossless: false });
  await c.start();
  const seen: number[] = [];
  for (let i = 0; i < 6; i++) {
    const f = await c.next();
    assert.ok(f);
    seen.push(f.pts);
    await sleep(200); // a 5 fps consumer of a 30 fps source
  }
  await c.stop();
  assert.ok(c.stats.framesDropped >= 15, `dropped ${c.stats.framesDropped}`);
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i]! - seen[i - 1]! >= 0.1, `consecutive frames ${seen[i - 1]} → ${seen[i]} skip stale ones`);
  assert.equal(await c.next(), null, 'a stopped capture delivers nothing');
});

test('FFmpeg killed under a live source is restarted with backoff and frames resume', { timeout: 20_000 }, async () => {
  const { log, lines } = memoryLogger();
  const c = capture({ source: { url: 'lavfi:testsrc2=size=320x240:rate=10', kind: 'lavfi', loop: true, realtime: true }, log, lossless: false });
  await c.start();
  assert.ok(await c.next());
  const pid = c.ffmpegPid!;
  process.kill(pid, 'SIGKILL');
  const before = Date.now();
  let frame: Frame | null = null;
  while (c.stats.restarts === 0 || !frame || Date.now() - before < 100) frame = await c.next();
  assert.ok(frame);
  assert.equal(c.stats.restarts, 1);
  assert.notEqual(c.ffmpegPid, pid);
  await c.stop();
  assert.ok(lines().some((l) => l.msg === 'ffmpeg exited; restarting' && typeof l.retryInMs === 'number'));
});

test("an unreadable file fails with FFmpeg's reason instead of restarting forever", async () => {
  const c = capture({ source: { url: '/etc/hostname', kind: 'file', loop: false, realtime: false } });
  await c.start();
  await assert.rejects(c.next(), /SOURCE=\/etc\/hostname: FFmpeg cannot read it as video \(.*Invalid data/);
  await c.stop();
});

test("the npm-shipped FFmpeg (the fallback on machines without apt's) produces the same frames", async () => {
  const { createRequire } = await import('node:module');
  const binary = (createRequire(import.meta.url)('@ffmpeg-installer/ffmpeg') as { path: string }).path;
  const c = capture({ ffmpegPath: binary, source: { url: 'lavfi:testsrc2=size=320x240:rate=10:duration=2', kind: 'lavfi', loop: false, realtime: false } });
  await c.start();
  const frames = await drain(c);
  await c.stop();
  assert.equal(frames.length, 10);
  assert.deepEqual(frames[0]!.transform, { scaleX: 0.5, scaleY: 0.5, padX: 0, padY: 20 });
  frames.forEach((f, i) => assert.ok(Math.abs(f.pts - i * 0.2) < 1e-6));
});

for (const hwaccel of ['vaapi', 'v4l2m2m', 'qsv'] as const) {
  test(`HWACCEL=${hwaccel} without the hardware falls back to software decode with a warning`, async (t) => {
    // On a host with a GPU, VA-API (which vaapi and qsv use on Linux) could work: a driver name
    // that does not exist makes it fail there too, as a box without the hardware would.
    const driver = process.env.LIBVA_DRIVER_NAME;
    process.env.LIBVA_DRIVER_NAME = 'edgecam-no-such-driver';
    t.after(() => (driver === undefined ? delete process.env.LIBVA_DRIVER_NAME : (process.env.LIBVA_DRIVER_NAME = driver)));
    const { log, lines } = memoryLogger();
    const c = capture({ hwaccel, log, width: 512, height: 512, resize: 'stretch' });
    await c.start();
    const frames = await drain(c, 5);
    await c.stop();
    assert.equal(frames.length, 5);
    const warning = lines().find((l) => l.msg === 'hardware decode unavailable; falling back to software decode');
    assert.ok(warning, `warning for ${hwaccel}`);
    assert.equal(warning.hwaccel, hwaccel);
  });
}
