// The public MQTT API: topics and payload schemas. `class_name` on `class` and
// `speed` on `speedometer` are the compatibility contract; every other field is
// added beside them and never replaces them.
import { z } from 'zod';

const box = z.tuple([z.number(), z.number(), z.number(), z.number()]).describe('x1, y1, x2, y2 in source-frame pixels');

export const detectionPayload = z.object({
  class_name: z.string(),
  score: z.number().min(0).max(1),
  box,
});

export const classPayload = z.object({
  class_name: z.array(z.string()).describe('class of each detection in the frame, one entry per object, highest score first'),
  counts: z.record(z.string(), z.number().int().nonnegative()).describe('number of objects per class in the frame'),
  timestamp: z.string().describe('ISO 8601 wall-clock time the frame was processed'),
  frame: z.number().int().nonnegative().describe('index of the processed frame since the agent started'),
  pts: z.number().describe('presentation time of the frame in the source, seconds'),
  detections: z.array(detectionPayload),
});

export const speedPayload = z.object({
  speed: z.number().describe('speed in `unit`'),
  unit: z.enum(['kmh', 'mph', 'mps']),
  track_id: z.number().int(),
  class_name: z.string(),
  timestamp: z.string(),
});

export type ClassPayload = z.infer<typeof classPayload>;
export type SpeedPayload = z.infer<typeof speedPayload>;

/** Topic suffix → payload, the typed map every publish goes through. */
export interface TopicPayloads {
  class: ClassPayload;
  speedometer: SpeedPayload;
}

export const TOPIC_SCHEMAS = { class: classPayload, speedometer: speedPayload } as const;

export class TopicError extends Error {}

/** Outgoing topics are concrete names: wildcards, NUL and empty levels are refused. */
export function assertPublishTopic(topic: string): void {
  if (!topic || /[#+\u0000]/.test(topic)) throw new TopicError(`refusing to publish to "${topic}": MQTT wildcards (# +) are not valid in a topic name`);
}
