// `npm run models:distill [-- --steps N --threads N --seed N --checkpoints DIR --weights W
// --ranges-and-biases --features W --bias-correction --blockwise]`: the INT8 model trained
// with its quantization in the loop, against the float model as teacher
// (scripts/distill.py; block by block with --blockwise, scripts/reconstruct.py; on
// Debian's python3-torch and python3-onnx; dev-time only). docs/models.md says what each
// option does and what each reached.
//
//   1. The plan: the float graph quantize.ts places its Q/DQ pairs on, each activation's
//      starting uint8 parameters (calibrated on training images, never on the images the
//      INT8 model is compared on) and the convolutions whose weights become int8.
//   2. The training images, decoded once: opencv-doc's example photos and frames of its
//      cartoon and outdoor clips (TRAINING_SOURCES). None of the comparison images
//      (Debian darknet's photos, the bundled sample clip, python3-skimage's photos) and
//      not vtest.avi, on which identity is measured.
//   3. The training, then models/distill/centernet.onnx (the prepared graph with the
//      learned weights) and models/distill/centernet.json (the learned parameters and how
//      they were made), from which `npm run models` builds models/centernet-int8.onnx.
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { BUNDLED_MODELS } from '../agent/paths.js';
import { DISTILLED, INT8 } from './build-models.js';
import { ffmpegOutput, photosIn, type ModelImage } from './model-images.js';
import { quantize } from './quantize.js';

const OPENCV_DATA = process.env.OPENCV_DATA ?? '/usr/share/doc/opencv-doc/examples/data';
/** Where the training images come from, and how each clip is sampled. */
export const TRAINING_SOURCES = {
  photos: `${OPENCV_DATA}/*.jpg, *.png (Debian opencv-doc; at least 200x200 px)`,
  clips: [
    { file: 'Megamind.avi', every: 1 },
    { file: 'tree.avi', every: 1 },
  ],
};
const PYTHON = '/usr/bin/python3';
const LONG_SIDE = 640;

/** opencv-doc's photos, the long side at most LONG_SIDE. */
const photos = () => photosIn(OPENCV_DATA, { width: LONG_SIDE, height: LONG_SIDE, fit: 'inside', withoutEnlargement: true });

/** One frame every `every` seconds, as PPM images from FFmpeg. */
async function clipFrames(file: string, every: number): Promise<ModelImage[]> {
  const all = await ffmpegOutput(join(OPENCV_DATA, file), [], ['-vf', `fps=1/${every},scale='min(${LONG_SIDE},iw)':-2`, '-f', 'image2pipe', '-vcodec', 'ppm']);
  const out: ModelImage[] = [];
  for (let pos = 0; pos < all.length;) {
    const header = /^P6\s+(\d+)\s+(\d+)\s+255\s/.exec(all.subarray(pos, pos + 32).toString('latin1'));
    if (!header) throw new Error(`${file}: not a PPM frame at byte ${pos}`);
    const [width, height] = [Number(header[1]), Number(header[2])];
    const start = pos + header[0].length;
    out.push({ name: `${file}@${out.length * every}`, rgb: all.subarray(start, start + width * height * 3), width, height });
    pos = start + width * height * 3;
  }
  return out;
}

export async function trainingImages(): Promise<ModelImage[]> {
  const clips = await Promise.all(TRAINING_SOURCES.clips.map((c) => clipFrames(c.file, c.every)));
  return [...(await photos()), ...clips.flat()];
}

/** The training images stretched to the model's input, for the starting ranges. */
async function planInputs(images: ModelImage[], size = 512) {
  return Promise.all(
    images
      .filter((_, k) => k % 4 === 0)
      .map(async (i) => {
        const data = await sharp(i.rgb, { raw: { width: i.width, height: i.height, channels: 3 } })
          .resize(size, size, { fit: 'fill' })
          .raw()
          .toBuffer();
        return { data: new Uint8Array(data), dims: [1, size, size, 3] };
      }),
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      steps: { type: 'string' },
      threads: { type: 'string', default: '2' },
      seed: { type: 'string', default: '1' },
      checkpoints: { type: 'string' },
      weights: { type: 'string' },
      'ranges-and-biases': { type: 'boolean' },
      features: { type: 'string' },
      'bias-correction': { type: 'boolean' },
      blockwise: { type: 'boolean' },
    },
  });
  const python = existsSync(PYTHON) && spawnSync(PYTHON, ['-c', 'import torch, onnx'], { stdio: 'ignore' }).status === 0;
  if (!python || !existsSync(OPENCV_DATA)) {
    console.error('models:distill needs Debian packages: apt-get install python3-torch python3-onnx opencv-doc');
    process.exit(1);
  }
  const work = mkdtempSync(join(tmpdir(), 'edgecam-distill-'));
  try {
    const images = await trainingImages();
    const fd = openSync(join(work, 'images.rgb'), 'w');
    for (const i of images) writeSync(fd, i.rgb);
    closeSync(fd);
    writeFileSync(join(work, 'images.rgb.json'), JSON.stringify({ images: images.map(({ name, width, height }) => ({ name, width, height })) }));
    const { plan } = await quantize(readFileSync(BUNDLED_MODELS['centernet-fp32']), await planInputs(images), INT8);
    writeFileSync(join(work, 'prepared.onnx'), plan.prepared);
    writeFileSync(join(work, 'plan.json'), JSON.stringify({ activations: Object.fromEntries(plan.activations), convs: plan.convs }));
    console.log(`${images.length} training images; ${plan.convs.length} int8 convolutions, ${plan.activations.size} quantized activations`);
    mkdirSync(dirname(DISTILLED.weights), { recursive: true });
    const args = ['--model', join(work, 'prepared.onnx'), '--plan', join(work, 'plan.json'), '--images', join(work, 'images.rgb')];
    // --blockwise: scripts/reconstruct.py fits block by block instead (its --steps are per block).
    const options = values.blockwise
      ? [...(values.steps ? ['--steps', values.steps] : []), '--threads', values.threads, '--seed', values.seed]
      : [
          '--steps',
          values.steps ?? '500',
          '--threads',
          values.threads,
          '--seed',
          values.seed,
          ...(values.checkpoints ? ['--checkpoints', values.checkpoints, '--checkpoint-every', '100'] : []),
          ...(values.weights ? ['--weights', values.weights] : []),
          ...(values['ranges-and-biases'] ? ['--ranges-and-biases'] : []),
          ...(values.features ? ['--features', values.features] : []),
          ...(values['bias-correction'] ? ['--bias-correction'] : []),
        ];
    const script = join(import.meta.dirname, '..', '..', 'scripts', values.blockwise ? 'reconstruct.py' : 'distill.py');
    execFileSync(PYTHON, [script, ...args, ...options, '--out', DISTILLED.weights, '--params', join(work, 'params.json')], { stdio: 'inherit' });
    const learned = JSON.parse(readFileSync(join(work, 'params.json'), 'utf8')) as { activations: unknown };
    const provenance = {
      teacher: 'models/centernet.onnx',
      images: `${images.length}: ${TRAINING_SOURCES.photos}; ${TRAINING_SOURCES.clips.map((c) => `${c.file} at one frame every ${c.every} s`).join(', ')}`,
      command: ['npm run models:distill', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' '),
    };
    writeFileSync(DISTILLED.params, JSON.stringify({ ...provenance, activations: learned.activations }, null, 1) + '\n');
    console.log(`${DISTILLED.weights}, ${DISTILLED.params}: now \`npm run models\` builds the INT8 model from them`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
