// The configuration schema: the single source of truth for every setting (those of
// video, model, tracking and speed here; the outputs' in settings-output.ts).
// `.env.example` and the table of docs/configuration.md are generated from it
// (scripts/gen-config-docs.ts), and a test fails when they drift.
import { z } from 'zod';
import { DECODER_KEYS } from '../detect/decoders/index.js';
import { HWACCEL_NAMES } from '../ffmpeg/inputs.js';
import { bool, list, number, oneOf, optionalString } from './values.js';
import { outputSettings } from './settings-output.js';
import { analyticsSettings } from './settings-analytics.js';
import { cameraSettings } from './settings-camera.js';
import { historySettings } from './settings-history.js';

/** Settings whose values never appear in logs or in `check-config` output. */
export const SECRET_KEYS = new Set(['MQTT_PASSWORD', 'HTTP_TOKEN', 'MQTT_EMBEDDED_PASSWORD']);

/** Old names still read, with a warning, and the settings that replaced them. */
export const RENAMED_SETTINGS: Record<string, SettingName> = { VIEWER_PORT: 'HTTP_PORT', VIEWER_BIND: 'HTTP_BIND', VIEWER_TOKEN: 'HTTP_TOKEN' };

export const configSchema = z.object({
  SOURCE: optionalString()
    .describe(
      'Video source: a file path, rtsp:// or rtsps:// URL, http(s):// stream (MJPEG or any FFmpeg-readable stream), a V4L2 device such as /dev/video0, the Raspberry Pi camera module as rpicam (rpicam:1 for the second camera; settings RPICAM_*), or an FFmpeg test source as lavfi:<graph>. Empty: the bundled sample clip.',
    )
    .meta({ examples: ['rtsp://user:pass@192.168.1.20:554/stream1'] }),
  SOURCE_LOOP: z
    .enum(['auto', 'true', 'false'], { error: 'expected true, false or auto' })
    .default('auto')
    .describe('Loop a file source forever. auto: loop the bundled sample, play any other file once. When a file ends without looping, the agent flushes MQTT and exits 0.')
    .meta({ examples: ['false'] }),
  SOURCE_REALTIME: bool(true)
    .describe('Read a file at its native frame rate, like a live camera. false: as fast as the pipeline takes frames, dropping none.')
    .meta({ examples: ['false'] }),
  SOURCE_LAVFI_UNRESTRICTED: bool(false)
    .describe(
      "Accept any FFmpeg filter graph as a lavfi: source. false: only one test-pattern source filter (testsrc2, color, smptebars, ...), since other filters can read and write files with the agent's rights.",
    )
    .meta({ examples: ['true'] }),
  FFMPEG_PATH: optionalString()
    .describe('FFmpeg binary. Empty: `ffmpeg` on PATH, else the binary shipped by the @ffmpeg-installer npm package.')
    .meta({ examples: ['/usr/bin/ffmpeg'] }),
  HWACCEL: z
    .enum(HWACCEL_NAMES, { error: oneOf(HWACCEL_NAMES) })
    .default('none')
    .describe(
      'Hardware video decode: v4l2m2m (Raspberry Pi, H.264), vaapi or qsv (Intel NUC, /dev/dri/renderD128), auto (whatever FFmpeg finds), none (software). A preset that fails falls back to software decode with a warning.',
    )
    .meta({ examples: ['vaapi'] }),
  MODEL: optionalString()
    .describe(
      'ONNX detector model: empty for the default, the bundled INT8 model (centernet-int8); centernet (or centernet-fp32) for the float one; or the path of an .onnx file. A manifest with the same name and .json beside it describes input and decoding; without one the decoder is detected from the output shapes.',
    )
    .meta({ examples: ['centernet', '/opt/models/yolov8n.onnx'] }),
  MODEL_DECODER: z
    .enum(['auto', ...DECODER_KEYS], { error: oneOf(['auto', ...DECODER_KEYS]) })
    .default('auto')
    .describe("Output decoder for the model. auto: the manifest's, else detected from the output shapes.")
    .meta({ examples: ['yolov8'] }),
  MODEL_INPUT_SIZE: z
    .string()
    .regex(/^(auto|\d+x\d+)$/, { error: 'expected WIDTHxHEIGHT or auto' })
    .default('auto')
    .describe("Model input size as WIDTHxHEIGHT. auto: the manifest's, else the model's input shape.")
    .meta({ examples: ['640x640'] }),
  MODEL_INPUT_LAYOUT: z
    .enum(['auto', 'nchw', 'nhwc'], { error: 'expected auto, nchw or nhwc' })
    .default('auto')
    .describe("Input tensor layout. auto: the manifest's, else guessed from the input shape.")
    .meta({ examples: ['nchw'] }),
  MODEL_INPUT_PIXEL_FORMAT: z
    .enum(['auto', 'rgb', 'bgr'], { error: 'expected auto, rgb or bgr' })
    .default('auto')
    .describe("Channel order the model expects. auto: the manifest's, else rgb.")
    .meta({ examples: ['bgr'] }),
  MODEL_INPUT_RANGE: z
    .enum(['auto', '0-1', '0-255', '-1-1', 'imagenet'], { error: 'expected auto, 0-1, 0-255, -1-1 or imagenet' })
    .default('auto')
    .describe("Pixel value range of a float input: 0-1, 0-255, -1-1, or imagenet mean/std. uint8 inputs get 0-255. auto: the manifest's, else 0-1.")
    .meta({ examples: ['0-255'] }),
  MODEL_INPUT_RESIZE: z
    .enum(['auto', 'letterbox', 'stretch'], { error: 'expected auto, letterbox or stretch' })
    .default('auto')
    .describe("How frames are fitted to the input: letterbox keeps the aspect ratio and pads; stretch does not. auto: the manifest's, else letterbox.")
    .meta({ examples: ['letterbox'] }),
  MODEL_LABELS: optionalString()
    .describe("Label file, one class name per line in class-index order. Empty: the manifest's labels, else the 80 COCO names.")
    .meta({ examples: ['/opt/models/labels.txt'] }),
  DETECT_FPS: number({ min: 0.1, max: 120 })
    .default(5)
    .describe('Frames per second handed to the detector. FFmpeg drops the others before they are decoded to pixels.')
    .meta({ examples: ['5'] }),
  DETECT_THREADS: number({ min: 0, max: 64, int: true })
    .default(0)
    .describe(
      'onnxruntime intra-op threads. 0: one per core, shared out among the systemd instances configured on the box (/etc/edgecam/*.env) when the agent runs as one of them.',
    )
    .meta({ examples: ['2'] }),
  SCORE_THRESHOLD: number({ min: 0, max: 1 })
    .optional()
    .describe("Minimum detection score, 0..1. Empty: the model manifest's scoreThreshold (the bundled model's: 0.3), else 0.3.")
    .meta({ examples: ['0.4'] }),
  NMS_IOU: number({ min: 0, max: 1 })
    .optional()
    .describe("Intersection-over-union above which overlapping boxes are merged by non-maximum suppression. Empty: the model manifest's nmsIou, else 0.4.")
    .meta({ examples: ['0.5'] }),
  NMS_CLASS_AGNOSTIC: bool(true)
    .describe('Suppress overlapping boxes whatever their class (true), or only boxes of the same class (false).')
    .meta({ examples: ['false'] }),
  CLASSES: list()
    .default([])
    .describe('Comma-separated class names to report. Empty: all classes of the model.')
    .meta({ examples: ['person,car,truck,bicycle'] }),
  MOTION_GATING: bool(true)
    .describe('Skip inference while nothing moves (a cheap check on a 64x64 grey copy of each frame); tracks are kept meanwhile.')
    .meta({ examples: ['false'] }),
  MOTION_THRESHOLD: number({ min: 0, max: 1 })
    .default(0.003)
    .describe('Fraction of the picture that must change for a frame to count as motion (0.003: about 12 of 4,096 cells).')
    .meta({ examples: ['0.01'] }),
  MOTION_MAX_SKIP: number({ min: 0, max: 3600 })
    .default(5)
    .describe('Seconds of source time after which inference runs even without motion, so stationary objects are still reported.')
    .meta({ examples: ['10'] }),
  TRACK_LOW_SCORE: number({ min: 0, max: 1 })
    .default(0.1)
    .describe("Detections between this score and SCORE_THRESHOLD are not reported, but keep an existing track alive (ByteTrack's second association pass).")
    .meta({ examples: ['0.15'] }),
  TRACK_LOST_SECONDS: number({ min: 0, max: 60 })
    .default(1.5)
    .describe('Seconds a track survives without a detection (occlusion, missed frames) before it ends.')
    .meta({ examples: ['3'] }),
  CALIBRATION_IMAGE_POINTS: optionalString()
    .describe(
      'Four points on the road in source-frame pixels, "x1,y1;x2,y2;x3,y3;x4,y4", in the same order as CALIBRATION_WORLD_POINTS. With them, speeds are measured on the ground plane. A calibration saved from the viewer or by set/calibration overrides both.',
    )
    .meta({ examples: ['412,710;1505,705;1130,380;790,382'] }),
  CALIBRATION_WORLD_POINTS: optionalString()
    .describe('The same four points on the road in metres, "X1,Y1;...;X4,Y4" (any origin; X and Y at right angles).')
    .meta({ examples: ['0,0;7,0;7,30;0,30'] }),
  METERS_PER_PIXEL: number({ min: 0 })
    .optional()
    .describe('Alternative to the four points, for a camera looking straight down at the road: metres per source pixel.')
    .meta({ examples: ['0.02'] }),
  SPEED_UNIT: z
    .enum(['kmh', 'mph', 'mps'], { error: 'expected kmh, mph or mps' })
    .default('kmh')
    .describe('Unit of published speeds: kmh (km/h), mph, or mps (m/s).')
    .meta({ examples: ['mph'] }),
  SPEED_CLASSES: list()
    .default(['person', 'bicycle', 'car', 'motorcycle', 'bus', 'truck'])
    .describe('Classes whose speed is measured. Empty: every tracked class.')
    .meta({ examples: ['car,truck,bus'] }),
  SPEED_WINDOW: number({ min: 0.2, max: 10 })
    .default(1)
    .describe('Seconds of track history in each speed estimate (least-squares fit of ground position against source time).')
    .meta({ examples: ['2'] }),
  SPEED_MIN_AGE: number({ min: 0, max: 10 })
    .default(0.5)
    .describe('Seconds a track must exist before its first speed is published.')
    .meta({ examples: ['1'] }),
  SPEED_MIN_SAMPLES: number({ min: 3, max: 100, int: true })
    .default(4)
    .describe('Positions (boxes clear of the frame edge) needed in the window before a speed is published.')
    .meta({ examples: ['5'] }),
  SPEED_PUBLISH_INTERVAL: number({ min: 0, max: 60 })
    .default(1)
    .describe('Seconds between speed messages of one track (source time). A final summary follows when the track ends.')
    .meta({ examples: ['0.5'] }),
  ...cameraSettings,
  ...analyticsSettings,
  ...outputSettings,
  ...historySettings,
});

export type RawConfig = z.infer<typeof configSchema>;
export type SettingName = keyof RawConfig;
export const SETTING_NAMES = Object.keys(configSchema.shape) as SettingName[];
