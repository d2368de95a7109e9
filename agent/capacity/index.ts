// `edgecam capacity`: measures this box's inference rate for the bundled models at the
// configured input size and threads (a few seconds each, with the agent's own detector on
// a frame of the bundled sample), and the cost of decoding SOURCE when one is set, then
// says how many cameras the box takes at DETECT_FPS (plan.ts).
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { Config } from '../config/index.js';
import { Capture, captureOptions } from '../capture/index.js';
import { withFirstFrame } from '../capture/probe.js';
import { autoThreads } from '../cores.js';
import { Detector } from '../detect/index.js';
import { detectorOptions } from '../detect/overrides.js';
import type { Frame } from '../frames/frame.js';
import type { Logger } from '../log.js';
import { BUNDLED_MODELS, BUNDLED_SAMPLE, modelName } from '../paths.js';
import { capacityPlan, capacityReport, type ModelMeasurement } from './plan.js';
import { UserError } from '../errors.js';

const WARMUP_RUNS = 3;

/** Runs the detectors together on `frame` for `seconds`, each with as many frames in flight as it takes; inferences a second in all, and the mean time of one. */
async function rate(detectors: Detector[], frame: Frame, seconds: number): Promise<{ perSecond: number; ms: number }> {
  for (const d of detectors) for (let i = 0; i < WARMUP_RUNS; i++) await d.detect(frame);
  let done = 0;
  let ms = 0;
  const until = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(
    detectors.map(async (d) => {
      const inFlight: Promise<unknown>[] = [];
      while (performance.now() < until) {
        await d.ready();
        inFlight.push(
          d.detect(frame).then((r) => {
            done++;
            ms += r.inferenceMs;
          }),
        );
        if (inFlight.length > 2) await inFlight.shift();
      }
      await Promise.all(inFlight);
    }),
  );
  return { perSecond: done / ((performance.now() - started) / 1000), ms: ms / Math.max(1, done) };
}

async function startDetectors(config: Config, modelPath: string, threads: number, n: number, log: Logger): Promise<Detector[]> {
  const detectors: Detector[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const d = new Detector({ ...detectorOptions({ ...config, MODEL: modelPath, DETECT_THREADS: threads }, log) });
      detectors.push(d);
      await d.start();
    }
    return detectors;
  } catch (err) {
    await Promise.all(detectors.map((d) => d.stop()));
    throw err;
  }
}

/** A frame of the bundled sample at the model's input size, copied out of the capture's pool. */
async function sampleFrame(config: Config, input: Detector['spec']['input'], log: Logger): Promise<Frame> {
  const source = { url: BUNDLED_SAMPLE, kind: 'file' as const, loop: false, realtime: false };
  const frame = await withFirstFrame({ source, width: input.width, height: input.height, resize: input.resize, ffmpegPath: config.FFMPEG_PATH, log }, (f) => ({
    ...f,
    data: Buffer.from(f.data),
  }));
  if (!frame) throw new UserError(`edgecam capacity: FFmpeg gave no frame of ${BUNDLED_SAMPLE}`);
  return frame;
}

/** A model's rates, and the input it takes (what the capture makes for it). */
async function measureModel(
  config: Config,
  modelPath: string,
  cores: number,
  seconds: number,
  log: Logger,
): Promise<{ measured: ModelMeasurement; input: Detector['spec']['input'] }> {
  const alone = await startDetectors(config, modelPath, config.DETECT_THREADS || autoThreads(), 1, log);
  let frame: Frame;
  let aloneRate: { perSecond: number; ms: number };
  try {
    frame = await sampleFrame(config, alone[0]!.spec.input, log);
    aloneRate = await rate(alone, frame, seconds);
  } finally {
    await Promise.all(alone.map((d) => d.stop()));
  }
  const full = await startDetectors(config, modelPath, 1, cores, log);
  try {
    const box = await rate(full, frame, seconds);
    const input = full[0]!.spec.input;
    return {
      measured: { model: modelName(modelPath), input: `${input.width}x${input.height}`, boxRate: box.perSecond, aloneRate: aloneRate.perSecond, aloneMs: aloneRate.ms },
      input,
    };
  } finally {
    await Promise.all(full.map((d) => d.stop()));
  }
}

/** CPU seconds used so far by this process's children (FFmpeg). */
function childrenCpuSeconds(): number {
  let total = 0;
  for (const task of readdirSync('/proc/self/task'))
    for (const pid of readFileSync(`/proc/self/task/${task}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)) {
      try {
        const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
        total += (Number(fields[11]) + Number(fields[12])) / 100;
      } catch {
        // Gone between the listing and the read.
      }
    }
  return total;
}

/** The share of a core that FFmpeg takes to read SOURCE as an instance among several does (its filters, DETECT_FPS, one decoding thread, in real time). */
async function decodeCost(config: Config, input: Detector['spec']['input'], seconds: number, log: Logger): Promise<number> {
  const options = captureOptions({ ...config, SOURCE_REALTIME: true }, input, undefined, log);
  const capture = new Capture({ ...options, source: { ...options.source, decoderThreads: 1 } });
  await capture.start();
  try {
    // The first frame: the source is open and FFmpeg past its start.
    if (!(await capture.next())) throw new UserError(`edgecam capacity: no frame from SOURCE; check it with edgecam check-config`);
    const cpu0 = childrenCpuSeconds();
    const t0 = performance.now();
    while (performance.now() - t0 < seconds * 1000) if (!(await capture.next())) break;
    return (childrenCpuSeconds() - cpu0) / ((performance.now() - t0) / 1000);
  } finally {
    await capture.stop();
  }
}

export async function capacityCommand(config: Config, seconds: number, log: Logger): Promise<number> {
  const cores = availableParallelism();
  const models = [BUNDLED_MODELS['centernet-int8'], BUNDLED_MODELS['centernet-fp32']];
  if (!models.includes(config.MODEL as (typeof models)[number])) models.push(config.MODEL as (typeof models)[number]);
  const measured: ModelMeasurement[] = [];
  let configuredInput: Detector['spec']['input'] | undefined;
  for (const m of models) {
    console.error(`edgecam capacity: measuring ${modelName(m)} (${seconds * 2} s)`);
    const r = await measureModel(config, m, cores, seconds, log);
    measured.push(r.measured);
    if (m === config.MODEL) configuredInput = r.input;
  }
  let decodeCores: number | undefined;
  if (config.SOURCE !== BUNDLED_SAMPLE && config.SOURCE_KIND !== 'lavfi') {
    console.error(`edgecam capacity: decoding SOURCE (${seconds} s)`);
    decodeCores = await decodeCost(config, configuredInput!, seconds, log);
  }
  const input = { cores, fps: config.DETECT_FPS, decodeCores, models: measured };
  console.log(capacityReport(input, capacityPlan(input), { threads: config.DETECT_THREADS || autoThreads(), source: config.SOURCE_KIND }));
  return 0;
}
