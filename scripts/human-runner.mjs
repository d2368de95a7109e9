// Runs Human (@vladmandic/human) on TF.js's WASM backend over a clip, every frame, back to
// back, and prints its rate as one JSON line: the other side of `npm run bench:human`.
// Human is not a dependency of edgecam; the benchmark installs it in a directory of its own
// and passes that directory here.
//   node human-runner.mjs HUMAN_DIR MODELS_DIR FFMPEG CLIP WIDTH HEIGHT WARMUP_FRAMES SECONDS
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const [humanDir, modelsDir, ffmpegPath, clip, width, height, warmup, seconds] = process.argv.slice(2);
const W = Number(width);
const H = Number(height);
const require = createRequire(join(humanDir, 'package.json'));
// The package's "exports" map lacks the "./" its keys need, so its WASM build is loaded by path.
const { Human } = require(join(humanDir, 'node_modules/@vladmandic/human/dist/human.node-wasm.js'));

// Human loads models with fetch(), which in Node does not read file: URLs.
const realFetch = globalThis.fetch;
globalThis.fetch = async (url, init) => (String(url).startsWith('file:') ? new Response(readFileSync(fileURLToPath(String(url)))) : realFetch(url, init));

const human = new Human({
  backend: 'wasm',
  wasmPath: pathToFileURL(join(humanDir, 'node_modules/@tensorflow/tfjs-backend-wasm/dist/')).href,
  modelBasePath: pathToFileURL(modelsDir + '/').href,
  debug: false,
  async: false,
  warmup: 'none',
  cacheSensitivity: 0,
  filter: { enabled: false },
  face: { enabled: false },
  body: { enabled: false },
  hand: { enabled: false },
  gesture: { enabled: false },
  segmentation: { enabled: false },
  object: { enabled: true, modelPath: 'centernet.json', minConfidence: 0.3, maxDetected: 20, skipFrames: 0, skipTime: 0 },
});
await human.load();
if (human.tf.getBackend() !== 'wasm') throw new Error(`Human runs on ${human.tf.getBackend()}, not wasm`);

const ffmpeg = spawn(ffmpegPath, ['-hide_banner', '-loglevel', 'fatal', '-stream_loop', '-1', '-i', clip, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
const size = W * H * 3;
const frames = [];
let pending = Buffer.alloc(0);
ffmpeg.stdout.on('data', (chunk) => {
  pending = Buffer.concat([pending, chunk]);
  while (pending.length >= size) {
    frames.push(Buffer.from(pending.subarray(0, size)));
    pending = pending.subarray(size);
  }
  if (frames.length >= 4) ffmpeg.stdout.pause();
});

let n = 0;
let objects = 0;
let start = 0;
const endAfter = Number(seconds) * 1000;
for (;;) {
  if (frames.length === 0) {
    ffmpeg.stdout.resume();
    await new Promise((r) => setTimeout(r, 1));
    continue;
  }
  const frame = frames.shift();
  if (frames.length < 2) ffmpeg.stdout.resume();
  if (n === Number(warmup)) start = performance.now();
  const tensor = human.tf.tensor4d(new Uint8Array(frame.buffer, frame.byteOffset, size), [1, H, W, 3], 'int32');
  const result = await human.detect(tensor);
  human.tf.dispose(tensor);
  n++;
  if (n > Number(warmup)) objects += result.object.length;
  if (start && performance.now() - start >= endAfter) break;
}
const measured = n - Number(warmup);
const elapsed = (performance.now() - start) / 1000;
const simd = await human.tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
const threads = await human.tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
console.log(JSON.stringify({ frames: measured, seconds: elapsed, fps: measured / elapsed, objectsPerFrame: objects / measured, version: human.version, simd, threads }));
ffmpeg.kill();
process.exit(0);
