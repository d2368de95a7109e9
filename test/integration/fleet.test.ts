// MQTT for fleets against a real mosquitto: TLS with a CA made by openssl at test time,
// websockets, MQTT 5 properties, Home Assistant discovery, remote commands, and
// mosquitto_sub as an independent client.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import sharp from 'sharp';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { z } from 'zod';
import { classPayload, statePayload, statusPayload, trackPayload } from '../../agent/mqtt/payloads.js';
import { freePort, hasBinary, MOSQUITTO, startMosquitto, subscribe, type Mosquitto } from '../helpers/net.js';
import { edgecam, sleep, until, type Run } from '../helpers/agent.js';

const skip = MOSQUITTO && hasBinary('openssl') ? false : 'mosquitto or openssl is not installed';
const dir = mkdtempSync(join(tmpdir(), 'edgecam-fleet-'));
chmodSync(dir, 0o755);

// HA's discovery schema, the fields it requires or uses to build the device.
const haEntity = z.object({
  name: z.string().min(1),
  unique_id: z.string().regex(/^[a-zA-Z0-9_-]+$/),
  state_topic: z.string().min(1),
  default_entity_id: z.string().regex(/^(sensor|binary_sensor|event)\.edgecam_front_[a-z0-9_]+$/),
  availability_topic: z.string().min(1),
  payload_available: z.literal('online'),
  payload_not_available: z.literal('offline'),
  device: z.object({ identifiers: z.array(z.string()).min(1), name: z.string(), manufacturer: z.string(), sw_version: z.string() }),
});

describe('fleet MQTT', { skip, timeout: 120_000 }, () => {
  let broker: Mosquitto;
  let tlsPort: number;
  let wsPort: number;
  let run: Run | undefined;

  before(async () => {
    // A CA and a server certificate for 127.0.0.1 signed by it; and a second, unrelated CA.
    const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
    for (const ca of ['ca', 'other-ca'])
      ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=edgecam test ${ca}`, '-keyout', `${ca}.key`, '-out', `${ca}.crt`);
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', 'server.key', '-out', 'server.csr');
    ssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-out', 'server.crt', '-extfile', 'san.ext');
    for (const f of ['ca.crt', 'other-ca.crt', 'server.crt', 'server.key']) chmodSync(join(dir, f), 0o644);
    tlsPort = await freePort();
    wsPort = await freePort();
    broker = await startMosquitto({
      extra: [
        `listener ${tlsPort} 127.0.0.1`,
        `cafile ${join(dir, 'ca.crt')}`,
        `certfile ${join(dir, 'server.crt')}`,
        `keyfile ${join(dir, 'server.key')}`,
        'allow_anonymous true',
        `listener ${wsPort} 127.0.0.1`,
        'protocol websockets',
        'allow_anonymous true',
      ],
    });
  });

  after(async () => {
    run?.child.kill('SIGKILL');
    await broker?.stop();
  });

  const agent = (env: Record<string, string>) => (run = edgecam([], { SOURCE: 'lavfi:testsrc2=size=320x240:rate=5', DETECT_THREADS: '1', MQTT_PROTOCOL_VERSION: '5', ...env }));
  const stop = async () => {
    run?.child.kill('SIGTERM');
    await run?.exit;
  };

  test('mqtts:// with the right CA connects; with another CA it is refused with exit 78', async () => {
    const sub = await subscribe(broker.url, ['edgecam/tls/status']);
    try {
      agent({ MQTT_URL: `mqtts://127.0.0.1:${tlsPort}`, MQTT_CA_FILE: join(dir, 'ca.crt'), TOPIC_PREFIX: 'edgecam/{device}/', DEVICE_ID: 'tls' });
      await sub.waitFor((m) => m.some((x) => x.payload === 'online'), 20_000);
      await stop();
      const wrong = edgecam([], {
        SOURCE: 'lavfi:testsrc2=size=320x240:rate=5',
        DETECT_THREADS: '1',
        MQTT_URL: `mqtts://127.0.0.1:${tlsPort}`,
        MQTT_CA_FILE: join(dir, 'other-ca.crt'),
      });
      assert.equal((await wrong.exit).code, 78, wrong.stderr());
      assert.match(wrong.stderr().trim(), /^edgecam: MQTT_URL=mqtts:\/\/127\.0\.0\.1:\d+: the broker's TLS certificate is not trusted .*; set MQTT_CA_FILE/);
    } finally {
      await sub.close();
    }
  });

  test("ws:// reaches the broker's websockets listener", async () => {
    const sub = await subscribe(broker.url, ['edgecam/ws/class']);
    try {
      agent({ MQTT_URL: `ws://127.0.0.1:${wsPort}`, TOPIC_PREFIX: 'edgecam/{device}/', DEVICE_ID: 'ws', SCORE_THRESHOLD: '0.01' });
      await sub.waitFor((m) => m.length >= 1, 20_000);
      classPayload.parse(sub.messages[0]!.json());
    } finally {
      await stop();
      await sub.close();
    }
  });

  test("MQTT 5: telemetry carries content type and message expiry; HA discovery is valid and re-sent on HA's birth; commands are applied or refused", async () => {
    const v5 = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
    const got: { topic: string; payload: string; properties?: mqtt.IPublishPacket['properties'] }[] = [];
    v5.on('message', (topic, payload, packet) => got.push({ topic, payload: payload.toString(), properties: packet.properties }));
    await v5.subscribeAsync(['edgecam/front/#', 'homeassistant/#']);
    const waitFor = (pred: () => boolean, what: string, ms = 20_000) => until(pred, ms, what);
    try {
      agent({
        MQTT_URL: broker.url,
        TOPIC_PREFIX: 'edgecam/{device}/',
        DEVICE_ID: 'front',
        HA_DISCOVERY: 'true',
        HA_CLASSES: 'person,traffic light',
        MQTT_MESSAGE_EXPIRY: '600',
        SCORE_THRESHOLD: '0.01',
      });
      await waitFor(() => got.some((m) => m.topic === 'edgecam/front/class'), 'class messages');
      const telemetry = got.find((m) => m.topic === 'edgecam/front/class')!;
      assert.equal(telemetry.properties?.contentType, 'application/json');
      assert.ok(telemetry.properties?.messageExpiryInterval && telemetry.properties.messageExpiryInterval <= 600);

      // Discovery: per class a count, a presence, an event entity and a device trigger; then last speed, fps, inference time, camera.
      // (Each payload's schema is checked in test/unit/homeassistant.test.ts.)
      const discovery = () => got.filter((m) => m.topic.startsWith('homeassistant/'));
      const COUNT = 2 * 4 + 4;
      await waitFor(() => discovery().length >= COUNT, 'discovery configs');
      const first = discovery().slice(0, COUNT);
      const entities = first.filter((m) => !m.topic.includes('/device_automation/'));
      for (const m of entities) {
        assert.match(m.topic, /^homeassistant\/(sensor|binary_sensor|event)\/edgecam_front\/[a-z0-9_]+\/config$/, m.topic);
        const entity = haEntity.parse(JSON.parse(m.payload));
        assert.equal(entity.availability_topic, 'edgecam/front/status');
        assert.match(entity.device.identifiers[0]!, /^edgecam_[0-9a-f]{6}_front$/);
      }
      assert.ok(first.some((m) => m.topic === 'homeassistant/binary_sensor/edgecam_front/traffic_light_present/config'));
      assert.ok(first.some((m) => m.topic === 'homeassistant/device_automation/edgecam_front/person_new_track/config'));
      assert.equal(new Set(entities.map((m) => (JSON.parse(m.payload) as { unique_id: string }).unique_id)).size, entities.length, 'unique ids');
      await v5.publishAsync('homeassistant/status', 'online');
      await waitFor(() => discovery().length >= 2 * COUNT, "discovery re-sent after HA's birth message");

      // Commands.
      const results = () => got.filter((m) => m.topic === 'edgecam/front/set/result').map((m) => JSON.parse(m.payload) as { setting: string; ok: boolean; error?: string });
      for (const [setting, payload] of [
        ['score_threshold', '0.95'],
        ['detect_fps', 'abc'],
        ['classes', 'person,unicorn'],
        ['shell', 'rm -rf /'],
        ['paused', 'true'],
      ]) {
        await v5.publishAsync(`edgecam/front/set/${setting}`, payload!);
      }
      await waitFor(() => results().length >= 5, 'command results');
      assert.deepEqual(
        results().map((r) => [r.setting, r.ok]),
        [
          ['score_threshold', true],
          ['detect_fps', false],
          ['classes', false],
          ['shell', false],
          ['paused', true],
        ],
      );
      assert.match(results()[2]!.error!, /unknown class "unicorn"/);
      assert.match(results()[3]!.error!, /unknown setting; known: score_threshold, detect_fps, classes, paused/);
      await waitFor(() => got.some((m) => m.topic === 'edgecam/front/state' && statePayload.parse(JSON.parse(m.payload)).paused), 'paused state');
      const classCount = got.filter((m) => m.topic === 'edgecam/front/class').length;
      await sleep(1500);
      assert.equal(got.filter((m) => m.topic === 'edgecam/front/class').length, classCount, 'no telemetry while paused');
      await v5.publishAsync('edgecam/front/set/paused', 'false');
      await waitFor(() => results().length >= 6, 'resume result');
    } finally {
      await stop();
      await v5.endAsync();
    }
  });

  test(
    'interop: mosquitto_sub sees the documented topics with the documented payloads',
    { skip: hasBinary('mosquitto_sub') ? false : 'mosquitto_sub is not installed' },
    async () => {
      const sub = spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(broker.port), '-v', '-t', 'edgecam/#', '-W', '20']);
      let out = '';
      sub.stdout.on('data', (d: Buffer) => (out += d.toString()));
      await sleep(300);
      agent({ MQTT_URL: broker.url, TOPIC_PREFIX: 'edgecam/{device}/', DEVICE_ID: 'interop', SCORE_THRESHOLD: '0.01', METERS_PER_PIXEL: '0.05' });
      try {
        await until(
          () => /^edgecam\/interop\/class /m.test(out) && /^edgecam\/interop\/state /m.test(out) && /^edgecam\/interop\/status /m.test(out),
          25_000,
          'topics on mosquitto_sub',
        );
      } finally {
        await stop();
        sub.kill();
      }
      // Retained messages of the other tests' devices come too; this device's are checked.
      for (const line of out.split('\n').filter((l) => l.startsWith('edgecam/interop/'))) {
        const [topic, ...rest] = line.split(' ');
        const payload = rest.join(' ');
        if (topic === 'edgecam/interop/class') classPayload.parse(JSON.parse(payload));
        else if (topic === 'edgecam/interop/state') statePayload.parse(JSON.parse(payload));
        else if (topic === 'edgecam/interop/status') statusPayload.parse(payload);
        else if (topic?.startsWith('edgecam/interop/track/')) trackPayload.parse(JSON.parse(payload));
        else if (topic !== 'edgecam/interop/speedometer') assert.fail(`undocumented topic ${topic}`);
      }
    },
  );
});

test(
  'snapshots: a new track of a configured class publishes a retained JPEG within SNAPSHOT_MAX_BYTES',
  { skip: MOSQUITTO ? false : 'mosquitto is not installed', timeout: 60_000 },
  async () => {
    const broker = await startMosquitto();
    const run = edgecam([], {
      MQTT_URL: broker.url,
      TOPIC_PREFIX: 'edgecam/{device}/',
      DEVICE_ID: 'snap',
      SNAPSHOT_CLASSES: 'car,person',
      SNAPSHOT_MAX_BYTES: '20000',
      SOURCE_REALTIME: 'false',
      DETECT_THREADS: '1',
    });
    const collect = async (topic: string) => {
      const client = await mqtt.connectAsync(broker.url);
      const got: { topic: string; payload: Buffer; retain: boolean }[] = [];
      client.on('message', (t, payload, packet) => got.push({ topic: t, payload, retain: packet.retain }));
      await client.subscribeAsync(topic);
      return { client, got };
    };
    try {
      const live = await collect('edgecam/snap/snapshot/+');
      await until(() => live.got.length >= 1, 30_000, 'a snapshot');
      await live.client.endAsync();
      const { topic, payload } = live.got[0]!;
      assert.match(topic, /^edgecam\/snap\/snapshot\/(car|person)$/);
      assert.deepEqual([...payload.subarray(0, 3)], [0xff, 0xd8, 0xff], 'a JPEG');
      assert.ok(
        live.got.every((m) => m.payload.length <= 20000),
        'within SNAPSHOT_MAX_BYTES',
      );
      // A subscriber that comes later still gets it: it is retained.
      const late = await collect(topic);
      await until(() => late.got.length >= 1, 10_000, 'the retained snapshot');
      assert.ok(late.got[0]!.retain);
      await late.client.endAsync();
    } finally {
      run.child.kill('SIGTERM');
      await run.exit;
      await broker.stop();
    }
  },
);

test(
  "snapshots at the camera's resolution (SNAPSHOT_SIZE=source) and fitted within a size; evidence photos fitted within EVIDENCE_SIZE",
  { skip: MOSQUITTO ? false : 'mosquitto is not installed', timeout: 90_000 },
  async () => {
    const sizes: Record<string, string> = {};
    for (const [size, evidence] of [
      ['source', 'source'],
      ['640x480', '480x480'],
    ] as const) {
      // A broker of its own: the other run's retained snapshots are not in it.
      const broker = await startMosquitto();
      try {
        const state = mkdtempSync(join(tmpdir(), 'edgecam-snapshot-size-'));
        const run = edgecam([], {
          MQTT_URL: broker.url,
          STATE_DIR: state,
          SNAPSHOT_CLASSES: 'car,person,dog,bicycle',
          SNAPSHOT_SIZE: size,
          SNAPSHOT_MAX_BYTES: '1000000',
          LINES: 'mid:480,540;480,0',
          EVIDENCE_CLASSES: 'car,person,dog,bicycle,sheep,horse,cow,cat',
          EVIDENCE_SIZE: evidence,
          SOURCE_LOOP: 'false',
          DETECT_THREADS: '1',
        });
        const client = await mqtt.connectAsync(broker.url);
        const got: Buffer[] = [];
        client.on('message', (_t, payload) => got.push(payload));
        await client.subscribeAsync('snapshot/+');
        try {
          assert.equal((await run.exit).code, 0, run.stderr());
          await until(() => got.length >= 1, 10_000, 'a snapshot');
          const meta = await Promise.all(got.map((p) => sharp(p).metadata()));
          sizes[`snapshot ${size}`] = [...new Set(meta.map((m) => `${m.width}x${m.height}`))].join(',');
          const photos = readdirSync(join(state, 'evidence'));
          assert.ok(photos.length >= 1);
          const photoMeta = await Promise.all(photos.map((f) => sharp(join(state, 'evidence', f)).metadata()));
          sizes[`evidence ${evidence}`] = [...new Set(photoMeta.map((m) => `${m.width}x${m.height}`))].join(',');
        } finally {
          await client.endAsync();
          run.child.kill('SIGKILL');
        }
      } finally {
        await broker.stop();
      }
    }
    // The bundled sample is 960x540: the source's size; within 640x480, 640x360 (the aspect kept); within 480x480, 480x270.
    assert.deepEqual(sizes, { 'snapshot source': '960x540', 'evidence source': '960x540', 'snapshot 640x480': '640x360', 'evidence 480x480': '480x270' });
  },
);
