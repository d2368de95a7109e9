// Decoder plugins, chosen by key (manifest `decoder`, MODEL_DECODER) or detected from output shapes.
import { centernet } from './centernet.js';
import { openvinoDetectionOutput } from './openvino-detection-output.js';
import { ssd } from './ssd.js';
import type { Decoder, Outputs } from './types.js';
import { yoloEnd2End } from './yolo-end2end.js';
import { yolov5 } from './yolov5.js';
import { yolov8 } from './yolov8.js';

export type { Candidate, DecodeContext, Decoder, OutputTensor, Outputs } from './types.js';

export const DECODER_KEYS = ['centernet', 'yolov5', 'yolov8', 'yolo-end2end', 'ssd', 'openvino-detection-output'] as const;
export type DecoderKey = (typeof DECODER_KEYS)[number];

export const DECODERS: Record<DecoderKey, Decoder> = {
  centernet,
  yolov5,
  yolov8,
  'yolo-end2end': yoloEnd2End,
  ssd,
  'openvino-detection-output': openvinoDetectionOutput,
};

/** Detection order: the most specific layouts first; centernet is never guessed (it shares yolo-end2end's layout). */
const DETECTION_ORDER: DecoderKey[] = ['openvino-detection-output', 'ssd', 'yolo-end2end', 'yolov8', 'yolov5'];

export function detectDecoder(outputs: Outputs): DecoderKey | undefined {
  return DETECTION_ORDER.find((key) => DECODERS[key].matches(outputs));
}
