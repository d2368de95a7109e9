// The public MQTT API: topics and payload schemas. `class_name` on `class` and
// `speed` on `speedometer` are the compatibility contract; every other field is
// added beside them and never replaces them.
import { z } from 'zod';

/** The labels of SPEED_UNIT's units, as every speed carries them. */
const speedUnit = z.enum(['km/h', 'mph', 'm/s']);

const box = z.tuple([z.number(), z.number(), z.number(), z.number()]).describe('x1, y1, x2, y2 in source-frame pixels');

export const detectionPayload = z.object({
  class_name: z.string(),
  score: z.number().min(0).max(1),
  box,
  track_id: z.number().int().positive().optional().describe('id of the tracked object; stable while it is in view'),
});

export const classPayload = z.object({
  class_name: z.array(z.string()).describe('class of each detection in the frame, one entry per object, highest score first'),
  counts: z.record(z.string(), z.number().int().nonnegative()).describe('number of objects per class in the frame'),
  timestamp: z.string().describe('ISO 8601 wall-clock time the frame was processed'),
  frame: z.number().int().nonnegative().describe('index of the processed frame since the agent started'),
  pts: z.number().describe('presentation time of the frame in the source, seconds'),
  detections: z.array(detectionPayload).describe('each object: `class_name`, `score` (0..1), `box` (x1, y1, x2, y2 in source-frame pixels) and `track_id`'),
});

/** Unique per event and the same on every redelivery of it: what a consumer deduplicates on (ON CONFLICT DO NOTHING). */
const eventId = z
  .string()
  .min(8)
  .describe(
    'unique id of this event (a random UUID, made when the event happened and kept with it in the outbox): the same on every redelivery, never on another event; deduplicate on it',
  );

export const speedPayload = z.object({
  speed: z.number().nonnegative().describe('speed of the object over the ground, in `unit`, not rounded to whole units'),
  unit: speedUnit.describe('unit of `speed` and `error_estimate` (`SPEED_UNIT`)'),
  track_id: z.number().int().positive().describe('id of the tracked object, as in `class` detections'),
  class_name: z.string().describe('class of the tracked object'),
  timestamp: z.string().describe('ISO 8601 wall-clock time of the estimate'),
  pts: z.number().describe('source time of the newest position in the estimate, seconds'),
  direction_deg: z.number().min(0).lt(360).describe('direction of motion on the ground plane: 0 = world +X, 90 = world +Y'),
  samples: z.number().int().positive().describe('positions in the least-squares fit'),
  error_estimate: z.number().nonnegative().describe('one standard error of `speed` from the fit residuals, in `unit`'),
  final: z.boolean().describe('true on the one summary message sent when the track ends (fit over its whole visible path)'),
  event_id: eventId.optional().describe('on the final message (an event: one per track): its unique id, the same on every redelivery'),
});

/** Retained on `<prefix>state`: the present, for subscribers that connect later. */
export const statePayload = z.object({
  status: z.enum(['online', 'stopped']).describe("the agent's own view; the retained `<prefix>status` adds `offline` by last will"),
  camera: z.enum(['starting', 'streaming', 'reconnecting', 'ended']).describe('state of the video source'),
  counts: z.record(z.string(), z.number().int().nonnegative()).describe('objects per class in the latest processed frame'),
  fps: z.number().nonnegative().describe('frames processed per second, recently'),
  inference_ms: z.number().nonnegative().describe('model inference time of the latest frame, milliseconds'),
  paused: z.boolean().describe('true while detection is paused by the `set/paused` command'),
  camera_restarts: z
    .number()
    .int()
    .nonnegative()
    .describe('restarts of the video source since the agent started (FFmpeg; with SOURCE=rpicam, the camera tool and FFmpeg together)'),
  timestamp: z.string().describe('ISO 8601 wall-clock time this state was sent (every 10 s at least)'),
});

/** On `<prefix>track/<class>`: one message per new track, for automations (and Home Assistant's trigger). */
export const trackPayload = z.object({
  event_type: z.literal('new_track').describe("what happened; Home Assistant's event entity reads it"),
  class_name: z.string().describe('class of the new object'),
  track_id: z.number().int().positive().describe('id of the new track, as in `class` detections'),
  score: z.number().min(0).max(1).describe('detection score when the track was confirmed'),
  box: box,
  timestamp: z.string().describe('ISO 8601 wall-clock time of the frame'),
  frame: z.number().int().nonnegative().describe('index of the processed frame since the agent started'),
  pts: z.number().describe('presentation time of the frame in the source, seconds'),
  event_id: eventId,
});

const speedAt = {
  speed: z
    .number()
    .nonnegative()
    .optional()
    .describe(
      'speed over the ground at the line, in `unit`: from a speed trap this crossing closes (`trap`), else a fit of the positions within half SPEED_WINDOW either side of the crossing (only with a calibration)',
    ),
  unit: speedUnit.optional().describe('unit of `speed` and `error_estimate`'),
  error_estimate: z.number().nonnegative().optional().describe('one standard error of `speed`, in `unit`'),
};

/** On `<prefix>line/<name>`: one message per crossing. */
export const linePayload = z.object({
  line: z.string().describe('name of the line (LINES)'),
  direction: z.string().describe("name of the direction (LINE_DIRECTIONS; default `in`: left to right of the line's first→second point, `out`: the other way)"),
  track_id: z.number().int().positive().describe('id of the tracked object, as in `class` detections'),
  class_name: z.string().describe('class of the object'),
  ...speedAt,
  trap: z
    .object({
      name: z.string().describe('name of the trap (SPEED_TRAPS)'),
      from: z.string().describe("the trap's other line, crossed before this one"),
      metres: z.number().positive().describe('distance between the two lines along the road'),
      seconds: z.number().positive().describe('source time between the two crossings'),
    })
    .optional()
    .describe('with SPEED_TRAPS, when this crossing closes a trap: `speed` is `metres` ÷ `seconds`, in place of the calibrated speed at the line'),
  pts: z.number().describe('source time the object crossed the line, seconds'),
  timestamp: z.string().describe('ISO 8601 wall-clock time of the message'),
  evidence: z
    .string()
    .optional()
    .describe('with `EVIDENCE_CLASSES`: URL path of its evidence photo on the HTTP server (`/evidence/<file>.jpg`), written within seconds of the message'),
  event_id: eventId,
});

const directionTotals = z.record(
  z.string(),
  z.object({ total: z.number().int().nonnegative(), classes: z.record(z.string(), z.number().int().nonnegative()) }).describe('crossings in this direction, and by class'),
);

/** Retained on `<prefix>line/<name>/totals`: running totals, kept across restarts in STATE_DIR. */
export const lineTotalsPayload = z.object({
  line: z.string().describe('name of the line'),
  directions: directionTotals.describe('per direction: `total` and `classes`'),
  since: z.string().describe('ISO 8601 time the totals were started (the first start with this STATE_DIR)'),
  timestamp: z.string().describe('ISO 8601 wall-clock time of the message'),
});

/** Retained on `<prefix>zone/<name>`: who is in the zone now. */
export const zonePayload = z.object({
  zone: z.string().describe('name of the zone (ZONES)'),
  count: z.number().int().nonnegative().describe('objects in the zone'),
  counts: z.record(z.string(), z.number().int().nonnegative()).describe('objects in the zone by class'),
  track_ids: z.array(z.number().int().positive()).describe('their track ids'),
  timestamp: z.string().describe('ISO 8601 wall-clock time of the change'),
});

/** On `<prefix>zone/<name>/event`: an object entered or left the zone. */
export const zoneEventPayload = z.object({
  zone: z.string().describe('name of the zone'),
  event: z.enum(['entered', 'left']).describe('what happened (after two frames in a row on the new side of the border)'),
  track_id: z.number().int().positive().describe('id of the tracked object'),
  class_name: z.string().describe('class of the object'),
  dwell_s: z.number().nonnegative().optional().describe('on `left`: seconds (source time) the object spent in the zone'),
  ...speedAt,
  speed: speedAt.speed.describe('on `left`, with a calibration: speed through the zone (a fit of its ground positions while inside), in `unit` — a speed zone'),
  pts: z.number().describe('source time of the frame, seconds'),
  timestamp: z.string().describe('ISO 8601 wall-clock time of the message'),
  evidence: z
    .string()
    .optional()
    .describe('with `EVIDENCE_CLASSES`, on `left` with a speed: URL path of its evidence photo on the HTTP server, written within seconds of the message'),
  event_id: eventId,
});

const speedStats = {
  speed_mean: z.number().optional().describe('mean speed of the crossings with a speed'),
  speed_p85: z.number().optional().describe('85th-percentile speed (V85), linear interpolation between ranks'),
  speed_max: z.number().optional().describe('highest speed'),
  speed_samples: z.number().int().optional().describe('crossings with a speed'),
  speed_histogram: z
    .array(z.number().int().nonnegative())
    .length(16)
    .optional()
    .describe('crossings with a speed per bin of `speed_bin` from 0 (bin i: i·speed_bin ≤ speed < (i+1)·speed_bin); the last bin is open-ended'),
  over_limit: z.number().int().nonnegative().optional().describe('with `SPEED_LIMIT` set: crossings faster than the limit'),
};

/** On `<prefix>stats`: every STATS_INTERVAL, on the wall clock. */
export const statsPayload = z.object({
  event_id: eventId,
  start: z.string().describe('ISO 8601 start of the interval (the first one starts with the agent)'),
  end: z.string().describe('ISO 8601 end of the interval, a multiple of STATS_INTERVAL on the wall clock'),
  interval_s: z.number().positive().describe('seconds from start to end'),
  unit: z.string().describe('unit of the speeds'),
  speed_bin: z.number().positive().describe('width of a `speed_histogram` bin, in `unit` (`STATS_SPEED_BIN`)'),
  speed_limit: z.number().positive().optional().describe('`SPEED_LIMIT`, when set: `over_limit` counts the crossings above it'),
  lines: z
    .record(
      z.string(),
      z.record(z.string(), z.object({ count: z.number().int().nonnegative(), ...speedStats, classes: z.record(z.string(), z.object({ count: z.number().int(), ...speedStats })) })),
    )
    .describe('per line, per direction: `count`, speed statistics, and the same per class in `classes`; zero counts when nothing crossed'),
  zones: z
    .record(
      z.string(),
      z.object({
        occupancy_peak: z.number().int().nonnegative(),
        occupancy_mean: z.number().nonnegative(),
        entered: z.number().int().nonnegative(),
        dwell_mean_s: z.number().nonnegative().optional(),
        ...speedStats,
      }),
    )
    .describe('per zone: peak and mean occupancy over the processed frames, objects that entered, mean dwell of those that left, and their speed statistics through the zone'),
});

/** Retained on `<prefix>status`: plain text, as Home Assistant's availability topics expect. */
export const statusPayload = z.enum(['online', 'offline', 'stopped']);

/** On `<prefix>set/result`: the reply to a remote command. */
export const commandResultPayload = z.object({
  setting: z.string().describe('the <setting> of the `set/<setting>` topic'),
  ok: z.boolean().describe('true: applied; false: refused and nothing changed'),
  value: z.unknown().optional().describe('the value applied'),
  error: z.string().optional().describe('why it was refused'),
});

export type ClassPayload = z.infer<typeof classPayload>;
export type StatePayload = z.infer<typeof statePayload>;
export type SpeedPayload = z.infer<typeof speedPayload>;
export type TrackPayload = z.infer<typeof trackPayload>;
export type LinePayload = z.infer<typeof linePayload>;
export type LineTotalsPayload = z.infer<typeof lineTotalsPayload>;
export type ZonePayload = z.infer<typeof zonePayload>;
export type ZoneEventPayload = z.infer<typeof zoneEventPayload>;
export type StatsPayload = z.infer<typeof statsPayload>;

/** Topic suffix → payload, the typed map every publish goes through. */
export interface TopicPayloads {
  class: ClassPayload;
  speedometer: SpeedPayload;
  state: StatePayload;
  status: z.infer<typeof statusPayload>;
  [track: `track/${string}`]: TrackPayload;
}

export const TOPIC_SCHEMAS = {
  class: classPayload,
  speedometer: speedPayload,
  'track/<class>': trackPayload,
  'line/<name>': linePayload,
  'line/<name>/totals': lineTotalsPayload,
  'zone/<name>': zonePayload,
  'zone/<name>/event': zoneEventPayload,
  stats: statsPayload,
  state: statePayload,
  status: statusPayload,
  'set/result': commandResultPayload,
} as const;

export class TopicError extends Error {}

/** The topic level of a class name (`track/<class>`, `snapshot/<class>`): letters, digits, - and _. */
export const classTopicPart = (className: string) => className.replace(/[^A-Za-z0-9_-]+/g, '_');

/** Outgoing topics are concrete names: wildcards, NUL and empty levels are refused. */
export function assertPublishTopic(topic: string): void {
  if (!topic || /[#+]/.test(topic) || topic.includes('\0')) throw new TopicError(`refusing to publish to "${topic}": MQTT wildcards (# +) are not valid in a topic name`);
}
