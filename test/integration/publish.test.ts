// Publishing to real brokers on sockets: the embedded aedes and Debian's mosquitto.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startEmbeddedBroker } from '../../agent/mqtt/broker.js';
import { classPayload, statePayload } from '../../agent/mqtt/payloads.js';
import { UserError } from '../../agent/errors.js';
import { freePort, MOSQUITTO, startMosquitto, subscribe } from '../helpers/net.js';
import { memoryLogger } from '../helpers/log.js';
import { telemetryAgent } from '../helpers/publisher.js';
import type { Detection } from '../../agent/detect/index.js';

const person: Detection = { className: 'person', classId: 0, score: 0.8123, box: [10.04, 20, 110, 220.06] };
const dog: Detection = { className: 'dog', classId: 16, score: 0.5, box: [200, 200, 260, 250] };

const publisher = telemetryAgent;

async function exercise(url: string) {
  const sub = await subscribe(url, ['class', 'speedometer']);
  const pub = publisher(url);
  await pub.start();
  pub.publishFrame({ index: 0, pts: 0, detections: [] }); // empty scene at start: nothing to say
  pub.publishFrame({ index: 1, pts: 0.2, detections: [person, dog] });
  pub.publishFrame({ index: 2, pts: 0.4, detections: [person] });
  pub.publishFrame({ index: 3, pts: 0.6, detections: [] }); // the scene empties: said once
  pub.publishFrame({ index: 4, pts: 0.8, detections: [] });
  await pub.stop();
  await sub.waitFor((m) => m.length >= 3);
  await new Promise((r) => setTimeout(r, 200));
  await sub.close();
  return sub.messages;
}

function checkMessages(messages: { topic: string; json<T>(): T }[]) {
  assert.deepEqual(
    messages.map((m) => m.topic),
    ['class', 'class', 'class'],
  );
  const payloads = messages.map((m) => classPayload.parse(m.json()));
  assert.deepEqual(
    payloads.map((p) => p.class_name),
    [['person', 'dog'], ['person'], []],
  );
  assert.deepEqual(payloads[0]!.counts, { person: 1, dog: 1 });
  assert.deepEqual(payloads[0]!.detections[0], { class_name: 'person', score: 0.812, box: [10, 20, 110, 220.1] });
  assert.deepEqual(
    payloads.map((p) => p.frame),
    [1, 2, 3],
  );
  assert.ok(!Number.isNaN(Date.parse(payloads[0]!.timestamp)));
}

describe('embedded aedes broker', () => {
  test('publishes class messages that an independent client receives', async () => {
    const broker = await startEmbeddedBroker({ port: await freePort(), host: '127.0.0.1', log: memoryLogger().log });
    try {
      checkMessages(await exercise(`mqtt://127.0.0.1:${broker.port}`));
    } finally {
      await broker.close();
    }
  });

  test('a port already in use is a clear configuration error', async () => {
    const first = await startEmbeddedBroker({ port: 0, host: '127.0.0.1', log: memoryLogger().log });
    try {
      await assert.rejects(
        startEmbeddedBroker({ port: first.port, host: '127.0.0.1', log: memoryLogger().log }),
        (err: Error) => err instanceof UserError && /already in use .*set MQTT_URL=/.test(err.message),
      );
    } finally {
      await first.close();
    }
  });
});

describe('mosquitto', { skip: MOSQUITTO ? false : 'mosquitto is not installed' }, () => {
  test('publishes class messages that an independent client receives', async () => {
    const broker = await startMosquitto();
    try {
      checkMessages(await exercise(broker.url));
    } finally {
      await broker.stop();
    }
  });

  test('messages published while the broker is down are delivered when it comes up', { timeout: 30_000 }, async () => {
    const port = await freePort();
    const pub = publisher(`mqtt://127.0.0.1:${port}`);
    await pub.start();
    pub.publishFrame({ index: 7, pts: 1.4, detections: [dog] });
    await new Promise((r) => setTimeout(r, 300));
    const broker = await startMosquitto([`listener ${port} 127.0.0.1`]);
    const sub = await subscribe(broker.url, ['class']);
    try {
      const sub2 = await subscribe(`mqtt://127.0.0.1:${port}`, ['class']);
      await sub2.waitFor((m) => m.length >= 1, 15_000);
      assert.deepEqual(classPayload.parse(sub2.messages[0]!.json()).class_name, ['dog']);
      await sub2.close();
    } finally {
      await pub.stop();
      await sub.close();
      await broker.stop();
    }
  });
});

test('a topic prefix is prepended, and wildcards in it are refused', async () => {
  const broker = await startEmbeddedBroker({ port: 0, host: '127.0.0.1', log: memoryLogger().log });
  try {
    const url = `mqtt://127.0.0.1:${broker.port}`;
    const sub = await subscribe(url, ['cam/front/#']);
    const pub = publisher(url, 'cam/front/');
    await pub.start();
    pub.publishFrame({ index: 1, pts: 0, detections: [person] });
    await pub.stop();
    await sub.waitFor((m) => m.some((x) => x.topic === 'cam/front/class'));
    assert.deepEqual([...new Set(sub.messages.map((m) => m.topic))].sort(), ['cam/front/class', 'cam/front/state', 'cam/front/status']);
    await sub.close();
    await assert.rejects(publisher(url, 'cam/+/').start(), /refusing to publish to "cam\/\+\/class"/);
  } finally {
    await broker.close();
  }
});

test('availability: retained online while running, stopped after a clean stop; retained state has the latest counts', async () => {
  const broker = await startEmbeddedBroker({ port: 0, host: '127.0.0.1', log: memoryLogger().log });
  try {
    const url = `mqtt://127.0.0.1:${broker.port}`;
    const pub = publisher(url);
    await pub.start();
    pub.publishFrame({ index: 1, pts: 0, detections: [person, dog] });
    const late = await subscribe(url, ['status', 'state']);
    await late.waitFor((m) => m.some((x) => x.topic === 'status') && m.some((x) => x.topic === 'state' && Object.keys(x.json<{ counts: object }>().counts).length === 2));
    assert.equal(late.messages.find((m) => m.topic === 'status')!.payload, 'online', 'a late subscriber sees the retained status');
    await late.close();
    await pub.stop();
    const after = await subscribe(url, ['status', 'state']);
    await after.waitFor((m) => m.some((x) => x.topic === 'status') && m.some((x) => x.topic === 'state'));
    assert.equal(after.messages.find((m) => m.topic === 'status')!.payload, 'stopped');
    const state = statePayload.parse(after.messages.find((m) => m.topic === 'state')!.json());
    assert.equal(state.status, 'stopped');
    assert.deepEqual(state.counts, { person: 1, dog: 1 });
    await after.close();
  } finally {
    await broker.close();
  }
});

test('the retained state is sent when the counts change, not again for every frame with the same counts', async () => {
  const broker = await startEmbeddedBroker({ port: 0, host: '127.0.0.1', log: memoryLogger().log });
  const url = `mqtt://127.0.0.1:${broker.port}`;
  const pub = publisher(url);
  const sub = await subscribe(url, ['state', 'class']);
  try {
    await pub.start();
    await sub.waitFor((m) => m.some((x) => x.topic === 'state')); // sent on connect
    const before = sub.messages.length;
    for (let i = 1; i <= 20; i++) pub.publishFrame({ index: i, pts: i / 10, detections: i <= 10 ? [person, dog] : [person] });
    await sub.waitFor((m) => m.filter((x) => x.topic === 'class').length === 20);
    await new Promise((r) => setTimeout(r, 200));
    const counts = sub.messages
      .slice(before)
      .filter((m) => m.topic === 'state')
      .map((m) => statePayload.parse(m.json()).counts);
    assert.deepEqual(counts, [{ person: 1, dog: 1 }, { person: 1 }]);
  } finally {
    await sub.close();
    await pub.stop();
    await broker.close();
  }
});
