// The hard swish's per-channel equalisation (scripts/equalize.ts) on a small hand-built
// graph of the bundled model's shape, run through a real onnxruntime: a convolution whose
// channels differ in level 600-fold, its hard swish, a depthwise convolution and a
// residual addition after it, and readers that amplify the quiet channels back (as a
// network's folded batch norms do).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import '../../agent/detect/no-telemetry.js';
import ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { equalizeHardSwishes } from '../../scripts/equalize.js';
import { quantize, type CalibrationInput } from '../../scripts/quantize.js';
import { floatInit as init, hardSwish, namedNode as node, seededValues as values, valueInfo } from '../helpers/onnx.js';

const { onnx } = onnxProto;
const FLOAT = onnx.TensorProto.DataType.FLOAT;
const C = 4;
const H = 8;
const LEVELS = [30, 10, 0.05, 20];

/**
 * x → conv a (channel c at LEVELS[c]) → h; y = (h · 1/6) · relu6(h + 3); y → depthwise d
 * → Relu → conv p; z = y + p → conv e → `out`. d and e weigh channel c by 1 / LEVELS[c].
 * With `alsoOut`, y is a graph output too; without `residual`, z is p alone (y's only
 * reader is then the depthwise convolution, which takes the 1/6 into its weights).
 */
function model(alsoOut = false, residual = true): Uint8Array {
  const perRow = (v: Float32Array, rows: number, f: (r: number) => number) => Float32Array.from(v, (x, i) => x * f(Math.floor(i / (v.length / rows))));
  const perColumn = (v: Float32Array, f: (c: number) => number) => Float32Array.from(v, (x, i) => x * f(i % C));
  const swish = hardSwish('h', 'y');
  const graph = onnx.GraphProto.create({
    name: 'equalize-test',
    input: [valueInfo('x', FLOAT, [1, C, H, H])],
    output: [valueInfo('out', FLOAT, [1, C, H, H]), ...(alsoOut ? [valueInfo('y', FLOAT, [1, C, H, H])] : [])],
    initializer: [
      init(
        'a_w',
        [C, C, 1, 1],
        perRow(values(C * C, 1), C, (r) => LEVELS[r]!),
      ),
      init(
        'a_b',
        [C],
        values(C, 2).map((v, c) => v * LEVELS[c]!),
      ),
      init(
        'd_w',
        [C, 1, 3, 3],
        perRow(values(C * 9, 3), C, (r) => 1 / LEVELS[r]!),
      ),
      init('d_b', [C], values(C, 4)),
      init('p_w', [C, C, 1, 1], values(C * C, 5)),
      init('p_b', [C], values(C, 6)),
      init(
        'e_w',
        [C, C, 1, 1],
        perColumn(values(C * C, 7), (c) => 1 / LEVELS[c]!),
      ),
      init('e_b', [C], values(C, 8)),
      ...swish.initializer,
    ],
    node: [
      node('Conv', ['x', 'a_w', 'a_b'], 'h'),
      ...swish.node,
      node('Conv', ['y', 'd_w', 'd_b'], 'd', [
        onnx.AttributeProto.create({ name: 'group', type: onnx.AttributeProto.AttributeType.INT, i: C }),
        onnx.AttributeProto.create({ name: 'pads', type: onnx.AttributeProto.AttributeType.INTS, ints: [1, 1, 1, 1] }),
      ]),
      node('Relu', ['d'], 'dr'),
      node('Conv', ['dr', 'p_w', 'p_b'], 'p'),
      residual ? node('Add', ['y', 'p'], 'z') : node('Identity', ['p'], 'z'),
      node('Conv', ['z', 'e_w', 'e_b'], 'out'),
    ],
  });
  const m = onnx.ModelProto.create({ irVersion: 8, producerName: 'edgecam tests', opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: 18 })], graph });
  return onnx.ModelProto.encode(m).finish();
}

async function run(bytes: Uint8Array, x: Float32Array): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'all', logSeverityLevel: 3 });
  try {
    return (await session.run({ x: new ort.Tensor('float32', x, [1, C, H, H]) }, ['out'])).out!.data as Float32Array;
  } finally {
    await session.release();
  }
}

const calibration: CalibrationInput[] = [1, 2, 3, 4, 5, 6].map((i) => ({ data: values(C * H * H, 100 + i), dims: [1, C, H, H] }));
const worst = (a: Float32Array, b: Float32Array) => Math.max(...a.map((v, i) => Math.abs(v - b[i]!)));

test('equalize: exact in float; the quiet channels are raised, up to the limit', async () => {
  const float = model();
  const equalized = onnx.ModelProto.decode(float);
  const done = await equalizeHardSwishes(equalized, (n) => n.name === 'h', calibration, 8);
  assert.equal(done.length, 1);
  const k = done[0]!.factors;
  assert.equal(k[0], 1, 'the loudest channel stays');
  assert.equal(k[2], 8, 'the quietest is raised by the limit');
  assert.ok(k[3]! > 1 && k[3]! < k[1]! && k[1]! < 8, `factors ${k}`);
  const x = values(C * H * H, 200);
  const [want, got] = [await run(float, x), await run(onnx.ModelProto.encode(equalized).finish(), x)];
  assert.ok(worst(want, got) < 1e-4 * Math.max(...want.map(Math.abs)), `largest difference ${worst(want, got)}`);
});

test('equalize: the INT8 graph built over it is closer to float than without', async () => {
  const float = model();
  const options = { calibration: { method: 'minmax' as const } };
  const plain = await quantize(float, calibration, options);
  const even = await quantize(float, calibration, { ...options, prepare: (m, inputs) => equalizeHardSwishes(m, (n) => n.name === 'h', inputs, 16) });
  assert.equal(even.plan.activations.size, plain.plan.activations.size + 1, 'one more quantized value: x on its way into the clip');
  const x = values(C * H * H, 300);
  const want = await run(float, x);
  const [a, b] = [worst(want, await run(plain.bytes, x)), worst(want, await run(even.bytes, x))];
  assert.ok(b < a / 2, `largest difference equalised ${b}, plain ${a}`);
});

test('equalize: a hard swish whose 1/6 went into the next weights, x · relu6(x + 3), likewise', async () => {
  const float = model(false, false);
  const options = { calibration: { method: 'minmax' as const } };
  const plain = await quantize(float, calibration, options);
  let done: Awaited<ReturnType<typeof equalizeHardSwishes>> = [];
  const even = await quantize(float, calibration, {
    ...options,
    prepare: async (m, inputs) => (done = await equalizeHardSwishes(m, (n) => n.name === 'h', inputs, 16)),
  });
  assert.equal(done.length, 1);
  assert.ok(!onnx.ModelProto.decode(even.plan.prepared).graph!.node!.some((n) => n.opType === 'Mul' && n.input!.includes('sixth')), 'the 1/6 was folded first');
  const x = values(C * H * H, 400);
  const want = await run(float, x);
  const [a, b] = [worst(want, await run(plain.bytes, x)), worst(want, await run(even.bytes, x))];
  assert.ok(b < a / 2, `largest difference equalised ${b}, plain ${a}`);
});

test('equalize: a hard swish whose output the graph gives out is left alone', async () => {
  const m = onnx.ModelProto.decode(model(true));
  const before = onnx.ModelProto.encode(m).finish();
  assert.deepEqual(await equalizeHardSwishes(m, () => true, calibration, 8), []);
  assert.deepEqual(onnx.ModelProto.encode(m).finish(), before);
});
