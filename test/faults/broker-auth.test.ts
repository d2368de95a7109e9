// The embedded broker: anyone may read, only the agent and trusted clients may publish,
// and nobody may take the agent's client id.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import { freePort, subscribe } from '../helpers/net.js';
import { edgecam, sleep, until } from '../helpers/agent.js';

test('embedded broker: anonymous clients read but cannot publish, command or kick the agent; trusted credentials can command', { timeout: 90_000 }, async () => {
  const port = await freePort();
  const url = `mqtt://127.0.0.1:${port}`;
  const run = edgecam([], {
    MQTT_EMBEDDED_PORT: String(port),
    MQTT_CLIENT_ID: 'edgecam-front',
    MQTT_EMBEDDED_USERNAME: 'homeassistant',
    MQTT_EMBEDDED_PASSWORD: 'ha-secret-77',
    SOURCE: 'lavfi:testsrc2=size=320x240:rate=5',
    MOTION_GATING: 'false',
    DETECT_THREADS: '1',
  });
  const reader = await subscribe(url, ['#'], 30_000);
  try {
    await reader.waitFor((m) => m.some((x) => x.topic === 'status' && x.payload === 'online'), 30_000);
    // Anonymous: fake telemetry, a command, an overwritten status and a 1 MB retained message go nowhere.
    const anon = await mqtt.connectAsync(url, { reconnectPeriod: 0 });
    for (const [topic, payload, retain] of [
      ['class', '{"class_name":["fake"]}', false],
      ['set/paused', 'true', false],
      ['status', 'offline', true],
      ['junk', 'x'.repeat(1 << 20), true],
    ] as const) {
      await anon.publishAsync(topic, payload, { qos: 0, retain }).catch(() => {});
    }
    await sleep(1500);
    assert.ok(!reader.messages.some((m) => m.payload.includes('fake') || m.topic === 'set/paused' || m.topic === 'junk'), 'nothing an anonymous client published was delivered');
    assert.ok(!reader.messages.some((m) => m.topic === 'status' && m.payload === 'offline'));
    assert.ok(!run.lines().some((l) => l.msg === 'remote command applied'));
    await anon.endAsync();

    // The agent's client id cannot be taken: the intruder is refused and the agent stays connected.
    await assert.rejects(mqtt.connectAsync(url, { clientId: 'edgecam-front', reconnectPeriod: 0 }), /Identifier rejected|identifier/i);
    await assert.rejects(mqtt.connectAsync(url, { username: 'edgecam-agent', password: 'guess', reconnectPeriod: 0 }), /user ?name or password/i);
    await sleep(1000);
    assert.equal(run.lines().filter((l) => l.msg === 'MQTT connection lost; telemetry is kept in the outbox').length, 0, 'the agent was never kicked off');

    // Trusted credentials command the agent.
    const ha = await mqtt.connectAsync(url, { username: 'homeassistant', password: 'ha-secret-77', reconnectPeriod: 0 });
    await ha.publishAsync('set/paused', 'true', { qos: 1 });
    await until(() => run.lines().some((l) => l.msg === 'remote command applied' && l.setting === 'paused'), 10_000, 'the command');
    await ha.endAsync();
  } finally {
    run.child.kill('SIGTERM');
    await run.exit;
    await reader.close();
  }
});
