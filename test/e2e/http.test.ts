// The agent's HTTP server without the viewer: /healthz and /metrics are still served,
// the page and the video are not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startEmbeddedBroker } from '../../agent/mqtt/broker.js';
import { get as httpGet } from 'node:http';
import { hostname } from 'node:os';
import { freePort, subscribe } from '../helpers/net.js';
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
    let latencyCount = 0;
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
    const text = await metrics.text();
    assert.match(text, /^edgecam_frames_in_total [1-9]\d*$/m);
    // Frames reach the broker, and how long that took is counted: capture to acknowledgement.
    await until(
      () => {
        void fetch(`${base}/metrics`)
          .then(async (r) => (latencyCount = Number(/^edgecam_frame_latency_ms_count (\d+)/m.exec(await r.text())?.[1] ?? 0)))
          .catch(() => {});
        return latencyCount > 0;
      },
      20_000,
      'a frame latency in /metrics',
    );
    for (const path of ['/', '/stream.mjpeg', '/snapshot.jpg', '/events']) assert.equal((await fetch(base + path)).status, 404, path);
  } finally {
    run.child.kill('SIGTERM');
    await run.exit;
    await broker.close();
  }
});

test(
  'a camera password never leaves the process: not in /events, /healthz or MQTT while FFmpeg reports the camera down; a foreign Host is refused',
  { timeout: 60_000 },
  async () => {
    const broker = await startEmbeddedBroker({ port: 0, host: '127.0.0.1', log: memoryLogger().log });
    const url = `mqtt://127.0.0.1:${broker.port}`;
    const sub = await subscribe(url, ['#']);
    const port = await freePort();
    const closed = await freePort();
    const token = 'http-token-81c2';
    const run = edgecam([], {
      SOURCE: `rtsp://viewer:Pa55@word@127.0.0.1:${closed}/live`,
      VIEWER_ENABLED: 'true',
      HTTP_PORT: String(port),
      HTTP_BIND: '127.0.0.1',
      HTTP_TOKEN: token,
      MQTT_URL: url,
      RESTART_BACKOFF_MAX: '1',
      DETECT_THREADS: '1',
    });
    const base = `http://127.0.0.1:${port}`;
    const auth = { Authorization: `Bearer ${token}` };
    try {
      await until(() => run.lines().some((l) => l.msg === 'ffmpeg exited; restarting'), 30_000, 'FFmpeg to report the camera down');
      // A new client is sent the camera's last status with FFmpeg's reason, then live events.
      const events = await fetch(`${base}/events`, { headers: auth });
      const reader = events.body!.getReader();
      let text = '';
      const deadline = Date.now() + 10_000;
      while (!/event: status\ndata: .*reconnecting/.test(text) && Date.now() < deadline) {
        const { value, done } = await Promise.race([
          reader.read(),
          new Promise<{ value: undefined; done: true }>((r) => setTimeout(() => r({ value: undefined, done: true }), 3000)),
        ]);
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      await reader.cancel();
      assert.match(text, /event: status\ndata: .*"state":"reconnecting".*Connection refused/);
      const health = await (await fetch(`${base}/healthz`)).text();
      assert.match(health, /"camera":"reconnecting"/, 'healthz needs no token and says the camera is down');
      const everything = text + health + sub.messages.map((m) => m.payload).join('\n') + run.stdout() + run.stderr();
      assert.doesNotMatch(everything, /Pa55|word@/);
      assert.match(text, /rtsp:\/\/<redacted>@127\.0\.0\.1/);

      // DNS rebinding: a page on another site that resolves to this box sends its own Host.
      const as = (host: string) =>
        new Promise<number>((resolve, reject) => {
          const req = httpGet({ host: '127.0.0.1', port, path: '/healthz', headers: { Host: host } }, (res) => (res.resume(), resolve(res.statusCode!)));
          req.on('error', reject);
        });
      assert.equal(await as('attacker.example'), 421);
      assert.equal(await as(`attacker.example:${port}`), 421);
      for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, '192.168.1.20', hostname()]) assert.notEqual(await as(host), 421, host);
    } finally {
      run.child.kill('SIGTERM');
      await run.exit;
      await sub.close();
      await broker.close();
    }
  },
);
