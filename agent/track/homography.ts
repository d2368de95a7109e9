// Ground-plane calibration: a homography from source-frame pixels to metres on the
// road, from four point correspondences, or a plain scale for a camera looking
// straight down.
import type { Point } from '../geometry.js';
import { inverse, solve, type Matrix } from './linalg.js';

export type { Point };

export class CalibrationError extends Error {}

export interface GroundMapping {
  /** Source pixels → ground metres. */
  toGround(p: Point): Point;
  /** Ground metres → source pixels. */
  toImage(p: Point): Point;
  /** Metres per pixel at an image point (mean of the two axes' local scales). */
  metersPerPixel(p: Point): number;
  readonly matrix: Matrix;
}

/** Applies h; points on the far side of the horizon (w of the other sign) map to NaN. */
function apply(h: Matrix, [x, y]: Point, wSign = 1): Point {
  const w = h[2]![0]! * x + h[2]![1]! * y + h[2]![2]!;
  if (wSign !== 0 ? w * wSign <= 0 : w === 0) return [NaN, NaN];
  return [(h[0]![0]! * x + h[0]![1]! * y + h[0]![2]!) / w, (h[1]![0]! * x + h[1]![1]! * y + h[1]![2]!) / w];
}

const cross = (o: Point, a: Point, b: Point) => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);

/** Rejects point sets where three points are (nearly) collinear, or that cross over. */
function checkQuad(points: Point[], what: string): void {
  const scale = Math.max(...points.flatMap((p) => p.map(Math.abs)), 1e-9);
  for (let i = 0; i < 4; i++)
    for (let j = i + 1; j < 4; j++)
      for (let k = j + 1; k < 4; k++) {
        const area = Math.abs(cross(points[i]!, points[j]!, points[k]!)) / 2;
        if (area < 1e-4 * scale * scale)
          throw new CalibrationError(`${what}: points ${i + 1}, ${j + 1} and ${k + 1} are on one line; choose four points that span a quadrilateral on the road`);
      }
}

export function homographyFromPoints(image: Point[], world: Point[]): GroundMapping {
  if (image.length !== 4 || world.length !== 4) throw new CalibrationError('calibration needs exactly four image points and four world points');
  checkQuad(image, 'CALIBRATION_IMAGE_POINTS');
  checkQuad(world, 'CALIBRATION_WORLD_POINTS');
  // Orientation must agree point by point, or the mapping folds the plane over itself.
  const sign = (pts: Point[]) => [0, 1, 2, 3].map((i) => Math.sign(cross(pts[i]!, pts[(i + 1) % 4]!, pts[(i + 2) % 4]!)));
  const si = sign(image);
  const sw = sign(world);
  const flips = si.map((s, i) => s * sw[i]!);
  if (!flips.every((f) => f === flips[0])) {
    throw new CalibrationError(
      'CALIBRATION_IMAGE_POINTS and CALIBRATION_WORLD_POINTS are not in the same order around the quadrilateral; list both in the same order (e.g. near-left, near-right, far-right, far-left)',
    );
  }
  // DLT with h33 = 1: two equations per correspondence.
  const a: Matrix = [];
  const b: number[] = [];
  for (let i = 0; i < 4; i++) {
    const [x, y] = image[i]!;
    const [u, v] = world[i]!;
    a.push([x, y, 1, 0, 0, 0, -u * x, -u * y]);
    b.push(u);
    a.push([0, 0, 0, x, y, 1, -v * x, -v * y]);
    b.push(v);
  }
  const h = solve(a, b);
  if (!h) throw new CalibrationError('the calibration points do not define a homography; check that they are four distinct corners');
  const matrix: Matrix = [h.slice(0, 3), h.slice(3, 6), [h[6]!, h[7]!, 1]];
  const inv = inverse(matrix);
  if (!inv) throw new CalibrationError('the calibration homography is singular');
  const cx = image.reduce((a, p) => a + p[0], 0) / 4;
  const cy = image.reduce((a, p) => a + p[1], 0) / 4;
  const wSign = Math.sign(matrix[2]![0]! * cx + matrix[2]![1]! * cy + 1);
  return mapping(matrix, inv, wSign);
}

export function scaleMapping(metersPerPixel: number): GroundMapping {
  const m = metersPerPixel;
  return mapping(
    [
      [m, 0, 0],
      [0, m, 0],
      [0, 0, 1],
    ],
    [
      [1 / m, 0, 0],
      [0, 1 / m, 0],
      [0, 0, 1],
    ],
  );
}

function mapping(matrix: Matrix, inv: Matrix, wSign = 1): GroundMapping {
  const toGround = (p: Point) => apply(matrix, p, wSign);
  return {
    matrix,
    toGround,
    toImage: (p) => apply(inv, p, 0),
    metersPerPixel(p) {
      const o = toGround(p);
      const dx = toGround([p[0] + 1, p[1]]);
      const dy = toGround([p[0], p[1] + 1]);
      return (Math.hypot(dx[0] - o[0], dx[1] - o[1]) + Math.hypot(dy[0] - o[0], dy[1] - o[1])) / 2;
    },
  };
}

/** Parses "x1,y1;x2,y2;..." into points; undefined message on success. */
export function parsePoints(text: string): Point[] | string {
  const parts = text
    .split(';')
    .map((p) => p.trim())
    .filter(Boolean);
  const points: Point[] = [];
  for (const part of parts) {
    const xy = part.split(',').map((v) => Number(v.trim()));
    if (xy.length !== 2 || xy.some((v) => !Number.isFinite(v))) return `"${part}" is not a point x,y`;
    points.push([xy[0]!, xy[1]!]);
  }
  if (points.length !== 4) return `expected 4 points, got ${points.length}`;
  return points;
}
