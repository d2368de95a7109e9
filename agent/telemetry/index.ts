// Telemetry: the compatibility contract. Every processed frame with detections goes out
// on `<prefix>class` (and the first empty one after them, so a subscriber sees the scene
// empty), every speed report on `<prefix>speedometer`; both through the outbox.
import { randomUUID } from 'node:crypto';
import type { FrameResult } from '../bus.js';
import type { Feature, FeatureContext } from '../feature.js';
import type { ClassPayload, SpeedPayload } from '../mqtt/payloads.js';
import type { SpeedReport } from '../track/index.js';
import { round } from '../round.js';

export function classPayloadOf(result: Pick<FrameResult, 'index' | 'pts' | 'detections'>, now = new Date()): ClassPayload {
  const counts: Record<string, number> = {};
  for (const d of result.detections) counts[d.className] = (counts[d.className] ?? 0) + 1;
  return {
    class_name: result.detections.map((d) => d.className),
    counts,
    timestamp: now.toISOString(),
    frame: result.index,
    pts: round(result.pts, 3),
    detections: result.detections.map((d) => ({
      class_name: d.className,
      score: round(d.score, 3),
      box: d.box.map((v) => round(v, 1)) as [number, number, number, number],
      ...(d.trackId === undefined ? {} : { track_id: d.trackId }),
    })),
  };
}

export function speedPayloadOf(r: SpeedReport, now = new Date()): SpeedPayload {
  return {
    speed: round(r.speed, 2),
    unit: r.unit as SpeedPayload['unit'],
    track_id: r.trackId,
    class_name: r.className,
    timestamp: now.toISOString(),
    pts: round(r.pts, 3),
    direction_deg: round(r.directionDeg, 1) % 360,
    samples: r.samples,
    error_estimate: round(r.errorEstimate, 2),
    final: r.final,
    // The final message is an event (one per track): it gets an id to deduplicate on.
    ...(r.final ? { event_id: randomUUID() } : {}),
  };
}

export function fromConfig({ bus, mqtt }: FeatureContext): Feature {
  const name = 'telemetry';
  let lastWasEmpty = true;
  // Refused here, before anything starts, when the prefix makes them invalid.
  mqtt.topic('class');
  mqtt.topic('speedometer');
  return {
    name,
    start: () => {
      bus.on(
        'detections',
        (result) => {
          const empty = result.detections.length === 0;
          if (empty && lastWasEmpty) return;
          lastWasEmpty = empty;
          mqtt.send('class', classPayloadOf(result));
        },
        name,
      );
      bus.on('speed', (report) => mqtt.send('speedometer', speedPayloadOf(report)), name);
    },
    stop: () => {},
  };
}
