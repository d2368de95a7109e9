// Publish stage: turns detection results into MQTT telemetry.
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from '../log.js';
import { redactUrl } from '../log.js';
import type { Detection } from '../detect/index.js';
import { assertPublishTopic, type ClassPayload, type SpeedPayload, type TopicPayloads } from './payloads.js';
import type { SpeedReport } from '../track/index.js';

export interface PublisherOptions {
  url: string;
  clientId: string;
  username?: string;
  password?: string;
  qos: 0 | 1 | 2;
  topicPrefix: string;
  log: Logger;
  /** How long stop() waits for unacknowledged messages. */
  flushTimeoutMs?: number;
}

export interface PublishStats {
  sent: number;
  failed: number;
}

export interface FrameResult {
  index: number;
  pts: number;
  detections: (Detection & { trackId?: number })[];
}

const round = (v: number, digits: number) => Math.round(v * 10 ** digits) / 10 ** digits;

export function classPayloadOf(result: FrameResult, now = new Date()): ClassPayload {
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
  };
}

export class Publisher {
  readonly stats: PublishStats = { sent: 0, failed: 0 };
  private client: MqttClient | undefined;
  private readonly pending = new Set<Promise<unknown>>();
  private lastWasEmpty = true;

  constructor(private readonly options: PublisherOptions) {}

  topic(name: keyof TopicPayloads): string {
    const topic = this.options.topicPrefix + name;
    assertPublishTopic(topic);
    return topic;
  }

  async start(): Promise<void> {
    const { url, clientId, username, password, log } = this.options;
    // Validate the topic names once, up front: a bad TOPIC_PREFIX fails at start, not per message.
    this.topic('class');
    this.topic('speedometer');
    const options: IClientOptions = {
      clientId,
      username,
      password,
      clean: true,
      reconnectPeriod: 2000,
      connectTimeout: 10_000,
      resubscribe: false,
    };
    const client = mqtt.connect(url, options);
    this.client = client;
    client.on('connect', () => log.info({ url: redactUrl(url), clientId }, 'connected to MQTT broker'));
    client.on('reconnect', () => log.debug('reconnecting to MQTT broker'));
    client.on('offline', () => log.warn({ url: redactUrl(url) }, 'MQTT broker unreachable; messages are queued until it is back'));
    client.on('error', (err) => log.warn({ err: err.message }, 'MQTT error'));
  }

  /** Publishes a processed frame on `class`: every frame with detections, and the first empty one after them. */
  publishFrame(result: FrameResult): void {
    const empty = result.detections.length === 0;
    if (empty && this.lastWasEmpty) return;
    this.lastWasEmpty = empty;
    this.publish('class', classPayloadOf(result));
  }

  publishSpeed(report: SpeedReport): void {
    this.publish('speedometer', speedPayloadOf(report));
  }

  publish<T extends keyof TopicPayloads>(name: T, payload: TopicPayloads[T]): void {
    const client = this.client;
    if (!client) throw new Error('publisher is not started');
    const promise = client
      .publishAsync(this.topic(name), JSON.stringify(payload), { qos: this.options.qos })
      .then(() => void this.stats.sent++)
      .catch((err: Error) => {
        this.stats.failed++;
        this.options.log.warn({ topic: name, err: err.message }, 'publish failed');
      })
      .finally(() => this.pending.delete(promise));
    this.pending.add(promise);
  }

  /** Waits (bounded) for queued messages to be acknowledged, then disconnects. */
  async stop(): Promise<void> {
    const client = this.client;
    if (!client) return;
    this.client = undefined;
    const timeoutMs = this.options.flushTimeoutMs ?? 3000;
    let timer: NodeJS.Timeout | undefined;
    const flushed = await Promise.race([
      Promise.allSettled([...this.pending]).then(() => true),
      new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (!flushed) this.options.log.warn({ unacknowledged: this.pending.size }, 'MQTT flush timed out');
    await client.endAsync(!flushed);
  }
}
