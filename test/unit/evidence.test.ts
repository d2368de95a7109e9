// Pictures at the source's size and the evidence photos made of them: FFmpeg's JPEG
// stream cut at any byte, paired with its timestamps; the best view of a track; people
// pixelated; the photos kept within their bounds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { JpegSplitter, jpegSize, PictureRing } from '../../agent/frames/pictures.js';
import { renderEvidence } from '../../agent/frames/photo.js';
import { EvidenceFiles } from '../../agent/evidence/files.js';
import { bestView, fromConfig as evidenceFeature, MAX_QUEUED } from '../../agent/evidence/index.js';
import { loadConfig } from '../../agent/config/index.js';
import { EventBus } from '../../agent/bus.js';
import { FrameStore } from '../../agent/frames/store.js';
import type { FeatureContext } from '../../agent/feature.js';
import { memoryLogger } from '../helpers/log.js';
import { FIXTURES } from '../helpers/paths.js';

const dir = mkdtempSync(join(tmpdir(), 'edgecam-evidence-'));
const jpegOf = (width: number, height: number, r: number) =>
  sharp({ create: { width, height, channels: 3, background: { r, g: 40, b: 200 } } })
    .jpeg()
    .toBuffer();

test("a stream of JPEGs cut at every possible place comes out whole, each with its size and its frame's timestamp", async () => {
  const pictures = [await jpegOf(64, 48, 10), await jpegOf(320, 180, 120), await jpegOf(33, 17, 250)];
  assert.deepEqual(jpegSize(pictures[1]!), { width: 320, height: 180 });
  const stream = Buffer.concat(pictures);
  for (const size of [1, 2, 7, 1000, stream.length]) {
    const out: Buffer[] = [];
    const splitter = new JpegSplitter((j) => out.push(j));
    for (let at = 0; at < stream.length; at += size) splitter.push(stream.subarray(at, at + size));
    assert.deepEqual(out, pictures, `chunks of ${size} bytes`);
  }
  // Timestamps before or after their pictures, a looping source going back in time, and a bound of seconds kept.
  const ring = new PictureRing(1);
  ring.timestamp(10);
  ring.data(stream.subarray(0, pictures[0]!.length + 5));
  ring.timestamp(10.4);
  ring.data(stream.subarray(pictures[0]!.length + 5));
  ring.timestamp(10.8);
  assert.deepEqual([ring.at(10)?.width, ring.at(10.4)?.width, ring.at(10.8)?.width], [64, 320, 33]);
  ring.data(pictures[0]!);
  ring.timestamp(11.6);
  assert.equal(ring.at(10), undefined, 'older than a second behind the newest: gone');
  assert.equal(ring.at(11.6)?.width, 64);
  ring.data(pictures[1]!);
  ring.timestamp(0.2);
  assert.equal(ring.at(11.6), undefined, 'the source started again: the other pass is gone');
  assert.equal(ring.latest?.pts, 0.2);
});

test('the best view of a track: its largest, most confident box within a second of the crossing, among the frames with a picture', () => {
  const frame = (pts: number, box: [number, number, number, number], score: number, trackId = 7) => ({
    pts,
    sourceWidth: 1920,
    sourceHeight: 1080,
    detections: [{ className: 'car', classId: 2, score, box, trackId }],
  });
  const seen = [
    frame(1.0, [0, 0, 400, 400], 0.9), // large, but 2 s before
    frame(2.6, [0, 0, 100, 100], 0.9),
    frame(2.8, [0, 0, 200, 100], 0.8), // largest near the crossing
    frame(3.0, [0, 0, 200, 100], 0.5),
    frame(3.2, [0, 0, 300, 300], 0.9, 8), // another track
    frame(3.4, [0, 0, 250, 250], 0.9), // no picture kept
  ];
  const pictures = { at: (pts: number) => (pts === 3.4 ? undefined : { pts, jpeg: Buffer.alloc(0), width: 1920, height: 1080 }) };
  assert.equal(bestView(seen, pictures, 7, 3.0)?.frame.pts, 2.8);
  assert.equal(bestView(seen, pictures, 7, 9)?.frame.pts, 1.0, 'nothing near: the best there is');
  assert.equal(bestView(seen, pictures, 9, 3.0), undefined);
});

test("an evidence photo: the picture's size, the box where the object is, the caption band, and the other person pixelated", async () => {
  const person = await sharp(join(FIXTURES, 'person.jpg')).resize(640, 360, { fit: 'fill' }).jpeg({ quality: 95 }).toBuffer();
  // Boxes in the source's pixels (1280x720): the picture is half that, so they halve.
  const scene = {
    picture: { pts: 1, jpeg: person, width: 640, height: 360 },
    sourceWidth: 1280,
    sourceHeight: 720,
    subject: [100, 100, 500, 600] as [number, number, number, number],
    blur: [[700, 100, 1100, 500]] as [number, number, number, number][],
    caption: 'car #7 · 48.2 ± 1.1 km/h · eastbound · line gate · 2026-12-06 10:00:00',
  };
  const photo = await renderEvidence(scene);
  const { data, info } = await sharp(photo).raw().toBuffer({ resolveWithObject: true });
  assert.deepEqual([info.width, info.height], [640, 360]);
  const px = (x: number, y: number) => [...data.subarray((y * info.width + x) * 3, (y * info.width + x) * 3 + 3)];
  // A 2-pixel yellow line in a JPEG: chroma subsampling mixes it with its neighbours.
  const yellow = (p: number[]) => p[0]! > 180 && p[1]! > 170 && p[2]! < Math.min(p[0]!, p[1]!) - 60;
  assert.ok(yellow(px(150, 50)) && yellow(px(50, 150)) && yellow(px(250, 200)), 'the box drawn at half the source coordinates');
  assert.ok(!yellow(px(150, 150)), 'and not filled');
  // The pixelated region is made of 25-pixel blocks (an eighth of its 200 px): neighbours inside a block are alike.
  const original = await sharp(person).raw().toBuffer();
  const variation = (buf: Buffer, x0: number, y0: number) => {
    let sum = 0;
    for (let y = y0; y < y0 + 20; y++) for (let x = x0; x < x0 + 20; x++) sum += Math.abs(buf[(y * 640 + x) * 3]! - buf[(y * 640 + x + 1) * 3]!);
    return sum;
  };
  assert.ok(variation(data, 402, 102) < variation(original, 402, 102) / 3, `pixelated: ${variation(data, 402, 102)} against ${variation(original, 402, 102)}`);
  const dark = px(636, 350);
  assert.ok(
    dark.every((v) => v < 140),
    `the caption band is dark: ${dark.join(',')}`,
  );
});

test('evidence files: written whole, the oldest removed beyond the size bound, those older than the days kept removed at open', () => {
  const files = new EvidenceFiles(join(dir, 'evidence'), 2500, 30);
  const old = join(dir, 'evidence', 'old.jpg');
  files.open();
  writeFileSync(old, Buffer.alloc(100));
  const longAgo = (Date.now() - 40 * 86_400_000) / 1000;
  utimesSync(old, longAgo, longAgo);
  files.open();
  assert.equal(existsSync(old), false, 'older than 30 days');
  for (let i = 1; i <= 4; i++) files.write(`p${i}.jpg`, Buffer.alloc(1000, i));
  assert.deepEqual(readdirSync(join(dir, 'evidence')).sort(), ['p3.jpg', 'p4.jpg']);
  assert.equal(files.totalBytes, 2000);
});

test('evidence files: a photo half written when the agent died is removed at the next start and counted, never kept or served', () => {
  const folder = join(dir, 'evidence-crash');
  const files = new EvidenceFiles(folder, 1_000_000, 30);
  files.open();
  files.write('whole.jpg', Buffer.alloc(500, 1));
  // A crash between the write and the rename leaves the temporary file behind.
  writeFileSync(join(folder, 'crossing-7.jpg.tmp'), Buffer.alloc(300, 2));
  const restarted = new EvidenceFiles(folder, 1_000_000, 30);
  restarted.open();
  assert.deepEqual(readdirSync(folder), ['whole.jpg']);
  assert.equal(restarted.stats.partial, 1);
  assert.equal(restarted.totalBytes, 500, 'only whole photos count towards EVIDENCE_MAX_MB');
});

test('a burst of crossings: at most MAX_QUEUED photos wait, the rest are dropped and counted; each outcome is an evidence event, a photo never made says so', async () => {
  const stateDir = mkdtempSync(join(dir, 'burst-'));
  const config = loadConfig({ env: { STATE_DIR: stateDir, EVIDENCE_CLASSES: 'car', LINES: 'gate:100,0;100,100' }, cwd: stateDir });
  const { log } = memoryLogger();
  const bus = new EventBus(log);
  const frames = new FrameStore();
  const counters: Record<string, () => unknown> = {};
  // The feature's neighbours, only as far as it uses them: a bus, the frame store and its pictures are real.
  const ctx = {
    config,
    log,
    bus,
    frames,
    mqtt: { topic: (t: string) => t, publish: () => {} },
    http: { route: () => {} },
    health: { provide: (name: string, f: () => unknown) => (counters[name] = f) },
    pipeline: { shapes: { shapes: { lines: config.ANALYTICS.lines } } },
  } as unknown as FeatureContext;
  const feature = evidenceFeature(ctx)!;
  await feature.start();
  const ring = frames.pictures!;
  ring.timestamp(1);
  ring.data(await jpegOf(1280, 720, 90));
  const trackIds = Array.from({ length: 40 }, (_, i) => i + 1);
  bus.emit('detections', {
    index: 5,
    pts: 1,
    sourceWidth: 1280,
    sourceHeight: 720,
    inferenceMs: 20,
    detections: trackIds.map((id) => ({ className: 'car', classId: 2, score: 0.9, box: [10 * id, 100, 10 * id + 80, 160] as [number, number, number, number], trackId: id })),
  });
  const outcomes: { path: string; written: boolean }[] = [];
  bus.on('evidence', (e) => outcomes.push(e), 'test');
  const at = new Date().toISOString();
  for (const id of [...trackIds, 99])
    bus.emit('crossing', { line: 'gate', direction: 'in', trackId: id, className: 'car', pts: 1, timestamp: at, evidence: `/evidence/burst-gate-${id}.jpg` });
  assert.equal(outcomes.filter((o) => !o.written).length, 40 - MAX_QUEUED + 1, 'dropped at once: the burst beyond the queue, and the track with no picture');
  assert.ok(outcomes.some((o) => o.path === '/evidence/burst-gate-99.jpg' && !o.written));
  await feature.stop();
  const written = outcomes.filter((o) => o.written).map((o) => o.path);
  assert.equal(written.length, MAX_QUEUED);
  assert.deepEqual(
    readdirSync(join(stateDir, 'evidence')).sort(),
    written.map((p) => p.slice('/evidence/'.length)).sort(),
    'a photo on disk for every path said written, none for the others',
  );
  assert.equal((counters.evidence!() as { dropped: number }).dropped, 40 - MAX_QUEUED + 1);
});
