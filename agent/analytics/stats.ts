// Interval statistics, as traffic counts are reported: per line, direction and class the
// count and the mean, 85th-percentile (V85) and maximum speed; per zone the peak and mean
// occupancy and the mean dwell. An interval without traffic has zero counts: the series
// has no holes.
import type { StatsPayload } from '../mqtt/payloads.js';
import type { Crossing, ZoneEvent } from './counter.js';
import { percentile } from './geometry.js';

const round = (v: number, digits: number) => Math.round(v * 10 ** digits) / 10 ** digits;

interface Group {
  count: number;
  speeds: number[];
}

export class IntervalStats {
  private lines = new Map<string, Map<string, Map<string, Group>>>();
  private zones = new Map<string, { samples: number; sum: number; peak: number; entered: number; dwells: number[]; speeds: number[] }>();

  constructor(
    private readonly lineDirections: { name: string; directions: [string, string] }[],
    private readonly zoneNames: string[],
    private readonly unit: string,
  ) {
    this.reset();
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
    const speedFields = (speeds: number[]) =>
      speeds.length
        ? {
            speed_mean: round(speeds.reduce((a, b) => a + b, 0) / speeds.length, 2),
            speed_p85: round(percentile(speeds, 0.85)!, 2),
            speed_max: round(Math.max(...speeds), 2),
            speed_samples: speeds.length,
          }
        : {};
    const payload: StatsPayload = {
      start: start.toISOString(),
      end: end.toISOString(),
      interval_s: round((end.getTime() - start.getTime()) / 1000, 3),
      unit: this.unit,
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
