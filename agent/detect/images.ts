// `edgecam detect`: still images through exactly the agent's path — FFmpeg decodes
// and scales each image as capture does for a camera, then the same detector runs.
import type { Config } from '../config/index.js';
import type { Logger } from '../log.js';
import { Capture } from '../capture/index.js';
import { Detector } from './index.js';
import { inputOverrides } from './overrides.js';

export interface ImageDetections {
  file: string;
  detections: { class_name: string; score: number; box: [number, number, number, number] }[];
}

export async function* detectImages(config: Config, files: string[], log: Logger): AsyncGenerator<ImageDetections> {
  const detector = new Detector({
    modelPath: config.MODEL,
    threads: config.DETECT_THREADS,
    scoreThreshold: config.SCORE_THRESHOLD,
    nmsIou: config.NMS_IOU,
    nmsClassAgnostic: config.NMS_CLASS_AGNOSTIC,
    classes: config.CLASSES,
    overrides: inputOverrides(config),
    log,
  });
  await detector.start();
  try {
    for (const file of files) {
      const { width, height, resize } = detector.spec.input;
      const capture = new Capture({
        source: { url: file, kind: 'file', loop: false, realtime: false },
        width,
        height,
        resize,
        fps: 1,
        ffmpegPath: config.FFMPEG_PATH,
        lossless: true,
        log,
      });
      await capture.start();
      try {
        const frame = await capture.next();
        if (!frame) throw new Error(`${file}: FFmpeg decoded no image`);
        const { detections } = await detector.detect(frame);
        yield {
          file,
          detections: detections.map((d) => ({
            class_name: d.className,
            score: Math.round(d.score * 1000) / 1000,
            box: d.box.map((v) => Math.round(v * 10) / 10) as [number, number, number, number],
          })),
        };
      } finally {
        await capture.stop();
      }
    }
  } finally {
    await detector.stop();
  }
}
