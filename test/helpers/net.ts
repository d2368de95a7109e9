// Test helpers for sockets and brokers: free ports, a real mosquitto, MQTT subscribers.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';

import { freePort } from '../../scripts/net.js';

export { freePort };

export const hasBinary = (name: string) => spawnSync('sh', ['-c', `command -v ${name}`]).status === 0;

/** A test's skip option for the system tools it runs: false when all are here, else the reason. */
export const needs = (...tools: string[]): false | string => {
  const missing = tools.filter((t) => !hasBinary(t));
  return missing.length ? `${missing.join(', ')} not installed` : false;
};
export const MOSQUITTO = ['/usr/sbin/mosquitto', 'mosquitto'].find((b) => (b.startsWith('/') ? spawnSync('test', ['-x', b]).status === 0 : hasBinary(b)));

export interface Mosquitto {
  port: number;
  url: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

export interface MosquittoOptions {
  /** Fixed port (to restart a broker where clients expect it); default a free one. */
  port?: number;
  /** Keep sessions and queued messages across restarts in this directory. */
  persistenceDir?: string;
  /** Extra mosquitto.conf lines. */
  extra?: string[];
  /** Replaces `allow_anonymous true`. */
  auth?: string[];
}

/** Starts Debian's mosquitto on a loopback port. */
export async function startMosquitto(opts: MosquittoOptions | string[] = {}): Promise<Mosquitto> {
  if (!MOSQUITTO) throw new Error('mosquitto is not installed');
  const o: MosquittoOptions = Array.isArray(opts) ? { extra: opts } : opts;
  const port = o.port ?? (await freePort());
  const dir = o.persistenceDir ?? mkdtempSync(join(tmpdir(), 'edgecam-mosquitto-'));
  // Started as root, mosquitto drops to its own user: it must be able to write here.
  chmodSync(dir, 0o777);
  const conf = join(dir, 'mosquitto.conf');
  const persistence = o.persistenceDir ? ['persistence true', `persistence_location ${dir}/`, 'max_queued_messages 0', 'max_inflight_messages 0'] : ['persistence false'];
  writeFileSync(conf, [`listener ${port} 127.0.0.1`, ...(o.auth ?? ['allow_anonymous true']), ...persistence, ...(o.extra ?? []), ''].join('\n'));
  const proc = spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const url = `mqtt://127.0.0.1:${port}`;
  // Ready when a client can connect (bounded: 50 tries, 100 ms apart).
  for (let i = 0; ; i++) {
    try {
      const c = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 500 });
      await c.endAsync();
      break;
    } catch (err) {
      // Not authorised means it is up (a broker with a password file).
      if (/authori|password/i.test((err as Error).message)) break;
      if (i >= 50 || proc.exitCode !== null) throw new Error(`mosquitto did not start: ${stderr || (err as Error).message}`, { cause: err });
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    port,
    url,
    process: proc,
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
  };
}

export interface Received {
  topic: string;
  payload: string;
  json<T = unknown>(): T;
}

export interface Subscriber {
  client: MqttClient;
  messages: Received[];
  /** Resolves once `predicate` holds for the received messages; rejects after `timeoutMs`. */
  waitFor(predicate: (messages: Received[]) => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * Connects (retrying up to `retryMs`, for brokers that are still starting) and subscribes.
 * With `persistentId`, the session survives disconnects and broker restarts (clean: false,
 * QoS 1), and the client keeps reconnecting: nothing published meanwhile is missed.
 */
export async function subscribe(url: string, topics: string[], retryMs = 10_000, persistentId?: string): Promise<Subscriber> {
  const deadline = Date.now() + retryMs;
  let client: MqttClient;
  for (;;) {
    try {
      client = await mqtt.connectAsync(
        url,
        persistentId ? { clientId: persistentId, clean: false, reconnectPeriod: 200, connectTimeout: 1000 } : { reconnectPeriod: 0, connectTimeout: 1000 },
      );
      break;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const messages: Received[] = [];
  const waiters = new Set<() => void>();
  client.on('message', (topic, payload) => {
    const text = payload.toString();
    messages.push({ topic, payload: text, json: <T>() => JSON.parse(text) as T });
    for (const w of waiters) w();
  });
  await client.subscribeAsync(topics, { qos: 1 });
  return {
    client,
    messages,
    waitFor: (predicate, timeoutMs = 10_000) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (!predicate(messages)) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out after ${timeoutMs} ms with ${messages.length} messages`));
        }, timeoutMs);
        waiters.add(check);
        check();
      }),
    close: () => client.endAsync(true),
  };
}
