// Which reported detections belong to a confirmed track not taken before: one event per
// object, never for a one-frame false positive. Track ids only grow, but a track is
// confirmed after some frames, which can come after a younger track's: so the ids seen
// are kept (the oldest forgotten past a bound).
import type { TrackedDetection } from '../bus.js';

const REMEMBERED = 4096;

export class NewTracks {
  private readonly seen = new Set<number>();

  /** The detections of `detections` whose track appears for the first time. */
  take(detections: readonly TrackedDetection[]): TrackedDetection[] {
    const fresh: TrackedDetection[] = [];
    for (const d of detections) {
      if (d.trackId === undefined || d.trackConfirmed === false || this.seen.has(d.trackId)) continue;
      this.seen.add(d.trackId);
      fresh.push(d);
    }
    // A Set iterates in insertion order: the first entries are the oldest ids.
    for (const id of this.seen) {
      if (this.seen.size <= REMEMBERED) break;
      this.seen.delete(id);
    }
    return fresh;
  }
}
