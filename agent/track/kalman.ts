// Constant-velocity Kalman filter on a box [cx, cy, w, h] and its rates, with the
// time step taken from frame timestamps, so dropped frames and irregular frame rates
// widen the prediction instead of breaking it. Noise scales with the box size.
import { add, identity, inverse, mul, sub, transpose, zeros, type Matrix } from './linalg.js';

export type Box = [number, number, number, number];

/** Acceleration noise, in box sizes per second squared (position) and size change. */
const ACCEL_STD = 1.0;
const SIZE_ACCEL_STD = 0.3;
/** Measurement noise, as a fraction of the box size. */
const MEASURE_STD = 0.05;
/** Initial velocity uncertainty, in box sizes per second: wide, so a fast new object is still found. */
const INITIAL_VELOCITY_STD = 4;

const H: Matrix = zeros(4, 8).map((row, i) => ((row[i] = 1), row));
const HT = transpose(H);

export const toXywh = (b: Box): Box => [(b[0] + b[2]) / 2, (b[1] + b[3]) / 2, b[2] - b[0], b[3] - b[1]];
export const toXyxy = ([cx, cy, w, h]: readonly number[]): Box => [cx! - w! / 2, cy! - h! / 2, cx! + w! / 2, cy! + h! / 2];

export class KalmanBoxFilter {
  /** State: cx, cy, w, h, vcx, vcy, vw, vh (pixels, pixels per second). */
  x: number[];
  P: Matrix;

  constructor(box: Box) {
    const z = toXywh(box);
    const s = size(z);
    this.x = [...z, 0, 0, 0, 0];
    this.P = diag([MEASURE_STD * s, MEASURE_STD * s, MEASURE_STD * s, MEASURE_STD * s, INITIAL_VELOCITY_STD * s, INITIAL_VELOCITY_STD * s, 0.5 * s, 0.5 * s].map((v) => v * v));
  }

  /** The state `dt` seconds ahead, without changing the filter. */
  peek(dt: number): { x: number[]; P: Matrix } {
    const F = identity(8);
    for (let i = 0; i < 4; i++) F[i]![i + 4] = dt;
    const s = size(this.x);
    const q = zeros(8, 8);
    for (let i = 0; i < 4; i++) {
      const a = (i < 2 ? ACCEL_STD : SIZE_ACCEL_STD) * s;
      const a2 = a * a;
      q[i]![i] = (a2 * dt ** 4) / 4;
      q[i]![i + 4] = q[i + 4]![i] = (a2 * dt ** 3) / 2;
      q[i + 4]![i + 4] = a2 * dt * dt;
    }
    const x = mul(F, this.x.map((v) => [v])).map((r) => r[0]!);
    const P = add(mul(mul(F, this.P), transpose(F)), q);
    return { x, P };
  }

  predict(dt: number): void {
    const { x, P } = this.peek(dt);
    x[2] = Math.max(x[2]!, 1);
    x[3] = Math.max(x[3]!, 1);
    this.x = x;
    this.P = P;
  }

  update(box: Box): void {
    const z = toXywh(box);
    const R = measurementNoise(z);
    const S = add(mul(mul(H, this.P), HT), R);
    const K = mul(mul(this.P, HT), inverse(S)!);
    const y = z.map((v, i) => v - this.x[i]!);
    this.x = this.x.map((v, i) => v + K[i]!.reduce((acc, k, j) => acc + k * y[j]!, 0));
    this.P = mul(sub(identity(8), mul(K, H)), this.P);
  }

  /** Squared Mahalanobis distance of a box centre from the state `dt` ahead (2 degrees of freedom). */
  centerDistance2(box: Box, predicted: { x: number[]; P: Matrix }): number {
    const z = toXywh(box);
    const R = measurementNoise(z);
    const s00 = predicted.P[0]![0]! + R[0]![0]!;
    const s01 = predicted.P[0]![1]!;
    const s11 = predicted.P[1]![1]! + R[1]![1]!;
    const dx = z[0] - predicted.x[0]!;
    const dy = z[1] - predicted.x[1]!;
    const det = s00 * s11 - s01 * s01;
    return (s11 * dx * dx - 2 * s01 * dx * dy + s00 * dy * dy) / det;
  }
}

const size = (z: readonly number[]) => Math.sqrt(Math.max(z[2]!, 1) * Math.max(z[3]!, 1));
const diag = (v: number[]): Matrix => v.map((d, i) => v.map((_, j) => (i === j ? d : 0)));
function measurementNoise(z: readonly number[]): Matrix {
  const s = MEASURE_STD * size(z);
  return diag([s * s, s * s, s * s, s * s]);
}
