// The agent's MQTT side without the pipeline: the transport with the telemetry and state
// features on a bus, fed processed frames by the test.
import { EventBus, type TrackedDetection } from '../../agent/bus.js';
import { Controller, type FeatureContext } from '../../agent/feature.js';
import { Health } from '../../agent/health/index.js';
import { MqttTransport } from '../../agent/mqtt/transport.js';
import * as telemetry from '../../agent/telemetry/index.js';
import * as state from '../../agent/state/index.js';
import { memoryLogger } from './log.js';

export function telemetryAgent(url: string, topicPrefix = '') {
  const { log } = memoryLogger();
  const bus = new EventBus(log);
  const mqtt = new MqttTransport({ url, clientId: `test-${Math.random().toString(16).slice(2)}`, qos: 1, topicPrefix, log });
  const health = new Health({ staleAfter: 5, mqttConnected: () => mqtt.connected });
  // The two features read only these parts of the context.
  const ctx = { log, bus, mqtt, health } as FeatureContext;
  const controller = new Controller(log, bus);
  return {
    mqtt,
    start: async () => controller.start([mqtt, telemetry.fromConfig(ctx), state.fromConfig(ctx)]),
    stop: () => controller.stop(),
    publishFrame: (r: { index: number; pts: number; detections: TrackedDetection[] }) => bus.emit('detections', { ...r, sourceWidth: 1280, sourceHeight: 720, inferenceMs: 20 }),
  };
}
