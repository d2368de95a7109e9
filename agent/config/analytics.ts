// LINES, ZONES, MASKS, the detection filters and the track-level rules, parsed from
// their settings (whose grammar the schema has checked) into what analytics and the
// track stage use.
import { LINE_GRAMMAR, MASK_GRAMMAR, ZONE_GRAMMAR, parsePairs } from './settings-analytics.js';
import { parseShapes, type NamedShape, type Point as ShapePoint } from '../geometry.js';
import type { RawConfig } from './schema.js';

export interface CountingLine {
  name: string;
  a: ShapePoint;
  b: ShapePoint;
  /** [left to right of a→b, right to left]. */
  directions: [string, string];
}

/** Two lines and the distance between them along the road (SPEED_TRAPS). */
export interface SpeedTrap {
  name: string;
  first: string;
  second: string;
  metres: number;
}

export interface AnalyticsConfig {
  lines: CountingLine[];
  traps: SpeedTrap[];
  zones: { name: string; points: ShapePoint[] }[];
  masks: NamedShape[];
  /** Minimum score by class, beside SCORE_THRESHOLD. */
  scoreThresholds: Record<string, number>;
  minBoxArea: number;
  maxBoxArea: number;
  /** A track is confirmed once detected in `hits` of its first `window` processed frames. */
  confirm: { hits: number; window: number };
  /** The median score a track that has not moved needs before it is reported, by class. */
  stillScores: { default: number; classes: Record<string, number> };
  hysteresis: number;
  statsInterval: number;
}
/** Lines (with their directions), zones and masks from their settings' texts, whose grammar the schema has checked. */
export function shapesOf(raw: Pick<RawConfig, 'LINES' | 'LINE_DIRECTIONS' | 'ZONES' | 'MASKS'>, problems: string[]): Pick<AnalyticsConfig, 'lines' | 'zones' | 'masks'> {
  const shapes = (text: string | undefined, grammar: Parameters<typeof parseShapes>[1]) => (text ? (parseShapes(text, grammar) as NamedShape[]) : []);
  const directions = new Map(
    (raw.LINE_DIRECTIONS ? (parsePairs(raw.LINE_DIRECTIONS, '|') as [string, string][]) : []).map(([line, names]) => [line, names.split(',') as [string, string]]),
  );
  const lines = shapes(raw.LINES, LINE_GRAMMAR).map(({ name, points }) => ({
    name,
    a: points[0]!,
    b: points[1]!,
    directions: directions.get(name) ?? (['in', 'out'] as [string, string]),
  }));
  for (const name of directions.keys())
    if (!lines.some((l) => l.name === name)) problems.push(`LINE_DIRECTIONS: no line "${name}" in LINES (lines: ${lines.map((l) => l.name).join(', ') || 'none'})`);
  return { lines, zones: shapes(raw.ZONES, ZONE_GRAMMAR).map(({ name, points }) => ({ name, points })), masks: shapes(raw.MASKS, MASK_GRAMMAR) };
}

export function resolveAnalytics(raw: RawConfig, problems: string[]): AnalyticsConfig {
  const { lines, zones, masks } = shapesOf(raw, problems);
  const scoreThresholds = pairsOfScores(raw.SCORE_THRESHOLDS);
  const stillScores = { default: raw.TRACK_STILL_SCORE, classes: pairsOfScores(raw.TRACK_STILL_SCORES) };
  const [hits, window] = raw.TRACK_CONFIRM.split('/').map(Number) as [number, number];
  if (raw.MAX_BOX_AREA && raw.MIN_BOX_AREA > raw.MAX_BOX_AREA) problems.push(`MIN_BOX_AREA=${raw.MIN_BOX_AREA} is above MAX_BOX_AREA=${raw.MAX_BOX_AREA}: no detection could pass`);
  return {
    lines,
    traps: trapsOf(raw.SPEED_TRAPS, lines, problems),
    zones,
    masks,
    scoreThresholds,
    minBoxArea: raw.MIN_BOX_AREA,
    maxBoxArea: raw.MAX_BOX_AREA || Infinity,
    confirm: { hits, window },
    stillScores,
    hysteresis: raw.LINE_HYSTERESIS,
    statsInterval: raw.STATS_INTERVAL,
  };
}

/** SPEED_TRAPS (grammar checked by the schema): each trap's two lines must be in LINES, distinct, and metres above 0. */
function trapsOf(text: string | undefined, lines: CountingLine[], problems: string[]): SpeedTrap[] {
  const traps = (text ?? '')
    .split('|')
    .map((t) => t.trim())
    .filter(Boolean)
    .map((item) => {
      const [name, rest] = item.split(':') as [string, string];
      const [first, second, metres] = rest.split(',') as [string, string, string];
      return { name, first, second, metres: Number(metres) };
    });
  const names = lines.map((l) => l.name);
  for (const t of traps) {
    for (const line of [t.first, t.second]) if (!names.includes(line)) problems.push(`SPEED_TRAPS: ${t.name}: no line "${line}" in LINES (lines: ${names.join(', ') || 'none'})`);
    if (t.first === t.second) problems.push(`SPEED_TRAPS: ${t.name}: two different lines needed, "${t.first}" is given twice`);
    if (!(t.metres > 0)) problems.push(`SPEED_TRAPS: ${t.name}: ${t.metres} m between the lines; give the distance along the road, above 0`);
  }
  return traps;
}

/** "class:score,class:score" → { class: score }. */
function pairsOfScores(text: string | undefined): Record<string, number> {
  return Object.fromEntries(((text && text !== 'none' ? parsePairs(text, ',') : []) as [string, string][]).map(([c, v]) => [c, Number(v)]));
}
