// Speed from ground-plane positions: a least-squares line through position against
// source timestamps, per axis, over a sliding window. The slope is the velocity; its
// standard error, from the residuals, is the stated accuracy.
import type { Point } from './homography.js';

export interface Sample {
  pts: number;
  /** Ground position of the box's bottom-centre, metres. */
  ground: Point;
}

export interface VelocityEstimate {
  /** Metres per second. */
  speed: number;
  /** 0° = world +X, 90° = world +Y. */
  directionDeg: number;
  /** One standard error of `speed`, metres per second. */
  error: number;
  samples: number;
  /** Seconds spanned by the samples. */
  span: number;
}

interface Fit {
  slope: number;
  /** Variance of the slope estimate. */
  slopeVar: number;
}

function fitLine(t: number[], y: number[]): Fit | undefined {
  const n = t.length;
  const tm = t.reduce((a, b) => a + b, 0) / n;
  const ym = y.reduce((a, b) => a + b, 0) / n;
  let stt = 0;
  let sty = 0;
  for (let i = 0; i < n; i++) {
    stt += (t[i]! - tm) ** 2;
    sty += (t[i]! - tm) * (y[i]! - ym);
  }
  if (stt <= 1e-12) return undefined;
  const slope = sty / stt;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (y[i]! - ym - slope * (t[i]! - tm)) ** 2;
  return { slope, slopeVar: n > 2 ? ss / (n - 2) / stt : Infinity };
}

export function estimateVelocity(samples: readonly Sample[]): VelocityEstimate | undefined {
  if (samples.length < 3) return undefined;
  const t = samples.map((s) => s.pts);
  const fx = fitLine(
    t,
    samples.map((s) => s.ground[0]),
  );
  const fy = fitLine(
    t,
    samples.map((s) => s.ground[1]),
  );
  if (!fx || !fy) return undefined;
  const speed = Math.hypot(fx.slope, fy.slope);
  // Error of |v| projected on the direction of motion (isotropic when at rest).
  const ux = speed > 1e-9 ? fx.slope / speed : Math.SQRT1_2;
  const uy = speed > 1e-9 ? fy.slope / speed : Math.SQRT1_2;
  const error = Math.sqrt(ux * ux * fx.slopeVar + uy * uy * fy.slopeVar);
  const direction = (Math.atan2(fy.slope, fx.slope) * 180) / Math.PI;
  return { speed, directionDeg: (direction + 360) % 360, error, samples: samples.length, span: t[t.length - 1]! - t[0]! };
}

export const SPEED_UNITS = {
  kmh: { label: 'km/h', perMps: 3.6 },
  mph: { label: 'mph', perMps: 3600 / 1609.344 },
  mps: { label: 'm/s', perMps: 1 },
} as const;
export type SpeedUnit = keyof typeof SPEED_UNITS;
