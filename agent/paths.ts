// Locations of files shipped with the package, independent of the working directory.
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';

/** The package root: dist/agent/paths.js sits two levels below it. */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const MODELS_DIR = join(PACKAGE_ROOT, 'models');
/** The bundled models by the names MODEL accepts. */
export const BUNDLED_MODELS = {
  'centernet-fp32': join(MODELS_DIR, 'centernet.onnx'),
  'centernet-int8': join(MODELS_DIR, 'centernet-int8.onnx'),
} as const;
export type BundledModelName = keyof typeof BUNDLED_MODELS | 'centernet';
/**
 * The default model: the INT8 one, 1.5-1.9× the float one's speed and, on everything a user
 * sees (counts, tracks, speeds on real footage and photos), the same
 * (test/integration/int8-users.test.ts). MODEL=centernet is the float model.
 */
export const BUNDLED_MODEL = BUNDLED_MODELS['centernet-int8'];

/** A bundled model's name → its file; anything else is a path. */
export function modelPath(value: string | undefined, cwd = process.cwd()): string {
  if (value === undefined) return BUNDLED_MODEL;
  if (value === 'centernet') return BUNDLED_MODELS['centernet-fp32'];
  if (value in BUNDLED_MODELS) return BUNDLED_MODELS[value as keyof typeof BUNDLED_MODELS];
  return resolve(cwd, value);
}

/** The name a bundled model goes by, or the file name of another. */
export function modelName(path: string): string {
  const bundled = Object.entries(BUNDLED_MODELS).find(([, p]) => p === path);
  return bundled ? bundled[0] : path.split('/').pop()!;
}
export const BUNDLED_SAMPLE = join(MODELS_DIR, 'sample.mp4');
export const COCO_LABELS = join(MODELS_DIR, 'coco-labels.txt');
/** COCO's label map by category id 1..90, as TF Object Detection API models number classes. */
export const COCO90_LABELS = join(MODELS_DIR, 'coco90-labels.txt');

/** The version in package.json. */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

/**
 * `mkdir -p` that cannot hang: Node's recursive mkdirSync loops forever on a path under
 * /proc (the kernel answers ENOENT for a directory whose parent exists). Each missing
 * level is created on its own, and the first failure is thrown.
 */
export function makeDirectory(dir: string): void {
  const missing: string[] = [];
  let at = resolve(dir);
  while (!existsSync(at)) {
    missing.unshift(at);
    const parent = dirname(at);
    if (parent === at) break;
    at = parent;
  }
  for (const level of missing) mkdirSync(level);
}
