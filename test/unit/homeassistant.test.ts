// Home Assistant discovery payloads against schemas written from Home Assistant's MQTT
// documentation (home-assistant.io: MQTT discovery, and the sensor, binary_sensor,
// event, camera and device trigger integrations, 2026). The schemas are strict: a key
// Home Assistant does not know for that component fails the test, as a typo would
// silently do nothing in Home Assistant.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { discoveryMessages, type DiscoveryOptions } from '../../agent/homeassistant/index.js';

const topicName = z.string().regex(/^[^#+\0]+$/, 'a concrete topic');
const templ = z.string().regex(/^\{\{.*\}\}$/s, 'a Jinja template');
const device = z
  .object({
    identifiers: z.array(z.string().min(1)).min(1),
    name: z.string().min(1),
    manufacturer: z.string(),
    model: z.string(),
    sw_version: z.string(),
  })
  .strict();
// The options every MQTT entity shares (MQTT_ENTITY_COMMON_SCHEMA and the availability schema).
const entityCommon = {
  name: z.string().min(1),
  unique_id: z.string().regex(/^[a-zA-Z0-9_-]+$/),
  default_entity_id: z.string().regex(/^[a-z_]+\.[a-z0-9_]+$/, '<domain>.<object id>, lower case'),
  object_id: z.string().regex(/^[a-z0-9_]+$/),
  device,
  availability_topic: topicName,
  availability_template: templ,
  payload_available: z.string(),
  payload_not_available: z.string(),
  icon: z.string().startsWith('mdi:').optional(),
  entity_category: z.enum(['config', 'diagnostic']).optional(),
  json_attributes_topic: topicName.optional(),
};
const SCHEMAS = {
  sensor: z
    .object({
      ...entityCommon,
      state_topic: topicName,
      value_template: templ,
      unit_of_measurement: z.string().optional(),
      json_attributes_template: templ.optional(),
      device_class: z.enum(['speed', 'duration']).optional(),
      state_class: z.enum(['measurement', 'total', 'total_increasing']).optional(),
    })
    .strict(),
  binary_sensor: z
    .object({
      ...entityCommon,
      state_topic: topicName,
      value_template: templ,
      payload_on: z.string(),
      payload_off: z.string(),
      device_class: z.literal('occupancy'),
    })
    .strict(),
  // The state topic's JSON carries `event_type`, one of event_types.
  event: z.object({ ...entityCommon, state_topic: topicName, event_types: z.array(z.string()).min(1), device_class: z.enum(['button', 'doorbell', 'motion']).optional() }).strict(),
  // The payload on `topic` is the image itself (no image_encoding).
  camera: z.object({ ...entityCommon, topic: topicName }).strict(),
  // A device trigger is not an entity: no unique_id, entity id or availability.
  device_automation: z
    .object({ automation_type: z.literal('trigger'), topic: topicName, type: z.string().min(1), subtype: z.string().min(1), qos: z.number().int().min(0).max(2), device })
    .strict(),
} as const;

const options = (machineTag: string, deviceId = 'front'): DiscoveryOptions => ({
  discoveryPrefix: 'homeassistant',
  deviceId,
  machineTag,
  topics: {
    state: `edgecam/${deviceId}/state`,
    status: `edgecam/${deviceId}/status`,
    speedometer: `edgecam/${deviceId}/speedometer`,
    track: (c) => `edgecam/${deviceId}/track/${c.replace(/[^A-Za-z0-9_-]+/g, '_')}`,
    snapshot: (c) => `edgecam/${deviceId}/snapshot/${c.replace(/[^A-Za-z0-9_-]+/g, '_')}`,
  },
  classes: ['person', 'traffic light'],
  snapshotClasses: ['person'],
  speedUnit: 'kmh',
  version: '1.2.3',
});

test('every discovery payload matches the schema of its component, with default_entity_id in that domain', () => {
  const messages = discoveryMessages(options('a1b2c3'));
  const byComponent = new Map<string, number>();
  for (const m of messages) {
    const match = /^homeassistant\/([a-z_]+)\/edgecam_front\/([a-z0-9_]+)\/config$/.exec(m.topic);
    assert.ok(match, m.topic);
    const component = match[1] as keyof typeof SCHEMAS;
    assert.ok(component in SCHEMAS, `unexpected component ${component}`);
    const parsed = SCHEMAS[component].safeParse(m.payload);
    assert.ok(parsed.success, `${m.topic}: ${parsed.error?.message}`);
    byComponent.set(component, (byComponent.get(component) ?? 0) + 1);
    const p = m.payload as { default_entity_id?: string; object_id?: string; device: { identifiers: string[] } };
    assert.deepEqual(p.device.identifiers, ['edgecam_a1b2c3_front']);
    if (component === 'device_automation') continue;
    // Home Assistant 2026.4 reads default_entity_id only; older versions object_id. They name the same entity.
    assert.equal(p.default_entity_id, `${component}.${p.object_id}`);
    assert.ok(p.object_id!.startsWith('edgecam_front_'), p.object_id);
  }
  assert.deepEqual(Object.fromEntries(byComponent), { sensor: 6, binary_sensor: 2, event: 2, device_automation: 2, camera: 1 });
  const ids = messages.map((m) => (m.payload as { unique_id?: string }).unique_id).filter(Boolean);
  assert.equal(new Set(ids).size, ids.length, 'unique ids are unique');
  const triggers = messages.filter((m) => m.topic.includes('/device_automation/')).map((m) => m.payload as { type: string; subtype: string; topic: string });
  assert.deepEqual(
    triggers.map((t) => [t.type, t.subtype, t.topic]),
    [
      ['new_track', 'person', 'edgecam/front/track/person'],
      ['new_track', 'traffic light', 'edgecam/front/track/traffic_light'],
    ],
  );
  const camera = messages.find((m) => m.topic.includes('/camera/'))!;
  assert.equal((camera.payload as { topic: string }).topic, 'edgecam/front/snapshot/person');
  assert.equal((camera.payload as { default_entity_id: string }).default_entity_id, 'camera.edgecam_front_person_snapshot');
});

test('counting lines and zones: a total_increasing counter per line and direction, the last speed per line, an occupancy per zone, a camera of the latest evidence photo', () => {
  const messages = discoveryMessages({
    ...options('a1b2c3'),
    lines: [
      {
        name: 'stopline',
        directions: ['northbound', 'southbound'],
        topic: 'edgecam/front/line/stopline',
        totalsTopic: 'edgecam/front/line/stopline/totals',
        evidenceTopic: 'edgecam/front/line/stopline/evidence',
      },
    ],
    zones: [{ name: 'dock', topic: 'edgecam/front/zone/dock' }],
    speeds: true,
  });
  for (const m of messages) {
    const component = /^homeassistant\/([a-z_]+)\//.exec(m.topic)![1] as keyof typeof SCHEMAS;
    const parsed = SCHEMAS[component].safeParse(m.payload);
    assert.ok(parsed.success, `${m.topic}: ${parsed.error?.message}`);
  }
  const byId = (id: string) => messages.find((m) => m.topic === `homeassistant/sensor/edgecam_front/${id}/config`)?.payload as Record<string, string> | undefined;
  const north = byId('line_stopline_northbound')!;
  assert.equal(north.state_class, 'total_increasing');
  assert.equal(north.state_topic, 'edgecam/front/line/stopline/totals');
  assert.equal(north.value_template, "{{ value_json.directions['northbound'].total }}");
  assert.ok(byId('line_stopline_southbound'));
  assert.equal(byId('line_stopline_speed')!.device_class, 'speed');
  assert.equal(byId('zone_dock_occupancy')!.value_template, '{{ value_json.count }}');
  const evidence = messages.find((m) => m.topic === 'homeassistant/camera/edgecam_front/line_stopline_evidence/config')?.payload as Record<string, string> | undefined;
  assert.equal(evidence?.topic, 'edgecam/front/line/stopline/evidence');
  assert.equal(evidence?.default_entity_id, 'camera.edgecam_front_line_stopline_evidence');
});

test('two boxes with the same DEVICE_ID (same host name) are two devices in Home Assistant', () => {
  const a = discoveryMessages(options('a1b2c3'));
  const b = discoveryMessages(options('d4e5f6'));
  const uniqueIds = (ms: typeof a) => new Set(ms.map((m) => (m.payload as { unique_id?: string }).unique_id).filter(Boolean));
  const shared = [...uniqueIds(a)].filter((id) => uniqueIds(b).has(id));
  assert.deepEqual(shared, []);
  assert.notDeepEqual((a[0]!.payload as { device: unknown }).device, (b[0]!.payload as { device: unknown }).device);
});
