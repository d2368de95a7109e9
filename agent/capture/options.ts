// The capture's options, and how the config sets them.
import type { Config } from '../config/index.js';
import { decoderThreads } from '../cores.js';
import { cameraOptions, type CameraOptions } from './rpicam.js';
import type { Logger } from '../log.js';
import type { ResizeMode } from '../frames/frame.js';
import { sourceSpec, type HwAccel, type SourceSpec } from '../ffmpeg/inputs.js';
import type { CaptureState } from './states.js';
import type { PictureRing } from '../frames/pictures.js';

export interface CaptureOptions {
  /** How a message names the source, before its URL: `SOURCE=` by default. */
  sourceLabel?: string;
  source: SourceSpec;
  width: number;
  height: number;
  resize: ResizeMode;
  /** Frames per second to deliver; FFmpeg drops the rest. */
  fps: number;
  ffmpegPath?: string;
  /** true: never drop (pause FFmpeg instead); for unpaced file processing. */
  lossless: boolean;
  /** Hardware decode preset; falls back to software decode when it fails. */
  hwaccel?: HwAccel;
  /** Longest wait between restarts, ms. */
  restartMaxMs?: number;
  /** Seconds without a frame from FFmpeg before it is killed and restarted; 0 disables. */
  stallTimeout?: number;
  /** Called when the source's state changes. */
  onState?: (state: CaptureState, detail?: string) => void;
  /** false: read FFmpeg's stdout instead of a named pipe (the fallback where mkfifo is missing). */
  namedPipe?: boolean;
  /** SOURCE=rpicam: the camera module, through rpicam-vid. */
  camera?: CameraOptions;
  /** Where the frames' pictures at the source's size go; none are made without it. */
  pictures?: PictureRing;
  log: Logger;
}

export interface CaptureStats {
  framesIn: number;
  framesDropped: number;
  restarts: number;
}

/** The capture's options from the config, for a model input of `input`'s size. */
export function captureOptions(config: Config, input: { width: number; height: number; resize: ResizeMode }, onState: CaptureOptions['onState'], log: Logger): CaptureOptions {
  return {
    source: { ...sourceSpec(config), decoderThreads: decoderThreads() },
    width: input.width,
    height: input.height,
    resize: input.resize,
    fps: config.DETECT_FPS,
    ffmpegPath: config.FFMPEG_PATH,
    lossless: config.SOURCE_KIND === 'file' && !config.SOURCE_REALTIME,
    stallTimeout: config.STALL_TIMEOUT,
    hwaccel: config.HWACCEL,
    restartMaxMs: config.RESTART_BACKOFF_MAX * 1000,
    camera: config.SOURCE_KIND === 'rpicam' ? cameraOptions(config) : undefined,
    onState,
    log,
  };
}
