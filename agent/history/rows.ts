// The rows the history records, from the events the analytics feature publishes: the same
// values as its MQTT messages, rounded the same way.
import type { Crossing, Stamped, ZoneEvent } from '../bus.js';
import type { StatsPayload } from '../mqtt/payloads.js';
import type { Row, TableName } from './schema.js';
import { round } from '../round.js';

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
    },
  };
}

/** One row per line, direction and class, and one for all classes of a direction (class `*`); one per zone. */
export function statsRows(s: StatsPayload): Pending[] {
  const rows: Pending[] = [];
  const common = { start: s.start, end: s.end, unit: s.unit };
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
