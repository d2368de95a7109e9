// Static INT8 quantization of a float ONNX model into a QDQ graph, the form onnxruntime
// fuses into integer kernels (QLinearConv, QLinearAdd, QLinearMul, ...: AVX2/AVX-512 VNNI
// on x86-64, dot-product instructions on Arm v8.2+ such as the Pi 5's Cortex-A76).
//
//   1. The float graph is first simplified by onnxruntime itself ("basic" level: constant
//      folding, and the NHWC<->NCHW Transpose pairs around each convolution cancelled),
//      so every operation reads and writes NCHW tensors that a Q/DQ pair can sit on; a
//      multiplication by a constant before a convolution (the 1/6 of a hard swish) is
//      folded into the convolution's weights.
//   2. Calibration: every activation that a quantizable operation (convolution, add,
//      multiply, concat, resize, pooling, ...) reads or writes is made a graph output, and
//      the model runs over the calibration images; each tensor's range is kept (see
//      `Calibration` for the method), and each convolution input's channel means.
//   3. Weights become int8, symmetric, one scale per output channel (widened where the
//      bias would not fit int32); biases int32 at the
//      scale of input x weight, corrected for the weights' rounding; activations uint8
//      with a zero point. Each activation gets Q -> DQ after its producer (a lone Relu or
//      Clip is folded into the range of the Q that follows it), so onnxruntime runs
//      DQ -> op -> Q groups as single integer kernels.
//   4. A depthwise convolution of a channel count that is not a multiple of 16 gets zero
//      channels up to the next one (exact), for onnxruntime's fast integer kernel.
//   5. Nodes named by `keepFloat` stay float; everything after `floatTail` stays float
//      too, or is quantized with the extremes seen as ranges (`tail: 'extremes'`).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import '../agent/detect/no-telemetry.js';
import ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
type ModelProto = InstanceType<typeof onnx.ModelProto>;
type NodeProto = onnxProto.onnx.INodeProto;
type TensorProto = onnxProto.onnx.ITensorProto;
const DT = onnx.TensorProto.DataType;

export interface CalibrationInput {
  /** The model's input tensor for one image, as the agent feeds it. */
  data: Uint8Array | Float32Array;
  dims: number[];
}

/**
 * How an activation's range is taken from the calibration runs:
 * - `minmax`: the extremes seen on any image. Nothing is clipped; one outlier pixel
 *   widens the step for all.
 * - `percentile`: per image, the value below which `percentile` % of the elements lie
 *   (and the mirror for the minimum), then the largest over images. Rare outliers are
 *   clipped in exchange for a finer step on the values that carry the signal.
 * - `mse`: a second pass builds each tensor's histogram over all images, and the range
 *   (the extremes scaled by 1.00, 0.99, ... 0.10) with the least expected squared error,
 *   clipping plus rounding, is kept: the trade the percentile makes blindly, measured.
 */
export interface Calibration {
  method: 'minmax' | 'percentile' | 'mse';
  percentile?: number;
}

export interface QuantizeOptions {
  calibration: Calibration;
  /** Nodes (of the simplified graph) to leave in float: their inputs are dequantized, their outputs not quantized. */
  keepFloat?: (node: NodeProto) => boolean;
  /** Nodes from which on the graph stays float: the output heads, whose values are the scores and boxes. */
  floatTail?: (node: NodeProto) => boolean;
  /**
   * What becomes of the nodes from `floatTail` on: `float` (the default) leaves them
   * float; `extremes` quantizes them with the extremes seen as ranges.
   */
  tail?: 'float' | 'extremes';
  /**
   * Activations (tensor names of the simplified graph) left in float: no Q/DQ pair, so
   * their readers compute in float. For measuring where the error comes from: all of them
   * float leaves only the weights' rounding.
   */
  floatActivations?: (name: string) => boolean;
  /** Statistics of an earlier run over the same model, inputs and method, instead of calibrating again. */
  statistics?: Statistics;
  /**
   * Activations' uint8 scales and zero points taken as they are instead of from the
   * calibrated ranges: those learned by training with the quantization in the loop
   * (scripts/distill.py). An activation not named here is calibrated.
   */
  params?: Map<string, ActivationParams>;
  /**
   * Take the weights' rounding error out of the biases (on by default). Off for weights
   * trained with their rounding in the loop, which have learned it already.
   */
  biasCorrection?: boolean;
  /**
   * A rewrite of the simplified graph, exact in float, before anything is calibrated or
   * planned (scripts/equalize.ts). Not run when no calibration inputs are given: a graph
   * made by an earlier plan (distilled weights) has had it already.
   */
  prepare?: (model: ModelProto, inputs: CalibrationInput[]) => Promise<unknown>;
  producerName?: string;
}

export interface QuantizeReport {
  convs: number;
  quantized: number;
  keptFloat: string[];
  activations: number;
}

/** Runs onnxruntime's hardware-independent "basic" optimisations and returns the graph it saved. */
export async function simplify(model: Uint8Array): Promise<ModelProto> {
  const dir = mkdtempSync(join(tmpdir(), 'edgecam-quantize-'));
  try {
    const out = join(dir, 'basic.onnx');
    const session = await ort.InferenceSession.create(model, { graphOptimizationLevel: 'basic', optimizedModelFilePath: out, intraOpNumThreads: 1 });
    await session.release();
    const proto = onnx.ModelProto.decode(readFileSync(out));
    // onnxruntime lists every domain it knows; the graph uses the default one only.
    const used = new Set(proto.graph!.node!.map((n) => n.domain ?? ''));
    proto.opsetImport = proto.opsetImport!.filter((o) => used.has(o.domain ?? ''));
    return proto;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Range {
  min: number;
  max: number;
}

export interface ActivationParams {
  scale: number;
  zeroPoint: number;
}

/** What the integer graph is built from, for training with its quantization in the loop. */
export interface QuantizationPlan {
  /** The float graph every Q/DQ pair is placed on (simplified, folded; ONNX bytes). */
  prepared: Uint8Array;
  /** Each quantized activation of `prepared` with its uint8 parameters. */
  activations: Map<string, ActivationParams>;
  /** Names of the convolutions of `prepared` whose weights become int8. */
  convs: string[];
}

export interface Statistics {
  ranges: Map<string, Range>;
  /** Mean of each channel (axis 1, NCHW) over all calibration inputs, for rank-4 tensors. */
  channelMeans: Map<string, Float64Array>;
  /** The smallest and largest value seen in each tensor, whatever the method. */
  extremes: Map<string, Range>;
}

/** The ranges and channel means of `tensors`, measured by running `model` over the calibration inputs. */
export async function calibrate(model: ModelProto, inputs: CalibrationInput[], tensors: string[], calibration: Calibration): Promise<Statistics> {
  const ranges = new Map<string, Range>();
  const seenExtremes = new Map<string, Range>();
  const channelMeans = new Map<string, Float64Array>();
  const bins = 2048;
  const hist = new Map(tensors.map((t) => [t, new Float64Array(bins)]));
  /** Each tensor's range, extremes and channel means. */
  const measure = (out: Outputs) => {
    for (const name of tensors) {
      const t = out[name]!;
      const data = t.data as Float32Array;
      const e = extremes(data);
      const r = calibration.method === 'minmax' ? e : percentileRange(data, calibration.percentile ?? 99.99);
      const seen = ranges.get(name);
      ranges.set(name, seen ? { min: Math.min(seen.min, r.min), max: Math.max(seen.max, r.max) } : r);
      const seenE = seenExtremes.get(name);
      seenExtremes.set(name, seenE ? { min: Math.min(seenE.min, e.min), max: Math.max(seenE.max, e.max) } : e);
      if (t.dims.length === 4) {
        const [, channels, h, w] = t.dims as [number, number, number, number];
        const means = channelMeans.get(name) ?? new Float64Array(channels);
        for (let c = 0; c < channels; c++) {
          let sum = 0;
          for (let i = c * h * w; i < (c + 1) * h * w; i++) sum += data[i]!;
          means[c]! += sum / (h * w) / inputs.length;
        }
        channelMeans.set(name, means);
      }
    }
  };
  /** Each tensor's histogram over its whole range (for `mse`). */
  const histogram = (out: Outputs) => {
    for (const name of tensors) {
      const data = out[name]!.data as Float32Array;
      const { min, max } = ranges.get(name)!;
      const h = hist.get(name)!;
      const width = (max - min) / bins || 1;
      for (let i = 0; i < data.length; i++) h[Math.min(bins - 1, Math.floor((data[i]! - min) / width))]!++;
    }
  };
  await runOver(model, tensors, inputs, measure, ...(calibration.method === 'mse' ? [histogram] : []));
  if (calibration.method === 'mse') {
    // The clipping range with the least expected squared error (clipping plus rounding).
    for (const name of tensors) {
      if (!ranges.has(name)) continue; // no input: nothing seen, no range
      const { min, max } = ranges.get(name)!;
      const h = hist.get(name)!;
      const width = (max - min) / bins || 1;
      let best = { min, max };
      let bestError = Infinity;
      for (let k = 100; k >= 10; k--) {
        const lo = Math.min(0, min) * (k / 100);
        const hi = Math.max(0, max) * (k / 100);
        const step = (hi - lo) / 255 || 1;
        let error = 0;
        for (let b = 0; b < bins; b++) {
          if (!h[b]) continue;
          const v = min + (b + 0.5) * width;
          const clipped = Math.min(hi, Math.max(lo, v));
          error += h[b]! * ((v - clipped) ** 2 + (step * step) / 12);
        }
        if (error < bestError) [bestError, best] = [error, { min: lo, max: hi }];
      }
      ranges.set(name, best);
    }
  }
  return { ranges, channelMeans, extremes: seenExtremes };
}

type Outputs = ort.InferenceSession.OnnxValueMapType;
/**
 * Runs `model` over `inputs` with `tensors` made graph outputs too (no optimisation, so
 * every one of them is computed as named), handing each input's outputs to the first of
 * `passes`, then, over the inputs again in the same session, to the next.
 */
export async function runOver(model: ModelProto, tensors: string[], inputs: CalibrationInput[], ...passes: ((out: Outputs) => void)[]): Promise<void> {
  const probe = onnx.ModelProto.decode(onnx.ModelProto.encode(model).finish());
  const existing = new Set(probe.graph!.output!.map((o) => o.name));
  for (const name of tensors) if (!existing.has(name)) probe.graph!.output!.push(onnx.ValueInfoProto.create({ name }));
  const session = await ort.InferenceSession.create(onnx.ModelProto.encode(probe).finish(), { graphOptimizationLevel: 'disabled', intraOpNumThreads: 2 });
  try {
    for (const each of passes)
      for (const input of inputs) {
        const type = input.data instanceof Uint8Array ? 'uint8' : 'float32';
        each(await session.run({ [session.inputNames[0]!]: new ort.Tensor(type, input.data, input.dims) }, tensors));
      }
  } finally {
    await session.release();
  }
}

function extremes(data: Float32Array): Range {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { min, max };
}

/** The `p`-th percentile from each end, from a 4096-bin histogram between the extremes: linear time, no copy. */
function percentileRange(data: Float32Array, p: number): Range {
  const { min, max } = extremes(data);
  if (max === min) return { min, max };
  const bins = 4096;
  const counts = new Uint32Array(bins);
  const width = (max - min) / bins;
  for (let i = 0; i < data.length; i++) counts[Math.min(bins - 1, Math.floor((data[i]! - min) / width))]!++;
  const cut = Math.floor(((100 - p) / 100) * data.length);
  let low = 0;
  for (let seen = 0; low < bins && seen + counts[low]! <= cut; low++) seen += counts[low]!;
  let high = bins - 1;
  for (let seen = 0; high > 0 && seen + counts[high]! <= cut; high--) seen += counts[high]!;
  return { min: min + low * width, max: min + (high + 1) * width };
}

/** Rounds outward to 4 significant digits, so float noise across machines gives the same scales. */
function roundOut(v: number, up: boolean): number {
  if (v === 0) return 0;
  const e = 10 ** (Math.floor(Math.log10(Math.abs(v))) - 3);
  return (up ? Math.ceil(v / e) : Math.floor(v / e)) * e;
}

/** uint8 scale and zero point for a range; 0 is always representable exactly. */
export function activationParams(range: Range): { scale: number; zeroPoint: number } {
  const min = Math.min(0, roundOut(range.min, false));
  const max = Math.max(0, roundOut(range.max, true));
  if (max === min) return { scale: 1, zeroPoint: 0 };
  const scale = Math.fround((max - min) / 255);
  return { scale, zeroPoint: Math.min(255, Math.max(0, Math.round(-min / scale))) };
}

/**
 * int8 per-output-channel symmetric weights (axis 0 of OIHW). `minScales`, per channel,
 * widens a channel's step where its bias would not fit int32 otherwise.
 */
export function quantizeWeights(w: Float32Array, outChannels: number, minScales?: Float64Array): { q: Int8Array; scales: Float32Array } {
  const per = w.length / outChannels;
  const q = new Int8Array(w.length);
  const scales = new Float32Array(outChannels);
  for (let c = 0; c < outChannels; c++) {
    let m = 0;
    for (let i = c * per; i < (c + 1) * per; i++) m = Math.max(m, Math.abs(w[i]!));
    const s = Math.fround(Math.max(m > 0 ? m / 127 : 1, minScales?.[c] ?? 0));
    scales[c] = s;
    for (let i = c * per; i < (c + 1) * per; i++) q[i] = Math.max(-127, Math.min(127, Math.round(w[i]! / s)));
  }
  return { q, scales };
}

export function floatValues(t: TensorProto): Float32Array {
  if (t.rawData?.length) return new Float32Array(new Uint8Array(t.rawData).buffer);
  return Float32Array.from(t.floatData ?? []);
}

/** `t` holds `values` from now on (as raw data). */
export function setFloatValues(t: TensorProto, values: Float32Array): void {
  t.rawData = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  t.floatData = [];
}

function tensor(name: string, dataType: number, dims: number[], view: ArrayBufferView): TensorProto {
  return onnx.TensorProto.create({ name, dataType, dims, rawData: new Uint8Array(view.buffer, view.byteOffset, view.byteLength) });
}

function attrInt(node: NodeProto, name: string, fallback: number): number {
  const a = node.attribute?.find((x) => x.name === name);
  return a ? Number(a.i) : fallback;
}

type Initializers = Map<string, TensorProto>;

/** A Mul or Add of one activation and one constant scalar: the activation's name and the scalar. */
export function scalarOperand(n: NodeProto, inits: Map<string, TensorProto>): { x: string; c: number } | undefined {
  const constant = n.input!.find((i) => inits.has(i));
  const x = n.input!.find((i) => !inits.has(i));
  if (!constant || !x) return undefined;
  const values = floatValues(inits.get(constant)!);
  return values.length === 1 ? { x, c: values[0]! } : undefined;
}

/** A Clip's bounds, ±Infinity where it has none. */
function clipBounds(n: NodeProto, inits: Initializers): [number, number] {
  const [lo, hi] = [1, 2].map((k, i) => {
    const b = n.input![k];
    return b && inits.has(b) ? floatValues(inits.get(b)!)[0]! : i ? Infinity : -Infinity;
  });
  return [lo!, hi!];
}

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

const INT32_MAX = 2 ** 31 - 1;
/** The largest |bias| in int32 steps a weight scale is chosen for: 2^24 leaves the bias correction and the accumulator room. */
const INT32_BIAS_LIMIT = 2 ** 24;
/**
 * y = x · c, c a constant scalar, read only by convolutions (the 1/6 of every hard swish
 * before the next layer), directly or through one more multiplication: the convolutions'
 * weights take the factor (W·(c·x) = (c·W)·x) and the multiplication goes, exactly,
 * before anything is quantized: one kernel and one rounding fewer per block.
 */
function foldScalarMultiplications(graph: onnxProto.onnx.IGraphProto): void {
  const inits = new Map(graph.initializer!.map((t) => [t.name!, t]));
  const readers = (name: string) => graph.node!.filter((n) => n.input!.includes(name));
  const outputs = new Set(graph.output!.map((o) => o.name));
  const removed = new Set<NodeProto>();
  for (const n of graph.node!) {
    const operand = n.opType === 'Mul' ? scalarOperand(n, inits) : undefined;
    const y = n.output![0]!;
    if (!operand || outputs.has(y)) continue;
    const { x, c: factor } = operand;
    // Through one more multiplication (a hard swish is (x · 1/6) · relu6(x + 3)): the factor
    // moves past it, to the convolutions that read its product.
    const next = readers(y);
    const through = next.length === 1 && next[0]!.opType === 'Mul' && next[0]!.input!.every((i) => !inits.has(i)) ? next[0]! : undefined;
    const target = through ? through.output![0]! : y;
    const convs = readers(target);
    if (outputs.has(target) || !convs.length) continue;
    if (!convs.every((c) => c.opType === 'Conv' && c.input![0] === target && inits.has(c.input![1]!) && readers(c.input![1]!).length === 1)) continue;
    for (const conv of convs) {
      const w = inits.get(conv.input![1]!)!;
      setFloatValues(
        w,
        Float32Array.from(floatValues(w), (v) => v * factor),
      );
    }
    if (through) through.input = through.input!.map((i) => (i === y ? x : i));
    else for (const conv of convs) conv.input![0] = x;
    removed.add(n);
  }
  graph.node = graph.node!.filter((n) => !removed.has(n));
}

/** Ops whose float outputs get a Q/DQ pair; onnxruntime runs each as a QLinear kernel when its inputs are DQs too. */
const QUANTIZABLE = new Set(['Conv', 'Add', 'Mul', 'Clip', 'Relu', 'Concat', 'Resize', 'GlobalAveragePool', 'MaxPool', 'Sigmoid']);
/** Ops that move values without computing new ones: their output takes their input's quantization. */
const SAME_PARAMS = new Set(['Resize', 'MaxPool']);

/** Quantizes `floatModel` (ONNX bytes) with the calibration inputs; returns the QDQ model's bytes. */
export async function quantize(
  floatModel: Uint8Array,
  inputs: CalibrationInput[],
  options: QuantizeOptions,
): Promise<{ bytes: Uint8Array; report: QuantizeReport; statistics: Statistics; activations: string[]; plan: QuantizationPlan }> {
  const model = await simplify(floatModel);
  const graph = model.graph!;
  toGlobalAveragePool(graph);
  foldScalarMultiplications(graph);
  // The constants those rewrites left unread (a ReduceMean's axes, a 1/6) go, so no session
  // over this graph warns of them.
  const used = new Set(graph.node!.flatMap((n) => n.input!));
  graph.initializer = graph.initializer!.filter((t) => used.has(t.name!));
  if (options.prepare && inputs.length) await options.prepare(model, inputs);
  const prepared = onnx.ModelProto.encode(model).finish();
  const inits = new Map(graph.initializer!.map((t) => [t.name!, t]));
  const consumers = new Map<string, NodeProto[]>();
  for (const n of graph.node!) for (const i of n.input!) if (i) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  const producer = new Map<string, NodeProto>();
  for (const n of graph.node!) for (const o of n.output!) producer.set(o, n);

  // Convolutions kept in float, and everything downstream of them, stay as they are.
  const convs = graph.node!.filter((n) => n.opType === 'Conv');
  const keptFloat = new Set(graph.node!.filter((n) => QUANTIZABLE.has(n.opType!) && options.keepFloat?.(n)));
  /** Adds to `set` every node downstream of `n`. */
  const visit = (n: NodeProto, set: Set<NodeProto>) => {
    for (const o of n.output!)
      for (const c of consumers.get(o) ?? []) {
        if (set.has(c)) continue;
        set.add(c);
        visit(c, set);
      }
  };
  const tail = new Set<NodeProto>();
  for (const n of graph.node!) {
    if (!options.floatTail?.(n)) continue;
    tail.add(n);
    visit(n, tail);
  }
  // Integer arithmetic (shape and index computations) is never quantized.
  const integer = new Set<NodeProto>();
  for (const n of graph.node!) if (['Shape', 'TopK', 'Equal', 'Gather'].includes(n.opType!) || (n.opType === 'Cast' && attrInt(n, 'to', DT.FLOAT) !== DT.FLOAT)) visit(n, integer);
  const tailQuantized = options.tail === 'extremes';
  const quantizedNodes = graph.node!.filter((n) => QUANTIZABLE.has(n.opType!) && !keptFloat.has(n) && !integer.has(n) && (tailQuantized || !tail.has(n)));
  const inRegion = new Set(quantizedNodes);

  // The activations to quantize: every float input and output of those nodes, except an
  // output read only by a Relu or Clip in the region (the Q after that activation stands for both).
  const activations = new Set<string>();
  for (const n of quantizedNodes) {
    const dataInputs = n.opType === 'Conv' ? [n.input![0]!] : n.opType === 'Clip' || n.opType === 'Resize' ? [n.input![0]!] : n.input!;
    for (const i of dataInputs) if (i && !inits.has(i)) activations.add(i);
    const out = n.output![0]!;
    const next = consumers.get(out) ?? [];
    const folded = next.length === 1 && (next[0]!.opType === 'Relu' || next[0]!.opType === 'Clip') && inRegion.has(next[0]!);
    if (!folded) activations.add(out);
  }
  for (const name of [...activations]) {
    const p = producer.get(name);
    if (p && inRegion.has(p) && (consumers.get(name) ?? []).every((c) => c.opType === 'Relu' || c.opType === 'Clip') && p.opType !== 'Relu' && p.opType !== 'Clip') {
      if ((consumers.get(name) ?? []).every((c) => inRegion.has(c))) activations.delete(name);
    }
  }
  const names = [...activations];
  // Activations whose parameters are given need no calibration; with all of them given, none runs.
  const uncalibrated = names.filter((n) => !options.params?.has(n));
  const statistics = options.statistics ?? (await calibrate(model, inputs, uncalibrated, options.calibration));
  // Rewritten below (bounds, shared scales): a copy, so the statistics can serve another run.
  const ranges = new Map(statistics.ranges);
  const { extremes: seen } = statistics;
  const channelMeans = padDepthwiseChannels(graph, { inits, consumers, producer }, new Map(statistics.channelMeans));
  if (tailQuantized) {
    // The tail's values are the model's answers (scores, box sizes): the rare large ones are
    // the ones that matter, so their ranges are the extremes seen, not the method's choice.
    for (const n of tail) for (const o of n.output!) if (seen.has(o)) ranges.set(o, seen.get(o)!);
    for (const n of quantizedNodes) {
      if (n.opType !== 'Sigmoid') continue;
      const x = n.input![0]!;
      const r = ranges.get(x);
      if (!r) continue;
      // Logits beyond ±8 all become 0 or 1 within a uint8 step of the sigmoid's output
      // (1/255): a sigmoid's input needs no wider range, and its output is the image of it.
      if ((consumers.get(x) ?? []).every((c) => c.opType === 'Sigmoid')) ranges.set(x, { min: Math.max(r.min, -8), max: Math.min(r.max, 8) });
      const bounded = ranges.get(x)!;
      ranges.set(n.output![0]!, { min: sigmoid(bounded.min), max: sigmoid(bounded.max) });
    }
  }

  // A Relu or Clip that a Q replaces bounds the range, so the Q saturates where it did.
  for (const n of quantizedNodes) {
    if (n.opType !== 'Relu' && n.opType !== 'Clip') continue;
    const r = ranges.get(n.output![0]!);
    if (!r) continue;
    const bounds = n.opType === 'Relu' ? [0, Infinity] : clipBounds(n, inits);
    ranges.set(n.output![0]!, { min: Math.max(r.min, bounds[0]!), max: Math.min(r.max, bounds[1]!) });
  }
  // x → Add(c) → Clip(lo, hi), x read by nothing else (a hard sigmoid): values of x outside
  // [lo − c, hi − c] all end up at a bound, so x's range needs no more than that, and its
  // 256 steps go where the Clip passes values through.
  for (const n of quantizedNodes) {
    const operand = n.opType === 'Add' ? scalarOperand(n, inits) : undefined;
    const next = consumers.get(n.output![0]!) ?? [];
    if (!operand || next.length !== 1 || next[0]!.opType !== 'Clip' || !inRegion.has(next[0]!)) continue;
    const { x, c } = operand;
    if ((consumers.get(x) ?? []).length !== 1) continue;
    const [lo, hi] = clipBounds(next[0]!, inits);
    const r = ranges.get(x);
    if (r) ranges.set(x, { min: Math.max(r.min, lo - c), max: Math.min(r.max, hi - c) });
  }
  // Resize and MaxPool pick or blend input values: one scale for both sides lets onnxruntime run them on uint8.
  for (const n of quantizedNodes) {
    if (!SAME_PARAMS.has(n.opType!)) continue;
    const a = ranges.get(n.input![0]!);
    const b = ranges.get(n.output![0]!);
    if (a && b) ranges.set(n.input![0]!, { min: Math.min(a.min, b.min), max: Math.max(a.max, b.max) });
    if (a && b) ranges.set(n.output![0]!, ranges.get(n.input![0]!)!);
  }

  const added: NodeProto[] = [];
  const newInits: TensorProto[] = [];
  const params = new Map<string, { scale: string; zp: string; scaleValue: number; zeroPoint: number }>();
  const qParams = (name: string, range = ranges.get(name)) => {
    let p = params.get(name);
    if (!p) {
      const given = options.params?.get(name);
      if (!given && !range) throw new Error(`no range for ${name}: not calibrated, and not among the given parameters`);
      const { scale, zeroPoint } = given ?? activationParams(range!);
      p = { scale: `${name}/scale`, zp: `${name}/zero_point`, scaleValue: scale, zeroPoint };
      newInits.push(tensor(p.scale, DT.FLOAT, [], new Float32Array([scale])), tensor(p.zp, DT.UINT8, [], new Uint8Array([zeroPoint])));
      params.set(name, p);
    }
    return p;
  };
  const quantized = new Map<string, string>();
  const quantizedOf = (name: string) => {
    let q = quantized.get(name);
    if (!q) {
      const p = qParams(name);
      q = `${name}/quantized`;
      added.push(onnx.NodeProto.create({ opType: 'QuantizeLinear', input: [name, p.scale, p.zp], output: [q], name: `${name}/QuantizeLinear` }));
      quantized.set(name, q);
    }
    return q;
  };
  let dqCount = 0;
  /** A DequantizeLinear for one consumer: onnxruntime groups nodes around unshared DQs. */
  const dequantized = (name: string) => {
    const p = qParams(name);
    const out = `${name}/dequantized__${dqCount++}`;
    added.push(onnx.NodeProto.create({ opType: 'DequantizeLinear', input: [quantizedOf(name), p.scale, p.zp], output: [out], name: out }));
    return out;
  };
  const axis0 = [onnx.AttributeProto.create({ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 0 })];
  /** A constant operand of an Add or Mul, as uint8 with its own scale. */
  const constantDequantized = (name: string) => {
    const values = floatValues(inits.get(name)!);
    const { scale, zeroPoint } = activationParams(extremes(values));
    const q = Uint8Array.from(values, (v) => Math.max(0, Math.min(255, Math.round(v / scale) + zeroPoint)));
    const base = `${name}/uint8__${dqCount++}`;
    newInits.push(
      tensor(base, DT.UINT8, inits.get(name)!.dims!.map(Number), q),
      tensor(`${base}/scale`, DT.FLOAT, [], new Float32Array([scale])),
      tensor(`${base}/zero_point`, DT.UINT8, [], new Uint8Array([zeroPoint])),
    );
    added.push(
      onnx.NodeProto.create({ opType: 'DequantizeLinear', input: [base, `${base}/scale`, `${base}/zero_point`], output: [`${base}/dequantized`], name: `${base}/dequantized` }),
    );
    return `${base}/dequantized`;
  };

  // Every reader of a quantized activation reads its own dequantized copy.
  const graphOutputs = new Set(graph.output!.map((o) => o.name));
  for (const name of names) {
    if (graphOutputs.has(name)) continue;
    if (options.floatActivations?.(name)) {
      qParams(name); // the scale a convolution's int32 bias is stored at
      continue;
    }
    for (const consumer of consumers.get(name) ?? []) consumer.input = consumer.input!.map((i) => (i === name ? dequantized(name) : i));
  }
  // Constant operands, weights and biases.
  let quantizedConvs = 0;
  for (const n of quantizedNodes) {
    if (n.opType === 'Add' || n.opType === 'Mul') {
      n.input = n.input!.map((i) => (inits.has(i) ? constantDequantized(i) : i));
      continue;
    }
    if (n.opType !== 'Conv') continue;
    quantizedConvs++;
    const w = inits.get(n.input![1]!)!;
    const outChannels = Number(w.dims![0]);
    const input = n.input![0]!.replace(/\/dequantized__\d+$/, '');
    const sx = params.get(input)!.scaleValue;
    const floatBias = n.input![2] ? floatValues(inits.get(n.input![2])!) : new Float32Array(outChannels);
    // The bias is stored as int32 in steps of (weight scale × input scale). An input that is
    // almost always zero (a squeeze-and-excitation branch whose Relu never fires on the
    // calibration images) has a tiny step, and a bias of 1 would need more than 2^31 of
    // them; such a channel's weight step is widened until its bias fits, with room to spare.
    const minScales = Float64Array.from(floatBias, (b) => Math.abs(b) / (sx * INT32_BIAS_LIMIT));
    const { q, scales } = quantizeWeights(floatValues(w), outChannels, minScales);
    const wName = `${w.name}/int8`;
    newInits.push(
      tensor(wName, DT.INT8, w.dims!.map(Number), q),
      tensor(`${wName}/scale`, DT.FLOAT, [outChannels], scales),
      tensor(`${wName}/zero_point`, DT.INT8, [outChannels], new Int8Array(outChannels)),
    );
    const wDq = `${wName}/dequantized__${dqCount++}`;
    added.push(onnx.NodeProto.create({ opType: 'DequantizeLinear', input: [wName, `${wName}/scale`, `${wName}/zero_point`], output: [wDq], name: wDq, attribute: axis0 }));
    // Bias correction: rounding the weights shifts each output by (Wq - W)·E[x]. Inputs with
    // a large mean (the first layers see raw pixel levels) under zero-sum filters (edges)
    // turn that into a visible offset, so it is taken out of the bias.
    const float = floatValues(w);
    const b = Float32Array.from(floatBias);
    const means = options.biasCorrection === false ? undefined : channelMeans.get(input);
    if (means) {
      const per = float.length / outChannels;
      const [, inPerGroup, kh, kw] = w.dims!.map(Number) as [number, number, number, number];
      const outPerGroup = outChannels / attrInt(n, 'group', 1);
      for (let o = 0; o < outChannels; o++) {
        const group = Math.floor(o / outPerGroup);
        let shift = 0;
        for (let k = 0; k < per; k++) {
          const channel = group * inPerGroup + Math.floor(k / (kh * kw));
          shift += (q[o * per + k]! * scales[o]! - float[o * per + k]!) * means[channel]!;
        }
        b[o]! -= shift;
      }
    }
    const convInputs = [n.input![0]!, wDq];
    {
      const bScales = Float32Array.from(scales, (s) => Math.fround(s * sx));
      const bq = Int32Array.from(b, (v, c) => Math.max(-INT32_MAX, Math.min(INT32_MAX, Math.round(v / bScales[c]!))));
      const bName = `${n.input![2] || `${n.name}/bias`}/int32__${dqCount++}`;
      newInits.push(
        tensor(bName, DT.INT32, [outChannels], bq),
        tensor(`${bName}/scale`, DT.FLOAT, [outChannels], bScales),
        tensor(`${bName}/zero_point`, DT.INT32, [outChannels], new Int32Array(outChannels)),
      );
      added.push(
        onnx.NodeProto.create({
          opType: 'DequantizeLinear',
          input: [bName, `${bName}/scale`, `${bName}/zero_point`],
          output: [`${bName}/dequantized`],
          name: `${bName}/dequantized`,
          attribute: axis0,
        }),
      );
      convInputs.push(`${bName}/dequantized`);
    }
    n.input = convInputs;
  }

  // Float weights no longer read by anything are dropped.
  const all = [...graph.node!, ...added];
  const read = new Set(all.flatMap((n) => n.input!));
  graph.initializer = [...graph.initializer!, ...newInits].filter((t) => read.has(t.name!));
  graph.node = topologicalSort(all, new Set([...graph.input!.map((i) => i.name!), ...graph.initializer.map((t) => t.name!)]));
  graph.valueInfo = [];
  model.producerName = options.producerName ?? 'edgecam scripts/quantize.ts';
  model.producerVersion = '';
  return {
    bytes: onnx.ModelProto.encode(model).finish(),
    report: { convs: convs.length, quantized: quantizedConvs, keptFloat: [...keptFloat].filter((n) => n.opType === 'Conv').map((n) => n.name!), activations: names.length },
    statistics,
    activations: names,
    plan: {
      prepared,
      activations: new Map(
        names.filter((n) => !graphOutputs.has(n) && !options.floatActivations?.(n)).map((n) => [n, { scale: params.get(n)!.scaleValue, zeroPoint: params.get(n)!.zeroPoint }]),
      ),
      convs: quantizedNodes.filter((n) => n.opType === 'Conv').map((n) => n.name!),
    },
  };
}

/**
 * writer conv → [Relu|Clip]* → depthwise conv → [Relu|Clip]* → reader conv, each tensor
 * read once, with a channel count that is not a multiple of 16: the channels are padded to
 * the next multiple with zero filters (the writer's extra outputs are 0, the depthwise
 * passes 0, the reader gives them zero weights), exactly the same in float. onnxruntime's
 * fast int8 depthwise kernel on x86-64 takes multiples of 16 channels only (of 8 on Arm).
 * Done after calibration: the ranges are those of the real channels, and the padded
 * tensors' channel means get zeros. Returns the channel means so extended.
 */
function padDepthwiseChannels(
  graph: onnxProto.onnx.IGraphProto,
  { inits, consumers: readers, producer }: { inits: Initializers; consumers: Map<string, NodeProto[]>; producer: Map<string, NodeProto> },
  channelMeans: Map<string, Float64Array>,
): Map<string, Float64Array> {
  const passThrough = (n: NodeProto | undefined) => n?.opType === 'Relu' || n?.opType === 'Clip';
  const readOnce = (t: string) => (readers.get(t) ?? []).length === 1;
  const plainConv = (n: NodeProto | undefined) => n?.opType === 'Conv' && attrInt(n, 'group', 1) === 1 && inits.has(n.input![1]!);
  /** `t`'s values with `pad` zero blocks of `block` values inserted after every `run` of them. */
  const padded = (t: TensorProto, run: number, block: number, dims: number[]) => {
    const old = floatValues(t);
    const out = new Float32Array((old.length / run) * (run + block));
    for (let k = 0; k < old.length / run; k++) out.set(old.subarray(k * run, (k + 1) * run), k * (run + block));
    setFloatValues(t, out);
    t.dims = dims;
  };
  for (const d of graph.node!) {
    const dw = d.opType === 'Conv' ? inits.get(d.input![1]!) : undefined;
    const [c, perGroup, kh, kw] = (dw?.dims ?? []).map(Number) as [number, number, number, number];
    if (!dw || perGroup !== 1 || attrInt(d, 'group', 1) !== c || c % 16 === 0) continue;
    const tensors = [d.output![0]!];
    let input = d.input![0]!;
    while (passThrough(producer.get(input)) && readOnce(input)) {
      tensors.push(input);
      input = producer.get(input)!.input![0]!;
    }
    let output = d.output![0]!;
    while (readOnce(output) && passThrough(readers.get(output)![0])) {
      output = readers.get(output)![0]!.output![0]!;
      tensors.push(output);
    }
    const writer = producer.get(input);
    const reader = readOnce(output) ? readers.get(output)![0] : undefined;
    if (!plainConv(writer) || !readOnce(input) || !plainConv(reader)) continue;
    tensors.push(input);
    const pad = Math.ceil(c / 16) * 16 - c;
    const ww = inits.get(writer!.input![1]!)!;
    const wDims = ww.dims!.map(Number);
    const wPer = wDims.slice(1).reduce((a, b) => a * b, 1);
    padded(ww, c * wPer, pad * wPer, [c + pad, ...wDims.slice(1)]);
    padded(dw, c * kh * kw, pad * kh * kw, [c + pad, 1, kh, kw]);
    for (const conv of [writer!, d]) if (conv.input![2]) padded(inits.get(conv.input![2])!, c, pad, [c + pad]);
    d.attribute!.find((a) => a.name === 'group')!.i = c + pad;
    const rw = inits.get(reader!.input![1]!)!;
    const [co, , rkh, rkw] = rw.dims!.map(Number) as [number, number, number, number];
    padded(rw, c * rkh * rkw, pad * rkh * rkw, [co, c + pad, rkh, rkw]);
    for (const t of tensors) {
      const means = channelMeans.get(t);
      if (means)
        channelMeans.set(
          t,
          Float64Array.from({ length: c + pad }, (_, k) => means[k] ?? 0),
        );
    }
  }
  return channelMeans;
}

/** ReduceMean over H and W keeping dims is GlobalAveragePool, which has a uint8 kernel. */
function toGlobalAveragePool(graph: onnxProto.onnx.IGraphProto): void {
  const inits = new Map(graph.initializer!.map((t) => [t.name!, t]));
  for (const n of graph.node!) {
    if (n.opType !== 'ReduceMean' || attrInt(n, 'keepdims', 1) !== 1) continue;
    const axesInit = n.input![1] ? inits.get(n.input![1]) : undefined;
    const axes = axesInit ? Array.from(new BigInt64Array(new Uint8Array(axesInit.rawData!).buffer), Number) : [];
    if (axes.join() !== '2,3') continue;
    n.opType = 'GlobalAveragePool';
    n.input = [n.input![0]!];
    n.attribute = [];
  }
}

/** Orders nodes so each comes after the producers of its inputs (stable for the original order). */
function topologicalSort(nodes: NodeProto[], available: Set<string>): NodeProto[] {
  const ready = new Set(available);
  ready.add('');
  const out: NodeProto[] = [];
  let pending = nodes;
  while (pending.length) {
    const next: NodeProto[] = [];
    for (const n of pending) {
      if (n.input!.every((i) => ready.has(i))) {
        out.push(n);
        for (const o of n.output!) ready.add(o);
      } else next.push(n);
    }
    if (next.length === pending.length) throw new Error(`graph has a cycle or a missing input at ${next[0]!.name}`);
    pending = next;
  }
  return out;
}
