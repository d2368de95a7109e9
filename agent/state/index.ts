// The retained `<prefix>state`: the present for subscribers that connect later — the
// counts of the latest processed frame, the camera's state, the processed fps and
// inference time (from the health clock), and whether detection is paused. Sent on
// connect, when something a subscriber sees changes, and refreshed every 10 s; on a
// clean stop it says `stopped`.
import type { Feature, FeatureContext } from '../feature.js';
import { CAPTURE_STATES } from '../capture/states.js';
import type { StatePayload } from '../mqtt/payloads.js';
import { round } from '../round.js';

const REFRESH_MS = 10_000;

export function fromConfig({ bus, mqtt, health }: FeatureContext): Feature {
  const name = 'state';
  let state: Omit<StatePayload, 'timestamp' | 'fps' | 'inference_ms' | 'camera_restarts'> = { status: 'online', camera: 'starting', counts: {}, paused: false };
  let timestamp = new Date().toISOString();
  let timer: NodeJS.Timeout | undefined;
  const topic = mqtt.topic('state');

  const publish = () => {
    const camera_restarts = health.counter<{ restarts: number }>('capture')?.restarts ?? 0;
    const payload: StatePayload = { ...state, fps: round(health.fps, 1), inference_ms: round(health.inferenceMs, 1), camera_restarts, timestamp };
    mqtt.publish(topic, JSON.stringify(payload), { qos: 1, retain: true });
  };
  /** A change that changes nothing (the same counts as the last frame) sends nothing; a change while disconnected goes out on reconnect. */
  const update = (change: Partial<typeof state>) => {
    const current = state as Record<string, unknown>;
    if (Object.entries(change).every(([key, value]) => JSON.stringify(value) === JSON.stringify(current[key]))) return;
    state = { ...state, ...change };
    timestamp = new Date().toISOString();
    publish();
  };

  return {
    name,
    start: () => {
      mqtt.onConnect(publish);
      bus.on(
        'detections',
        (result) => {
          const counts: Record<string, number> = {};
          for (const d of result.detections) counts[d.className] = (counts[d.className] ?? 0) + 1;
          update({ counts });
        },
        name,
      );
      bus.on(
        'status',
        (s) => {
          if (s.component === 'camera' && (CAPTURE_STATES as readonly string[]).includes(s.state)) update({ camera: s.state as StatePayload['camera'] });
          if (s.component === 'detection') update({ paused: s.state === 'paused' });
        },
        name,
      );
      // The refresh carries the present fps and inference time, with a new timestamp.
      timer = setInterval(() => {
        timestamp = new Date().toISOString();
        publish();
      }, REFRESH_MS);
      timer.unref();
    },
    stop: () => {
      clearInterval(timer);
      update({ status: 'stopped' });
    },
  };
}
