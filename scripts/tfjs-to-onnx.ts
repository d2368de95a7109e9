// Converts a TF.js graph model (model.json + weight shards) to an ONNX ModelProto.
//
// The graph stays in TensorFlow's NHWC layout; each NHWC convolution or pooling op
// is wrapped in Transposes to ONNX's NCHW, and onnxruntime's layout optimizer
// cancels the adjacent pairs when the session is created. Only the ops that the
// bundled detectors use are covered: anything else is a clear error naming it.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
type NodeProto = InstanceType<typeof onnx.NodeProto>;
type TensorProto = InstanceType<typeof onnx.TensorProto>;

export const OPSET = 18;

interface TfNode {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, TfAttr>;
}
interface TfAttr {
  s?: string;
  i?: string;
  f?: number;
  b?: boolean;
  type?: string;
  list?: { i?: string[]; s?: string[] };
  shape?: { dim?: { size: string }[] };
}
interface WeightSpec {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32' | 'bool';
  quantization?: { dtype: 'float16' | 'uint8' | 'uint16'; scale?: number; min?: number };
}
interface TfjsModelJson {
  format: string;
  modelTopology: { node: TfNode[] };
  weightsManifest: { paths: string[]; weights: WeightSpec[] }[];
  signature?: { outputs?: Record<string, { name: string }> };
}

/** A constant known at conversion time, kept in TF layout and TF dtype. */
interface Constant {
  dtype: 'float32' | 'int32' | 'bool';
  shape: number[];
  values: Float32Array | Int32Array;
}

export class UnsupportedOpError extends Error {
  constructor(
    readonly op: string,
    node: string,
  ) {
    super(`TF.js op "${op}" (node "${node}") has no ONNX mapping in this converter`);
  }
}

export interface ConvertOptions {
  /** TF tensor names to expose as graph outputs; default: the signature's outputs. */
  outputs?: string[];
  producerName?: string;
  /**
   * Takes float image inputs (rank 4) as uint8 instead, cast to float inside the graph:
   * callers pass the frame's bytes as they are (0-255), a quarter of the memory, and
   * the widening is done by onnxruntime rather than by JavaScript.
   */
  uint8Input?: boolean;
  /**
   * Makes the image input's height and width dynamic. TF.js graphs come with shape
   * arithmetic folded into constants at the size they were exported with; those
   * constants must be named here, so that they are computed at run time instead.
   */
  dynamicInput?: DynamicInput;
}

export interface DynamicInput {
  /** Constant → the size of a tensor's axis at run time (an int32 scalar, as TF's shape ops give). */
  sizeOf?: Record<string, { tensor: string; axis: number; divisor?: number }>;
  /** Constant → other values, e.g. a reshape target with -1 where the size-dependent dimension was. */
  replace?: Record<string, number[]>;
  /** Every fixed-size resize is an upsample by this factor (FPN-style heads), taken as scales instead of sizes. */
  resizeFactor?: number;
}

export function loadTfjsModel(modelJsonPath: string): { model: TfjsModelJson; constants: Map<string, Constant> } {
  const model = JSON.parse(readFileSync(modelJsonPath, 'utf8')) as TfjsModelJson;
  if (model.format !== 'graph-model') throw new Error(`${modelJsonPath}: not a TF.js graph model (format "${model.format}")`);
  const constants = new Map<string, Constant>();
  for (const group of model.weightsManifest) {
    const data = Buffer.concat(group.paths.map((p) => readFileSync(join(dirname(modelJsonPath), p))));
    let offset = 0;
    for (const spec of group.weights) {
      const count = spec.shape.reduce((a, b) => a * b, 1);
      const { values, bytes } = decodeWeight(spec, data, offset, count);
      constants.set(spec.name, { dtype: spec.dtype, shape: spec.shape, values });
      offset += bytes;
    }
  }
  return { model, constants };
}

function decodeWeight(spec: WeightSpec, data: Buffer, offset: number, count: number) {
  const q = spec.quantization;
  if (q?.dtype === 'float16') {
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) out[i] = halfToFloat(data.readUInt16LE(offset + 2 * i));
    return { values: out, bytes: 2 * count };
  }
  if (q && (q.dtype === 'uint8' || q.dtype === 'uint16')) {
    const size = q.dtype === 'uint8' ? 1 : 2;
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) {
      const raw = size === 1 ? data[offset + i]! : data.readUInt16LE(offset + 2 * i);
      out[i] = raw * (q.scale ?? 1) + (q.min ?? 0);
    }
    return { values: spec.dtype === 'int32' ? Int32Array.from(out, Math.round) : out, bytes: size * count };
  }
  const slice = data.subarray(offset, offset + 4 * count);
  const copy = new Uint8Array(slice).buffer;
  if (spec.dtype === 'float32') return { values: new Float32Array(copy), bytes: 4 * count };
  if (spec.dtype === 'int32') return { values: new Int32Array(copy), bytes: 4 * count };
  throw new Error(`weight "${spec.name}": dtype ${spec.dtype} is not supported`);
}

export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

const TF_DTYPE_TO_ONNX: Record<string, number> = {
  DT_FLOAT: onnx.TensorProto.DataType.FLOAT,
  DT_INT32: onnx.TensorProto.DataType.INT32,
  DT_INT64: onnx.TensorProto.DataType.INT64,
  DT_BOOL: onnx.TensorProto.DataType.BOOL,
};

const NHWC_TO_NCHW = [0, 3, 1, 2];
const NCHW_TO_NHWC = [0, 2, 3, 1];

/** Builds the ONNX graph node by node; names stay those of the TF graph where they can. */
class GraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  private counter = 0;

  unique(base: string): string {
    return `${base}__${this.counter++}`;
  }

  node(opType: string, inputs: string[], outputs: string[], attrs: Record<string, number | number[] | string> = {}, name?: string): void {
    const attribute = Object.entries(attrs).map(([key, value]) => attr(key, value));
    this.nodes.push(onnx.NodeProto.create({ opType, input: inputs, output: outputs, name: name ?? outputs[0], attribute }));
  }

  floatInit(name: string, dims: number[], values: Float32Array): string {
    this.initializers.push(onnx.TensorProto.create({ name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: bytesOf(values) }));
    return name;
  }

  int32Init(name: string, dims: number[], values: Int32Array): string {
    this.initializers.push(onnx.TensorProto.create({ name, dims, dataType: onnx.TensorProto.DataType.INT32, rawData: bytesOf(values) }));
    return name;
  }

  int64Init(name: string, values: number[], dims: number[] = [values.length]): string {
    this.initializers.push(onnx.TensorProto.create({ name, dims, dataType: onnx.TensorProto.DataType.INT64, rawData: bytesOf(BigInt64Array.from(values, BigInt)) }));
    return name;
  }
}

function bytesOf(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

function attr(name: string, value: number | number[] | string) {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof value === 'string') return onnx.AttributeProto.create({ name, type: T.STRING, s: new TextEncoder().encode(value) });
  if (Array.isArray(value)) return onnx.AttributeProto.create({ name, type: T.INTS, ints: value });
  if (Number.isInteger(value)) return onnx.AttributeProto.create({ name, type: T.INT, i: value });
  return onnx.AttributeProto.create({ name, type: T.FLOAT, f: value });
}

const decodeB64 = (s: string | undefined) => (s === undefined ? '' : Buffer.from(s, 'base64').toString('utf8'));
const ints = (a: TfAttr | undefined) => (a?.list?.i ?? []).map(Number);

export function convert(model: TfjsModelJson, constants: Map<string, Constant>, options: ConvertOptions = {}): Uint8Array {
  const g = new GraphBuilder();
  const tensorName = new Map<string, string>(); // TF tensor ("node" or "node:1") → ONNX tensor
  const inputs: ReturnType<typeof onnx.ValueInfoProto.create>[] = [];
  const nodeByName = new Map(model.modelTopology.node.map((n) => [n.name, n]));

  const constantOf = (ref: string): Constant => {
    const replaced = options.dynamicInput?.replace?.[ref];
    if (replaced) return { dtype: 'int32', shape: [replaced.length], values: Int32Array.from(replaced) };
    const c = constants.get(ref.split(':')[0]!);
    if (!c) throw new Error(`expected a constant input, got computed tensor "${ref}"`);
    return c;
  };
  const dynamic = options.dynamicInput ?? {};
  const materialise = (ref: string): string => {
    const known = tensorName.get(ref) ?? tensorName.get(ref.replace(/:0$/, ''));
    if (known) return known;
    const size = dynamic.sizeOf?.[ref];
    if (size) {
      const shape = g.unique(`${ref}/shape`);
      const picked = g.unique(`${ref}/size64`);
      g.node('Shape', [size.tensor === inputs[0]?.name ? size.tensor : materialise(size.tensor)], [shape]);
      g.node('Gather', [shape, g.int64Init(g.unique(`${ref}/axis`), [size.axis], [])], [picked], { axis: 0 });
      let value = picked;
      if (size.divisor) {
        value = g.unique(`${ref}/divided`);
        g.node('Div', [picked, g.int64Init(g.unique(`${ref}/divisor`), [size.divisor], [])], [value]);
      }
      g.node('Cast', [value], [ref], { to: onnx.TensorProto.DataType.INT32 });
      tensorName.set(ref, ref);
      return ref;
    }
    const c = constants.get(ref);
    if (!c) throw new Error(`tensor "${ref}" is used before it is produced`);
    const name = ref;
    if (c.dtype === 'float32') g.floatInit(name, c.shape, c.values as Float32Array);
    else g.int32Init(name, c.shape, c.values as Int32Array);
    tensorName.set(ref, name);
    return name;
  };
  const toNchw = (x: string) => {
    const out = g.unique(`${x}/nchw`);
    g.node('Transpose', [x], [out], { perm: NHWC_TO_NCHW });
    return out;
  };
  const fromNchw = (x: string, out: string) => g.node('Transpose', [x], [out], { perm: NCHW_TO_NHWC });

  for (const node of model.modelTopology.node) {
    const ins = (node.input ?? []).filter((i) => !i.startsWith('^'));
    const out = node.name;
    const a = node.attr ?? {};
    switch (node.op) {
      case 'Const':
        break; // materialised lazily, in the dtype its consumer needs
      case 'Placeholder': {
        const dims = (a.shape?.shape?.dim ?? []).map((d) => Number(d.size));
        if (options.dynamicInput && dims.length === 4) [dims[1], dims[2]] = [-1, -1];
        const dtype = a.dtype?.type ?? 'DT_FLOAT';
        if (options.uint8Input && dtype === 'DT_FLOAT' && dims.length === 4) {
          inputs.push(valueInfo(out, onnx.TensorProto.DataType.UINT8, dims));
          g.node('Cast', [out], [`${out}/float`], { to: onnx.TensorProto.DataType.FLOAT });
          tensorName.set(out, `${out}/float`);
          break;
        }
        inputs.push(valueInfo(out, TF_DTYPE_TO_ONNX[dtype]!, dims));
        tensorName.set(out, out);
        break;
      }
      case 'Identity':
        tensorName.set(out, materialise(ins[0]!));
        break;
      case '_FusedConv2D':
      case 'Conv2D':
      case 'FusedDepthwiseConv2dNative':
      case 'DepthwiseConv2dNative': {
        if (decodeB64(a.data_format?.s) !== 'NHWC') throw new Error(`${out}: only NHWC convolutions are supported`);
        const depthwise = node.op.includes('Depthwise');
        const w = constantOf(ins[1]!);
        const [kh, kw, cin, cm] = w.shape as [number, number, number, number];
        const weights = depthwise ? hwcmToDepthwiseOihw(w.values as Float32Array, kh, kw, cin, cm) : hwioToOihw(w.values as Float32Array, kh, kw, cin, cm);
        const wName = g.floatInit(`${ins[1]}/oihw`, depthwise ? [cin * cm, 1, kh, kw] : [cm, cin, kh, kw], weights);
        const fused = (a.fused_ops?.list?.s ?? []).map(decodeB64);
        const convInputs = [toNchw(materialise(ins[0]!)), wName];
        if (fused[0] === 'BiasAdd') convInputs.push(materialise(ins[2]!));
        else if (fused.length) throw new Error(`${out}: fused op ${fused.join('+')} is not supported`);
        const attrs: Record<string, number | number[] | string> = {
          strides: ints(a.strides).slice(1, 3),
          dilations: ints(a.dilations).length ? ints(a.dilations).slice(1, 3) : [1, 1],
          kernel_shape: [kh, kw],
          ...padding(decodeB64(a.padding?.s), ints(a.explicit_paddings), out),
        };
        if (depthwise) attrs.group = cin;
        let y = g.unique(`${out}/conv`);
        g.node('Conv', convInputs, [y], attrs, `${out}/Conv`);
        for (const act of fused.slice(1)) y = activation(g, act, y, out);
        fromNchw(y, out);
        tensorName.set(out, out);
        break;
      }
      case 'MaxPool':
      case 'AvgPool': {
        if (decodeB64(a.data_format?.s) !== 'NHWC') throw new Error(`${out}: only NHWC pooling is supported`);
        const y = g.unique(`${out}/pool`);
        g.node(node.op === 'MaxPool' ? 'MaxPool' : 'AveragePool', [toNchw(materialise(ins[0]!))], [y], {
          kernel_shape: ints(a.ksize).slice(1, 3),
          strides: ints(a.strides).slice(1, 3),
          ...padding(decodeB64(a.padding?.s), ints(a.explicit_paddings), out),
        });
        fromNchw(y, out);
        tensorName.set(out, out);
        break;
      }
      case 'Relu':
      case 'Sigmoid':
      case 'Tanh':
      case 'Exp':
        g.node(node.op, [materialise(ins[0]!)], [out]);
        tensorName.set(out, out);
        break;
      case 'Relu6':
        activation(g, 'Relu6', materialise(ins[0]!), out, out);
        tensorName.set(out, out);
        break;
      case 'LeakyRelu':
        g.node('LeakyRelu', [materialise(ins[0]!)], [out], { alpha: a.alpha?.f ?? 0.2 });
        tensorName.set(out, out);
        break;
      case 'Add':
      case 'AddV2':
      case 'Sub':
      case 'Mul':
      case 'RealDiv':
      case 'Maximum':
      case 'Minimum':
      case 'Equal': {
        const op = { Add: 'Add', AddV2: 'Add', Sub: 'Sub', Mul: 'Mul', RealDiv: 'Div', Maximum: 'Max', Minimum: 'Min', Equal: 'Equal' }[node.op]!;
        g.node(op, [materialise(ins[0]!), materialise(ins[1]!)], [out]);
        tensorName.set(out, out);
        break;
      }
      case 'FloorMod':
        g.node('Mod', [materialise(ins[0]!), materialise(ins[1]!)], [out], { fmod: 0 });
        tensorName.set(out, out);
        break;
      case 'FloorDiv': {
        // ONNX integer Div truncates toward zero; TF floors. (a - a mod b) / b is exact floor division.
        const [x, y] = [materialise(ins[0]!), materialise(ins[1]!)];
        const m = g.unique(`${out}/mod`);
        const d = g.unique(`${out}/sub`);
        g.node('Mod', [x, y], [m], { fmod: 0 });
        g.node('Sub', [x, m], [d]);
        g.node('Div', [d, y], [out]);
        tensorName.set(out, out);
        break;
      }
      case 'Cast': {
        const to = TF_DTYPE_TO_ONNX[a.DstT?.type ?? '']!;
        if (to === undefined) throw new Error(`${out}: cast to ${a.DstT?.type} is not supported`);
        g.node('Cast', [materialise(ins[0]!)], [out], { to });
        tensorName.set(out, out);
        break;
      }
      case 'Mean': {
        const axes = g.int64Init(`${out}/axes`, Array.from(constantOf(ins[1]!).values));
        g.node('ReduceMean', [materialise(ins[0]!), axes], [out], { keepdims: a.keep_dims?.b ? 1 : 0 });
        tensorName.set(out, out);
        break;
      }
      case 'ConcatV2': {
        const axis = constantOf(ins[ins.length - 1]!).values[0]!;
        g.node('Concat', ins.slice(0, -1).map(materialise), [out], { axis });
        tensorName.set(out, out);
        break;
      }
      case 'ResizeBilinear':
      case 'ResizeNearestNeighbor': {
        const [h, w] = Array.from(constantOf(ins[1]!).values);
        const mode = a.half_pixel_centers?.b ? 'half_pixel' : a.align_corners?.b ? 'align_corners' : 'asymmetric';
        const factor = options.dynamicInput?.resizeFactor;
        // Full-rank scales rather than the `axes` attribute: onnxruntime's layout optimizer
        // permutes a resize's scales as if they covered every axis.
        const attrs: Record<string, number | number[] | string> = { mode: node.op === 'ResizeBilinear' ? 'linear' : 'nearest', coordinate_transformation_mode: mode };
        if (!factor) attrs.axes = [2, 3];
        if (node.op === 'ResizeNearestNeighbor') attrs.nearest_mode = a.half_pixel_centers?.b ? 'round_prefer_ceil' : 'floor';
        const y = g.unique(`${out}/resize`);
        const sizing = factor ? ['', g.floatInit(`${out}/scales`, [4], new Float32Array([1, 1, factor, factor]))] : ['', '', g.int64Init(`${out}/sizes`, [h!, w!])];
        g.node('Resize', [toNchw(materialise(ins[0]!)), ...sizing], [y], attrs);
        fromNchw(y, out);
        tensorName.set(out, out);
        break;
      }
      case 'Reshape': {
        const shape = constants.has(ins[1]!) ? g.int64Init(`${out}/shape`, Array.from(constantOf(ins[1]!).values)) : castInt64(g, materialise(ins[1]!));
        g.node('Reshape', [materialise(ins[0]!), shape], [out]);
        tensorName.set(out, out);
        break;
      }
      case 'ExpandDims': {
        const axes = g.int64Init(`${out}/axes`, Array.from(constantOf(ins[1]!).values));
        g.node('Unsqueeze', [materialise(ins[0]!), axes], [out]);
        tensorName.set(out, out);
        break;
      }
      case 'TopKV2': {
        const k = g.int64Init(`${out}/k`, Array.from(constantOf(ins[1]!).values));
        const indices64 = g.unique(`${out}/indices64`);
        g.node('TopK', [materialise(ins[0]!), k], [out, indices64], { axis: -1, largest: 1, sorted: a.sorted?.b === false ? 0 : 1 });
        // TF's TopK indices are int32, and every consumer in the graph expects that.
        g.node('Cast', [indices64], [`${out}:1`], { to: onnx.TensorProto.DataType.INT32 });
        tensorName.set(out, out);
        tensorName.set(`${out}:1`, `${out}:1`);
        break;
      }
      case 'GatherV2': {
        if (Number(a.batch_dims?.i ?? 0) !== 0) throw new Error(`${out}: GatherV2 with batch_dims is not supported`);
        const axis = constantOf(ins[2]!).values[0]!;
        g.node('Gather', [materialise(ins[0]!), materialise(ins[1]!)], [out], { axis });
        tensorName.set(out, out);
        break;
      }
      case 'StridedSlice': {
        stridedSlice(g, node, materialise(ins[0]!), constantOf(ins[1]!), constantOf(ins[2]!), constantOf(ins[3]!));
        tensorName.set(out, out);
        break;
      }
      case 'Transpose': {
        g.node('Transpose', [materialise(ins[0]!)], [out], { perm: Array.from(constantOf(ins[1]!).values) });
        tensorName.set(out, out);
        break;
      }
      default:
        throw new UnsupportedOpError(node.op, node.name);
    }
  }

  const outputNames = options.outputs ?? Object.values(model.signature?.outputs ?? {}).map((o) => o.name);
  if (!outputNames.length) throw new Error('the model declares no outputs; pass them with --outputs');
  const outputs = outputNames.map((name) => {
    if (!nodeByName.has(name.split(':')[0]!)) throw new Error(`output "${name}" is not a node of the graph`);
    const produced = materialise(name);
    if (produced !== name) g.node('Identity', [produced], [name], {}, `${name}/output`);
    return valueInfo(name, onnx.TensorProto.DataType.FLOAT, undefined);
  });

  const graph = onnx.GraphProto.create({ name: 'graph', node: g.nodes, initializer: g.initializers, input: inputs, output: outputs });
  const proto = onnx.ModelProto.create({
    irVersion: 8,
    producerName: options.producerName ?? 'edgecam tfjs-to-onnx',
    opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: OPSET })],
    graph,
  });
  return onnx.ModelProto.encode(proto).finish();
}

function valueInfo(name: string, elemType: number, dims: number[] | undefined) {
  const params = ['batch', 'height', 'width', 'channels'];
  const shape = dims
    ? onnx.TensorShapeProto.create({ dim: dims.map((d, i) => onnx.TensorShapeProto.Dimension.create(d > 0 ? { dimValue: d } : { dimParam: params[i] ?? `d${i}` })) })
    : undefined;
  return onnx.ValueInfoProto.create({ name, type: onnx.TypeProto.create({ tensorType: onnx.TypeProto.Tensor.create({ elemType, shape }) }) });
}

function padding(mode: string, explicit: number[], node: string): Record<string, string | number[]> {
  if (mode === 'SAME') return { auto_pad: 'SAME_UPPER' };
  if (mode === 'VALID') return { auto_pad: 'VALID' };
  if (mode === 'EXPLICIT' && explicit.length === 8) return { pads: [explicit[2]!, explicit[4]!, explicit[3]!, explicit[5]!] };
  throw new Error(`${node}: padding "${mode}" is not supported`);
}

function activation(g: GraphBuilder, act: string, x: string, node: string, out = g.unique(`${node}/${act}`)): string {
  if (act === 'Relu') g.node('Relu', [x], [out]);
  else if (act === 'Relu6')
    g.node('Clip', [x, g.floatInit(g.unique(`${node}/zero`), [], new Float32Array([0])), g.floatInit(g.unique(`${node}/six`), [], new Float32Array([6]))], [out]);
  else if (act === 'Sigmoid') g.node('Sigmoid', [x], [out]);
  else throw new Error(`${node}: fused activation "${act}" is not supported`);
  return out;
}

function castInt64(g: GraphBuilder, x: string): string {
  const out = g.unique(`${x}/int64`);
  g.node('Cast', [x], [out], { to: onnx.TensorProto.DataType.INT64 });
  return out;
}

function stridedSlice(g: GraphBuilder, node: TfNode, x: string, begin: Constant, end: Constant, strides: Constant): void {
  const a = node.attr ?? {};
  for (const mask of ['ellipsis_mask', 'new_axis_mask'] as const) {
    if (Number(a[mask]?.i ?? 0)) throw new Error(`${node.name}: StridedSlice ${mask} is not supported`);
  }
  const beginMask = Number(a.begin_mask?.i ?? 0);
  const endMask = Number(a.end_mask?.i ?? 0);
  const shrinkMask = Number(a.shrink_axis_mask?.i ?? 0);
  const big = 2 ** 62;
  const starts: number[] = [];
  const ends: number[] = [];
  const steps: number[] = [];
  const axes: number[] = [];
  const shrink: number[] = [];
  for (let i = 0; i < begin.values.length; i++) {
    const step = strides.values[i]!;
    let b = begin.values[i]!;
    let e = end.values[i]!;
    if (shrinkMask & (1 << i)) {
      e = b + 1 === 0 ? big : b + 1;
      shrink.push(i);
    } else {
      if (beginMask & (1 << i)) b = step > 0 ? 0 : big;
      if (endMask & (1 << i)) e = step > 0 ? big : -big;
    }
    starts.push(b);
    ends.push(e);
    steps.push(step);
    axes.push(i);
  }
  const sliced = shrink.length ? g.unique(`${node.name}/slice`) : node.name;
  g.node(
    'Slice',
    [x, g.int64Init(`${node.name}/starts`, starts), g.int64Init(`${node.name}/ends`, ends), g.int64Init(`${node.name}/axes`, axes), g.int64Init(`${node.name}/steps`, steps)],
    [sliced],
  );
  if (shrink.length) g.node('Squeeze', [sliced, g.int64Init(`${node.name}/squeeze`, shrink)], [node.name]);
}

/** TF conv weights [H, W, I, O] → ONNX [O, I, H, W]. */
function hwioToOihw(w: Float32Array, kh: number, kw: number, ci: number, co: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let h = 0; h < kh; h++)
    for (let x = 0; x < kw; x++) for (let i = 0; i < ci; i++) for (let o = 0; o < co; o++) out[((o * ci + i) * kh + h) * kw + x] = w[((h * kw + x) * ci + i) * co + o]!;
  return out;
}

/** TF depthwise weights [H, W, C, M] → ONNX grouped-conv weights [C*M, 1, H, W]; output channel c*M+m. */
function hwcmToDepthwiseOihw(w: Float32Array, kh: number, kw: number, c: number, m: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let h = 0; h < kh; h++)
    for (let x = 0; x < kw; x++) for (let ch = 0; ch < c; ch++) for (let k = 0; k < m; k++) out[((ch * m + k) * kh + h) * kw + x] = w[((h * kw + x) * c + ch) * m + k]!;
  return out;
}
