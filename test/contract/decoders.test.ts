// Every decoder runs the same contract: a real onnxruntime session on a model whose
// outputs are constants in that decoder's layout; the detector must return the
// same objects, in source pixels, with the letterbox undone and duplicates suppressed.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Detector } from '../../agent/detect/index.js';
import { DECODER_KEYS, type DecoderKey } from '../../agent/detect/decoders/index.js';
import { frameTransform, type Frame } from '../../agent/frames/frame.js';
import { UserError } from '../../agent/errors.js';
import { constantOutputModel, type ConstantOutput } from '../helpers/onnx.js';
import { memoryLogger } from '../helpers/log.js';
import { readLabels } from '../../agent/detect/manifest.js';
import { COCO90_LABELS, COCO_LABELS } from '../../agent/paths.js';

const COCO80 = readLabels(COCO_LABELS);
const COCO90 = readLabels(COCO90_LABELS);

const W = 640;
const H = 640;
type Box = [number, number, number, number];
interface Obj {
  classId: number;
  score: number;
  box: Box; // model-input pixels
}

// Two people overlapping (NMS keeps the better), a car, and a weak detection below threshold.
const OBJECTS: Obj[] = [
  { classId: 0, score: 0.9, box: [100, 200, 200, 400] },
  { classId: 0, score: 0.8, box: [104, 204, 204, 404] },
  { classId: 2, score: 0.7, box: [300, 250, 500, 350] },
  { classId: 1, score: 0.1, box: [10, 150, 50, 200] },
];
// 1280x720 letterboxed into 640x640: scale 0.5, 140 px bars top and bottom.
const EXPECTED = [
  { className: 'person', score: 0.9, box: [200, 120, 400, 520] },
  { className: 'car', score: 0.7, box: [600, 220, 1000, 420] },
];
const CLASSES = 3;
const ANCHORS = 10;

const cxcywh = (b: Box) => [(b[0] + b[2]) / 2, (b[1] + b[3]) / 2, b[2] - b[0], b[3] - b[1]];

const LAYOUTS: Record<DecoderKey, () => ConstantOutput[]> = {
  yolov8: () => {
    const rows = 4 + CLASSES;
    const data = new Array<number>(rows * ANCHORS).fill(0);
    OBJECTS.forEach((o, a) => {
      cxcywh(o.box).forEach((v, r) => (data[r * ANCHORS + a] = v));
      data[(4 + o.classId) * ANCHORS + a] = o.score;
    });
    return [{ name: 'output0', dims: [1, rows, ANCHORS], data }];
  },
  yolov5: () => {
    // score = objectness x class probability: each object's score is split between the two,
    // and one anchor is sure of its class but holds no object (it must not be reported).
    const cols = 5 + CLASSES;
    const data = new Array<number>(cols * ANCHORS).fill(0);
    const anchors = [...OBJECTS, { classId: 1, score: 0.95, box: [420, 420, 520, 520] as Box }];
    anchors.forEach((o, i) => {
      cxcywh(o.box).forEach((v, k) => (data[i * cols + k] = v));
      const noObject = i === OBJECTS.length;
      data[i * cols + 4] = noObject ? 0.05 : Math.sqrt(o.score);
      data[i * cols + 5 + o.classId] = noObject ? o.score : Math.sqrt(o.score);
    });
    return [{ name: 'output', dims: [1, ANCHORS, cols], data }];
  },
  'yolo-end2end': () => [{ name: 'output0', dims: [1, OBJECTS.length, 6], data: OBJECTS.flatMap((o) => [...o.box, o.score, o.classId]) }],
  centernet: () => [{ name: 'tower_0/detections', dims: [1, OBJECTS.length, 6], data: OBJECTS.flatMap((o) => [...o.box, o.score, o.classId]) }],
  // TF Object Detection API: class ids from COCO's label map, which counts from 1 (person 1, car 3).
  ssd: () => [
    { name: 'detection_boxes', dims: [1, OBJECTS.length, 4], data: OBJECTS.flatMap((o) => [o.box[1] / H, o.box[0] / W, o.box[3] / H, o.box[2] / W]) },
    { name: 'detection_classes', dims: [1, OBJECTS.length], data: OBJECTS.map((o) => COCO90.indexOf(COCO80[o.classId]!) + 1) },
    { name: 'detection_scores', dims: [1, OBJECTS.length], data: OBJECTS.map((o) => o.score) },
    { name: 'num_detections', dims: [1], data: [OBJECTS.length] },
  ],
  'openvino-detection-output': () => {
    const rows = OBJECTS.map((o) => [0, o.classId, o.score, o.box[0] / W, o.box[1] / H, o.box[2] / W, o.box[3] / H]);
    // The list ends at image_id -1: the row after it must be ignored.
    rows.push([-1, 0, 0, 0, 0, 0, 0], [0, 1, 0.99, 0.1, 0.1, 0.2, 0.2]);
    return [{ name: 'detection_out', dims: [1, 1, rows.length, 7], data: rows.flat() }];
  },
};

function writeModel(outputs: ConstantOutput[], manifest?: object): string {
  const dir = mkdtempSync(join(tmpdir(), 'edgecam-decoder-'));
  const path = join(dir, 'model.onnx');
  writeFileSync(path, constantOutputModel({ name: 'images', dims: [1, 3, H, W] }, outputs));
  if (manifest) writeFileSync(join(dir, 'model.json'), JSON.stringify(manifest));
  return path;
}

function frame(): Frame {
  return { data: Buffer.alloc(W * H * 3), width: W, height: H, index: 0, pts: 0, sourceWidth: 1280, sourceHeight: 720, transform: frameTransform('letterbox', 1280, 720, W, H) };
}

async function detectWith(modelPath: string, decoder: DecoderKey | undefined, classAgnostic = true) {
  const detector = new Detector({
    modelPath,
    threads: 1,
    scoreThreshold: 0.3,
    nmsIou: 0.5,
    nmsClassAgnostic: classAgnostic,
    classes: [],
    overrides: { decoder },
    log: memoryLogger().log,
  });
  await detector.start();
  try {
    return { key: detector.decoderKey, ...(await detector.detect(frame())) };
  } finally {
    await detector.stop();
  }
}

function assertExpected(detections: { className: string; score: number; box: number[] }[]) {
  assert.equal(detections.length, EXPECTED.length, JSON.stringify(detections));
  EXPECTED.forEach((e, i) => {
    const d = detections[i]!;
    assert.equal(d.className, e.className);
    assert.ok(Math.abs(d.score - e.score) < 1e-5, `score ${d.score} vs ${e.score}`);
    d.box.forEach((v, k) => assert.ok(Math.abs(v - e.box[k]!) < 1e-3, `${e.className} box ${d.box} vs ${e.box}`));
  });
}

for (const key of DECODER_KEYS) {
  describe(`decoder ${key}`, () => {
    const model = writeModel(LAYOUTS[key]());

    test('decodes boxes, classes and scores in source pixels with NMS', async () => {
      const { detections, key: used } = await detectWith(model, key);
      assert.equal(used, key);
      assertExpected(detections);
    });

    if (key !== 'centernet') {
      test('is detected from the output shapes when no decoder is configured', async () => {
        const { detections, key: used } = await detectWith(model, undefined);
        assert.equal(used, key);
        assertExpected(detections);
      });
    }
  });
}

test('ssd: a model whose class ids count from 0 says so in its manifest, with its own labels', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgecam-labels-'));
  writeFileSync(join(dir, 'labels.txt'), 'person\nbicycle\ncar\n');
  const outputs = LAYOUTS.ssd().map((o) => (o.name === 'detection_classes' ? { ...o, data: OBJECTS.map((x) => x.classId) } : o));
  const manifest = { name: 'ssd0', input: { width: W, height: H, layout: 'NCHW', dtype: 'float32' }, decoder: 'ssd', labels: join(dir, 'labels.txt'), classIdBase: 0 };
  assertExpected((await detectWith(writeModel(outputs, manifest), undefined)).detections);
});

test('class-aware NMS keeps overlapping boxes of different classes', async () => {
  const objects: Obj[] = [
    { classId: 0, score: 0.9, box: [100, 200, 200, 400] },
    { classId: 1, score: 0.8, box: [102, 202, 202, 402] },
  ];
  const model = writeModel([{ name: 'out', dims: [1, 2, 6], data: objects.flatMap((o) => [...o.box, o.score, o.classId]) }]);
  assert.equal((await detectWith(model, 'yolo-end2end', false)).detections.length, 2);
  assert.equal((await detectWith(model, 'yolo-end2end', true)).detections.length, 1);
});

test('a model whose outputs match no decoder is refused with a hint to set MODEL_DECODER', async () => {
  const model = writeModel([{ name: 'logits', dims: [1, 5], data: [0, 1, 2, 3, 4] }]);
  await assert.rejects(detectWith(model, undefined), (err: Error) => {
    assert.ok(err instanceof UserError);
    assert.match(err.message, /logits \[1,5\] matches no known decoder; set MODEL_DECODER to one of centernet, yolov5/);
    return true;
  });
});

test('a file that is not an ONNX model is a clear user error', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgecam-decoder-'));
  const path = join(dir, 'broken.onnx');
  writeFileSync(path, 'not a model');
  await assert.rejects(detectWith(path, undefined), (err: Error) => err instanceof UserError && /onnxruntime cannot load it/.test(err.message));
});
