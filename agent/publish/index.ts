// Publish stage: turns detection results into MQTT telemetry.
//
// Every telemetry message goes through the outbox (on disk under STATE_DIR) and is
// removed only when the broker acknowledges it, so broker outages and restarts lose
// nothing within the outbox's bounds. The connection is re-established with
// exponential backoff and jitter. Availability is a retained `<prefix>status`
// (online / offline by last will / stopped), and the present state (current counts,
// camera state) is a retained `<prefix>state`, so a late subscriber sees the present.
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from '../log.js';
import { redactUrl } from '../log.js';
import type { Detection } from '../detect/index.js';
import { UserError } from '../errors.js';
import { Backoff } from '../backoff.js';
import type { SpeedReport } from '../track/index.js';
import { Outbox } from './outbox.js';
import { assertPublishTopic, type ClassPayload, type SpeedPayload, type StatePayload, type TopicPayloads } from './payloads.js';
import type { DiscoveryMessage } from './homeassistant.js';
import type { CommandResult } from './commands.js';
import { snapshotTopicPart } from './snapshots.js';

export interface PublisherOptions {
  url: string;
  clientId: string;
  username?: string;
  password?: string;
  qos: 0 | 1 | 2;
  topicPrefix: string;
  /** Directory of the persistent outbox; undefined keeps it in memory. */
  stateDir?: string;
  queueMaxMessages?: number;
  queueMaxBytes?: number;
  log: Logger;
  /** How long stop() waits for unacknowledged messages. */
  flushTimeoutMs?: number;
  /** Reconnect backoff bounds. */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** 4: MQTT 3.1.1, 5: MQTT 5 (telemetry carries content type and message expiry). */
  protocolVersion?: 3 | 4 | 5;
  messageExpirySeconds?: number;
  /** PEM contents for TLS. */
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer };
  /** Home Assistant discovery, announced on every connect and when HA says it is online. */
  discovery?: { prefix: string; messages: DiscoveryMessage[] };
  /** Called for each telemetry message the broker acknowledged (benchmarks measure latency with it). */
  onDelivered?: (topic: string, payload: string) => void;
  /** Handles `<prefix>set/<setting>`; its result is published on `<prefix>set/result`. */
  onCommand?: (setting: string, payload: string) => CommandResult;
}

export interface PublishStats {
  /** Telemetry messages handed to the outbox. */
  queued: number;
  /** Acknowledged by the broker (QoS 1/2) or written to the socket (QoS 0). */
  sent: number;
  failed: number;
  dropped: number;
  reconnects: number;
  /** Messages waiting in the outbox now. */
  pending: number;
}

export interface FrameResult {
  index: number;
  pts: number;
  detections: (Detection & { trackId?: number })[];
}

const round = (v: number, digits: number) => Math.round(v * 10 ** digits) / 10 ** digits;
/** Unacknowledged messages on the wire at once; the outbox keeps their order. */
const WINDOW = 50;

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
  private readonly stats_ = { queued: 0, sent: 0, failed: 0, reconnects: 0 };
  private client: MqttClient | undefined;
  private readonly outbox: Outbox;
  private readonly sent = new Set<number>();
  private generation = 0;
  private lastWasEmpty = true;
  private state: StatePayload = { status: 'online', camera: 'starting', counts: {}, fps: 0, inference_ms: 0, paused: false, timestamp: new Date().toISOString() };
  private stateTimer: NodeJS.Timeout | undefined;
  private fps = 0;
  private lastFrameAt = 0;
  private stateDirty = false;
  private readonly backoff: Backoff;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  private idle: (() => void)[] = [];

  constructor(private readonly options: PublisherOptions) {
    this.outbox = new Outbox({
      dir: options.stateDir,
      maxMessages: options.queueMaxMessages ?? 50_000,
      maxBytes: options.queueMaxBytes ?? 32 * 1024 * 1024,
      onDrop: (count) => options.log.warn({ dropped: count, total: this.outbox.dropped }, 'outbox full: oldest telemetry dropped'),
    });
    this.backoff = new Backoff({ initialMs: options.reconnectMinMs ?? 1000, maxMs: options.reconnectMaxMs ?? 30_000 });
  }

  get stats(): PublishStats {
    return { ...this.stats_, dropped: this.outbox.dropped, pending: this.outbox.size };
  }

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  topic(name: keyof TopicPayloads | 'set/result'): string {
    const topic = this.options.topicPrefix + name;
    assertPublishTopic(topic);
    return topic;
  }

  /** Connects; waits up to 3 s so that bad credentials fail the start (exit 78), but never for a broker that is down. */
  async start(): Promise<void> {
    const { url, clientId, username, password, log } = this.options;
    for (const name of ['class', 'speedometer', 'status', 'state', 'set/result'] as const) this.topic(name);
    const restored = this.outbox.open();
    if (restored) log.info({ messages: restored }, 'outbox: undelivered telemetry from the previous run will be sent first');
    const options: IClientOptions = {
      clientId,
      username,
      password,
      clean: true,
      reconnectPeriod: 0, // reconnects are ours: exponential backoff with jitter
      connectTimeout: 10_000,
      keepalive: 30,
      resubscribe: false,
      protocolVersion: this.options.protocolVersion ?? 4,
      will: { topic: this.topic('status'), payload: Buffer.from('offline'), qos: 1, retain: true },
      ...(this.options.tls ?? {}),
      rejectUnauthorized: true,
    };
    const client = mqtt.connect(url, options);
    this.client = client;

    const firstOutcome = new Promise<Error | undefined>((resolve) => {
      client.once('connect', () => resolve(undefined));
      client.once('error', (err) => resolve(err));
      setTimeout(() => resolve(undefined), 3000).unref();
    });

    client.on('connect', () => {
      this.backoff.reset();
      log.info({ url: redactUrl(url), clientId, pending: this.outbox.size }, 'connected to MQTT broker');
      client.publish(this.topic('status'), 'online', { qos: 1, retain: true });
      this.stateDirty = true;
      this.publishState();
      this.announce();
      const subscriptions = [];
      if (this.options.onCommand) subscriptions.push(`${this.options.topicPrefix}set/+`);
      if (this.options.discovery) subscriptions.push(`${this.options.discovery.prefix}/status`);
      if (subscriptions.length) client.subscribe(subscriptions, { qos: 1 });
      this.pump();
    });
    client.on('message', (topic, payload) => this.onMessage(topic, payload.toString()));
    // The retained state refreshes fps and inference time every 10 s.
    this.stateTimer = setInterval(() => {
      this.stateDirty = true;
      this.publishState();
    }, 10_000);
    this.stateTimer.unref();
    client.on('close', () => {
      this.generation++;
      this.sent.clear();
      if (this.stopping) return;
      const delayMs = this.backoff.next();
      this.stats_.reconnects++;
      log.warn({ url: redactUrl(url), retryInMs: delayMs, pending: this.outbox.size }, 'MQTT connection lost; telemetry is kept in the outbox');
      clearTimeout(this.reconnectTimer);
      this.reconnectTimer = setTimeout(() => {
        if (!this.stopping) client.reconnect();
      }, delayMs);
    });
    client.on('error', (err) => log.warn({ err: err.message }, 'MQTT error'));

    const err = await firstOutcome;
    if (err && isAuthError(err)) {
      this.stopping = true;
      client.end(true);
      throw new UserError(`MQTT_URL=${redactUrl(url)}: the broker refused the credentials (${err.message}); check MQTT_USERNAME and MQTT_PASSWORD`);
    }
    if (err && isCertificateError(err)) {
      this.stopping = true;
      client.end(true);
      throw new UserError(`MQTT_URL=${redactUrl(url)}: the broker's TLS certificate is not trusted (${err.message}); set MQTT_CA_FILE to the CA that signed it`);
    }
  }

  /** Publishes a processed frame on `class`: every frame with detections, and the first empty one after them. */
  publishFrame(result: FrameResult): void {
    const empty = result.detections.length === 0;
    if (empty && this.lastWasEmpty) return;
    this.lastWasEmpty = empty;
    const payload = classPayloadOf(result);
    this.publish('class', payload);
    this.updateState({ counts: payload.counts });
  }

  /** Publishes a retained snapshot when connected (best effort, not queued). */
  publishSnapshot(className: string, jpeg: Buffer): void {
    const client = this.client;
    if (!client?.connected) return;
    const topic = `${this.options.topicPrefix}snapshot/${snapshotTopicPart(className)}`;
    assertPublishTopic(topic);
    client.publish(topic, jpeg, { qos: 1, retain: true, ...(this.options.protocolVersion === 5 ? { properties: { contentType: 'image/jpeg' } } : {}) });
  }

  /** Updates fps and inference time in the state without publishing it (the 10 s refresh does). */
  noteFrame(inferenceMs: number): void {
    const now = Date.now();
    if (this.lastFrameAt) this.fps = this.fps ? this.fps * 0.9 + (1000 / Math.max(1, now - this.lastFrameAt)) * 0.1 : 1000 / Math.max(1, now - this.lastFrameAt);
    this.lastFrameAt = now;
    this.state.fps = Math.round(this.fps * 10) / 10;
    this.state.inference_ms = Math.round(inferenceMs * 10) / 10;
  }

  publishSpeed(report: SpeedReport): void {
    this.publish('speedometer', speedPayloadOf(report));
  }

  /**
   * Updates the retained state; sent now if connected, else on reconnect (latest wins).
   * A change that changes nothing (the same counts as the last frame) sends nothing.
   */
  updateState(change: Partial<Omit<StatePayload, 'timestamp'>>): void {
    const state = this.state as Record<string, unknown>;
    if (Object.entries(change).every(([key, value]) => JSON.stringify(value) === JSON.stringify(state[key]))) return;
    this.state = { ...this.state, ...change, timestamp: new Date().toISOString() };
    this.stateDirty = true;
    if (this.connected) this.publishState();
  }

  publish<T extends 'class' | 'speedometer'>(name: T, payload: TopicPayloads[T]): void {
    this.outbox.add(this.topic(name), JSON.stringify(payload), this.options.qos);
    this.stats_.queued++;
    this.pump();
  }

  /** Waits (bounded) for the outbox to drain, publishes `stopped`, then disconnects. */
  async stop(): Promise<void> {
    const client = this.client;
    if (!client || this.stopping) return;
    const timeoutMs = this.options.flushTimeoutMs ?? 3000;
    const deadline = Date.now() + timeoutMs;
    if (client.connected && this.outbox.size) {
      await Promise.race([new Promise<void>((resolve) => this.idle.push(resolve)), sleep(timeoutMs)]);
    }
    this.stopping = true;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.stateTimer);
    if (this.outbox.size) this.options.log.warn({ pending: this.outbox.size }, 'MQTT not flushed in time: undelivered telemetry stays in the outbox for the next run');
    if (client.connected) {
      this.updateState({ status: 'stopped' });
      await Promise.race([client.publishAsync(this.topic('status'), 'stopped', { qos: 1, retain: true }).catch(() => {}), sleep(Math.max(200, deadline - Date.now()))]);
    }
    this.outbox.flush();
    await Promise.race([client.endAsync(!client.connected), sleep(1000)]);
  }

  private publishState(): void {
    const client = this.client;
    if (!client?.connected || !this.stateDirty) return;
    this.stateDirty = false;
    client.publish(this.topic('state'), JSON.stringify(this.state), { qos: 1, retain: true, ...this.properties() });
  }

  /** MQTT 5 properties of JSON messages. */
  private properties(): { properties?: { contentType: string; messageExpiryInterval?: number } } {
    if (this.options.protocolVersion !== 5) return {};
    const expiry = this.options.messageExpirySeconds;
    return { properties: { contentType: 'application/json', ...(expiry ? { messageExpiryInterval: expiry } : {}) } };
  }

  /** Home Assistant discovery configs, retained. */
  private announce(): void {
    const client = this.client;
    if (!client?.connected || !this.options.discovery) return;
    for (const m of this.options.discovery.messages) {
      assertPublishTopic(m.topic);
      client.publish(m.topic, JSON.stringify(m.payload), { qos: 1, retain: true });
    }
  }

  private onMessage(topic: string, payload: string): void {
    const { discovery, onCommand, topicPrefix, log } = this.options;
    if (discovery && topic === `${discovery.prefix}/status`) {
      if (payload === 'online') {
        log.info('Home Assistant came online: announcing discovery configs again');
        this.announce();
      }
      return;
    }
    const setPrefix = `${topicPrefix}set/`;
    if (onCommand && topic.startsWith(setPrefix) && topic !== `${setPrefix}result`) {
      const result = onCommand(topic.slice(setPrefix.length), payload);
      log.info({ setting: result.setting, ok: result.ok, error: result.error }, result.ok ? 'remote command applied' : 'remote command refused');
      this.client?.publish(this.topic('set/result'), JSON.stringify(result), { qos: 1, ...this.properties() });
    }
  }

  /** Sends the oldest unsent outbox messages while connected, up to WINDOW unacknowledged. */
  private pump(): void {
    const client = this.client;
    if (!client?.connected || this.stopping) return;
    const generation = this.generation;
    for (const m of this.outbox.peek(WINDOW)) {
      if (this.sent.has(m.seq)) continue;
      this.sent.add(m.seq);
      client.publishAsync(m.topic, m.payload, { qos: m.qos, ...this.properties() }).then(
        () => {
          this.outbox.ack(m.seq);
          this.sent.delete(m.seq);
          this.stats_.sent++;
          this.options.onDelivered?.(m.topic, m.payload);
          if (!this.outbox.size) for (const resolve of this.idle.splice(0)) resolve();
          this.pump();
        },
        (err: Error) => {
          // A connection that dropped: the message is resent after reconnecting.
          if (generation !== this.generation || !client.connected) return;
          this.sent.delete(m.seq);
          this.outbox.ack(m.seq);
          this.stats_.failed++;
          this.options.log.warn({ topic: m.topic, err: err.message }, 'broker rejected a message; dropped');
        },
      );
    }
  }
}

function isAuthError(err: Error): boolean {
  const code = (err as Error & { code?: number }).code;
  return code === 4 || code === 5 || code === 0x86 || code === 0x87 || /not authori[sz]ed|bad user ?name or password/i.test(err.message);
}

function isCertificateError(err: Error): boolean {
  const code = String((err as Error & { code?: string }).code ?? '');
  return /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ERR_TLS_CERT_ALTNAME/.test(code);
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());
