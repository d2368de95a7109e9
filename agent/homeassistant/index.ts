// Home Assistant MQTT discovery: one device per edgecam, with a count sensor, an
// "object present" binary sensor, a new-track event entity and a device trigger per
// class, a camera per snapshot class, the last speed, fps and inference time. Every
// entity is available only while edgecam's retained status says `online`.
//
// Entity ids: `default_entity_id` (Home Assistant 2025.10 on; the only one honoured from
// 2026.4) and `object_id` (older versions) say the same thing. Unique ids and the device
// identifier include the machine tag, so two boxes with the same DEVICE_ID (the same
// host name) stay two devices.
import { SPEED_UNITS, type SpeedUnit } from '../track/speed.js';
import type { Feature, FeatureContext } from '../feature.js';
import { assertPublishTopic, classTopicPart } from '../mqtt/payloads.js';
import { packageVersion } from '../paths.js';
import type { ResolvedShapes } from '../config/shapes.js';

export interface DiscoveryOptions {
  discoveryPrefix: string;
  deviceId: string;
  /** Six hex digits unique to the machine. */
  machineTag: string;
  /** The agent's own topics; `track` and `snapshot` take the class's topic level. */
  topics: { state: string; status: string; speedometer: string; track: (className: string) => string; snapshot: (className: string) => string };
  classes: string[];
  snapshotClasses: string[];
  /** Counting lines and zones (analytics), with their topics. */
  lines?: { name: string; directions: [string, string]; topic: string; totalsTopic: string; evidenceTopic?: string }[];
  zones?: { name: string; topic: string }[];
  /** Whether crossings carry a speed (a calibration is configured). */
  speeds?: boolean;
  speedUnit: SpeedUnit;
  version: string;
}

export interface DiscoveryMessage {
  topic: string;
  payload: Record<string, unknown>;
}

const slug = (s: string) =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_|_$/g, '');
const jinjaString = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

export function discoveryMessages(o: DiscoveryOptions): DiscoveryMessage[] {
  const node = `edgecam_${slug(o.deviceId)}`;
  const uniqueNode = `edgecam_${o.machineTag}_${slug(o.deviceId)}`;
  const device = { identifiers: [uniqueNode], name: `edgecam ${o.deviceId}`, manufacturer: 'edgecam', model: 'edgecam agent', sw_version: o.version };
  const availability = {
    availability_topic: o.topics.status,
    // `stopped` (clean shutdown) and `offline` (last will) both mean unavailable.
    availability_template: "{{ 'online' if value == 'online' else 'offline' }}",
    payload_available: 'online',
    payload_not_available: 'offline',
  };
  const entity = (component: string, objectId: string, config: Record<string, unknown>): DiscoveryMessage => ({
    topic: `${o.discoveryPrefix}/${component}/${node}/${objectId}/config`,
    payload: {
      ...config,
      unique_id: `${uniqueNode}_${objectId}`,
      default_entity_id: `${component}.${node}_${objectId}`,
      object_id: `${node}_${objectId}`,
      device,
      ...availability,
    },
  });
  const messages: DiscoveryMessage[] = [];
  for (const cls of o.classes) {
    const id = slug(cls);
    const count = `(value_json.counts[${jinjaString(cls)}] | default(0))`;
    messages.push(
      entity('sensor', `${id}_count`, {
        name: `${cls} count`,
        state_topic: o.topics.state,
        value_template: `{{ ${count} }}`,
        state_class: 'measurement',
        unit_of_measurement: cls === 'person' ? 'people' : 'objects',
        icon: 'mdi:counter',
      }),
      entity('binary_sensor', `${id}_present`, {
        name: `${cls} present`,
        state_topic: o.topics.state,
        value_template: `{{ 'ON' if ${count} > 0 else 'OFF' }}`,
        payload_on: 'ON',
        payload_off: 'OFF',
        device_class: 'occupancy',
      }),
      entity('event', `${id}_track`, {
        name: `${cls} new track`,
        state_topic: o.topics.track(cls),
        event_types: ['new_track'],
        device_class: 'motion',
        icon: 'mdi:motion-sensor',
      }),
      {
        // A device trigger is no entity: no availability, unique id or entity id.
        topic: `${o.discoveryPrefix}/device_automation/${node}/${id}_new_track/config`,
        payload: { automation_type: 'trigger', topic: o.topics.track(cls), type: 'new_track', subtype: cls, qos: 1, device },
      },
    );
  }
  for (const line of o.lines ?? []) {
    const id = slug(line.name);
    for (const direction of line.directions) {
      messages.push(
        entity('sensor', `line_${id}_${slug(direction)}`, {
          name: `${line.name} ${direction}`,
          state_topic: line.totalsTopic,
          value_template: `{{ value_json.directions[${jinjaString(direction)}].total }}`,
          json_attributes_topic: line.totalsTopic,
          json_attributes_template: `{{ value_json.directions[${jinjaString(direction)}].classes | tojson }}`,
          state_class: 'total_increasing',
          unit_of_measurement: 'objects',
          icon: 'mdi:counter',
        }),
      );
    }
    if (o.speeds)
      messages.push(
        entity('sensor', `line_${id}_speed`, {
          name: `${line.name} last speed`,
          state_topic: line.topic,
          value_template: '{{ value_json.speed }}',
          json_attributes_topic: line.topic,
          unit_of_measurement: SPEED_UNITS[o.speedUnit].label,
          device_class: 'speed',
          state_class: 'measurement',
        }),
      );
  }
  for (const zone of o.zones ?? []) {
    messages.push(
      entity('sensor', `zone_${slug(zone.name)}_occupancy`, {
        name: `${zone.name} occupancy`,
        state_topic: zone.topic,
        value_template: '{{ value_json.count }}',
        json_attributes_topic: zone.topic,
        json_attributes_template: '{{ value_json.counts | tojson }}',
        state_class: 'measurement',
        unit_of_measurement: 'objects',
        icon: 'mdi:account-group',
      }),
    );
  }
  for (const cls of o.snapshotClasses) {
    messages.push(entity('camera', `${slug(cls)}_snapshot`, { name: `${cls} snapshot`, topic: o.topics.snapshot(cls) }));
  }
  for (const line of o.lines ?? []) {
    if (line.evidenceTopic) messages.push(entity('camera', `line_${slug(line.name)}_evidence`, { name: `${line.name} evidence`, topic: line.evidenceTopic }));
  }
  messages.push(
    entity('sensor', 'last_speed', {
      name: 'Last speed',
      state_topic: o.topics.speedometer,
      value_template: '{{ value_json.speed }}',
      unit_of_measurement: SPEED_UNITS[o.speedUnit].label,
      device_class: 'speed',
      state_class: 'measurement',
      json_attributes_topic: o.topics.speedometer,
    }),
    entity('sensor', 'fps', {
      name: 'Processed fps',
      state_topic: o.topics.state,
      value_template: '{{ value_json.fps }}',
      unit_of_measurement: 'fps',
      state_class: 'measurement',
      entity_category: 'diagnostic',
      icon: 'mdi:speedometer',
    }),
    entity('sensor', 'inference_ms', {
      name: 'Inference time',
      state_topic: o.topics.state,
      value_template: '{{ value_json.inference_ms }}',
      unit_of_measurement: 'ms',
      device_class: 'duration',
      state_class: 'measurement',
      entity_category: 'diagnostic',
    }),
    entity('sensor', 'camera', { name: 'Camera', state_topic: o.topics.state, value_template: '{{ value_json.camera }}', entity_category: 'diagnostic', icon: 'mdi:cctv' }),
  );
  return messages;
}

/**
 * Announces the discovery configs, retained, on every connect and whenever Home Assistant
 * comes online. Lines and zones saved while running get their sensors at once; a deleted
 * one's configs are cleared (an empty retained message), so Home Assistant removes them.
 */
export function fromConfig(ctx: FeatureContext): Feature | undefined {
  const { config, mqtt, bus, pipeline } = ctx;
  if (!config.HA_DISCOVERY) return undefined;
  const log = ctx.log.child({ feature: 'homeassistant' });
  const prefix = config.HA_DISCOVERY_PREFIX;
  const build = (shapes: ResolvedShapes) =>
    discoveryMessages({
      discoveryPrefix: prefix,
      deviceId: config.DEVICE_ID,
      machineTag: config.MACHINE_TAG,
      topics: {
        state: mqtt.topic('state'),
        status: mqtt.topic('status'),
        speedometer: mqtt.topic('speedometer'),
        track: (cls) => mqtt.topic(`track/${classTopicPart(cls)}`),
        snapshot: (cls) => mqtt.topic(`snapshot/${classTopicPart(cls)}`),
      },
      classes: config.HA_CLASSES,
      snapshotClasses: config.SNAPSHOT_CLASSES,
      lines: shapes.lines.map((l) => ({
        name: l.name,
        directions: l.directions,
        topic: mqtt.topic(`line/${l.name}`),
        totalsTopic: mqtt.topic(`line/${l.name}/totals`),
        evidenceTopic: config.EVIDENCE_CLASSES.length ? mqtt.topic(`line/${l.name}/evidence`) : undefined,
      })),
      zones: shapes.zones.map((z) => ({ name: z.name, topic: mqtt.topic(`zone/${z.name}`) })),
      speeds: Boolean(shapes.calibration.imagePoints ?? shapes.calibration.metersPerPixel),
      speedUnit: config.SPEED_UNIT,
      version: packageVersion(),
    });
  let messages = build(pipeline.shapes.shapes);
  for (const m of messages) assertPublishTopic(m.topic);
  const announce = () => {
    for (const m of messages) mqtt.publish(m.topic, JSON.stringify(m.payload), { qos: 1, retain: true });
  };
  const reshape = (shapes: ResolvedShapes) => {
    const next = build(shapes);
    const removed = messages.filter((m) => !next.some((n) => n.topic === m.topic));
    for (const m of removed) mqtt.publish(m.topic, '', { qos: 1, retain: true });
    messages = next;
    announce();
    log.info({ removed: removed.length, configs: messages.length }, 'discovery configs announced again: lines or zones changed');
  };
  return {
    name: 'homeassistant',
    start: () => {
      mqtt.onConnect(announce);
      mqtt.subscribe(`${prefix}/status`, (_topic, payload) => {
        if (payload.toString() !== 'online') return;
        log.info('Home Assistant came online: announcing discovery configs again');
        announce();
      });
      bus.on('shapes', reshape, 'homeassistant');
    },
    stop: () => {},
  };
}
