// OpenVINO / Open Model Zoo DetectionOutput [1, 1, N, 7]: image_id, label, conf,
// x_min, y_min, x_max, y_max normalised 0..1; an image_id of -1 ends the list.
import { first, num, type Candidate, type Decoder } from './types.js';

export const openvinoDetectionOutput: Decoder = {
  matches: (outputs) => {
    const d = first(outputs).dims;
    return outputs.size === 1 && d.length === 4 && d[3] === 7;
  },
  decode(outputs, ctx) {
    const t = first(outputs);
    const n = t.dims[2]!;
    const out: Candidate[] = [];
    for (let i = 0; i < n; i++) {
      const o = i * 7;
      if (num(t.data[o]) < 0) break;
      const score = num(t.data[o + 2]);
      if (score < ctx.scoreThreshold) continue;
      out.push({
        classId: Math.round(num(t.data[o + 1])),
        score,
        box: [num(t.data[o + 3]) * ctx.inputWidth, num(t.data[o + 4]) * ctx.inputHeight, num(t.data[o + 5]) * ctx.inputWidth, num(t.data[o + 6]) * ctx.inputHeight],
      });
    }
    return out;
  },
};
