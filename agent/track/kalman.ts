// Constant-velocity Kalman filter on a box [cx, cy, w, h] and its rates, with the
// time step taken from frame timestamps, so dropped frames and irregular frame rates
// widen the prediction instead of breaking it. Noise scales with the box size.
//
// The algebra is written out for this model's structure (F = [[I, dt·I], [0, I]], H = [I 0])
// and works in place on typed arrays: a prediction and an update allocate nothing, as they
// run for every track on every frame.

export type Box = [number, number, number, number];

/** Acceleration noise, in box sizes per second squared (position) and size change. */
const ACCEL_STD = 1.0;
const SIZE_ACCEL_STD = 0.3;
/** Measurement noise, as a fraction of the box size. */
const MEASURE_STD = 0.05;
/** Initial velocity uncertainty, in box sizes per second: wide, so a fast new object is still found. */
const INITIAL_VELOCITY_STD = 4;

export const toXywh = (b: Box): Box => [(b[0] + b[2]) / 2, (b[1] + b[3]) / 2, b[2] - b[0], b[3] - b[1]];
export const toXyxy = (s: ArrayLike<number>): Box => [s[0]! - s[2]! / 2, s[1]! - s[3]! / 2, s[0]! + s[2]! / 2, s[1]! + s[3]! / 2];

/** Initial standard deviations of the state, in box sizes (per second for the rates). */
const INITIAL_STD = [MEASURE_STD, MEASURE_STD, MEASURE_STD, MEASURE_STD, INITIAL_VELOCITY_STD, INITIAL_VELOCITY_STD, 0.5, 0.5];

// Scratch space shared by every filter (the tracker runs on one thread): the innovation
// covariance S (consumed by its inversion) and S⁻¹, the gain K (8x4), the rows of P that
// the update reads, and the innovation y.
const S = new Float64Array(16);
const SI = new Float64Array(16);
const K = new Float64Array(32);
const ROWS = new Float64Array(32);
const Y = new Float64Array(4);

export class KalmanBoxFilter {
  /** State: cx, cy, w, h, vcx, vcy, vw, vh (pixels, pixels per second). */
  readonly x = new Float64Array(8);
  /** Covariance, 8x8 row-major. */
  readonly P = new Float64Array(64);

  constructor(box: Box) {
    const z = toXywh(box);
    this.x.set(z);
    const s = size(this.x);
    for (let i = 0; i < 8; i++) this.P[i * 9] = (INITIAL_STD[i]! * s) ** 2;
  }

  /** Moves the state `dt` seconds ahead: x = F x, P = F P Fᵀ + Q. */
  predict(dt: number): void {
    const { x, P } = this;
    const s = size(x);
    for (let i = 0; i < 4; i++) x[i] = x[i]! + dt * x[i + 4]!;
    x[2] = Math.max(x[2]!, 1);
    x[3] = Math.max(x[3]!, 1);
    // With P in 4x4 blocks [[A, B], [C, D]]: F P Fᵀ = [[A + dt(B + C) + dt²D, B + dt D], [C + dt D, D]].
    const dt2 = dt * dt;
    for (let r = 0; r < 4; r++) {
      for (let c = 0; c < 4; c++) {
        const a = r * 8 + c;
        const b = a + 4;
        const cc = a + 32;
        const d = a + 36;
        const pb = P[b]!;
        const pc = P[cc]!;
        const pd = P[d]!;
        P[a] = P[a]! + dt * (pb + pc) + dt2 * pd;
        P[b] = pb + dt * pd;
        P[cc] = pc + dt * pd;
      }
    }
    // Q: white acceleration noise on each of the four coordinates.
    for (let i = 0; i < 4; i++) {
      const a2 = ((i < 2 ? ACCEL_STD : SIZE_ACCEL_STD) * s) ** 2;
      P[i * 9] = P[i * 9]! + (a2 * dt2 * dt2) / 4;
      P[i * 8 + i + 4] = P[i * 8 + i + 4]! + (a2 * dt2 * dt) / 2;
      P[(i + 4) * 8 + i] = P[(i + 4) * 8 + i]! + (a2 * dt2 * dt) / 2;
      P[(i + 4) * 9] = P[(i + 4) * 9]! + a2 * dt2;
    }
  }

  /** Corrects the state with a measured box: K = P Hᵀ S⁻¹, x += K (z - H x), P -= K H P. */
  update(box: Box): void {
    const { x, P } = this;
    const r = measurementVariance(box[2] - box[0], box[3] - box[1]);
    for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) S[i * 4 + j] = P[i * 8 + j]! + (i === j ? r : 0);
    if (!invert4(S, SI)) return; // S is a covariance plus a positive diagonal: never singular in practice
    // K = P Hᵀ S⁻¹, where P Hᵀ is the first four columns of P.
    for (let i = 0; i < 8; i++)
      for (let j = 0; j < 4; j++) {
        let v = 0;
        for (let k = 0; k < 4; k++) v += P[i * 8 + k]! * SI[k * 4 + j]!;
        K[i * 4 + j] = v;
      }
    Y[0] = (box[0] + box[2]) / 2 - x[0]!;
    Y[1] = (box[1] + box[3]) / 2 - x[1]!;
    Y[2] = box[2] - box[0] - x[2]!;
    Y[3] = box[3] - box[1] - x[3]!;
    for (let i = 0; i < 8; i++) x[i] = x[i]! + K[i * 4]! * Y[0]! + K[i * 4 + 1]! * Y[1]! + K[i * 4 + 2]! * Y[2]! + K[i * 4 + 3]! * Y[3]!;
    // H P is the first four rows of P; copy them before P changes.
    ROWS.set(P.subarray(0, 32));
    for (let i = 0; i < 8; i++)
      for (let j = 0; j < 8; j++)
        P[i * 8 + j] = P[i * 8 + j]! - (K[i * 4]! * ROWS[j]! + K[i * 4 + 1]! * ROWS[8 + j]! + K[i * 4 + 2]! * ROWS[16 + j]! + K[i * 4 + 3]! * ROWS[24 + j]!);
  }

  /** Squared Mahalanobis distance of a box centre from the present state (2 degrees of freedom). */
  centerDistance2(box: Box): number {
    const { x, P } = this;
    const r = measurementVariance(box[2] - box[0], box[3] - box[1]);
    const s00 = P[0]! + r;
    const s01 = P[1]!;
    const s11 = P[9]! + r;
    const dx = (box[0] + box[2]) / 2 - x[0]!;
    const dy = (box[1] + box[3]) / 2 - x[1]!;
    const det = s00 * s11 - s01 * s01;
    return (s11 * dx * dx - 2 * s01 * dx * dy + s00 * dy * dy) / det;
  }
}

const size = (z: ArrayLike<number>) => Math.sqrt(Math.max(z[2]!, 1) * Math.max(z[3]!, 1));

/** Variance of each measured coordinate: MEASURE_STD of the box size, squared. */
function measurementVariance(w: number, h: number): number {
  const s = MEASURE_STD * Math.sqrt(Math.max(w, 1) * Math.max(h, 1));
  return s * s;
}

/** Inverts a 4x4 matrix by Gauss-Jordan elimination with partial pivoting; false when singular. `a` is overwritten. */
function invert4(a: Float64Array, out: Float64Array): boolean {
  out.fill(0);
  for (let i = 0; i < 4; i++) out[i * 5] = 1;
  for (let col = 0; col < 4; col++) {
    let pivot = col;
    for (let r = col + 1; r < 4; r++) if (Math.abs(a[r * 4 + col]!) > Math.abs(a[pivot * 4 + col]!)) pivot = r;
    const p = a[pivot * 4 + col]!;
    if (Math.abs(p) < 1e-12) return false;
    if (pivot !== col) {
      for (let c = 0; c < 4; c++) {
        let t = a[col * 4 + c]!;
        a[col * 4 + c] = a[pivot * 4 + c]!;
        a[pivot * 4 + c] = t;
        t = out[col * 4 + c]!;
        out[col * 4 + c] = out[pivot * 4 + c]!;
        out[pivot * 4 + c] = t;
      }
    }
    for (let c = 0; c < 4; c++) {
      a[col * 4 + c] = a[col * 4 + c]! / p;
      out[col * 4 + c] = out[col * 4 + c]! / p;
    }
    for (let r = 0; r < 4; r++) {
      if (r === col) continue;
      const f = a[r * 4 + col]!;
      if (f === 0) continue;
      for (let c = 0; c < 4; c++) {
        a[r * 4 + c] = a[r * 4 + c]! - f * a[col * 4 + c]!;
        out[r * 4 + c] = out[r * 4 + c]! - f * out[col * 4 + c]!;
      }
    }
  }
  return true;
}
