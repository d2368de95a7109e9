// `npm run bench:model [-- --runs N --json PATH]`: milliseconds per inference and peak
// memory of the bundled model, at 1 and 2 threads, with the agent's session options and
// with each of them changed, on an input made from a real photo through FFmpeg. Each
// variant runs in its own process, so that its peak RSS is its own.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import '../agent/detect/no-telemetry.js';
import ort from 'onnxruntime-node';
import { sessionOptions } from '../agent/detect/index.js';
import { resolveModelSpec } from '../agent/detect/manifest.js';
import { allocateInput, fillInput, inputDims } from '../agent/detect/preprocess.js';
import { withFirstFrame } from '../agent/capture/probe.js';
import { createLogger } from '../agent/log.js';
import { BUNDLED_MODEL, PACKAGE_ROOT } from '../agent/paths.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '50' }, json: { type: 'string' }, variant: { type: 'string' }, threads: { type: 'string' } } });
const runs = Number(values.runs);
const log = createLogger({ level: 'warn', pretty: false });

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

const variants: Record<string, (threads: number) => ort.InferenceSession.SessionOptions> = {
  'agent (all optimisations, arena, no mem pattern)': (t) => sessionOptions(t),
  'enableMemPattern=true': (t) => ({ ...sessionOptions(t), enableMemPattern: true }),
  'graphOptimizationLevel=basic': (t) => ({ ...sessionOptions(t), graphOptimizationLevel: 'basic' }),
  'graphOptimizationLevel=disabled': (t) => ({ ...sessionOptions(t), graphOptimizationLevel: 'disabled' }),
  'enableCpuMemArena=false': (t) => ({ ...sessionOptions(t), enableCpuMemArena: false }),
  'intra-op thread spinning off': (t) => ({ ...sessionOptions(t), extra: { session: { intra_op: { allow_spinning: '0' } } } }),
};

interface Row {
  model: string;
  threads: number;
  variant: string;
  p50: number;
  p95: number;
  mean: number;
  loadMs: number;
  peakRssMb: number;
}

/** One variant, in this process: the session first, so nothing else has raised the peak. */
async function measure(modelPath: string, variant: string, threads: number): Promise<Row> {
  const loadStart = performance.now();
  const session = await ort.InferenceSession.create(modelPath, variants[variant]!(threads));
  const loadMs = performance.now() - loadStart;
  const meta = session.inputMetadata[0]!;
  const spec = resolveModelSpec(modelPath, { name: meta.name, type: meta.isTensor ? meta.type : 'float32', shape: meta.isTensor ? meta.shape : [] });
  const data = allocateInput(spec.input);
  const source = { url: join(PACKAGE_ROOT, 'test', 'fixtures', 'person.jpg'), kind: 'file' as const, loop: false, realtime: false };
  await withFirstFrame({ source, width: spec.input.width, height: spec.input.height, resize: spec.input.resize, log }, (frame) => fillInput(frame.data, spec.input, data));
  const tensor = new ort.Tensor(spec.input.dtype, data, inputDims(spec.input));
  for (let i = 0; i < 5; i++) await session.run({ [spec.input.name]: tensor });
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await session.run({ [spec.input.name]: tensor });
    times.push(performance.now() - t);
  }
  const peakRssMb = Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0) / 1024;
  await session.release();
  times.sort((a, b) => a - b);
  const round = (v: number) => Math.round(v * 10) / 10;
  return {
    model: modelPath.split('/').pop()!,
    threads,
    variant,
    p50: round(percentile(times, 50)),
    p95: round(percentile(times, 95)),
    mean: round(times.reduce((a, b) => a + b, 0) / times.length),
    loadMs: Math.round(loadMs),
    peakRssMb: Math.round(peakRssMb),
  };
}

if (values.variant) {
  process.stdout.write(JSON.stringify(await measure(BUNDLED_MODEL, values.variant, Number(values.threads))));
  process.exit(0);
}

const rows: Row[] = [];
for (const threads of [1, 2]) {
  for (const variant of Object.keys(variants)) {
    const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--variant', variant, '--threads', String(threads), '--runs', String(runs)], { encoding: 'utf8' });
    if (child.status !== 0) throw new Error(`variant "${variant}" failed: ${child.stderr}`);
    rows.push(JSON.parse(child.stdout) as Row);
  }
}

console.log(`onnxruntime-node ${ort.env.versions.common}, ${runs} runs after 5 warm-up runs, input: test/fixtures/person.jpg through FFmpeg; peak RSS of the whole process\n`);
console.log('| model | threads | session options | p50 ms | p95 ms | mean ms | load ms | peak RSS MB |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of rows) console.log(`| ${r.model} | ${r.threads} | ${r.variant} | ${r.p50} | ${r.p95} | ${r.mean} | ${r.loadMs} | ${r.peakRssMb} |`);
if (values.json) writeFileSync(values.json, JSON.stringify({ runs, rows }, null, 2));
