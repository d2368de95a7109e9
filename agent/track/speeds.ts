// Each track's ground positions and the speed reports made from them: live ones at
// most every publish interval, a final one when the track ends. A position is the box's
// bottom-centre on the calibrated ground plane, kept only where that point is the
// object's own: not at the frame edge, not while something hides part of the box.
import { sameGroup } from './classes.js';
import type { GroundMapping, Point } from './homography.js';
import { estimateVelocity, SPEED_UNITS, type Sample, type SpeedUnit, type VelocityEstimate } from './speed.js';
import type { Track, TrackerDetection } from './tracker.js';

/**
 * Boxes this close to the frame edge (a fraction of the frame size, plus 2 px) may be
 * cut off, so their bottom-centre is not the object's. A detector's box for a truncated
 * object stops a few pixels short of the edge (CenterNet's output stride is 4 input
 * pixels, 10 source pixels on a 1280-wide frame), so the margin is relative.
 */
const EDGE_MARGIN = 0.01;
/** Samples kept per track for the final summary (memory stays bounded on a long track). */
const MAX_SAMPLES = 3000;
/**
 * A box whose aspect ratio is this far (a fraction) from the median of the track's last
 * ASPECT_HISTORY whole boxes is cut off: another object hides part of it, so its
 * bottom-centre has moved on the object. Distance and perspective scale a box's width and
 * height together; a cover that hides one side changes one of them. A shape that stays
 * changed for ASPECT_HISTORY boxes in a row is the object's own (it turned).
 */
const ASPECT_TOLERANCE = 0.15;
const ASPECT_HISTORY = 5;

export interface SpeedReport {
  trackId: number;
  className: string;
  /** In `unit`. */
  speed: number;
  unit: string;
  directionDeg: number;
  /** One standard error of `speed`, in `unit`. */
  errorEstimate: number;
  samples: number;
  pts: number;
  final: boolean;
}

/** Aspect ratios (width ÷ height) of a track's last whole boxes, and of the cut-off ones since. */
export interface Shape {
  whole: number[];
  cut: number[];
}

interface SpeedState {
  samples: Sample[];
  shape: Shape;
  lastPublished: number;
}

export interface SpeedOptions {
  unit: SpeedUnit;
  /** Seconds of history in each speed fit. */
  window: number;
  minAge: number;
  minSamples: number;
  publishInterval: number;
}

/** The ground position of a box's anchor (bottom-centre), or undefined when the box touches the frame edge (the object may be cut off) or lies above the horizon. */
export function groundAnchor(mapping: GroundMapping, box: readonly number[], sourceWidth: number, sourceHeight: number): Point | undefined {
  const [x1, y1, x2, y2] = box as [number, number, number, number];
  const mx = EDGE_MARGIN * sourceWidth + 2;
  const my = EDGE_MARGIN * sourceHeight + 2;
  if (x1 <= mx || y1 <= my || x2 >= sourceWidth - mx || y2 >= sourceHeight - my) return undefined;
  const ground = mapping.toGround([(x1 + x2) / 2, y2]);
  return Number.isFinite(ground[0]) && Number.isFinite(ground[1]) ? ground : undefined;
}

/** Whether a box's shape says part of its object is hidden (ASPECT_TOLERANCE); updates the track's shape. */
export function partlyHidden(shape: Shape, box: readonly number[]): boolean {
  const aspect = (box[2]! - box[0]!) / Math.max(1e-6, box[3]! - box[1]!);
  const sorted = [...shape.whole].sort((a, b) => a - b);
  if (sorted.length < 3 || Math.abs(aspect / sorted[sorted.length >> 1]! - 1) <= ASPECT_TOLERANCE) {
    shape.whole.push(aspect);
    if (shape.whole.length > ASPECT_HISTORY) shape.whole.shift();
    shape.cut.length = 0;
    return false;
  }
  shape.cut.push(aspect);
  if (shape.cut.length >= ASPECT_HISTORY) shape.whole = shape.cut.splice(0);
  return true;
}

export class TrackSpeeds {
  private readonly states = new Map<number, SpeedState>();

  constructor(
    private readonly options: SpeedOptions,
    public mapping: GroundMapping | undefined,
  ) {}

  get size(): number {
    return this.states.size;
  }

  /**
   * A detection of a track: its ground position joins the track's samples. A box of
   * another kind of object than the track's (a person on a car's track) is on something
   * else, and gives none; a car's track seen for a frame as a truck (a van) keeps its own.
   */
  add(track: Track, d: TrackerDetection, pts: number, sourceWidth: number, sourceHeight: number): void {
    if (!this.mapping || !sameGroup(d.className, track.className)) return;
    let state = this.states.get(track.trackId);
    if (!state) this.states.set(track.trackId, (state = { samples: [], shape: { whole: [], cut: [] }, lastPublished: -Infinity }));
    const ground = groundAnchor(this.mapping, d.box, sourceWidth, sourceHeight);
    if (!ground || partlyHidden(state.shape, d.box)) return;
    state.samples.push({ pts, ground });
    if (state.samples.length > MAX_SAMPLES) state.samples.shift();
  }

  /** The track's velocity over the last `window` seconds to `pts`, in metres per second, once there are `minSamples` positions. */
  recent(trackId: number, pts: number, minSamples = this.options.minSamples): VelocityEstimate | undefined {
    const samples = this.states.get(trackId)?.samples.filter((s) => s.pts >= pts - this.options.window - 1e-6) ?? [];
    return samples.length >= minSamples ? estimateVelocity(samples) : undefined;
  }

  /** A live report of the track as `className`, when one is due. */
  live(track: Track, className: string, pts: number): SpeedReport | undefined {
    const state = this.states.get(track.trackId);
    const { minAge, publishInterval } = this.options;
    if (!state || track.age < minAge || pts - state.lastPublished < publishInterval - 1e-6) return undefined;
    const v = this.recent(track.trackId, pts);
    if (!v) return undefined;
    state.lastPublished = pts;
    return this.report(track, className, v, pts, false);
  }

  /** The final report of an ended track, over its whole path; its samples are dropped. */
  final(track: Track, className: string): SpeedReport | undefined {
    const state = this.states.get(track.trackId);
    this.states.delete(track.trackId);
    if (!state || track.age < this.options.minAge || state.samples.length < this.options.minSamples) return undefined;
    const v = estimateVelocity(state.samples);
    return v && this.report(track, className, v, track.lastPts, true);
  }

  /** Keeps the samples of these tracks only. */
  keep(trackIds: Set<number>): void {
    for (const id of this.states.keys()) if (!trackIds.has(id)) this.states.delete(id);
  }

  clear(): void {
    this.states.clear();
  }

  private report(track: Track, className: string, v: VelocityEstimate, pts: number, final: boolean): SpeedReport {
    const unit = SPEED_UNITS[this.options.unit];
    return {
      trackId: track.trackId,
      className,
      speed: v.speed * unit.perMps,
      unit: unit.label,
      directionDeg: v.directionDeg,
      errorEstimate: v.error * unit.perMps,
      samples: v.samples,
      pts,
      final,
    };
  }
}
