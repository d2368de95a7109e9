// The model manifest (models/<name>.json beside models/<name>.onnx) says how to
// feed and decode a model. Without one, the input is read from the model's own
// metadata and the decoder is detected from its output shapes; settings override.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { UserError } from '../errors.js';
import { COCO_LABELS, modelName } from '../paths.js';
import type { ResizeMode } from '../frames/frame.js';
import { DECODER_KEYS, type DecoderKey } from './decoders/index.js';

export const RANGES = ['0-1', '0-255', '-1-1', 'imagenet'] as const;
export type PixelRange = (typeof RANGES)[number];

export const manifestSchema = z
  .object({
    name: z.string(),
    description: z.string().optional(),
    input: z
      .object({
        name: z.string().optional(),
        width: z.number().int().positive(),
        height: z.number().int().positive(),
        layout: z.enum(['NCHW', 'NHWC']),
        dtype: z.enum(['float32', 'uint8']),
        pixelFormat: z.enum(['rgb', 'bgr']).default('rgb'),
        range: z.enum(RANGES).default('0-1'),
        resize: z.enum(['letterbox', 'stretch']).default('letterbox'),
        multipleOf: z.number().int().positive().optional().describe('a dynamic input takes sizes that are multiples of this'),
      })
      .strict(),
    decoder: z.enum(DECODER_KEYS),
    labels: z.string().optional().describe('label file, relative to the manifest'),
    classIdBase: z
      .union([z.literal(0), z.literal(1)])
      .optional()
      .describe("the id of the first class in the model's output (ssd: 1 by default, as TF Object Detection API label maps count)"),
    scoreThreshold: z.number().min(0).max(1).optional(),
    nmsIou: z.number().min(0).max(1).optional(),
    nmsClassAgnostic: z.boolean().optional(),
    sha256: z.string().optional(),
    precision: z.enum(['fp32', 'fp16', 'int8']).optional(),
    calibration: z.string().optional().describe('what an INT8 model was calibrated on'),
  })
  .strict();

export type Manifest = z.infer<typeof manifestSchema>;

export interface InputSpec {
  name: string;
  width: number;
  height: number;
  layout: 'NCHW' | 'NHWC';
  dtype: 'float32' | 'uint8';
  pixelFormat: 'rgb' | 'bgr';
  range: PixelRange;
  resize: ResizeMode;
}

export interface ModelSpec {
  input: InputSpec;
  /** undefined: detect from output shapes once the session runs. */
  decoder: DecoderKey | undefined;
  labels: string[];
  /** True when neither MODEL_LABELS nor the manifest names a label file. */
  labelsDefaulted: boolean;
  classIdBase?: 0 | 1;
  scoreThreshold?: number;
  nmsIou?: number;
  nmsClassAgnostic?: boolean;
  precision?: Manifest['precision'];
}

export interface InputOverrides {
  layout?: 'NCHW' | 'NHWC';
  pixelFormat?: 'rgb' | 'bgr';
  range?: PixelRange;
  resize?: ResizeMode;
  size?: { width: number; height: number };
  decoder?: DecoderKey;
  labelsFile?: string;
}

export interface SessionInput {
  name: string;
  type: string;
  shape: readonly (number | string)[];
}

export function manifestPath(modelPath: string): string {
  return modelPath.replace(/\.onnx$/i, '') + '.json';
}

export function readManifest(modelPath: string): Manifest | undefined {
  const path = manifestPath(modelPath);
  if (!existsSync(path)) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new UserError(`model manifest ${path}: not valid JSON (${(err as Error).message})`);
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new UserError(`model manifest ${path}: ${problems.join('; ')}`);
  }
  return parsed.data;
}

export function readLabels(path: string): string[] {
  if (!existsSync(path)) throw new UserError(`labels file ${path}: no such file (the model manifest's "labels", or MODEL_LABELS: one class name per line)`);
  return readFileSync(path, 'utf8')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l, i, all) => l !== '' || i < all.length - 1);
}

/** Combines manifest, session metadata and overrides into what preprocessing and decoding need. */
export function resolveModelSpec(modelPath: string, session: SessionInput, overrides: InputOverrides = {}): ModelSpec {
  const manifest = readManifest(modelPath);
  const shape = session.shape.map((d) => (typeof d === 'number' && d > 0 ? d : undefined));
  const guessedLayout = shape.length === 4 && shape[1] === 3 ? 'NCHW' : shape.length === 4 && shape[3] === 3 ? 'NHWC' : undefined;
  const layout = overrides.layout ?? manifest?.input.layout ?? guessedLayout;
  if (!layout) throw new UserError(`model ${modelPath}: cannot tell its input layout from shape [${session.shape.join(',')}]; set MODEL_INPUT_LAYOUT=nchw or nhwc`);
  const [h, w] = layout === 'NCHW' ? [shape[2], shape[3]] : [shape[1], shape[2]];
  if (overrides.size && w && h && (overrides.size.width !== w || overrides.size.height !== h))
    throw new UserError(
      `MODEL_INPUT_SIZE=${overrides.size.width}x${overrides.size.height}: the model ${modelPath} takes ${w}x${h} only (its input shape is fixed); leave MODEL_INPUT_SIZE empty, or use a model with a dynamic input size`,
    );
  const multiple = manifest?.input.multipleOf;
  if (overrides.size && multiple && (overrides.size.width % multiple || overrides.size.height % multiple))
    throw new UserError(
      `MODEL_INPUT_SIZE=${overrides.size.width}x${overrides.size.height}: the model ${modelPath} takes multiples of ${multiple} (e.g. MODEL_INPUT_SIZE=${Math.round(overrides.size.width / multiple) * multiple || multiple}x${Math.round(overrides.size.height / multiple) * multiple || multiple})`,
    );
  const width = overrides.size?.width ?? manifest?.input.width ?? w;
  const height = overrides.size?.height ?? manifest?.input.height ?? h;
  if (!width || !height) throw new UserError(`model ${modelPath}: its input size is dynamic; set MODEL_INPUT_SIZE, e.g. MODEL_INPUT_SIZE=640x640`);
  const dtype = session.type === 'uint8' ? 'uint8' : session.type === 'float32' ? 'float32' : undefined;
  if (!dtype) throw new UserError(`model ${modelPath}: input type ${session.type} is not supported (use a float32 or uint8 input)`);
  const labelsPath = overrides.labelsFile ?? (manifest?.labels ? resolve(dirname(modelPath), manifest.labels) : COCO_LABELS);
  return {
    input: {
      name: session.name,
      width,
      height,
      layout,
      dtype,
      pixelFormat: overrides.pixelFormat ?? manifest?.input.pixelFormat ?? 'rgb',
      range: overrides.range ?? manifest?.input.range ?? '0-1',
      resize: overrides.resize ?? manifest?.input.resize ?? 'letterbox',
    },
    decoder: overrides.decoder ?? manifest?.decoder,
    labels: readLabels(labelsPath),
    labelsDefaulted: labelsPath === COCO_LABELS && !overrides.labelsFile,
    classIdBase: manifest?.classIdBase,
    scoreThreshold: manifest?.scoreThreshold,
    nmsIou: manifest?.nmsIou,
    nmsClassAgnostic: manifest?.nmsClassAgnostic,
    precision: manifest?.precision,
  };
}

/** What users see of a model: its name, precision and input size, e.g. "centernet-int8 (int8, 512x512)". */
export function modelDescription(modelPath: string, precision: string | undefined, width: number | undefined, height: number | undefined): string {
  const details = [precision, width && height ? `${width}x${height}` : undefined].filter(Boolean);
  return details.length ? `${modelName(modelPath)} (${details.join(', ')})` : modelName(modelPath);
}

/** The same, from the model's manifest, before a session is open (the viewer's page). */
export function describeModel(modelPath: string, size?: { width: number; height: number }): string {
  let manifest: Manifest | undefined;
  try {
    manifest = readManifest(modelPath);
  } catch {
    manifest = undefined;
  }
  return modelDescription(modelPath, manifest?.precision, size?.width ?? manifest?.input.width, size?.height ?? manifest?.input.height);
}
