// Home Assistant MQTT discovery: one device per edgecam, with a count sensor and an
// "object present" binary sensor per class, the last speed, fps and inference time.
// Every entity is available only while edgecam's retained status says `online`.
import { SPEED_UNITS, type SpeedUnit } from '../track/speed.js';
import type { Feature, FeatureContext } from '../feature.js';
import { assertPublishTopic } from '../mqtt/payloads.js';
import { packageVersion } from '../paths.js';

export interface DiscoveryOptions {
  discoveryPrefix: string;
  deviceId: string;
  /** The agent's own topics. */
  topics: { state: string; status: string; speedometer: string };
  classes: string[];
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
  const device = { identifiers: [node], name: `edgecam ${o.deviceId}`, manufacturer: 'edgecam', model: 'edgecam agent', sw_version: o.version };
  const availability = {
    availability_topic: o.topics.status,
    // `stopped` (clean shutdown) and `offline` (last will) both mean unavailable.
    availability_template: "{{ 'online' if value == 'online' else 'offline' }}",
    payload_available: 'online',
    payload_not_available: 'offline',
  };
  const entity = (component: string, objectId: string, config: Record<string, unknown>): DiscoveryMessage => ({
    topic: `${o.discoveryPrefix}/${component}/${node}/${objectId}/config`,
    payload: { ...config, unique_id: `${node}_${objectId}`, object_id: `${node}_${objectId}`, device, ...availability },
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
    );
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

/** Announces the discovery configs, retained, on every connect and whenever Home Assistant comes online. */
export function fromConfig(ctx: FeatureContext): Feature | undefined {
  const { config, mqtt } = ctx;
  if (!config.HA_DISCOVERY) return undefined;
  const log = ctx.log.child({ feature: 'homeassistant' });
  const prefix = config.HA_DISCOVERY_PREFIX;
  const messages = discoveryMessages({
    discoveryPrefix: prefix,
    deviceId: config.DEVICE_ID,
    topics: { state: mqtt.topic('state'), status: mqtt.topic('status'), speedometer: mqtt.topic('speedometer') },
    classes: config.HA_CLASSES,
    speedUnit: config.SPEED_UNIT,
    version: packageVersion(),
  });
  for (const m of messages) assertPublishTopic(m.topic);
  const announce = () => {
    for (const m of messages) mqtt.publish(m.topic, JSON.stringify(m.payload), { qos: 1, retain: true });
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
    },
    stop: () => {},
  };
}
