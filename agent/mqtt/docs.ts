// Renders docs/mqtt.md and docs/schemas/*.schema.json from the payload schemas, the
// single source of the public MQTT API. A test fails when the files drift.
import { z } from 'zod';
import { TOPIC_SCHEMAS } from './payloads.js';

const THREE_CARS = {
  count: 3,
  speed_mean: 41.2,
  speed_p85: 46.1,
  speed_max: 47.3,
  speed_samples: 3,
  speed_histogram: [0, 0, 0, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
  over_limit: 2,
};

export const EXAMPLES: Record<keyof typeof TOPIC_SCHEMAS, unknown> = {
  class: {
    class_name: ['person', 'dog'],
    counts: { person: 1, dog: 1 },
    timestamp: '2026-11-25T00:49:27.301Z',
    frame: 37,
    pts: 7.4,
    detections: [
      { class_name: 'person', score: 0.571, box: [651.2, 167.4, 743, 421.3], track_id: 8 },
      { class_name: 'dog', score: 0.372, box: [545.1, 318, 671.4, 399.2], track_id: 7 },
    ],
  },
  speedometer: {
    speed: 43.18,
    unit: 'km/h',
    track_id: 1,
    class_name: 'car',
    timestamp: '2026-11-25T01:14:21.781Z',
    pts: 4.6,
    direction_deg: 0.4,
    samples: 5,
    error_estimate: 0.46,
    final: false,
  },
  'track/<class>': {
    event_type: 'new_track',
    class_name: 'person',
    track_id: 8,
    score: 0.571,
    box: [651.2, 167.4, 743, 421.3],
    timestamp: '2026-11-25T00:49:27.301Z',
    frame: 37,
    pts: 7.4,
    event_id: '5b0e4a52-2f4e-4c8b-9a51-0f7d3c2b8e11',
  },
  'line/<name>': {
    line: 'stopline',
    direction: 'northbound',
    track_id: 12,
    class_name: 'car',
    speed: 43.52,
    unit: 'km/h',
    error_estimate: 0.61,
    pts: 84.37,
    timestamp: '2026-11-25T08:14:03.120Z',
    event_id: 'c6f1d7a0-8e3b-4f2a-b5d9-2a4e6f8c1b37',
  },
  'line/<name>/totals': {
    line: 'stopline',
    directions: { northbound: { total: 412, classes: { car: 371, truck: 29, bicycle: 12 } }, southbound: { total: 398, classes: { car: 360, truck: 38 } } },
    since: '2026-11-01T00:00:00.000Z',
    timestamp: '2026-11-25T08:14:03.120Z',
  },
  'zone/<name>': { zone: 'driveway', count: 2, counts: { person: 1, car: 1 }, track_ids: [14, 15], timestamp: '2026-11-25T08:14:03.120Z' },
  'zone/<name>/event': {
    zone: 'driveway',
    event: 'left',
    track_id: 14,
    class_name: 'person',
    dwell_s: 37.4,
    speed: 4.1,
    unit: 'km/h',
    error_estimate: 0.3,
    pts: 84.37,
    timestamp: '2026-11-25T08:14:03.120Z',
    event_id: '1d9c3e5f-7a2b-4c6d-8e0f-3b5a7c9d1e24',
  },
  stats: {
    event_id: '9a7e2c4b-6d8f-4a1c-b3e5-7f9a1c3e5b68',
    start: '2026-11-25T08:14:00.000Z',
    end: '2026-11-25T08:15:00.000Z',
    interval_s: 60,
    unit: 'km/h',
    speed_bin: 10,
    speed_limit: 40,
    lines: {
      stopline: {
        // Only cars crossed: the direction's figures are the cars'.
        northbound: { ...THREE_CARS, classes: { car: THREE_CARS } },
        southbound: { count: 0, classes: {} },
      },
    },
    zones: {
      driveway: {
        occupancy_peak: 2,
        occupancy_mean: 0.4,
        entered: 2,
        dwell_mean_s: 37.4,
        speed_mean: 4.1,
        speed_p85: 4.1,
        speed_max: 4.1,
        speed_samples: 1,
        speed_histogram: [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        over_limit: 0,
      },
    },
  },
  state: { status: 'online', camera: 'streaming', counts: { car: 1 }, fps: 5, inference_ms: 24.8, paused: false, camera_restarts: 0, timestamp: '2026-11-25T01:50:18.630Z' },
  status: 'online',
  'set/result': { setting: 'score_threshold', ok: true, value: 0.5 },
};

const WHEN: Record<keyof typeof TOPIC_SCHEMAS, string> = {
  class:
    'Every processed frame with detections (of confirmed tracks: detected in N of their first M frames, `TRACK_CONFIRM`), and once when the scene becomes empty. QoS `MQTT_QOS`, kept in the outbox until acknowledged.',
  speedometer:
    'Per tracked object with a calibrated ground plane: at most every `SPEED_PUBLISH_INTERVAL`, and a final summary when the track ends. QoS `MQTT_QOS`, via the outbox.',
  'track/<class>':
    'Once per new tracked object, when its track is confirmed (`<class>`: the class name with characters other than letters, digits, `-` and `_` as `_`, e.g. `track/traffic_light`). QoS `MQTT_QOS`, via the outbox.',
  'line/<name>':
    'One message per crossing of a counting line in `LINES`: once per passage of a track (crossing back counts the other way; jitter never counts), when its anchor (box bottom-centre) has crossed the segment and got `LINE_HYSTERESIS` px beyond it; sent half a `SPEED_WINDOW` after the crossing, for the speed. QoS `MQTT_QOS`, via the outbox.',
  'line/<name>/totals':
    'Retained. Running totals of the line since `since`, after every crossing and on connect; kept in `STATE_DIR`, so they survive a restart of the agent and of the subscriber.',
  'zone/<name>': 'Retained. Who is in a zone of `ZONES` now, on every change and on connect.',
  'zone/<name>/event': 'An object entered or left a zone (two processed frames in a row on the new side). QoS `MQTT_QOS`, via the outbox.',
  stats:
    'Every `STATS_INTERVAL` seconds, on the wall clock (60: on each minute), when `LINES` or `ZONES` are set; an interval without traffic has zero counts. QoS `MQTT_QOS`, via the outbox.',
  state: 'Retained. On connect, when the counts or the camera state change, and every 10 s with a new `timestamp`.',
  status: 'Retained, plain text. `online` on connect, `offline` as the last will, `stopped` on a clean shutdown.',
  'set/result':
    "The reply to each message on `<prefix>set/<setting>` (settings: `score_threshold`, `detect_fps`, `classes`, `paused`; and the shapes, saved in STATE_DIR and applied live: `lines`, `zones`, `masks` with the env setting's text, `calibration` as `image points|metres`, `shapes` with `reset`). QoS 1, not retained (it answers one command): subscribe before you publish the command.",
};

const statusValues = () => TOPIC_SCHEMAS.status.options.map((v) => `\`${v}\``).join(', ');

const SNAPSHOTS = [
  '## `<prefix>snapshot/<class>`',
  '',
  "With `SNAPSHOT_CLASSES=person,car`: on each new track of those classes, a JPEG of the frame with the object's box, retained (QoS 1, not queued in the outbox: the newest one is what matters). The picture is at the camera's full resolution (`SNAPSHOT_SIZE`: or fitted within `WIDTHxHEIGHT`, or the frame the model saw with `model`).",
  'The payload is the JPEG itself (MQTT 5: content type `image/jpeg`), at most `SNAPSHOT_MAX_BYTES`; a larger one is re-encoded at lower quality, then at half, a quarter and an eighth of its size, and dropped with a warning if it still does not fit.',
  "Save one with `mosquitto_sub -C 1 -t 'snapshot/person' > person.jpg`.",
  '',
  '## `<prefix>line/<name>/evidence`',
  '',
  "With `EVIDENCE_CLASSES`: each evidence photo of a crossing of the line (docs/history.md), the JPEG itself at the camera's resolution, retained (QoS 1, not queued in the outbox: the newest one is what matters). The same photo is on the HTTP server at the `evidence` path of the crossing's `line/<name>` message.",
  '',
];

const HOME_ASSISTANT = [
  '## Home Assistant discovery',
  '',
  'With `HA_DISCOVERY=true`, retained configs under `HA_DISCOVERY_PREFIX` (default `homeassistant`) announce one device per agent, re-sent on every connect and whenever Home Assistant publishes `online` on `<discovery prefix>/status`.',
  'Each entity carries `default_entity_id` (Home Assistant 2025.10 and later) and `object_id` (earlier versions), a `unique_id` and device identifier that include the machine tag (so two boxes never merge), and is available only while `<prefix>status` is `online`.',
  '',
  '| Entity | Component | From | Per |',
  '| --- | --- | --- | --- |',
  '| `sensor.edgecam_<device>_<class>_count` | sensor | `state` counts | class in `HA_CLASSES` |',
  '| `binary_sensor.edgecam_<device>_<class>_present` | binary_sensor (occupancy) | `state` counts | class in `HA_CLASSES` |',
  '| `event.edgecam_<device>_<class>_track` | event (`new_track`) | `track/<class>` | class in `HA_CLASSES` |',
  '| device trigger "<class> new_track" | device_automation | `track/<class>` | class in `HA_CLASSES` |',
  '| `camera.edgecam_<device>_<class>_snapshot` | camera | `snapshot/<class>` | class in `SNAPSHOT_CLASSES` |',
  '| `camera.edgecam_<device>_line_<name>_evidence` | camera | `line/<name>/evidence` | line, with `EVIDENCE_CLASSES` |',
  '| `sensor.edgecam_<device>_last_speed` | sensor (speed) | `speedometer` | agent |',
  '| `sensor.edgecam_<device>_fps`, `_inference_ms`, `_camera` | sensor (diagnostic) | `state` | agent |',
  '',
];

export function jsonSchemas(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [topic, schema] of Object.entries(TOPIC_SCHEMAS)) {
    const file = `${topic.replace(/\/<\w+>/g, '').replaceAll('/', '-')}.schema.json`;
    const json = { $id: `edgecam/${file}`, title: `edgecam <prefix>${topic}`, ...z.toJSONSchema(schema) };
    out[file] = JSON.stringify(json, null, 2) + '\n';
  }
  return out;
}

export function mqttDoc(): string {
  const lines = [
    '# edgecam MQTT API',
    '',
    'Generated from `agent/mqtt/payloads.ts` by `npm run docs`; do not edit by hand.',
    'JSON Schemas of every payload: [`docs/schemas/`](schemas/).',
    '',
    'Every topic starts with `TOPIC_PREFIX` (default empty; `{device}` in it stands for `DEVICE_ID`).',
    'With `TOPIC_PREFIX=edgecam/{device}/` and `DEVICE_ID=front`: `edgecam/front/class`, `edgecam/front/speedometer`, ...',
    '`class` with `class_name`, and `speedometer` with `speed`, are the compatibility contract: fields are only ever added beside them.',
    'With `MQTT_PROTOCOL_VERSION=5`, JSON messages carry the content type `application/json` and a message expiry (`MQTT_MESSAGE_EXPIRY`).',
    '',
    '| Topic | When |',
    '| --- | --- |',
    ...Object.keys(TOPIC_SCHEMAS).map((t) => `| \`<prefix>${t}\` | ${WHEN[t as keyof typeof WHEN]} |`),
    '| `<prefix>set/<setting>` | Incoming: remote commands (see `set/result`). |',
    '| `<prefix>snapshot/<class>` | Retained JPEG of the frame with the box, on each new track of a class in `SNAPSHOT_CLASSES`. |',
    "| `<prefix>line/<name>/evidence` | Retained JPEG of the latest evidence photo of a crossing of the line, at the camera's resolution (`EVIDENCE_CLASSES`). |",
    '| `homeassistant/.../config` | Retained Home Assistant discovery configs when `HA_DISCOVERY=true`: see the last section. |',
    '',
  ];
  for (const [topic, schema] of Object.entries(TOPIC_SCHEMAS)) {
    lines.push(`## \`<prefix>${topic}\``, '', WHEN[topic as keyof typeof WHEN], '');
    const json = z.toJSONSchema(schema) as { properties?: Record<string, { type?: string; description?: string; enum?: unknown[] }>; required?: string[] };
    if (json.properties) {
      lines.push('| Field | Type | Required | Meaning |', '| --- | --- | --- | --- |');
      for (const [name, p] of Object.entries(json.properties)) {
        const type = p.enum ? p.enum.map((v) => JSON.stringify(v)).join(' \\| ') : (p.type ?? 'any');
        lines.push(`| \`${name}\` | ${type} | ${json.required?.includes(name) ? 'yes' : 'no'} | ${(p.description ?? '').replace(/\|/g, '\\|')} |`);
      }
      lines.push('');
    }
    const example = EXAMPLES[topic as keyof typeof EXAMPLES];
    if (typeof example === 'string') lines.push(`Payload: one of ${statusValues()}, as plain text (not JSON). Example: \`${example}\``, '');
    else lines.push('Example:', '', '```json', JSON.stringify(example, null, 2), '```', '');
  }
  lines.push(...SNAPSHOTS, ...HOME_ASSISTANT);
  return lines.join('\n');
}
