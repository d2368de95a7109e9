// The public MQTT API: topics and payload schemas. `class_name` on `class` and
// `speed` on `speedometer` are the compatibility contract; every other field is
// added beside them and never replaces them.
import { z } from 'zod';

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

export const speedPayload = z.object({
  speed: z.number().nonnegative().describe('speed of the object over the ground, in `unit`, not rounded to whole units'),
  unit: z.enum(['km/h', 'mph', 'm/s']).describe('unit of `speed` and `error_estimate` (`SPEED_UNIT`)'),
  track_id: z.number().int().positive().describe('id of the tracked object, as in `class` detections'),
  class_name: z.string().describe('class of the tracked object'),
  timestamp: z.string().describe('ISO 8601 wall-clock time of the estimate'),
  pts: z.number().describe('source time of the newest position in the estimate, seconds'),
  direction_deg: z.number().min(0).lt(360).describe('direction of motion on the ground plane: 0 = world +X, 90 = world +Y'),
  samples: z.number().int().positive().describe('positions in the least-squares fit'),
  error_estimate: z.number().nonnegative().describe('one standard error of `speed` from the fit residuals, in `unit`'),
  final: z.boolean().describe('true on the one summary message sent when the track ends (fit over its whole visible path)'),
});

/** Retained on `<prefix>state`: the present, for subscribers that connect later. */
export const statePayload = z.object({
  status: z.enum(['online', 'stopped']).describe("the agent's own view; the retained `<prefix>status` adds `offline` by last will"),
  camera: z.enum(['starting', 'streaming', 'reconnecting', 'ended']).describe('state of the video source'),
  counts: z.record(z.string(), z.number().int().nonnegative()).describe('objects per class in the latest processed frame'),
  fps: z.number().nonnegative().describe('frames processed per second, recently'),
  inference_ms: z.number().nonnegative().describe('model inference time of the latest frame, milliseconds'),
  paused: z.boolean().describe('true while detection is paused by the `set/paused` command'),
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
