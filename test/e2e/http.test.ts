// The agent's HTTP server without the viewer: /healthz and /metrics are still served,
// the page and the video are not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startEmbeddedBroker } from '../../agent/mqtt/broker.js';
import { freePort } from '../helpers/net.js';
import { memoryLogger } from '../helpers/log.js';
import { edgecam, until } from '../helpers/agent.js';

test('VIEWER_ENABLED=false: /healthz and /metrics are served, the page and the video are not', { timeout: 60_000 }, async () => {
  const broker = await startEmbeddedBroker({ port: 0, host: '127.0.0.1', log: memoryLogger().log });
  const port = await freePort();
  const run = edgecam([], { VIEWER_ENABLED: 'false', HTTP_PORT: String(port), HTTP_BIND: '127.0.0.1', MQTT_URL: `mqtt://127.0.0.1:${broker.port}`, DETECT_THREADS: '1' });
  const base = `http://127.0.0.1:${port}`;
  try {
    await until(() => run.lines().some((l) => l.msg === 'HTTP server listening'), 30_000, 'the HTTP server');
    let health: { ok: boolean; fps: number } | undefined;
    await until(
      () => {
        void fetch(`${base}/healthz`)
          .then(async (r) => (health = (await r.json()) as { ok: boolean; fps: number }))
          .catch(() => {});
        return health?.ok === true && health.fps > 0;
      },
      30_000,
      '/healthz to report healthy',
    );
    assert.ok(health!.fps > 0);
    const metrics = await fetch(`${base}/metrics`);
    assert.equal(metrics.status, 200);
    assert.match(await metrics.text(), /^edgecam_frames_in_total [1-9]\d*$/m);
    for (const path of ['/', '/stream.mjpeg', '/snapshot.jpg', '/events']) assert.equal((await fetch(base + path)).status, 404, path);
  } finally {
    run.child.kill('SIGTERM');
    await run.exit;
    await broker.close();
  }
});
