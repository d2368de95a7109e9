// `npm run bench:model [-- --runs N --json PATH]`: milliseconds per inference of each
// bundled model, at 1 and 2 threads, with the agent's session options and with
// each of them changed, on an input made from a real photo through FFmpeg.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import { sessionOptions } from '../agent/detect/index.js';
import { resolveModelSpec } from '../agent/detect/manifest.js';
import { allocateInput, fillInput, inputDims } from '../agent/detect/preprocess.js';
import { Capture } from '../agent/capture/index.js';
import { createLogger } from '../agent/log.js';
import { BUNDLED_MODEL, PACKAGE_ROOT } from '../agent/paths.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '50' }, json: { type: 'string' } } });
const runs = Number(values.runs);
const log = createLogger({ level: 'warn', pretty: false });

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

async function photoInput(modelPath: string) {
  const probe = await ort.InferenceSession.create(modelPath);
  const meta = probe.inputMetadata[0]!;
  const spec = resolveModelSpec(modelPath, { name: meta.name, type: meta.isTensor ? meta.type : 'float32', shape: meta.isTensor ? meta.shape : [] });
  await probe.release();
  const capture = new Capture({
    source: { url: join(PACKAGE_ROOT, 'test', 'fixtures', 'person.jpg'), kind: 'file', loop: false, realtime: false },
    width: spec.input.width,
    height: spec.input.height,
    resize: spec.input.resize,
    fps: 1,
    lossless: true,
    log,
  });
  await capture.start();
  const frame = await capture.next();
  await capture.stop();
  const data = allocateInput(spec.input);
  fillInput(frame!.data, spec.input, data);
  return { spec, tensor: new ort.Tensor(spec.input.dtype, data, inputDims(spec.input)) };
}

interface Row {
  model: string;
  threads: number;
  variant: string;
  p50: number;
  p95: number;
  mean: number;
  loadMs: number;
}

const variants: Record<string, (threads: number) => ort.InferenceSession.SessionOptions> = {
  'agent (all optimisations, arena, mem pattern)': (t) => sessionOptions(t),
  'graphOptimizationLevel=basic': (t) => ({ ...sessionOptions(t), graphOptimizationLevel: 'basic' }),
  'graphOptimizationLevel=disabled': (t) => ({ ...sessionOptions(t), graphOptimizationLevel: 'disabled' }),
  'enableCpuMemArena=false': (t) => ({ ...sessionOptions(t), enableCpuMemArena: false, enableMemPattern: false }),
};

const rows: Row[] = [];
for (const modelPath of [BUNDLED_MODEL]) {
  const { spec, tensor } = await photoInput(modelPath);
  const model = modelPath.split('/').pop()!;
  for (const threads of [1, 2]) {
    for (const [variant, options] of Object.entries(variants)) {
      const loadStart = performance.now();
      const session = await ort.InferenceSession.create(modelPath, options(threads));
      const loadMs = performance.now() - loadStart;
      for (let i = 0; i < 5; i++) await session.run({ [spec.input.name]: tensor });
      const times: number[] = [];
      for (let i = 0; i < runs; i++) {
        const t = performance.now();
        await session.run({ [spec.input.name]: tensor });
        times.push(performance.now() - t);
      }
      await session.release();
      times.sort((a, b) => a - b);
      const round = (v: number) => Math.round(v * 10) / 10;
      rows.push({ model, threads, variant, p50: round(percentile(times, 50)), p95: round(percentile(times, 95)), mean: round(times.reduce((a, b) => a + b, 0) / times.length), loadMs: Math.round(loadMs) });
    }
  }
}

console.log(`onnxruntime-node ${ort.env.versions.common}, ${runs} runs after 5 warm-up runs, input: test/fixtures/person.jpg through FFmpeg\n`);
console.log('| model | threads | session options | p50 ms | p95 ms | mean ms | load ms |');
console.log('| --- | --- | --- | --- | --- | --- | --- |');
for (const r of rows) console.log(`| ${r.model} | ${r.threads} | ${r.variant} | ${r.p50} | ${r.p95} | ${r.mean} | ${r.loadMs} |`);
if (values.json) writeFileSync(values.json, JSON.stringify({ runs, rows }, null, 2));
