// The association costs, one small function each, combined by the tracker:
//   motion      ByteTrack's: 1 − IoU of the predicted box, or, with no overlap, the
//               centre's Mahalanobis distance inside the prediction's 99 % gate;
//   appearance  BoT-SORT's and Deep OC-SORT's: the colour descriptors' distance to the
//               track's running descriptor, fused into the cost, with a gate;
//   direction   OC-SORT's momentum term: how far the direction from the track's older
//               observation to the candidate turns away from the track's own direction;
//   size        how far the candidate's height is from the predicted box's, as a log
//               ratio: a box that spans two cars in a queue is not the front one's.
import type { Box } from './kalman.js';
import { boxCentre as centre, iou } from '../frames/frame.js';
import { appearanceDistance } from '../frames/appearance.js';
import type { Track } from './track.js';

/** Chi-square 99 % quantile, 2 degrees of freedom. */
export const GATE = 9.21;

/** Below this IoU a pair is judged by the centre's Mahalanobis distance instead. */
const MIN_OVERLAP = 0.1;

export function motionCost(track: Track, box: Box): number {
  const overlap = iou(track.box, box);
  if (overlap > MIN_OVERLAP) return 1 - overlap;
  const d2 = track.filter.centerDistance2(box);
  return d2 <= GATE ? 1 + d2 / GATE : Infinity;
}

/** The appearance distance, 0..1, or undefined when either side has no descriptor yet. */
export function appearanceCost(track: Track, descriptor: Float32Array | undefined): number | undefined {
  return track.appearance && descriptor ? appearanceDistance(track.appearance, descriptor) : undefined;
}

/** Observations this many back give the track's direction (OC-SORT's Δt = 3). */
export const DIRECTION_SPAN = 3;

/**
 * The angle, 0..1 of a half turn, between the track's direction (its observation
 * DIRECTION_SPAN back → its last) and the direction from that same older observation to
 * the candidate; 0 when either path is too short for a direction (a standing object).
 */
export function directionCost(track: Track, box: Box): number {
  const obs = track.observations;
  if (obs.length <= DIRECTION_SPAN) return 0;
  const from = obs[obs.length - 1 - DIRECTION_SPAN]!.box;
  const last = obs[obs.length - 1]!.box;
  const [fx, fy] = centre(from);
  const [lx, ly] = centre(last);
  const [cx, cy] = centre(box);
  const minLength = 0.25 * (last[3] - last[1]);
  const ax = lx - fx;
  const ay = ly - fy;
  const bx = cx - fx;
  const by = cy - fy;
  const la = Math.hypot(ax, ay);
  const lb = Math.hypot(bx, by);
  if (la < minLength || lb < minLength) return 0;
  const cos = Math.min(1, Math.max(-1, (ax * bx + ay * by) / (la * lb)));
  return Math.acos(cos) / Math.PI;
}

/** |ln(h_box / h_predicted)|: 0 for the same height, 0.69 for twice or half of it. */
export function sizeCost(track: Track, box: Box): number {
  const predicted = track.box;
  return Math.abs(Math.log(Math.max(1, box[3] - box[1]) / Math.max(1, predicted[3] - predicted[1])));
}
