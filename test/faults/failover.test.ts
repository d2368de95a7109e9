// Two independent brokers in MQTT_URL: the agent publishes to the first; killed mid-run
// (SIGKILL, no goodbye), the agent moves to the second within 10 s, with its outbox: every
// telemetry message it queued reaches one broker or the other, those the first never
// acknowledged included. Loopback only, bounded waits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MOSQUITTO, startMosquitto, subscribe } from '../helpers/net.js';
import { edgecam, sleep } from '../helpers/agent.js';

const TELEMETRY = /^(class|speedometer|track\/)/;

test(
  'MQTT_URL with two brokers: the first killed mid-run, the agent publishes to the second within 10 s and loses nothing',
  { skip: MOSQUITTO ? false : 'mosquitto is not installed', timeout: 120_000 },
  async (t) => {
    const first = await startMosquitto();
    const second = await startMosquitto();
    const onFirst = await subscribe(first.url, ['#']);
    const onSecond = await subscribe(second.url, ['#']);
    const run = edgecam([], { MQTT_URL: `${first.url},${second.url}`, DETECT_THREADS: '1', RESTART_BACKOFF_MAX: '4' });
    try {
      await onFirst.waitFor((m) => m.filter((x) => x.topic === 'class').length >= 10, 60_000);
      assert.equal(onSecond.messages.filter((m) => TELEMETRY.test(m.topic)).length, 0, 'one broker at a time');
      first.process.kill('SIGKILL');
      const killedAt = Date.now();
      await onSecond.waitFor((m) => m.some((x) => x.topic === 'class'), 10_000);
      const moved = (Date.now() - killedAt) / 1000;
      await onSecond.waitFor((m) => m.some((x) => x.topic === 'status' && x.payload === 'online'), 5000);
      await sleep(2000);
      run.child.kill('SIGTERM');
      await run.exit;
      const stopped = run.lines().find((l) => l.msg === 'stopped') as { mqtt: { queued: number; sent: number; dropped: number } };
      const unique = new Set([...onFirst.messages, ...onSecond.messages].filter((m) => TELEMETRY.test(m.topic)).map((m) => `${m.topic} ${m.payload}`));
      const both = onFirst.messages.filter((m) => TELEMETRY.test(m.topic)).length + onSecond.messages.filter((m) => TELEMETRY.test(m.topic)).length;
      assert.equal(stopped.mqtt.dropped, 0);
      assert.equal(unique.size, stopped.mqtt.queued, `${stopped.mqtt.queued} queued, ${unique.size} received once or more`);
      assert.ok(
        run.lines().some((l) => l.msg === 'connected to MQTT broker' && String(l.url).endsWith(`:${second.port}`)),
        'the log names the broker it moved to',
      );
      t.diagnostic(
        `moved to the second broker ${moved.toFixed(1)} s after the first died; ${stopped.mqtt.queued} messages, ${both - unique.size} delivered twice (QoS 1 redeliveries)`,
      );
    } finally {
      run.child.kill('SIGKILL');
      // Its broker is gone: the client is ended without waiting for a goodbye.
      onFirst.client.end(true);
      await onSecond.close();
      await first.stop();
      await second.stop();
    }
  },
);
