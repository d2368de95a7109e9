// `npm run bench:model [-- --rounds N --runs N --json PATH]`: the bundled models side by
// side, FP32 and INT8 at 384, 512 and 640, each in its own process (so that its peak
// RSS is its own), run in alternating rounds with the same threads: a drift of the
// machine's speed during the run falls on every model alike. Then the people each one
// finds in Debian darknet's kite.jpg (dozens of small people on a beach) at each size.
//
// `--session-options`: the float model with the agent's session options and with each of
// them changed, one process each (the measurements behind `sessionOptions`).
import { fork, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
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
import { BUNDLED_MODEL, BUNDLED_MODELS, PACKAGE_ROOT } from '../agent/paths.js';
import { detectAll } from './model-accuracy.js';
import { DARKNET_DATA, photo } from './model-images.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '10' },
    runs: { type: 'string', default: '10' },
    json: { type: 'string' },
    threads: { type: 'string' },
    'session-options': { type: 'boolean' },
    child: { type: 'string' },
    variant: { type: 'string' },
  },
});
const log = createLogger({ level: 'warn', pretty: false });
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
const round1 = (v: number) => Math.round(v * 10) / 10;
const peakRssMb = () => Math.round(Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0) / 1024);
const MODELS = { fp32: BUNDLED_MODELS['centernet-fp32'], int8: BUNDLED_MODELS['centernet-int8'] } as const;
const SESSION_VARIANTS: Record<string, (threads: number) => ort.InferenceSession.SessionOptions> = {
  "agent's: all graph optimisations, CPU arena, no memory pattern": (t) => sessionOptions(t),
  'memory pattern on': (t) => ({ ...sessionOptions(t), enableMemPattern: true }),
  '`graphOptimizationLevel=basic`': (t) => ({ ...sessionOptions(t), graphOptimizationLevel: 'basic' }),
  '`graphOptimizationLevel=disabled`': (t) => ({ ...sessionOptions(t), graphOptimizationLevel: 'disabled' }),
  'no CPU arena': (t) => ({ ...sessionOptions(t), enableCpuMemArena: false }),
  'intra-op thread spinning off': (t) => ({ ...sessionOptions(t), extra: { session: { intra_op: { allow_spinning: '0' } } } }),
};

/** A session and an input made from test/fixtures/person.jpg through FFmpeg, at `size`. */
async function prepare(modelPath: string, size: number, options: ort.InferenceSession.SessionOptions) {
  const session = await ort.InferenceSession.create(modelPath, options);
  const meta = session.inputMetadata[0]!;
  const spec = resolveModelSpec(
    modelPath,
    { name: meta.name, type: meta.isTensor ? meta.type : 'float32', shape: meta.isTensor ? meta.shape : [] },
    { size: { width: size, height: size } },
  );
  const data = allocateInput(spec.input);
  const source = { url: join(PACKAGE_ROOT, 'test', 'fixtures', 'person.jpg'), kind: 'file' as const, loop: false, realtime: false };
  await withFirstFrame({ source, width: size, height: size, resize: spec.input.resize, log }, (frame) => fillInput(frame.data, spec.input, data));
  const feeds = { [spec.input.name]: new ort.Tensor(spec.input.dtype, data, inputDims(spec.input)) };
  for (let i = 0; i < 5; i++) await session.run(feeds);
  return { session, feeds };
}

// A child: one model at one size; runs rounds on request, then reports its peak RSS.
if (values.child) {
  const [model, size, threads] = values.child.split(':') as [keyof typeof MODELS, string, string];
  const { session, feeds } = await prepare(MODELS[model], Number(size), sessionOptions(Number(threads)));
  process.on('message', (msg: { runs?: number; done?: boolean }) => {
    void (async () => {
      if (msg.done) {
        process.send!({ rss: peakRssMb() });
        await session.release();
        process.exit(0);
      }
      const times: number[] = [];
      for (let i = 0; i < msg.runs!; i++) {
        const t = performance.now();
        await session.run(feeds);
        times.push(performance.now() - t);
      }
      process.send!({ times });
    })();
  });
  process.send!({ ready: true });
} else if (values.variant) {
  // One session-options variant, in this process (--session-options).
  const { session, feeds } = await prepare(BUNDLED_MODEL, 512, SESSION_VARIANTS[values.variant]!(Number(values.threads)));
  const times: number[] = [];
  for (let i = 0; i < 50; i++) {
    const t = performance.now();
    await session.run(feeds);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  process.stdout.write(JSON.stringify({ p50: round1(percentile(times, 50)), p95: round1(percentile(times, 95)), peakRssMb: peakRssMb() }));
  process.exit(0);
} else if (values['session-options']) {
  console.log('| threads | session options | p50 ms | p95 ms | peak RSS MB |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const threads of [1, 2])
    for (const variant of Object.keys(SESSION_VARIANTS)) {
      const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--variant', variant, '--threads', String(threads)], { encoding: 'utf8' });
      if (child.status !== 0) throw new Error(`variant "${variant}" failed: ${child.stderr}`);
      const r = JSON.parse(child.stdout) as { p50: number; p95: number; peakRssMb: number };
      console.log(`| ${threads} | ${variant} | ${r.p50} | ${r.p95} | ${r.peakRssMb} |`);
    }
} else {
  await sideBySide();
}

interface Row {
  model: string;
  size: number;
  threads: number;
  throughput: number;
  p50: number;
  p99: number;
  peakRssMb: number;
  /** Throughput over FP32's at the same size and threads: the median of the rounds, and their extremes. */
  ratio?: { median: number; min: number; max: number };
}

async function sideBySide(): Promise<void> {
  const rounds = Number(values.rounds);
  const runs = Number(values.runs);
  const rows: Row[] = [];
  const threadSets = values.threads ? [Number(values.threads)] : [2, 1];
  for (const threads of threadSets) {
    const variants = (['fp32', 'int8'] as const).flatMap((model) => [384, 512, 640].map((size) => ({ model, size })));
    const children = await Promise.all(
      variants.map(async (v) => {
        const child = fork(fileURLToPath(import.meta.url), ['--child', `${v.model}:${v.size}:${threads}`], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
        await new Promise<void>((resolve, reject) => {
          child.once('message', () => resolve());
          child.once('exit', (code) => reject(new Error(`${v.model} at ${v.size}: exited ${code}`)));
        });
        return { ...v, child, times: [] as number[], roundMeans: [] as number[] };
      }),
    );
    const ask = (c: (typeof children)[number], msg: object) =>
      new Promise<{ times?: number[]; rss?: number }>((resolve) => {
        c.child.once('message', resolve);
        c.child.send(msg);
      });
    for (let r = 0; r < rounds; r++) {
      // Alternate the order too, so no model always runs right after another one's threads went idle.
      const order = r % 2 ? [...children].reverse() : children;
      for (const c of order) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        const { times } = await ask(c, { runs });
        c.times.push(...times!);
        c.roundMeans.push(times!.reduce((a, b) => a + b, 0) / times!.length);
      }
    }
    for (const c of children) {
      const { rss } = await ask(c, { done: true });
      const sorted = [...c.times].sort((a, b) => a - b);
      const mean = sorted.reduce((a, b) => a + b, 0) / sorted.length;
      const base = children.find((b) => b.model === 'fp32' && b.size === c.size)!;
      const ratios = c.roundMeans.map((m, i) => base.roundMeans[i]! / m).sort((a, b) => a - b);
      rows.push({
        model: `centernet-${c.model}`,
        size: c.size,
        threads,
        throughput: round1(1000 / mean),
        p50: round1(percentile(sorted, 50)),
        p99: round1(percentile(sorted, 99)),
        peakRssMb: rss!,
        ratio:
          c.model === 'int8'
            ? { median: Math.round(percentile(ratios, 50) * 100) / 100, min: Math.round(ratios[0]! * 100) / 100, max: Math.round(ratios.at(-1)! * 100) / 100 }
            : undefined,
      });
    }
  }

  console.log(
    `onnxruntime-node ${ort.env.versions.common}; ${rounds} alternating rounds of ${runs} inferences per model after 5 warm-up runs; input test/fixtures/person.jpg through FFmpeg\n`,
  );
  console.log('| model | input | threads | inferences/s | p50 ms | p99 ms | peak RSS MB | INT8 ÷ FP32 (rounds: median, min-max) |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rows)
    console.log(
      `| ${r.model} | ${r.size}×${r.size} | ${r.threads} | ${r.throughput} | ${r.p50} | ${r.p99} | ${r.peakRssMb} | ${r.ratio ? `${r.ratio.median} (${r.ratio.min}-${r.ratio.max})` : ''} |`,
    );

  // Small objects: the people each model finds in kite.jpg at each size.
  const kite = join(DARKNET_DATA, 'kite.jpg');
  const people: { model: string; size: number; people: number }[] = [];
  if (existsSync(kite)) {
    for (const size of [384, 512, 640])
      for (const model of ['fp32', 'int8'] as const) {
        const dets = await detectAll(MODELS[model], [await photo(kite, size, size)], { decoder: 'centernet', scoreThreshold: 0.3, nmsIou: 0.4, nmsClassAgnostic: true });
        people.push({ model: `centernet-${model}`, size, people: dets[0]!.filter((d) => d.classId === 0).length });
      }
    console.log(`\nPeople found in ${kite} (score >= 0.3, the bundled model's threshold):\n`);
    console.log('| model | 384×384 | 512×512 | 640×640 |');
    console.log('| --- | --- | --- | --- |');
    for (const model of ['centernet-fp32', 'centernet-int8'])
      console.log(`| ${model} | ${[384, 512, 640].map((s) => people.find((p) => p.model === model && p.size === s)!.people).join(' | ')} |`);
  } else console.log(`\n(${kite} is missing: apt-get install darknet for the small-object count)`);
  if (values.json) writeFileSync(values.json, JSON.stringify({ rounds, runs, rows, people }, null, 2));
}
