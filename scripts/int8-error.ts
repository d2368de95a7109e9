// `npm run models:error [-- --sweep]`: where the INT8 model's error comes from, measured.
// The INT8 model is rebuilt as `npm run models` builds it, then with some of its
// activations left in float, and each build is compared with the float model on the
// images and with the decoding of test/integration/int8.test.ts (and on images held out
// from every build: python3-skimage's photos, vtest.avi every 4 s), and timed against it
// side by side (alternating rounds, same threads):
//   - as bundled;
//   - without the first hard swish's equalisation (scripts/equalize.ts);
//   - weights int8, every activation float: the weights' rounding alone;
//   - the first convolution's hard swish in float (its output is one uint8 scale for
//     channels whose levels differ a hundredfold: printed);
// then the equalisation with each limit of `--limits` (default 2,3,4,6,8,16).
// `--sweep` also quantizes each activation alone (weights int8, everything else float)
// and lists the ones whose rounding costs the most; about 3 s per activation.
// `--checkpoints DIR`: instead, the curve of a distillation (`npm run models:distill --
// --checkpoints DIR`): each checkpoint's INT8 build compared as above, then the committed
// distilled build timed side by side with the bundled one.
import { parseArgs } from 'node:util';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import '../agent/detect/no-telemetry.js';
import ort from 'onnxruntime-node';
import { sessionOptions } from '../agent/detect/index.js';
import type { Candidate } from '../agent/detect/decoders/index.js';
import { percentile } from '../agent/geometry.js';
import { iou } from '../agent/frames/frame.js';
import { BUNDLED_MODELS } from '../agent/paths.js';
import { DISTILLED, INT8, calibrationInputs, quantizeBundled, quantizeDistilledFiles } from './build-models.js';
import { compareDetections, detectAll } from './model-accuracy.js';
import { BUNDLED_ACCURACY, evaluationImages, heldOutImages } from './model-images.js';
import { equalizeHardSwishes } from './equalize.js';
import { activationParams, quantize, runOver, simplify, type QuantizeOptions, type Statistics } from './quantize.js';

const { values } = parseArgs({
  options: { sweep: { type: 'boolean' }, top: { type: 'string', default: '15' }, checkpoints: { type: 'string' }, limits: { type: 'string', default: '2,3,4,6,8,16' } },
});

const fp32 = readFileSync(BUNDLED_MODELS['centernet-fp32']);
const inputs = await calibrationInputs();
const images = await evaluationImages();
const loose = { ...BUNDLED_ACCURACY, scoreThreshold: BUNDLED_ACCURACY.scoreThreshold - 0.05 };
const reference = await detectAll(BUNDLED_MODELS['centernet-fp32'], images, loose);
const dir = mkdtempSync(join(tmpdir(), 'edgecam-int8-error-'));
// Images held out from every build (python3-skimage's photos, vtest.avi every 4 s), compared beside the test's.
const heldOutSet = await heldOutImages();
const heldOut = { images: heldOutSet, reference: await detectAll(BUNDLED_MODELS['centernet-fp32'], heldOutSet, loose) };
const HELD_OUT_COLUMNS = ' held out: recall | score difference | images with a new detection |';

/**
 * One number per build, finer than recall: for each float detection above the threshold,
 * the score it loses and the overlap it loses (1 − IoU) with the build's best detection
 * of its class; a missing one costs its score plus 1. Averaged over the float detections.
 */
function detectionError(got: Candidate[][]): number {
  let sum = 0;
  let n = 0;
  reference.forEach((refs, i) => {
    for (const r of refs) {
      if (r.score < BUNDLED_ACCURACY.scoreThreshold) continue;
      let best: Candidate | undefined;
      let bestIou = 0.3;
      for (const g of got[i]!) {
        const o = g.classId === r.classId ? iou(g.box, r.box) : 0;
        if (o > bestIou) [best, bestIou] = [g, o];
      }
      sum += best ? Math.abs(best.score - r.score) + (1 - bestIou) : r.score + 1;
      n++;
    }
  });
  return sum / n;
}

/** One build's comparison with the float model, on the test's images and decoding (and on `also`, when given). */
async function compare(label: string, bytes: Uint8Array, also?: { images: typeof images; reference: typeof reference }) {
  const path = join(dir, `${label.replace(/\W+/g, '-')}.onnx`);
  writeFileSync(path, bytes);
  const got = await detectAll(path, images, loose);
  const r = compareDetections(
    images.map((i) => i.name),
    reference,
    got,
    BUNDLED_ACCURACY.scoreThreshold,
  );
  const o =
    also &&
    compareDetections(
      also.images.map((i) => i.name),
      also.reference,
      await detectAll(path, also.images, loose),
      BUNDLED_ACCURACY.scoreThreshold,
    );
  const heldOut = o && ` ${(o.recall * 100).toFixed(1)} % | ${o.meanScoreDiff.toFixed(3)} | ${(o.imagesWithExtra * 100).toFixed(1)} % |`;
  return { label, path, error: detectionError(got), recall: r.recall, scoreDiff: r.meanScoreDiff, extra: r.imagesWithExtra, heldOut };
}

let statistics: Statistics | undefined;
let activations: string[] = [];
/** A build as `npm run models` makes it, with some activations float; its calibration serves the next such build. */
async function build(label: string, floatActivations?: QuantizeOptions['floatActivations'], withHeldOut = true) {
  const result = await quantize(fp32, inputs, { ...INT8, floatActivations, statistics });
  statistics = result.statistics;
  activations = result.activations;
  return compare(label, result.bytes, withHeldOut ? heldOut : undefined);
}

/** A build with the first hard swish equalised up to `limit` (0: not at all), calibrated on its own. */
async function equalized(label: string, limit: number) {
  const prepare: QuantizeOptions['prepare'] = limit ? (model, i) => equalizeHardSwishes(model, INT8.keepFloat, i, limit) : undefined;
  const result = await quantize(fp32, inputs, { ...INT8, prepare });
  return { ...(await compare(label, result.bytes, heldOut)), result };
}

/** Throughput ratios to the float model at 512×512: 10 rounds of 10 inferences, models alternating. */
async function speeds(paths: string[], threads: number): Promise<number[]> {
  const sessions = await Promise.all([BUNDLED_MODELS['centernet-fp32'], ...paths].map((p) => ort.InferenceSession.create(p, sessionOptions(threads))));
  const feeds = (s: ort.InferenceSession) => ({ [s.inputNames[0]!]: new ort.Tensor('uint8', images[0]!.rgb, [1, 512, 512, 3]) });
  const times = sessions.map(() => [] as number[]);
  for (const s of sessions) for (let i = 0; i < 5; i++) await s.run(feeds(s));
  for (let round = 0; round < 10; round++) {
    const order = round % 2 ? [...sessions.keys()].reverse() : [...sessions.keys()];
    for (const k of order) {
      const t = performance.now();
      for (let i = 0; i < 10; i++) await sessions[k]!.run(feeds(sessions[k]!));
      times[k]!.push(performance.now() - t);
    }
  }
  await Promise.all(sessions.map((s) => s.release()));
  return times.slice(1).map((t) => percentile(times[0]!, 0.5)! / percentile(t, 0.5)!);
}

/** Each channel's root mean square over the calibration images, for one activation of the simplified graph. */
async function channelLevels(name: string): Promise<number[]> {
  const sums: number[] = [];
  let count = 0;
  await runOver(await simplify(fp32), [name], inputs, (out) => {
    const t = out[name]!;
    const [, channels, h, w] = t.dims as [number, number, number, number];
    const data = t.data as Float32Array;
    for (let c = 0; c < channels; c++) for (let i = c * h * w; i < (c + 1) * h * w; i++) sums[c] = (sums[c] ?? 0) + data[i]! ** 2;
    count += h * w;
  });
  return sums.map((s) => Math.sqrt(s / count));
}

const row = (b: Awaited<ReturnType<typeof compare>>, speed = '') =>
  `| ${b.label} | ${(b.recall * 100).toFixed(1)} % | ${b.scoreDiff.toFixed(3)} | ${(b.extra * 100).toFixed(1)} % | ${b.error.toFixed(3)} |${speed}`;

async function curve(folder: string) {
  const steps = readdirSync(folder)
    .map((f) => /^step-(\d+)\.onnx$/.exec(f)?.[1])
    .filter((s): s is string => !!s)
    .map(Number)
    .sort((a, b) => a - b);
  const rows = [await compare('calibrated (no training)', (await quantizeBundled(fp32)).bytes, heldOut)];
  for (const step of steps) {
    rows.push(await compare(`distilled, step ${step}`, (await quantizeDistilledFiles(join(folder, `step-${step}.onnx`), join(folder, `step-${step}.json`))).bytes, heldOut));
  }
  if (existsSync(DISTILLED.weights)) rows.push(await compare('distilled, committed', (await quantizeDistilledFiles(DISTILLED.weights, DISTILLED.params)).bytes, heldOut));
  const timed = [rows[0]!, rows.at(-1)!];
  const [two, one] = [
    await speeds(
      timed.map((b) => b.path),
      2,
    ),
    await speeds(
      timed.map((b) => b.path),
      1,
    ),
  ];
  console.log(
    `the test's ${images.length} images, then ${heldOutSet.length} held out from every build (${heldOut.reference.flat().filter((d) => d.score >= BUNDLED_ACCURACY.scoreThreshold).length} float detections)`,
  );
  console.log(`| build | recall | score difference | images with a new detection | detection error | × FP32, 2 threads | × FP32, 1 thread |${HELD_OUT_COLUMNS}`);
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  rows.forEach((b, k) => {
    const t = k === 0 ? 0 : k === rows.length - 1 ? 1 : -1;
    console.log(row(b, t < 0 ? ' | |' : ` ${two[t]!.toFixed(2)} | ${one[t]!.toFixed(2)} |`) + (b.heldOut ?? ''));
  });
}

/** Where the calibrated build's error comes from (the default). */
async function study() {
  const stem = /^tower_0\/MobilenetV3\/Conv\//;
  const plain = await equalized('without the equalisation', 0);
  const builds = [
    await build('as bundled'),
    plain,
    await build('weights int8, activations float', () => true),
    await build("first convolution's hard swish float", (n) => stem.test(n)),
  ];
  const [two, one] = [
    await speeds(
      builds.map((b) => b.path),
      2,
    ),
    await speeds(
      builds.map((b) => b.path),
      1,
    ),
  ];
  console.log(
    `${images.length} images, ${reference.flat().filter((d) => d.score >= BUNDLED_ACCURACY.scoreThreshold).length} float detections; the accuracy line: recall ≥ 95 %, score difference ≤ 0.05, new detections on ≤ 2 % of images; ${heldOutSet.length} images held out from every build`,
  );
  console.log(`| build | recall | score difference | images with a new detection | detection error | × FP32, 2 threads | × FP32, 1 thread |${HELD_OUT_COLUMNS}`);
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  builds.forEach((b, k) => console.log(row(b, ` ${two[k]!.toFixed(2)} | ${one[k]!.toFixed(2)} |`) + (b.heldOut ?? '')));
  // The first hard swish's output, as the graph without the equalisation has it.
  const stemOutput = plain.result.activations.filter((n) => stem.test(n)).at(-1)!;
  const levels = await channelLevels(stemOutput);
  const step = activationParams(plain.result.statistics.ranges.get(stemOutput)!).scale;
  const live = levels.filter((l) => l > 1e-3).sort((a, b) => a - b);
  console.log(
    `${stemOutput}: ${levels.length} channels, RMS level ${live[0]!.toPrecision(2)} to ${live.at(-1)!.toPrecision(3)} (${live.filter((l) => l < 4 * step).length} channels under 4 steps), one uint8 step of ${step.toFixed(3)}`,
  );
  const limits = values.limits.split(',').map(Number);
  console.log(`\nThe first hard swish equalised with each limit (each build calibrated on its own)`);
  console.log(`| limit | recall | score difference | images with a new detection | detection error |${HELD_OUT_COLUMNS}`);
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const limit of limits) {
    const b = await equalized(String(limit), limit);
    console.log(row(b) + (b.heldOut ?? ''));
  }
  if (values.sweep) {
    const rows = [];
    // The score map and its max-pooled copy are compared for equality to find the peaks:
    // one quantized without the other finds none, so the pooled copy is not swept alone.
    for (const name of activations.filter((n) => !/max_pooling2d/.test(n))) rows.push({ ...(await build(`only ${name}`, (n) => n !== name, false)), name });
    const base = builds[1]!.error;
    console.log(`\nEach activation quantized alone (weights int8); detection error with none: ${base.toFixed(3)}`);
    console.log('| activation | detection error | recall |');
    console.log('| --- | --- | --- |');
    for (const r of rows.sort((a, b) => b.error - a.error).slice(0, Number(values.top))) console.log(`| ${r.name} | ${r.error.toFixed(3)} | ${(r.recall * 100).toFixed(1)} % |`);
  }
}

try {
  await (values.checkpoints ? curve(values.checkpoints) : study());
} finally {
  rmSync(dir, { recursive: true, force: true });
}
