// The shape settings (LINES, LINE_DIRECTIONS, ZONES, MASKS and the calibration points) as
// one set, checked and resolved the same way whether they come from the env file at
// start or from a Save while running: the schema's grammar, unique names, a zone of three
// points or more, directions of existing lines, a calibration that does not fold the
// ground over and, once the frame size and the model's classes are known, points inside
// the frame and mask classes the model has. Problems are keyed by what the user edits.
import { configSchema, type RawConfig } from './schema.js';
import { shapesOf, type AnalyticsConfig } from './analytics.js';
import { resolveCalibration } from './calibration.js';
import { SHAPE_KEYS, type ShapeKey, type ShapeTexts } from './saved.js';
import { outsideFrame } from '../geometry.js';
import type { Point } from '../track/homography.js';

export type ShapeField = 'lines' | 'line_directions' | 'zones' | 'masks' | 'calibration';
export const FIELD_OF: Record<ShapeKey, ShapeField> = {
  LINES: 'lines',
  LINE_DIRECTIONS: 'line_directions',
  ZONES: 'zones',
  MASKS: 'masks',
  CALIBRATION_IMAGE_POINTS: 'calibration',
  CALIBRATION_WORLD_POINTS: 'calibration',
};

export interface ResolvedShapes extends Pick<AnalyticsConfig, 'lines' | 'zones' | 'masks'> {
  calibration: { imagePoints?: Point[]; worldPoints?: Point[]; metersPerPixel?: number };
}

export interface ShapeContext {
  /** The source frame, once known: every point must lie in it. */
  frame?: { width: number; height: number };
  /** The model's class names, once loaded: mask classes must be among them. */
  labels?: readonly string[];
}

export type ShapeProblems = Partial<Record<ShapeField, string>>;

/** The shapes of `texts` (with `metersPerPixel` when they hold no calibration points), or what is wrong with them, by field. */
export function resolveShapes(texts: ShapeTexts, metersPerPixel: number | undefined, context: ShapeContext = {}): { shapes?: ResolvedShapes; problems: ShapeProblems } {
  const problems: ShapeProblems = {};
  const add = (field: ShapeField, message: string) => void (problems[field] ??= message);
  const raw: Partial<Record<ShapeKey, string>> = {};
  for (const key of SHAPE_KEYS) {
    const text = texts[key]?.trim();
    if (!text) continue;
    const parsed = configSchema.shape[key].safeParse(text);
    if (parsed.success) raw[key] = text;
    else add(FIELD_OF[key], `${key}: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
  }
  if (Object.keys(problems).length) return { problems };
  const listed: string[] = [];
  const { lines, zones, masks } = shapesOf(raw, listed);
  for (const problem of listed) add('line_directions', problem);
  const calibrationProblems: string[] = [];
  const points = resolveCalibration(
    { CALIBRATION_IMAGE_POINTS: raw.CALIBRATION_IMAGE_POINTS, CALIBRATION_WORLD_POINTS: raw.CALIBRATION_WORLD_POINTS } as RawConfig,
    calibrationProblems,
  );
  for (const problem of calibrationProblems) add('calibration', problem);
  const { frame, labels } = context;
  if (frame) {
    const check = (field: ShapeField, name: string, ps: readonly Point[] | undefined) => {
      const i = ps ? outsideFrame(ps, frame.width, frame.height)[0] : undefined;
      if (i !== undefined) add(field, `${name}: point ${i + 1} (${ps![i]!.join(',')}) is outside the ${frame.width}x${frame.height} frame`);
    };
    for (const l of lines) check('lines', l.name, [l.a, l.b]);
    for (const z of zones) check('zones', z.name, z.points);
    for (const m of masks) check('masks', m.name, m.points);
    check('calibration', 'calibration', points.CALIBRATION_IMAGE_POINTS);
  }
  if (labels)
    for (const m of masks) {
      const unknown = m.classes.filter((c) => !labels.includes(c));
      if (unknown.length) add('masks', `${m.name}: ${unknown.join(', ')}: not a class of the model`);
    }
  if (Object.keys(problems).length) return { problems };
  const calibration = points.CALIBRATION_IMAGE_POINTS ? { imagePoints: points.CALIBRATION_IMAGE_POINTS, worldPoints: points.CALIBRATION_WORLD_POINTS } : { metersPerPixel };
  return { shapes: { lines, zones, masks, calibration }, problems };
}
