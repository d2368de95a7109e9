// `edgecam detect`: still images through exactly the agent's path — FFmpeg decodes
// and scales each image as capture does for a camera, then the same detector runs.
import type { Config } from '../config/index.js';
import type { Logger } from '../log.js';
import { withFirstFrame } from '../capture/probe.js';
import { Detector } from './index.js';
import { detectorOptions } from './overrides.js';

export interface ImageDetections {
  file: string;
  /** The model that ran, e.g. "centernet-fp32 (fp32, 512x512)". */
  model: string;
  detections: { class_name: string; score: number; box: [number, number, number, number] }[];
}

export async function* detectImages(config: Config, files: string[], log: Logger): AsyncGenerator<ImageDetections> {
  const detector = new Detector(detectorOptions(config, log));
  await detector.start();
  try {
    for (const file of files) {
      const { width, height, resize } = detector.spec.input;
      const source = { url: file, kind: 'file' as const, loop: false, realtime: false };
      const detections = await withFirstFrame(
        { source, width, height, resize, ffmpegPath: config.FFMPEG_PATH, log, sourceLabel: '' },
        async (frame) => (await detector.detect(frame)).detections,
      );
      if (!detections) throw new Error(`${file}: FFmpeg decoded no image`);
      yield {
        file,
        model: detector.description,
        detections: detections.map((d) => ({
          class_name: d.className,
          score: Math.round(d.score * 1000) / 1000,
          box: d.box.map((v) => Math.round(v * 10) / 10) as [number, number, number, number],
        })),
      };
    }
  } finally {
    await detector.stop();
  }
}
