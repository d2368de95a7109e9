// Interval statistics, as traffic counts are reported: per line, direction and class the
// count, the mean, 85th-percentile (V85) and maximum speed, a speed histogram of fixed bins
// (the last one open-ended, as Telraam's) and the count over SPEED_LIMIT; per zone the peak
// and mean occupancy and the mean dwell. An interval without traffic has zero counts: the
// series has no holes.
import { randomUUID } from 'node:crypto';
import type { StatsPayload } from '../mqtt/payloads.js';
import type { Crossing, ZoneEvent } from './counter.js';
import { percentile } from '../geometry.js';
import { round } from '../round.js';

/** Bins of a speed histogram; the last holds every speed from 15 bin widths up. */
export const HISTOGRAM_BINS = 16;
/** The default bin width by speed unit: 10 km/h, 5 mph, 2 m/s. */
export const DEFAULT_SPEED_BIN = { 'km/h': 10, mph: 5, 'm/s': 2 } as Record<string, number>;

export function histogram(speeds: number[], bin: number): number[] {
  const counts = new Array<number>(HISTOGRAM_BINS).fill(0);
  for (const s of speeds) counts[Math.min(HISTOGRAM_BINS - 1, Math.max(0, Math.floor(s / bin)))]!++;
  return counts;
}

export interface StatsOptions {
  unit: string;
  /** Width of a histogram bin, in `unit`. */
  bin: number;
  /** Crossings above it are counted as `over_limit`; undefined: no limit. */
  limit?: number;
}

interface Group {
  count: number;
  speeds: number[];
}

export class IntervalStats {
  private lines = new Map<string, Map<string, Map<string, Group>>>();
  private zones = new Map<string, { samples: number; sum: number; peak: number; entered: number; dwells: number[]; speeds: number[] }>();

  constructor(
    private lineDirections: { name: string; directions: [string, string] }[],
    private zoneNames: string[],
    private readonly options: StatsOptions,
  ) {
    this.reset();
  }

  /** New lines and zones while running: the interval so far is kept for those that stay, `fresh` lines start empty. */
  reshape(lines: { name: string; directions: [string, string] }[], zoneNames: string[], fresh: string[]): void {
    const [oldLines, oldZones] = [this.lines, this.zones];
    this.lineDirections = lines;
    this.zoneNames = zoneNames;
    this.reset();
    for (const [name, groups] of oldLines) if (this.lines.has(name) && !fresh.includes(name)) this.lines.set(name, groups);
    for (const [name, zone] of oldZones) if (this.zones.has(name)) this.zones.set(name, zone);
  }

  crossing(c: Crossing): void {
    const byClass = this.lines.get(c.line)?.get(c.direction);
    if (!byClass) return;
    let g = byClass.get(c.className);
    if (!g) byClass.set(c.className, (g = { count: 0, speeds: [] }));
    g.count++;
    if (c.speed) g.speeds.push(c.speed.value);
  }

  zoneEvent(e: ZoneEvent): void {
    const z = this.zones.get(e.zone);
    if (!z) return;
    if (e.event === 'entered') z.entered++;
    else {
      if (e.dwell !== undefined) z.dwells.push(e.dwell);
      if (e.speed) z.speeds.push(e.speed.value);
    }
  }

  /** The number of objects in each zone at a processed frame. */
  occupancy(zone: string, count: number): void {
    const z = this.zones.get(zone);
    if (!z) return;
    z.samples++;
    z.sum += count;
    z.peak = Math.max(z.peak, count);
  }

  /** The statistics of the interval [start, end), and a new interval begins. */
  take(start: Date, end: Date): StatsPayload {
    const { unit, bin, limit } = this.options;
    const speedFields = (speeds: number[]) =>
      speeds.length
        ? {
            speed_mean: round(speeds.reduce((a, b) => a + b, 0) / speeds.length, 2),
            speed_p85: round(percentile(speeds, 0.85)!, 2),
            speed_max: round(Math.max(...speeds), 2),
            speed_samples: speeds.length,
            speed_histogram: histogram(speeds, bin),
            ...(limit === undefined ? {} : { over_limit: speeds.filter((s) => s > limit).length }),
          }
        : {};
    const payload: StatsPayload = {
      event_id: randomUUID(),
      start: start.toISOString(),
      end: end.toISOString(),
      interval_s: round((end.getTime() - start.getTime()) / 1000, 3),
      unit,
      speed_bin: bin,
      ...(limit === undefined ? {} : { speed_limit: limit }),
      lines: Object.fromEntries(
        [...this.lines].map(([line, byDirection]) => [
          line,
          Object.fromEntries(
            [...byDirection].map(([direction, byClass]) => {
              const all = [...byClass.values()];
              return [
                direction,
                {
                  count: all.reduce((a, g) => a + g.count, 0),
                  ...speedFields(all.flatMap((g) => g.speeds)),
                  classes: Object.fromEntries([...byClass].map(([cls, g]) => [cls, { count: g.count, ...speedFields(g.speeds) }])),
                },
              ];
            }),
          ),
        ]),
      ),
      zones: Object.fromEntries(
        [...this.zones].map(([zone, z]) => [
          zone,
          {
            occupancy_peak: z.peak,
            occupancy_mean: z.samples ? round(z.sum / z.samples, 2) : 0,
            entered: z.entered,
            ...(z.dwells.length ? { dwell_mean_s: round(z.dwells.reduce((a, b) => a + b, 0) / z.dwells.length, 1) } : {}),
            ...speedFields(z.speeds),
          },
        ]),
      ),
    };
    this.reset();
    return payload;
  }

  private reset(): void {
    this.lines = new Map(this.lineDirections.map((l) => [l.name, new Map(l.directions.map((d) => [d, new Map<string, Group>()]))]));
    this.zones = new Map(this.zoneNames.map((z) => [z, { samples: 0, sum: 0, peak: 0, entered: 0, dwells: [], speeds: [] }]));
  }
}
