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

describe('sd_notify', { skip: needs('python3', 'ps', 'pgrep'), timeout: 60_000 }, () => {
  test('READY once after the first frame, WATCHDOG only while frames flow, STOPPING at shutdown', async () => {
    // systemd's side: a unix datagram socket, bound by a python3 process that prints each datagram as JSON.
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
    const socket = { close: () => receiver.kill() };
    await until(() => bound, 5000, 'the notify socket');
    const port = await freePort();
    const run = edgecam([], {
      NOTIFY_SOCKET: path,
      WATCHDOG_USEC: '400000',
      MQTT_EMBEDDED_PORT: String(port),
      MQTT_EMBEDDED_USERNAME: 'ops',
      MQTT_EMBEDDED_PASSWORD: 'ops-secret-3e',
      SOURCE: 'lavfi:testsrc2=size=320x240:rate=10',
      DETECT_FPS: '10',
      DETECT_THREADS: '1',
    });
    try {
      await until(() => received.some((r) => r.message.startsWith('READY=1')), 30_000, 'READY=1');
      const pings = () => received.filter((r) => r.message === 'WATCHDOG=1');
      await until(() => pings().length >= 4, 30_000, 'watchdog pings while frames flow');
      // Freeze FFmpeg: frames stop, the process stays. The pings must stop too, once the frames
      // already in inference are done and the watchdog interval (0.4 s) has passed.
      const ffmpeg = childrenOf(run.child.pid!).find((p) => /rawvideo/.test(spawnSync('ps', ['-o', 'args=', '-p', String(p)], { encoding: 'utf8' }).stdout))!;
      process.kill(ffmpeg, 'SIGSTOP');
      const frozenAt = Date.now();
      await sleep(4000);
      const thawedAt = Date.now();
      process.kill(ffmpeg, 'SIGCONT');
      const lastPing = Math.max(
        frozenAt,
        ...pings()
          .filter((r) => r.at < thawedAt)
          .map((r) => r.at),
      );
      assert.ok(thawedAt - lastPing >= 2000, `pings went on until ${lastPing - frozenAt} ms into a ${thawedAt - frozenAt} ms freeze`);
      await until(() => pings().filter((r) => r.at > thawedAt).length >= 2, 30_000, 'pings to resume');
      // Paused by command: no frame is processed on purpose, and the agent is healthy: the pings go on.
      const ops = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { username: 'ops', password: 'ops-secret-3e', reconnectPeriod: 0 });
      await ops.publishAsync('set/paused', 'true', { qos: 1 });
      await until(() => run.lines().some((l) => l.msg === 'remote command applied' && l.setting === 'paused'), 10_000, 'the pause');
      const pausedAt = Date.now();
      await sleep(3000);
      const whilePaused = pings().filter((r) => r.at > pausedAt + 1000);
      assert.ok(whilePaused.length >= 4, `${whilePaused.length} pings in the last 2 s of a 3 s pause`);
      await ops.endAsync();
      run.child.kill('SIGTERM');
      assert.equal((await run.exit).code, 0);
      await sleep(200);
      assert.equal(received.filter((r) => r.message.startsWith('READY=1')).length, 1, 'READY=1 exactly once');
      assert.equal(received.find((r) => r.message.startsWith('READY=1'))!.message, 'READY=1\nSTATUS=processing frames', 'a multi-line message arrives as one datagram');
      assert.ok(received.some((r) => r.message === 'STOPPING=1'));
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

  test('systemd-analyze security: exposure 2.0 or lower', () => {
    const r = spawnSync('systemd-analyze', ['security', '--offline=true', '--no-pager', unit], { encoding: 'utf8' });
    const m = /Overall exposure level for .*: (\d+\.\d+) (\w+)/.exec(r.stdout + r.stderr);
    assert.ok(m, r.stdout + r.stderr);
    assert.ok(Number(m[1]) <= 2.0, `exposure ${m[1]} ${m[2]}`);
  });
});
