// Pipelined inference on the bundled model: frames go into the worker while the
// previous one runs, results come back in order and equal to one-at-a-time ones.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { withFirstFrame } from '../../agent/capture/probe.js';
import type { Frame } from '../../agent/frames/frame.js';
import { Detector, PIPELINE_DEPTH } from '../../agent/detect/index.js';
import { BUNDLED_MODEL } from '../../agent/paths.js';
import { FIXTURES } from '../helpers/paths.js';
import { memoryLogger } from '../helpers/log.js';

const { log } = memoryLogger();

async function photo(detector: Detector, name: string): Promise<Frame> {
  const { width, height, resize } = detector.spec.input;
  const frame = await withFirstFrame({ source: { url: join(FIXTURES, name), kind: 'file', loop: false, realtime: false }, width, height, resize, log }, (f) => ({
    ...f,
    data: Buffer.from(f.data),
  }));
  assert.ok(frame, `${name} decoded`);
  return frame;
}

const summary = (r: { detections: { className: string; score: number; box: number[] }[] }) =>
  r.detections.map((d) => `${d.className} ${d.score.toFixed(4)} ${d.box.map((v) => v.toFixed(1)).join(',')}`);

test('frames in flight together give the same detections, in order, as one at a time', { timeout: 60_000 }, async () => {
  const detector = new Detector({ modelPath: BUNDLED_MODEL, threads: 2, scoreThreshold: 0.3, nmsIou: 0.4, nmsClassAgnostic: true, classes: [], log });
  await detector.start();
  try {
    const person = await photo(detector, 'person.jpg');
    const eagle = await photo(detector, 'eagle.jpg');
    const alone = [summary(await detector.detect(person)), summary(await detector.detect(eagle))];
    assert.ok(alone[0]!.some((d) => d.startsWith('person')) && alone[1]!.some((d) => d.startsWith('bird')), JSON.stringify(alone));

    // Capture reuses its buffers: the pixels must be taken before detect() returns.
    const pixels = [Buffer.from(person.data), Buffer.from(eagle.data)];
    const order: string[] = [];
    await detector.ready();
    const first = detector.detect(person).then((r) => (order.push('person'), r));
    person.data.fill(0);
    await detector.ready();
    const second = detector.detect(eagle).then((r) => (order.push('eagle'), r));
    eagle.data.fill(0);
    assert.equal(PIPELINE_DEPTH, 2);
    await assert.rejects(detector.detect(person), /more than 2 frames in flight; await ready\(\) first/);
    const together = [summary(await first), summary(await second)];
    assert.deepEqual(together, alone);
    assert.deepEqual(order, ['person', 'eagle']);

    // ready() waits for a frame to come back, then detect() takes the next one.
    person.data.set(pixels[0]!);
    await detector.ready();
    const a = detector.detect(person);
    await detector.ready();
    const b = detector.detect(person);
    let waited = false;
    const ready = detector.ready().then(() => (waited = true));
    // A turn of the event loop: far shorter than an inference, long enough for a ready() that did not wait.
    await new Promise((r) => setImmediate(r));
    assert.equal(waited, false, 'ready() waits while two frames are in flight');
    await a;
    await ready;
    assert.equal(waited, true);
    assert.deepEqual(summary(await b), alone[0]);
  } finally {
    await detector.stop();
  }
  await assert.rejects(detector.ready(), /detector stopped/);
});
