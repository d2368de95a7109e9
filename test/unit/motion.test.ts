import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MotionGate } from '../../agent/detect/motion.js';
import { frameTransform, type Frame } from '../../agent/frames/frame.js';

const W = 256;
const H = 256;

function frame(pts: number, draw?: (x: number, y: number) => number | undefined, noise = 0): Frame {
  const data = Buffer.alloc(W * H * 3);
  let seed = Math.round(pts * 1000) + 1;
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      const v = (draw?.(x, y) ?? 100) + ((seed / 2 ** 31) * 2 - 1) * noise;
      data.fill(Math.max(0, Math.min(255, Math.round(v))), (y * W + x) * 3, (y * W + x) * 3 + 3);
    }
  return { data, width: W, height: H, index: Math.round(pts * 5), pts, sourceWidth: W, sourceHeight: H, transform: frameTransform('stretch', W, H, W, H) };
}

test('a still scene with sensor noise is skipped, except for the forced inference every MOTION_MAX_SKIP seconds', () => {
  const gate = new MotionGate({ threshold: 0.003, maxSkipSeconds: 5 });
  const runs = [];
  for (let i = 0; i <= 60; i++) runs.push(gate.check(frame(i * 0.2, undefined, 6)));
  assert.equal(runs[0]!.reason, 'first');
  assert.deepEqual(
    runs.map((r, i) => (r.run ? i : -1)).filter((i) => i >= 0),
    [0, 25, 50],
    'first frame, then every 5 s',
  );
  assert.equal(gate.stats.skipped, 58);
});

test('an object entering the still scene triggers inference on the first frame it is in', () => {
  const gate = new MotionGate({ threshold: 0.003, maxSkipSeconds: 5 });
  for (let i = 0; i < 10; i++) gate.check(frame(i * 0.2, undefined, 6));
  // A 30x40 px dark object (about 2 % of the picture) appears at the right edge.
  const r = gate.check(frame(2.0, (x, y) => (x > 226 && y > 100 && y < 140 ? 20 : undefined), 6));
  assert.equal(r.reason, 'motion');
  assert.ok(r.moving > 0.003);
});

test('a slow change of light is absorbed by the background', () => {
  const gate = new MotionGate({ threshold: 0.003, maxSkipSeconds: 100 });
  gate.check(frame(0));
  const runs = [];
  for (let i = 1; i <= 50; i++) runs.push(gate.check(frame(i * 0.2, () => 100 + i * 0.6)).run);
  assert.ok(
    runs.every((r) => !r),
    'a gradual 30-level brightening never counts as motion',
  );
});
