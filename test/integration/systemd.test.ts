// systemd integration: sd_notify against a real unix datagram socket standing in for
// systemd, and the unit checked by systemd-analyze.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { edgecam, childrenOf, sleep, until } from '../helpers/agent.js';
import { freePort, hasBinary } from '../helpers/net.js';
import { PACKAGE_ROOT } from '../../agent/paths.js';

interface Received {
  at: number;
  message: string;
}

describe('sd_notify', { skip: hasBinary('python3') ? false : 'python3 is not installed', timeout: 60_000 }, () => {
  test('READY once after the first frame, WATCHDOG only while frames flow, STOPPING at shutdown', async () => {
    // systemd's side: a unix datagram socket, bound by a python3 process that prints each datagram as JSON.
    const path = join(mkdtempSync(join(tmpdir(), 'edgecam-notify-')), 'notify.sock');
    const receiver = spawn('python3', ['-u', '-c', 'import json, socket, sys\ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\ns.bind(sys.argv[1])\nprint("bound", flush=True)\nwhile True: print(json.dumps(s.recv(4096).decode()), flush=True)', path], { stdio: ['ignore', 'pipe', 'inherit'] });
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
    const run = edgecam([], { NOTIFY_SOCKET: path, WATCHDOG_USEC: '400000', MQTT_EMBEDDED_PORT: String(port), SOURCE: 'lavfi:testsrc2=size=320x240:rate=10', DETECT_FPS: '10', DETECT_THREADS: '1' });
    try {
      await until(() => received.some((r) => r.message.startsWith('READY=1')), 20_000, 'READY=1');
      await sleep(1500);
      const flowing = received.filter((r) => r.message === 'WATCHDOG=1').length;
      assert.ok(flowing >= 4, `${flowing} watchdog pings in 1.5 s of frames`);
      // Freeze FFmpeg: frames stop, the process stays. The pings must stop too.
      const ffmpeg = childrenOf(run.child.pid!).find((p) => /rawvideo/.test(spawnSync('ps', ['-o', 'args=', '-p', String(p)], { encoding: 'utf8' }).stdout))!;
      process.kill(ffmpeg, 'SIGSTOP');
      const frozenAt = Date.now();
      await sleep(2000);
      process.kill(ffmpeg, 'SIGCONT');
      const during = received.filter((r) => r.message === 'WATCHDOG=1' && r.at > frozenAt + 600 && r.at < frozenAt + 2000);
      assert.deepEqual(during, [], 'no WATCHDOG=1 while no frame is processed');
      await until(() => received.filter((r) => r.message === 'WATCHDOG=1' && r.at > frozenAt + 2000).length >= 2, 10_000, 'pings to resume');
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
    const run = edgecam([], { MQTT_EMBEDDED_PORT: String(port), SOURCE: 'lavfi:testsrc2=size=320x240:rate=10:duration=1', DETECT_THREADS: '1' });
    assert.equal((await run.exit).code, 0, run.stderr());
  });
});

describe('systemd unit', { skip: hasBinary('systemd-analyze') ? false : 'systemd-analyze is not installed' }, () => {
  const unit = join(PACKAGE_ROOT, 'systemd', 'edgecam@.service');

  test('systemd-analyze verify accepts the unit', () => {
    // Verify an instance; ExecStart's binary must exist, so point the check at this node.
    const r = spawnSync('systemd-analyze', ['verify', '--man=no', `${unit.replace('@.service', '@')}front.service`], { encoding: 'utf8' });
    const problems = (r.stderr + r.stdout).split('\n').filter((l) => l.trim() && !/Failed to (connect|create bus)|not executable|No such file|Command \/usr\/bin\/node|\/opt\/edgecam/.test(l));
    assert.deepEqual(problems, []);
  });

  test('systemd-analyze security: exposure 2.5 or lower', () => {
    const r = spawnSync('systemd-analyze', ['security', '--offline=true', '--no-pager', unit], { encoding: 'utf8' });
    const m = /Overall exposure level for .*: (\d+\.\d+) (\w+)/.exec(r.stdout + r.stderr);
    assert.ok(m, r.stdout + r.stderr);
    assert.ok(Number(m[1]) <= 2.5, `exposure ${m[1]} ${m[2]}`);
  });
});
