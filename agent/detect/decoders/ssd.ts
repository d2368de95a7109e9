// TF Object Detection API SSD: boxes [1, N, 4] (ymin, xmin, ymax, xmax, normalised 0..1),
// classes [1, N], scores [1, N], num_detections [1]. Outputs are told apart by name
// (box/class/score/num) and otherwise by TF's order: boxes, classes, scores, count.
// Class ids count from 1, as in TF's label maps (COCO's has 90 ids, some unused), unless
// the manifest says `"classIdBase": 0`; the default labels are COCO's 90-id label map.
import { COCO90_LABELS } from '../../paths.js';
import { num, type Candidate, type Decoder, type OutputTensor, type Outputs } from './types.js';

function pick(outputs: Outputs): { boxes: OutputTensor; classes: OutputTensor; scores: OutputTensor; count?: OutputTensor } | undefined {
  const entries = [...outputs.entries()];
  const named = (re: RegExp) => entries.find(([name]) => re.test(name))?.[1];
  const boxes = named(/box/i);
  const classes = named(/class/i);
  const scores = named(/score/i);
  const count = named(/num/i);
  if (boxes && classes && scores) return { boxes, classes, scores, count };
  const tensors = entries.map(([, t]) => t);
  const box = tensors.find((t) => t.dims.length === 3 && t.dims[2] === 4);
  const rest = tensors.filter((t) => t !== box && t.dims.length === 2);
  if (!box || rest.length !== 2) return undefined;
  return { boxes: box, classes: rest[0]!, scores: rest[1]!, count: tensors.find((t) => t.dims.length === 1) };
}

export const ssd: Decoder = {
  defaultLabels: COCO90_LABELS,
  matches: (outputs) => outputs.size >= 3 && pick(outputs) !== undefined,
  decode(outputs, ctx) {
    const p = pick(outputs);
    if (!p) throw new Error('ssd decoder: expected boxes [1,N,4], classes [1,N] and scores [1,N] outputs');
    const n = Math.min(p.boxes.dims[1]!, p.count ? num(p.count.data[0]) : Infinity);
    const base = ctx.classIdBase ?? 1;
    const out: Candidate[] = [];
    for (let i = 0; i < n; i++) {
      const score = num(p.scores.data[i]);
      if (score < ctx.scoreThreshold) continue;
      const [ymin, xmin, ymax, xmax] = [0, 1, 2, 3].map((k) => num(p.boxes.data[i * 4 + k]));
      out.push({
        classId: Math.round(num(p.classes.data[i])) - base,
        score,
        box: [xmin! * ctx.inputWidth, ymin! * ctx.inputHeight, xmax! * ctx.inputWidth, ymax! * ctx.inputHeight],
      });
    }
    return out;
  },
};
