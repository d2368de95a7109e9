// MODEL_* settings → the overrides that take precedence over the model manifest.
import type { Config } from '../config/index.js';
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
