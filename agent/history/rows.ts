// The rows the history records, from the events the analytics feature publishes: the same
// values as its MQTT messages, rounded the same way.
import type { Crossing, Stamped, ZoneEvent } from '../bus.js';
import type { StatsPayload } from '../mqtt/payloads.js';
import type { Row, TableName } from './schema.js';
import { round } from '../round.js';
import type { ResolvedShapes } from '../config/shapes.js';

export interface Pending {
  table: TableName;
  row: Row;
}

const roundOptional = (v: number | undefined, digits: number) => (v === undefined ? undefined : round(v, digits));

const speedColumns = (speed: Crossing['speed']) => (speed ? { speed: roundOptional(speed.value, 2), unit: speed.unit, error_estimate: roundOptional(speed.errorEstimate, 2) } : {});

export function crossingRow(c: Crossing & Stamped): Pending {
  return {
    table: 'crossings',
    row: {
      time: c.timestamp,
      pts: roundOptional(c.pts, 3),
      line: c.line,
      direction: c.direction,
      track_id: c.trackId,
      class_name: c.className,
      ...speedColumns(c.speed),
      evidence: c.evidence,
      event_id: c.eventId,
    },
  };
}

export function zoneEventRow(e: ZoneEvent & Stamped): Pending {
  return {
    table: 'zone_events',
    row: {
      time: e.timestamp,
      pts: roundOptional(e.pts, 3),
      zone: e.zone,
      event: e.event,
      track_id: e.trackId,
      class_name: e.className,
      dwell_s: roundOptional(e.dwell, 1),
      ...speedColumns(e.speed),
      evidence: e.evidence,
      event_id: e.eventId,
    },
  };
}

/** One row per line, direction and class, and one for all classes of a direction (class `*`); one per zone. */
export function statsRows(s: StatsPayload): Pending[] {
  const rows: Pending[] = [];
  const common = { start: s.start, end: s.end, unit: s.unit, event_id: s.event_id };
  for (const [line, byDirection] of Object.entries(s.lines)) {
    for (const [direction, { classes, ...all }] of Object.entries(byDirection)) {
      for (const [className, group] of [['*', all] as const, ...Object.entries(classes)]) {
        rows.push({ table: 'line_stats', row: { ...common, speed_bin: s.speed_bin, line, direction, class_name: className, ...group } });
      }
    }
  }
  for (const [zone, z] of Object.entries(s.zones)) rows.push({ table: 'zone_stats', row: { ...common, zone, ...z } });
  return rows;
}

type Shapes = Pick<ResolvedShapes, 'lines' | 'zones' | 'masks' | 'calibration'>;

/**
 * What a Save changed, a row per shape: each line, zone and mask drawn, moved or deleted,
 * and the calibration, with its points as in the env settings. The history then says
 * from when a line counted where it counts.
 */
export function shapeChangeRows(before: Shapes, after: Shapes, time: string): Pending[] {
  const text = (ps: readonly (readonly number[])[]) => ps.map((p) => p.join(',')).join(';');
  const rows: Pending[] = [];
  const compare = <T extends { name: string }>(kind: string, old: T[], now: T[], points: (s: T) => string) => {
    for (const s of now) {
      const was = old.find((o) => o.name === s.name);
      if (!was || JSON.stringify(was) !== JSON.stringify(s))
        rows.push({ table: 'shape_changes', row: { time, kind, name: s.name, change: was ? 'moved' : 'drawn', points: points(s) } });
    }
    for (const s of old) if (!now.some((n) => n.name === s.name)) rows.push({ table: 'shape_changes', row: { time, kind, name: s.name, change: 'deleted', points: null } });
  };
  compare('line', before.lines, after.lines, (l) => `${text([l.a, l.b])} (${l.directions.join(',')})`);
  compare('zone', before.zones, after.zones, (z) => text(z.points));
  compare('mask', before.masks, after.masks, (m) => `${m.classes.length ? `${m.classes.join('+')}@` : ''}${text(m.points)}`);
  const calibration = (c: Shapes['calibration']) =>
    c.imagePoints && c.worldPoints ? `${text(c.imagePoints)}|${text(c.worldPoints)}` : c.metersPerPixel !== undefined ? `${c.metersPerPixel} m/px` : undefined;
  const [was, now] = [calibration(before.calibration), calibration(after.calibration)];
  if (was !== now)
    rows.push({
      table: 'shape_changes',
      row: { time, kind: 'calibration', name: 'calibration', change: now === undefined ? 'deleted' : was === undefined ? 'drawn' : 'moved', points: now ?? null },
    });
  return rows;
}
