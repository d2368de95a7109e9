// YOLOv10-style end-to-end output [1, N, 6]: x1, y1, x2, y2, score, class in input pixels (NMS-free).
import { first, num, type Candidate, type Decoder } from './types.js';

export function decodeXyxyScoreClass(data: ArrayLike<number | bigint>, rows: number, scoreThreshold: number): Candidate[] {
  const out: Candidate[] = [];
  for (let i = 0; i < rows; i++) {
    const o = i * 6;
    const score = num(data[o + 4]);
    if (!(score >= scoreThreshold)) continue;
    out.push({ classId: Math.round(num(data[o + 5])), score, box: [num(data[o]), num(data[o + 1]), num(data[o + 2]), num(data[o + 3])] });
  }
  return out;
}

export const yoloEnd2End: Decoder = {
  matches: (outputs) => outputs.size === 1 && first(outputs).dims.length === 3 && first(outputs).dims[2] === 6,
  decode(outputs, ctx) {
    const t = first(outputs);
    return decodeXyxyScoreClass(t.data, t.dims[1]!, ctx.scoreThreshold);
  },
};
