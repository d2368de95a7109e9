// The configuration schema: the single source of truth for every setting.
// `.env.example` and the README's configuration table are generated from it
// (scripts/gen-config-docs.ts), and a test fails when they drift.
import { z } from 'zod';
import { DECODER_KEYS } from '../detect/decoders/index.js';
import { HWACCEL_NAMES } from '../ffmpeg/inputs.js';
import { bool, list, number, oneOf, optionalString } from './values.js';


/** Settings whose values never appear in logs or in `check-config` output. */
export const SECRET_KEYS = new Set(['MQTT_PASSWORD', 'HTTP_TOKEN']);

/** Old names still read, with a warning, and the settings that replaced them. */
export const RENAMED_SETTINGS: Record<string, SettingName> = { VIEWER_PORT: 'HTTP_PORT', VIEWER_BIND: 'HTTP_BIND', VIEWER_TOKEN: 'HTTP_TOKEN' };

export const configSchema = z.object({
  SOURCE: optionalString()
    .describe('Video source: a file path, rtsp:// or rtsps:// URL, http(s):// stream (MJPEG or any FFmpeg-readable stream), a V4L2 device such as /dev/video0, or an FFmpeg test source as lavfi:<graph>. Empty: the bundled sample clip.')
    .meta({ examples: ['rtsp://user:pass@192.168.1.20:554/stream1'] }),
  SOURCE_LOOP: z
    .enum(['auto', 'true', 'false'], { error: 'expected true, false or auto' })
    .default('auto')
    .describe('Loop a file source forever. auto: loop the bundled sample, play any other file once. When a file ends without looping, the agent flushes MQTT and exits 0.')
    .meta({ examples: ['false'] }),
  SOURCE_REALTIME: bool(true)
    .describe('Read a file at its native frame rate, like a live camera. false: as fast as the pipeline takes frames, dropping none.')
    .meta({ examples: ['false'] }),
  FFMPEG_PATH: optionalString()
    .describe('FFmpeg binary. Empty: `ffmpeg` on PATH, else the binary shipped by the @ffmpeg-installer npm package.')
    .meta({ examples: ['/usr/bin/ffmpeg'] }),
  HWACCEL: z
    .enum(HWACCEL_NAMES, { error: oneOf(HWACCEL_NAMES) })
    .default('none')
    .describe('Hardware video decode: v4l2m2m (Raspberry Pi, H.264), vaapi or qsv (Intel NUC, /dev/dri/renderD128), auto (whatever FFmpeg finds), none (software). A preset that fails falls back to software decode with a warning.')
    .meta({ examples: ['vaapi'] }),
  MODEL: optionalString()
    .describe('ONNX detector model. A manifest with the same name and .json beside it describes input and decoding; without one the decoder is detected from the output shapes. Empty: the bundled CenterNet COCO model.')
    .meta({ examples: ['/opt/models/yolov8n.onnx'] }),
  MODEL_DECODER: z
    .enum(['auto', ...DECODER_KEYS], { error: oneOf(['auto', ...DECODER_KEYS]) })
    .default('auto')
    .describe('Output decoder for the model. auto: the manifest\'s, else detected from the output shapes.')
    .meta({ examples: ['yolov8'] }),
  MODEL_INPUT_SIZE: z
    .string()
    .regex(/^(auto|\d+x\d+)$/, { error: 'expected WIDTHxHEIGHT or auto' })
    .default('auto')
    .describe('Model input size as WIDTHxHEIGHT. auto: the manifest\'s, else the model\'s input shape.')
    .meta({ examples: ['640x640'] }),
  MODEL_INPUT_LAYOUT: z
    .enum(['auto', 'nchw', 'nhwc'], { error: 'expected auto, nchw or nhwc' })
    .default('auto')
    .describe('Input tensor layout. auto: the manifest\'s, else guessed from the input shape.')
    .meta({ examples: ['nchw'] }),
  MODEL_INPUT_PIXEL_FORMAT: z
    .enum(['auto', 'rgb', 'bgr'], { error: 'expected auto, rgb or bgr' })
    .default('auto')
    .describe('Channel order the model expects. auto: the manifest\'s, else rgb.')
    .meta({ examples: ['bgr'] }),
  MODEL_INPUT_RANGE: z
    .enum(['auto', '0-1', '0-255', '-1-1', 'imagenet'], { error: 'expected auto, 0-1, 0-255, -1-1 or imagenet' })
    .default('auto')
    .describe('Pixel value range of a float input: 0-1, 0-255, -1-1, or imagenet mean/std. uint8 inputs get 0-255. auto: the manifest\'s, else 0-1.')
    .meta({ examples: ['0-255'] }),
  MODEL_INPUT_RESIZE: z
    .enum(['auto', 'letterbox', 'stretch'], { error: 'expected auto, letterbox or stretch' })
    .default('auto')
    .describe('How frames are fitted to the input: letterbox keeps the aspect ratio and pads; stretch does not. auto: the manifest\'s, else letterbox.')
    .meta({ examples: ['letterbox'] }),
  MODEL_LABELS: optionalString()
    .describe('Label file, one class name per line in class-index order. Empty: the manifest\'s labels, else the 80 COCO names.')
    .meta({ examples: ['/opt/models/labels.txt'] }),
  DETECT_FPS: number({ min: 0.1, max: 120 })
    .default(5)
    .describe('Frames per second handed to the detector. FFmpeg drops the others before they are decoded to pixels.')
    .meta({ examples: ['5'] }),
  DETECT_THREADS: number({ min: 0, max: 64, int: true })
    .default(0)
    .describe('onnxruntime intra-op threads. 0: one per core.')
    .meta({ examples: ['2'] }),
  SCORE_THRESHOLD: number({ min: 0, max: 1 })
    .default(0.3)
    .describe('Minimum detection score, 0..1.')
    .meta({ examples: ['0.4'] }),
  NMS_IOU: number({ min: 0, max: 1 })
    .default(0.4)
    .describe('Intersection-over-union above which overlapping boxes are merged by non-maximum suppression.')
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
    .describe('Detections between this score and SCORE_THRESHOLD are not reported, but keep an existing track alive (ByteTrack\'s second association pass).')
    .meta({ examples: ['0.15'] }),
  TRACK_LOST_SECONDS: number({ min: 0, max: 60 })
    .default(1.5)
    .describe('Seconds a track survives without a detection (occlusion, missed frames) before it ends.')
    .meta({ examples: ['3'] }),
  CALIBRATION_IMAGE_POINTS: optionalString()
    .describe('Four points on the road in source-frame pixels, "x1,y1;x2,y2;x3,y3;x4,y4", in the same order as CALIBRATION_WORLD_POINTS. With them, speeds are measured on the ground plane.')
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
  MQTT_URL: z
    .preprocess((v) => (v === '' ? undefined : v), z.string().regex(/^(mqtts?|wss?|tcp|ssl):\/\/[^\s/]+/i, { error: 'expected a broker URL such as mqtt://host:1883 (schemes: mqtt, mqtts, ws, wss)' }).optional())
    .describe('Broker URL: mqtt://, mqtts://, ws:// or wss://. Empty: start an embedded broker and publish to it.')
    .meta({ examples: ['mqtt://192.168.1.10:1883'] }),
  MQTT_EMBEDDED_PORT: number({ min: 0, max: 65535, int: true })
    .default(1883)
    .describe('TCP port of the embedded broker (used only when MQTT_URL is empty).')
    .meta({ examples: ['1884'] }),
  MQTT_EMBEDDED_BIND: z
    .string()
    .default('127.0.0.1')
    .describe('Address the embedded broker listens on. 0.0.0.0 lets other hosts subscribe; it has no authentication.')
    .meta({ examples: ['0.0.0.0'] }),
  MQTT_USERNAME: optionalString().describe('Broker user name (empty: connect anonymously).').meta({ examples: ['edgecam'] }),
  MQTT_PASSWORD: optionalString()
    .describe('Broker password. Never logged. Also read from $CREDENTIALS_DIRECTORY/mqtt_password (systemd LoadCredential=).')
    .meta({ examples: ['s3cret'] }),
  MQTT_CLIENT_ID: optionalString()
    .describe('MQTT client id. Empty: edgecam_<hostname>_<random>, unique per run.')
    .meta({ examples: ['edgecam-front'] }),
  MQTT_QOS: z
    .preprocess((v) => (typeof v === 'string' && /^[012]$/.test(v.trim()) ? Number(v) : v), z.union([z.literal(0), z.literal(1), z.literal(2)], { error: 'expected 0, 1 or 2' }))
    .default(1)
    .describe('QoS of telemetry messages: 0, 1 or 2.')
    .meta({ examples: ['1'] }),
  TOPIC_PREFIX: z
    .string()
    .default('')
    .refine((s) => !/[#+]/.test(s), { error: 'MQTT wildcards # and + are not allowed in topic names' })
    .describe('Prefix of every topic; {device} stands for DEVICE_ID. Empty: the topics are exactly `class` and `speedometer`.')
    .meta({ examples: ['edgecam/{device}/'] }),
  DEVICE_ID: z
    .preprocess((v) => (v === '' ? undefined : v), z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, { error: 'expected letters, digits, - or _ (at most 64)' }).optional())
    .describe('Name of this box in topics ({device} in TOPIC_PREFIX) and in Home Assistant. Empty: the host name (the systemd unit sets the instance name).')
    .meta({ examples: ['front'] }),
  MQTT_PROTOCOL_VERSION: z
    .preprocess((v) => (typeof v === 'string' && /^[345]$/.test(v.trim()) ? Number(v) : v), z.union([z.literal(3), z.literal(4), z.literal(5)], { error: 'expected 4 (MQTT 3.1.1), 5 (MQTT 5) or 3 (3.1)' }))
    .default(4)
    .describe('MQTT protocol: 4 is MQTT 3.1.1, 5 is MQTT 5 (telemetry then carries a content type and a message expiry).')
    .meta({ examples: ['5'] }),
  MQTT_MESSAGE_EXPIRY: number({ min: 0, max: 4294967295, int: true })
    .default(86400)
    .describe('MQTT 5 only: seconds a telemetry message stays deliverable at the broker (0: forever).')
    .meta({ examples: ['3600'] }),
  MQTT_CA_FILE: optionalString()
    .describe('CA certificate (PEM) that signed the broker\'s certificate, for mqtts:// and wss://. Also read from $CREDENTIALS_DIRECTORY/mqtt_ca. Empty: the system\'s CAs.')
    .meta({ examples: ['/etc/edgecam/ca.crt'] }),
  MQTT_CERT_FILE: optionalString()
    .describe('Client certificate (PEM) for brokers that require one. Also read from $CREDENTIALS_DIRECTORY/mqtt_cert.')
    .meta({ examples: ['/etc/edgecam/client.crt'] }),
  MQTT_KEY_FILE: optionalString()
    .describe('Private key (PEM) of the client certificate. Never logged. Also read from $CREDENTIALS_DIRECTORY/mqtt_key.')
    .meta({ examples: ['/etc/edgecam/client.key'] }),
  HA_DISCOVERY: bool(false)
    .describe('Announce edgecam to Home Assistant by MQTT discovery: one device with count, presence, speed, fps and inference-time entities.')
    .meta({ examples: ['true'] }),
  HA_DISCOVERY_PREFIX: z
    .string()
    .regex(/^[^#+\s]+$/, { error: 'expected a topic prefix without wildcards' })
    .default('homeassistant')
    .describe('Home Assistant\'s discovery prefix.')
    .meta({ examples: ['homeassistant'] }),
  HA_CLASSES: list()
    .default(['person', 'car', 'truck', 'bicycle', 'motorcycle', 'bus', 'dog', 'cat'])
    .describe('Classes that get a count sensor and a presence binary sensor in Home Assistant.')
    .meta({ examples: ['person,car'] }),
  SNAPSHOT_CLASSES: list()
    .default([])
    .describe('Classes whose new tracks publish a JPEG of the frame, with the box drawn, retained on <prefix>snapshot/<class>. Empty: no snapshots.')
    .meta({ examples: ['person,car'] }),
  SNAPSHOT_MAX_BYTES: number({ min: 4096, max: 10_000_000, int: true })
    .default(131072)
    .describe('Largest snapshot; bigger ones are re-encoded smaller.')
    .meta({ examples: ['65536'] }),
  HTTP_ENABLED: bool(true)
    .describe('Serve HTTP on HTTP_PORT: /healthz and /metrics, and the live viewer when VIEWER_ENABLED is true.')
    .meta({ examples: ['false'] }),
  HTTP_PORT: number({ min: 0, max: 65535, int: true })
    .default(8080)
    .describe('TCP port of the HTTP server (viewer, /healthz, /metrics). Formerly VIEWER_PORT, which is still read.')
    .meta({ examples: ['8081'] }),
  HTTP_BIND: z
    .string()
    .default('0.0.0.0')
    .describe('Address the HTTP server listens on. 127.0.0.1 keeps it to this machine. Formerly VIEWER_BIND, which is still read.')
    .meta({ examples: ['127.0.0.1'] }),
  HTTP_TOKEN: optionalString()
    .describe('When set, every HTTP request but the page\'s script and style needs it: Authorization: Bearer <token>, or ?token=<token> in the URL. Never logged. Formerly VIEWER_TOKEN, which is still read.')
    .meta({ examples: ['change-me-7f3a'] }),
  VIEWER_ENABLED: bool(true)
    .describe('Serve the live viewer on the HTTP server: the page, /snapshot.jpg, /events and /stream.mjpeg.')
    .meta({ examples: ['false'] }),
  RESTREAM_URL: optionalString()
    .describe('Send the camera\'s video, copied without re-encoding, to this FFmpeg output: rtsp:// (push to a server such as MediaMTX), rtmp://, srt://, udp://, or a path ending in .m3u8 for HLS. Empty: no restream.')
    .meta({ examples: ['rtsp://127.0.0.1:8554/front'] }),
  RESTREAM_ANNOTATE: bool(false)
    .describe('Instead of copying the camera\'s video, encode a stream (H.264, at DETECT_FPS) with the detections burned in.')
    .meta({ examples: ['true'] }),
  RESTREAM_SIZE: z
    .string()
    .regex(/^(auto|\d+x\d+)$/, { error: 'expected WIDTHxHEIGHT or auto' })
    .default('auto')
    .describe('Size of the annotated restream, WIDTHxHEIGHT. auto: the source size, at most 1280 wide.')
    .meta({ examples: ['1280x720'] }),
  RESTREAM_BITRATE: z
    .string()
    .regex(/^\d+(\.\d+)?[kM]?$/, { error: 'expected a bitrate such as 2M or 800k' })
    .default('2M')
    .describe('Bitrate of the annotated restream.')
    .meta({ examples: ['1M'] }),
  STATE_DIR: z
    .string()
    .default('./state')
    .describe('Directory for state that survives restarts: the outbox of telemetry not yet acknowledged by the broker. Relative to the working directory; the systemd unit uses its StateDirectory.')
    .meta({ examples: ['/var/lib/edgecam/front'] }),
  MQTT_QUEUE_MAX_MESSAGES: number({ min: 1, max: 10_000_000, int: true })
    .default(50_000)
    .describe('Most telemetry messages kept while the broker is unreachable; beyond it the oldest are dropped and counted (about 2.8 hours of steady traffic at 5 messages per second).')
    .meta({ examples: ['200000'] }),
  MQTT_QUEUE_MAX_BYTES: number({ min: 1024, int: true })
    .default(32 * 1024 * 1024)
    .describe('Most bytes of telemetry kept while the broker is unreachable (memory and disk); beyond it the oldest are dropped and counted.')
    .meta({ examples: ['67108864'] }),
  RESTART_BACKOFF_MAX: number({ min: 1, max: 3600 })
    .default(30)
    .describe('Longest wait, in seconds, between attempts to restart FFmpeg or reconnect to the broker. Waits start at 1 s and double, with jitter, up to this.')
    .meta({ examples: ['60'] }),
  STALL_TIMEOUT: number({ min: 0, max: 3600 })
    .default(20)
    .describe('Seconds without a frame from the source before FFmpeg is killed and restarted (with backoff). 0 disables the watchdog.')
    .meta({ examples: ['30'] }),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace'], { error: 'expected fatal, error, warn, info, debug or trace' })
    .default('info')
    .describe('Log level of the JSON lines on stdout (human-readable when stdout is a terminal).')
    .meta({ examples: ['debug'] }),
});

export type RawConfig = z.infer<typeof configSchema>;
export type SettingName = keyof RawConfig;
export const SETTING_NAMES = Object.keys(configSchema.shape) as SettingName[];
