// Broker faults with a real mosquitto: an outage mid-run, and an agent restart while
// the broker is down. Every telemetry message the agent queued must reach an
// independent subscriber (persistent session, QoS 1), in order.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { classPayload } from '../../agent/mqtt/payloads.js';
import { freePort, MOSQUITTO, startMosquitto, subscribe, type Received } from '../helpers/net.js';
import { edgecam, httpBase, metric, sleep, until, untilAsync, type Run } from '../helpers/agent.js';

const skip = MOSQUITTO ? false : 'mosquitto is not installed';

interface MqttStats {
  queued: number;
  sent: number;
  pending: number;
  dropped: number;
}

function stoppedStats(run: Run): MqttStats {
  const stopped = run.lines().findLast((l) => l.msg === 'stopped');
  assert.ok(stopped, run.stdout().slice(-2000));
  return stopped.mqtt as MqttStats;
}

/** Every topic of telemetry, which goes through the outbox. */
const TELEMETRY = ['class', 'speedometer', 'track/#'];

/** Unique telemetry messages in arrival order (QoS 1 may repeat one; a repeat is not a loss). */
function unique(messages: Received[]): Received[] {
  const seen = new Set<string>();
  const key = (m: Received) => `${m.topic} ${m.payload}`;
  return messages.filter((m) => !seen.has(key(m)) && seen.add(key(m)));
}

const connects = (run: Run) => run.lines().filter((l) => l.msg === 'connected to MQTT broker').length;

describe('broker faults', { skip, timeout: 180_000 }, () => {
  test('broker stopped for 30 s mid-run: every message published meanwhile arrives after reconnect, in order', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'edgecam-fault-'));
    const port = await freePort();
    let broker = await startMosquitto({ port, persistenceDir: dir });
    const sub = await subscribe(broker.url, TELEMETRY, 10_000, 'fault-outage-subscriber');
    const run = edgecam([], { MQTT_URL: broker.url, RESTART_BACKOFF_MAX: '4', DETECT_THREADS: '1' });
    try {
      const base = await httpBase(run);
      await sub.waitFor((m) => unique(m).length >= 5, 30_000);
      await broker.stop();
      const outageStart = Date.now();
      await sleep(30_000);
      const beforeReconnect = unique(sub.messages).length;
      broker = await startMosquitto({ port, persistenceDir: dir });
      const outageEnd = Date.now();
      await until(() => connects(run) >= 2, 30_000, 'the agent to reconnect');
      // The outbox has drained once the broker has acknowledged everything queued during the outage.
      await untilAsync(async () => (await metric(base, 'edgecam_mqtt_outbox_messages')) === 0, 60_000, 'the outbox to drain');
      run.child.kill('SIGTERM');
      assert.equal((await run.exit).code, 0, run.stderr());
      const stats = stoppedStats(run);
      assert.equal(stats.pending, 0, 'the outbox drained');
      assert.equal(stats.dropped, 0);
      await sub.waitFor((m) => unique(m).length >= stats.queued, 20_000);
      assert.equal(unique(sub.messages).length, stats.queued, 'published = received');
      const received = unique(sub.messages)
        .filter((m) => m.topic === 'class')
        .map((m) => classPayload.parse(m.json()));
      for (let i = 1; i < received.length; i++) assert.ok(received[i]!.frame > received[i - 1]!.frame, `in order at ${i}`);
      const duringOutage = received.filter((p) => Date.parse(p.timestamp) > outageStart && Date.parse(p.timestamp) < outageEnd).length;
      assert.ok(duringOutage >= 30, `${duringOutage} messages were published during the outage`);
      t.diagnostic(
        `queued ${stats.queued}, received ${unique(sub.messages).length} unique (${sub.messages.length} with QoS 1 repeats; ${received.length} on class), ${duringOutage} published during the 30 s outage, ${beforeReconnect} received before it ended`,
      );
    } finally {
      run.child.kill('SIGKILL');
      await sub.close();
      await broker.stop();
    }
  });

  test('agent restarted while the broker is down: the queued messages still arrive once it is back', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'edgecam-fault-'));
    const cwd = mkdtempSync(join(tmpdir(), 'edgecam-fault-agent-'));
    const port = await freePort();
    let broker = await startMosquitto({ port, persistenceDir: dir });
    const sub = await subscribe(broker.url, TELEMETRY, 10_000, 'fault-restart-subscriber');
    const env = { MQTT_URL: broker.url, RESTART_BACKOFF_MAX: '2', DETECT_THREADS: '1' };
    let second: Run | undefined;
    try {
      const first = edgecam([], env, cwd);
      await sub.waitFor((m) => unique(m).length >= 3, 20_000);
      await broker.stop();
      await sleep(4000);
      const stopAt = Date.now();
      first.child.kill('SIGTERM');
      assert.equal((await first.exit).code, 0, first.stderr());
      assert.ok(Date.now() - stopAt < 10_000, 'stops within 10 s with the broker down');
      const s1 = stoppedStats(first);
      assert.ok(s1.pending > 0, `the first run left ${s1.pending} messages in the outbox`);

      second = edgecam([], env, cwd);
      await until(() => second!.lines().some((l) => l.msg === 'outbox: undelivered telemetry from the previous run will be sent first'), 15_000, 'the outbox to be restored');
      await sleep(3000);
      broker = await startMosquitto({ port, persistenceDir: dir });
      await until(() => connects(second!) >= 1, 15_000, 'the second run to connect');
      await sleep(2000);
      second.child.kill('SIGTERM');
      assert.equal((await second.exit).code, 0, second.stderr());
      const s2 = stoppedStats(second);
      assert.equal(s2.pending, 0);
      await sub.waitFor((m) => unique(m).length >= s1.queued + s2.queued, 20_000);
      assert.equal(unique(sub.messages).length, s1.queued + s2.queued, 'every message of both runs arrived');
      t.diagnostic(`run 1 queued ${s1.queued} (${s1.pending} undelivered at its stop), run 2 queued ${s2.queued}; received ${unique(sub.messages).length} unique`);
    } finally {
      second?.child.kill('SIGKILL');
      await sub.close();
      await broker.stop();
    }
  });
});
