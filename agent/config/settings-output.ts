// The settings of what edgecam sends and serves: MQTT, Home Assistant, snapshots,
// HTTP, restream, state, restarts and logging. Part of the schema in schema.ts.
import { z } from 'zod';
import { bool, list, number, optionalString, pictureSizeSetting } from './values.js';

export const outputSettings = {
  MQTT_URL: z
    .preprocess(
      (v) => (v === '' ? undefined : v),
      z
        .string()
        .superRefine((v, ctx) => {
          const urls = v.split(',').map((u) => u.trim());
          const bad = urls.find((u) => !/^(mqtts?|wss?|tcp|ssl):\/\/[^\s/]+/i.test(u));
          if (bad !== undefined)
            return void ctx.addIssue({ code: 'custom', message: 'expected a broker URL such as mqtt://host:1883 (schemes: mqtt, mqtts, ws, wss), or several, comma-separated' });
          if (urls.length > 1 && urls.some((u) => !/^(mqtts?|tcp|ssl):\/\/[^\s/]+\/?$/i.test(u)))
            ctx.addIssue({ code: 'custom', message: 'several brokers: each one mqtt:// or mqtts:// host:port, without a path (e.g. mqtt://node1:1883,mqtt://node2:1883)' });
        })
        .optional(),
    )
    .describe(
      'Broker URL: mqtt://, mqtts://, ws:// or wss://. Several, comma-separated (mqtt:// or mqtts://): the nodes of a clustered broker; the agent uses the first that answers and moves to the next when its node goes, with the same client id and outbox. Empty: start an embedded broker and publish to it.',
    )
    .meta({ examples: ['mqtt://192.168.1.10:1883', 'mqtt://node1:1883,mqtt://node2:1883,mqtt://node3:1883'] }),
  MQTT_EMBEDDED_PORT: number({ min: 0, max: 65535, int: true })
    .default(1883)
    .describe('TCP port of the embedded broker (used only when MQTT_URL is empty).')
    .meta({ examples: ['1884'] }),
  MQTT_EMBEDDED_BIND: z
    .string()
    .default('127.0.0.1')
    .describe(
      'Address the embedded broker listens on. 0.0.0.0 lets other hosts connect: anyone may subscribe; only the agent, and clients with MQTT_EMBEDDED_USERNAME and MQTT_EMBEDDED_PASSWORD, may publish (commands included).',
    )
    .meta({ examples: ['0.0.0.0'] }),
  MQTT_EMBEDDED_USERNAME: optionalString()
    .describe('User name of trusted clients of the embedded broker (Home Assistant sending commands, another edgecam publishing here). Empty: only the agent publishes.')
    .meta({ examples: ['homeassistant'] }),
  MQTT_EMBEDDED_PASSWORD: optionalString()
    .describe('Password of MQTT_EMBEDDED_USERNAME. Never logged. Also read from $CREDENTIALS_DIRECTORY/mqtt_embedded_password.')
    .meta({ examples: ['s3cret'] }),
  MQTT_USERNAME: optionalString()
    .describe('Broker user name (empty: connect anonymously).')
    .meta({ examples: ['edgecam'] }),
  MQTT_PASSWORD: optionalString()
    .describe('Broker password. Never logged. Also read from $CREDENTIALS_DIRECTORY/mqtt_password (systemd LoadCredential=).')
    .meta({ examples: ['s3cret'] }),
  MQTT_CLIENT_ID: optionalString()
    .describe(
      'MQTT client id. Empty: edgecam-<DEVICE_ID>-<machine tag>, where the tag is six hex digits derived from /etc/machine-id and STATE_DIR: unique per agent, stable across restarts.',
    )
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
    .preprocess(
      (v) => (v === '' ? undefined : v),
      z
        .string()
        .regex(/^[A-Za-z0-9_-]{1,64}$/, { error: 'expected letters, digits, - or _ (at most 64)' })
        .optional(),
    )
    .describe('Name of this box in topics ({device} in TOPIC_PREFIX) and in Home Assistant. Empty: the host name, plus -<INSTANCE> when INSTANCE is set.')
    .meta({ examples: ['front'] }),
  INSTANCE: z
    .preprocess(
      (v) => (v === '' ? undefined : v),
      z
        .string()
        .regex(/^[A-Za-z0-9_-]{1,32}$/, { error: 'expected letters, digits, - or _ (at most 32)' })
        .optional(),
    )
    .describe('Name of this agent on its box when a box runs several (the systemd unit edgecam@<name> sets it). Part of the default DEVICE_ID and MQTT client id.')
    .meta({ examples: ['front'] }),
  MQTT_PROTOCOL_VERSION: z
    .preprocess(
      (v) => (typeof v === 'string' && /^[345]$/.test(v.trim()) ? Number(v) : v),
      z.union([z.literal(3), z.literal(4), z.literal(5)], { error: 'expected 4 (MQTT 3.1.1), 5 (MQTT 5) or 3 (3.1)' }),
    )
    .default(4)
    .describe('MQTT protocol: 4 is MQTT 3.1.1, 5 is MQTT 5 (telemetry then carries a content type and a message expiry).')
    .meta({ examples: ['5'] }),
  MQTT_MESSAGE_EXPIRY: number({ min: 0, max: 4294967295, int: true })
    .default(86400)
    .describe('MQTT 5 only: seconds a telemetry message stays deliverable at the broker (0: forever).')
    .meta({ examples: ['3600'] }),
  MQTT_CA_FILE: optionalString()
    .describe("CA certificate (PEM) that signed the broker's certificate, for mqtts:// and wss://. Also read from $CREDENTIALS_DIRECTORY/mqtt_ca. Empty: the system's CAs.")
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
    .describe("Home Assistant's discovery prefix.")
    .meta({ examples: ['homeassistant'] }),
  HA_CLASSES: list()
    .default(['person', 'car', 'truck', 'bicycle', 'motorcycle', 'bus', 'dog', 'cat'])
    .describe('Classes that get a count sensor and a presence binary sensor in Home Assistant.')
    .meta({ examples: ['person,car'] }),
  SNAPSHOT_CLASSES: list()
    .default([])
    .describe('Classes whose new tracks publish a JPEG of the frame, with the box drawn, retained on <prefix>snapshot/<class>. Empty: no snapshots.')
    .meta({ examples: ['person,car'] }),
  SNAPSHOT_SIZE: pictureSizeSetting(['model', 'source'])
    .default('source')
    .describe(
      "Size of snapshots: source (the camera's full resolution, made smaller only when SNAPSHOT_MAX_BYTES needs it), WIDTHxHEIGHT to fit them within, or model (the frame the model saw, as wide as its input: no extra cost). With snapshots on, source and WIDTHxHEIGHT cost FFmpeg a JPEG encode of each processed frame (docs/history.md).",
    )
    .meta({ examples: ['1280x720'] }),
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
    .default('auto')
    .describe(
      'Address the HTTP server listens on. auto: 127.0.0.1 (this machine only) without HTTP_TOKEN, every interface (0.0.0.0) with one. Any other address than loopback needs HTTP_TOKEN, or HTTP_ALLOW_UNAUTHENTICATED=true. Formerly VIEWER_BIND, which is still read.',
    )
    .meta({ examples: ['0.0.0.0'] }),
  HTTP_ALLOW_UNAUTHENTICATED: bool(false)
    .describe('Serve the camera to the network without HTTP_TOKEN (HTTP_BIND other than loopback). Only for a network where everyone may watch.')
    .meta({ examples: ['true'] }),
  HTTP_ALLOWED_HOSTS: list()
    .default([])
    .describe(
      "Host names the HTTP server answers to besides localhost, IP addresses and this machine's own name (a reverse proxy's name, say). Others get 421: a page on another site cannot reach the server by DNS rebinding.",
    )
    .meta({ examples: ['camera.example.lan'] }),
  HTTP_TOKEN: optionalString()
    .describe(
      "When set, every HTTP request but /healthz and the page's script and style needs it: Authorization: Bearer <token>, or ?token=<token> in the URL. Never logged. scripts/install.sh writes a random one into a new env file. Formerly VIEWER_TOKEN, which is still read.",
    )
    .meta({ examples: ['change-me-7f3a'] }),
  VIEWER_ENABLED: bool(true)
    .describe('Serve the live viewer on the HTTP server: the page, /snapshot.jpg, /events and /stream.mjpeg.')
    .meta({ examples: ['false'] }),
  RESTREAM_URL: optionalString()
    .describe(
      "Send the camera's video, copied without re-encoding, to this FFmpeg output: rtsp:// (push to a server such as MediaMTX), rtmp://, srt://, udp://, or a path ending in .m3u8 for HLS. Empty: no restream.",
    )
    .meta({ examples: ['rtsp://127.0.0.1:8554/front'] }),
  RESTREAM_ANNOTATE: bool(false)
    .describe(
      "Instead of copying the camera's video, encode a stream (H.264, at DETECT_FPS) with the detections burned in. Always so with SOURCE=rpicam, whose camera has one reader.",
    )
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
    .describe(
      'Directory for state that survives restarts: the outbox of telemetry not yet acknowledged by the broker. Relative to the working directory; the systemd unit uses its StateDirectory.',
    )
    .meta({ examples: ['/var/lib/edgecam/front'] }),
  MQTT_QUEUE_MAX_MESSAGES: number({ min: 1, max: 10_000_000, int: true })
    .default(50_000)
    .describe(
      'Most telemetry messages kept while the broker is unreachable; beyond it the oldest are dropped and counted (about 2.8 hours of steady traffic at 5 messages per second).',
    )
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
};
