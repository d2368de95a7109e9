// What identity costs: the tracker's update per processed frame with N people walking in
// both directions (passing each other), with motion alone and with every identity part
// on (the defaults), in alternating rounds; and the colour descriptor per box.
//
//   npm run bench:tracker [-- --rounds 5]
import { parseArgs } from 'node:util';
import { describeBox } from '../agent/frames/appearance.js';
import { Tracker, type IdentityOptions, type TrackerDetection } from '../agent/track/tracker.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' } } });
const ROUNDS = Math.max(1, Number(values.rounds));
const FRAMES = 3000;
const W = 512;
const H = 288;

/** A model-input-sized rgb24 frame of noise, and each object's box painted in its own colours. */
const pixels = new Uint8Array(W * H * 3).map((_, i) => (i * 2654435761) >>> 24);

function scene(objects: number): TrackerDetection[][] {
  return Array.from({ length: FRAMES }, (_, f) =>
    Array.from({ length: objects }, (_, k) => {
      const dir = k % 2 ? -1 : 1;
      const x = (((k * 131 + dir * f * (3 + (k % 5))) % 1920) + 1920) % 1920;
      const y = 200 + ((k * 67) % 700);
      const box: [number, number, number, number] = [x, y, x + 50, y + 140];
      const s = W / 1920;
      return {
        className: 'person',
        classId: 0,
        score: 0.5 + (k % 4) * 0.1,
        box,
        appearance: describeBox(
          pixels,
          W,
          H,
          box.map((v) => v * s),
        ),
      };
    }),
  );
}

function run(frames: TrackerDetection[][], identity: Partial<IdentityOptions>): number {
  const tracker = new Tracker({ highScore: 0.3, lowScore: 0.1, lostSeconds: 1.5, confirm: { hits: 2, window: 3 }, identity });
  for (let i = 0; i < 300; i++) tracker.update(frames[i]!, i * 0.2);
  const started = process.hrtime.bigint();
  for (let i = 300; i < FRAMES; i++) tracker.update(frames[i]!, i * 0.2);
  return Number(process.hrtime.bigint() - started) / 1000 / (FRAMES - 300);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const OFF: Partial<IdentityOptions> = { appearanceWeight: 0, directionWeight: 0, relink: false, reUpdate: false };

console.log(`| objects per frame | motion alone, µs per frame | identity (defaults), µs per frame | µs per object, motion alone | µs per object, identity | ratio |`);
console.log('| --- | --- | --- | --- | --- | --- |');
for (const n of [1, 5, 20, 50]) {
  const frames = scene(n);
  const off: number[] = [];
  const on: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    off.push(run(frames, OFF));
    on.push(run(frames, {}));
  }
  const a = median(off);
  const b = median(on);
  console.log(`| ${n} | ${a.toFixed(1)} | ${b.toFixed(1)} | ${(a / n).toFixed(2)} | ${(b / n).toFixed(2)} | ${(b / a).toFixed(2)} |`);
}

// The descriptor, per box, on boxes of a person's size at the model's input.
const boxes = Array.from({ length: 10_000 }, (_, i): [number, number, number, number] => [
  (i * 7) % 400,
  (i * 3) % 100,
  ((i * 7) % 400) + 20 + (i % 60),
  ((i * 3) % 100) + 60 + (i % 120),
]);
for (const b of boxes.slice(0, 1000)) describeBox(pixels, W, H, b);
const started = process.hrtime.bigint();
for (const b of boxes) describeBox(pixels, W, H, b);
console.log(`\ncolour descriptor: ${(Number(process.hrtime.bigint() - started) / 1000 / boxes.length).toFixed(2)} µs per box (model-input boxes 20-80 × 60-180 px)`);
