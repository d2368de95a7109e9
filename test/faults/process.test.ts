// Camera and process faults: FFmpeg killed again and again, a source file truncated
// under the agent, the agent killed outright.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { BUNDLED_SAMPLE } from '../../agent/paths.js';
import { freePort, needs, subscribe } from '../helpers/net.js';
import { alive, childrenOf, edgecam, running, sleep, until } from '../helpers/agent.js';

/** The capture FFmpeg processes (zombies included) whose parent is `pid`. */
const ffmpegChildren = (pid: number) => childrenOf(pid).filter((p) => /ffmpeg.*rawvideo/.test(spawnSync('ps', ['-o', 'args=', '-p', String(p)], { encoding: 'utf8' }).stdout));
const zombies = () =>
  spawnSync('ps', ['-eo', 'stat=,comm='], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter((l) => /^Z.*ffmpeg/.test(l.trim()));

describe('process faults', { skip: needs('ps', 'pgrep'), timeout: 120_000 }, () => {
  test('FFmpeg killed 10 times in a row: recovers every time with growing backoff, no zombie or orphan', async (t) => {
    const port = await freePort();
    const run = edgecam([], { MQTT_EMBEDDED_PORT: String(port), RESTART_BACKOFF_MAX: '4', DETECT_THREADS: '1' });
    try {
      const restarts = () => run.lines().filter((l) => l.msg === 'ffmpeg exited; restarting');
      const killed: number[] = [];
      for (let i = 0; i < 10; i++) {
        // Kill each new FFmpeg as soon as it is up, before it delivers a frame: the backoff keeps growing.
        await until(() => ffmpegChildren(run.child.pid!).some((p) => !killed.includes(p)), 15_000, `FFmpeg #${i + 1}`);
        const pid = ffmpegChildren(run.child.pid!).find((p) => !killed.includes(p))!;
        process.kill(pid, 'SIGKILL');
        killed.push(pid);
        await until(() => restarts().length > i, 5000, `restart #${i + 1}`);
      }
      const delays = restarts().map((l) => l.retryInMs as number);
      t.diagnostic(`restart delays (ms): ${delays.join(', ')}`);
      // Full jitter: each delay lies in [cap/2, cap] with cap = 1 s, 2 s, 4 s, 4 s, ... counted from the
      // last run that delivered a frame (a slow machine may deliver one before the kill; the log says so).
      let attempt = 0;
      restarts().forEach((l, i) => {
        if (l.backoffReset) attempt = 0;
        const cap = Math.min(4000, 1000 * 2 ** attempt++);
        const d = l.retryInMs as number;
        assert.ok(d >= cap / 2 && d <= cap, `delay ${i + 1} = ${d} ms, expected ${cap / 2}..${cap}`);
      });
      assert.ok(Math.max(...delays) > 1000, 'the backoff grew');
      // It recovers: frames flow again after the last kill.
      const sub = await subscribe(`mqtt://127.0.0.1:${port}`, ['class']);
      await sub.waitFor((m) => m.length >= 2, 20_000);
      await sub.close();
      assert.equal(ffmpegChildren(run.child.pid!).length, 1, 'exactly one FFmpeg now');
      assert.ok(
        killed.every((p) => !alive(p)),
        'every killed FFmpeg is gone (reaped, not a zombie)',
      );
      run.child.kill('SIGTERM');
      assert.equal((await run.exit).code, 0);
      assert.deepEqual(zombies(), []);
    } finally {
      run.child.kill('SIGKILL');
    }
  });

  test('SIGKILL of the agent: FFmpeg dies with it, and the broker publishes the last will "offline"', async () => {
    const port = await freePort();
    const fleet = { user: 'fleet', password: 'fleet-secret-4c1' };
    const brokerRun = edgecam([], {
      MQTT_EMBEDDED_PORT: String(port),
      MQTT_EMBEDDED_BIND: '127.0.0.1',
      MQTT_EMBEDDED_USERNAME: fleet.user,
      MQTT_EMBEDDED_PASSWORD: fleet.password,
      SOURCE: 'lavfi:testsrc2=size=320x240:rate=5',
      DETECT_THREADS: '1',
    });
    // A second agent publishes to the first one's embedded broker as a trusted client, and is the one killed.
    const run = edgecam([], { MQTT_URL: `mqtt://127.0.0.1:${port}`, MQTT_USERNAME: fleet.user, MQTT_PASSWORD: fleet.password, TOPIC_PREFIX: 'victim/', DETECT_THREADS: '1' });
    try {
      const sub = await subscribe(`mqtt://127.0.0.1:${port}`, ['victim/status'], 20_000);
      await sub.waitFor((m) => m.some((x) => x.payload === 'online'), 20_000);
      await until(() => ffmpegChildren(run.child.pid!).length === 1, 10_000, 'FFmpeg');
      const ffmpeg = ffmpegChildren(run.child.pid!)[0]!;
      run.child.kill('SIGKILL');
      await run.exit;
      await until(() => !running(ffmpeg), 10_000, 'FFmpeg to exit with its parent');
      await sub.waitFor((m) => m.some((x) => x.payload === 'offline'), 60_000);
      await sub.close();
    } finally {
      run.child.kill('SIGKILL');
      brokerRun.child.kill('SIGKILL');
    }
  });

  test('the source file truncated under a running agent: it keeps running and publishing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgecam-trunc-'));
    const clip = join(dir, 'clip.mp4');
    copyFileSync(BUNDLED_SAMPLE, clip);
    const port = await freePort();
    const run = edgecam([], { SOURCE: clip, SOURCE_LOOP: 'true', MQTT_EMBEDDED_PORT: String(port), RESTART_BACKOFF_MAX: '2', DETECT_THREADS: '1' });
    try {
      const sub = await subscribe(`mqtt://127.0.0.1:${port}`, ['class'], 20_000);
      await sub.waitFor((m) => m.length >= 3, 20_000);
      truncateSync(clip, Math.floor(statSync(clip).size * 0.4));
      const before = sub.messages.length;
      await sleep(8000);
      await sub.waitFor((m) => m.length >= before + 5, 20_000);
      assert.ok(alive(run.child.pid!), 'the agent survived');
      await sub.close();
      run.child.kill('SIGTERM');
      assert.equal((await run.exit).code, 0, run.stderr());
    } finally {
      run.child.kill('SIGKILL');
    }
  });
});

test('a file that ends early plays what it has, says so in one warning, and exits 0', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgecam-short-'));
  const clip = join(dir, 'short.mp4');
  copyFileSync(BUNDLED_SAMPLE, clip);
  truncateSync(clip, Math.floor(statSync(clip).size * 0.6));
  const run = edgecam([], { SOURCE: clip, SOURCE_LOOP: 'false', SOURCE_REALTIME: 'false', MQTT_EMBEDDED_PORT: '0', DETECT_THREADS: '1' });
  assert.equal((await run.exit).code, 0, run.stderr());
  const warnings = run.lines().filter((l) => l.msg === 'the source file is damaged or ends early; playing what it has');
  assert.equal(warnings.length, 1, JSON.stringify(warnings));
  const stopped = run.lines().findLast((l) => l.msg === 'stopped') as { framesIn: number };
  assert.ok(stopped.framesIn > 10, `${stopped.framesIn} frames played`);
});
