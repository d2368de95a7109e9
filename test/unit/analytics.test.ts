// Counting lines, zones and interval statistics on synthetic tracks: the rules that make
// the counts trustworthy (hysteresis, once per track, direction by point order, concave
// zones, V85, intervals without traffic).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Counter, type CounterOptions } from '../../agent/analytics/counter.js';
import { IntervalStats } from '../../agent/analytics/stats.js';
import { inPolygon, parseShapes, percentile, type Point } from '../../agent/geometry.js';
import type { FrameResult } from '../../agent/bus.js';

const W = 1280;
const H = 720;
// Drawn upwards: standing on its first point facing the second (north), west → east is left to right, the first direction.
const LINE = { name: 'gate', a: [640, 700] as Point, b: [640, 200] as Point, directions: ['eastbound', 'westbound'] as [string, string] };

function counter(o: Partial<CounterOptions> = {}) {
  return new Counter({ lines: [LINE], zones: [], hysteresis: 10, lostSeconds: 1.5, unit: 'kmh', speedWindow: 1, ...o });
}

/** A frame with one object whose anchor (box bottom-centre) is at (x, y). */
function frame(pts: number, anchors: [number, number, number][]): FrameResult {
  return {
    index: Math.round(pts * 5),
    pts,
    sourceWidth: W,
    sourceHeight: H,
    inferenceMs: 20,
    detections: anchors.map(([trackId, x, y]) => ({ className: 'car', classId: 2, score: 0.9, box: [x - 50, y - 60, x + 50, y] as [number, number, number, number], trackId })),
  };
}

function run(c: Counter, path: [number, number][], trackId = 1) {
  const crossings = path.flatMap(([x, y], i) => c.update(frame(i * 0.2, [[trackId, x, y]])).crossings);
  return [...crossings, ...c.flush().crossings];
}

test('jitter of ±3 px across a line for 20 frames counts nothing', () => {
  const path = Array.from({ length: 20 }, (_, i) => [640 + (i % 2 ? 3 : -3), 500] as [number, number]);
  assert.deepEqual(run(counter(), path), []);
});

test('one clean crossing counts exactly once, in its direction; reversed points give the other direction', () => {
  const east = Array.from({ length: 15 }, (_, i) => [400 + i * 40, 500] as [number, number]);
  const c = run(counter(), east);
  assert.equal(c.length, 1);
  assert.equal(c[0]!.direction, 'eastbound', 'left to right of the first→second point');
  assert.ok(Math.abs(c[0]!.pts - 1.2) < 0.01, `interpolated crossing time ${c[0]!.pts}`);
  const reversed = counter({ lines: [{ ...LINE, a: LINE.b, b: LINE.a }] });
  assert.equal(run(reversed, east)[0]!.direction, 'westbound');
  const west = [...east].reverse();
  assert.equal(run(counter(), west)[0]!.direction, 'westbound');
});

test('a track counts each passage once: jitter after a crossing adds nothing, crossing back counts the other way, and a repeat in the same direction must cross back first', () => {
  const there = Array.from({ length: 10 }, (_, i) => [500 + i * 30, 500] as [number, number]);
  const back = [...there].reverse();
  const jitter = Array.from({ length: 10 }, (_, i) => [800 + (i % 2 ? 2 : -2), 500] as [number, number]);
  const c = counter();
  const crossings = run(c, [...there, ...jitter, ...back, ...there]);
  assert.deepEqual(
    crossings.map((x) => x.direction),
    ['eastbound', 'westbound', 'eastbound'],
  );
  assert.equal(c.totals.get('gate')!.get('eastbound')!.get('car'), 2);
  // Back past the end of the segment (no crossing), then through it again the same way: no second count.
  const around: [number, number][] = [...there, [800, 900], [300, 900], ...there];
  assert.equal(run(counter(), around).length, 1);
});

test('hysteresis: a path that crosses and turns back before getting 10 px beyond does not count', () => {
  const path: [number, number][] = [
    [600, 500],
    [620, 500],
    [645, 500],
    [648, 500],
    [630, 500],
    [600, 500],
  ];
  assert.deepEqual(run(counter(), path), []);
});

test('a path past the end of the segment does not cross it', () => {
  const path = Array.from({ length: 15 }, (_, i) => [400 + i * 40, 100] as [number, number]);
  assert.deepEqual(run(counter(), path), []);
});

test('two tracks crossing are two counts; the speed at the line comes from the calibration', async () => {
  const { scaleMapping } = await import('../../agent/track/index.js');
  // 200 px/s at 0.05 m/px = 10 m/s = 36 km/h.
  const c = counter({ mapping: scaleMapping(0.05) });
  const out = [];
  for (let i = 0; i < 20; i++)
    out.push(
      ...c.update(
        frame(i * 0.2, [
          [1, 300 + i * 40, 500],
          [2, 340 + i * 40, 600],
        ]),
      ).crossings,
    );
  out.push(...c.flush().crossings);
  assert.equal(out.length, 2);
  for (const x of out) assert.ok(Math.abs(x.speed!.value - 36) < 0.01, `${x.speed!.value} km/h`);
});

test('polygons: concave shapes, and points on an edge or a vertex are inside', () => {
  // An L: the notch at the top right is outside.
  const l: Point[] = [
    [0, 0],
    [100, 0],
    [100, 50],
    [50, 50],
    [50, 100],
    [0, 100],
  ];
  assert.equal(inPolygon(l, [25, 75]), true);
  assert.equal(inPolygon(l, [75, 25]), true);
  assert.equal(inPolygon(l, [75, 75]), false, 'the notch');
  assert.equal(inPolygon(l, [100, 25]), true, 'on an edge');
  assert.equal(inPolygon(l, [50, 50]), true, 'on the inner vertex');
  assert.equal(inPolygon(l, [0, 0]), true, 'on a vertex');
  assert.equal(inPolygon(l, [101, 25]), false);
});

test('a zone: entered and left after two frames on the new side, with the dwell; a flicker at the border is no event', () => {
  const zone = {
    name: 'dock',
    points: [
      [500, 400],
      [800, 400],
      [800, 700],
      [500, 700],
    ] as Point[],
  };
  const c = counter({ lines: [], zones: [zone] });
  const xs = [400, 450, 520, 560, 600, 640, 680, 720, 760, 820, 860, 900];
  const events = xs.flatMap((x, i) => c.update(frame(i * 0.5, [[7, x, 500]])).zoneEvents);
  assert.deepEqual(
    events.map((e) => [e.event, e.pts]),
    [
      ['entered', 1.5],
      ['left', 5],
    ],
  );
  assert.equal(events[1]!.dwell, 3.5);
  // In, out for one frame, in: no event.
  const f = counter({ lines: [], zones: [zone] });
  const flicker = [600, 600, 600, 480, 600, 600].flatMap((x, i) => f.update(frame(i * 0.2, [[3, x, 500]])).zoneEvents);
  assert.deepEqual(
    flicker.map((e) => e.event),
    ['entered'],
  );
  assert.deepEqual(f.occupancy(), [{ zone: 'dock', counts: { car: 1 }, trackIds: [3] }]);
});

test('V85 of a known list, statistics of an interval without traffic, the speed histogram and the count over the limit', () => {
  assert.equal(percentile([10, 20, 30, 40, 50, 60, 70, 80, 90, 100], 0.85), 86.5);
  assert.equal(percentile([42], 0.85), 42);
  const stats = new IntervalStats([LINE], ['dock'], { unit: 'km/h', bin: 10, limit: 45 });
  const empty = stats.take(new Date('2026-11-25T08:00:00Z'), new Date('2026-11-25T08:01:00Z'));
  assert.deepEqual(empty.lines, { gate: { eastbound: { count: 0, classes: {} }, westbound: { count: 0, classes: {} } } });
  assert.deepEqual(empty.zones, { dock: { occupancy_peak: 0, occupancy_mean: 0, entered: 0 } });
  assert.equal(empty.interval_s, 60);
  assert.equal(empty.speed_bin, 10);
  assert.equal(empty.speed_limit, 45);
  for (const v of [30, 40, 50, 60])
    stats.crossing({ line: 'gate', direction: 'eastbound', trackId: v, className: 'car', pts: 0, speed: { value: v, unit: 'km/h', errorEstimate: 1, samples: 5 } });
  stats.crossing({ line: 'gate', direction: 'eastbound', trackId: 9, className: 'truck', pts: 0, speed: { value: 212, unit: 'km/h', errorEstimate: 1, samples: 5 } });
  stats.crossing({ line: 'gate', direction: 'eastbound', trackId: 10, className: 'truck', pts: 0 });
  const busy = stats.take(new Date('2026-11-25T08:01:00Z'), new Date('2026-11-25T08:02:00Z'));
  const bins = (at: Record<number, number>) => Array.from({ length: 16 }, (_, i) => at[i] ?? 0);
  assert.deepEqual(busy.lines.gate!.eastbound!.classes.car, {
    count: 4,
    speed_mean: 45,
    speed_p85: 55.5,
    speed_max: 60,
    speed_samples: 4,
    speed_histogram: bins({ 3: 1, 4: 1, 5: 1, 6: 1 }),
    over_limit: 2,
  });
  // A truck without a speed counts but is in no bin; 212 km/h falls into the open-ended top bin.
  assert.deepEqual(busy.lines.gate!.eastbound!.classes.truck, {
    count: 2,
    speed_mean: 212,
    speed_p85: 212,
    speed_max: 212,
    speed_samples: 1,
    speed_histogram: bins({ 15: 1 }),
    over_limit: 1,
  });
  assert.equal(busy.lines.gate!.eastbound!.count, 6);
  assert.deepEqual(busy.lines.gate!.eastbound!.speed_histogram, bins({ 3: 1, 4: 1, 5: 1, 6: 1, 15: 1 }));
  assert.equal(busy.lines.gate!.eastbound!.over_limit, 3);
  assert.equal(busy.lines.gate!.westbound!.speed_histogram, undefined, 'no speeds, no histogram');
  const unlimited = new IntervalStats([LINE], [], { unit: 'mph', bin: 5 });
  unlimited.crossing({ line: 'gate', direction: 'westbound', trackId: 1, className: 'car', pts: 0, speed: { value: 4.99, unit: 'mph', errorEstimate: 1, samples: 5 } });
  const mph = unlimited.take(new Date('2026-11-25T08:01:00Z'), new Date('2026-11-25T08:02:00Z'));
  assert.equal(mph.speed_limit, undefined);
  assert.equal(mph.lines.gate!.westbound!.over_limit, undefined);
  assert.deepEqual(mph.lines.gate!.westbound!.speed_histogram, bins({ 0: 1 }));
});

test('the grammar of LINES, ZONES and MASKS', () => {
  assert.deepEqual(parseShapes('stop:120,700;1800,690', { minPoints: 2, maxPoints: 2 }), [
    {
      name: 'stop',
      points: [
        [120, 700],
        [1800, 690],
      ],
      classes: [],
    },
  ]);
  assert.equal(parseShapes('stop:120,700', { minPoints: 2, maxPoints: 2 }), 'stop: 1 point, exactly 2 needed');
  assert.equal(parseShapes('dock:0,0;10,0', { minPoints: 3 }), 'dock: 2 points, at least 3 needed');
  assert.equal(parseShapes('120,700;1800,690', { minPoints: 2, maxPoints: 2 }), '"120,700;1800,690" has no name: write name:x1,y1;x2,y2');
  assert.equal(parseShapes('a:1,2;3,x', { minPoints: 2 }), 'a: "3,x" is not a point x,y');
  assert.equal(parseShapes('a:1,2;3,4|a:5,6;7,8', { minPoints: 2 }), 'the name "a" is used twice');
  const masks = parseShapes('0,0;10,0;10,10|sign:person+dog@20,20;30,20;30,30', { minPoints: 3, namePrefix: 'mask', classPrefix: true });
  assert.ok(Array.isArray(masks));
  assert.deepEqual(
    masks.map((m) => [m.name, m.classes]),
    [
      ['mask1', []],
      ['sign', ['person', 'dog']],
    ],
  );
});
