// Detect stage: one onnxruntime session; frame in, detections in source pixels out.
// The worker loads onnxruntime; the variable that turns its telemetry off must be in the
// process's own environment, which only the main thread can change.
import './no-telemetry.js';
import type ort from 'onnxruntime-node';
import { Worker } from 'node:worker_threads';
import type { WorkerReply, WorkerRequest } from './worker.js';
import { autoThreads } from '../cores.js';
import { UserError } from '../errors.js';
import type { Logger } from '../log.js';
import { toSourceBox, type Frame } from '../frames/frame.js';
import { describeBox } from '../frames/appearance.js';
import { DECODER_KEYS, DECODERS, detectDecoder, type Decoder, type DecoderKey, type OutputTensor } from './decoders/index.js';
import { modelDescription, readLabels, resolveModelSpec, type InputOverrides, type ModelSpec } from './manifest.js';
import { nms } from './nms.js';
import { detectedClasses } from '../track/classes.js';
import { allocateInput, fillInput, inputDims, type InputArray } from './preprocess.js';

export interface Detection {
  className: string;
  classId: number;
  score: number;
  /** x1, y1, x2, y2 in source-frame pixels. */
  box: [number, number, number, number];
  /** Colour descriptor of the box in the frame the model saw (frames/appearance.ts), when asked for and the box is large enough. */
  appearance?: Float32Array;
}

export interface DetectResult {
  detections: Detection[];
  inferenceMs: number;
}

/** Frames in inference at once: one running in the worker, the next one waiting there. */
export const PIPELINE_DEPTH = 2;

/** A setting that names classes the model does not know is a configuration error naming them and the model's. */
export function checkKnownClasses(setting: string, classes: readonly string[], labels: readonly string[]): void {
  const unknown = classes.filter((c) => !labels.includes(c));
  if (unknown.length) throw new UserError(`${setting}: unknown class ${unknown.map((c) => `"${c}"`).join(', ')} (this model knows: ${labels.join(', ')})`);
}

export interface DetectorOptions {
  modelPath: string;
  /** 0: one per core. */
  threads: number;
  scoreThreshold: number;
  nmsIou: number;
  nmsClassAgnostic: boolean;
  /** Class names to keep; empty keeps all. */
  classes: string[];
  /** Describe each detection's colours for the tracker (a copy of each frame's pixels is kept while it is in inference). */
  appearance?: boolean;
  overrides?: InputOverrides;
  log: Logger;
}

/**
 * The session options the agent and the benchmarks share (`npm run bench:model` measures
 * each choice): full graph optimisation (half the time of "basic"); the CPU arena (6-9 %
 * faster than plain malloc, and 40-55 MB less RSS); no memory pattern (pre-planned
 * activation buffers make the bundled model 2 % faster for ~40 MB more RSS, a bad trade
 * on a Pi).
 */
export function sessionOptions(threads: number): ort.InferenceSession.SessionOptions {
  return {
    intraOpNumThreads: threads || autoThreads(),
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    enableCpuMemArena: true,
    enableMemPattern: false,
  };
}

export class Detector {
  spec!: ModelSpec;
  /** Name, precision and input size, as users see them. */
  description = '';
  decoderKey!: DecoderKey;
  private worker: Worker | undefined;
  private decoder!: Decoder;
  /** Input tensors not in the worker; PIPELINE_DEPTH of them in all. */
  private readonly free: InputArray[] = [];
  private readonly inputWaiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  private failure: Error | undefined;
  private dims: number[] = [];
  private keep: Set<number> | undefined;
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (r: WorkerReply) => void; reject: (e: Error) => void }>();

  private readonly options: DetectorOptions;

  constructor(options: DetectorOptions) {
    this.options = { ...options };
  }

  async start(): Promise<void> {
    try {
      await this.open();
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  private async open(): Promise<void> {
    const { modelPath, log } = this.options;
    const worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: { modelPath, options: sessionOptions(this.options.threads) } });
    this.worker = worker;
    const ready = await new Promise<{ ready: boolean; error?: string; inputMetadata?: ort.InferenceSession.ValueMetadata[] }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    if (!ready.ready) {
      await worker.terminate();
      this.worker = undefined;
      throw new UserError(`MODEL=${modelPath}: onnxruntime cannot load it (${ready.error}); give an .onnx detection model`);
    }
    worker.on('message', (reply: WorkerReply) => {
      const waiter = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      waiter?.resolve(reply);
    });
    worker.on('error', (err) => this.fail(err));
    const meta = ready.inputMetadata![0];
    if (!meta || !meta.isTensor) throw new UserError(`MODEL=${modelPath}: the model has no tensor input`);
    this.spec = resolveModelSpec(modelPath, { name: meta.name, type: meta.type, shape: meta.shape }, this.options.overrides);
    for (let i = 0; i < PIPELINE_DEPTH; i++) this.free.push(allocateInput(this.spec.input));
    this.dims = inputDims(this.spec.input);
    this.keep = this.classFilter();

    // Warm-up: the first run allocates and optimises; it also shows the output shapes.
    const started = performance.now();
    const outputs = (await this.run(this.free.pop()!)).outputs;
    const key = this.spec.decoder ?? detectDecoder(outputs);
    if (!key) {
      const shapes = [...outputs].map(([name, t]) => `${name} [${t.dims.join(',')}]`).join(', ');
      throw new UserError(`MODEL=${modelPath}: output layout ${shapes} matches no known decoder; set MODEL_DECODER to one of ${DECODER_KEYS.join(', ')}`);
    }
    this.decoderKey = key;
    this.decoder = DECODERS[key];
    if (this.spec.labelsDefaulted && this.decoder.defaultLabels) {
      this.spec.labels = readLabels(this.decoder.defaultLabels);
      this.keep = this.classFilter();
    }
    const { width, height, layout, dtype, resize } = this.spec.input;
    this.description = modelDescription(modelPath, this.spec.precision, width, height);
    log.info(
      { model: this.description, path: modelPath, decoder: key, input: `${width}x${height} ${layout} ${dtype}`, resize, warmupMs: Math.round(performance.now() - started) },
      'model loaded',
    );
  }

  /** Changes the score threshold at run time (remote command). */
  setScoreThreshold(threshold: number): void {
    this.options.scoreThreshold = threshold;
  }

  /** Changes the class filter at run time (remote command); unknown names are refused. */
  setClasses(classes: string[]): void {
    const previous = this.options.classes;
    this.options.classes = classes;
    try {
      this.keep = this.classFilter();
    } catch (err) {
      this.options.classes = previous;
      throw err;
    }
  }

  /** Resolves when detect() can take another frame (fewer than PIPELINE_DEPTH in flight). */
  async ready(): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.free.length) return;
    await new Promise<void>((resolve, reject) => this.inputWaiters.push({ resolve, reject }));
  }

  /**
   * Detects objects in a frame from the capture stage. The pixels are copied into an
   * input tensor before this returns, so the frame's buffer may be reused at once;
   * the result comes when the worker has run the model. Results come in call order.
   * Up to PIPELINE_DEPTH frames may be in flight: await ready() before each call.
   */
  detect(frame: Frame): Promise<DetectResult> {
    if (this.failure) return Promise.reject(this.failure);
    const input = this.free.pop();
    if (!input) return Promise.reject(new Error(`detect(): more than ${PIPELINE_DEPTH} frames in flight; await ready() first`));
    fillInput(frame.data, this.spec.input, input);
    const { transform, sourceWidth, sourceHeight } = frame;
    // The frame's buffer is reused once this returns: its pixels are kept for the descriptors.
    const pixels = this.options.appearance ? this.keepPixels(frame) : undefined;
    return this.run(input).then(({ outputs, ms: inferenceMs }) => {
      const { width, height } = this.spec.input;
      const candidates = this.decoder.decode(outputs, { inputWidth: width, inputHeight: height, scoreThreshold: this.options.scoreThreshold, classIdBase: this.spec.classIdBase });
      const kept = nms(this.keep ? candidates.filter((c) => this.keep!.has(c.classId)) : candidates, this.options.nmsIou, this.options.nmsClassAgnostic);
      const detections = kept.map((c) => ({
        className: this.spec.labels[c.classId] ?? `class_${c.classId}`,
        classId: c.classId,
        score: c.score,
        box: toSourceBox(c.box, transform, sourceWidth, sourceHeight),
        appearance: pixels && describeBox(pixels, frame.width, frame.height, c.box),
      }));
      if (pixels) this.pixelPool.push(pixels);
      return { detections, inferenceMs };
    });
  }

  async stop(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    if (!worker) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.postMessage('release');
    const timer = setTimeout(() => void worker.terminate(), 2000);
    await exited;
    clearTimeout(timer);
    this.fail(new Error('detector stopped'));
  }

  /** One inference in the worker: the input buffer travels there and back without a copy. */
  private async run(input: InputArray): Promise<{ outputs: Map<string, OutputTensor>; ms: number }> {
    const worker = this.worker;
    if (!worker) throw new Error('detector is not started');
    const id = this.nextId++;
    const reply = await new Promise<WorkerReply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      const request: WorkerRequest = { id, input: this.spec.input.name, type: this.spec.input.dtype, dims: this.dims, data: input };
      worker.postMessage(request, [input.buffer as ArrayBuffer]);
    });
    this.free.push(reply.data);
    this.inputWaiters.shift()?.resolve();
    if ('error' in reply) throw new Error(`inference failed: ${reply.error}`);
    return { outputs: new Map(reply.outputs.map((o) => [o.name, { dims: o.dims, data: o.data }])), ms: reply.ms };
  }

  private readonly pixelPool: Buffer[] = [];

  private keepPixels(frame: Frame): Buffer {
    let copy = this.pixelPool.pop();
    if (!copy || copy.length !== frame.data.length) copy = Buffer.allocUnsafe(frame.data.length);
    frame.data.copy(copy);
    return copy;
  }

  /** The worker is gone: every frame in flight and every waiter fails. */
  private fail(err: Error): void {
    this.failure ??= err;
    for (const w of this.pending.values()) w.reject(err);
    this.pending.clear();
    for (const w of this.inputWaiters.splice(0)) w.reject(err);
  }

  private classFilter(): Set<number> | undefined {
    const { classes } = this.options;
    if (!classes.length) return undefined;
    checkKnownClasses('CLASSES', classes, this.spec.labels);
    // A rider is counted as its two-wheeler: people and two-wheelers are detected together, and CLASSES filters tracks after.
    return new Set(
      detectedClasses(classes)
        .map((c) => this.spec.labels.indexOf(c))
        .filter((i) => i >= 0),
    );
  }
}
