// Identity on real footage: Debian's opencv-doc pedestrian clip (vtest.avi) through the
// agent's capture and detector at DETECT_FPS, then the track stage and a counting line,
// replayed once per tracker variant, against the hand-made truth in test/truth/vtest.json
// (crossings per direction on its line, static false objects, parked vehicles, people).
//
//   npm run measure:identity [-- --fps 5 --json PATH]
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Counter } from '../agent/analytics/counter.js';
import { createLogger } from '../agent/log.js';
import { PACKAGE_ROOT } from '../agent/paths.js';
import { TrackStage, trackOptions } from '../agent/track/index.js';
import { loadConfig } from '../agent/config/index.js';
import { tmpdir } from 'node:os';
import { IDENTITY_DEFAULTS, type IdentityOptions } from '../agent/track/tracker.js';
import { STILL_SCORES, type StillScores } from '../agent/track/truth.js';
import { iou } from '../agent/frames/frame.js';
import { clipDetections, type ClipDetections } from './identity-detections.js';

const CLIP = '/usr/share/doc/opencv-doc/examples/data/vtest.avi';

interface Truth {
  line: { name: string; a: [number, number]; b: [number, number] };
  crossings: { leftward: number[]; rightward: number[] };
  people: { count: number; uncertainty: number };
  static: { false: { what: string; box: number[] }[]; parked: { what: string; class: string[]; box: number[] }[] };
}

export interface Variant {
  name: string;
  identity: IdentityOptions;
  stillScores: StillScores;
}

const OFF: IdentityOptions = { appearanceWeight: 0, directionWeight: 0, relink: false, reUpdate: false, sizeWeight: 0, costLimit: Infinity };
const NO_TRUTH: StillScores = { default: 0, classes: {} };
export const VARIANTS: Variant[] = [
  { name: 'motion alone (ByteTrack), no track-level truth', identity: OFF, stillScores: NO_TRUTH },
  { name: '+ track-level truth', identity: OFF, stillScores: STILL_SCORES },
  { name: '+ re-update (OC-SORT)', identity: { ...OFF, reUpdate: true }, stillScores: STILL_SCORES },
  { name: '+ direction (OC-SORT)', identity: { ...OFF, reUpdate: true, directionWeight: 0.2 }, stillScores: STILL_SCORES },
  { name: '+ appearance', identity: { ...OFF, reUpdate: true, directionWeight: 0.2, appearanceWeight: 1 }, stillScores: STILL_SCORES },
  { name: '+ re-linking', identity: { ...OFF, reUpdate: true, directionWeight: 0.2, appearanceWeight: 1, relink: true }, stillScores: STILL_SCORES },
  { name: '+ cost limit', identity: { ...IDENTITY_DEFAULTS, sizeWeight: 0 }, stillScores: STILL_SCORES },
  { name: '+ size (all, the defaults)', identity: IDENTITY_DEFAULTS, stillScores: STILL_SCORES },
];

export function replay(clip: ClipDetections, truth: Truth, v: Variant) {
  const log = createLogger({ level: 'warn', pretty: false, destination: process.stderr });
  // The agent's defaults (the bundled model's threshold, TRACK_*, LINE_HYSTERESIS), with the variant's identity parts; no calibration, as for the clip.
  const config = loadConfig({ env: { SOURCE: CLIP }, cwd: tmpdir() });
  const stage = new TrackStage({ ...trackOptions(config, log), stillScores: v.stillScores, identity: v.identity });
  const counter = new Counter({
    lines: [{ ...truth.line, directions: ['leftward', 'rightward'] }],
    zones: [],
    hysteresis: config.ANALYTICS.hysteresis,
    lostSeconds: config.TRACK_LOST_SECONDS,
    unit: config.SPEED_UNIT,
    speedWindow: config.SPEED_WINDOW,
  });
  const tracks = new Map<number, { className: string; first: number; last: number; boxes: number[][] }>();
  const crossings: { direction: string; pts: number; trackId: number }[] = [];
  for (const f of clip.frames) {
    const { detections, replay } = stage.update({ pts: f.pts, sourceWidth: clip.sourceWidth, sourceHeight: clip.sourceHeight, detections: f.detections });
    for (const d of detections) {
      let t = tracks.get(d.trackId);
      if (!t) tracks.set(d.trackId, (t = { className: d.className, first: f.pts, last: f.pts, boxes: [] }));
      t.last = f.pts;
      t.className = d.className;
      t.boxes.push(d.box);
    }
    const update = counter.update({ index: 0, pts: f.pts, sourceWidth: clip.sourceWidth, sourceHeight: clip.sourceHeight, detections, inferenceMs: 0, replay });
    crossings.push(...update.crossings.map((c) => ({ direction: c.direction, pts: c.pts, trackId: c.trackId })));
  }
  crossings.push(...counter.flush().crossings.map((c) => ({ direction: c.direction, pts: c.pts, trackId: c.trackId })));
  const overlapsMostly = (boxes: number[][], box: number[]) => boxes.filter((b) => iou(b, box) >= 0.3).length >= boxes.length / 2;
  const all = [...tracks.values()];
  const people = all.filter((t) => t.className === 'person');
  const staticFalse = truth.static.false.filter((s) => all.some((t) => overlapsMostly(t.boxes, s.box)));
  const parked = truth.static.parked.filter((p) => all.some((t) => p.class.includes(t.className) && overlapsMostly(t.boxes, p.box) && t.last - t.first >= 60));
  const count = (dir: string) => crossings.filter((c) => c.direction === dir).length;
  // A crossing matches a true one of its direction within a second; each true one is matched once.
  const matched = (dir: 'leftward' | 'rightward') => {
    const left = [...truth.crossings[dir]];
    let n = 0;
    for (const c of crossings.filter((x) => x.direction === dir)) {
      const i = left.findIndex((t) => Math.abs(t - c.pts) <= 1);
      if (i < 0) continue;
      left.splice(i, 1);
      n++;
    }
    return n;
  };
  return {
    variant: v.name,
    leftward: count('leftward'),
    rightward: count('rightward'),
    leftwardMatched: matched('leftward'),
    rightwardMatched: matched('rightward'),
    personTracks: people.length,
    tracksPerPerson: people.length / truth.people.count,
    under1s: people.filter((t) => t.last - t.first < 1).length,
    under5s: people.filter((t) => t.last - t.first < 5).length,
    staticFalse: staticFalse.map((s) => s.what),
    parkedReported: parked.length,
    parkedTotal: truth.static.parked.length,
  };
}

async function main() {
  const { values } = parseArgs({ options: { fps: { type: 'string', default: '5' }, json: { type: 'string' } } });
  if (!existsSync(CLIP)) throw new Error(`${CLIP} is missing: apt-get install opencv-doc`);
  const truth = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'test', 'truth', 'vtest.json'), 'utf8')) as Truth;
  const clip = await clipDetections(CLIP, { DETECT_FPS: values.fps! }, createLogger({ level: 'warn', pretty: false, destination: process.stderr }));
  const t = truth.crossings;
  console.log(
    `vtest.avi at DETECT_FPS=${values.fps}: ${clip.frames.length} frames; truth: ${t.leftward.length} leftward, ${t.rightward.length} rightward, ${truth.people.count} ± ${truth.people.uncertainty} people`,
  );
  console.log('| variant | leftward (matched) | rightward (matched) | person tracks (per person) | under 1 s | under 5 s | static false tracks | parked reported |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  const rows = VARIANTS.map((v) => replay(clip, truth, v));
  for (const r of rows)
    console.log(
      `| ${r.variant} | ${r.leftward} (${r.leftwardMatched}) | ${r.rightward} (${r.rightwardMatched}) | ${r.personTracks} (${r.tracksPerPerson.toFixed(2)}) | ${r.under1s} | ${r.under5s} | ${r.staticFalse.length}${r.staticFalse.length ? ': ' + r.staticFalse.join(', ') : ''} | ${r.parkedReported} of ${r.parkedTotal} |`,
    );
  if (values.json) writeFileSync(values.json, JSON.stringify({ fps: Number(values.fps), rows }, null, 2) + '\n');
}

if (import.meta.url === `file://${process.argv[1]}`)
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
