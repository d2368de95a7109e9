// Remote commands in bulk: a storm of detect_fps changes must not stop detection, and
// every FFmpeg restart is counted; a paused agent is healthy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startEmbeddedBroker } from '../../agent/mqtt/broker.js';
import { memoryLogger } from '../helpers/log.js';
import { subscribe } from '../helpers/net.js';
import { edgecam, httpBase, metric, sleep, untilAsync } from '../helpers/agent.js';

test('1000 detect_fps commands in a few seconds: FFmpeg restarts at most once a second, all counted, the last value wins, frames keep flowing', { timeout: 90_000 }, async (t) => {
  const broker = await startEmbeddedBroker({ port: 0, host: '127.0.0.1', log: memoryLogger().log });
  const url = `mqtt://127.0.0.1:${broker.port}`;
  const run = edgecam([], { MQTT_URL: url, DETECT_THREADS: '1', SOURCE: 'lavfi:testsrc2=size=320x240:rate=15', MOTION_GATING: 'false' });
  const sub = await subscribe(url, ['set/result', 'state']);
  try {
    const base = await httpBase(run);
    await untilAsync(async () => ((await metric(base, 'edgecam_frames_in_total')) ?? 0) > 5, 30_000, 'frames');
    const before = (await metric(base, 'edgecam_ffmpeg_restarts_total'))!;
    const started = Date.now();
    for (let i = 0; i < 1000; i++) {
      await sub.client.publishAsync('set/detect_fps', i === 999 ? '3' : String(4 + (i % 2)));
      if (i % 50 === 49) await sleep(100); // about 2 s in all
    }
    await sub.waitFor((m) => m.filter((x) => x.topic === 'set/result').length >= 1000, 30_000);
    const stormSeconds = (Date.now() - started) / 1000;
    await sleep(1500); // the last restart, at most a second after the last command
    const restarts = (await metric(base, 'edgecam_ffmpeg_restarts_total'))! - before;
    assert.ok(restarts >= 1 && restarts <= Math.ceil(stormSeconds) + 2, `${restarts} restarts for a ${stormSeconds.toFixed(1)} s storm`);
    assert.equal(run.lines().filter((l) => l.msg === 'restarting ffmpeg with the new frame rate').length, restarts, 'every restart is counted');
    // Detection goes on, at the last rate.
    const frames = (await metric(base, 'edgecam_frames_in_total'))!;
    await untilAsync(async () => ((await metric(base, 'edgecam_frames_in_total')) ?? 0) >= frames + 6, 10_000, 'frames after the storm');
    assert.equal(
      run
        .lines()
        .filter((l) => l.msg === 'restarting ffmpeg with the new frame rate')
        .at(-1)!.fps,
      3,
    );
    t.diagnostic(`${restarts} FFmpeg restarts for 1000 commands in ${stormSeconds.toFixed(1)} s`);
  } finally {
    run.child.kill('SIGTERM');
    await run.exit;
    await sub.close();
    await broker.close();
  }
});

test('a paused agent is healthy: /healthz says paused and stays 200 without frames', { timeout: 60_000 }, async () => {
  const broker = await startEmbeddedBroker({ port: 0, host: '127.0.0.1', log: memoryLogger().log });
  const url = `mqtt://127.0.0.1:${broker.port}`;
  const run = edgecam([], { MQTT_URL: url, DETECT_THREADS: '1', SOURCE: 'lavfi:testsrc2=size=320x240:rate=15', MOTION_GATING: 'false' });
  const sub = await subscribe(url, ['set/result']);
  try {
    const base = await httpBase(run);
    await untilAsync(async () => (await fetch(`${base}/healthz`)).status === 200, 30_000, 'healthy');
    await sub.client.publishAsync('set/paused', 'true');
    await sub.waitFor((m) => m.length >= 1);
    // Longer than the 5 s after which a running agent without frames is unhealthy.
    await sleep(6500);
    const res = await fetch(`${base}/healthz`);
    const report = (await res.json()) as { paused: boolean; reasons: string[] };
    assert.equal(res.status, 200, JSON.stringify(report));
    assert.equal(report.paused, true);
  } finally {
    run.child.kill('SIGTERM');
    await run.exit;
    await sub.close();
    await broker.close();
  }
});
