// Speed traps: two counting lines a known distance apart along the road, the way a
// road counter is timed by hand. An object that crosses both gets the distance over the
// time between its two crossings (each interpolated between two frames). Unlike a
// calibration of the ground plane, this holds on a road that curves or climbs, and
// needs nothing but the distance, which a lane line's dashes give.
import type { SpeedTrap } from '../config/analytics.js';
import { SPEED_UNITS, type SpeedUnit } from '../track/index.js';
import type { Crossing } from '../bus.js';

/** Seconds a track may take between a trap's two lines (farther apart in time, they are not one passage). */
const MAX_SECONDS = 60;

export type TrapSpeed = NonNullable<Crossing['speed']> & { trap: { name: string; from: string; metres: number; seconds: number } };

export class SpeedTraps {
  /** track → line → source time of its last counted crossing. */
  private readonly crossed = new Map<number, Map<string, number>>();

  constructor(
    private readonly traps: readonly SpeedTrap[],
    private readonly unit: SpeedUnit,
  ) {}

  /**
   * A counted crossing of `line` by a track at `pts`, with the frame interval around it.
   * Returns the trap's speed when it closes a trap (the track crossed the trap's other line
   * before): the distance over the time between the two crossings. Its standard error takes
   * each crossing time as known to a quarter of a frame interval.
   */
  crossing(trackId: number, line: string, pts: number, frameInterval: number): TrapSpeed | undefined {
    let lines = this.crossed.get(trackId);
    if (!lines) this.crossed.set(trackId, (lines = new Map()));
    lines.set(line, pts);
    for (const t of this.traps) {
      const other = t.first === line ? t.second : t.second === line ? t.first : undefined;
      const before = other === undefined ? undefined : lines.get(other);
      if (before === undefined || before >= pts || pts - before > MAX_SECONDS) continue;
      const seconds = pts - before;
      const mps = t.metres / seconds;
      const unit = SPEED_UNITS[this.unit];
      const error = (mps * Math.SQRT2 * (frameInterval / 4)) / seconds;
      return { value: mps * unit.perMps, unit: unit.label, errorEstimate: error * unit.perMps, samples: 2, trap: { name: t.name, from: other!, metres: t.metres, seconds } };
    }
    return undefined;
  }

  /** A track ended: its crossings are forgotten. */
  end(trackId: number): void {
    this.crossed.delete(trackId);
  }
}
