// The Raspberry Pi camera module without a Pi: a stand-in rpicam-vid on PATH
// (test/helpers/bin/rpicam-vid) that takes the real tool's documented options, refuses
// others as it does, and writes the chosen codec from FFmpeg's test source with a real
// photo over it, in the container the agent asks for, timed as the camera times its
// frames; on a stall it does what rpicam_vid.cpp does (logs the device timeout, restarts
// the camera itself, goes on). The agent runs as a process, as systemd runs it.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { cameraArgs, cameraReason, type CameraOptions } from '../../agent/capture/rpicam.js';
import { alive, childrenOf, edgecam, until } from '../helpers/agent.js';
import { freePort, needs, subscribe } from '../helpers/net.js';
import { classPayload, statePayload } from '../../agent/mqtt/payloads.js';
import { FIXTURES, CLI } from '../helpers/paths.js';
import { PACKAGE_ROOT } from '../../agent/paths.js';

const BIN = join(PACKAGE_ROOT, 'test', 'helpers', 'bin');
const STANDIN = join(BIN, 'rpicam-vid');
const PATH = `${BIN}${delimiter}${process.env.PATH}`;
const dir = mkdtempSync(join(tmpdir(), 'edgecam-rpicam-'));

const BASE: CameraOptions = {
  camera: 0,
  width: 1280,
  height: 720,
  framerate: 15,
  codec: 'yuv420',
  rotation: 0,
  hflip: false,
  vflip: false,
  exposure: 'normal',
  shutter: 0,
  gain: 0,
};

describe('rpicam-vid arguments', { skip: needs('bash') }, () => {
  test('every setting gives arguments the tool takes; an option it does not know is refused as the real one refuses it', () => {
    const variants: Partial<CameraOptions>[] = [
      {},
      { codec: 'mjpeg', camera: 1, width: 640, height: 480, framerate: 30 },
      { codec: 'h264', rotation: 180, hflip: true, vflip: true },
      { exposure: 'sport', shutter: 10000, gain: 8 },
      { exposure: 'long' },
    ];
    for (const v of variants) {
      const args = cameraArgs({ ...BASE, ...v }, '-');
      assert.deepEqual(args.slice(0, 5), ['--nopreview', '-t', '0', '-o', '-']);
      assert.deepEqual(args.slice(args.indexOf('--codec'), args.indexOf('--codec') + 4), ['--codec', 'libav', '--libav-format', 'matroska']);
      // With no camera connected the tool stops after reading its options: the options were taken.
      const r = spawnSync(STANDIN, args, { encoding: 'utf8', env: { ...process.env, EDGECAM_STANDIN_NO_CAMERA: '1' } });
      assert.match(r.stderr, /no cameras available/, `${args.join(' ')}: ${r.stderr}`);
    }
    const unknown = spawnSync(STANDIN, [...cameraArgs(BASE, '-'), '--fps', '15'], { encoding: 'utf8' });
    assert.equal(unknown.status, 255);
    assert.match(unknown.stderr, /unrecognised option '--fps'/);
  });

  test("the camera's own error line is the reason, with what to do about a busy or missing camera", () => {
    assert.deepEqual(cameraReason(['INFO libcamera', 'ERROR: *** failed to acquire camera /base/x/imx708@1a ***']), [
      'camera: failed to acquire camera /base/x/imx708@1a: another program holds the camera (find it with: sudo fuser -v /dev/media* /dev/video*)',
    ]);
    assert.match(cameraReason(['ERROR: *** no cameras available ***'])[0]!, /ribbon cable and rpicam-hello --list-cameras/);
    assert.deepEqual(cameraReason(['a', 'b', 'c', 'd']), ['camera: b', 'camera: c', 'camera: d']);
  });
});

interface Started {
  run: ReturnType<typeof edgecam>;
  log: string;
  mqttPort: number;
}

async function startOnCamera(env: Record<string, string>): Promise<Started> {
  const log = join(mkdtempSync(join(dir, 'run-')), 'starts.log');
  writeFileSync(log, '');
  const mqttPort = await freePort();
  const run = edgecam([], {
    PATH,
    SOURCE: 'rpicam',
    RPICAM_SIZE: '960x540',
    EDGECAM_STANDIN_PICTURE: join(FIXTURES, 'dog.jpg'),
    EDGECAM_STANDIN_LOG: log,
    MQTT_EMBEDDED_PORT: String(mqttPort),
    DETECT_THREADS: '1',
    RESTART_BACKOFF_MAX: '2',
    STATE_DIR: mkdtempSync(join(dir, 'state-')),
    ...env,
  });
  return { run, log, mqttPort };
}

const cameraPids = (log: string) =>
  readFileSync(log, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => Number(l.split(' ')[0]));

const processed = (run: Started['run']) => run.lines().filter((l) => l.msg === 'source opened').length;

describe('SOURCE=rpicam with the stand-in', { skip: needs('ffmpeg', 'bash'), timeout: 120_000 }, () => {
  test('check-config prints the command line it will run', () => {
    const r = spawnSync(process.execPath, [CLI, 'check-config'], { encoding: 'utf8', cwd: dir, env: { PATH, SOURCE: 'rpicam:1', RPICAM_CODEC: 'mjpeg', RPICAM_ROTATION: '180' } });
    assert.equal(r.status, 0, r.stderr);
    assert.match(
      r.stderr,
      /the camera runs as: rpicam-vid --nopreview -t 0 -o FIFO --flush --camera 1 --width 1280 --height 720 --framerate 15 --codec libav --libav-format matroska --libav-video-codec mjpeg --rotation 180 & ffmpeg -f matroska -i FIFO/,
    );
  });

  for (const codec of ['yuv420', 'mjpeg', 'h264'])
    test(`${codec}: frames flow and class messages name what the camera sees`, async () => {
      const { run, mqttPort } = await startOnCamera({ RPICAM_CODEC: codec });
      const sub = await subscribe(`mqtt://127.0.0.1:${mqttPort}`, ['class'], 30_000);
      try {
        // The photo over the test pattern: darknet's dog, bicycle and truck.
        await sub.waitFor((m) => m.some((x) => classPayload.parse(x.json()).class_name.some((c) => ['dog', 'bicycle', 'truck', 'car'].includes(c))), 60_000);
      } finally {
        await sub.close();
        run.child.kill('SIGTERM');
      }
      const { code } = await run.exit;
      assert.equal(code, 0);
      const stopped = run.lines().find((l) => l.msg === 'stopped') as { mqtt: { sent: number }; framesIn: number };
      assert.ok(stopped.framesIn >= 1 && stopped.mqtt.sent >= 1, JSON.stringify(stopped));
    });

  test('the camera dying is restarted and counted, frames resume, and stopping the agent leaves no camera process', async () => {
    const { run, log, mqttPort } = await startOnCamera({ EDGECAM_STANDIN_EXIT_AFTER: '2' });
    const sub = await subscribe(`mqtt://127.0.0.1:${mqttPort}`, ['state'], 30_000);
    try {
      await until(() => run.lines().filter((l) => l.msg === 'camera and ffmpeg exited; restarting').length >= 2, 60_000, 'two restarts');
      // Counted where a person watching looks: the retained state.
      await sub.waitFor((m) => m.some((x) => statePayload.parse(x.json()).camera_restarts >= 2), 30_000);
      await until(() => processed(run) >= 3, 30_000, 'a third start delivering frames');
      const restarts = run.lines().filter((l) => l.msg === 'camera and ffmpeg exited; restarting');
      assert.match(String(restarts[0]!.reason), /^camera: failed to write output bytes/);
    } finally {
      await sub.close();
      run.child.kill('SIGTERM');
    }
    assert.equal((await run.exit).code, 0);
    const stopped = run.lines().find((l) => l.msg === 'stopped') as { restarts: number };
    assert.ok(stopped.restarts >= 2, `restarts ${stopped.restarts}`);
    const pids = cameraPids(log);
    assert.ok(pids.length >= 3, `${pids.length} camera starts`);
    await until(() => pids.every((p) => !alive(p)), 5000, 'no camera process left');
  });

  test('a busy camera: one warning per attempt, with the reason, retried with backoff, never an exit', async () => {
    const { run, log } = await startOnCamera({ EDGECAM_STANDIN_BUSY: '1' });
    try {
      await until(() => cameraPids(log).length >= 3, 30_000, 'three attempts');
    } finally {
      run.child.kill('SIGTERM');
    }
    assert.equal((await run.exit).code, 0);
    const warnings = run.lines().filter((l) => l.level === 'warn');
    const attempts = cameraPids(log).length;
    assert.ok(
      warnings.every((w) => /another program holds the camera/.test(String(w.reason))),
      JSON.stringify(warnings),
    );
    assert.ok(warnings.length >= attempts - 1 && warnings.length <= attempts, `${warnings.length} warnings for ${attempts} attempts`);
    const waits = warnings.map((w) => Number(w.retryInMs));
    assert.ok(waits.at(-1)! > waits[0]!, `backoff grows: ${waits.join(', ')}`);
  });

  test('a camera that stalls recovers as rpicam-vid recovers it: no restart of the pair, frames again after the gap', async () => {
    const { run, mqttPort } = await startOnCamera({ EDGECAM_STANDIN_STALL_AFTER: '3', EDGECAM_STANDIN_STALL_SECONDS: '3' });
    const sub = await subscribe(`mqtt://127.0.0.1:${mqttPort}`, ['state'], 30_000);
    try {
      await until(() => run.lines().some((l) => l.msg === 'source opened'), 30_000, 'frames');
      const stateFrames = () => sub.messages.map((m) => statePayload.parse(m.json())).filter((s) => s.camera === 'streaming').length;
      await until(() => stateFrames() >= 1, 30_000, 'streaming');
      // Past the stall (3 s in, 3 s long) and the timeout line, frames are processed again.
      await new Promise((r) => setTimeout(r, 9000));
      const before = (run.lines().filter((l) => l.msg === 'source opened').length, sub.messages.length);
      await until(() => sub.messages.length > before, 15_000, 'state after the stall');
    } finally {
      await sub.close();
      run.child.kill('SIGTERM');
    }
    assert.equal((await run.exit).code, 0);
    assert.equal(run.lines().filter((l) => l.msg === 'camera and ffmpeg exited; restarting').length, 0, 'the tool recovers its own camera: nothing to restart');
    const stopped = run.lines().find((l) => l.msg === 'stopped') as { restarts: number; framesIn: number };
    assert.equal(stopped.restarts, 0);
  });

  test('a 500 ms stall of the agent while the camera runs bends no speed: frames are timed by the camera, not by their arrival', async () => {
    // The photo crosses at 120 px/s; at 0.05 m a pixel, 6 m/s: 21.6 km/h.
    const { run, mqttPort } = await startOnCamera({ EDGECAM_STANDIN_MOVING: '120', METERS_PER_PIXEL: '0.05', RPICAM_FRAMERATE: '15' });
    const sub = await subscribe(`mqtt://127.0.0.1:${mqttPort}`, ['speedometer'], 30_000);
    try {
      await sub.waitFor((m) => m.length >= 1, 60_000);
      // Two stalls of the whole agent (its main thread and all), 1.5 s apart, while objects are measured.
      for (const wait of [500, 1500]) {
        await new Promise((r) => setTimeout(r, wait));
        process.kill(run.child.pid!, 'SIGSTOP');
        await new Promise((r) => setTimeout(r, 500));
        process.kill(run.child.pid!, 'SIGCONT');
      }
      // The photo is out of the frame about 13 s after it came in; its tracks then end with their final speeds.
      await sub.waitFor((m) => m.some((x) => x.json<{ final?: boolean }>().final), 30_000);
      await new Promise((r) => setTimeout(r, 4000));
    } finally {
      await sub.close();
      run.child.kill('SIGTERM');
    }
    assert.equal((await run.exit).code, 0);
    const speeds = sub.messages.map((m) => m.json<{ speed: number; final?: boolean; class_name?: string }>());
    const off = (v: number) => Math.abs(v / 21.6 - 1);
    const finals = speeds.filter((s) => s.final);
    assert.ok(speeds.length >= 5, `${speeds.length} speed messages`);
    assert.ok(
      finals.every((s) => off(s.speed) <= 0.1),
      `final speeds ${finals.map((s) => s.speed).join(', ')} km/h: each within 10 % of 21.6`,
    );
    assert.ok(
      speeds.every((s) => off(s.speed) <= 0.2),
      `speeds ${speeds.map((s) => s.speed).join(', ')} km/h: each within 20 % of 21.6`,
    );
  });

  test('SIGKILL of the agent leaves no camera process behind', async () => {
    const { run, log } = await startOnCamera({});
    await until(() => run.lines().some((l) => l.msg === 'source opened'), 30_000, 'frames');
    const [tool] = cameraPids(log);
    const family = (pid: number): number[] => [pid, ...childrenOf(pid).flatMap(family)];
    const camera = family(tool!);
    assert.ok(camera.length >= 2, `the tool and its encoder: ${camera.join(', ')}`);
    process.kill(run.child.pid!, 'SIGKILL');
    await run.exit;
    await until(() => camera.every((p) => !alive(p)), 5000, `no camera process left of ${camera.join(', ')}`);
  });

  test('RPICAM_PATH that names no program: one clear line naming it, exit 78', () => {
    const r = spawnSync(process.execPath, [CLI, 'run'], {
      encoding: 'utf8',
      cwd: dir,
      env: { PATH, SOURCE: 'rpicam', RPICAM_PATH: '/usr/bin/rpicam-vdi', HTTP_ENABLED: 'false', MQTT_EMBEDDED_PORT: '0', STATE_DIR: mkdtempSync(join(dir, 'state-')) },
      // Bounded: an agent that took the mistake for a camera fault would restart it for ever.
      timeout: 30_000,
    });
    assert.equal(r.status, 78, r.stderr);
    assert.match(r.stderr.trim(), /^edgecam: RPICAM_PATH="\/usr\/bin\/rpicam-vdi": no such program/);
  });

  test('no camera tool installed: one clear line and exit 78', () => {
    const r = spawnSync(process.execPath, [CLI, 'run'], {
      encoding: 'utf8',
      cwd: dir,
      env: { PATH: '/usr/bin:/bin', SOURCE: 'rpicam', HTTP_ENABLED: 'false', MQTT_EMBEDDED_PORT: '0', STATE_DIR: mkdtempSync(join(dir, 'state-')) },
    });
    assert.equal(r.status, 78, r.stderr);
    assert.match(r.stderr.trim(), /^edgecam: SOURCE=rpicam: neither rpicam-vid nor libcamera-vid is installed; apt-get install rpicam-apps/);
  });
});
