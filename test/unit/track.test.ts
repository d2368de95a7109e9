// Tracker and speed estimation on synthetic detections with known ground truth.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TrackStage, homographyFromPoints, CalibrationError, type SpeedReport } from '../../agent/track/index.js';
import { trackStage as stage } from '../helpers/track.js';
import type { TrackerDetection } from '../../agent/track/tracker.js';
import { KalmanBoxFilter } from '../../agent/track/kalman.js';

type Box = [number, number, number, number];
const W = 1280;
const H = 720;

/** Deterministic jitter in [-a, a] (a small LCG), like a detector's box noise. */
function jitter(seed: number): (a: number) => number {
  let s = seed;
  return (a) => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return ((s / 2 ** 31) * 2 - 1) * a;
  };
}

interface Mover {
  className: string;
  /** Box at time t, or undefined when not detected. */
  box(t: number): Box | undefined;
  score?: number;
}

interface RunResult {
  ids: Map<string, Set<number>>;
  firstSeen: Map<string, number>;
  speeds: (SpeedReport & { object: string })[];
}

function run(s: TrackStage, movers: Record<string, Mover>, times: number[], noise = 1): RunResult {
  const rnd = jitter(7);
  const ids = new Map<string, Set<number>>();
  const firstSeen = new Map<string, number>();
  const speeds: RunResult['speeds'] = [];
  const owner = new Map<number, string>();
  for (const t of times) {
    const names: string[] = [];
    const dets: TrackerDetection[] = [];
    for (const [name, m] of Object.entries(movers)) {
      const b = m.box(t);
      if (!b) continue;
      names.push(name);
      dets.push({ className: m.className, classId: 0, score: m.score ?? 0.8, box: b.map((v) => v + rnd(noise)) as Box });
      if (!firstSeen.has(name)) firstSeen.set(name, t);
    }
    const out = s.update({ pts: t, sourceWidth: W, sourceHeight: H, detections: dets });
    out.detections.forEach((d) => {
      const name = names[dets.findIndex((x) => x.box === d.box)]!;
      if (!ids.has(name)) ids.set(name, new Set());
      ids.get(name)!.add(d.trackId);
      owner.set(d.trackId, name);
    });
    for (const r of out.speeds) speeds.push({ ...r, object: owner.get(r.trackId)! });
  }
  for (const r of s.flush()) speeds.push({ ...r, object: owner.get(r.trackId)! });
  return { ids, firstSeen, speeds };
}

const every = (fps: number, from: number, to: number) => Array.from({ length: Math.round((to - from) * fps) + 1 }, (_, i) => from + i / fps);
const moving =
  (x0: number, y: number, w: number, h: number, vx: (t: number) => number, vy = (_t: number) => 0): ((t: number) => Box) =>
  (t) => {
    const x = x0 + vx(t);
    const yy = y + vy(t);
    return [x, yy, x + w, yy + h];
  };
const meanAbsError = (speeds: SpeedReport[], truth: (r: SpeedReport) => number) => speeds.reduce((a, r) => a + Math.abs(r.speed - truth(r)) / truth(r), 0) / speeds.length;

describe('tracker and speed on synthetic detections', () => {
  test('a box squeezed on one side by something in front of it gives no position: the final speed stays true', () => {
    // 120 px/s at 0.05 m/px = 6 m/s; from 2.5 s on, something nearer that comes the other
    // way at the same speed hides its right side (as the person's photo hides the bicycle in
    // the bundled sample).
    const whole = moving(100, 400, 300, 170, (t) => 120 * t);
    const car = {
      className: 'car',
      box: (t: number): Box => {
        const b = whole(t);
        return [b[0], b[1], Math.min(b[2], 1000 - 120 * t), b[3]];
      },
    };
    const r = run(stage(), { car }, every(5, 0, 3.4), 0);
    const final = r.speeds.find((s) => s.final)!;
    assert.ok(Math.abs(final.speed - 6) / 6 < 0.02, `final ${final.speed.toFixed(2)} m/s, truth 6`);
    // A box that grows on both sides (coming nearer) keeps its shape, and keeps counting.
    const nearer = { className: 'car', box: (t: number): Box => [100 + 120 * t - 10 * t, 400 - 6 * t, 400 + 120 * t + 10 * t, 570 + 6 * t] };
    const n = run(stage(), { nearer }, every(5, 0, 3.4), 0);
    assert.equal(n.speeds.find((s) => s.final)!.samples, 18, 'every position');
  });

  test('constant velocity: one id, speed within 3 %, nothing before the minimum age', () => {
    // 200 px/s at 0.05 m/px = 10 m/s.
    const car = { className: 'car', box: moving(100, 400, 160, 90, (t) => 200 * t) };
    const r = run(stage(), { car }, every(5, 0, 4));
    assert.deepEqual([...r.ids.get('car')!], [1]);
    const live = r.speeds.filter((s) => !s.final);
    assert.ok(live.length >= 6, `${live.length} live reports`);
    assert.ok(meanAbsError(r.speeds, () => 10) <= 0.03, `mean error ${meanAbsError(r.speeds, () => 10)}`);
    assert.ok(live[0]!.pts - r.firstSeen.get('car')! >= 0.5 - 1e-9, 'first speed after SPEED_MIN_AGE');
    const final = r.speeds.filter((s) => s.final);
    assert.equal(final.length, 1);
    assert.ok(Math.abs(final[0]!.speed - 10) < 0.1);
    assert.ok(Math.abs(final[0]!.directionDeg) < 1 || Math.abs(final[0]!.directionDeg - 360) < 1);
    assert.ok(final[0]!.errorEstimate > 0 && final[0]!.errorEstimate < 0.2);
    // Live reports at most every SPEED_PUBLISH_INTERVAL.
    for (let i = 1; i < live.length; i++) assert.ok(live[i]!.pts - live[i - 1]!.pts >= 0.5 - 1e-9);
  });

  test('acceleration: the estimate follows the speed at the middle of the window', () => {
    // x = 50 t + 20 t² px → v = 50 + 40 t px/s → (2.5 + 2 t) m/s.
    const car = { className: 'car', box: moving(50, 400, 100, 60, (t) => 50 * t + 20 * t * t) };
    const r = run(stage(), { car }, every(10, 0.1, 4));
    const live = r.speeds.filter((s) => !s.final);
    assert.ok(live.length >= 5);
    // A least-squares line through a parabola has the slope at the samples' mean time:
    // the fit over the last second measures the speed half a window back.
    const truth = (s: SpeedReport) => 2.5 + 2 * (s.pts - ((s.samples - 1) / 2) * 0.1);
    assert.ok(
      live.slice(1).every((s) => s.samples === 11),
      'a full window holds 11 samples at 10 fps',
    );
    assert.ok(meanAbsError(r.speeds, truth) <= 0.03, `${meanAbsError(r.speeds, truth)}`);
  });

  test('two objects crossing keep their own ids and speeds', () => {
    const a = { className: 'person', box: moving(100, 300, 60, 160, (t) => 150 * t) };
    const b = { className: 'person', box: moving(1000, 310, 60, 160, (t) => -120 * t) };
    const r = run(stage(), { a, b }, every(5, 0, 6));
    assert.equal(r.ids.get('a')!.size, 1, `a: ${[...r.ids.get('a')!]}`);
    assert.equal(r.ids.get('b')!.size, 1, `b: ${[...r.ids.get('b')!]}`);
    assert.notDeepEqual([...r.ids.get('a')!], [...r.ids.get('b')!]);
    assert.ok(
      meanAbsError(
        r.speeds.filter((s) => s.object === 'a'),
        () => 7.5,
      ) <= 0.03,
    );
    assert.ok(
      meanAbsError(
        r.speeds.filter((s) => s.object === 'b'),
        () => 6,
      ) <= 0.03,
    );
  });

  test('a 0.5 s occlusion does not break the track', () => {
    const box = moving(100, 400, 120, 80, (t) => 180 * t);
    const car = { className: 'car', box: (t: number) => (t > 2 && t < 2.5 ? undefined : box(t)) };
    const r = run(stage(), { car }, every(10, 0, 5));
    assert.deepEqual([...r.ids.get('car')!], [1]);
    assert.ok(meanAbsError(r.speeds, () => 9) <= 0.03);
  });

  test('dropped frames and irregular timestamps: speed from source time, not frame count', () => {
    const rnd = jitter(3);
    const times: number[] = [];
    for (let t = 0; t < 5; t += 0.2 + rnd(0.08)) if (Math.round(t * 100) % 7 !== 0) times.push(t);
    const car = { className: 'car', box: moving(50, 380, 150, 80, (t) => 220 * t) };
    const r = run(stage(), { car }, times);
    assert.deepEqual([...r.ids.get('car')!], [1]);
    assert.ok(meanAbsError(r.speeds, () => 11) <= 0.03, `${meanAbsError(r.speeds, () => 11)}`);
  });

  test('an object moving more than its own length between frames at 5 fps is tracked and measured within 5 %', () => {
    // 150 px long, 900 px/s: 180 px per frame. 100 km/h = 27.78 m/s → 0.030864 m/px.
    const mpp = 27.7778 / 900;
    const car = { className: 'car', box: moving(-140, 400, 150, 70, (t) => 900 * t) };
    const r = run(
      stage({ metersPerPixel: mpp }, { unit: 'kmh' }),
      { car },
      every(5, 0, 1.6).filter((t) => t > 0.01),
    );
    assert.deepEqual([...r.ids.get('car')!], [1]);
    assert.ok(r.speeds.length >= 1);
    assert.ok(meanAbsError(r.speeds, () => 100) <= 0.05, r.speeds.map((s) => s.speed.toFixed(1)).join(' '));
  });

  test('weak detections keep a track alive but are not reported', () => {
    const box = moving(100, 400, 120, 80, (t) => 100 * t);
    const s = stage();
    const out1 = s.update({ pts: 0, sourceWidth: W, sourceHeight: H, detections: [{ className: 'car', classId: 2, score: 0.8, box: box(0) }] });
    const out2 = s.update({ pts: 0.2, sourceWidth: W, sourceHeight: H, detections: [{ className: 'car', classId: 2, score: 0.8, box: box(0.2) }] });
    const weak = s.update({ pts: 0.4, sourceWidth: W, sourceHeight: H, detections: [{ className: 'car', classId: 2, score: 0.15, box: box(0.4) }] });
    const back = s.update({ pts: 0.6, sourceWidth: W, sourceHeight: H, detections: [{ className: 'car', classId: 2, score: 0.8, box: box(0.6) }] });
    assert.equal(out1.detections.length, 0, 'a track seen once is not confirmed yet, so not reported');
    assert.equal(weak.detections.length, 0, 'a weak detection is not reported');
    assert.equal(back.detections[0]!.trackId, out2.detections[0]!.trackId);
  });

  test('confirmation N of M: reported from the Nth detection within its first M frames; a flicker that cannot get there never is', () => {
    const box = moving(100, 400, 120, 80, (t) => 50 * t);
    const frame = (s: TrackStage, pts: number, seen: boolean) =>
      s.update({ pts, sourceWidth: W, sourceHeight: H, detections: seen ? [{ className: 'car', classId: 2, score: 0.8, box: box(pts) }] : [] }).detections.length;
    // 3 of 5: seen, missed, seen, seen → reported at the fourth frame, and from then on.
    const s = stage(undefined, { confirm: { hits: 3, window: 5 } });
    assert.deepEqual([frame(s, 0, true), frame(s, 0.2, false), frame(s, 0.4, true), frame(s, 0.6, true), frame(s, 0.8, true)], [0, 0, 0, 1, 1]);
    // 3 of 5: seen, missed, missed, missed → it can no longer reach 3 in 5; seen again later it is a new, unconfirmed track.
    const f = stage(undefined, { confirm: { hits: 3, window: 5 } });
    assert.deepEqual([frame(f, 0, true), frame(f, 0.2, false), frame(f, 0.4, false), frame(f, 0.6, false), frame(f, 0.8, true)], [0, 0, 0, 0, 0]);
    // 1 of 1 reports every detection at once.
    assert.equal(frame(stage(undefined, { confirm: { hits: 1, window: 1 } }), 0, true), 1);
  });

  test('per-class thresholds: a class with its own minimum is reported only above it', () => {
    const s = stage(undefined, { confirm: { hits: 1, window: 1 }, scoreThresholds: { person: 0.5 } });
    const out = s.update({
      pts: 0,
      sourceWidth: W,
      sourceHeight: H,
      detections: [
        { className: 'person', classId: 0, score: 0.42, box: [100, 100, 150, 250] },
        { className: 'car', classId: 2, score: 0.42, box: [400, 300, 600, 400] },
      ],
    });
    assert.deepEqual(
      out.detections.map((d) => d.className),
      ['car'],
    );
  });

  test('without calibration objects are tracked and no speed is reported', () => {
    const car = { className: 'car', box: moving(100, 400, 160, 90, (t) => 200 * t) };
    const r = run(stage({}), { car }, every(5, 0, 3));
    assert.equal(r.ids.get('car')!.size, 1);
    assert.equal(r.speeds.length, 0);
  });

  test('boxes touching the frame edge give no speed samples', () => {
    // Enters from the left edge: its box is clipped at x = 0 for the first second.
    const car = {
      className: 'car',
      box: (t: number) => {
        const b = moving(-200, 400, 200, 80, (tt) => 200 * tt)(t);
        return [Math.max(0, b[0]), b[1], b[2], b[3]] as Box;
      },
    };
    const r = run(stage(), { car }, every(5, 0.2, 3));
    const live = r.speeds.filter((s) => !s.final);
    assert.ok(live[0]!.pts >= 1 + 0.6 - 1e-9, `first report at ${live[0]!.pts}: needs 4 edge-free samples`);
    assert.ok(meanAbsError(r.speeds, () => 10) <= 0.03);
  });
});

describe('calibration', () => {
  const image: [number, number][] = [
    [320, 200],
    [960, 200],
    [1280, 720],
    [0, 720],
  ];
  const world: [number, number][] = [
    [0, 0],
    [64, 0],
    [64, 36],
    [0, 36],
  ];

  test('the homography maps the four points exactly and round-trips', () => {
    const h = homographyFromPoints(image, world);
    image.forEach((p, i) => h.toGround(p).forEach((v, k) => assert.ok(Math.abs(v - world[i]![k]!) < 1e-6)));
    for (const p of [
      [640, 400],
      [100, 700],
      [900, 260],
    ] as [number, number][]) {
      const back = h.toImage(h.toGround(p));
      assert.ok(Math.hypot(back[0] - p[0], back[1] - p[1]) < 1e-6);
    }
    assert.ok(h.metersPerPixel([640, 250]) > h.metersPerPixel([640, 700]), 'far away, a pixel covers more ground');
  });

  test('degenerate points are refused with a clear message', () => {
    assert.throws(
      () =>
        homographyFromPoints(
          [
            [0, 0],
            [100, 0],
            [200, 0],
            [0, 100],
          ],
          world,
        ),
      (e: Error) => e instanceof CalibrationError && /points 1, 2 and 3 are on one line/.test(e.message),
    );
    assert.throws(
      () =>
        homographyFromPoints(image, [
          [0, 0],
          [64, 36],
          [64, 0],
          [0, 36],
        ]),
      (e: Error) => e instanceof CalibrationError && /not in the same order/.test(e.message),
    );
  });
});

test('Kalman filter: finds the velocity of a box moving at constant speed, with irregular time steps, and keeps P symmetric', () => {
  const box = (t: number): Box => [100 + 120 * t, 50 - 30 * t, 180 + 120 * t, 110 - 30 * t];
  const filter = new KalmanBoxFilter(box(0));
  let t = 0;
  for (let i = 1; i <= 40; i++) {
    const dt = i % 3 === 0 ? 0.2 : 0.066; // dropped frames
    t += dt;
    filter.predict(dt);
    filter.update(box(t));
  }
  assert.ok(Math.abs(filter.x[4]! - 120) < 2, `vx ${filter.x[4]}`);
  assert.ok(Math.abs(filter.x[5]! + 30) < 2, `vy ${filter.x[5]}`);
  assert.ok(Math.abs(filter.x[2]! - 80) < 1 && Math.abs(filter.x[3]! - 60) < 1, `size ${filter.x[2]}x${filter.x[3]}`);
  for (let i = 0; i < 8; i++) for (let j = 0; j < 8; j++) assert.ok(Math.abs(filter.P[i * 8 + j]! - filter.P[j * 8 + i]!) < 1e-9 * Math.max(1, Math.abs(filter.P[i * 8 + j]!)));
  // One step ahead, the box where it will be is near; one far off is outside the 99 % gate.
  filter.predict(0.066);
  assert.ok(filter.centerDistance2(box(t + 0.066)) < 9.21);
  assert.ok(filter.centerDistance2([400, 400, 480, 460]) > 9.21);
});

test('new tracks: one event per confirmed track, never for a tentative one, in any order of ids', async () => {
  const { NewTracks } = await import('../../agent/track/new-tracks.js');
  const tracks = new NewTracks();
  const d = (trackId: number, trackConfirmed: boolean) => ({
    className: 'person',
    classId: 0,
    score: 0.9,
    box: [0, 0, 1, 1] as [number, number, number, number],
    trackId,
    trackConfirmed,
  });
  assert.deepEqual(tracks.take([d(5, false), d(6, false)]), [], 'tentative tracks are no event');
  assert.deepEqual(
    tracks.take([d(5, false), d(6, true)]).map((x) => x.trackId),
    [6],
  );
  // Track 5 is confirmed after the younger track 6: still its one event.
  assert.deepEqual(
    tracks.take([d(5, true), d(6, true)]).map((x) => x.trackId),
    [5],
  );
  assert.deepEqual(tracks.take([d(5, true), d(6, true)]), [], 'each track once');
});
