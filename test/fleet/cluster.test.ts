// A fleet on a clustered broker, end to end, with real parts only: three NATS nodes
// (JetStream, MQTT 3.1.1) from Debian, three agents on the bundled sample with a counting
// line, each given the three nodes in MQTT_URL, and a consumer with a persistent QoS 1
// session inserting every crossing into PostgreSQL keyed on its event_id. During the run
// the node the agents are on is killed (SIGKILL) and brought back 20 s later; then one
// agent's uplink is cut for 60 s (it runs in a network namespace of the test's own whose
// link is taken down: its packets are dropped and its connection hangs, as across a cut
// WAN). At the end the database must hold exactly the crossings each agent's line totals
// count: none lost, none twice. Loopback and the test's own namespace only; every wait
// is bounded. Run by `npm run test:fleet` (its own CI step).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import pg from 'pg';
import { canMakeNamespaces, NATS, natsCluster, PG_BIN, postgres, uplink } from '../helpers/fleet.js';
import { sleep, until } from '../helpers/agent.js';
import { CLI } from '../helpers/paths.js';
import { linePayload } from '../../agent/mqtt/payloads.js';

const skip = !NATS ? 'nats-server is not installed' : !PG_BIN ? 'postgresql is not installed' : !canMakeNamespaces() ? 'cannot make network namespaces here (needs root)' : false;

interface Agent {
  device: string;
  state: string;
  child: ChildProcess;
  out: () => Record<string, unknown>[];
  exit: Promise<unknown>;
}

test('a fleet on a three-node cluster: a node killed and back, an uplink cut for 60 s; every crossing in the database exactly once', { skip, timeout: 600_000 }, async (t) => {
  const link = uplink('fleet', 7);
  const cluster = await natsCluster(link.host);
  const server = await postgres();
  const db = new pg.Client({ host: server.socketDir, port: server.port, user: 'postgres', database: 'postgres' });
  const agents: Agent[] = [];
  const servers = cluster.nodes.map((n) => ({ host: link.host, port: n.mqttPort, protocol: 'mqtt' as const }));
  // The consumer: a persistent session (clean: false), moving round the nodes as the agents do.
  const consumer = mqtt.connect({ servers, clientId: 'fleet-consumer', clean: false, protocolVersion: 4, reconnectPeriod: 500, connectTimeout: 3000 });
  t.after(async () => {
    for (const a of agents) a.child.kill('SIGKILL');
    consumer.end(true);
    await db.end().catch(() => {});
    server.stop();
    await cluster.stop();
    link.remove();
  });
  await db.connect();
  await db.query(
    'CREATE TABLE crossings (event_id text PRIMARY KEY, device text NOT NULL, line text NOT NULL, direction text NOT NULL, class_name text NOT NULL, time timestamptz NOT NULL)',
  );

  let received = 0;
  let redeliveries = 0;
  let inserting = Promise.resolve();
  consumer.on('connect', (ack) => {
    if (!ack.sessionPresent) consumer.subscribe('edgecam/+/line/+', { qos: 1 });
  });
  consumer.on('message', (topic, payload) => {
    if (topic.endsWith('/totals')) return;
    const device = topic.split('/')[1]!;
    const c = linePayload.parse(JSON.parse(payload.toString()));
    received++;
    inserting = inserting.then(async () => {
      const r = await db.query('INSERT INTO crossings VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (event_id) DO NOTHING', [
        c.event_id,
        device,
        c.line,
        c.direction,
        c.class_name,
        c.timestamp,
      ]);
      if (r.rowCount === 0) redeliveries++;
    });
  });
  await until(() => consumer.connected, 30_000, 'the consumer');
  await sleep(1000);

  const mqttUrl = cluster.nodes.map((n) => `mqtt://${link.host}:${n.mqttPort}`).join(',');
  const start = (i: number, ns?: string): Agent => {
    const device = `fleet-${i}`;
    const state = mkdtempSync(join(tmpdir(), `edgecam-${device}-`));
    const env = {
      PATH: process.env.PATH!,
      MQTT_URL: mqttUrl,
      DEVICE_ID: device,
      TOPIC_PREFIX: 'edgecam/{device}/',
      STATE_DIR: state,
      LINES: 'middle:480,520;480,60',
      DETECT_THREADS: '1',
      HTTP_ENABLED: 'false',
      HISTORY_DAYS: '0',
      RESTART_BACKOFF_MAX: '4',
      MQTT_PROTOCOL_VERSION: '4',
    };
    const child = ns
      ? spawn('ip', ['netns', 'exec', ns, process.execPath, CLI], { env, stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(process.execPath, [CLI], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout!.on('data', (d: Buffer) => (text += d.toString()));
    child.stderr!.on('data', () => {});
    const exit = new Promise((r) => child.once('exit', r));
    const out = () =>
      text
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    return { device, state, child, out, exit };
  };
  agents.push(start(1), start(2), start(3, link.ns));
  const began = Date.now();
  const crossingsOf = async (device: string) => Number((await db.query('SELECT count(*) AS n FROM crossings WHERE device = $1', [device])).rows[0].n);
  const connectedTo = (a: Agent) =>
    a
      .out()
      .filter((l) => l.msg === 'connected to MQTT broker')
      .map((l) => Number(String(l.url).split(':').at(-1)));
  for (const a of agents) await until(() => connectedTo(a).length > 0, 60_000, `${a.device} connected`);
  for (let deadline = Date.now() + 90_000; ;) {
    if ((await Promise.all(agents.map((a) => crossingsOf(a.device)))).every((n) => n > 0)) break;
    assert.ok(Date.now() < deadline, 'every agent counted a crossing within 90 s');
    await sleep(1000);
  }

  // The node the agents are on dies without a goodbye, and is back 20 s later.
  const first = cluster.nodes[0]!;
  assert.ok(
    agents.every((a) => connectedTo(a)[0] === first.mqttPort),
    'the agents start on the first node',
  );
  await first.kill();
  const killedAt = Date.now();
  for (const a of agents) await until(() => connectedTo(a).length >= 2, 30_000, `${a.device} on another node`);
  const moved = (Date.now() - killedAt) / 1000;
  await sleep(Math.max(0, 20_000 - (Date.now() - killedAt)));
  await first.start();

  // One agent's uplink cut for 60 s: its connection hangs, then it comes back on its own.
  await sleep(5000);
  const cutAgent = agents[2]!;
  const before = connectedTo(cutAgent).length;
  link.cut();
  await sleep(60_000);
  link.restore();
  await until(() => connectedTo(cutAgent).length > before, 90_000, `${cutAgent.device} reconnected after the cut`);
  await sleep(5000);

  // A clean stop: each agent's outbox drains into the cluster.
  for (const a of agents) a.child.kill('SIGTERM');
  await Promise.all(agents.map((a) => a.exit));
  const seconds = (Date.now() - began) / 1000;
  const totals = agents.map((a) => {
    const kept = JSON.parse(readFileSync(join(a.state, 'line-totals.json'), 'utf8')) as { lines: Record<string, Record<string, Record<string, number>>> };
    return Object.values(kept.lines.middle ?? {})
      .flatMap((byClass) => Object.values(byClass))
      .reduce((x, y) => x + y, 0);
  });
  for (let deadline = Date.now() + 60_000; ;) {
    await inserting;
    const rows = await Promise.all(agents.map((a) => crossingsOf(a.device)));
    if (rows.every((n, i) => n >= totals[i]!) || Date.now() > deadline) break;
    await sleep(1000);
  }
  // Anything late, a redelivery included, would arrive now.
  await sleep(3000);
  await inserting;
  const rows = await Promise.all(agents.map((a) => crossingsOf(a.device)));
  const stops = agents.map((a) => JSON.stringify(a.out().find((l) => l.msg === 'stopped')?.mqtt));
  const cutLog = cutAgent
    .out()
    .filter((l) => /MQTT|outbox|broker/.test(String(l.msg)))
    .map((l) => [l.time, l.msg, l.url, l.pending].map((v) => JSON.stringify(v ?? '')).join(' '));
  assert.deepEqual(
    rows,
    totals,
    `crossings in the database per agent ${rows.join(', ')}; counted by the agents ${totals.join(', ')}; stops ${stops.join(' ')}\n${cutLog.join('\n')}`,
  );
  const sent = agents.map((a) => (a.out().find((l) => l.msg === 'stopped') as { mqtt?: { sent: number } } | undefined)?.mqtt?.sent ?? 0);
  const perSecond = sent.reduce((x, y) => x + y, 0) / seconds;
  t.diagnostic(
    `crossings ${totals.join(' + ')} = ${totals.reduce((x, y) => x + y, 0)}, all in the database once; ${received} messages received, ${redeliveries} redeliveries absorbed by event_id; ` +
      `agents moved to another node ${moved.toFixed(1)} s after theirs died; the cluster held ${perSecond.toFixed(1)} messages/s from three agents over ${seconds.toFixed(0)} s`,
  );
});
