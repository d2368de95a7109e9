// Identity through passing: real photographed people (darknet's person.jpg, one of them
// mirrored in other colours) walk towards each other across real gravel (python3-skimage)
// and pass with partial occlusion, through real capture, the real detector, the tracker,
// a counting line and MQTT. Truth by construction: where each person is at every moment.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../agent/config/index.js';
import { startAgent } from '../../agent/main.js';
import { classPayload, linePayload, speedPayload } from '../../agent/mqtt/payloads.js';
import { startEmbeddedBroker } from '../../agent/mqtt/broker.js';
import { GRAVEL, makeWalkersClip, walkerBox, type Walker } from '../helpers/clips.js';
import { memoryLogger } from '../helpers/log.js';
import { needs, subscribe } from '../helpers/net.js';

const dir = mkdtempSync(join(tmpdir(), 'edgecam-passing-'));
const W = 960;
const H = 540;
const MPP = 0.02;
const SECONDS = 7.5;

interface Case {
  name: string;
  fps: string;
  walkers: Walker[];
}

const CASES: Case[] = [
  {
    name: 'two people, 150 px/s each, at DETECT_FPS=5',
    fps: '5',
    walkers: [
      { x0: -90, y: 110, speedPxPerSec: 150, scale: 0.95 },
      { x0: 960, y: 150, speedPxPerSec: -150, scale: 1.05, mirror: true, hue: 150 },
    ],
  },
  {
    name: 'two smaller people, 220 and 180 px/s, at DETECT_FPS=10',
    fps: '10',
    walkers: [
      { x0: -80, y: 150, speedPxPerSec: 220, scale: 0.9 },
      { x0: 930, y: 170, speedPxPerSec: -180, scale: 0.9, mirror: true, hue: 200 },
    ],
  },
  {
    name: 'three people, two of them one behind the other, at DETECT_FPS=5',
    fps: '5',
    walkers: [
      { x0: -90, y: 90, speedPxPerSec: 160, scale: 0.95 },
      { x0: 960, y: 120, speedPxPerSec: -140, scale: 1.0, mirror: true, hue: 150 },
      { x0: 1160, y: 200, speedPxPerSec: -170, scale: 1.1, hue: 90 },
    ],
  },
  {
    name: 'two people meet past the line, one hidden behind the other for a second, and turn back',
    fps: '5',
    walkers: [
      { x0: -90, y: 110, speedPxPerSec: 150, scale: 0.95, turn: { at: 4.06, stand: 1 } },
      { x0: 1154, y: 150, speedPxPerSec: -150, scale: 1.05, mirror: true, hue: 150, turn: { at: 4.06, stand: 1 } },
    ],
  },
];

/** The crossings of the line at x = W/2 that a walker's path makes (anchor 10 px beyond, as LINE_HYSTERESIS). */
function expectedCrossings(w: Walker): string[] {
  const out: string[] = [];
  let side = 0;
  for (let t = 0; t <= SECONDS; t += 0.01) {
    const b = walkerBox(w, t);
    const d = (b[0] + b[2]) / 2 - W / 2;
    if (Math.abs(d) < 10 || b[0] < 0 || b[2] > W) continue;
    const now = Math.sign(d);
    if (side && now !== side) out.push(now < 0 ? 'leftward' : 'rightward');
    side = now;
  }
  return out;
}

/** The walker whose true box holds the detection's centre at time t, if exactly one does. */
function whose(walkers: Walker[], box: number[], t: number): number | undefined {
  const cx = (box[0]! + box[2]!) / 2;
  const cy = (box[1]! + box[3]!) / 2;
  const inside = walkers
    .map((w, i) => [i, walkerBox(w, t)] as const)
    .filter(([, b]) => cx >= b[0] && cx <= b[2] && cy >= b[1] && cy <= b[3])
    .map(([i]) => i);
  if (inside.length !== 1) return undefined;
  // Near the moment two boxes meet, a box between them is no evidence either way.
  const [cx0] = [(walkerBox(walkers[inside[0]!]!, t)[0] + walkerBox(walkers[inside[0]!]!, t)[2]) / 2];
  return Math.abs(cx - cx0) <= (walkerBox(walkers[inside[0]!]!, t)[2] - walkerBox(walkers[inside[0]!]!, t)[0]) / 2 ? inside[0] : undefined;
}

describe('people passing each other keep their identities', { skip: needs('ffmpeg') || (!existsSync(GRAVEL) && 'python3-skimage is not installed'), timeout: 240_000 }, () => {
  for (const c of CASES)
    test(c.name, async () => {
      const clip = makeWalkersClip({ out: join(dir, `${c.name.replace(/\W+/g, '-')}.mp4`), width: W, height: H, fps: 15, seconds: SECONDS, walkers: c.walkers });
      const broker = await startEmbeddedBroker({ port: 0, host: '127.0.0.1', log: memoryLogger().log });
      const url = `mqtt://127.0.0.1:${broker.port}`;
      const sub = await subscribe(url, ['class', 'line/#', 'speedometer']);
      try {
        const env = {
          SOURCE: clip,
          SOURCE_REALTIME: 'false',
          MQTT_URL: url,
          HTTP_ENABLED: 'false',
          STATE_DIR: mkdtempSync(join(dir, 'state-')),
          CLASSES: 'person',
          DETECT_FPS: c.fps,
          METERS_PER_PIXEL: String(MPP),
          // Drawn downwards: a person walking leftwards crosses from its left to its right.
          LINES: `middle:${W / 2},0;${W / 2},${H}`,
          LINE_DIRECTIONS: 'middle:leftward,rightward',
        };
        const agent = await startAgent(loadConfig({ env, cwd: dir }), memoryLogger('warn').log);
        assert.equal(await agent.done, 0);
        await sub.waitFor((m) => m.filter((x) => x.topic === 'speedometer' && speedPayload.parse(x.json()).final).length >= c.walkers.length, 15_000).catch(() => {});

        // Identity: every reported box that lies on one person belongs to that person's one track.
        const owner = new Map<number, number>();
        const tracksOf = c.walkers.map(() => new Set<number>());
        for (const m of sub.messages.filter((x) => x.topic === 'class')) {
          const p = classPayload.parse(m.json());
          for (const d of p.detections) {
            const w = whose(c.walkers, d.box, p.pts);
            if (w === undefined) continue;
            tracksOf[w]!.add(d.track_id!);
            assert.ok(!owner.has(d.track_id!) || owner.get(d.track_id!) === w, `track ${d.track_id} is on person ${owner.get(d.track_id!)} and then on person ${w} at ${p.pts} s`);
            owner.set(d.track_id!, w);
          }
        }
        tracksOf.forEach((ids, w) => assert.equal(ids.size, 1, `person ${w}: tracks ${[...ids].join(', ')}`));

        // Counts: each person's crossings, in order, as its path makes them.
        const crossings = sub.messages.filter((x) => x.topic === 'line/middle').map((x) => linePayload.parse(x.json()));
        assert.equal(crossings.length, c.walkers.map(expectedCrossings).flat().length, JSON.stringify(crossings));
        c.walkers.forEach((w, i) =>
          assert.deepEqual(
            crossings.filter((x) => owner.get(x.track_id) === i).map((x) => x.direction),
            expectedCrossings(w),
            `person ${i}`,
          ),
        );

        // Speeds: each person's final speed within 10 % of the truth (boxes change shape while occluded).
        const finals = sub.messages
          .filter((x) => x.topic === 'speedometer')
          .map((x) => speedPayload.parse(x.json()))
          .filter((s) => s.final);
        for (const [w, ids] of tracksOf.entries()) {
          if (c.walkers[w]!.turn) continue; // there and back: no one speed
          const truth = Math.abs(c.walkers[w]!.speedPxPerSec) * MPP * 3.6;
          const s = finals.find((f) => ids.has(f.track_id));
          assert.ok(s, `person ${w}: no final speed`);
          assert.ok(Math.abs(s.speed - truth) / truth <= 0.1, `person ${w}: ${s.speed.toFixed(2)} km/h, truth ${truth.toFixed(2)}`);
        }
      } finally {
        await sub.close();
        await broker.close();
      }
    });
});

describe('the bundled sample for 60 s: every final speed is its object', { skip: needs('ffmpeg'), timeout: 240_000 }, () => {
  test('no track ends with a speed more than 10 % off 21.6 km/h, whatever its class', async () => {
    const broker = await startEmbeddedBroker({ port: 0, host: '127.0.0.1', log: memoryLogger().log });
    const url = `mqtt://127.0.0.1:${broker.port}`;
    const sub = await subscribe(url, ['class', 'speedometer']);
    try {
      const env = { SOURCE_LOOP: 'true', SOURCE_REALTIME: 'false', MQTT_URL: url, HTTP_ENABLED: 'false', STATE_DIR: mkdtempSync(join(dir, 'state-')), SPEED_UNIT: 'kmh' };
      const agent = await startAgent(loadConfig({ env, cwd: dir }), memoryLogger('warn').log);
      await sub.waitFor((m) => m.some((x) => x.topic === 'class' && classPayload.parse(x.json()).pts >= 60), 180_000);
      assert.equal(await agent.stop('test done'), 0);
      const finals = sub.messages
        .filter((x) => x.topic === 'speedometer')
        .map((x) => speedPayload.parse(x.json()))
        .filter((s) => s.final);
      // Five loops of the 12 s clip, six objects each.
      assert.ok(finals.length >= 20, `${finals.length} final speeds`);
      const off = finals.filter((s) => Math.abs(s.speed - 21.6) / 21.6 > 0.1);
      assert.deepEqual(off, [], `${off.length} of ${finals.length} tracks end off the clip's 21.6 km/h`);
    } finally {
      await sub.close();
      await broker.close();
    }
  });
});
