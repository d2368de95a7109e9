// What a road counter meets all day, on synthetic tracks with known truth: a car that
// crosses the line while its track is still being confirmed, riders, a box on part of an
// object, and the association's corner cases (a cost limit, colour that stops helping, one
// confirmation default, a class flicker, travel by time). Each of these failed before the
// change it checks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { assign } from '../../agent/track/assignment.js';
import { DEFAULT_CONFIRM, IDENTITY_DEFAULTS, Tracker, type TrackerDetection } from '../../agent/track/tracker.js';
import { APPEARANCE_LENGTH } from '../../agent/frames/appearance.js';
import { Counter, type Crossing } from '../../agent/analytics/counter.js';
import { loadConfig } from '../../agent/config/index.js';
import type { TrackStage } from '../../agent/track/index.js';
import { trackStage } from '../helpers/track.js';

type Box = [number, number, number, number];
const W = 1280;
const H = 720;
/** 0.05 m per pixel: 100 km/h is 556 px/s, 111 px between two frames at 5 fps. */
const SCALE = 0.05;
const kmh = (v: number) => v / 3.6 / SCALE;

const det = (box: Box, className = 'car', score = 0.8, appearance?: Float32Array): TrackerDetection => ({ className, classId: 0, score, box, appearance });
const look = (i: number) => {
  const d = new Float32Array(APPEARANCE_LENGTH);
  d[i] = 1;
  return d;
};

/** Runs a track stage and a counter with one vertical line at x, as the pipeline and analytics do; returns the crossings and every reported class. */
function count(stage: TrackStage, frames: { t: number; dets: TrackerDetection[] }[], x = 400): { crossings: Crossing[]; classes: Map<number, string> } {
  const counter = new Counter({
    lines: [{ name: 'road', a: [x, 700], b: [x, 20], directions: ['east', 'west'] }],
    zones: [],
    hysteresis: 10,
    lostSeconds: 1.5,
    mapping: stage.mapping,
    unit: 'kmh',
    speedWindow: 1,
  });
  const crossings: Crossing[] = [];
  const classes = new Map<number, string>();
  for (const { t, dets } of frames) {
    const out = stage.update({ pts: t, sourceWidth: W, sourceHeight: H, detections: dets });
    for (const d of out.detections) classes.set(d.trackId, d.className);
    crossings.push(...counter.update({ index: 0, pts: t, sourceWidth: W, sourceHeight: H, detections: out.detections, inferenceMs: 0, replay: out.replay }).crossings);
  }
  stage.flush();
  crossings.push(...counter.flush().crossings);
  return { crossings, classes };
}

/** A box w×h whose bottom-left corner moves from (x0, y) at vx px/s. */
const mover = (x0: number, y: number, w: number, h: number, vx: number) => (t: number) => [x0 + vx * t, y - h, x0 + vx * t + w, y] as Box;

test('a car at 100 km/h that crosses the line in the frame after it first appears (5 fps) is counted once, with its speed at the line', () => {
  const car = mover(300, 500, 90, 45, kmh(100));
  const frames = Array.from({ length: 9 }, (_, i) => ({ t: i / 5, dets: [det(car(i / 5))] }));
  // Its anchor is at 345 px in its first frame, 456 px in its second: the line at 400 lies between them.
  const { crossings } = count(trackStage({ metersPerPixel: SCALE }), frames);
  assert.equal(crossings.length, 1, 'counted once');
  assert.equal(crossings[0]!.direction, 'east');
  assert.ok(Math.abs(crossings[0]!.pts - 0.1) < 0.02, `crossed at ${crossings[0]!.pts} s, between the two frames`);
  const speed = crossings[0]!.speed?.value ?? NaN;
  assert.ok(Math.abs(speed - 100) / 100 < 0.05, `speed at the line ${speed} km/h`);
});

test('a motorcycle seen only as its rider (a person box at 90 km/h) is counted as a motorcycle, even with CLASSES leaving out person; a walker beside it is a person', () => {
  const rider = mover(100, 400, 30, 70, kmh(90));
  const walker = mover(360, 600, 30, 70, kmh(5));
  const frames = Array.from({ length: 12 }, (_, i) => ({ t: i / 5, dets: [det(rider(i / 5), 'person', 0.4), det(walker(i / 5), 'person', 0.7)] }));
  const all = count(trackStage({ metersPerPixel: SCALE }, { riderSpeed: 25 / 3.6, speedClasses: [] }), frames);
  assert.deepEqual(
    all.crossings.map((c) => c.className),
    ['motorcycle', 'person'],
    'the rider crosses first (at 0.3 s), the walker later (at 1.7 s)',
  );
  const vehicles = count(trackStage({ metersPerPixel: SCALE }, { riderSpeed: 25 / 3.6, classes: ['car', 'truck', 'bus', 'motorcycle'] }), frames);
  assert.deepEqual(
    vehicles.crossings.map((c) => c.className),
    ['motorcycle'],
  );
  assert.ok(![...vehicles.classes.values()].includes('person'), 'no person is reported');
});

test('a cyclist (a person box on a bicycle box, moving with it) is one bicycle; a pedestrian walking across in front of it stays a person', () => {
  const bike = mover(100, 500, 60, 40, 150);
  const person = (t: number): Box => {
    const b = bike(t);
    return [b[0] + 10, b[1] - 50, b[2] - 10, b[3] - 15];
  };
  // The pedestrian walks down across the cyclist's path at 60 px/s, in front of it around 1.5 s.
  const pedestrian = (t: number): Box => [330, 350 + 60 * t, 360, 420 + 60 * t];
  const frames = Array.from({ length: 20 }, (_, i) => {
    const t = i / 5;
    return { t, dets: [det(bike(t), 'bicycle', 0.7), det(person(t), 'person', 0.8), det(pedestrian(t), 'person', 0.8)] };
  });
  const { crossings, classes } = count(trackStage({ metersPerPixel: SCALE }, { riderSpeed: 25 / 3.6 }), frames);
  assert.deepEqual(
    crossings.map((c) => c.className),
    ['bicycle'],
    'the cyclist crosses once, as a bicycle',
  );
  assert.equal([...classes.values()].filter((c) => c === 'person').length, 1, 'one person reported: the pedestrian');
  assert.equal([...classes.values()].filter((c) => c === 'bicycle').length, 1, 'one bicycle');
});

test("a box on part of a car (its roof, a second 'car' inside the first) moving with it is not a second car", () => {
  const car = mover(200, 500, 90, 50, 200);
  const roof = (t: number): Box => {
    const b = car(t);
    return [b[0] + 10, b[1] + 2, b[2] - 10, b[1] + 22];
  };
  const frames = Array.from({ length: 15 }, (_, i) => ({ t: i / 5, dets: [det(car(i / 5), 'car', 0.7), det(roof(i / 5), 'car', 0.5)] }));
  const { crossings } = count(trackStage({ metersPerPixel: SCALE }), frames);
  assert.equal(crossings.length, 1);
});

test('the association has a cost limit: one cheap pair and a new track beat two dear pairs that swap identities', () => {
  // A–D1 0.05, A–D2 1.95, B–D1 1.9, B–D2 forbidden: without a limit the solver takes A–D2 + B–D1 (3.85, two matches).
  const cost = [
    [0.05, 1.95],
    [1.9, Infinity],
  ];
  assert.deepEqual(assign(cost, 2), [
    [1, 0],
    [0, 1],
  ]);
  assert.deepEqual(assign(cost, 2, IDENTITY_DEFAULTS.costLimit), [[0, 0]]);
  // Within the limit, more matches still win where they are cheap.
  assert.deepEqual(
    assign(
      [
        [0.1, 0.2],
        [0.15, 0.9],
      ],
      2,
      IDENTITY_DEFAULTS.costLimit,
    ),
    [
      [1, 0],
      [0, 1],
    ],
  );
});

test('colour past its gate stops helping but does not break a track whose boxes overlap well (a light switched on); where they barely overlap it still forbids', () => {
  const tracker = new Tracker({ highScore: 0.3, lowScore: 0.1, lostSeconds: 1.5 });
  const box = (x: number): Box => [x, 200, x + 40, 320];
  let id = 0;
  for (let i = 0; i < 6; i++) id = tracker.update([det(box(100 + 4 * i), 'person', 0.8, look(1))], i / 5).assignment[0]!.trackId;
  // The same person, 4 px on, in other colours (the lighting changed).
  assert.equal(tracker.update([det(box(124), 'person', 0.8, look(5))], 6 / 5).assignment[0]!.trackId, id);
  const far = new Tracker({ highScore: 0.3, lowScore: 0.1, lostSeconds: 1.5 });
  for (let i = 0; i < 6; i++) id = far.update([det(box(100 + 4 * i), 'person', 0.8, look(1))], i / 5).assignment[0]!.trackId;
  // Someone else in other colours, 35 px on (IoU 0.07): within reach of the motion gate, but not the same person.
  assert.notEqual(far.update([det(box(155), 'person', 0.8, look(5))], 6 / 5).assignment[0]!.trackId, id);
});

test('one confirmation default: the tracker alone confirms as the agent does (TRACK_CONFIRM 2/3)', () => {
  const config = loadConfig({ env: {}, cwd: tmpdir() });
  assert.deepEqual(DEFAULT_CONFIRM, config.ANALYTICS.confirm);
  const tracker = new Tracker({ highScore: 0.3, lowScore: 0.1, lostSeconds: 1.5 });
  const box: Box = [100, 100, 140, 200];
  tracker.update([det(box, 'person')], 0);
  tracker.update([], 0.2);
  const track = tracker.update([det(box, 'person')], 0.4).assignment[0]!;
  assert.equal(track.status, 'confirmed', 'detected in 2 of its first 3 frames');
});

test('a van voted car and truck in turn keeps every position for its speed', () => {
  const van = mover(100, 500, 90, 45, kmh(50));
  const frames = Array.from({ length: 16 }, (_, i) => ({ t: i / 5, dets: [det(van(i / 5), i % 2 ? 'truck' : 'car', i % 2 ? 0.6 : 0.7)] }));
  const stage = trackStage({ metersPerPixel: SCALE }, { speedClasses: [], unit: 'kmh' });
  for (const f of frames) stage.update({ pts: f.t, sourceWidth: W, sourceHeight: H, detections: f.dets });
  const [final] = stage.flush();
  assert.ok(final, 'a final speed');
  assert.equal(final.className, 'car');
  assert.equal(final.samples, 16, 'every box is a sample');
  assert.ok(Math.abs(final.speed - 50) / 50 < 0.03, `${final.speed} km/h`);
});

test('travel is measured by time: at 1 fps a weak walker is reported at its second detection, not its sixth', () => {
  const walker = (t: number): Box => [100 + 100 * t, 200, 140 + 100 * t, 300];
  const stage = trackStage({}, { stillScores: { default: 0.45, classes: {} } });
  let first: number | undefined;
  for (let t = 0; t <= 6; t++) {
    const out = stage.update({ pts: t, sourceWidth: W, sourceHeight: H, detections: [det(walker(t), 'person', 0.38)] });
    if (out.detections.length && first === undefined) first = t;
  }
  assert.equal(first, 1);
});

test('a reported car scoring under the threshold while it crosses the line is counted at its time, with its speed from the weak positions too', () => {
  const car = mover(100, 500, 90, 45, kmh(36));
  // Confident, then weak (0.2) from 0.8 s to 1.6 s, while its anchor crosses x=400 (at 1.275 s), then confident again.
  const frames = Array.from({ length: 16 }, (_, i) => ({ t: i / 5, dets: [det(car(i / 5), 'car', i >= 4 && i <= 8 ? 0.2 : 0.8)] }));
  const { crossings } = count(trackStage({ metersPerPixel: SCALE }), frames);
  assert.equal(crossings.length, 1);
  assert.ok(Math.abs(crossings[0]!.pts - 1.275) < 0.03, `crossed at ${crossings[0]!.pts} s`);
  const speed = crossings[0]!.speed?.value ?? NaN;
  assert.ok(Math.abs(speed - 36) / 36 < 0.05, `speed at the line ${speed} km/h`);
});

test('a speed trap: two lines 20 m apart time each object that crosses both, either way, without a calibration', () => {
  const counter = new Counter({
    lines: [
      { name: 'entry', a: [400, 700], b: [400, 20], directions: ['east', 'west'] },
      { name: 'exit', a: [800, 700], b: [800, 20], directions: ['east', 'west'] },
    ],
    traps: [{ name: 'lane', first: 'entry', second: 'exit', metres: 20 }],
    zones: [],
    hysteresis: 10,
    lostSeconds: 1.5,
    unit: 'kmh',
    speedWindow: 1,
  });
  // 400 px between the lines is 20 m: at 72 km/h (20 m/s) eastwards one second, at 36 km/h westwards two.
  const east = (t: number): Box => [300 + 400 * t, 455, 390 + 400 * t, 500];
  const west = (t: number): Box => [900 - 200 * t, 255, 990 - 200 * t, 300];
  const crossings: Crossing[] = [];
  for (let i = 0; i <= 20; i++) {
    const t = i / 5;
    const detections = [
      { className: 'car', classId: 2, score: 0.8, box: east(t), trackId: 1 },
      { className: 'car', classId: 2, score: 0.8, box: west(t), trackId: 2 },
    ].filter((d) => d.box[0] > 0 && d.box[2] < W);
    crossings.push(...counter.update({ index: i, pts: t, sourceWidth: W, sourceHeight: H, detections, inferenceMs: 0 }).crossings);
  }
  crossings.push(...counter.flush().crossings);
  const timed = crossings.filter((c) => c.trap);
  assert.equal(crossings.length, 4, 'each car crosses both lines');
  assert.deepEqual(
    timed.map((c) => [c.trackId, c.line, c.trap!.from]),
    [
      [1, 'exit', 'entry'],
      [2, 'entry', 'exit'],
    ],
  );
  assert.ok(Math.abs(timed[0]!.speed!.value - 72) < 0.5, `${timed[0]!.speed!.value} km/h`);
  assert.ok(Math.abs(timed[1]!.speed!.value - 36) < 0.5, `${timed[1]!.speed!.value} km/h`);
  assert.ok(
    crossings.filter((c) => !c.trap).every((c) => c.speed === undefined),
    'no calibration: the first crossings have no speed',
  );
});
