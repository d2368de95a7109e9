// Greedy non-maximum suppression, class-aware or class-agnostic.
import type { Candidate } from './decoders/index.js';
import { iou } from '../frames/frame.js';

export function nms(candidates: Candidate[], iouThreshold: number, classAgnostic: boolean, maxDetections = 100): Candidate[] {
  const sorted = [...candidates].sort((a, b) => b.score - a.score);
  const kept: Candidate[] = [];
  for (const c of sorted) {
    if (kept.length >= maxDetections) break;
    if (kept.some((k) => (classAgnostic || k.classId === c.classId) && iou(k.box, c.box) > iouThreshold)) continue;
    kept.push(c);
  }
  return kept;
}
