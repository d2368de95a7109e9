// The transport's options, and how the config sets them.
import { readFileSync } from 'node:fs';
import type { Config } from '../config/index.js';
import type { Logger } from '../log.js';
import type { EmbeddedBrokerPart } from './broker.js';

export interface TransportOptions {
  /** The broker; a function when it is known only at start (the embedded broker's port). */
  url: string | (() => string);
  clientId: string;
  username?: string;
  password?: string;
  /** QoS of telemetry sent through the outbox. */
  qos: 0 | 1 | 2;
  topicPrefix: string;
  /** Directory of the persistent outbox; undefined keeps it in memory. */
  stateDir?: string;
  queueMaxMessages?: number;
  queueMaxBytes?: number;
  log: Logger;
  /** How long stop() waits for unacknowledged messages. */
  flushTimeoutMs?: number;
  /** Longest wait between reconnects. */
  reconnectMaxMs?: number;
  /** 4: MQTT 3.1.1, 5: MQTT 5 (JSON carries a content type, telemetry a message expiry). */
  protocolVersion?: 3 | 4 | 5;
  messageExpirySeconds?: number;
  /** PEM contents for TLS. */
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer };
  /** Called for each telemetry message the broker acknowledged (benchmarks measure latency with it). */
  onDelivered?: (topic: string, payload: string) => void;
}

/** The transport's settings from the config; `url` is the broker to use (the embedded one when MQTT_URL is empty). */
export function transportOptions(config: Config, log: Logger, embedded?: EmbeddedBrokerPart): TransportOptions {
  const pem = (file: string | undefined) => (file ? readFileSync(file) : undefined);
  return {
    url: embedded ? () => embedded.url() : config.MQTT_URL!,
    clientId: config.MQTT_CLIENT_ID,
    username: embedded ? embedded.credentials.username : config.MQTT_USERNAME,
    password: embedded ? embedded.credentials.password : config.MQTT_PASSWORD,
    qos: config.MQTT_QOS,
    topicPrefix: config.TOPIC_PREFIX,
    stateDir: config.STATE_DIR,
    queueMaxMessages: config.MQTT_QUEUE_MAX_MESSAGES,
    queueMaxBytes: config.MQTT_QUEUE_MAX_BYTES,
    reconnectMaxMs: config.RESTART_BACKOFF_MAX * 1000,
    protocolVersion: config.MQTT_PROTOCOL_VERSION,
    messageExpirySeconds: config.MQTT_MESSAGE_EXPIRY,
    tls: { ca: pem(config.MQTT_CA_FILE), cert: pem(config.MQTT_CERT_FILE), key: pem(config.MQTT_KEY_FILE) },
    log,
  };
}
