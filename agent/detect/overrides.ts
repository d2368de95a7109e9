// MODEL_* and detection settings → the detector's options; MODEL_* take precedence over
// the model manifest.
import type { Config } from '../config/index.js';
import type { Logger } from '../log.js';
import type { DetectorOptions } from './index.js';
import type { InputOverrides } from './manifest.js';

export function inputOverrides(config: Config): InputOverrides {
  const auto = <T extends string>(v: T): Exclude<T, 'auto'> | undefined => (v === 'auto' ? undefined : (v as Exclude<T, 'auto'>));
  const size = /^(\d+)x(\d+)$/.exec(config.MODEL_INPUT_SIZE);
  const layout = auto(config.MODEL_INPUT_LAYOUT);
  const pixelFormat = auto(config.MODEL_INPUT_PIXEL_FORMAT);
  const range = auto(config.MODEL_INPUT_RANGE);
  const resize = auto(config.MODEL_INPUT_RESIZE);
  const decoder = auto(config.MODEL_DECODER);
  return {
    layout: layout && (layout.toUpperCase() as 'NCHW' | 'NHWC'),
    pixelFormat,
    range,
    resize,
    size: size ? { width: Number(size[1]), height: Number(size[2]) } : undefined,
    decoder,
    labelsFile: config.MODEL_LABELS,
  };
}

/** The detector's options; `scoreThreshold` is the lowest score it passes on (the tracker's low score, in the agent). */
export function detectorOptions(config: Config, log: Logger, scoreThreshold = config.SCORE_THRESHOLD): DetectorOptions {
  return {
    modelPath: config.MODEL,
    threads: config.DETECT_THREADS,
    scoreThreshold,
    nmsIou: config.NMS_IOU,
    nmsClassAgnostic: config.NMS_CLASS_AGNOSTIC,
    classes: config.CLASSES,
    // Descriptors only when the tracker weighs appearance or re-links by it.
    appearance: config.TRACK_APPEARANCE_WEIGHT > 0 || config.TRACK_RELINK,
    overrides: inputOverrides(config),
    log,
  };
}
