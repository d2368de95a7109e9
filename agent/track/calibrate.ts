// `edgecam calibrate`: what the configured calibration means on this camera.
import type { GroundMapping, Point } from './homography.js';
import { SPEED_UNITS, type SpeedUnit } from './speed.js';
import { outsideFrame } from '../geometry.js';

export interface CalibrationReportOptions {
  mapping: GroundMapping;
  width: number;
  height: number;
  fps: number;
  window: number;
  unit: SpeedUnit;
  imagePoints?: Point[];
}

/** One line per calibration image point that lies outside the frame: most often a coordinate from another resolution. */
export function pointsOutsideFrame(points: Point[] | undefined, width: number, height: number): string[] {
  return outsideFrame(points ?? [], width, height).map(
    (i) =>
      `CALIBRATION_IMAGE_POINTS: point ${i + 1} (${points![i]!.join(',')}) is outside the ${width}x${height} frame; check that the coordinates are in this camera's full-resolution source pixels`,
  );
}

/** Standard error of a least-squares slope from n samples dt apart, each with position noise sigma. */
export function slopeError(sigma: number, n: number, dt: number): number {
  return sigma / (dt * Math.sqrt((n * (n * n - 1)) / 12));
}

export function calibrationReport(o: CalibrationReportOptions): string {
  const unit = SPEED_UNITS[o.unit];
  const fmt = (v: number, d = 3) => (Number.isFinite(v) ? v.toFixed(d) : '-');
  const lines: string[] = [];
  lines.push('Homography (source pixels -> ground metres):');
  for (const row of o.mapping.matrix) lines.push('  ' + row.map((v) => v.toExponential(6).padStart(15)).join(' '));
  const n = Math.max(2, Math.floor(o.window * o.fps) + 1);
  const dt = 1 / o.fps;
  const places: [string, Point][] = [
    ['top-left', [0, 0]],
    ['top-right', [o.width - 1, 0]],
    ['bottom-left', [0, o.height - 1]],
    ['bottom-right', [o.width - 1, o.height - 1]],
    ['centre', [o.width / 2, o.height / 2]],
  ];
  lines.push('');
  lines.push(`Frame ${o.width}x${o.height}, DETECT_FPS=${o.fps}, SPEED_WINDOW=${o.window} s (${n} positions per fit):`);
  lines.push(`  ${'where'.padEnd(13)}${'ground X,Y (m)'.padEnd(22)}${'m/pixel'.padEnd(10)}${`1 px/frame (${unit.label})`.padEnd(22)}fit error for 1 px jitter (${unit.label})`);
  for (const [name, p] of places) {
    const g = o.mapping.toGround(p);
    const mpp = o.mapping.metersPerPixel(p);
    const perPixelFrame = mpp * o.fps * unit.perMps;
    const fitError = slopeError(mpp, n, dt) * unit.perMps;
    const ground = Number.isFinite(g[0]) && Number.isFinite(g[1]) && Math.abs(g[0]) < 1e6 ? `${fmt(g[0], 2)}, ${fmt(g[1], 2)}` : 'beyond the horizon';
    lines.push(`  ${name.padEnd(13)}${ground.padEnd(22)}${fmt(mpp, 4).padEnd(10)}${fmt(perPixelFrame, 2).padEnd(22)}${fmt(fitError, 2)}`);
  }
  lines.push('');
  lines.push('"1 px/frame" is the speed of an object whose anchor moves one pixel between two processed frames;');
  lines.push('"fit error" is the standard error of a speed fitted over the window when each box edge jitters by one pixel.');
  if (o.imagePoints) {
    const [a, b, c, d] = o.imagePoints.map((p) => o.mapping.toGround(p));
    lines.push(
      `Calibration quadrilateral on the ground: sides ${[
        [a, b],
        [b, c],
        [c, d],
        [d, a],
      ]
        .map(([p, q]) => fmt(Math.hypot(p![0] - q![0], p![1] - q![1]), 2))
        .join(', ')} m.`,
    );
  }
  return lines.join('\n');
}
