// New tracks as events: one message on `<prefix>track/<class>` per object that comes into
// view (once its track is confirmed), through the outbox like all telemetry. Home
// Assistant's device trigger and event entity listen to it, so an automation on
// "a person appeared" needs no template.
import { randomUUID } from 'node:crypto';
import type { FrameResult } from '../bus.js';
import type { Feature, FeatureContext } from '../feature.js';
import { classTopicPart, type TrackPayload } from '../mqtt/payloads.js';
import { NewTracks } from '../track/new-tracks.js';
import { round } from '../round.js';

export function trackPayloadsOf(result: FrameResult, tracks: NewTracks, now = new Date()): TrackPayload[] {
  return tracks.take(result.detections).map((d) => ({
    event_type: 'new_track',
    class_name: d.className,
    track_id: d.trackId!,
    score: round(d.score, 3),
    box: d.box.map((v) => round(v, 1)) as TrackPayload['box'],
    timestamp: now.toISOString(),
    frame: result.index,
    pts: round(result.pts, 3),
    event_id: randomUUID(),
  }));
}

export function fromConfig({ bus, mqtt }: FeatureContext): Feature {
  const name = 'tracks';
  const tracks = new NewTracks();
  return {
    name,
    start: () => {
      bus.on(
        'detections',
        (result) => {
          for (const payload of trackPayloadsOf(result, tracks)) mqtt.send(`track/${classTopicPart(payload.class_name)}`, payload);
        },
        name,
      );
    },
    stop: () => {},
  };
}
