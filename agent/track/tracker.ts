// A ByteTrack-style multi-object tracker: a Kalman filter per object, and two
// association passes per frame — confident detections against every live track,
// then the weak ones against the tracks still unmatched — with no appearance model.
// A box with no overlap with a track's prediction can still match it when its centre
// is inside the prediction's uncertainty (Mahalanobis gate), so an object that moves
// more than its own length between frames at a low DETECT_FPS keeps its track.
import { KalmanBoxFilter, toXyxy, type Box } from './kalman.js';
import { iou } from '../frames/frame.js';

export interface TrackerDetection {
  className: string;
  classId: number;
  score: number;
  box: Box;
}

export interface TrackerOptions {
  /** Detections at or above this score start and continue tracks (first pass). */
  highScore: number;
  /** Detections between this and highScore only continue tracks (second pass). */
  lowScore: number;
  /** Seconds a track is kept without a detection before it ends. */
  lostSeconds: number;
  /** A new track is confirmed once detected in `hits` of its first `window` frames (default 2 of 2); a tentative track that can no longer get there ends. */
  confirm?: { hits: number; window: number };
}

export type TrackStatus = 'tentative' | 'confirmed' | 'lost';

export class Track {
  status: TrackStatus = 'tentative';
  hits = 1;
  /** Frames since the track began, its first included. */
  frames = 1;
  readonly firstPts: number;
  lastPts: number;
  lastDetection: TrackerDetection;
  private predictedPts: number;
  private readonly votes = new Map<string, number>();

  constructor(
    readonly trackId: number,
    detection: TrackerDetection,
    pts: number,
    readonly filter = new KalmanBoxFilter(detection.box),
  ) {
    this.firstPts = this.lastPts = this.predictedPts = pts;
    this.lastDetection = detection;
    this.vote(detection);
  }

  /** The class seen most often, weighted by score: one flicker to "truck" does not rename a car. */
  get className(): string {
    let best = this.lastDetection.className;
    let bestVotes = -1;
    for (const [name, v] of this.votes) if (v > bestVotes) [best, bestVotes] = [name, v];
    return best;
  }

  get age(): number {
    return this.lastPts - this.firstPts;
  }

  /** The filter's box at the last prediction (pixels). */
  get box(): Box {
    return toXyxy(this.filter.x);
  }

  predictTo(pts: number): void {
    const dt = pts - this.predictedPts;
    if (dt > 0) this.filter.predict(dt);
    this.predictedPts = Math.max(pts, this.predictedPts);
  }

  update(detection: TrackerDetection, pts: number, confirmHits: number): void {
    this.filter.update(detection.box);
    this.lastDetection = detection;
    this.lastPts = pts;
    this.hits++;
    this.vote(detection);
    if (this.status === 'lost' || this.hits >= confirmHits) this.status = 'confirmed';
  }

  /** A tentative track that cannot reach `hits` detections within its first `window` frames any more. */
  hopeless(confirm: { hits: number; window: number }): boolean {
    return this.status === 'tentative' && this.hits + Math.max(0, confirm.window - this.frames) < confirm.hits;
  }

  private vote(d: TrackerDetection): void {
    this.votes.set(d.className, (this.votes.get(d.className) ?? 0) + d.score);
  }
}

export interface TrackerUpdate {
  /** For each input detection (same index), the track it belongs to, or undefined. */
  assignment: (Track | undefined)[];
  /** Tracks that ended at this update (confirmed ones only; tentative ones vanish). */
  ended: Track[];
}

/** Chi-square 99 % quantile, 2 degrees of freedom. */
const GATE = 9.21;

export class Tracker {
  private tracks: Track[] = [];
  private nextId = 1;

  private readonly options: TrackerOptions;

  constructor(options: TrackerOptions, firstId = 1) {
    this.options = { ...options };
    this.nextId = firstId;
  }

  setHighScore(score: number): void {
    this.options.highScore = score;
  }

  get live(): readonly Track[] {
    return this.tracks;
  }

  update(detections: TrackerDetection[], pts: number): TrackerUpdate {
    const { highScore, lowScore, lostSeconds } = this.options;
    const confirm = this.options.confirm ?? { hits: 2, window: 2 };
    const confirmHits = confirm.hits;
    for (const t of this.tracks) {
      t.predictTo(pts);
      t.frames++;
    }
    const assignment: (Track | undefined)[] = new Array(detections.length).fill(undefined);
    const high = detections.map((d, i) => i).filter((i) => detections[i]!.score >= highScore);
    const low = detections.map((d, i) => i).filter((i) => detections[i]!.score >= lowScore && detections[i]!.score < highScore);

    // Pass 1: confident detections against every track, by IoU, else by gated centre distance.
    const matched1 = this.associate(high, this.tracks, detections, (t, d) => {
      const overlap = iou(t.box, d.box);
      if (overlap > 0.1) return 1 - overlap;
      const d2 = t.filter.centerDistance2(d.box);
      return d2 <= GATE ? 1 + d2 / GATE : Infinity;
    });
    for (const [ti, di] of matched1) assignment[di] = this.tracks[ti];

    // Pass 2: weak detections only continue tracks that were live last frame, by IoU.
    const unmatchedTracks = this.tracks.filter((t, i) => !matched1.some(([ti]) => ti === i) && t.status !== 'lost');
    const matched2 = this.associate(low, unmatchedTracks, detections, (t, d) => {
      const overlap = iou(t.box, d.box);
      return overlap >= 0.5 ? 1 - overlap : Infinity;
    });
    for (const [ti, di] of matched2) assignment[di] = unmatchedTracks[ti];

    const updated = new Set<Track>();
    assignment.forEach((t, di) => {
      if (!t) return;
      t.update(detections[di]!, pts, confirmHits);
      updated.add(t);
    });

    const ended: Track[] = [];
    this.tracks = this.tracks.filter((t) => {
      if (t.hopeless(confirm)) return false;
      if (updated.has(t) || t.status === 'tentative') return true;
      t.status = 'lost';
      if (pts - t.lastPts > lostSeconds) {
        ended.push(t);
        return false;
      }
      return true;
    });

    for (const di of high) {
      if (assignment[di]) continue;
      const track = new Track(this.nextId++, detections[di]!, pts);
      if (confirm.hits <= 1) track.status = 'confirmed';
      this.tracks.push(track);
      assignment[di] = track;
    }
    return { assignment, ended };
  }

  /** Ends every track (at the end of the source or at shutdown). */
  flush(): Track[] {
    const ended = this.tracks.filter((t) => t.status !== 'tentative');
    this.tracks = [];
    return ended;
  }

  /** Greedy assignment on ascending cost: [trackIndex, detectionIndex] pairs. */
  private associate(detIdx: number[], tracks: Track[], detections: TrackerDetection[], cost: (t: Track, d: TrackerDetection) => number): [number, number][] {
    const pairs: [number, number, number][] = [];
    tracks.forEach((t, ti) => {
      for (const di of detIdx) {
        const c = cost(t, detections[di]!);
        if (Number.isFinite(c)) pairs.push([c, ti, di]);
      }
    });
    pairs.sort((a, b) => a[0] - b[0]);
    const usedT = new Set<number>();
    const usedD = new Set<number>();
    const out: [number, number][] = [];
    for (const [, ti, di] of pairs) {
      if (usedT.has(ti) || usedD.has(di)) continue;
      usedT.add(ti);
      usedD.add(di);
      out.push([ti, di]);
    }
    return out;
  }
}
