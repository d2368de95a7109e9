// The appearance cue that tells two objects apart when their boxes overlap: a colour
// histogram of the box's upper and lower halves (a person's shirt and trousers, a car's
// body and wheels), taken from the same rgb24 pixels the detector saw. Each half has
// 4×4×4 RGB bins; the descriptor is the square root of the normalised counts, so the dot
// product of two descriptors is the Bhattacharyya coefficient of their histograms
// (1: the same colours, 0: none in common). A few hundred pixels per half are sampled,
// so a descriptor costs microseconds whatever the box size.

export const APPEARANCE_LENGTH = 128;
const BINS_PER_HALF = 64;
/** Pixels sampled per half at most (a grid over it). */
const SAMPLES = 256;
/** The box's left and right margins left out, where the background shows beside a person. */
const SIDE_MARGIN = 0.15;
/** Too small to say anything: a descriptor needs at least this many pixels per half. */
const MIN_PIXELS = 12;

/**
 * The descriptor of `box` (x1, y1, x2, y2 in the image's pixels) in an rgb24 image, or
 * undefined when the box is too small to describe.
 */
export function describeBox(rgb: Uint8Array, width: number, height: number, box: readonly number[]): Float32Array | undefined {
  const bw = box[2]! - box[0]!;
  const x1 = Math.max(0, Math.floor(box[0]! + SIDE_MARGIN * bw));
  const x2 = Math.min(width, Math.ceil(box[2]! - SIDE_MARGIN * bw));
  const y1 = Math.max(0, Math.floor(box[1]!));
  const y2 = Math.min(height, Math.ceil(box[3]!));
  const mid = Math.round((y1 + y2) / 2);
  if ((x2 - x1) * (mid - y1) < MIN_PIXELS || (x2 - x1) * (y2 - mid) < MIN_PIXELS) return undefined;
  const out = new Float32Array(APPEARANCE_LENGTH);
  histogram(rgb, width, x1, x2, y1, mid, out, 0);
  histogram(rgb, width, x1, x2, mid, y2, out, BINS_PER_HALF);
  for (let i = 0; i < APPEARANCE_LENGTH; i++) out[i] = Math.sqrt(out[i]!);
  return out;
}

/** Adds one half's normalised histogram, scaled so the whole descriptor has unit length once square-rooted. */
function histogram(rgb: Uint8Array, width: number, x1: number, x2: number, y1: number, y2: number, out: Float32Array, offset: number): void {
  const w = x2 - x1;
  const h = y2 - y1;
  const step = Math.max(1, Math.sqrt((w * h) / SAMPLES));
  let n = 0;
  for (let y = y1 + step / 2; y < y2; y += step)
    for (let x = x1 + step / 2; x < x2; x += step) {
      const p = (Math.floor(y) * width + Math.floor(x)) * 3;
      const bin = offset + ((rgb[p]! >> 6) << 4) + ((rgb[p + 1]! >> 6) << 2) + (rgb[p + 2]! >> 6);
      out[bin] = out[bin]! + 1;
      n++;
    }
  // Each half weighs one half: the sum of squares of the final descriptor is 1.
  for (let i = offset; i < offset + BINS_PER_HALF && n; i++) out[i] = out[i]! / (2 * n);
}

/** 1 − the Bhattacharyya coefficient: 0 for the same colours, 1 for none in common. */
export function appearanceDistance(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += a[i]! * b[i]!;
  return Math.max(0, 1 - dot);
}

/**
 * Moves a track's running descriptor towards a new observation (an exponential moving
 * average, renormalised). `weight` is the new observation's share, 0..1.
 */
export function blendAppearance(track: Float32Array, observed: Float32Array, weight: number): void {
  let norm = 0;
  for (let i = 0; i < track.length; i++) {
    const v = (1 - weight) * track[i]! + weight * observed[i]!;
    track[i] = v;
    norm += v * v;
  }
  const k = norm > 0 ? 1 / Math.sqrt(norm) : 0;
  for (let i = 0; i < track.length; i++) track[i] = track[i]! * k;
}
