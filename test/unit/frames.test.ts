import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameStore } from '../../agent/frames/store.js';
import { frameTransform, type Frame } from '../../agent/frames/frame.js';

const captureBuffer = Buffer.alloc(4 * 4 * 3);
function frame(index: number): Frame {
  // Capture reuses one buffer: each frame overwrites the previous one's pixels.
  captureBuffer.fill(index % 256);
  return { data: captureBuffer, width: 4, height: 4, index, pts: index / 10, sourceWidth: 4, sourceHeight: 4, transform: frameTransform('stretch', 4, 4, 4, 4) };
}

test('the last `keep` frames are readable by index, with their own pixels', () => {
  const store = new FrameStore(3);
  for (let i = 0; i < 10; i++) store.put(frame(i));
  for (const i of [7, 8, 9]) {
    const lease = store.lease(i)!;
    assert.equal(lease.frame.index, i);
    assert.ok(
      lease.frame.data.every((v) => v === i),
      `frame ${i} keeps its pixels`,
    );
    lease.release();
  }
  assert.equal(store.lease(6), undefined, 'older frames are recycled');
  assert.equal(store.latest()!.frame.index, 9);
  assert.equal(store.stats.buffers, 3, 'buffers are reused, not allocated per frame');
});

test('a leased frame is never overwritten, and its buffer returns once released', () => {
  const store = new FrameStore(2, 4);
  store.put(frame(0));
  const held = store.lease(0)!;
  for (let i = 1; i < 20; i++) store.put(frame(i));
  assert.ok(
    held.frame.data.every((v) => v === 0),
    'the leased pixels are intact after 19 more frames',
  );
  assert.equal(store.lease(0)?.frame.index, 0, 'a leased frame can be leased again');
  assert.equal(store.stats.buffers, 3);
  held.release();
  held.release(); // a second release does nothing
  assert.equal(store.lease(0)?.frame.index, 0, 'still leased once by the second lease');
});

test('when every buffer is leased, frames are skipped rather than allocated without bound', () => {
  const store = new FrameStore(1, 3);
  const leases = [];
  for (let i = 0; i < 3; i++) {
    store.put(frame(i));
    leases.push(store.lease(i)!);
  }
  store.put(frame(3));
  assert.equal(store.stats.skipped, 1);
  assert.equal(store.stats.buffers, 3);
  assert.equal(store.lease(3), undefined);
  leases[0]!.release();
  store.put(frame(4));
  assert.equal(store.lease(4)?.frame.data[0], 4);
  assert.equal(store.lease(0), undefined, 'the released frame was the one recycled');
});
