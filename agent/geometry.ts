// Lines, zones and masks in source-frame pixels: the grammar of LINES, ZONES and MASKS,
// which side of a line a point is on, where a path crosses it, and whether a point is
// inside a polygon. An object's position is its anchor: the bottom-centre of its box,
// where it meets the ground (as for speed).
/** A point in pixels (source frame) or metres (ground plane). */
export type Point = [number, number];

export interface NamedShape {
  name: string;
  points: Point[];
  /** Classes the shape applies to (masks only); empty: every class. */
  classes: string[];
}

export const anchorOf = (box: readonly number[]): Point => [(box[0]! + box[2]!) / 2, box[3]!];

const NAME = /^[A-Za-z0-9_-]{1,32}$/;

/**
 * Parses `name:x1,y1;x2,y2;...|name:...`. With `namePrefix` unset a name is required;
 * with it, names are optional and default to `<namePrefix><n>`. With `classPrefix`, an
 * item may start with `class+class@` before its points.
 */
export function parseShapes(text: string, o: { minPoints: number; maxPoints?: number; namePrefix?: string; classPrefix?: boolean }): NamedShape[] | string {
  const shapes: NamedShape[] = [];
  const items = text
    .split('|')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const [i, item] of items.entries()) {
    let rest = item;
    let name = o.namePrefix ? `${o.namePrefix}${i + 1}` : '';
    const colon = rest.indexOf(':');
    if (colon >= 0) {
      name = rest.slice(0, colon).trim();
      rest = rest.slice(colon + 1);
      if (!NAME.test(name)) return `"${name}" is not a name (letters, digits, - or _, at most 32)`;
    } else if (!o.namePrefix) return `"${item}" has no name: write name:x1,y1;x2,y2`;
    let classes: string[] = [];
    const at = rest.indexOf('@');
    if (at >= 0) {
      if (!o.classPrefix) return `"${item}": a class@ prefix is only for MASKS`;
      classes = rest
        .slice(0, at)
        .split('+')
        .map((c) => c.trim())
        .filter(Boolean);
      rest = rest.slice(at + 1);
    }
    const points: Point[] = [];
    for (const p of rest.split(';').map((s) => s.trim())) {
      const m = /^(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)$/.exec(p);
      if (!m) return `${name || `item ${i + 1}`}: "${p}" is not a point x,y`;
      points.push([Number(m[1]), Number(m[2])]);
    }
    if (points.length < o.minPoints || (o.maxPoints !== undefined && points.length > o.maxPoints)) {
      const want = o.maxPoints === o.minPoints ? `exactly ${o.minPoints}` : `at least ${o.minPoints}`;
      return `${name}: ${points.length} point${points.length === 1 ? '' : 's'}, ${want} needed`;
    }
    if (shapes.some((s) => s.name === name)) return `the name "${name}" is used twice`;
    shapes.push({ name, points, classes });
  }
  return shapes;
}

/** The indices of the points outside a width×height frame (a point on its edge is inside). */
export function outsideFrame(points: readonly (readonly [number, number])[], width: number, height: number): number[] {
  return points.flatMap(([x, y], i) => (x < 0 || y < 0 || x > width || y > height ? [i] : []));
}

/** Signed distance of p from the line through a→b, in pixels: positive on the right of a→b as seen on screen (y down). */
export function signedDistance(a: Point, b: Point, p: Point): number {
  const dx = b[0] - a[0];
  const dy = b[1] - a[1];
  return (dx * (p[1] - a[1]) - dy * (p[0] - a[0])) / Math.hypot(dx, dy);
}

/** Where the step p→q crosses the line through a→b, as a fraction along a→b (0..1 is on the segment), or undefined if it does not cross. */
export function crossingAlong(a: Point, b: Point, p: Point, q: Point): number | undefined {
  const dp = signedDistance(a, b, p);
  const dq = signedDistance(a, b, q);
  if (dp === dq || Math.sign(dp) === Math.sign(dq)) return undefined;
  const t = dp / (dp - dq);
  const x: Point = [p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1])];
  const len2 = (b[0] - a[0]) ** 2 + (b[1] - a[1]) ** 2;
  return ((x[0] - a[0]) * (b[0] - a[0]) + (x[1] - a[1]) * (b[1] - a[1])) / len2;
}

/** Whether p is inside the polygon (any shape, concave included); a point on an edge or a vertex is inside. */
export function inPolygon(polygon: readonly Point[], p: Point): boolean {
  let inside = false;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i++) {
    const a = polygon[j]!;
    const b = polygon[i]!;
    // On the edge a-b: collinear and between its ends.
    const cross = (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0]);
    if (Math.abs(cross) < 1e-9 && p[0] >= Math.min(a[0], b[0]) && p[0] <= Math.max(a[0], b[0]) && p[1] >= Math.min(a[1], b[1]) && p[1] <= Math.max(a[1], b[1])) return true;
    if (a[1] > p[1] !== b[1] > p[1] && p[0] < ((b[0] - a[0]) * (p[1] - a[1])) / (b[1] - a[1]) + a[0]) inside = !inside;
  }
  return inside;
}

/** The value below which `q` of the sorted values lie, by linear interpolation (q = 0.85: the V85 of traffic engineering). */
export function percentile(values: readonly number[], q: number): number | undefined {
  if (!values.length) return undefined;
  const sorted = [...values].sort((x, y) => x - y);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}
