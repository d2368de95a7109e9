// YOLOv5/YOLOv7 [1, N, 5+C]: cx, cy, w, h, objectness, C class scores, in input pixels.
import { first, num, type Candidate, type Decoder } from './types.js';

export const yolov5: Decoder = {
  matches: (outputs) => {
    const d = first(outputs).dims;
    return outputs.size === 1 && d.length === 3 && d[2]! > 5 && d[2]! !== 6 && d[1]! > d[2]!;
  },
  decode(outputs, ctx) {
    const t = first(outputs);
    const [, rows, cols] = t.dims as [number, number, number];
    const out: Candidate[] = [];
    for (let i = 0; i < rows; i++) {
      const o = i * cols;
      const objectness = num(t.data[o + 4]);
      if (objectness < ctx.scoreThreshold) continue;
      let best = 0;
      let bestScore = -Infinity;
      for (let c = 5; c < cols; c++) {
        const s = num(t.data[o + c]);
        if (s > bestScore) [best, bestScore] = [c - 5, s];
      }
      const score = objectness * bestScore;
      if (score < ctx.scoreThreshold) continue;
      const [cx, cy, w, h] = [num(t.data[o]), num(t.data[o + 1]), num(t.data[o + 2]), num(t.data[o + 3])];
      out.push({ classId: best, score, box: [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2] });
    }
    return out;
  },
};
