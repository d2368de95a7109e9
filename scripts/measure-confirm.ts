// Measures the track-confirmation rule (TRACK_CONFIRM=N/M) on real photographs: how many
// real, lasting objects it reports and how late, against how many one- and two-frame
// flickers it lets through. The clips: each photo of Debian's darknet package with a slow
// pan and zoom and camera-like noise, and the bundled sample; 5 processed frames a second.
// The detector runs once per frame; the tracker is replayed for each rule.
//
//   npm run measure:confirm [-- --json PATH]
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../agent/config/index.js';
import { detectImages } from '../agent/detect/images.js';
import { createLogger } from '../agent/log.js';
import { BUNDLED_SAMPLE } from '../agent/paths.js';
import { TrackStage } from '../agent/track/index.js';

const DARKNET = '/usr/share/darknet/data';
const PHOTOS = ['dog', 'eagle', 'giraffe', 'horses', 'kite', 'person'];
const RULES = ['1/1', '2/2', '2/3', '3/4', '3/5', '4/5'];
/** What each picture shows (darknet's own example output): any other class the detector reports is a false positive. */
const SHOWN: Record<string, string[]> = {
  dog: ['dog', 'bicycle', 'truck', 'car'],
  eagle: ['bird'],
  giraffe: ['giraffe', 'zebra'],
  horses: ['horse'],
  kite: ['person', 'kite'],
  person: ['person', 'dog', 'horse'],
  sample: ['person', 'dog', 'horse', 'bicycle', 'truck', 'car'],
};
const THRESHOLDS = [0.25, 0.3, 0.35, 0.4, 0.45, 0.5];
const THRESHOLD = 0.3;

type Det = { className: string; classId: number; score: number; box: [number, number, number, number] };

/** The frames of `input` at 5 fps, after `filter`, as PNG files. */
function frames(dir: string, input: string[], name: string, filter = 'null'): string[] {
  const out = join(dir, name);
  execFileSync('mkdir', ['-p', out]);
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...input, '-vf', `${filter},fps=5`, join(out, '%03d.png')]);
  return readdirSync(out)
    .sort()
    .map((f) => join(out, f));
}

async function main() {
  const { values } = parseArgs({ options: { json: { type: 'string' } } });
  if (!existsSync(DARKNET)) throw new Error(`${DARKNET} is missing: apt-get install darknet`);
  const dir = mkdtempSync(join(tmpdir(), 'edgecam-confirm-'));
  const clips: Record<string, string[]> = {};
  for (const p of PHOTOS) {
    // 6 s at 15 fps: a slow zoom towards the centre, and temporal noise as a real sensor has.
    const zoom = "zoompan=z='1+0.0015*on':x='iw/2-(iw/zoom/2)':y='ih/2-(ih/zoom/2)':d=90:s=960x540:fps=15,noise=alls=10:allf=t";
    clips[p] = frames(dir, ['-loop', '1', '-i', join(DARKNET, `${p}.jpg`), '-t', '6'], p, zoom);
  }
  clips.sample = frames(dir, ['-i', BUNDLED_SAMPLE], 'sample');
  const config = loadConfig({ env: { SCORE_THRESHOLD: '0.1', DETECT_THREADS: '0' }, cwd: dir });
  const log = createLogger({ level: 'warn', pretty: false, destination: process.stderr });
  const detections: Record<string, Det[][]> = {};
  for (const [name, files] of Object.entries(clips)) {
    detections[name] = [];
    for await (const r of detectImages(config, files, log)) detections[name].push(r.detections.map((d) => ({ className: d.class_name, classId: 0, score: d.score, box: d.box })));
  }

  const replay = (frames: Det[][], rule: string, threshold = THRESHOLD) => {
    const [hits, window] = rule.split('/').map(Number) as [number, number];
    const stage = new TrackStage({
      calibration: {},
      scoreThreshold: threshold,
      lowScore: 0.1,
      lostSeconds: 1.5,
      speedClasses: [],
      unit: 'kmh',
      window: 1,
      minAge: 0.5,
      minSamples: 4,
      publishInterval: 1,
      confirm: { hits, window },
      log,
    });
    return frames.map((dets, i) => stage.update({ pts: i * 0.2, sourceWidth: 960, sourceHeight: 540, detections: dets }).detections);
  };
  const key = (d: Det) => d.box.join(',');

  const rows = RULES.map((rule) => ({ rule, stable: 0, stableReported: 0, flicker: 0, flickerReported: 0, delays: [] as number[] }));
  for (const frames of Object.values(detections)) {
    // The reference: every detection above the threshold, tracked; a track's length says what it was.
    const ref = replay(frames, '1/1');
    const length = new Map<number, number>();
    for (const f of ref) for (const d of f) length.set(d.trackId, (length.get(d.trackId) ?? 0) + 1);
    const kind = new Map<string, { kind: 'stable' | 'flicker' | 'other'; track: number; frame: number }>();
    ref.forEach((f, i) => {
      for (const d of f) {
        const n = length.get(d.trackId)!;
        kind.set(`${i}:${key(d)}`, { kind: n >= 10 ? 'stable' : n <= 2 ? 'flicker' : 'other', track: d.trackId, frame: i });
      }
    });
    for (const row of rows) {
      const got = replay(frames, row.rule);
      const reported = new Set(got.flatMap((f, i) => f.map((d) => `${i}:${key(d)}`)));
      const firstSeen = new Map<number, number>();
      const firstReported = new Map<number, number>();
      for (const [k, v] of kind) {
        if (v.kind === 'other') continue;
        const hit = reported.has(k);
        if (v.kind === 'stable') {
          row.stable++;
          if (hit) row.stableReported++;
          firstSeen.set(v.track, Math.min(firstSeen.get(v.track) ?? Infinity, v.frame));
          if (hit) firstReported.set(v.track, Math.min(firstReported.get(v.track) ?? Infinity, v.frame));
        } else {
          row.flicker++;
          if (hit) row.flickerReported++;
        }
      }
      for (const [t, f] of firstSeen) if (firstReported.has(t)) row.delays.push(firstReported.get(t)! - f);
    }
  }
  const table = rows.map((r) => ({
    rule: r.rule,
    stable_recall: Math.round((1000 * r.stableReported) / r.stable) / 10,
    flicker_reported: Math.round((1000 * r.flickerReported) / Math.max(1, r.flicker)) / 10,
    mean_delay_frames: Math.round((10 * r.delays.reduce((a, b) => a + b, 0)) / Math.max(1, r.delays.length)) / 10,
    stable: r.stable,
    flicker: r.flicker,
  }));
  console.log('| TRACK_CONFIRM | lasting objects reported (% of their detections) | flicker detections reported (%) | mean delay to first report (frames at 5 fps) |');
  console.log('| --- | --- | --- | --- |');
  for (const t of table) console.log(`| ${t.rule} | ${t.stable_recall} % | ${t.flicker_reported} % | ${t.mean_delay_frames} |`);
  console.log(`(${table[0]!.stable} detections of lasting objects, ${table[0]!.flicker} of flickers; ${Object.values(detections).reduce((a, f) => a + f.length, 0)} frames)`);

  // Thresholds at the chosen rule: reported detections of what the pictures show, and of anything else.
  const rule = '2/3';
  const byThreshold = THRESHOLDS.map((threshold) => {
    let shown = 0;
    let other = 0;
    const wrong = new Map<string, number>();
    for (const [name, frames] of Object.entries(detections))
      for (const f of replay(frames, rule, threshold))
        for (const d of f) {
          if (SHOWN[name]!.includes(d.className)) shown++;
          else {
            other++;
            wrong.set(d.className, (wrong.get(d.className) ?? 0) + 1);
          }
        }
    return { threshold, shown, other, wrong: Object.fromEntries(wrong) };
  });
  console.log(`\n| SCORE_THRESHOLD (TRACK_CONFIRM=${rule}) | detections of what the pictures show | of anything else (false) | false classes |`);
  console.log('| --- | --- | --- | --- |');
  for (const t of byThreshold)
    console.log(
      `| ${t.threshold} | ${t.shown} (${Math.round((100 * t.shown) / byThreshold[0]!.shown)} %) | ${t.other} | ${Object.entries(t.wrong)
        .map(([c, n]) => `${c} ${n}`)
        .join(', ')} |`,
    );
  if (values.json) writeFileSync(values.json, JSON.stringify({ confirm: table, thresholds: byThreshold }, null, 2) + '\n');
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
