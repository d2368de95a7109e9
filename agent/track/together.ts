// Two tracks, one object: a rider and its two-wheeler, a box on part of an object and the
// object's own box. Each object is counted and reported once.
//
// Parts: a detector sometimes boxes part of an object as well as the whole (a car's
// roof as a second car, a walker's feet as skis). A track whose box lies inside a
// moving track's box and moves with it for TOGETHER_FRAMES frames in a row is part of
// that object: the whole reports it, the part nothing.
//
// Riders: a person on a bicycle or a motorcycle is one object with it, reported as the
// two-wheeler. A detector sees a cyclist as two boxes (the person
// above, the bicycle below) and a fast motorcyclist often as the person alone, so:
//   - a person whose box sits on a two-wheeler's and moves with it for RIDING_FRAMES
//     frames in a row rides it: the two-wheeler's track reports the object, the
//     person's reports nothing;
//   - with a calibration, a person faster than any walker (RIDER_SPEED) is a rider on
//     its own: reported as a motorcycle above MOTORCYCLE_SPEED, else as a bicycle.
// A pedestrian crossing in front of a cyclist overlaps its box for a frame or two but
// moves another way, so stays a pedestrian. A person beside a parked bicycle is not on a
// moving one. While a track might still turn out to be a part or a rider it waits (its
// positions are held, replayed if it turns out to be its own object). Once a part or a
// rider, a track stays one.
import { RIDER, TWO_WHEELERS } from './classes.js';
import type { VelocityEstimate } from './speed.js';
import type { Track } from './track.js';

export interface TogetherOptions {
  /** Metres per second above which a person is a rider (0: never by speed alone). */
  speed: number;
  /** Whether speeds can be measured (a calibration is set). */
  calibrated: boolean;
}

/** Frames in a row a box must ride a two-wheeler's, or lie inside another's, before the two are one object. */
const TOGETHER_FRAMES = 3;
/** The share of the person's box that lies inside the two-wheeler's, at least. */
const RIDING_OVERLAP = 0.2;
/** The share of a part's box that lies inside the whole's, at least. */
const INSIDE = 0.8;
/** The two may differ in velocity by this much, and the one carrying the other moves at least as fast: its box heights per second. */
const SAME_MOTION = 0.5;
/** A rider by speed alone faster than this (m/s, 40 km/h) is on a motorcycle. */
const MOTORCYCLE_SPEED = 40 / 3.6;
/** Seconds a person's track waits for the positions that give its speed before it is reported as a walker. */
const SPEED_WAIT = 1;

interface State {
  /** Frames in a row on the same other track. */
  together: number;
  on?: number;
  /** The two-wheeler it rides (its class), once it is a rider. */
  className?: string;
  /** The track that reports it: the two-wheeler it rides, or the whole it is part of. */
  carrier?: number;
}

const area = (b: readonly number[]) => Math.max(0, b[2]! - b[0]!) * Math.max(0, b[3]! - b[1]!);
const overlap = (p: readonly number[], w: readonly number[]) =>
  Math.max(0, Math.min(p[2]!, w[2]!) - Math.max(p[0]!, w[0]!)) * Math.max(0, Math.min(p[3]!, w[3]!) - Math.max(p[1]!, w[1]!));

/** Whether box `p` (a person) sits on box `w` (a two-wheeler): much of it inside, its bottom within the two-wheeler's height. */
function sitsOn(p: readonly number[], w: readonly number[]): boolean {
  const cx = (p[0]! + p[2]!) / 2;
  return overlap(p, w) >= RIDING_OVERLAP * area(p) && cx >= w[0]! && cx <= w[2]! && p[3]! >= w[1]! && p[3]! <= w[3]! + 0.25 * (w[3]! - w[1]!);
}

/** Whether box `p` lies inside the larger box `w`. */
const inside = (p: readonly number[], w: readonly number[]) => area(p) < area(w) && overlap(p, w) >= INSIDE * area(p);

/** Whether track `p` moves with track `w` and `w` moves: velocities within SAME_MOTION of the larger box's height per second, `w` at least that fast. */
function movesWith(p: Track, w: Track): boolean {
  const h = Math.max(p.lastDetection.box[3] - p.lastDetection.box[1], w.lastDetection.box[3] - w.lastDetection.box[1]);
  const [vx, vy] = [w.filter.x[4]!, w.filter.x[5]!];
  return Math.hypot(vx, vy) >= SAME_MOTION * h && Math.hypot(p.filter.x[4]! - vx, p.filter.x[5]! - vy) <= SAME_MOTION * h;
}

export class Together {
  private readonly states = new Map<number, State>();

  constructor(private readonly options: TogetherOptions) {}

  /**
   * After each frame: which of the people seen ride. `speedOf` gives a track's recent
   * velocity (metres per second, with its standard error), when it has the positions for one.
   */
  update(live: readonly Track[], pts: number, speedOf: (t: Track) => Pick<VelocityEstimate, 'speed' | 'error'> | undefined): void {
    const seen = live.filter((t) => t.lastPts === pts);
    for (const p of seen) {
      let s = this.states.get(p.trackId);
      if (!s) this.states.set(p.trackId, (s = { together: 0 }));
      if (s.carrier !== undefined) continue;
      const box = p.lastDetection.box;
      const rider = p.className === RIDER;
      const w = seen.find((t) => t !== p && (rider && TWO_WHEELERS.includes(t.className) ? sitsOn(box, t.lastDetection.box) : inside(box, t.lastDetection.box)) && movesWith(p, t));
      s.together = w && w.trackId === s.on ? s.together + 1 : w ? 1 : 0;
      s.on = w?.trackId;
      if (w && s.together >= TOGETHER_FRAMES) {
        s.carrier = w.trackId;
        if (rider && TWO_WHEELERS.includes(w.className)) s.className = w.className;
        continue;
      }
      // On another's box it waits to see whether it rides it; alone, its speed may tell.
      const v = !w && !s.className && rider && this.options.speed > 0 ? speedOf(p) : undefined;
      // Faster than a walker beyond doubt: two standard errors above RIDER_SPEED, so a runner's noisy first positions never make a rider.
      if (v && v.speed - 2 * v.error >= this.options.speed) s.className = v.speed >= MOTORCYCLE_SPEED ? 'motorcycle' : 'bicycle';
    }
    if (this.states.size > live.length) {
      const ids = new Set(live.map((t) => t.trackId));
      for (const id of this.states.keys()) if (!ids.has(id)) this.states.delete(id);
    }
  }

  /** The class a track is reported as: a rider's two-wheeler, else its own. */
  classOf(t: Track): string {
    return this.states.get(t.trackId)?.className ?? t.className;
  }

  /**
   * Whether a track reports nothing now: a part or a rider while the track that carries
   * it lives (that one reports the object), or one that may still turn out to be either
   * (inside or on another's box, or a person whose speed is not measured yet).
   */
  waiting(t: Track, live: readonly Track[], pts: number, hasSpeed: () => boolean): boolean {
    const s = this.states.get(t.trackId);
    if (!s) return false;
    if (s.carrier !== undefined) return live.some((o) => o.trackId === s.carrier);
    if (s.className) return false;
    if (s.together > 0) return true;
    return t.className === RIDER && this.options.speed > 0 && this.options.calibrated && pts - t.firstPts < SPEED_WAIT && !hasSpeed();
  }

  /** Whether a track was carried by another: its held positions are that track's, never to be replayed as its own. */
  carried(t: Track): boolean {
    return this.states.get(t.trackId)?.carrier !== undefined;
  }
}
