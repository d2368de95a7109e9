// A full disk under STATE_DIR: a real tmpfs of 256 KiB, filled up while the broker is
// down. The agent must keep running, keep the telemetry and the history in memory, say so
// once for each, return to disk when space comes back, and deliver everything once the
// broker is up; the history then holds every crossing that was sent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, MOSQUITTO, startMosquitto, subscribe } from '../helpers/net.js';
import { edgecam, httpBase, metric, until, untilAsync } from '../helpers/agent.js';
import { CLI } from '../helpers/paths.js';

const dir = mkdtempSync(join(tmpdir(), 'edgecam-full-'));
const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', dir]).status === 0;
const skip = !mounted ? 'cannot mount a tmpfs here (needs root)' : MOSQUITTO ? false : 'mosquitto is not installed';

test('disk full under STATE_DIR: no crash, telemetry and history kept in memory, delivered and recorded when space returns', { skip, timeout: 120_000 }, async (t) => {
  t.after(() => void spawnSync('umount', [dir]));
  mkdirSync(join(dir, 'state'));
  const filler = join(dir, 'filler');
  // Fill the file system to the last block.
  const chunk = Buffer.alloc(4096);
  for (let i = 0, written = Buffer.alloc(0); i < 1000; i++) {
    try {
      written = Buffer.concat([written, chunk]);
      writeFileSync(filler, written);
    } catch {
      break;
    }
  }
  const port = await freePort();
  const run = edgecam([], {
    MQTT_URL: `mqtt://127.0.0.1:${port}`,
    STATE_DIR: join(dir, 'state'),
    RESTART_BACKOFF_MAX: '2',
    DETECT_THREADS: '1',
    // The bundled sample's objects cross it every few seconds.
    LINES: 'mid:480,540;480,0',
  });
  let broker: Awaited<ReturnType<typeof startMosquitto>> | undefined;
  let totalsSub: Awaited<ReturnType<typeof subscribe>> | undefined;
  try {
    const base = await httpBase(run, 30_000);
    const diskWarnings = () => run.lines().filter((l) => l.msg?.toString().startsWith('outbox: cannot write to disk'));
    await until(() => diskWarnings().length > 0, 30_000, 'the outbox to report the full disk');
    await untilAsync(async () => ((await metric(base, 'edgecam_mqtt_outbox_messages')) ?? 0) >= 20, 30_000, 'telemetry to queue in memory');
    const historyWarnings = () => run.lines().filter((l) => l.msg === 'history: cannot write to disk; rows are kept in memory until it works again');
    await until(() => historyWarnings().length > 0, 30_000, 'the history to meet the full disk');
    await untilAsync(async () => ((await metric(base, 'edgecam_history_rows_waiting')) ?? 0) >= 1, 30_000, 'a crossing to wait in memory for the history');
    assert.equal(diskWarnings().length, 1, 'one warning, not one per message');
    assert.equal(historyWarnings().length, 1, 'one history warning, not one per flush');
    assert.equal(run.child.exitCode, null, 'the agent is running');

    rmSync(filler);
    await until(() => run.lines().some((l) => l.msg === 'outbox: written to disk again'), 30_000, 'the outbox to return to disk');
    await until(() => run.lines().some((l) => l.msg === 'history: written to disk again'), 30_000, 'the history to return to disk');

    broker = await startMosquitto({ port });
    totalsSub = await subscribe(`mqtt://127.0.0.1:${port}`, ['line/mid/totals']);
    await untilAsync(async () => (await metric(base, 'edgecam_mqtt_outbox_messages')) === 0, 60_000, 'the outbox to drain');
    run.child.kill('SIGTERM');
    assert.equal((await run.exit).code, 0, run.stderr());
    const stopped = run.lines().findLast((l) => l.msg === 'stopped') as { mqtt: { queued: number; sent: number; dropped: number } };
    assert.equal(stopped.mqtt.dropped, 0);
    assert.equal(stopped.mqtt.sent, stopped.mqtt.queued, 'every message queued was acknowledged by the broker');
    assert.ok(!run.lines().some((l) => l.level === 'fatal' || l.msg === 'event listener failed'), 'no crash, no failing listener');
    // The line's running total (retained, so a late subscriber has it) against the crossings recorded.
    const recorded = spawnSync(process.execPath, [CLI, 'export', 'crossings', '--format', 'json'], {
      env: { PATH: process.env.PATH!, STATE_DIR: join(dir, 'state') },
      encoding: 'utf8',
    });
    const rows = JSON.parse(recorded.stdout) as unknown[];
    const counted = () => {
      const totals = totalsSub!.messages.at(-1)?.json<{ directions: Record<string, { total: number }> }>();
      return totals ? Object.values(totals.directions).reduce((a, d) => a + d.total, 0) : 0;
    };
    await until(() => counted() === rows.length, 5000, `the history's ${rows.length} crossings to be the line's total (${counted()})`);
    assert.ok(rows.length >= 1, 'crossings were counted');
    t.diagnostic(`queued ${stopped.mqtt.queued}, sent ${stopped.mqtt.sent}, dropped ${stopped.mqtt.dropped}; crossings recorded ${rows.length}`);
  } finally {
    run.child.kill('SIGKILL');
    await totalsSub?.close();
    await broker?.stop();
  }
});

test('two agents on one STATE_DIR: the second exits 78 naming the first; a lock left by a killed agent is taken over', { timeout: 60_000 }, async () => {
  const state = mkdtempSync(join(tmpdir(), 'edgecam-shared-state-'));
  const env = { STATE_DIR: state, MQTT_EMBEDDED_PORT: '0', DETECT_THREADS: '1', SOURCE: 'lavfi:testsrc2=size=320x240:rate=5' };
  const first = edgecam([], env);
  try {
    await until(() => first.lines().some((l) => l.msg === 'connected to MQTT broker'), 30_000, 'the first agent');
    const second = edgecam([], env);
    const { code } = await second.exit;
    assert.equal(code, 78, second.stderr());
    assert.equal(
      second.stderr().trim(),
      `edgecam: STATE_DIR=${state}: in use by another edgecam (pid ${first.child.pid}); give each agent its own STATE_DIR, or stop the other one`,
    );
    first.child.kill('SIGKILL');
    await first.exit;
    const third = edgecam([], { ...env, SOURCE: 'lavfi:testsrc2=size=320x240:rate=5:duration=1' });
    assert.equal((await third.exit).code, 0, third.stderr());
  } finally {
    first.child.kill('SIGKILL');
  }
});

test('a damaged outbox: the valid records are delivered once, the bad ones skipped and counted, nothing loops', { timeout: 60_000 }, async () => {
  const state = mkdtempSync(join(tmpdir(), 'edgecam-damaged-state-'));
  const record = (seq: number, frame: number) => JSON.stringify({ seq, topic: 'class', payload: JSON.stringify({ class_name: ['person'], frame }), qos: 1 });
  writeFileSync(join(state, 'outbox.jsonl'), [record(1, 1001), 'null', '{}', '{"seq":"x"}', '\u0000\u00ff', record(2, 1002), ''].join('\n'));
  writeFileSync(join(state, 'outbox.ack'), 'not a number');
  const port = await freePort();
  const run = edgecam([], { STATE_DIR: state, MQTT_EMBEDDED_PORT: String(port), SOURCE: 'lavfi:testsrc2=size=320x240:rate=5:duration=3', DETECT_THREADS: '1' });
  const sub = await subscribe(`mqtt://127.0.0.1:${port}`, ['class'], 30_000);
  try {
    assert.equal((await run.exit).code, 0, run.stderr());
    const skipped = run.lines().find((l) => l.msg === 'outbox: damaged records in the log were skipped');
    assert.equal(skipped?.skipped, 4);
    const stopped = run.lines().findLast((l) => l.msg === 'stopped') as { mqtt: { sent: number; queued: number } };
    assert.equal(stopped.mqtt.sent, stopped.mqtt.queued + 2, 'the two restored records and every new message, each sent once');
    const restoredFrames = sub.messages.map((m) => (JSON.parse(m.payload) as { frame: number }).frame).filter((f) => f > 1000);
    assert.ok(restoredFrames.length <= 2, `restored records received ${restoredFrames.length} times`);
  } finally {
    run.child.kill('SIGKILL');
    await sub.close();
  }
});
