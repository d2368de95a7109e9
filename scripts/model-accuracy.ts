// Compares a model with a reference model on the same inputs, with the agent's own
// decoding: how many of the reference's detections above the threshold the model finds
// again (same class, IoU >= 0.7), how close the scores are, and on how many images the
// model reports something the reference does not.
import '../agent/detect/no-telemetry.js';
import ort from 'onnxruntime-node';
import { DECODERS, type Candidate, type DecoderKey } from '../agent/detect/decoders/index.js';
import { nms } from '../agent/detect/nms.js';
import { iou } from '../agent/frames/frame.js';
import type { ModelImage } from './model-images.js';

export interface AccuracyOptions {
  decoder: DecoderKey;
  scoreThreshold: number;
  nmsIou: number;
  nmsClassAgnostic: boolean;
  /** A match needs this IoU at least. */
  matchIou?: number;
  /**
   * A model detection counts as new only if the reference has nothing of its class at
   * IoU >= matchIou even down to scoreThreshold - scoreTolerance: an object both see,
   * scored 0.31 by one and 0.29 by the other, is the same object.
   */
  scoreTolerance?: number;
  threads?: number;
}

export interface ImageComparison {
  name: string;
  reference: number;
  matched: number;
  /** Detections of the model with no counterpart in the reference (see `scoreTolerance`). */
  extra: number;
  scoreDiffs: number[];
}

export interface AccuracyReport {
  images: ImageComparison[];
  referenceDetections: number;
  matched: number;
  /** matched / referenceDetections. */
  recall: number;
  meanScoreDiff: number;
  /** Share of images where the model reports a detection the reference does not have. */
  imagesWithExtra: number;
}

export async function detectAll(modelPath: string, images: ModelImage[], options: AccuracyOptions): Promise<Candidate[][]> {
  const session = await ort.InferenceSession.create(modelPath, { intraOpNumThreads: options.threads ?? 2, graphOptimizationLevel: 'all' });
  try {
    const input = session.inputNames[0]!;
    const out: Candidate[][] = [];
    for (const image of images) {
      const result = await session.run({ [input]: new ort.Tensor('uint8', image.rgb, [1, image.height, image.width, 3]) });
      const outputs = new Map(Object.entries(result).map(([name, t]) => [name, { dims: [...t.dims], data: t.data as Float32Array }]));
      const candidates = DECODERS[options.decoder].decode(outputs, { inputWidth: image.width, inputHeight: image.height, scoreThreshold: options.scoreThreshold });
      out.push(nms(candidates, options.nmsIou, options.nmsClassAgnostic));
    }
    return out;
  } finally {
    await session.release();
  }
}

/**
 * `reference` and `model` hold each image's detections down to the threshold less the
 * tolerance; recall and scores are counted on those above `threshold`.
 */
export function compareDetections(names: string[], reference: Candidate[][], model: Candidate[][], threshold: number, matchIou = 0.7): AccuracyReport {
  const images: ImageComparison[] = names.map((name, i) => {
    const ref = reference[i]!.filter((d) => d.score >= threshold);
    const got = [...model[i]!];
    const scoreDiffs: number[] = [];
    let matched = 0;
    // Best match first: each reference detection takes the unclaimed model detection of its class with the highest IoU.
    for (const r of [...ref].sort((a, b) => b.score - a.score)) {
      let best = -1;
      let bestIou = matchIou;
      got.forEach((g, k) => {
        const overlap = g.classId === r.classId ? iou(g.box, r.box) : 0;
        if (overlap >= bestIou) [best, bestIou] = [k, overlap];
      });
      if (best < 0 || got[best]!.score < threshold) continue;
      matched++;
      scoreDiffs.push(Math.abs(got[best]!.score - r.score));
      got.splice(best, 1);
    }
    const loose = reference[i]!;
    const extra = got.filter((g) => g.score >= threshold && !loose.some((r) => r.classId === g.classId && iou(r.box, g.box) >= matchIou)).length;
    return { name, reference: ref.length, matched, extra, scoreDiffs };
  });
  const referenceDetections = images.reduce((s, i) => s + i.reference, 0);
  const matched = images.reduce((s, i) => s + i.matched, 0);
  const diffs = images.flatMap((i) => i.scoreDiffs);
  return {
    images,
    referenceDetections,
    matched,
    recall: referenceDetections ? matched / referenceDetections : 1,
    meanScoreDiff: diffs.length ? diffs.reduce((a, b) => a + b, 0) / diffs.length : 0,
    imagesWithExtra: images.filter((i) => i.extra > 0).length / Math.max(1, images.length),
  };
}

export async function compareModels(referencePath: string, modelPath: string, images: ModelImage[], options: AccuracyOptions): Promise<AccuracyReport> {
  const loose = { ...options, scoreThreshold: Math.max(0.01, options.scoreThreshold - (options.scoreTolerance ?? 0.05)) };
  const reference = await detectAll(referencePath, images, loose);
  const model = await detectAll(modelPath, images, loose);
  return compareDetections(
    images.map((i) => i.name),
    reference,
    model,
    options.scoreThreshold,
    options.matchIou,
  );
}
