// Per-channel equalisation of a hard swish's input, for a graph quantized per tensor.
//
// A convolution's output channels can differ in level a hundredfold; one uint8 scale for
// all of them leaves the quiet ones a few steps, and the convolution after multiplies
// their rounding back up. Rescaling channels across layers, the usual cure, needs an
// activation that commutes with a positive factor (a Relu does); a hard swish does not:
// hswish(k·x) ≠ k·hswish(x). But its two factors can be given different scales:
//
//   hswish(x) = (x · 1/6) · relu6(x + 3)
//   k·hswish(x) = (u · 1/6) · relu6(u · 1/k + 3),   u = k·x
//
// So the convolution writes u = k·x (its weights and bias times k, per output channel:
// exact), one multiplication by the constant 1/k gives the clip its x back, and the hard
// swish's output is k times the old one, which every reader takes back: a convolution
// divides its weights by k per input channel; a residual addition has the convolution on
// its other side write k times its output too, and the readers of the sum divide. Every
// step is exact in float. The quantized tensors are u (levels evened out) and the
// product; x itself is quantized only on its way into the clip, where a step's error
// matters against the clip's span of 6, not against the channel's own level.
import onnxProto from 'onnx-proto';
import { floatValues, runOver, scalarOperand, setFloatValues, type CalibrationInput } from './quantize.js';

const { onnx } = onnxProto;
type ModelProto = InstanceType<typeof onnx.ModelProto>;
type NodeProto = onnxProto.onnx.INodeProto;
type TensorProto = onnxProto.onnx.ITensorProto;

export interface Equalization {
  conv: string;
  /** Each output channel's factor k. */
  factors: number[];
}

/** The hard swish reading conv's output, and where its factor must be taken back; undefined if the graph is not of that shape. */
function plan(graph: onnxProto.onnx.IGraphProto, conv: NodeProto) {
  const inits = new Map(graph.initializer!.map((t) => [t.name!, t]));
  const readers = (name: string) => graph.node!.filter((n) => n.input!.includes(name));
  const producer = (name: string) => graph.node!.find((n) => n.output!.includes(name));
  const own = (c: NodeProto) => c.input!.slice(1).every((i) => !i || (inits.has(i) && readers(i).length === 1));
  const outputs = new Set(graph.output!.map((o) => o.name));
  const x = conv.output![0]!;
  const xr = readers(x);
  const add = xr.find((n) => n.opType === 'Add' && scalarOperand(n, inits)?.c === 3);
  const [clip] = add ? readers(add.output![0]!) : [];
  if (xr.length !== 2 || !add || clip?.opType !== 'Clip' || !own(conv)) return undefined;
  // (x · 1/6) · relu6(x + 3), or x · relu6(x + 3) where the 1/6 went into the next weights.
  const sixth = xr.find((n) => n.opType === 'Mul' && scalarOperand(n, inits) !== undefined);
  const product = sixth ? readers(sixth.output![0]!)[0] : xr.find((n) => n.opType === 'Mul');
  if (product?.opType !== 'Mul' || !product.input!.includes(clip.output![0]!)) return undefined;
  // A value the graph gives out cannot change scale.
  if ([x, sixth?.output![0], product.output![0]!].some((t) => t && outputs.has(t))) return undefined;
  // Where k comes back out: convolutions reading the product, or a residual addition whose
  // other side a convolution writes, read in turn only by convolutions.
  const divide: NodeProto[] = [];
  const multiply: NodeProto[] = [];
  for (const r of readers(product.output![0]!)) {
    if (r.opType === 'Conv' && r.input![0] === product.output![0] && own(r)) divide.push(r);
    else if (r.opType === 'Add') {
      const other = producer(r.input!.find((i) => i !== product.output![0])!);
      const next = readers(r.output![0]!);
      if (other?.opType !== 'Conv' || readers(other.output![0]!).length !== 1 || !own(other) || !next.length || outputs.has(r.output![0]) || outputs.has(other.output![0]))
        return undefined;
      if (!next.every((c) => c.opType === 'Conv' && c.input![0] === r.output![0] && own(c))) return undefined;
      multiply.push(other);
      divide.push(...next);
    } else return undefined;
  }
  return { x, add, divide, multiply, inits };
}

function scaleOutputs(conv: NodeProto, k: Float32Array, inits: Map<string, TensorProto>): void {
  const w = inits.get(conv.input![1]!)!;
  const v = floatValues(w);
  const per = v.length / k.length;
  for (let i = 0; i < v.length; i++) v[i]! *= k[Math.floor(i / per)]!;
  setFloatValues(w, v);
  const b = conv.input![2] ? inits.get(conv.input![2]) : undefined;
  if (b)
    setFloatValues(
      b,
      Float32Array.from(floatValues(b), (v, c) => v * k[c]!),
    );
}

function divideInputs(conv: NodeProto, k: Float32Array, inits: Map<string, TensorProto>): void {
  const w = inits.get(conv.input![1]!)!;
  const [out, inPerGroup, kh, kw] = w.dims!.map(Number) as [number, number, number, number];
  const group = Number(conv.attribute!.find((a) => a.name === 'group')?.i ?? 1);
  const outPerGroup = out / group;
  const v = floatValues(w);
  for (let o = 0; o < out; o++)
    for (let i = 0; i < inPerGroup; i++) {
      const channel = Math.floor(o / outPerGroup) * inPerGroup + i;
      for (let p = 0; p < kh * kw; p++) v[(o * inPerGroup + i) * kh * kw + p]! /= k[channel]!;
    }
  setFloatValues(w, v);
}

/** Each channel's largest |value| of `tensor` over the inputs. */
async function channelPeaks(model: ModelProto, tensor: string, inputs: CalibrationInput[]): Promise<Float64Array> {
  let peaks = new Float64Array(0);
  await runOver(model, [tensor], inputs, (out) => {
    const t = out[tensor]!;
    const [, channels, h, w] = t.dims as [number, number, number, number];
    if (!peaks.length) peaks = new Float64Array(channels);
    const data = t.data as Float32Array;
    for (let c = 0; c < channels; c++) for (let i = c * h * w; i < (c + 1) * h * w; i++) peaks[c] = Math.max(peaks[c]!, Math.abs(data[i]!));
  });
  return peaks;
}

/**
 * Equalises the hard swish after each convolution `select` picks, with factors up to
 * `limit` (the loudest channel over the inputs is left as it is; a quieter one is raised
 * towards it, by `limit` at most: the readers that divide per input channel, with one
 * weight scale per output channel, pay for large factors in their own rounding).
 * Returns what was done; a convolution whose graph around it is not of the expected
 * shape is left alone.
 */
export async function equalizeHardSwishes(model: ModelProto, select: (conv: NodeProto) => boolean, inputs: CalibrationInput[], limit: number): Promise<Equalization[]> {
  const graph = model.graph!;
  const done: Equalization[] = [];
  for (const conv of graph.node!.filter((n) => n.opType === 'Conv' && select(n))) {
    const p = plan(graph, conv);
    if (!p) continue;
    const peaks = await channelPeaks(model, p.x, inputs);
    const loudest = Math.max(...peaks);
    const k = Float32Array.from(peaks, (r) => Math.min(limit, loudest / Math.max(r, loudest / limit)));
    scaleOutputs(conv, k, p.inits);
    for (const c of p.multiply) scaleOutputs(c, k, p.inits);
    for (const c of p.divide) divideInputs(c, k, p.inits);
    const name = `${conv.name}/equalized`;
    const inverse = onnx.TensorProto.create({ name: `${name}/inverse`, dataType: onnx.TensorProto.DataType.FLOAT, dims: [1, k.length, 1, 1] });
    setFloatValues(
      inverse,
      Float32Array.from(k, (v) => 1 / v),
    );
    graph.initializer!.push(inverse);
    const unscale = onnx.NodeProto.create({ opType: 'Mul', input: [p.x, inverse.name!], output: [`${name}/unscaled`], name: `${name}/unscale` });
    p.add.input = p.add.input!.map((i) => (i === p.x ? unscale.output![0]! : i));
    graph.node!.splice(graph.node!.indexOf(p.add), 0, unscale);
    done.push({ conv: conv.name!, factors: [...k] });
  }
  return done;
}
