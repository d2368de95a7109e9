// CenterNet with decoding inside the graph (the bundled model): [1, N, 6] =
// x1, y1, x2, y2, score, class in input pixels. Peaks come from a 3x3 max-pool,
// not NMS, so neighbouring peaks can repeat a box: NMS follows as for any decoder.
import { decodeXyxyScoreClass } from './yolo-end2end.js';
import { first, type Decoder } from './types.js';

export const centernet: Decoder = {
  matches: (outputs) => first(outputs).dims.length === 3 && first(outputs).dims[2] === 6,
  decode(outputs, ctx) {
    const t = outputs.get('tower_0/detections') ?? first(outputs);
    return decodeXyxyScoreClass(t.data, t.dims[1]!, ctx.scoreThreshold);
  },
};
