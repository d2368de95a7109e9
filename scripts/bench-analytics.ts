// What counting costs per processed frame: the counter's update with 2 lines and 2 zones
// (one concave) over N objects moving across them, in microseconds, after a warm-up.
//
//   npm run bench:analytics
import { Counter } from '../agent/analytics/counter.js';
import type { FrameResult } from '../agent/bus.js';
import { scaleMapping } from '../agent/track/index.js';

const FRAMES = 20_000;
const lines = [
  { name: 'stop', a: [100, 700] as [number, number], b: [1800, 690] as [number, number], directions: ['in', 'out'] as [string, string] },
  { name: 'mid', a: [960, 1000] as [number, number], b: [960, 100] as [number, number], directions: ['east', 'west'] as [string, string] },
];
const zones = [
  {
    name: 'dock',
    points: [
      [200, 300],
      [900, 300],
      [900, 600],
      [600, 600],
      [600, 900],
      [200, 900],
    ] as [number, number][],
  },
  {
    name: 'lot',
    points: [
      [1000, 200],
      [1800, 200],
      [1800, 800],
      [1000, 800],
    ] as [number, number][],
  },
];

function run(objects: number): number {
  const counter = new Counter({ lines, zones, hysteresis: 10, lostSeconds: 1.5, mapping: scaleMapping(0.05), unit: 'kmh', speedWindow: 1 });
  let crossings = 0;
  const frame = (i: number): FrameResult => ({
    index: i,
    pts: i * 0.2,
    sourceWidth: 1920,
    sourceHeight: 1080,
    inferenceMs: 0,
    detections: Array.from({ length: objects }, (_, k) => {
      // Each object loops across the frame at its own speed and height.
      const x = (k * 97 + i * (20 + k)) % 1920;
      const y = 150 + ((k * 53) % 850);
      return {
        className: 'car',
        classId: 2,
        score: 0.9,
        box: [x - 60, y - 80, x + 60, y] as [number, number, number, number],
        trackId: k + 1 + 1000 * Math.floor((k * 97 + i * (20 + k)) / 1920),
      };
    }),
  });
  for (let i = 0; i < 2000; i++) counter.update(frame(i));
  const started = process.hrtime.bigint();
  for (let i = 2000; i < 2000 + FRAMES; i++) crossings += counter.update(frame(i)).crossings.length;
  const us = Number(process.hrtime.bigint() - started) / 1000 / FRAMES;
  console.log(`| ${objects} | ${us.toFixed(1)} µs | ${(us / objects).toFixed(2)} µs | ${crossings} |`);
  return us;
}

console.log('| objects per frame | µs per frame | µs per object | crossings counted |');
console.log('| --- | --- | --- | --- |');
for (const n of [1, 5, 20, 50]) run(n);
