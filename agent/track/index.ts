// Track stage: detections in, track ids and speed reports out. Speeds need a
// ground-plane calibration; without one, objects are still tracked.
import type { Logger } from '../log.js';
import type { Config } from '../config/index.js';
import { homographyFromPoints, scaleMapping, type GroundMapping, type Point } from './homography.js';
import type { Box } from './kalman.js';
import { Together } from './together.js';
import type { SpeedUnit } from './speed.js';
import { TrackSpeeds, type SpeedReport } from './speeds.js';
import { Tracker, type IdentityOptions, type Track, type TrackerDetection } from './tracker.js';
import { isReal, type StillScores } from './truth.js';

export type { GroundMapping, Point } from './homography.js';
export { CalibrationError, homographyFromPoints, parsePoints, scaleMapping } from './homography.js';
export { SPEED_UNITS, estimateVelocity, type Sample, type SpeedUnit } from './speed.js';
export { groundAnchor, partlyHidden, type Shape, type SpeedReport } from './speeds.js';

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
  /** Classes reported (empty: all), after riders are told apart (CLASSES). */
  classes?: string[];
  /** Metres per second above which a person is a rider (together.ts; 0: never by speed alone). */
  riderSpeed?: number;
  speedClasses: string[];
  unit: SpeedUnit;
  /** Seconds of history in each speed fit. */
  window: number;
  minAge: number;
  minSamples: number;
  publishInterval: number;
  log: Logger;
}

export interface FrameInput<D extends TrackerDetection> {
  pts: number;
  sourceWidth: number;
  sourceHeight: number;
  detections: D[];
}

/** Where a track was while it was not reported (being confirmed, or a weak detection): counting lines and zones replay these, in order, once. */
export interface HeldPosition {
  trackId: number;
  className: string;
  pts: number;
  box: Box;
}

export interface TrackOutput<D> {
  /** Reported detections (score ≥ threshold, track confirmed), each with its track id. */
  detections: (D & { trackId: number; trackConfirmed: boolean })[];
  speeds: SpeedReport[];
  /** The positions the tracks reported at this frame had since they were last reported (or before their first report), oldest first. */
  replay: HeldPosition[];
}

/** Positions held per track between its reports (or before its first): at most this many frames' worth (a slow, weak object). */
const HELD = 60;

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
    classes: config.CLASSES,
    riderSpeed: config.RIDER_SPEED / 3.6,
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

export function groundMapping(c: Calibration): GroundMapping | undefined {
  if (c.imagePoints && c.worldPoints) return homographyFromPoints(c.imagePoints, c.worldPoints);
  if (c.metersPerPixel) return scaleMapping(c.metersPerPixel);
  return undefined;
}

export class TrackStage {
  private readonly tracker: Tracker;
  private readonly speeds: TrackSpeeds;
  private readonly together: Together;
  private readonly speedClasses: Set<string>;
  /** Tracks that have been reportable (real, their own object, of a class wanted): their speeds are reported. */
  private readonly reported = new Set<number>();
  /** Positions of tracks since they were last reported (or before their first report), for the replay at their next report. */
  private readonly held = new Map<number, HeldPosition[]>();
  private readonly options: TrackStageOptions;

  constructor(options: TrackStageOptions) {
    this.options = { ...options };
    const mapping = groundMapping(options.calibration);
    this.speeds = new TrackSpeeds(options, mapping);
    this.together = new Together({ speed: options.riderSpeed ?? 0, calibrated: Boolean(mapping) });
    this.tracker = new Tracker({
      highScore: options.scoreThreshold,
      lowScore: options.lowScore,
      lostSeconds: options.lostSeconds,
      confirm: options.confirm,
      identity: options.identity,
    });
    this.speedClasses = new Set(options.speedClasses);
  }

  get mapping(): GroundMapping | undefined {
    return this.speeds.mapping;
  }

  start(): void {
    this.options.log.info(
      { calibrated: Boolean(this.mapping), unit: this.options.unit },
      this.mapping ? 'tracking with speed estimation' : 'tracking; no calibration, so no speeds',
    );
  }

  update<D extends TrackerDetection>(frame: FrameInput<D>): TrackOutput<D> {
    const { pts } = frame;
    const { assignment, ended } = this.tracker.update(frame.detections, pts);
    const live = this.tracker.live;
    frame.detections.forEach((d, i) => assignment[i] && this.speeds.add(assignment[i], d, pts, frame.sourceWidth, frame.sourceHeight));
    this.together.update(live, pts, (t) => this.speeds.recent(t.trackId, pts));
    const detections: (D & { trackId: number; trackConfirmed: boolean })[] = [];
    const replay: HeldPosition[] = [];
    frame.detections.forEach((d, i) => {
      const track = assignment[i];
      if (!track) return;
      if (!track.real && track.status === 'confirmed') track.real = isReal(track, this.options.stillScores);
      // The class it is reported as: its score-weighted vote, or a rider's two-wheeler. One object, one class.
      const className = this.together.classOf(track);
      // The speed fit only for a person who may be a rider by speed: not for every track on every frame.
      const waiting = this.together.waiting(track, live, pts, () => Boolean(this.speeds.recent(track.trackId, pts)));
      // Only real tracks are reported: a detection seen once is not an object yet, nor a stone that never moves.
      const reportable = track.real && !waiting && this.wanted(className);
      // Its speeds are reported from now on, whatever this detection's score.
      if (reportable) this.reported.add(track.trackId);
      if (!reportable || d.score < (this.options.scoreThresholds?.[className] ?? this.options.scoreThreshold)) {
        // Its path goes on: held until its next report, unless it was reported and now is not its own object (a rider, a part).
        if (reportable || !this.reported.has(track.trackId)) this.hold(track, className, d.box, pts);
        return;
      }
      // Reported now: the positions held since it was last (or while it was being confirmed) go first, so a crossing made
      // meanwhile counts, at its time. A part's or a rider's were its carrier's.
      if (!this.together.carried(track)) replay.push(...(this.held.get(track.trackId) ?? []).map((h) => ({ ...h, className })));
      this.held.delete(track.trackId);
      detections.push({ ...d, className, classId: track.classIdOf(className) ?? d.classId, trackId: track.trackId, trackConfirmed: true });
    });
    const speeds: SpeedReport[] = [];
    for (const track of live) {
      if (track.lastPts !== pts || !this.reported.has(track.trackId) || !this.speedy(track)) continue;
      const report = this.speeds.live(track, this.together.classOf(track), pts);
      if (report) speeds.push(report);
    }
    speeds.push(...this.end(ended));
    // Tentative tracks that never confirmed vanish without an end: their state goes too.
    if (this.speeds.size > live.length || this.held.size > live.length || this.reported.size > live.length) {
      const ids = new Set(live.map((t) => t.trackId));
      this.speeds.keep(ids);
      for (const id of this.held.keys()) if (!ids.has(id)) this.held.delete(id);
      for (const id of this.reported) if (!ids.has(id)) this.reported.delete(id);
    }
    replay.sort((a, b) => a.pts - b.pts);
    return { detections, speeds, replay };
  }

  /** Ends every track; returns their final reports. */
  flush(): SpeedReport[] {
    return this.end(this.tracker.flush());
  }

  /** Changes the reporting threshold at run time (remote command). */
  setScoreThreshold(threshold: number): void {
    this.options.scoreThreshold = threshold;
    this.tracker.setHighScore(threshold);
  }

  /** Changes the classes reported at run time (remote command). */
  setClasses(classes: string[]): void {
    this.options.classes = classes;
  }

  /** A new calibration (a Save while running): positions measured with the old one are dropped. */
  setCalibration(calibration: Calibration): void {
    this.speeds.mapping = groundMapping(calibration);
    this.speeds.clear();
  }

  private end(ended: readonly Track[]): SpeedReport[] {
    const out: SpeedReport[] = [];
    for (const track of ended) {
      const reported = this.reported.delete(track.trackId);
      this.held.delete(track.trackId);
      const report = reported && this.speedy(track) ? this.speeds.final(track, this.together.classOf(track)) : undefined;
      if (report) out.push(report);
    }
    return out;
  }

  private hold(track: Track, className: string, box: Box, pts: number): void {
    let held = this.held.get(track.trackId);
    if (!held) this.held.set(track.trackId, (held = []));
    held.push({ trackId: track.trackId, className, pts, box });
    if (held.length > HELD) held.shift();
  }

  private wanted(className: string): boolean {
    const classes = this.options.classes;
    return !classes?.length || classes.includes(className);
  }

  private speedy(track: Track): boolean {
    return Boolean(this.mapping) && (this.speedClasses.size === 0 || this.speedClasses.has(this.together.classOf(track)));
  }
}
