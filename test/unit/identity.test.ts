// Identity: the assignment solver, the appearance descriptor, the association costs'
// effect on synthetic scenes where motion alone goes wrong, re-linking and its refusals,
// and track-level truth.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { assign } from '../../agent/track/assignment.js';
import { APPEARANCE_LENGTH, appearanceDistance, blendAppearance, describeBox } from '../../agent/frames/appearance.js';
import { Tracker, type IdentityOptions, type TrackerDetection } from '../../agent/track/tracker.js';
import { trackStage } from '../helpers/track.js';

type Box = [number, number, number, number];

describe('assignment', () => {
  test('the minimum total cost, where greedy matching takes the cheapest pair first and loses', () => {
    // Greedy takes (0,0) at 1, leaving (1,1) at 10: total 11. The optimum is 2 + 3 = 5.
    assert.deepEqual(
      assign(
        [
          [1, 2],
          [3, 10],
        ],
        2,
      ).sort(),
      [
        [0, 1],
        [1, 0],
      ],
    );
  });
  test('forbidden pairs are never matched, and rows and columns may differ in number', () => {
    assert.deepEqual(assign([[Infinity, Infinity]], 2), []);
    assert.deepEqual(assign([[Infinity], [4], [1]], 1), [[2, 0]]);
    assert.deepEqual(assign([[5, Infinity, 1]], 3), [[0, 2]]);
    assert.deepEqual(assign([], 3), []);
  });
});

/** An rgb24 image of width × height filled with one colour, with a box of another (upper) and a third (lower). */
function image(w: number, h: number, box: Box, upper: number[], lower: number[]): Uint8Array {
  const img = new Uint8Array(w * h * 3).fill(128);
  for (let y = box[1]; y < box[3]; y++) for (let x = box[0]; x < box[2]; x++) img.set(y < (box[1] + box[3]) / 2 ? upper : lower, (y * w + x) * 3);
  return img;
}

describe('appearance', () => {
  const box: Box = [20, 10, 60, 90];
  const red = describeBox(image(100, 100, box, [220, 30, 30], [20, 20, 90]), 100, 100, box)!;
  test('a box is described by the colours of its halves: the same clothes are 0 apart, others nearly 1', () => {
    assert.equal(red.length, APPEARANCE_LENGTH);
    const same = describeBox(image(100, 100, box, [225, 35, 25], [25, 15, 95]), 100, 100, box)!;
    assert.ok(appearanceDistance(red, same) < 1e-6);
    const blue = describeBox(image(100, 100, box, [30, 30, 220], [20, 20, 90]), 100, 100, box)!;
    assert.ok(Math.abs(appearanceDistance(red, blue) - 0.5) < 1e-6, 'one half alike: 0.5');
    const swapped = describeBox(image(100, 100, box, [20, 20, 90], [220, 30, 30]), 100, 100, box)!;
    assert.ok(appearanceDistance(red, swapped) > 0.99, 'the same colours upside down are another object');
  });
  test('a box too small to describe has no descriptor; a running descriptor stays of unit length', () => {
    assert.equal(describeBox(new Uint8Array(300), 10, 10, [2, 2, 4, 5]), undefined);
    const t = Float32Array.from(red);
    blendAppearance(t, describeBox(image(100, 100, box, [30, 30, 220], [20, 20, 90]), 100, 100, box)!, 0.3);
    assert.ok(Math.abs(t.reduce((a, v) => a + v * v, 0) - 1) < 1e-5);
  });
});

/** A track stage without a calibration. */
const newStage = () => trackStage({});

/** A one-hot descriptor: objects of different `look` share no colour. */
const look = (i: number) => {
  const d = new Float32Array(APPEARANCE_LENGTH);
  d[i] = 1;
  return d;
};
const det = (box: Box, appearance?: Float32Array, className = 'person', score = 0.8): TrackerDetection => ({ className, classId: 0, score, box, appearance });
const MOTION_ALONE: Partial<IdentityOptions> = { appearanceWeight: 0, directionWeight: 0, relink: false, reUpdate: false };

/**
 * Two people walk towards each other, meet, stand together hidden one behind the other for
 * a second (one detection), and walk back the way they came: motion predicts they went on.
 */
function meetAndTurnBack(identity: Partial<IdentityOptions>): { a: Set<number>; b: Set<number> } {
  const tracker = new Tracker({ highScore: 0.3, lowScore: 0.1, lostSeconds: 1.5, confirm: { hits: 2, window: 3 }, identity });
  const ids = { a: new Set<number>(), b: new Set<number>() };
  const at = (x: number): Box => [x, 200, x + 40, 320];
  for (let i = 0; i <= 35; i++) {
    const t = i / 5;
    // Walk in for 3 s at 60 px/s, stand 1 s (B in front), walk back 3 s.
    const offset = 60 * Math.min(t, 3) - 60 * Math.max(0, t - 4);
    const dets = [det(at(400 - 180 + offset - 20), look(1)), det(at(400 + 180 - offset + 20), look(2))];
    const hidden = t > 3 && t < 4;
    const shown = hidden ? [dets[1]!] : dets;
    const { assignment } = tracker.update(shown, t);
    if (!hidden) {
      ids.a.add(assignment[0]!.trackId);
      ids.b.add(assignment[1]!.trackId);
    }
  }
  return ids;
}

describe('association', () => {
  test('two people who meet, stand hidden one behind the other and turn back keep their ids with appearance, and swap on motion alone', () => {
    const fused = meetAndTurnBack({});
    assert.deepEqual([fused.a.size, fused.b.size], [1, 1], JSON.stringify({ a: [...fused.a], b: [...fused.b] }));
    assert.notDeepEqual([...fused.a], [...fused.b]);
    const motion = meetAndTurnBack(MOTION_ALONE);
    assert.ok(motion.a.size > 1 || motion.b.size > 1 || [...motion.a][0] === [...motion.b][0], 'motion alone keeps them: the scene tests nothing');
  });

  test('re-linking: a lost track continues where the object could have got to and looks the same; another look, or an impossible leap, is a new object', () => {
    const run = (after: Box, appearance: Float32Array, relink = true) => {
      const tracker = new Tracker({ highScore: 0.3, lowScore: 0.1, lostSeconds: 1.5, confirm: { hits: 2, window: 3 }, identity: { relink } });
      // Standing still for 2 s, then hidden for 1 s.
      let id = 0;
      for (let i = 0; i <= 10; i++) id = tracker.update([det([100, 100, 140, 220], look(3))], i / 5).assignment[0]!.trackId;
      for (let i = 11; i < 15; i++) tracker.update([], i / 5);
      return tracker.update([det(after, appearance)], 3).assignment[0]!.trackId === id;
    };
    // 1.2 box heights away, out of reach of the motion gate of a track that stood still.
    const near: Box = [100, 244, 140, 364];
    assert.equal(run(near, look(3)), true);
    assert.equal(run(near, look(3), false), false, 'without re-linking the gate alone does not reach it');
    assert.equal(run(near, look(4)), false, 'another look is another object');
    assert.equal(run([700, 100, 740, 220], look(3)), false, 'five box heights in a second: implausible');
    assert.equal(run([100, 240, 190, 510], look(3)), false, 'more than half as large again');
  });

  test("a re-linked track keeps its class: its vote, not the re-linking detection's class", () => {
    const stage = newStage();
    const car = (x: number, className = 'car') => det([x, 300, x + 160, 380], look(5), className, 0.7);
    for (let i = 0; i < 10; i++) stage.update({ pts: i / 5, sourceWidth: 1280, sourceHeight: 720, detections: [car(100 + 40 * i)] });
    for (let i = 10; i < 14; i++) stage.update({ pts: i / 5, sourceWidth: 1280, sourceHeight: 720, detections: [] });
    const out = stage.update({ pts: 14 / 5, sourceWidth: 1280, sourceHeight: 720, detections: [car(100 + 40 * 14, 'truck')] });
    assert.equal(out.detections.length, 1);
    assert.equal(out.detections[0]!.trackId, 1);
    assert.equal(out.detections[0]!.className, 'car');
  });
});

describe('track-level truth', () => {
  const stage = newStage;
  /** Frames at 5 fps of one object; the ids reported in each. */
  const reported = (box: (i: number) => Box, className: string, score: number, frames = 50) => {
    const s = stage();
    return Array.from(
      { length: frames },
      (_, i) => s.update({ pts: i / 5, sourceWidth: 1280, sourceHeight: 720, detections: [det(box(i), undefined, className, score)] }).detections.length,
    );
  };
  test('a still "person" scoring 0.38 (a stone) is never reported; a still car at 0.38 (parked) is, from its confirmation on', () => {
    assert.equal(
      reported(() => [300, 300, 330, 327], 'person', 0.38).reduce((a, b) => a + b),
      0,
    );
    const parked = reported(() => [600, 100, 700, 160], 'car', 0.38);
    assert.deepEqual(parked.slice(0, 3), [0, 1, 1]);
    assert.equal(
      parked.reduce((a, b) => a + b),
      49,
    );
  });
  test('a person scoring 0.38 who walks is reported once it has moved half its height, and stays reported when it stops', () => {
    // 40 px a second for 3 s (a 120 px person: a third of its height a second), then still.
    const walker = reported((i) => [300 + 8 * Math.min(i, 15), 300, 340 + 8 * Math.min(i, 15), 420], 'person', 0.38);
    const first = walker.indexOf(1);
    assert.ok(first >= 5 && first <= 10, `first reported at frame ${first}`);
    assert.ok(walker.slice(first).every((n) => n === 1));
  });
});
