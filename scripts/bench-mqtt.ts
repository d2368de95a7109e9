// `npm run bench:mqtt [-- --seconds N --json PATH --url URL]`: the telemetry rate one
// agent's publisher sustains into a local mosquitto (started here on a free loopback
// port), or into the broker at URL (a cluster's node on this machine, say), through the
// outbox on disk as in production, with QoS 0 and QoS 1.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createLogger } from '../agent/log.js';
import { MqttTransport } from '../agent/mqtt/transport.js';
import { classPayloadOf } from '../agent/telemetry/index.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '10' }, json: { type: 'string' }, url: { type: 'string' } } });
const seconds = Number(values.seconds);
const port = await new Promise<number>((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const p = (s.address() as { port: number }).port;
    s.close(() => resolve(p));
  });
});
const dir = mkdtempSync(join(tmpdir(), 'edgecam-bench-mqtt-'));
writeFileSync(join(dir, 'mosquitto.conf'), `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\n`);
const broker = values.url ? undefined : spawn('mosquitto', ['-c', join(dir, 'mosquitto.conf')], { stdio: 'ignore' });
await new Promise((r) => setTimeout(r, 500));
const log = createLogger({ level: 'error', pretty: false });

// A typical class message: two objects.
const sample = classPayloadOf({
  index: 1,
  pts: 0.2,
  detections: [
    { className: 'person', classId: 0, score: 0.81, box: [651.2, 167.4, 743, 421.3], trackId: 8 },
    { className: 'car', classId: 2, score: 0.62, box: [120, 300, 420, 410], trackId: 9 },
  ],
});
const bytes = JSON.stringify(sample).length;

const rows: { qos: number; messagesPerSecond: number; bytesPerSecond: number; payloadBytes: number }[] = [];
for (const qos of [0, 1] as const) {
  mkdirSync(join(dir, `state-${qos}`));
  const publisher = new MqttTransport({
    url: values.url ?? `mqtt://127.0.0.1:${port}`,
    clientId: `bench-${qos}`,
    qos,
    topicPrefix: 'bench/',
    stateDir: join(dir, `state-${qos}`),
    log,
    flushTimeoutMs: 10_000,
  });
  await publisher.start();
  const started = Date.now();
  // Keep the outbox fed, never more than 2,000 ahead of the broker.
  await new Promise<void>((resolve) => {
    const feed = () => {
      if (Date.now() - started >= seconds * 1000) return resolve();
      for (let i = 0; i < 200 && publisher.stats.pending < 2000; i++) publisher.send('class', sample);
      setImmediate(feed);
    };
    feed();
  });
  const sent = publisher.stats.sent;
  const elapsed = (Date.now() - started) / 1000;
  await publisher.stop();
  rows.push({ qos, messagesPerSecond: Math.round(sent / elapsed), bytesPerSecond: Math.round((sent * bytes) / elapsed), payloadBytes: bytes });
}
broker?.kill();
console.log('| QoS | messages/s | payload bytes/s | payload size |\n| --- | --- | --- | --- |');
for (const r of rows) console.log(`| ${r.qos} | ${r.messagesPerSecond} | ${r.bytesPerSecond} | ${r.payloadBytes} B |`);
if (values.json) writeFileSync(values.json, JSON.stringify(rows, null, 2));
process.exit(0);
