// systemd integration: sd_notify against a real unix datagram socket standing in for
// systemd, and the unit checked by systemd-analyze.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { edgecam, childrenOf, sleep, until } from '../helpers/agent.js';
import { freePort, hasBinary, needs } from '../helpers/net.js';
import { PACKAGE_ROOT } from '../../agent/paths.js';
import mqtt from 'mqtt';

interface Received {
  at: number;
  message: string;
}

/** systemd's side: a unix datagram socket, bound by a python3 process that prints each datagram as JSON. */
async function notifySocket(): Promise<{ path: string; received: Received[]; close: () => void }> {
  const path = join(mkdtempSync(join(tmpdir(), 'edgecam-notify-')), 'notify.sock');
  const receiver = spawn(
    'python3',
    [
      '-u',
      '-c',
      'import json, socket, sys\ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\ns.bind(sys.argv[1])\nprint("bound", flush=True)\nwhile True: print(json.dumps(s.recv(4096).decode()), flush=True)',
      path,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const received: Received[] = [];
  let bound = false;
  receiver.stdout!.on('data', (d: Buffer) => {
    for (const line of d.toString().split('\n').filter(Boolean)) {
      if (line === 'bound') bound = true;
      else received.push({ at: Date.now(), message: JSON.parse(line) as string });
    }
  });
  await until(() => bound, 5000, 'the notify socket');
  return { path, received, close: () => receiver.kill() };
}

/** The longest time between two watchdog pings (or the window's edges) within [from, to]. */
function longestGap(received: Received[], from: number, to: number): number {
  const at = [from, ...received.filter((r) => r.message === 'WATCHDOG=1' && r.at > from && r.at < to).map((r) => r.at), to];
  return Math.max(...at.slice(1).map((t, i) => t - at[i]!));
}

describe('sd_notify', { skip: needs('python3', 'ps', 'pgrep'), timeout: 90_000 }, () => {
  test('a camera that refuses connections: READY within seconds, STATUS names the camera, the watchdog is fed through the outage', async () => {
    const socket = await notifySocket();
    const closed = await freePort();
    const run = edgecam([], {
      NOTIFY_SOCKET: socket.path,
      // 2 s: a ping every second, and a second's slack for a busy machine. 20 s of outage are
      // 10 watchdog intervals (10 min with the unit's WatchdogSec=60).
      WATCHDOG_USEC: '2000000',
      MQTT_EMBEDDED_PORT: String(await freePort()),
      SOURCE: `rtsp://127.0.0.1:${closed}/camera`,
      DETECT_THREADS: '1',
    });
    try {
      const started = Date.now();
      await until(() => socket.received.some((r) => r.message.startsWith('READY=1')), 30_000, 'READY=1');
      const readyAt = socket.received.find((r) => r.message.startsWith('READY=1'))!.at;
      await until(() => socket.received.some((r) => /^STATUS=camera reconnecting/.test(r.message)), 15_000, 'STATUS=camera reconnecting');
      await sleep(20_000);
      const gap = longestGap(socket.received, readyAt, Date.now());
      assert.ok(gap < 2000, `the watchdog went ${gap} ms without a ping during the outage (it kills at 2000 ms)`);
      assert.equal(run.child.exitCode, null, 'the agent is still running');
      assert.ok(!run.lines().some((l) => l.msg === 'agent stuck: the systemd watchdog is no longer fed'));
      run.child.kill('SIGTERM');
      assert.equal((await run.exit).code, 0);
      assert.ok(readyAt - started < 30_000);
      assert.ok(socket.received.some((r) => r.message === 'STOPPING=1'));
    } finally {
      run.child.kill('SIGKILL');
      socket.close();
    }
  });

  test('READY once; WATCHDOG goes on while FFmpeg is frozen and while paused; STOPPING at shutdown', async () => {
    const socket = await notifySocket();
    const { received } = socket;
    const port = await freePort();
    const run = edgecam([], {
      NOTIFY_SOCKET: socket.path,
      // 2 s: a ping every second; systemd would kill after 2 s without one.
      WATCHDOG_USEC: '2000000',
      MQTT_EMBEDDED_PORT: String(port),
      MQTT_EMBEDDED_USERNAME: 'ops',
      MQTT_EMBEDDED_PASSWORD: 'ops-secret-3e',
      SOURCE: 'lavfi:testsrc2=size=320x240:rate=10',
      DETECT_FPS: '10',
      DETECT_THREADS: '1',
    });
    try {
      await until(() => received.some((r) => r.message.startsWith('READY=1')), 30_000, 'READY=1');
      await until(() => received.some((r) => r.message === 'STATUS=camera streaming'), 30_000, 'STATUS=camera streaming');
      // Freeze FFmpeg: frames stop, the process stays. That is the camera's fault, which the agent
      // handles itself (STALL_TIMEOUT): the watchdog, which guards the agent, stays fed.
      const ffmpeg = childrenOf(run.child.pid!).find((p) => /rawvideo/.test(spawnSync('ps', ['-o', 'args=', '-p', String(p)], { encoding: 'utf8' }).stdout))!;
      process.kill(ffmpeg, 'SIGSTOP');
      const frozenAt = Date.now();
      await sleep(4000);
      process.kill(ffmpeg, 'SIGCONT');
      const gap = longestGap(received, frozenAt, Date.now());
      assert.ok(gap < 2000, `no ping for ${gap} ms while FFmpeg was frozen (systemd kills at 2000 ms)`);
      // Paused by command: no frame is processed on purpose, and the agent is healthy: the pings go on.
      const ops = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { username: 'ops', password: 'ops-secret-3e', reconnectPeriod: 0 });
      await ops.publishAsync('set/paused', 'true', { qos: 1 });
      await until(() => run.lines().some((l) => l.msg === 'remote command applied' && l.setting === 'paused'), 10_000, 'the pause');
      const pausedAt = Date.now();
      await sleep(3000);
      assert.ok(longestGap(received, pausedAt, Date.now()) < 2000, 'pings while paused');
      await ops.endAsync();
      run.child.kill('SIGTERM');
      assert.equal((await run.exit).code, 0);
      await sleep(200);
      assert.equal(received.filter((r) => r.message.startsWith('READY=1')).length, 1, 'READY=1 exactly once');
      assert.match(received.find((r) => r.message.startsWith('READY=1'))!.message, /^READY=1\nSTATUS=camera /, 'a multi-line message arrives as one datagram');
      assert.ok(received.some((r) => r.message === 'STOPPING=1'));
    } finally {
      run.child.kill('SIGKILL');
      socket.close();
    }
  });

  test('a hung detector stops the watchdog pings, so systemd restarts the agent', async () => {
    const socket = await notifySocket();
    const run = edgecam([], {
      NOTIFY_SOCKET: socket.path,
      // Pings every 1 s; an inference waiting more than 1 s is a hung detector.
      WATCHDOG_USEC: '2000000',
      MQTT_EMBEDDED_PORT: String(await freePort()),
      SOURCE: 'lavfi:testsrc2=size=320x240:rate=10',
      DETECT_THREADS: '1',
      // Test hook (agent/detect/worker.ts): every inference takes 6 s more. No real model here hangs on demand.
      EDGECAM_TEST_DETECT_DELAY_MS: '6000',
    });
    try {
      await until(() => socket.received.some((r) => r.message.startsWith('READY=1')), 60_000, 'READY=1');
      await until(() => run.lines().some((l) => l.msg === 'agent stuck: the systemd watchdog is no longer fed'), 15_000, 'the stuck detector to be noticed');
      const noticedAt = Date.now();
      await sleep(3000);
      const pings = socket.received.filter((r) => r.message === 'WATCHDOG=1' && r.at > noticedAt);
      assert.deepEqual(pings, [], 'no ping while an inference hangs');
      const line = run.lines().find((l) => l.msg === 'agent stuck: the systemd watchdog is no longer fed')!;
      assert.match(String(line.reason), /an inference has been running for \d/);
    } finally {
      run.child.kill('SIGKILL');
      socket.close();
    }
  });

  test('without NOTIFY_SOCKET nothing is sent and nothing fails', async () => {
    const port = await freePort();
    const run = edgecam([], { MQTT_EMBEDDED_PORT: String(port), SOURCE: 'lavfi:testsrc2=size=320x240:rate=10:duration=2', DETECT_THREADS: '1' });
    // Datagrams to systemd go through a python3 sender: without a socket none is started.
    const children = new Set<string>();
    const watch = setInterval(() => {
      for (const pid of childrenOf(run.child.pid!)) children.add(spawnSync('ps', ['-o', 'comm=', '-p', String(pid)], { encoding: 'utf8' }).stdout.trim());
    }, 50);
    const { code } = await run.exit;
    clearInterval(watch);
    assert.equal(code, 0, run.stderr());
    assert.ok(children.size > 0, 'the agent was watched while it ran');
    assert.deepEqual(
      [...children].filter((c) => /python/.test(c)),
      [],
      `children seen: ${[...children].join(', ')}`,
    );
    assert.ok(run.lines().some((l) => l.msg === 'source ended'));
  });
});

describe('systemd unit', { skip: hasBinary('systemd-analyze') ? false : 'systemd-analyze is not installed' }, () => {
  const unit = join(PACKAGE_ROOT, 'systemd', 'edgecam@.service');

  test('systemd-analyze verify accepts the unit', () => {
    // Verify an instance of the unit as installed, with its paths pointing at this checkout and this node
    // (verify checks that ExecStart's binary exists and is executable).
    const dir = mkdtempSync(join(tmpdir(), 'edgecam-unit-'));
    const installed = readFileSync(unit, 'utf8').replaceAll('/opt/edgecam', PACKAGE_ROOT.replace(/\/$/, '')).replaceAll('/usr/bin/node', process.execPath);
    writeFileSync(join(dir, 'edgecam@.service'), installed);
    const r = spawnSync('systemd-analyze', ['verify', '--man=no', join(dir, 'edgecam@front.service')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr + r.stdout);
    assert.equal((r.stderr + r.stdout).trim(), '', 'no warning about any line of the unit');
  });

  test("the camera module's drop-in allows exactly libcamera's devices, and the unit with it stays at exposure 2.0 or lower", () => {
    const dropIn = readFileSync(join(PACKAGE_ROOT, 'systemd', 'edgecam-rpicam.conf'), 'utf8');
    assert.deepEqual(
      [...dropIn.matchAll(/^DeviceAllow=(.+)$/gm)].map((m) => m[1]),
      ['char-video4linux rw', 'char-media rw', 'char-dma_heap rw'],
    );
    assert.match(dropIn, /^DevicePolicy=closed$/m);
    // The unit as systemd merges it: the drop-in's lines after the unit's own.
    const dir = mkdtempSync(join(tmpdir(), 'edgecam-unit-'));
    const merged = readFileSync(unit, 'utf8').replace(/\[Install\][\s\S]*$/, '') + dropIn.replace(/^\[Service\]$/m, '');
    writeFileSync(join(dir, 'edgecam-rpicam.service'), merged);
    const r = spawnSync('systemd-analyze', ['security', '--offline=true', '--no-pager', join(dir, 'edgecam-rpicam.service')], { encoding: 'utf8' });
    const m = /Overall exposure level for .*: (\d+\.\d+) (\w+)/.exec(r.stdout + r.stderr);
    assert.ok(m, r.stdout + r.stderr);
    assert.ok(Number(m[1]) <= 2.0, `exposure ${m[1]} ${m[2]}`);
  });

  test('systemd-analyze security: exposure 2.0 or lower', () => {
    const r = spawnSync('systemd-analyze', ['security', '--offline=true', '--no-pager', unit], { encoding: 'utf8' });
    const m = /Overall exposure level for .*: (\d+\.\d+) (\w+)/.exec(r.stdout + r.stderr);
    assert.ok(m, r.stdout + r.stderr);
    assert.ok(Number(m[1]) <= 2.0, `exposure ${m[1]} ${m[2]}`);
  });
});
