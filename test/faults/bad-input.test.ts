// Bad input of every kind gets one clear line and exit 78, never a crash or a hang.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../agent/config/index.js';
import { SETTING_NAMES } from '../../agent/config/schema.js';
import { BUNDLED_MODEL, BUNDLED_SAMPLE } from '../../agent/paths.js';
import { constantOutputModel } from '../helpers/onnx.js';
import { MOSQUITTO, hasBinary, startMosquitto } from '../helpers/net.js';
import { edgecam } from '../helpers/agent.js';
import { fuzzSeed, randomHex, seededRandom } from '../helpers/random.js';

const dir = mkdtempSync(join(tmpdir(), 'edgecam-bad-'));

async function expect78(env: Record<string, string>, pattern: RegExp, args: string[] = []) {
  const run = edgecam(args, { MQTT_EMBEDDED_PORT: '0', DETECT_THREADS: '1', ...env });
  // Far above what any case takes (the slowest waits for a 5 s stall timeout).
  const timer = setTimeout(() => run.child.kill('SIGKILL'), 45_000);
  const { code } = await run.exit;
  clearTimeout(timer);
  const lines = run.stderr().trim().split('\n');
  assert.equal(code, 78, `exit ${code}: ${run.stderr()}${run.stdout().slice(-1000)}`);
  assert.equal(lines.length, 1, run.stderr());
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(run.stderr(), /\n\s+at /);
  return run;
}

describe('bad input', { timeout: 120_000 }, () => {
  test('a corrupt model file', async () => {
    const model = join(dir, 'corrupt.onnx');
    writeFileSync(model, randomBytes(4096));
    const run = await expect78({ MODEL: model }, /^edgecam: MODEL=.*corrupt\.onnx: onnxruntime cannot load it .*; give an \.onnx detection model$/);
    // The last log line says the exit code the process has.
    assert.equal(run.lines().findLast((l) => l.msg === 'stopped')?.exitCode, 78);
  });

  test('a model whose manifest names a labels file that is not there', async () => {
    const sub = mkdtempSync(join(dir, 'labels-'));
    const model = join(sub, 'copy.onnx');
    writeFileSync(model, readFileSync(BUNDLED_MODEL));
    const manifest = JSON.parse(readFileSync(BUNDLED_MODEL.replace(/\.onnx$/, '.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(sub, 'copy.json'), JSON.stringify({ ...manifest, labels: 'missing-labels.txt' }));
    await expect78({ MODEL: model }, /^edgecam: labels file \S+missing-labels\.txt: no such file \(the model manifest's "labels", or MODEL_LABELS: one class name per line\)$/);
  });

  test('a model whose outputs fit no decoder', async () => {
    const model = join(dir, 'classifier.onnx');
    writeFileSync(model, constantOutputModel({ name: 'images', dims: [1, 3, 64, 64] }, [{ name: 'logits', dims: [1, 5], data: [1, 2, 3, 4, 5] }]));
    await expect78({ MODEL: model }, /matches no known decoder; set MODEL_DECODER to one of/);
  });

  test('random bytes as video, five times: exit 78, no hang', async (t) => {
    const seed = fuzzSeed();
    t.diagnostic(`seed ${seed} (FUZZ_SEED=${seed} replays this run)`);
    const random = seededRandom(seed);
    for (let i = 0; i < 5; i++) {
      const clip = join(dir, `random-${i}.mp4`);
      writeFileSync(clip, Buffer.from(randomHex(random, 1000 + i * 20_000), 'hex'));
      // Some random bytes pass for a stream FFmpeg keeps reading without a frame: the stall
      // watchdog ends that run, and a file that never gave a frame is a bad source.
      await expect78(
        { SOURCE: clip, SOURCE_LOOP: i % 2 ? 'true' : 'false', STALL_TIMEOUT: '5' },
        /^edgecam: SOURCE=.*random-\d\.mp4: FFmpeg cannot read it as video \(.*\); give a video file FFmpeg can decode$/,
      );
    }
  });

  test('a video file cut inside its header: exit 78, not a restart loop', async () => {
    const clip = join(dir, 'cut.mp4');
    writeFileSync(clip, readFileSync(BUNDLED_SAMPLE).subarray(0, 3000));
    for (const loop of ['false', 'true']) {
      await expect78({ SOURCE: clip, SOURCE_LOOP: loop }, /^edgecam: SOURCE=.*cut\.mp4: FFmpeg cannot read it as video \(.*\); give a video file FFmpeg can decode$/);
    }
  });

  test('a file with no video stream (an audio file)', { skip: hasBinary('ffmpeg') ? false : 'no ffmpeg' }, async () => {
    const audio = join(dir, 'tone.m4a');
    execFileSync('ffmpeg', ['-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'sine=d=1', audio]);
    await expect78({ SOURCE: audio }, /FFmpeg cannot read it as video/);
  });

  test('an HTTP port another instance holds: one line naming the port and the setting, exit 78, before the model or the broker', async () => {
    const { createServer } = await import('node:net');
    const listen = (handler?: () => void) =>
      new Promise<import('node:net').Server>((resolve) => {
        const server = createServer(() => handler?.());
        server.listen(0, '127.0.0.1', () => resolve(server));
      });
    let brokerConnections = 0;
    const broker = await listen(() => brokerConnections++);
    const holder = await listen();
    const port = (s: import('node:net').Server) => (s.address() as import('node:net').AddressInfo).port;
    try {
      const run = await expect78(
        { HTTP_PORT: String(port(holder)), HTTP_BIND: '127.0.0.1', MQTT_URL: `mqtt://127.0.0.1:${port(broker)}` },
        new RegExp(`^edgecam: HTTP_PORT=${port(holder)}: port already in use .*set HTTP_PORT to a free port`),
      );
      assert.equal(brokerConnections, 0, 'the broker was never contacted');
      assert.ok(!run.lines().some((l) => l.msg === 'model loaded'), 'the model was never loaded');
    } finally {
      broker.close();
      holder.close();
    }
  });

  test('a malformed broker URL', async () => {
    await expect78({ MQTT_URL: 'http://broker:1883' }, /^edgecam: MQTT_URL="http:\/\/broker:1883": expected a broker URL such as mqtt:\/\/host:1883/);
  });

  test('wrong broker credentials', { skip: MOSQUITTO && hasBinary('mosquitto_passwd') ? false : 'mosquitto is not installed' }, async () => {
    const passwords = join(dir, 'passwd');
    writeFileSync(passwords, '');
    execFileSync('mosquitto_passwd', ['-b', passwords, 'edgecam', 'right-password']);
    chmodSync(dir, 0o755);
    chmodSync(passwords, 0o644);
    const broker = await startMosquitto({ auth: ['allow_anonymous false', `password_file ${passwords}`] });
    try {
      const refused = await expect78(
        { MQTT_URL: broker.url, MQTT_USERNAME: 'edgecam', MQTT_PASSWORD: 'wrong-password' },
        /^edgecam: MQTT_URL=mqtt:\/\/127\.0\.0\.1:\d+: the broker refused the credentials .*; check MQTT_USERNAME and MQTT_PASSWORD$/,
      );
      // Neither the refused password nor the accepted one reaches any line the agent writes.
      assert.doesNotMatch(refused.stdout() + refused.stderr(), /wrong-password/);
      assert.ok(refused.lines().length > 0, 'the refused run logged');
      const ok = edgecam(['run'], {
        MQTT_URL: broker.url,
        MQTT_USERNAME: 'edgecam',
        MQTT_PASSWORD: 'right-password',
        SOURCE: 'lavfi:testsrc2=size=320x240:rate=5:duration=1',
        DETECT_THREADS: '1',
      });
      assert.equal((await ok.exit).code, 0, ok.stderr());
      assert.ok(ok.lines().some((l) => l.msg === 'connected to MQTT broker'));
      assert.doesNotMatch(ok.stdout() + ok.stderr(), /right-password/);
    } finally {
      await broker.stop();
    }
  });

  test('fuzz: random values for every setting give a Config or a ConfigError, nothing else', (t) => {
    const seed = fuzzSeed();
    t.diagnostic(`seed ${seed} (FUZZ_SEED=${seed} replays this run)`);
    const random = seededRandom(seed);
    const pick = <T>(xs: T[]) => xs[Math.floor(random() * xs.length)]!;
    const junk = () =>
      pick([
        '',
        ' ',
        '-1',
        '0',
        '1e309',
        'NaN',
        'true',
        'abc',
        '1,2;3,4',
        '0,0;1,0;1,1;0,1',
        '\u0000',
        '#',
        'rtsp://u:p@h/x',
        Buffer.from(randomHex(random, 8), 'hex').toString('base64'),
        String(random() * 1e6),
        '/dev/video0',
        'lavfi:testsrc2',
      ]);
    for (let i = 0; i < 500; i++) {
      const env: Record<string, string> = {};
      for (const key of SETTING_NAMES) if (random() < 0.3) env[key] = junk();
      try {
        loadConfig({ env, cwd: dir });
      } catch (err) {
        assert.ok(err instanceof ConfigError, `seed ${seed}: ${JSON.stringify(env)} threw ${String(err)}`);
        for (const p of err.problems) assert.ok(p.length > 10 && !p.includes('\n'), p);
      }
    }
  });

  test('fuzz: check-config as a process exits 0 or 78 with junk settings', (t) => {
    const seed = fuzzSeed();
    t.diagnostic(`seed ${seed} (FUZZ_SEED=${seed} replays this run)`);
    const random = seededRandom(seed);
    for (let i = 0; i < 8; i++) {
      const env: Record<string, string> = { PATH: process.env.PATH! };
      for (const key of SETTING_NAMES) if (random() < 0.3) env[key] = randomHex(random, 6);
      const r = spawnSync(process.execPath, [join(process.cwd(), 'dist/agent/cli.js'), 'check-config'], { env, cwd: dir, encoding: 'utf8', timeout: 30_000 });
      assert.ok(r.status === 0 || r.status === 78, `seed ${seed}: exit ${r.status}: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    }
  });
});
