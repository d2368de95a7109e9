// YOLOv8 / YOLO11 [1, 4+C, N]: rows cx, cy, w, h, then C class scores; columns are anchors.
import { first, num, type Candidate, type Decoder } from './types.js';

export const yolov8: Decoder = {
  matches: (outputs) => {
    const d = first(outputs).dims;
    return d.length === 3 && d[1]! > 4 && d[1]! < d[2]!;
  },
  decode(outputs, ctx) {
    const t = first(outputs);
    const [, rows, n] = t.dims as [number, number, number];
    const out: Candidate[] = [];
    for (let a = 0; a < n; a++) {
      let best = 0;
      let bestScore = -Infinity;
      for (let c = 4; c < rows; c++) {
        const s = num(t.data[c * n + a]);
        if (s > bestScore) [best, bestScore] = [c - 4, s];
      }
      if (bestScore < ctx.scoreThreshold) continue;
      const [cx, cy, w, h] = [num(t.data[a]), num(t.data[n + a]), num(t.data[2 * n + a]), num(t.data[3 * n + a])];
      out.push({ classId: best, score: bestScore, box: [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2] });
    }
    return out;
  },
};
