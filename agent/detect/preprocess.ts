// Fills the model's input tensor from an rgb24 frame, in place: one reused
// typed array, one pass, no allocation per frame.
import type { InputSpec } from './manifest.js';

const IMAGENET_MEAN = [123.675, 116.28, 103.53];
const IMAGENET_STD = [58.395, 57.12, 57.375];

export type InputArray = Float32Array | Uint8Array;

export function allocateInput(spec: InputSpec): InputArray {
  const n = spec.width * spec.height * 3;
  return spec.dtype === 'uint8' ? new Uint8Array(n) : new Float32Array(n);
}

export function inputDims(spec: InputSpec): number[] {
  return spec.layout === 'NCHW' ? [1, 3, spec.height, spec.width] : [1, spec.height, spec.width, 3];
}

/** Per-channel scale and offset: value = pixel * scale[c] + offset[c]. */
function affine(spec: InputSpec): { scale: number[]; offset: number[] } {
  switch (spec.range) {
    case '0-255':
      return { scale: [1, 1, 1], offset: [0, 0, 0] };
    case '0-1':
      return { scale: [1 / 255, 1 / 255, 1 / 255], offset: [0, 0, 0] };
    case '-1-1':
      return { scale: [2 / 255, 2 / 255, 2 / 255], offset: [-1, -1, -1] };
    case 'imagenet':
      return { scale: IMAGENET_STD.map((s) => 1 / s), offset: IMAGENET_MEAN.map((m, i) => -m / IMAGENET_STD[i]!) };
  }
}

export function fillInput(rgb: Uint8Array, spec: InputSpec, out: InputArray): void {
  const pixels = spec.width * spec.height;
  // Source channel for each output channel: BGR models read channel 2 first.
  const order = spec.pixelFormat === 'bgr' ? [2, 1, 0] : [0, 1, 2];
  if (out instanceof Uint8Array) {
    if (spec.layout === 'NHWC' && spec.pixelFormat === 'rgb') out.set(rgb.subarray(0, pixels * 3));
    else if (spec.layout === 'NHWC') {
      for (let i = 0; i < pixels * 3; i += 3) {
        out[i] = rgb[i + 2]!;
        out[i + 1] = rgb[i + 1]!;
        out[i + 2] = rgb[i]!;
      }
    } else for (let c = 0; c < 3; c++) for (let i = 0, src = order[c]!, dst = c * pixels; i < pixels; i++) out[dst + i] = rgb[i * 3 + src]!;
    return;
  }
  const { scale, offset } = affine(spec);
  if (spec.layout === 'NHWC' && spec.pixelFormat === 'rgb' && spec.range === '0-255') {
    // The bundled model's case: a plain widening copy, done natively by TypedArray.set.
    out.set(rgb.subarray(0, pixels * 3));
    return;
  }
  if (spec.layout === 'NHWC') {
    const [s0, s1, s2] = order as [number, number, number];
    const [k0, k1, k2] = scale as [number, number, number];
    const [o0, o1, o2] = offset as [number, number, number];
    for (let i = 0; i < pixels * 3; i += 3) {
      out[i] = rgb[i + s0]! * k0 + o0;
      out[i + 1] = rgb[i + s1]! * k1 + o1;
      out[i + 2] = rgb[i + s2]! * k2 + o2;
    }
    return;
  }
  for (let c = 0; c < 3; c++) {
    const src = order[c]!;
    const k = scale[c]!;
    const o = offset[c]!;
    const base = c * pixels;
    for (let i = 0; i < pixels; i++) out[base + i] = rgb[i * 3 + src]! * k + o;
  }
}
