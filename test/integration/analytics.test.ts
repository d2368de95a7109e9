// Counting lines, zones, masks and statistics end to end: clips of real photographs
// through real capture, the real detector, the tracker and an MQTT broker on a socket.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../agent/config/index.js';
import { startAgent } from '../../agent/main.js';
import { classPayload, linePayload, lineTotalsPayload, statsPayload, zoneEventPayload, zonePayload } from '../../agent/mqtt/payloads.js';
import { startEmbeddedBroker } from '../../agent/mqtt/broker.js';
import { makeCarClip, stillClip } from '../helpers/clips.js';
import { memoryLogger } from '../helpers/log.js';
import { needs, subscribe, type Received } from '../helpers/net.js';
import { FIXTURES } from '../helpers/paths.js';
import { edgecam } from '../helpers/agent.js';

const dir = mkdtempSync(join(tmpdir(), 'edgecam-analytics-'));

/** Runs the agent on a clip to its end; returns every message on the topics. */
async function runAgent(env: Record<string, string>, topics: string[], stateDir = mkdtempSync(join(dir, 'state-'))): Promise<{ messages: Received[]; warnings: string[] }> {
  const broker = await startEmbeddedBroker({ port: 0, host: '127.0.0.1', log: memoryLogger().log });
  const url = `mqtt://127.0.0.1:${broker.port}`;
  const sub = await subscribe(url, topics);
  try {
    const config = loadConfig({ env: { SOURCE_REALTIME: 'false', MQTT_URL: url, HTTP_ENABLED: 'false', DETECT_FPS: '5', STATE_DIR: stateDir, ...env }, cwd: dir });
    const { log, lines } = memoryLogger('warn');
    const agent = await startAgent(config, log);
    assert.equal(await agent.done, 0);
    if (topics.includes('stats')) await sub.waitFor((m) => m.some((x) => x.topic === 'stats'), 5000);
    return { messages: [...sub.messages], warnings: lines().map((l) => String(l.msg)) };
  } finally {
    await sub.close();
    await broker.close();
  }
}

describe('counting lines and zones on a real photographed car', { skip: needs('ffmpeg'), timeout: 120_000 }, () => {
  // 1280x720 at 15 fps; the car (336x150) crosses left to right at 240 px/s: at 0.05 m/px, 43.2 km/h.
  let clip: string;
  before(() => {
    clip = makeCarClip({ out: join(dir, 'car.mp4'), width: 1280, height: 720, fps: 15, seconds: 7, x0: -336, y: 420, speedPxPerSec: 240, scale: 1.5 });
  });
  const env = () => ({
    SOURCE: clip,
    CLASSES: 'car,truck',
    METERS_PER_PIXEL: '0.05',
    // Drawn upwards: the car goes from the left of it to the right, the first direction.
    LINES: 'gate:640,720;640,300',
    LINE_DIRECTIONS: 'gate:eastbound,westbound',
    ZONES: 'right:760,400;1160,400;1160,720;760,720',
  });
  const topics = ['line/#', 'zone/#', 'stats', 'class'];

  test('one crossing, the right direction, the speed at the line within 3 %; the zone goes 0 → 1 → 0; the statistics say so', async () => {
    const stateDir = mkdtempSync(join(dir, 'state-'));
    const { messages } = await runAgent(env(), topics, stateDir);
    const crossings = messages.filter((m) => m.topic === 'line/gate').map((m) => linePayload.parse(m.json()));
    assert.equal(crossings.length, 1, JSON.stringify(crossings));
    const c = crossings[0]!;
    assert.equal(c.direction, 'eastbound');
    assert.equal(c.class_name, 'car');
    assert.equal(c.unit, 'km/h');
    assert.ok(Math.abs(c.speed! - 43.2) / 43.2 < 0.03, `speed at the line ${c.speed} km/h (truth 43.2)`);
    // The car's box bottom-centre reaches x = 640 at 3.5 s (its box is the detector's, within a few pixels).
    assert.ok(Math.abs(c.pts - 3.5) < 0.3, `crossed at ${c.pts} s`);

    const events = messages.filter((m) => m.topic === 'zone/right/event').map((m) => zoneEventPayload.parse(m.json()));
    assert.deepEqual(
      events.map((e) => e.event),
      ['entered', 'left'],
    );
    // A speed zone: the speed through it, fitted on the ground positions while inside.
    assert.ok(Math.abs(events[1]!.speed! - 43.2) / 43.2 < 0.03, `speed through the zone ${events[1]!.speed} km/h (truth 43.2)`);
    assert.ok(events[1]!.dwell_s! > 1, `dwell ${events[1]!.dwell_s} s`);
    const occupancy = messages.filter((m) => m.topic === 'zone/right').map((m) => zonePayload.parse(m.json()).count);
    assert.deepEqual(occupancy, [0, 1, 0]);

    const totals = messages.filter((m) => m.topic === 'line/gate/totals').map((m) => lineTotalsPayload.parse(m.json()));
    assert.deepEqual(totals.at(-1)!.directions, { eastbound: { total: 1, classes: { car: 1 } }, westbound: { total: 0, classes: {} } });

    // Intervals are aligned to the wall clock: the interval so far at the end of the source, and one
    // before it when the run spanned the turn of a minute (a slow machine). Together they hold the run.
    const stats = messages.filter((m) => m.topic === 'stats').map((m) => statsPayload.parse(m.json()));
    assert.ok(stats.length === 1 || stats.length === 2, `${stats.length} intervals`);
    const sum = (read: (s: (typeof stats)[number]) => number | undefined) => stats.reduce((a, s) => a + (read(s) ?? 0), 0);
    assert.equal(
      sum((s) => s.lines.gate!.eastbound!.count),
      1,
    );
    assert.equal(
      sum((s) => s.lines.gate!.westbound!.count),
      0,
    );
    assert.equal(stats.find((s) => s.lines.gate!.eastbound!.count === 1)!.lines.gate!.eastbound!.speed_p85, c.speed);
    assert.equal(
      sum((s) => s.zones.right!.entered),
      1,
    );
    assert.equal(Math.max(...stats.map((s) => s.zones.right!.occupancy_peak)), 1);
    assert.equal(stats.find((s) => s.zones.right!.speed_max !== undefined)?.zones.right!.speed_max, events[1]!.speed);

    // The totals survive a restart with the same STATE_DIR: a second pass counts on from 1.
    const again = await runAgent(env(), topics, stateDir);
    const retained = again.messages.filter((m) => m.topic === 'line/gate/totals').map((m) => lineTotalsPayload.parse(m.json()));
    assert.equal(retained[0]!.directions.eastbound!.total, 1, 'the retained totals from the first run');
    assert.equal(retained.at(-1)!.directions.eastbound!.total, 2);
    assert.equal(retained.at(-1)!.since, totals[0]!.since);
  });

  test("a line across the car's path but drawn the other way counts the other direction; one beside its path counts nothing", async () => {
    const { messages } = await runAgent({ ...env(), LINES: 'gate:640,300;640,720|beside:640,50;640,250', LINE_DIRECTIONS: '', ZONES: '' }, topics);
    const crossings = messages.filter((m) => m.topic.startsWith('line/') && !m.topic.endsWith('/totals')).map((m) => linePayload.parse(m.json()));
    assert.deepEqual(
      crossings.map((c) => [c.line, c.direction]),
      [['gate', 'out']],
    );
  });
});

describe('masks', { skip: needs('ffmpeg'), timeout: 60_000 }, () => {
  test('a mask over a static object removes it from class; the same object unmasked is reported', async () => {
    // darknet's person.jpg (640x424): a person stands near the middle, with a dog and a horse.
    const clip = stillClip(join(FIXTURES, 'person.jpg'), 2, join(dir, 'person.mp4'));
    const classes = async (extra: Record<string, string>) =>
      new Set(
        (await runAgent({ SOURCE: clip, MOTION_GATING: 'false', ...extra }, ['class'])).messages
          .filter((m) => m.topic === 'class')
          .flatMap((m) => classPayload.parse(m.json()).class_name),
      );
    const open = await classes({});
    assert.ok(open.has('person'), [...open].join());
    // The person's feet (box bottom-centre) are in the lower middle of the picture; the mask is for people only.
    const masked = await classes({ MASKS: 'person@150,300;330,300;330,424;150,424' });
    assert.ok(!masked.has('person'), [...masked].join());
    for (const other of [...open].filter((c) => c !== 'person')) assert.ok(masked.has(other), `${other} is not masked`);
  });
});

describe('configuration errors: one line each, exit 78', () => {
  for (const [env, expected] of [
    [{ LINES: 'stop:120,700' }, /^edgecam: LINES="stop:120,700": stop: 1 point, exactly 2 needed \(example: LINES=/],
    [{ LINES: '120,700;1800,690' }, /^edgecam: LINES="120,700;1800,690": "120,700;1800,690" has no name: write name:x1,y1;x2,y2/],
    [{ ZONES: 'dock:0,0;10,0' }, /^edgecam: ZONES="dock:0,0;10,0": dock: 2 points, at least 3 needed/],
    [{ MASKS: '0,0;10,0;x,10' }, /^edgecam: MASKS="0,0;10,0;x,10": mask1: "x,10" is not a point x,y/],
    [{ LINES: 'a:0,0;1,1', LINE_DIRECTIONS: 'b:north,south' }, /^edgecam: LINE_DIRECTIONS: no line "b" in LINES \(lines: a\)/],
    [{ SCORE_THRESHOLDS: 'person:1.5' }, /^edgecam: SCORE_THRESHOLDS="person:1.5": person: "1.5" is not a score between 0 and 1/],
    [{ SCORE_THRESHOLDS: 'persn:0.4', MQTT_EMBEDDED_PORT: '0' }, /^edgecam: SCORE_THRESHOLDS: unknown class "persn" \(this model knows: person,/],
    [{ TRACK_CONFIRM: '5/3' }, /^edgecam: TRACK_CONFIRM="5\/3": expected 1 ≤ N ≤ M ≤ 30/],
  ] as const) {
    test(Object.keys(env).join(', '), async () => {
      const run = edgecam([], env);
      const { code } = await run.exit;
      assert.equal(code, 78, run.stderr());
      assert.match(run.stderr().trim(), expected);
      assert.equal(run.stderr().trim().split('\n').length, 1, run.stderr());
    });
  }

  test('a point outside the frame is a warning, not an error', { skip: needs('ffmpeg') }, async () => {
    const clip = stillClip(join(FIXTURES, 'person.jpg'), 1, join(dir, 'short.mp4'));
    const { warnings } = await runAgent({ SOURCE: clip, LINES: 'far:100,100;2000,100', ZONES: 'dock:0,0;100,0;100,900' }, ['class']);
    assert.ok(
      warnings.some((w) => /LINES: far: point 2 \(2000,100\) is outside the 640x424 frame/.test(w)),
      warnings.join('\n'),
    );
    assert.ok(warnings.some((w) => /ZONES: dock: point 3 \(100,900\) is outside the 640x424 frame/.test(w)));
  });
});
