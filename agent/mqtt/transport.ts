// The MQTT transport: one connection to the broker, shared by every feature.
//
// Telemetry (`send`) goes through the outbox (on disk under STATE_DIR) and is removed
// only when the broker acknowledges it, so broker outages and restarts lose nothing
// within the outbox's bounds. Retained and best-effort messages (`publish`) go out at
// once when connected. The connection is re-established with exponential backoff and
// jitter. Availability is a retained `<prefix>status`: online on connect, offline by
// last will, stopped on a clean stop. Subscriptions are renewed on every connect.
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { redactUrl } from '../log.js';
import { UserError } from '../errors.js';
import { Backoff } from '../backoff.js';
import { Outbox } from './outbox.js';
import { assertPublishTopic } from './payloads.js';
import type { TransportOptions } from './options.js';
import { lockStateDir } from './lock.js';

export { transportOptions, type TransportOptions } from './options.js';

/** One broker of a list: mqtt.js's server entry. */
function brokerOf(url: string): { host: string; port: number; protocol: 'mqtt' | 'mqtts' } {
  const u = new URL(url);
  const secure = /^(mqtts|ssl):$/i.test(u.protocol);
  return { host: u.hostname, port: Number(u.port) || (secure ? 8883 : 1883), protocol: secure ? 'mqtts' : 'mqtt' };
}

export interface TransportStats {
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

export interface PublishOptions {
  qos?: 0 | 1 | 2;
  retain?: boolean;
  /** MQTT 5 content type; JSON by default for strings. */
  contentType?: string;
}

/** Unacknowledged messages on the wire at once; the outbox keeps their order. */
const WINDOW = 50;

export class MqttTransport {
  readonly name = 'mqtt';
  private readonly counts = { queued: 0, sent: 0, failed: 0, reconnects: 0 };
  private client: MqttClient | undefined;
  private readonly outbox: Outbox;
  private readonly inFlight = new Set<number>();
  private generation = 0;
  private readonly backoff: Backoff;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  private idle: (() => void)[] = [];
  private readonly subscriptions = new Map<string, (topic: string, payload: Buffer) => void>();
  private readonly connectListeners: (() => void)[] = [];
  private unlock: (() => void) | undefined;

  constructor(private readonly options: TransportOptions) {
    this.outbox = new Outbox({
      dir: options.stateDir,
      maxMessages: options.queueMaxMessages ?? 50_000,
      maxBytes: options.queueMaxBytes ?? 32 * 1024 * 1024,
      onDrop: (count) => options.log.warn({ dropped: count, total: this.outbox.dropped }, 'outbox full: oldest telemetry dropped'),
      onDiskError: (err) =>
        err
          ? options.log.warn(
              { err: err.message, code: err.code, dir: options.stateDir },
              'outbox: cannot write to disk; telemetry is kept in memory (bounded) and written again when the disk allows',
            )
          : options.log.info({ dir: options.stateDir, pending: this.outbox.size }, 'outbox: written to disk again'),
    });
    this.backoff = new Backoff({ initialMs: 1000, maxMs: options.reconnectMaxMs ?? 30_000 });
  }

  get stats(): TransportStats {
    return { ...this.counts, dropped: this.outbox.dropped, pending: this.outbox.size };
  }

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  /** The full topic of `name` under the topic prefix; refuses wildcards. */
  topic(name: string): string {
    const topic = this.options.topicPrefix + name;
    assertPublishTopic(topic);
    return topic;
  }

  /** Runs `listener` on every (re)connect, after `online` is published; at once when connected already. */
  onConnect(listener: () => void): void {
    this.connectListeners.push(listener);
    if (this.connected) listener();
  }

  /** Subscribes to `filter` (a full topic filter) now if connected, and on every reconnect. */
  subscribe(filter: string, handler: (topic: string, payload: Buffer) => void): void {
    this.subscriptions.set(filter, handler);
    if (this.connected) this.client!.subscribe(filter, { qos: 1 });
  }

  /** Connects; waits up to 3 s so that bad credentials fail the start (exit 78), but never for a broker that is down. */
  async start(): Promise<void> {
    const { clientId, username, password, log } = this.options;
    const url = typeof this.options.url === 'string' ? this.options.url : this.options.url();
    const status = this.topic('status');
    if (this.options.stateDir) this.unlock = lockStateDir(this.options.stateDir);
    const { restored, skipped, corrupt } = this.outbox.open();
    if (corrupt) log.warn({ movedTo: corrupt }, 'outbox: the log could not be read; it was set aside and a new one started');
    if (skipped) log.warn({ skipped }, 'outbox: damaged records in the log were skipped');
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
      will: { topic: status, payload: Buffer.from('offline'), qos: 1, retain: true },
      ...(this.options.tls ?? {}),
      rejectUnauthorized: true,
    };
    // Several brokers (a cluster's nodes): each connection attempt takes the next, round the list.
    const urls = url.split(',').map((u) => u.trim());
    if (urls.length > 1) options.servers = urls.map((u) => brokerOf(u));
    const client = mqtt.connect(urls[0]!, options);
    this.client = client;
    const current = () => (urls.length > 1 ? `${client.options.protocol}://${client.options.host}:${client.options.port}` : url);

    const firstOutcome = new Promise<Error | undefined>((resolve) => {
      client.once('connect', () => resolve(undefined));
      client.once('error', (err) => resolve(err));
      setTimeout(() => resolve(undefined), 3000).unref();
    });

    client.on('connect', () => {
      this.backoff.reset();
      log.info({ url: redactUrl(current()), clientId, pending: this.outbox.size }, 'connected to MQTT broker');
      client.publish(status, 'online', { qos: 1, retain: true });
      for (const listener of this.connectListeners) listener();
      if (this.subscriptions.size) client.subscribe([...this.subscriptions.keys()], { qos: 1 });
      this.pump();
    });
    client.on('message', (topic, payload) => this.route(topic, payload));
    client.on('close', () => {
      this.generation++;
      this.inFlight.clear();
      if (this.stopping) return;
      const delayMs = this.backoff.next();
      this.counts.reconnects++;
      log.warn(
        { url: redactUrl(current()), retryInMs: delayMs, pending: this.outbox.size, ...(urls.length > 1 ? { next: 'the next broker in MQTT_URL' } : {}) },
        'MQTT connection lost; telemetry is kept in the outbox',
      );
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

  /** Telemetry: queued in the outbox under `<prefix><name>`, sent in order, kept until acknowledged. */
  send(name: string, payload: unknown): void {
    // Every string that leaves the process passes the logs' redaction.
    this.outbox.add(this.topic(name), redactUrl(JSON.stringify(payload)), this.options.qos);
    this.counts.queued++;
    this.pump();
  }

  /**
   * Publishes at once when connected (retained state, discovery, snapshots, replies);
   * returns false, and sends nothing, when not connected. `topic` is a full topic.
   */
  publish(topic: string, payload: string | Buffer, options: PublishOptions = {}): boolean {
    const client = this.client;
    if (!client?.connected) return false;
    assertPublishTopic(topic);
    const contentType = options.contentType ?? (typeof payload === 'string' ? 'application/json' : undefined);
    client.publish(topic, typeof payload === 'string' ? redactUrl(payload) : payload, {
      qos: options.qos ?? 1,
      retain: options.retain ?? false,
      ...this.properties(contentType, false),
    });
    return true;
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
    if (this.outbox.size) this.options.log.warn({ pending: this.outbox.size }, 'MQTT not flushed in time: undelivered telemetry stays in the outbox for the next run');
    if (client.connected) {
      await Promise.race([client.publishAsync(this.topic('status'), 'stopped', { qos: 1, retain: true }).catch(() => {}), sleep(Math.max(200, deadline - Date.now()))]);
    }
    this.outbox.flush();
    this.unlock?.();
    await Promise.race([client.endAsync(!client.connected), sleep(1000)]);
  }

  /** MQTT 5 properties: the content type, and for telemetry the message expiry. */
  private properties(contentType: string | undefined, telemetry: boolean): { properties?: { contentType?: string; messageExpiryInterval?: number } } {
    if (this.options.protocolVersion !== 5) return {};
    const expiry = telemetry ? this.options.messageExpirySeconds : undefined;
    if (!contentType && !expiry) return {};
    return { properties: { ...(contentType ? { contentType } : {}), ...(expiry ? { messageExpiryInterval: expiry } : {}) } };
  }

  private route(topic: string, payload: Buffer): void {
    for (const [filter, handler] of this.subscriptions) {
      if (!matches(filter, topic)) continue;
      try {
        handler(topic, payload);
      } catch (err) {
        this.options.log.error({ err, topic }, 'MQTT message handler failed');
      }
    }
  }

  /** Sends the oldest unsent outbox messages while connected, up to WINDOW unacknowledged. */
  private pump(): void {
    const client = this.client;
    if (!client?.connected || this.stopping) return;
    const generation = this.generation;
    for (const m of this.outbox.peek(WINDOW)) {
      if (this.inFlight.has(m.seq)) continue;
      this.inFlight.add(m.seq);
      client.publishAsync(m.topic, m.payload, { qos: m.qos, ...this.properties('application/json', true) }).then(
        () => {
          this.outbox.ack(m.seq);
          this.inFlight.delete(m.seq);
          this.counts.sent++;
          this.options.onDelivered?.(m.topic, m.payload);
          if (!this.outbox.size) for (const resolve of this.idle.splice(0)) resolve();
          this.pump();
        },
        (err: Error & { code?: number }) => {
          // Only an MQTT 5 broker refuses a message (PUBACK reason 0x80 or more); any other error is the
          // connection's (a hung link's keepalive timeout, before its close): resent after reconnecting.
          if (generation !== this.generation || typeof err.code !== 'number' || err.code < 0x80) return;
          this.inFlight.delete(m.seq);
          this.outbox.ack(m.seq);
          this.counts.failed++;
          this.options.log.warn({ topic: m.topic, err: err.message }, 'broker rejected a message; dropped');
        },
      );
    }
  }
}

/** MQTT topic filter matching: `+` one level, `#` the rest. */
export function matches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length || (f[i] !== '+' && f[i] !== t[i])) return false;
  }
  return f.length === t.length;
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
