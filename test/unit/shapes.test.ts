// Shapes saved while running: what a Save does to the counts (an unchanged line counts
// on, a moved one starts fresh, a deleted one is forgotten), what a refused or unwritable
// save changes (nothing), and how the saved file and the env file meet at the next start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Counter } from '../../agent/analytics/counter.js';
import { configNotices, loadConfig } from '../../agent/config/index.js';
import { shapeOrigins } from '../../agent/config/saved.js';
import { EventBus } from '../../agent/bus.js';
import { ShapeStore } from '../../agent/shapes/index.js';
import type { FrameResult } from '../../agent/bus.js';
import type { Point } from '../../agent/geometry.js';
import { memoryLogger } from '../helpers/log.js';
import { shapeChangeRows } from '../../agent/history/rows.js';

const GATE = { name: 'gate', a: [640, 700] as Point, b: [640, 200] as Point, directions: ['in', 'out'] as [string, string] };
const DOOR = { name: 'door', a: [300, 700] as Point, b: [300, 200] as Point, directions: ['in', 'out'] as [string, string] };

const frame = (pts: number, x: number, trackId = 1): FrameResult => ({
  index: Math.round(pts * 5),
  pts,
  sourceWidth: 1280,
  sourceHeight: 720,
  inferenceMs: 20,
  detections: [{ className: 'car', classId: 2, score: 0.9, box: [x - 50, 440, x + 50, 500], trackId }],
});
const total = (c: Counter, line: string) => [...(c.totals.get(line)?.values() ?? [])].flatMap((m) => [...m.values()]).reduce((a, b) => a + b, 0);
/** One object driving east from x0 to x1 at 40 px a frame, from time t0. */
const drive = (c: Counter, x0: number, x1: number, t0: number, trackId: number) => {
  for (let x = x0, t = t0; x <= x1; x += 40, t += 0.2) c.update(frame(t, x, trackId));
};

test('a Save: an unchanged line keeps its totals and the crossing under way; a moved one starts from zero; a deleted one is forgotten', () => {
  const c = new Counter({ lines: [GATE, DOOR], zones: [], hysteresis: 10, lostSeconds: 1.5, unit: 'kmh', speedWindow: 1 });
  drive(c, 100, 900, 0, 1);
  assert.deepEqual([total(c, 'gate'), total(c, 'door')], [1, 1]);
  // Track 2 is settled left of the gate when the Save comes.
  drive(c, 400, 560, 10, 2);
  const moved = { ...DOOR, a: [200, 700] as Point, b: [200, 200] as Point };
  assert.deepEqual(c.reshape([GATE, moved], []), ['door'], 'only the moved line starts fresh');
  assert.deepEqual([total(c, 'gate'), total(c, 'door')], [1, 0]);
  drive(c, 600, 900, 11, 2);
  assert.equal(total(c, 'gate'), 2, 'the crossing under way through the Save is counted on the unchanged line');
  // Deleted: no count, whatever crosses it.
  assert.deepEqual(c.reshape([moved], []), []);
  drive(c, 100, 900, 20, 3);
  assert.equal(c.totals.has('gate'), false);
  assert.equal(total(c, 'door'), 1);
});

function agentDir(): { dir: string; env: Record<string, string> } {
  const dir = mkdtempSync(join(tmpdir(), 'edgecam-shapes-'));
  return { dir, env: { STATE_DIR: join(dir, 'state'), LINES: 'gate:640,700;640,200', ZONES: 'yard:0,0;100,0;100,100' } };
}

function store(env: Record<string, string>, cwd: string) {
  const config = loadConfig({ env, cwd });
  const applied: unknown[] = [];
  const bus = new EventBus(memoryLogger().log);
  const events: unknown[] = [];
  bus.on('shapes', (s) => events.push(s), 'test');
  const s = new ShapeStore(config, bus, memoryLogger().log, (shapes) => applied.push(shapes));
  s.know({ frame: { width: 1280, height: 720 }, labels: ['person', 'car'] });
  return { s, applied, events, config };
}

test('a refused save changes nothing: the reason names the field; a good one is kept, applied and announced', () => {
  const { dir, env } = agentDir();
  const { s, applied, events } = store(env, dir);
  const file = join(env.STATE_DIR!, 'shapes.json');
  for (const [changes, field, reason] of [
    [{ LINES: 'gate:640,700' }, 'lines', /exactly 2/],
    [{ LINES: 'gate:1,1;2,2|gate:3,3;4,4' }, 'lines', /used twice/],
    [{ LINES: 'far:640,700;2000,200' }, 'lines', /outside the 1280x720 frame/],
    [{ ZONES: 'z:1,1;2,2' }, 'zones', /at least 3/],
    [{ MASKS: 'unicorn@1,1;50,1;50,50' }, 'masks', /not a class of the model/],
    [{ CALIBRATION_IMAGE_POINTS: '0,0;100,0;100,100;0,100', CALIBRATION_WORLD_POINTS: '0,0;0,0;0,0;0,0' }, 'calibration', /./],
    [{ SOURCE: 'x' }, 'lines', /not a shape setting/],
  ] as const) {
    const result = s.save(changes as Record<string, string>, 'test');
    assert.equal(result.ok, false, JSON.stringify(changes));
    assert.match((result as { errors: Record<string, string> }).errors[field] ?? '', reason, JSON.stringify(result));
  }
  assert.equal(existsSync(file), false);
  assert.deepEqual([applied.length, events.length], [0, 0]);
  assert.deepEqual(
    s.shapes.lines.map((l) => l.name),
    ['gate'],
  );

  assert.deepEqual(s.save({ LINES: 'door:300,700;300,200' }, 'test'), { ok: true });
  assert.deepEqual(
    s.shapes.lines.map((l) => l.name),
    ['door'],
  );
  assert.deepEqual([applied.length, events.length], [1, 1]);
  assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')).settings, { LINES: 'door:300,700;300,200' });
  // Zones never saved still come from the env file.
  assert.deepEqual(
    s.shapes.zones.map((z) => z.name),
    ['yard'],
  );
});

test('at the next start the saved shapes override the env file, and say where each came from; a damaged file is set aside', () => {
  const { dir, env } = agentDir();
  store(env, dir).s.save({ LINES: 'door:300,700;300,200', CALIBRATION_IMAGE_POINTS: '412,710;1205,705;1130,380;790,382', CALIBRATION_WORLD_POINTS: '0,0;7,0;7,30;0,30' }, 'test');
  const config = loadConfig({ env: { ...env, METERS_PER_PIXEL: '0.05' }, cwd: dir });
  assert.deepEqual(
    config.ANALYTICS.lines.map((l) => l.name),
    ['door'],
  );
  assert.deepEqual(
    config.ANALYTICS.zones.map((z) => z.name),
    ['yard'],
  );
  assert.equal(config.CALIBRATION, 'points', 'saved calibration points replace METERS_PER_PIXEL');
  const origins = shapeOrigins(config.SHAPES);
  assert.match(origins.LINES, /^saved .* in .*shapes\.json$/);
  assert.equal(origins.ZONES, 'env file or environment');

  const file = join(env.STATE_DIR!, 'shapes.json');
  writeFileSync(file, '{"saved": "x", "settings": {"LINES": ');
  const damaged = loadConfig({ env, cwd: dir });
  assert.deepEqual(
    damaged.ANALYTICS.lines.map((l) => l.name),
    ['gate'],
  );
  assert.match(configNotices(damaged).join('\n'), /unreadable .*set aside as shapes\.json\.damaged/);
  assert.ok(existsSync(`${file}.damaged`));
});

// A real full disk: a tmpfs of 64 KiB filled to its last block (root only, as in CI).
const full = mkdtempSync(join(tmpdir(), 'edgecam-shapes-full-'));
const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', full]).status === 0;

test(
  'a save on a full disk changes nothing: the file on disk and the shapes in force stay as they were',
  { skip: mounted ? false : 'cannot mount a tmpfs here (needs root)' },
  (t) => {
    t.after(() => void spawnSync('umount', [full]));
    const state = join(full, 'state');
    mkdirSync(state);
    const env = { STATE_DIR: state, LINES: 'gate:640,700;640,200' };
    const { s, applied } = store(env, full);
    assert.deepEqual(s.save({ LINES: 'door:300,700;300,200' }, 'test'), { ok: true });
    const before = readFileSync(join(state, 'shapes.json'), 'utf8');
    for (let i = 0, chunk = Buffer.alloc(4096); i < 64; i++) {
      try {
        writeFileSync(join(full, `filler-${i}`), chunk);
      } catch {
        break;
      }
    }
    const long = Array.from({ length: 200 }, (_, i) => `l${i}:${i},700;${i},200`).join('|');
    const result = s.save({ LINES: long }, 'test');
    assert.equal(result.ok, false);
    assert.match(JSON.stringify(result), /not saved, nothing changed: .*ENOSPC/);
    assert.equal(readFileSync(join(state, 'shapes.json'), 'utf8'), before);
    assert.deepEqual(
      s.shapes.lines.map((l) => l.name),
      ['door'],
    );
    assert.equal(applied.length, 1);
    assert.equal(existsSync(join(state, 'shapes.json.tmp')), false, 'no half-written file left');
  },
);

test('the history records what a Save changed: a line drawn, one moved, one deleted, the calibration', () => {
  const before = { lines: [GATE, DOOR], zones: [], masks: [], calibration: { metersPerPixel: 0.05 } };
  const after = {
    lines: [
      { ...DOOR, b: [300, 100] as Point },
      { ...GATE, name: 'exit' },
    ],
    zones: [],
    masks: [],
    calibration: {},
  };
  const rows = shapeChangeRows(before, after, '2026-12-07T10:00:00.000Z').map((r) => [r.row.kind, r.row.name, r.row.change, r.row.points]);
  assert.deepEqual(rows, [
    ['line', 'door', 'moved', '300,700;300,100 (in,out)'],
    ['line', 'exit', 'drawn', '640,700;640,200 (in,out)'],
    ['line', 'gate', 'deleted', null],
    ['calibration', 'calibration', 'deleted', null],
  ]);
  assert.deepEqual(shapeChangeRows(before, before, 'x'), [], 'nothing changed, nothing recorded');
});
