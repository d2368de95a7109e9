// A multi-object tracker in the ByteTrack family: a Kalman filter per object and, per
// frame, association passes solved as minimum-cost assignments (assignment.ts):
//   1. confident detections against every live track, by motion, fused with appearance
//      (BoT-SORT, Deep OC-SORT) and OC-SORT's direction term (costs.ts);
//   2. ByteTrack's second pass: weak detections continue tracks seen last frame, by IoU;
//   3. re-linking: a confident detection that matched nothing continues a lost track
//      that looks like it, where that object could have got to since it was lost.
// A track that resumes after missed frames is re-updated along a straight path from its
// last observation (OC-SORT's observation-centric re-update, track.ts).
import { boxCentre, iou } from '../frames/frame.js';
import { assign } from './assignment.js';
import { appearanceCost, directionCost, motionCost, sizeCost } from './costs.js';
import { Track, type TrackerDetection } from './track.js';

export { Track, type TrackerDetection, type TrackStatus } from './track.js';

export interface IdentityOptions {
  /** Weight of the appearance distance in the cost (0: motion alone). */
  appearanceWeight: number;
  /** Weight of OC-SORT's direction term (0: off). */
  directionWeight: number;
  /** Lost tracks are re-linked to new detections that look like them. */
  relink: boolean;
  /** OC-SORT's observation-centric re-update after missed frames. */
  reUpdate: boolean;
  /** Weight of the size term (costs.ts; 0: off). */
  sizeWeight: number;
  /** The first pass's cost limit: a pair dearer than this is worse than a track and a detection left unmatched (assignment.ts). */
  costLimit: number;
}

/** The measured defaults (npm run measure:identity). */
export const IDENTITY_DEFAULTS: IdentityOptions = { appearanceWeight: 1, directionWeight: 0.2, relink: true, reUpdate: true, sizeWeight: 0.75, costLimit: 2 };

/** A new track is confirmed once detected in 2 of its first 3 frames: TRACK_CONFIRM's default too, so the tracker alone runs what users run. */
export const DEFAULT_CONFIRM = { hits: 2, window: 3 };

export interface TrackerOptions {
  /** Detections at or above this score start and continue tracks (first pass). */
  highScore: number;
  /** Detections between this and highScore only continue tracks (second pass). */
  lowScore: number;
  /** Seconds a track is kept without a detection before it ends. */
  lostSeconds: number;
  /** A new track is confirmed once detected in `hits` of its first `window` frames (DEFAULT_CONFIRM); a tentative track that can no longer get there ends. */
  confirm?: { hits: number; window: number };
  identity?: Partial<IdentityOptions>;
}

export interface TrackerUpdate {
  /** For each input detection (same index), the track it belongs to, or undefined. */
  assignment: (Track | undefined)[];
  /** Tracks that ended at this update (confirmed ones only; tentative ones vanish). */
  ended: Track[];
}

/** Past this colour distance, colour stops telling two objects apart (BoT-SORT's θ_emb, for colour histograms): its term stays at this value. */
export const APPEARANCE_GATE = 0.5;
/** Boxes overlapping less than this barely overlap: then colour past its gate forbids the pair (another object that happens to be near). */
const BARELY_OVERLAPPING = 0.3;
/** Seconds unseen after which a track is matched only to the detections that the others leave (pass 1's cascade). */
const LONG_LOST = 1;
/** A re-link needs colours at least this alike. */
const RELINK_GATE = 0.3;
/** The fastest a re-linked object may have moved while lost, in its own box heights per second (a runner: about 3). */
const RELINK_SPEED = 3;
/** A re-linked box's height is within this factor of the lost one's. */
const RELINK_SIZE = 1.5;
/** A detection overlapping another this much is partly hidden: its colours would mix two objects, so they do not update its track's. */
const OCCLUDED = 0.15;

export class Tracker {
  private tracks: Track[] = [];
  private nextId = 1;
  private readonly options: TrackerOptions;
  private readonly identity: IdentityOptions;

  constructor(options: TrackerOptions, firstId = 1) {
    this.options = { ...options };
    this.identity = { ...IDENTITY_DEFAULTS, ...options.identity };
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
    const confirm = this.options.confirm ?? DEFAULT_CONFIRM;
    for (const t of this.tracks) {
      t.predictTo(pts);
      t.frames++;
    }
    const assignment: (Track | undefined)[] = new Array(detections.length).fill(undefined);
    const indices = detections.map((_, i) => i);
    const high = indices.filter((i) => detections[i]!.score >= highScore);
    const low = indices.filter((i) => detections[i]!.score >= lowScore && detections[i]!.score < highScore);
    const free = (ts: Track[]) => ts.filter((t) => !assignment.includes(t));

    // Pass 1: confident detections against the tracks seen lately, then what is left against those lost for longer (a
    // cascade, as DeepSORT's): a track whose prediction has coasted on for LONG_LOST never takes a detection from one seen just now.
    const cost = (t: Track, d: TrackerDetection) => this.cost(t, d);
    const longLost = (t: Track) => t.unseenFor(pts) > LONG_LOST;
    this.match(
      high,
      this.tracks.filter((t) => !longLost(t)),
      detections,
      assignment,
      cost,
      this.identity.costLimit,
    );
    this.match(
      high.filter((i) => !assignment[i]),
      this.tracks.filter(longLost),
      detections,
      assignment,
      cost,
      this.identity.costLimit,
    );
    // Pass 2: weak detections only continue tracks that were live last frame, by IoU.
    this.match(
      low,
      free(this.tracks).filter((t) => t.status !== 'lost'),
      detections,
      assignment,
      (t, d) => {
        const overlap = iou(t.box, d.box);
        return overlap >= 0.5 ? 1 - overlap : Infinity;
      },
    );
    // Pass 3: re-linking lost tracks to confident detections that look like them.
    if (this.identity.relink)
      this.match(
        high.filter((i) => !assignment[i]),
        free(this.tracks).filter((t) => t.status === 'lost'),
        detections,
        assignment,
        (t, d) => this.relinkCost(t, d, pts),
      );

    const options = { reUpdate: this.identity.reUpdate, describe: true };
    assignment.forEach((t, di) => {
      if (!t) return;
      const d = detections[di]!;
      options.describe = !detections.some((o, oi) => oi !== di && o.score >= lowScore && iou(o.box, d.box) > OCCLUDED);
      t.update(d, pts, confirm.hits, options);
    });

    const ended: Track[] = [];
    this.tracks = this.tracks.filter((t) => {
      if (t.hopeless(confirm)) return false;
      if (t.lastPts === pts || t.status === 'tentative') return true;
      t.status = 'lost';
      t.miss(pts);
      if (t.unseenFor(pts) > lostSeconds) {
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

  /** Pass 1's cost: motion, plus appearance and direction where they can speak. */
  private cost(t: Track, d: TrackerDetection): number {
    const motion = motionCost(t, d.box);
    if (!Number.isFinite(motion)) return Infinity;
    const { appearanceWeight, directionWeight } = this.identity;
    let cost = motion;
    if (appearanceWeight > 0) {
      const a = appearanceCost(t, d.appearance);
      if (a !== undefined) {
        // Colour helps up to its gate and no further; it forbids only where the boxes barely overlap as well. Boxes that overlap
        // well stay one object through a lighting change, a camera switching to infrared, or two people whose colours mix.
        if (a > APPEARANCE_GATE && t.status !== 'tentative' && iou(t.box, d.box) < BARELY_OVERLAPPING) return Infinity;
        cost += appearanceWeight * Math.min(a, APPEARANCE_GATE);
      }
    }
    if (directionWeight > 0) cost += directionWeight * directionCost(t, d.box) * d.score;
    if (this.identity.sizeWeight > 0) cost += this.identity.sizeWeight * sizeCost(t, d.box);
    return cost;
  }

  /** Pass 3's cost: the appearance distance, for a lost track the detection could be (colour, size, reach). */
  private relinkCost(t: Track, d: TrackerDetection, pts: number): number {
    const a = appearanceCost(t, d.appearance);
    if (a === undefined || a > RELINK_GATE) return Infinity;
    const last = t.observations[t.observations.length - 1]!.box;
    const h = last[3] - last[1];
    const dh = d.box[3] - d.box[1];
    if (dh > RELINK_SIZE * h || h > RELINK_SIZE * dh) return Infinity;
    const [lx, ly] = boxCentre(last);
    const [dx, dy] = boxCentre(d.box);
    const reach = h * (0.5 + RELINK_SPEED * t.unseenFor(pts));
    return Math.hypot(dx - lx, dy - ly) <= reach ? a : Infinity;
  }

  /** Solves one pass and records its pairs in `assignment`. */
  private match(
    detIdx: number[],
    tracks: Track[],
    detections: TrackerDetection[],
    assignment: (Track | undefined)[],
    cost: (t: Track, d: TrackerDetection) => number,
    limit = Infinity,
  ): void {
    if (!detIdx.length || !tracks.length) return;
    const matrix = tracks.map((t) => detIdx.map((di) => cost(t, detections[di]!)));
    for (const [ti, j] of assign(matrix, detIdx.length, limit)) assignment[detIdx[j]!] = tracks[ti];
  }
}
