// Every vehicle counted on a real road: the dual carriageway of ../shared/clips against
// the hand-made truth of test/truth/dual-carriageway.json (how it was made is in the
// file), run through the agent's capture, detector, track stage and counter at the
// defaults, at 5 and at 10 processed frames a second. A crossing made while a track is
// still being confirmed counts (the replay of its held positions), and so does the one a
// car makes just before the clip ends. Speeds: a speed trap (SPEED_TRAPS) across the
// left carriageway, two lines 45 m apart by the lane line's dashes, against the vehicles
// timed between the same two rows at every frame (how: in the truth file). At 10 fps a box that spans two cars in a queue
// would carry the front car's track onto the rear one without the size term (costs.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../agent/paths.js';
import { createLogger } from '../../agent/log.js';
import { clipDetections } from '../../scripts/identity-detections.js';
import { matchedWithin, replayLines, TRAFFIC, type TrafficTruth } from '../../scripts/user-level.js';
import { needs } from '../helpers/net.js';

const truth = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'test', 'truth', 'dual-carriageway.json'), 'utf8')) as TrafficTruth;
const log = createLogger({ level: 'warn', pretty: false, destination: process.stderr });

for (const fps of ['5', '10'])
  test(
    `real traffic at ${fps} fps: each carriageway's vehicles counted in their direction, exactly, none the other way; the timed vehicles' speeds within 10 % (90 % of them at least)`,
    { skip: needs('ffmpeg') || (!existsSync(TRAFFIC) && `${TRAFFIC} is missing (../shared/clips)`), timeout: 180_000 },
    async (t) => {
      const clip = await clipDetections(TRAFFIC, { DETECT_FPS: fps }, log);
      const trap = truth.speedTrap;
      const trapLines = trap.lines.map((l) => ({ ...l, direction: 'up', crossings: [] }));
      const crossings = replayLines(clip, [...truth.lines, ...trapLines], { SOURCE: TRAFFIC }, [
        { name: trap.name, first: trap.lines[0]!.name, second: trap.lines[1]!.name, metres: trap.metres },
      ]);
      for (const line of truth.lines) {
        const mine = crossings.filter((c) => c.line === line.name);
        const along = mine.filter((c) => c.direction === line.direction).map((c) => c.pts);
        t.diagnostic(`${line.name}: truth ${line.crossings.join(', ')} s; counted ${along.map((p) => p.toFixed(2)).join(', ')} s`);
        assert.equal(along.length, line.crossings.length, `${line.name}: ${along.length} counted, ${line.crossings.length} in the truth`);
        assert.equal(mine.length, along.length, `${line.name}: a crossing the other way`);
        assert.equal(matchedWithin(along, line.crossings, 1), line.crossings.length, `${line.name}: every true crossing matched within 1 s`);
      }
      // Speeds: the trap's timed vehicles, each matched by the time it crossed the trap's second line.
      const timed = crossings.filter((c) => c.trap === trap.name);
      // Each timed vehicle with the agent's nearest crossing of the second line, each crossing taken once.
      const left = [...timed];
      const errors = trap.vehicles.map((v) => {
        const nearest = left.filter((c) => Math.abs(c.pts - v.second) < 0.5).sort((a, b) => Math.abs(a.pts - v.second) - Math.abs(b.pts - v.second))[0];
        if (nearest) left.splice(left.indexOf(nearest), 1);
        const mine = nearest;
        const error = mine?.kmh === undefined ? Infinity : (mine.kmh - v.kmh) / v.kmh;
        t.diagnostic(`timed ${v.kmh} km/h at ${v.second} s: ${mine?.kmh?.toFixed(1) ?? 'none'} (${(100 * error).toFixed(1)} %)`);
        return error;
      });
      const within = errors.filter((e) => Math.abs(e) <= 0.1).length;
      assert.ok(within >= 0.9 * errors.length, `${within} of ${errors.length} timed vehicles within 10 %`);
    },
  );
