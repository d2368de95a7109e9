// One tracked object: its Kalman filter, its last observations (OC-SORT's direction and
// observation-centric re-update), its running appearance, its class vote, and the
// evidence that says whether it is a real object (track-level truth).
import { KalmanBoxFilter, toXyxy, type Box } from './kalman.js';
import { blendAppearance } from '../frames/appearance.js';
import { boxCentre as centre } from '../frames/frame.js';

export interface TrackerDetection {
  className: string;
  classId: number;
  score: number;
  box: Box;
  /** Colour descriptor (frames/appearance.ts), when the detector made one. */
  appearance?: Float32Array;
}

export type TrackStatus = 'tentative' | 'confirmed' | 'lost';

/** Observations kept per track: enough for OC-SORT's direction span and a short history. */
const OBSERVATIONS = 8;
/** Scores kept for the median (Frigate keeps a similar window). */
const SCORES = 30;
/** Share of a new, fully confident observation in the running descriptor (BoT-SORT's and Deep OC-SORT's EMA, α = 0.9). */
const APPEARANCE_RATE = 0.1;
/** A detection scoring this or more counts fully towards the descriptor; weaker ones count less (Deep OC-SORT's dynamic α). */
const FULL_CONFIDENCE = 0.6;
/** Observations averaged at each end of a track's path to measure its travel, at most. */
const TRAVEL_MEAN = 3;
/** Seconds of observations averaged at each end, at most: at 1 fps each end is one observation, at 5 fps and more three. */
const TRAVEL_SPAN = 0.45;

export class Track {
  status: TrackStatus = 'tentative';
  hits = 1;
  /** Frames since the track began, its first included. */
  frames = 1;
  readonly firstPts: number;
  lastPts: number;
  lastDetection: TrackerDetection;
  /** The running colour descriptor, once the track has been seen unoccluded. */
  appearance: Float32Array | undefined;
  /** The last observed boxes with their times, oldest first. */
  readonly observations: { pts: number; box: Box }[] = [];
  /** Whether its history says it is a real object: it has moved, or scored well while still. Once true, it stays. */
  real = false;
  /**
   * How far it has got from where it was first seen, in box heights: the mean centre of its
   * last observations from that of its first, each end up to TRAVEL_MEAN observations
   * within TRAVEL_SPAN seconds (one stray box moves neither mean much); measured from the
   * first observation that is in neither end, so by time, whatever the frame rate.
   */
  travel = 0;
  /** Times of the frames processed since its last observation (OC-SORT's virtual trajectory fills them). */
  private missed: number[] = [];
  /** The filter's state after the last observation, for the re-update. */
  private readonly saved: { x: Float64Array; P: Float64Array };
  private predictedPts: number;
  private readonly votes = new Map<string, number>();
  private readonly classIds = new Map<string, number>();
  private readonly scores: number[] = [];
  /** Sum of its first observed centres and heights (the origin end), and how many. */
  private readonly origin: [number, number, number] = [0, 0, 0];
  private originCount = 0;
  private originClosed = false;

  constructor(
    readonly trackId: number,
    detection: TrackerDetection,
    pts: number,
    readonly filter = new KalmanBoxFilter(detection.box),
  ) {
    this.firstPts = this.lastPts = this.predictedPts = pts;
    this.lastDetection = detection;
    this.saved = { x: Float64Array.from(filter.x), P: Float64Array.from(filter.P) };
    this.observe(detection, pts, true);
  }

  /** The class seen most often, weighted by score: one flicker to "truck" does not rename a car. */
  get className(): string {
    let best = this.lastDetection.className;
    let bestVotes = -1;
    for (const [name, v] of this.votes) if (v > bestVotes) [best, bestVotes] = [name, v];
    return best;
  }

  /** The model's class index of a class this track was seen as. */
  classIdOf(className: string): number | undefined {
    return this.classIds.get(className);
  }

  get age(): number {
    return this.lastPts - this.firstPts;
  }

  /** The filter's box at the last prediction (pixels). */
  get box(): Box {
    return toXyxy(this.filter.x);
  }

  /** The median score of its recent detections. */
  get medianScore(): number {
    const s = [...this.scores].sort((a, b) => a - b);
    const mid = s.length >> 1;
    return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  }

  /** Seconds since it was last observed. */
  unseenFor(pts: number): number {
    return pts - this.lastPts;
  }

  predictTo(pts: number): void {
    const dt = pts - this.predictedPts;
    if (dt > 0) this.filter.predict(dt);
    this.predictedPts = Math.max(pts, this.predictedPts);
  }

  /** This frame brought it no detection. */
  miss(pts: number): void {
    this.missed.push(pts);
  }

  /**
   * A detection continues the track. After missed frames, OC-SORT's observation-centric
   * re-update: the filter goes back to its state at the last observation and is updated
   * along a straight path from there to this detection, one virtual box per missed frame,
   * so the velocity it resumes with is the one the object had, not the drift it gathered.
   */
  update(detection: TrackerDetection, pts: number, confirmHits: number, options: { describe: boolean; reUpdate: boolean }): void {
    if (this.missed.length && options.reUpdate) this.reUpdate(detection.box, pts);
    else this.filter.update(detection.box);
    this.missed = [];
    this.saved.x.set(this.filter.x);
    this.saved.P.set(this.filter.P);
    this.lastDetection = detection;
    this.lastPts = pts;
    this.hits++;
    this.observe(detection, pts, options.describe);
    if (this.status === 'lost' || this.hits >= confirmHits) this.status = 'confirmed';
  }

  /** A tentative track that cannot reach `hits` detections within its first `window` frames any more. */
  hopeless(confirm: { hits: number; window: number }): boolean {
    return this.status === 'tentative' && this.hits + Math.max(0, confirm.window - this.frames) < confirm.hits;
  }

  private reUpdate(box: Box, pts: number): void {
    const last = this.observations[this.observations.length - 1]!;
    this.filter.x.set(this.saved.x);
    this.filter.P.set(this.saved.P);
    let at = last.pts;
    const span = pts - last.pts;
    for (const t of [...this.missed, pts]) {
      if (t <= at) continue;
      this.filter.predict(t - at);
      at = t;
      const f = span > 0 ? (t - last.pts) / span : 1;
      this.filter.update(t === pts ? box : (last.box.map((v, i) => v + f * (box[i]! - v)) as Box));
    }
    this.predictedPts = pts;
  }

  private observe(d: TrackerDetection, pts: number, describe: boolean): void {
    this.votes.set(d.className, (this.votes.get(d.className) ?? 0) + d.score);
    this.classIds.set(d.className, d.classId);
    this.observations.push({ pts, box: d.box });
    if (this.observations.length > OBSERVATIONS) this.observations.shift();
    this.scores.push(d.score);
    if (this.scores.length > SCORES) this.scores.shift();
    if (!this.originClosed && this.originCount < TRAVEL_MEAN && pts - this.firstPts <= TRAVEL_SPAN + 1e-6) {
      const [cx, cy] = centre(d.box);
      this.origin[0] += cx;
      this.origin[1] += cy;
      this.origin[2] += d.box[3] - d.box[1];
      this.originCount++;
    } else {
      this.originClosed = true;
      // The other end: the last observations within TRAVEL_SPAN, never one of the origin's.
      const recent = this.observations.slice(-Math.min(TRAVEL_MEAN, this.hits - this.originCount)).filter((o) => o.pts >= pts - TRAVEL_SPAN - 1e-6);
      let x = 0;
      let y = 0;
      let h = 0;
      for (const o of recent) {
        const [cx, cy] = centre(o.box);
        x += cx;
        y += cy;
        h += o.box[3] - o.box[1];
      }
      const n = recent.length;
      const height = Math.max(1, (h / n + this.origin[2] / this.originCount) / 2);
      this.travel = Math.max(this.travel, Math.hypot(x / n - this.origin[0] / this.originCount, y / n - this.origin[1] / this.originCount) / height);
    }
    if (!describe || !d.appearance) return;
    if (!this.appearance) this.appearance = Float32Array.from(d.appearance);
    else blendAppearance(this.appearance, d.appearance, APPEARANCE_RATE * Math.min(1, d.score / FULL_CONFIDENCE));
  }
}
