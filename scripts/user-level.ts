// What a user sees of a model, measured on real footage against hand-made truth: counts
// at lines, tracks per person, static false tracks, parked vehicles kept, final speeds.
// Each check replays the detector's output for a clip (identity-detections.ts, the agent's
// capture and detector at the agent's defaults) through the agent's track stage and
// counter, so two models are compared on exactly what the agent would publish.
//
//   npm run models:users [-- --models centernet-fp32,centernet-int8]
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { parseArgs } from 'node:util';
import { Counter, type Crossing } from '../agent/analytics/counter.js';
import type { SpeedTrap } from '../agent/config/analytics.js';
import { loadConfig } from '../agent/config/index.js';
import { createLogger } from '../agent/log.js';
import { BUNDLED_SAMPLE, PACKAGE_ROOT } from '../agent/paths.js';
import { TrackStage, trackOptions, type SpeedReport } from '../agent/track/index.js';
import { clipDetections, type ClipDetections } from './identity-detections.js';
import { replay, VARIANTS } from './measure-identity.js';

export const VTEST = '/usr/share/doc/opencv-doc/examples/data/vtest.avi';
/** Real traffic kept beside the repository, never in it (../shared/clips/README.md). */
export const TRAFFIC = join(PACKAGE_ROOT, '..', 'shared', 'clips', 'dual-carriageway.mp4');

export interface TrafficTruth {
  clip: string;
  lines: { name: string; a: [number, number]; b: [number, number]; direction: string; crossings: number[] }[];
  /** Two lines a known distance apart along the road, and the vehicles timed between them. */
  speedTrap: { name: string; lines: { name: string; a: [number, number]; b: [number, number] }[]; metres: number; vehicles: { first: number; second: number; kmh: number }[] };
}

export interface Outcome {
  check: string;
  /** What was measured, as a person reads it. */
  value: string;
  /** Within the truth's tolerance. */
  ok: boolean;
}

const log = () => createLogger({ level: 'warn', pretty: false, destination: process.stderr });
const truthFile = <T>(name: string) => JSON.parse(readFileSync(join(PACKAGE_ROOT, 'test', 'truth', name), 'utf8')) as T;

/** vtest.avi against test/truth/vtest.json: crossings each way within one of the truth (and as many matched within 1 s), person tracks within the people's count, no static false track, every parked vehicle kept. */
export async function footpath(model: string): Promise<Outcome[]> {
  const truth = truthFile<Parameters<typeof replay>[1]>('vtest.json');
  const clip = await clipDetections(VTEST, { DETECT_FPS: '5', MODEL: model }, log());
  const r = replay(clip, truth, VARIANTS.at(-1)!);
  const way = (dir: 'leftward' | 'rightward', n: number, matched: number): Outcome => {
    const want = truth.crossings[dir].length;
    return { check: `footpath: ${dir} crossings (of ${want})`, value: `${n}, ${matched} matched`, ok: Math.abs(n - want) <= 1 && matched >= want - 1 };
  };
  const { count, uncertainty } = truth.people;
  return [
    way('leftward', r.leftward, r.leftwardMatched),
    way('rightward', r.rightward, r.rightwardMatched),
    {
      check: `footpath: person tracks (${count} ± ${uncertainty} people)`,
      value: `${r.personTracks} (${r.tracksPerPerson.toFixed(2)} per person)`,
      ok: r.personTracks >= count - uncertainty && r.tracksPerPerson <= 1.25,
    },
    { check: 'footpath: static false tracks', value: String(r.staticFalse.length), ok: r.staticFalse.length === 0 },
    { check: `footpath: parked vehicles kept (of ${r.parkedTotal})`, value: String(r.parkedReported), ok: r.parkedReported === r.parkedTotal },
  ];
}

/** The real dual carriageway against test/truth/dual-carriageway.json: each line's count in its traffic's direction within one of the truth, none the other way. */
export async function traffic(model: string): Promise<Outcome[]> {
  const truth = truthFile<TrafficTruth>('dual-carriageway.json');
  const clip = await clipDetections(TRAFFIC, { DETECT_FPS: '5', MODEL: model }, log());
  const crossings = replayLines(clip, truth.lines, { SOURCE: TRAFFIC });
  return truth.lines.map((l) => {
    const mine = crossings.filter((c) => c.line === l.name);
    const along = mine.filter((c) => c.direction === l.direction);
    const matched = matchedWithin(
      along.map((c) => c.pts),
      l.crossings,
      1,
    );
    const want = l.crossings.length;
    return {
      check: `traffic: ${l.name} (${want} vehicles)`,
      value: `${along.length} ${l.direction}, ${mine.length - along.length} the other way, ${matched} matched`,
      ok: Math.abs(along.length - want) <= 1 && matched >= want - 1 && mine.length === along.length,
    };
  });
}

/** One pass of the bundled sample (photographs at 21.6 km/h; the car, the bicycle and the two people get speeds by default): every final speed within 10 %, every object's class found. */
export async function sample(model: string): Promise<Outcome[]> {
  const clip = await clipDetections(BUNDLED_SAMPLE, { DETECT_FPS: '5', SOURCE_LOOP: 'false', MODEL: model }, log());
  const config = loadConfig({ env: { MODEL: model, SPEED_UNIT: 'kmh' }, cwd: tmpdir() });
  const stage = new TrackStage(trackOptions(config, log()));
  const finals: SpeedReport[] = [];
  const classes = new Set<string>();
  for (const f of clip.frames) {
    const out = stage.update({ pts: f.pts, sourceWidth: clip.sourceWidth, sourceHeight: clip.sourceHeight, detections: f.detections });
    for (const d of out.detections) classes.add(d.className);
    finals.push(...out.speeds.filter((s) => s.final));
  }
  finals.push(...stage.flush());
  const worst = Math.max(...finals.map((s) => Math.abs(s.speed - 21.6) / 21.6));
  const expected = ['person', 'dog', 'bicycle', 'car'];
  return [
    {
      check: 'sample: final speeds (21.6 km/h)',
      value: `${finals.length}: ${finals.map((s) => `${s.className} ${s.speed.toFixed(1)}`).join(', ')}; worst ${(worst * 100).toFixed(1)} % off`,
      ok: finals.length >= 4 && worst <= 0.1,
    },
    { check: 'sample: classes', value: [...classes].sort().join(', '), ok: expected.every((c) => classes.has(c)) },
  ];
}

/** How many true times a measured time matches within `seconds`, each true time matched once (nearest first). */
export function matchedWithin(measured: number[], truth: number[], seconds: number): number {
  const left = [...truth];
  let n = 0;
  for (const m of measured) {
    let best = -1;
    for (let i = 0; i < left.length; i++) if (Math.abs(left[i]! - m) <= seconds && (best < 0 || Math.abs(left[i]! - m) < Math.abs(left[best]! - m))) best = i;
    if (best < 0) continue;
    left.splice(best, 1);
    n++;
  }
  return n;
}

/** Crossings of `lines` by the clip's confirmed tracks, as the agent's counter makes them at the agent's defaults (with SPEED_TRAPS' traps when given). */
export function replayLines(clip: ClipDetections, lines: TrafficTruth['lines'], env: Record<string, string>, traps: SpeedTrap[] = []) {
  const config = loadConfig({ env, cwd: tmpdir() });
  const stage = new TrackStage(trackOptions(config, log()));
  const counter = new Counter({
    lines: lines.map((l) => ({ name: l.name, a: l.a, b: l.b, directions: [l.direction, `not-${l.direction}`] })),
    traps,
    zones: [],
    hysteresis: config.ANALYTICS.hysteresis,
    lostSeconds: config.TRACK_LOST_SECONDS,
    unit: 'kmh',
    speedWindow: config.SPEED_WINDOW,
  });
  const out: { line: string; direction: string; pts: number; kmh?: number; trap?: string }[] = [];
  const add = (cs: Crossing[]) => out.push(...cs.map((c) => ({ line: c.line, direction: c.direction, pts: c.pts, kmh: c.speed?.value, trap: c.trap?.name })));
  for (const f of clip.frames) {
    const { detections, replay } = stage.update({ pts: f.pts, sourceWidth: clip.sourceWidth, sourceHeight: clip.sourceHeight, detections: f.detections });
    add(counter.update({ index: 0, pts: f.pts, sourceWidth: clip.sourceWidth, sourceHeight: clip.sourceHeight, detections, inferenceMs: 0, replay }).crossings);
  }
  // The clip's end ends every track: crossings waiting for the positions after them go out (as the agent's do at the end of a file).
  add(counter.flush().crossings);
  return out;
}

/** Every check that its footage is installed for. */
export async function userLevel(model: string): Promise<Outcome[]> {
  return [...(existsSync(VTEST) ? await footpath(model) : []), ...(existsSync(TRAFFIC) ? await traffic(model) : []), ...(await sample(model))];
}

async function main() {
  const { values } = parseArgs({ options: { models: { type: 'string', default: 'centernet-fp32,centernet-int8' } } });
  const models = values.models!.split(',');
  const results: Outcome[][] = [];
  for (const m of models) results.push(await userLevel(m));
  console.log(`| check | ${models.join(' | ')} |`);
  console.log(`| --- | ${models.map(() => '---').join(' | ')} |`);
  results[0]!.forEach((o, i) => console.log(`| ${o.check} | ${results.map((r) => `${r[i]!.value}${r[i]!.ok ? '' : ' ✗'}`).join(' | ')} |`));
}

if (import.meta.url === `file://${process.argv[1]}`)
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
