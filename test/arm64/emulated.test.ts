// edgecam as a Raspberry Pi runs it: the arm64 tree (scripts/arm64/prepare.sh) under qemu
// user emulation — arm64 Node.js, onnxruntime, sharp and FFmpeg — checked against this
// machine's own results, with a real mosquitto and an x86 mosquitto_sub on loopback.
// Not part of `npm test` (minutes of emulation): `npm run test:arm64`.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../agent/paths.js';
import { CLI, FIXTURES } from '../helpers/paths.js';
import { stillClip } from '../helpers/clips.js';
import { startMosquitto } from '../helpers/net.js';

const CACHE = process.env.EDGECAM_ARM64_CACHE ?? join(homedir(), '.cache', 'edgecam-arm64');
const RUN = join(PACKAGE_ROOT, 'scripts', 'arm64', 'run.sh');
// Two photos, four detections: an emulated inference takes 25-70 s depending on the host.
const PHOTOS = ['person.jpg', 'eagle.jpg'].map((f) => join(FIXTURES, f));

interface Found {
  file: string;
  detections: { class_name: string; score: number; box: number[] }[];
}

function emulated(args: string[], env: Record<string, string> = {}) {
  const started = Date.now();
  const r = spawnSync('bash', [RUN, 'node', ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 1_200_000 });
  return { ...r, ms: Date.now() - started };
}

describe('arm64 under emulation', { skip: existsSync(join(CACHE, 'node', 'bin', 'node')) ? false : 'run scripts/arm64/prepare.sh first', timeout: 1_400_000 }, () => {
  test('the arm64 Node.js runs, and says so', () => {
    const r = emulated(['-p', 'process.arch + " " + process.version + " " + require("os").machine()']);
    assert.equal(r.status, 0, r.stderr);
    console.log(`emulated: ${r.stdout.trim()}`);
    assert.match(r.stdout, /^arm64 v\d+\.\d+\.\d+ aarch64$/m);
  });

  // The float model runs the same float kernels on both: the same boxes within a pixel. The
  // INT8 model runs onnxruntime's integer kernels for each processor (VNNI on this x86-64,
  // dot products on arm64), whose rounding differs: on these photos its scores differ by up
  // to 0.05 and its boxes by up to 13 px (photos 640 and 773 px wide), so the same objects
  // are checked within 0.07 and 20 px.
  for (const [model, maxBox, maxScore] of [
    ['centernet', 1, 0.01],
    ['centernet-int8', 20, 0.07],
  ] as const)
    test(`edgecam detect on the test photos: the same detections as on x86-64 (${model})`, (t) => {
      const native = Date.now();
      const x86 = spawnSync(process.execPath, [CLI, 'detect', ...PHOTOS], { encoding: 'utf8', env: { ...process.env, DETECT_THREADS: '2', MODEL: model } });
      const nativeMs = Date.now() - native;
      assert.equal(x86.status, 0, x86.stderr);
      const arm = emulated(['dist/agent/cli.js', 'detect', ...PHOTOS], { DETECT_THREADS: '2', MODEL: model });
      assert.equal(arm.status, 0, arm.stderr);
      const parse = (out: string) =>
        out
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as Found);
      const a = parse(arm.stdout);
      const x = parse(x86.stdout);
      assert.equal(a.length, PHOTOS.length);
      for (const [i, photo] of x.entries()) {
        const got = a[i]!;
        assert.deepEqual(
          got.detections.map((d) => d.class_name),
          photo.detections.map((d) => d.class_name),
          `${photo.file}: the same classes in the same order`,
        );
        photo.detections.forEach((d, j) => {
          const e = got.detections[j]!;
          const box = Math.max(...d.box.map((v, k) => Math.abs(v - e.box[k]!)));
          assert.ok(box <= maxBox, `${photo.file} ${d.class_name}: boxes differ by ${box} px`);
          assert.ok(Math.abs(d.score - e.score) <= maxScore, `${photo.file} ${d.class_name}: scores ${d.score} and ${e.score}`);
          console.log(
            `matched on arm64: ${photo.file.split('/').pop()} ${e.class_name} ${e.score} [${e.box.join(', ')}] (x86 ${d.score}, max box difference ${box.toFixed(1)} px)`,
          );
        });
      }
      t.diagnostic(`edgecam detect on ${PHOTOS.length} photos: ${(arm.ms / 1000).toFixed(1)} s emulated, ${(nativeMs / 1000).toFixed(1)} s native`);
      console.log(
        `emulated speed: detect on ${PHOTOS.length} photos took ${(arm.ms / 1000).toFixed(1)} s under qemu, ${(nativeMs / 1000).toFixed(1)} s natively (${Math.round(arm.ms / nativeMs)}x)`,
      );
    });

  test('edgecam run on a short clip: class messages and an arm64-encoded snapshot reach an x86 mosquitto_sub; exit 0 at the end', async () => {
    const clip = stillClip(join(FIXTURES, 'person.jpg'), 3, join(mkdtempSync(join(tmpdir(), 'edgecam-arm64-')), 'person.mp4'));
    const broker = await startMosquitto();
    // The x86 client: topic, payload length and the payload's first bytes in hex.
    const sub = spawn('mosquitto_sub', ['-p', String(broker.port), '-v', '-t', 'class', '-t', 'snapshot/#', '-t', 'state', '-F', '%t %l %x'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let received = '';
    sub.stdout.on('data', (d: Buffer) => (received += d.toString()));
    try {
      await new Promise((r) => setTimeout(r, 500));
      const run = emulated(['dist/agent/cli.js', 'run'], {
        SOURCE: clip,
        SOURCE_REALTIME: 'false',
        DETECT_FPS: '1',
        DETECT_THREADS: '2',
        TRACK_CONFIRM: '1/1',
        // A still picture: without this, the motion gate would (rightly) skip every frame after the first.
        MOTION_GATING: 'false',
        SNAPSHOT_CLASSES: 'person',
        MQTT_URL: broker.url,
        HTTP_ENABLED: 'false',
        STATE_DIR: mkdtempSync(join(tmpdir(), 'edgecam-arm64-state-')),
      });
      assert.equal(run.status, 0, run.stderr + run.stdout.slice(-3000));
      const starting = run.stdout.split('\n').find((l) => l.includes('"edgecam starting"'))!;
      assert.match(starting, /"arch":"arm64"/);
      await new Promise((r) => setTimeout(r, 500));
      const lines = received.split('\n').filter(Boolean);
      const classes = lines.filter((l) => l.startsWith('class '));
      assert.ok(classes.length >= 1, received);
      const json = (hex: string) => JSON.parse(Buffer.from(hex, 'hex').toString()) as { class_name: string[]; inference_ms: number };
      assert.ok(
        classes.some((l) => json(l.split(' ')[2]!).class_name.includes('person')),
        classes.join('\n'),
      );
      const snapshot = lines.find((l) => l.startsWith('snapshot/person '));
      assert.ok(snapshot, `no snapshot in ${lines.map((l) => l.slice(0, 40)).join('; ')}`);
      const [, length, hex] = snapshot.split(' ');
      assert.ok(Number(length) > 5000, `snapshot of ${length} bytes`);
      assert.ok(hex!.startsWith('ffd8ff'), 'a JPEG, encoded by the arm64 sharp');
      const inference = lines
        .filter((l) => l.startsWith('state '))
        .map((l) => json(l.split(' ')[2]!).inference_ms)
        .filter((ms) => ms > 0);
      console.log(
        `arm64 run: ${classes.length} class messages, a ${length}-byte snapshot; inference ${inference.at(-1)} ms per frame under emulation; exit ${run.status} in ${(run.ms / 1000).toFixed(1)} s`,
      );
    } finally {
      sub.kill();
      await broker.stop();
    }
  });

  test('SOURCE=rpicam with the stand-in camera tool: class messages from the arm64 agent, and no camera process after it stops', async () => {
    const broker = await startMosquitto();
    const sub = spawn('mosquitto_sub', ['-p', String(broker.port), '-t', 'class', '-C', '1', '-W', '900'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let received = '';
    sub.stdout.on('data', (d: Buffer) => (received += d.toString()));
    const got = new Promise<void>((resolve) => sub.once('exit', () => resolve()));
    const log = join(mkdtempSync(join(tmpdir(), 'edgecam-arm64-')), 'starts.log');
    const started = Date.now();
    const agent = spawn('bash', [RUN, 'node', 'dist/agent/cli.js', 'run'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        // The stand-in is this machine's script, and its test pattern this machine's FFmpeg; the agent and its FFmpeg are arm64.
        PATH: `${join(PACKAGE_ROOT, 'test', 'helpers', 'bin')}:${process.env.PATH}`,
        SOURCE: 'rpicam',
        RPICAM_SIZE: '960x540',
        RPICAM_FRAMERATE: '5',
        DETECT_FPS: '1',
        DETECT_THREADS: '2',
        TRACK_CONFIRM: '1/1',
        MOTION_GATING: 'false',
        EDGECAM_STANDIN_PICTURE: join(FIXTURES, 'dog.jpg'),
        EDGECAM_STANDIN_LOG: log,
        MQTT_URL: broker.url,
        HTTP_ENABLED: 'false',
        STATE_DIR: mkdtempSync(join(tmpdir(), 'edgecam-arm64-state-')),
      },
    });
    let out = '';
    agent.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => agent.once('exit', (code) => resolve(code)));
    let code: number | null;
    try {
      await got;
      assert.match(received, /"class_name"/, out.slice(-3000));
    } finally {
      // The agent stops first, while its broker is still there to take its last messages.
      agent.kill('SIGTERM');
      code = await exited;
      sub.kill();
      await broker.stop();
    }
    // Under emulation an inference takes seconds, and the frames in flight can outlast the agent's
    // 10 s shutdown bound: then it exits 1 by design. Either way, the camera must not outlive it.
    assert.ok(code === 0 || /shutdown took longer than 10 s/.test(out), `exit ${code}: ${out.slice(-3000)}`);
    const { readFileSync } = await import('node:fs');
    const pids = readFileSync(log, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => Number(l.split(' ')[0]));
    assert.ok(pids.length >= 1);
    for (const pid of pids) assert.throws(() => process.kill(pid, 0), `camera process ${pid} is gone`);
    console.log(`arm64 rpicam run: first class message ${((Date.now() - started) / 1000).toFixed(0)} s after start; ${pids.length} camera start(s)`);
  });
});
