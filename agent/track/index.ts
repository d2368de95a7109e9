// Track stage: detections in, track ids and speed reports out. Speeds need a
// ground-plane calibration; without one, objects are still tracked.
import type { Logger } from '../log.js';
import type { Config } from '../config/index.js';
import { homographyFromPoints, scaleMapping, type GroundMapping, type Point } from './homography.js';
import { estimateVelocity, SPEED_UNITS, type Sample, type SpeedUnit } from './speed.js';
import { Tracker, type IdentityOptions, type Track, type TrackerDetection } from './tracker.js';
import { isReal, type StillScores } from './truth.js';

export type { GroundMapping, Point } from './homography.js';
export { CalibrationError, homographyFromPoints, parsePoints, scaleMapping } from './homography.js';
export { SPEED_UNITS, estimateVelocity, type Sample, type SpeedUnit } from './speed.js';

export interface Calibration {
  imagePoints?: Point[];
  worldPoints?: Point[];
  metersPerPixel?: number;
}

export interface TrackStageOptions {
  calibration: Calibration;
  /** Detections at or above this score are reported; below it (down to lowScore) they only continue tracks. */
  scoreThreshold: number;
  /** Per-class reporting thresholds, beside scoreThreshold. */
  scoreThresholds?: Record<string, number>;
  /** A track is reported once detected in `hits` of its first `window` frames. */
  confirm?: { hits: number; window: number };
  lowScore: number;
  lostSeconds: number;
  /** The median score a track that has not moved needs before it is reported (track-level truth). */
  stillScores?: StillScores;
  identity?: Partial<IdentityOptions>;
  speedClasses: string[];
  unit: SpeedUnit;
  /** Seconds of history in each speed fit. */
  window: number;
  minAge: number;
  minSamples: number;
  publishInterval: number;
  log: Logger;
}

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

export interface FrameInput<D extends TrackerDetection> {
  pts: number;
  sourceWidth: number;
  sourceHeight: number;
  detections: D[];
}

export interface TrackOutput<D> {
  /** Reported detections (score ≥ threshold, track confirmed), each with its track id. */
  detections: (D & { trackId: number; trackConfirmed: boolean })[];
  speeds: SpeedReport[];
}

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

/** Aspect ratios (width ÷ height) of a track's last whole boxes, and of the cut-off ones since. */
export interface Shape {
  whole: number[];
  cut: number[];
}

interface SpeedState {
  samples: Sample[];
  shape: Shape;
  lastPublished: number;
  reported: boolean;
}

/** The track stage's options from the config. */
export function trackOptions(config: Config, log: Logger): TrackStageOptions {
  return {
    calibration: calibrationOf(config),
    scoreThreshold: config.SCORE_THRESHOLD,
    scoreThresholds: config.ANALYTICS.scoreThresholds,
    confirm: config.ANALYTICS.confirm,
    lowScore: config.TRACK_LOW_SCORE,
    lostSeconds: config.TRACK_LOST_SECONDS,
    stillScores: config.ANALYTICS.stillScores,
    identity: { appearanceWeight: config.TRACK_APPEARANCE_WEIGHT, relink: config.TRACK_RELINK },
    speedClasses: config.SPEED_CLASSES,
    unit: config.SPEED_UNIT,
    window: config.SPEED_WINDOW,
    minAge: config.SPEED_MIN_AGE,
    minSamples: config.SPEED_MIN_SAMPLES,
    publishInterval: config.SPEED_PUBLISH_INTERVAL,
    log,
  };
}

export function calibrationOf(config: Config): Calibration {
  return { imagePoints: config.CALIBRATION_IMAGE_POINTS, worldPoints: config.CALIBRATION_WORLD_POINTS, metersPerPixel: config.METERS_PER_PIXEL };
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

export function groundMapping(c: Calibration): GroundMapping | undefined {
  if (c.imagePoints && c.worldPoints) return homographyFromPoints(c.imagePoints, c.worldPoints);
  if (c.metersPerPixel) return scaleMapping(c.metersPerPixel);
  return undefined;
}

export class TrackStage {
  mapping: GroundMapping | undefined;
  private readonly tracker: Tracker;
  private readonly speed = new Map<number, SpeedState>();
  private readonly speedClasses: Set<string>;

  private readonly options: TrackStageOptions;

  constructor(options: TrackStageOptions) {
    this.options = { ...options };
    this.mapping = groundMapping(options.calibration);
    this.tracker = new Tracker({
      highScore: options.scoreThreshold,
      lowScore: options.lowScore,
      lostSeconds: options.lostSeconds,
      confirm: options.confirm,
      identity: options.identity,
    });
    this.speedClasses = new Set(options.speedClasses);
  }

  start(): void {
    this.options.log.info(
      { calibrated: Boolean(this.mapping), unit: this.options.unit },
      this.mapping ? 'tracking with speed estimation' : 'tracking; no calibration, so no speeds',
    );
  }

  update<D extends TrackerDetection>(frame: FrameInput<D>): TrackOutput<D> {
    const { assignment, ended } = this.tracker.update(frame.detections, frame.pts);
    const detections: (D & { trackId: number; trackConfirmed: boolean })[] = [];
    frame.detections.forEach((d, i) => {
      const track = assignment[i];
      if (track) this.addSample(track, d, frame);
      if (track && !track.real && track.status === 'confirmed') track.real = isReal(track, this.options.stillScores);
      // Only real tracks are reported: a detection seen once is not an object yet, nor a stone that never moves.
      if (!track?.real) return;
      // The track's class (its score-weighted vote), not this frame's: one object, one class.
      const className = track.className;
      if (d.score >= (this.options.scoreThresholds?.[className] ?? this.options.scoreThreshold))
        detections.push({ ...d, className, classId: track.classIdOf(className) ?? d.classId, trackId: track.trackId, trackConfirmed: true });
    });
    const speeds: SpeedReport[] = [];
    for (const track of this.tracker.live) {
      if (track.status !== 'confirmed' || !track.real || track.lastPts !== frame.pts) continue;
      const report = this.liveReport(track, frame.pts);
      if (report) speeds.push(report);
    }
    for (const track of ended) {
      if (!track.real) continue;
      const report = this.finalReport(track);
      if (report) speeds.push(report);
    }
    // Tentative tracks that never confirmed vanish without an end: drop their samples too.
    if (this.speed.size > this.tracker.live.length) {
      const live = new Set(this.tracker.live.map((t) => t.trackId));
      for (const id of this.speed.keys()) if (!live.has(id)) this.speed.delete(id);
    }
    return { detections, speeds };
  }

  /** Ends every track; returns their final reports. */
  flush(): SpeedReport[] {
    return this.tracker.flush().flatMap((t) => (t.real && this.finalReport(t)) || []);
  }

  /** Changes the reporting threshold at run time (remote command). */
  setScoreThreshold(threshold: number): void {
    this.options.scoreThreshold = threshold;
    this.tracker.setHighScore(threshold);
  }

  /** A new calibration (a Save while running): positions measured with the old one are dropped. */
  setCalibration(calibration: Calibration): void {
    this.mapping = groundMapping(calibration);
    this.speed.clear();
  }

  private addSample(track: Track, d: TrackerDetection, frame: FrameInput<TrackerDetection>): void {
    // A box of another class than the track's is on something else, or on part of the object: no position of it goes into a speed.
    if (!this.mapping || d.className !== track.className) return;
    let state = this.speed.get(track.trackId);
    if (!state) this.speed.set(track.trackId, (state = { samples: [], shape: { whole: [], cut: [] }, lastPublished: -Infinity, reported: false }));
    const ground = groundAnchor(this.mapping, d.box, frame.sourceWidth, frame.sourceHeight);
    if (!ground || partlyHidden(state.shape, d.box)) return;
    state.samples.push({ pts: frame.pts, ground });
    if (state.samples.length > MAX_SAMPLES) state.samples.shift();
  }

  private eligible(track: Track): boolean {
    return Boolean(this.mapping) && (this.speedClasses.size === 0 || this.speedClasses.has(track.className));
  }

  private liveReport(track: Track, pts: number): SpeedReport | undefined {
    const state = this.speed.get(track.trackId);
    const { window, minAge, minSamples, publishInterval } = this.options;
    if (!state || !this.eligible(track) || track.age < minAge) return undefined;
    if (pts - state.lastPublished < publishInterval - 1e-6) return undefined;
    const recent = state.samples.filter((s) => s.pts >= pts - window - 1e-6);
    if (recent.length < minSamples) return undefined;
    const v = estimateVelocity(recent);
    if (!v) return undefined;
    state.lastPublished = pts;
    state.reported = true;
    return this.report(track, v, pts, false);
  }

  private finalReport(track: Track): SpeedReport | undefined {
    const state = this.speed.get(track.trackId);
    this.speed.delete(track.trackId);
    if (!state || !this.eligible(track) || track.age < this.options.minAge || state.samples.length < this.options.minSamples) return undefined;
    const v = estimateVelocity(state.samples);
    return v && this.report(track, v, track.lastPts, true);
  }

  private report(track: Track, v: NonNullable<ReturnType<typeof estimateVelocity>>, pts: number, final: boolean): SpeedReport {
    const unit = SPEED_UNITS[this.options.unit];
    return {
      trackId: track.trackId,
      className: track.className,
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
