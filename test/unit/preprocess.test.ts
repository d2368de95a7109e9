import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allocateInput, fillInput, inputDims } from '../../agent/detect/preprocess.js';
import type { InputSpec } from '../../agent/detect/manifest.js';

// Two pixels: (10, 20, 30) and (40, 50, 60).
const RGB = Uint8Array.from([10, 20, 30, 40, 50, 60]);
const spec = (over: Partial<InputSpec>): InputSpec => ({
  name: 'x',
  width: 2,
  height: 1,
  layout: 'NHWC',
  dtype: 'float32',
  pixelFormat: 'rgb',
  range: '0-255',
  resize: 'stretch',
  ...over,
});

function fill(over: Partial<InputSpec>): number[] {
  const s = spec(over);
  const out = allocateInput(s);
  fillInput(RGB, s, out);
  return Array.from(out, (v) => Math.round(v * 1000) / 1000);
}

test('NHWC float 0..255 RGB copies the pixels', () => assert.deepEqual(fill({}), [10, 20, 30, 40, 50, 60]));
test('NCHW planes, one per channel', () => assert.deepEqual(fill({ layout: 'NCHW' }), [10, 40, 20, 50, 30, 60]));
test('BGR reverses the channels', () => {
  assert.deepEqual(fill({ pixelFormat: 'bgr' }), [30, 20, 10, 60, 50, 40]);
  assert.deepEqual(fill({ layout: 'NCHW', pixelFormat: 'bgr' }), [30, 60, 20, 50, 10, 40]);
  assert.deepEqual(fill({ dtype: 'uint8', pixelFormat: 'bgr' }), [30, 20, 10, 60, 50, 40]);
});
test('ranges 0-1 and -1-1 and ImageNet mean/std', () => {
  assert.deepEqual(fill({ range: '0-1' }).slice(0, 3), [0.039, 0.078, 0.118]);
  assert.deepEqual(fill({ range: '-1-1' }).slice(0, 1), [-0.922]);
  assert.deepEqual(fill({ range: 'imagenet' }).slice(0, 3), [-1.947, -1.686, -1.282]);
});
test('uint8 input keeps the raw values', () => assert.deepEqual(fill({ dtype: 'uint8', layout: 'NCHW' }), [10, 40, 20, 50, 30, 60]));
test('tensor dims follow the layout', () => {
  assert.deepEqual(inputDims(spec({ layout: 'NCHW' })), [1, 3, 1, 2]);
  assert.deepEqual(inputDims(spec({})), [1, 1, 2, 3]);
});
