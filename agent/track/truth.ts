// Track-level truth: whether a confirmed track is a real object, from its history. A
// detector's false positives on a static scene (a stone as a "person", a cone as a "fire
// hydrant") stay where they are and score low; real objects either move or score well.
// So a track that has moved half its own height from where it was first seen is real;
// one that has not is real once the median of its recent scores reaches its class's
// still score (Frigate's median rule, applied to the still ones only). Vehicles park, so
// their still score is lower than the rest's. Once real, a track stays real: a car that
// parks, or a person who stops at a door, is still reported.
import type { Track } from './track.js';

export interface StillScores {
  /** For the classes not listed. */
  default: number;
  classes: Record<string, number>;
}

/** Box heights a track's centre must travel before motion alone makes it real. */
export const REAL_TRAVEL = 0.5;

/** The defaults (docs/counting-and-speed.md, "Track-level truth"): measured with npm run measure:identity. */
export const STILL_SCORES: StillScores = { default: 0.45, classes: { car: 0.35, truck: 0.35, bus: 0.35, motorcycle: 0.35, bicycle: 0.35 } };

export function isReal(track: Track, still: StillScores = STILL_SCORES): boolean {
  if (track.travel >= REAL_TRAVEL) return true;
  return track.medianScore >= (still.classes[track.className] ?? still.default);
}
