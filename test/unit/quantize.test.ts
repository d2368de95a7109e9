// The INT8 quantizer on small hand-built graphs, run through a real onnxruntime: a hard
// swish between two convolutions, a convolution whose input is almost always zero under a
// large bias (a squeeze-and-excitation branch whose Relu never fires), and a depthwise
// convolution whose channel count onnxruntime's fast integer kernel does not take.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import '../../agent/detect/no-telemetry.js';
import ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { quantize, type CalibrationInput } from '../../scripts/quantize.js';
import { floatInit as init, hardSwish, namedNode as node, seededValues as values, valueInfo } from '../helpers/onnx.js';

const { onnx } = onnxProto;
const FLOAT = onnx.TensorProto.DataType.FLOAT;
const C = 4;
const H = 6;

const info = (name: string, dims: number[]) => valueInfo(name, FLOAT, dims);

/**
 * x → conv a → hard swish ((h · 1/6) · relu6(h + 3)) → conv b → `swish`;
 * x → conv c (weights ~1e-6) → Relu → conv d (bias 1.85) → `dead`.
 */
function model(): Uint8Array {
  const swish = hardSwish('h', 'z');
  const graph = onnx.GraphProto.create({
    name: 'quantize-test',
    input: [info('x', [1, C, H, H])],
    output: [info('swish', [1, C, H, H]), info('dead', [1, C, H, H])],
    initializer: [
      init('a_w', [C, C, 1, 1], values(C * C, 1)),
      init('a_b', [C], values(C, 2)),
      init('b_w', [C, C, 1, 1], values(C * C, 3)),
      init('b_b', [C], values(C, 4)),
      init(
        'c_w',
        [C, C, 1, 1],
        Float32Array.from(values(C * C, 5), (v) => v * 1e-6),
      ),
      init('c_b', [C], [0, 0, 0, 0]),
      init('d_w', [C, C, 1, 1], values(C * C, 6)),
      init('d_b', [C], [1.85, -1.85, 0.5, 1.85]),
      ...swish.initializer,
    ],
    node: [
      node('Conv', ['x', 'a_w', 'a_b'], 'h'),
      ...swish.node,
      node('Conv', ['z', 'b_w', 'b_b'], 'swish'),
      node('Conv', ['x', 'c_w', 'c_b'], 'c'),
      node('Relu', ['c'], 'cr'),
      node('Conv', ['cr', 'd_w', 'd_b'], 'dead'),
    ],
  });
  const m = onnx.ModelProto.create({ irVersion: 8, producerName: 'edgecam tests', opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: 18 })], graph });
  return onnx.ModelProto.encode(m).finish();
}

async function run(bytes: Uint8Array, x: Float32Array): Promise<Record<string, Float32Array>> {
  const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'all', logSeverityLevel: 3 });
  try {
    const out = await session.run({ x: new ort.Tensor('float32', x, [1, C, H, H]) });
    return { swish: out.swish!.data as Float32Array, dead: out.dead!.data as Float32Array };
  } finally {
    await session.release();
  }
}

const calibration: CalibrationInput[] = [1, 2, 3, 4].map((i) => ({ data: values(C * H * H, 100 + i), dims: [1, C, H, H] }));

test('quantizer: a hard swish quantizes close to float, its 1/6 folded into the next convolution', async () => {
  const float = model();
  const { bytes } = await quantize(float, calibration, { calibration: { method: 'minmax' } });
  const graph = onnx.ModelProto.decode(bytes).graph!;
  assert.equal(graph.node!.filter((n) => n.opType === 'Mul').length, 1, 'one multiplication left: h · relu6(h + 3)');
  assert.ok(graph.node!.some((n) => n.opType === 'QuantizeLinear'));
  const x = values(C * H * H, 200);
  const [want, got] = [await run(float, x), await run(bytes, x)];
  const range = Math.max(...want.swish!) - Math.min(...want.swish!);
  const worst = Math.max(...want.swish!.map((v, i) => Math.abs(v - got.swish![i]!)));
  assert.ok(worst < range * 0.03, `largest difference ${worst} of a range of ${range}`);
});

test('quantizer: a bias too large for int32 at a near-zero input scale still comes out right', async () => {
  const float = model();
  const { bytes } = await quantize(float, calibration, { calibration: { method: 'minmax' } });
  const x = values(C * H * H, 300);
  const [want, got] = [await run(float, x), await run(bytes, x)];
  // The input of conv d is almost zero, so its output is its bias: 1.85, -1.85, 0.5, 1.85.
  for (let c = 0; c < C; c++) {
    const v = got.dead![c * H * H]!;
    assert.ok(Math.abs(v - want.dead![c * H * H]!) < 0.02, `channel ${c}: ${v}, float ${want.dead![c * H * H]}`);
  }
});

/** x → conv e (4 → 18) → Relu → depthwise f (18 channels, 3×3) → Relu → conv g (18 → 4) → `y`. */
function depthwiseModel(): Uint8Array {
  const D = 18;
  const ints = (name: string, v: number[]) => onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INTS, ints: v });
  const graph = onnx.GraphProto.create({
    name: 'quantize-depthwise-test',
    input: [info('x', [1, C, H, H])],
    output: [info('y', [1, C, H, H])],
    initializer: [
      init('e_w', [D, C, 1, 1], values(D * C, 7)),
      init('e_b', [D], values(D, 8)),
      init('f_w', [D, 1, 3, 3], values(D * 9, 9)),
      init('f_b', [D], values(D, 10)),
      init('g_w', [C, D, 1, 1], values(C * D, 11)),
      init('g_b', [C], values(C, 12)),
    ],
    node: [
      node('Conv', ['x', 'e_w', 'e_b'], 'e'),
      node('Relu', ['e'], 'er'),
      node('Conv', ['er', 'f_w', 'f_b'], 'f', [onnx.AttributeProto.create({ name: 'group', type: onnx.AttributeProto.AttributeType.INT, i: D }), ints('pads', [1, 1, 1, 1])]),
      node('Relu', ['f'], 'fr'),
      node('Conv', ['fr', 'g_w', 'g_b'], 'y'),
    ],
  });
  const m = onnx.ModelProto.create({ irVersion: 8, producerName: 'edgecam tests', opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: 18 })], graph });
  return onnx.ModelProto.encode(m).finish();
}

test('quantizer: an 18-channel depthwise convolution is padded to 32 channels, with the same results', async () => {
  const float = depthwiseModel();
  const { bytes } = await quantize(float, calibration, { calibration: { method: 'minmax' } });
  const graph = onnx.ModelProto.decode(bytes).graph!;
  const depthwise = graph.node!.find((n) => n.opType === 'Conv' && n.attribute!.some((a) => a.name === 'group' && Number(a.i) > 1))!;
  assert.equal(Number(depthwise.attribute!.find((a) => a.name === 'group')!.i), 32);
  const weights = (conv: string) => graph.initializer!.find((t) => t.name === `${conv}/int8`)!.dims!.map(Number);
  assert.deepEqual(
    [weights('e_w'), weights('f_w'), weights('g_w')],
    [
      [32, C, 1, 1],
      [32, 1, 3, 3],
      [C, 32, 1, 1],
    ],
  );
  const x = values(C * H * H, 400);
  const outputs = await Promise.all(
    [float, bytes].map(async (model) => {
      const session = await ort.InferenceSession.create(model, { graphOptimizationLevel: 'all', logSeverityLevel: 3 });
      try {
        return (await session.run({ x: new ort.Tensor('float32', x, [1, C, H, H]) })).y!.data as Float32Array;
      } finally {
        await session.release();
      }
    }),
  );
  const [want, got] = outputs as [Float32Array, Float32Array];
  const range = Math.max(...want) - Math.min(...want);
  const worst = Math.max(...want.map((v, i) => Math.abs(v - got[i]!)));
  assert.ok(worst < range * 0.03, `largest difference ${worst} of a range of ${range}`);
});

test('quantizer: the plan names every Q/DQ pair; parameters given for them are taken as they are, with no calibration', async () => {
  const float = model();
  const { plan } = await quantize(float, calibration, { calibration: { method: 'minmax' } });
  assert.ok(plan.activations.size >= 4, `${plan.activations.size} activations`);
  assert.deepEqual([...plan.convs].sort(), ['c', 'dead', 'h', 'swish'], 'every convolution, named by its node');
  // As a distillation hands them back: one activation's scale learned wider.
  const [widened] = [...plan.activations.keys()];
  const params = new Map([...plan.activations].map(([n, p]) => [n, n === widened ? { ...p, scale: Math.fround(p.scale * 2) } : p]));
  const options = { calibration: { method: 'minmax' as const }, params, biasCorrection: false };
  const built = await quantize(plan.prepared, [], options);
  const scales = new Map(onnx.ModelProto.decode(built.bytes).graph!.initializer!.map((t) => [t.name!, t]));
  for (const [name, p] of params) assert.equal(new Float32Array(new Uint8Array(scales.get(`${name}/scale`)!.rawData!).slice().buffer)[0], p.scale, name);
  assert.deepEqual(built.plan.activations, params);
  const x = values(C * H * H, 200);
  const [want, got] = [await run(float, x), await run(built.bytes, x)];
  const range = Math.max(...want.swish!) - Math.min(...want.swish!);
  assert.ok(Math.max(...want.swish!.map((v, i) => Math.abs(v - got.swish![i]!))) < range * 0.05);
  // An activation with neither a range nor given parameters is an error, not a guess.
  params.delete(widened!);
  await assert.rejects(quantize(plan.prepared, [], options), /no range for/);
});
