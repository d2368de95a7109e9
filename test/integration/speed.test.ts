// Speed end to end: FFmpeg-synthesised clips of a real photographed car moving at a
// known pixel speed, through real capture, the real detector, the tracker and MQTT.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../agent/config/index.js';
import { startAgent } from '../../agent/main.js';
import { classPayload, speedPayload } from '../../agent/mqtt/payloads.js';
import { startEmbeddedBroker } from '../../agent/mqtt/broker.js';
import { makeCarClip, type ClipOptions } from '../helpers/clips.js';
import { homographyFromPoints } from '../../agent/track/homography.js';
import { memoryLogger } from '../helpers/log.js';
import { needs, subscribe } from '../helpers/net.js';

const dir = mkdtempSync(join(tmpdir(), 'edgecam-speed-'));

interface Outcome {
  speeds: ReturnType<typeof speedPayload.parse>[];
  trackIds: Set<number>;
  firstDetectionPts: number;
}

async function runAgent(clip: string, env: Record<string, string>): Promise<Outcome> {
  const broker = await startEmbeddedBroker({ port: 0, host: '127.0.0.1', log: memoryLogger().log });
  const url = `mqtt://127.0.0.1:${broker.port}`;
  const sub = await subscribe(url, ['class', 'speedometer']);
  try {
    const config = loadConfig({
      env: { SOURCE: clip, SOURCE_REALTIME: 'false', MQTT_URL: url, HTTP_ENABLED: 'false', CLASSES: 'car,truck', DETECT_FPS: '5', SPEED_UNIT: 'kmh', ...env },
      cwd: dir,
    });
    const agent = await startAgent(config, memoryLogger('warn').log);
    assert.equal(await agent.done, 0);
    await sub.waitFor((m) => m.some((x) => x.topic === 'speedometer' && speedPayload.parse(x.json()).final), 5000);
    const classes = sub.messages.filter((m) => m.topic === 'class').map((m) => classPayload.parse(m.json()));
    const detections = classes.filter((c) => c.detections.length);
    return {
      speeds: sub.messages.filter((m) => m.topic === 'speedometer').map((m) => speedPayload.parse(m.json())),
      trackIds: new Set(detections.flatMap((c) => c.detections.map((d) => d.track_id!))),
      firstDetectionPts: detections[0]!.pts,
    };
  } finally {
    await sub.close();
    await broker.close();
  }
}

function check(o: Outcome, trueKmh: number, tolerance: number, minAge = 0.5) {
  assert.equal(o.trackIds.size, 1, `one track id from entry to exit: ${[...o.trackIds]}`);
  assert.ok(o.speeds.length >= 2, `${o.speeds.length} speed messages`);
  assert.ok(o.speeds.every((s) => s.unit === 'km/h' && s.track_id === [...o.trackIds][0]));
  const errors = o.speeds.map((s) => Math.abs(s.speed - trueKmh) / trueKmh);
  const mean = errors.reduce((a, b) => a + b, 0) / errors.length;
  assert.ok(mean <= tolerance, `mean abs error ${(mean * 100).toFixed(2)} % (speeds ${o.speeds.map((s) => s.speed).join(', ')}; truth ${trueKmh.toFixed(2)})`);
  const firstLive = o.speeds.find((s) => !s.final)!;
  assert.ok(firstLive.pts - o.firstDetectionPts >= minAge - 1e-6, `first speed at ${firstLive.pts}, first seen at ${o.firstDetectionPts}`);
  assert.equal(o.speeds.filter((s) => s.final).length, 1);
  return `mean abs error ${(mean * 100).toFixed(2)} % over ${o.speeds.length} messages, max ${(Math.max(...errors) * 100).toFixed(2)} %`;
}

// 1280x720 at 15 fps; the car (336x150) crosses at 240 px/s. At 0.05 m/px that is 12 m/s = 43.2 km/h.
const BASE: Omit<ClipOptions, 'out'> = { width: 1280, height: 720, fps: 15, seconds: 7, x0: -336, y: 420, speedPxPerSec: 240, scale: 1.5 };
const MPP = 0.05;
const TRUE_KMH = 240 * MPP * 3.6;
/** Scene points (TL, TR, BL, BR) of a 1920x1080 scene that the perspective view's frame corners show. */
const PERSPECTIVE_QUAD: [number, number][] = [
  [560, 240],
  [1360, 240],
  [160, 1040],
  [1760, 1040],
];
/** The fast car is 202 px long and moves 1060 px/s: 212 px, 1.05 lengths, between frames at 5 fps. */
const FAST_PX = 1060;

/** Scene pixels → frame pixels of the perspective view (the homography the warp applies). */
function sceneToFrame() {
  const [tl, tr, bl, br] = PERSPECTIVE_QUAD as [[number, number], [number, number], [number, number], [number, number]];
  return homographyFromPoints(
    [tl, tr, br, bl],
    [
      [0, 0],
      [1280, 0],
      [1280, 720],
      [0, 720],
    ],
  );
}

describe('speed on synthesised clips', { skip: needs('ffmpeg'), timeout: 120_000 }, () => {
  const clips: Record<string, string> = {};
  before(() => {
    clips.straight = makeCarClip({ ...BASE, out: join(dir, 'straight.mp4') });
    // The same scene seen at an angle: the frame's corners go to a trapezoid.
    // The road seen at an angle: a trapezoid of a wider scene fills the frame, so the
    // car enters and leaves through the frame's edges as it would on a real camera.
    // The car drives along the scene row y = 850 at 240 scene px/s; on the frame, that
    // row is a horizontal line where it moves at a constant pixel speed, drawn to scale.
    const view = sceneToFrame();
    const [xa, row] = view.toGround([0, 850]);
    const [xb] = view.toGround([1000, 850]);
    const pxPerScenePx = (xb - xa) / 1000;
    const scale = 1.5 * pxPerScenePx;
    clips.perspective = makeCarClip({
      ...BASE,
      width: 1920,
      height: 1080,
      seconds: 9,
      viewQuad: PERSPECTIVE_QUAD,
      outputSize: [1280, 720],
      scale,
      x0: xa + (-400 + 168) * pxPerScenePx - 112 * scale,
      y: row - 100 * scale,
      speedPxPerSec: 240 * pxPerScenePx,
      out: join(dir, 'perspective.mp4'),
    });
    // Two source frames in every seven are missing (variable frame rate, true timestamps).
    clips.dropped = makeCarClip({ ...BASE, out: join(dir, 'dropped.mp4'), dropExpr: 'eq(mod(n\\,7)\\,2)+eq(mod(n\\,7)\\,5)' });
    // 100 km/h at DETECT_FPS=5: 1200 px/s with a 224 px car, which moves 240 px, more than its length, between processed frames.
    clips.fast = makeCarClip({ width: 1280, height: 720, fps: 30, seconds: 1.6, x0: -202, y: 450, speedPxPerSec: FAST_PX, scale: 0.9, out: join(dir, 'fast.mp4') });
  });

  test('straight-on camera with METERS_PER_PIXEL', async (t) => {
    t.diagnostic(check(await runAgent(clips.straight!, { METERS_PER_PIXEL: String(MPP) }), TRUE_KMH, 0.03));
  });

  test('perspective view with four calibration points', async (t) => {
    // The frame's corners, TL TR BR BL, in the image, and where they are on the ground.
    const [tl, tr, bl, br] = PERSPECTIVE_QUAD as [[number, number], [number, number], [number, number], [number, number]];
    const env = {
      CALIBRATION_IMAGE_POINTS: '0,0;1280,0;1280,720;0,720',
      CALIBRATION_WORLD_POINTS: [tl, tr, br, bl].map(([x, y]) => `${x * MPP},${y * MPP}`).join(';'),
    };
    t.diagnostic(check(await runAgent(clips.perspective!, env), TRUE_KMH, 0.03));
  });

  test('dropped source frames', async (t) => {
    t.diagnostic(check(await runAgent(clips.dropped!, { METERS_PER_PIXEL: String(MPP) }), TRUE_KMH, 0.03));
  });

  // The INT8 model finds fewer of the float model's detections (README, "Models"), but
  // the car it finds is measured as well.
  test('MODEL=centernet-int8: straight-on and perspective within the same bounds', async (t) => {
    t.diagnostic(`straight: ${check(await runAgent(clips.straight!, { MODEL: 'centernet-int8', METERS_PER_PIXEL: String(MPP) }), TRUE_KMH, 0.03)}`);
    const [tl, tr, bl, br] = PERSPECTIVE_QUAD as [[number, number], [number, number], [number, number], [number, number]];
    const env = {
      MODEL: 'centernet-int8',
      CALIBRATION_IMAGE_POINTS: '0,0;1280,0;1280,720;0,720',
      CALIBRATION_WORLD_POINTS: [tl, tr, br, bl].map(([x, y]) => `${x * MPP},${y * MPP}`).join(';'),
    };
    t.diagnostic(`perspective: ${check(await runAgent(clips.perspective!, env), TRUE_KMH, 0.03)}`);
  });

  test('100 km/h at DETECT_FPS=5 is tracked and measured within 5 %', async (t) => {
    t.diagnostic(check(await runAgent(clips.fast!, { METERS_PER_PIXEL: String(27.7778 / FAST_PX), SPEED_MIN_AGE: '0.4' }), 100, 0.05, 0.4));
  });
});

test('motion gating: a still scene skips inference, and a person entering it is still detected', { skip: needs('ffmpeg'), timeout: 60_000 }, async () => {
  const { execFileSync } = await import('node:child_process');
  const { FIXTURES } = await import('../helpers/paths.js');
  const clip = join(dir, 'enter.mp4');
  // 10 s of a still photo; a person slides in from the right at t = 5 s.
  execFileSync('ffmpeg', [
    '-hide_banner',
    '-loglevel',
    'error',
    '-y',
    '-loop',
    '1',
    '-framerate',
    '15',
    '-i',
    join(FIXTURES, 'dog.jpg'),
    '-loop',
    '1',
    '-framerate',
    '15',
    '-i',
    join(FIXTURES, 'person.jpg'),
    '-filter_complex',
    "[0:v]scale=960:540,setsar=1[bg];[1:v]scale=-2:300,setsar=1[p];[bg][p]overlay=x='960-200*(t-5)':y=200:enable='gte(t,5)':shortest=1,format=yuv420p",
    '-t',
    '10',
    '-c:v',
    'libx264',
    '-preset',
    'veryfast',
    '-crf',
    '23',
    clip,
  ]);
  const broker = await startEmbeddedBroker({ port: 0, host: '127.0.0.1', log: memoryLogger().log });
  const url = `mqtt://127.0.0.1:${broker.port}`;
  const sub = await subscribe(url, ['class']);
  const { log, lines } = memoryLogger('info');
  try {
    const config = loadConfig({
      env: { SOURCE: clip, SOURCE_REALTIME: 'false', MQTT_URL: url, HTTP_ENABLED: 'false', CLASSES: 'person', DETECT_FPS: '5', MOTION_GATING: 'true' },
      cwd: dir,
    });
    const agent = await startAgent(config, log);
    assert.equal(await agent.done, 0);
    await sub.waitFor((m) => m.length > 0, 5000);
    const stopped = lines().find((l) => l.msg === 'stopped') as { motion: { checked: number; skipped: number } };
    // 25 still frames before the person: all but the first and the forced one are skipped.
    assert.ok(stopped.motion.skipped >= 20, `skipped ${stopped.motion.skipped} of ${stopped.motion.checked}`);
    const people = sub.messages.map((m) => classPayload.parse(m.json())).filter((p) => p.class_name.includes('person'));
    assert.ok(people.length >= 10, `${people.length} frames with the person`);
    assert.ok(people[0]!.pts <= 6.2, `the person is reported from ${people[0]!.pts} s`);
  } finally {
    await sub.close();
    await broker.close();
  }
});
