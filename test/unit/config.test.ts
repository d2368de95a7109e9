import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, redactedConfig, sourceKind } from '../../agent/config/index.js';
import { BUNDLED_MODEL, BUNDLED_SAMPLE } from '../../agent/paths.js';

const emptyDir = () => mkdtempSync(join(tmpdir(), 'edgecam-config-'));
const load = (env: Record<string, string>, envFile?: string) => loadConfig({ env, cwd: emptyDir(), envFile });

function problems(env: Record<string, string>, envFile?: string): string[] {
  try {
    load(env, envFile);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err.problems;
  }
  assert.fail('expected the configuration to be rejected');
}

test('defaults run the bundled sample in a loop with the bundled model and an embedded broker', () => {
  const c = load({});
  assert.equal(c.SOURCE, BUNDLED_SAMPLE);
  assert.equal(c.SOURCE_KIND, 'file');
  assert.equal(c.SOURCE_LOOP, true);
  assert.equal(c.SOURCE_REALTIME, true);
  assert.equal(c.MODEL, BUNDLED_MODEL);
  assert.equal(c.MQTT_URL, undefined);
  assert.equal(c.MQTT_EMBEDDED_PORT, 1883);
  assert.equal(c.TOPIC_PREFIX, '');
  assert.equal(c.DETECT_FPS, 5);
  assert.deepEqual(c.CLASSES, []);
  assert.match(c.MQTT_CLIENT_ID, /^edgecam_[A-Za-z0-9_-]*_[0-9a-f]{6}$/);
  assert.notEqual(load({}).MQTT_CLIENT_ID, c.MQTT_CLIENT_ID, 'client ids are unique per run');
});

test('values are parsed from strings: numbers, booleans, lists, QoS', () => {
  const c = load({ DETECT_FPS: '2.5', SOURCE_REALTIME: 'no', CLASSES: 'person, car ,,truck', MQTT_QOS: '2', SOURCE_LOOP: 'true' });
  assert.equal(c.DETECT_FPS, 2.5);
  assert.equal(c.SOURCE_REALTIME, false);
  assert.deepEqual(c.CLASSES, ['person', 'car', 'truck']);
  assert.equal(c.MQTT_QOS, 2);
  assert.equal(c.SOURCE_LOOP, true);
});

test('another file plays once unless SOURCE_LOOP says otherwise', () => {
  assert.equal(load({ SOURCE: BUNDLED_SAMPLE.replace('sample.mp4', '../test/fixtures/person.jpg') }).SOURCE_LOOP, false);
});

test('an invalid number names the variable, the problem and an example', () => {
  assert.deepEqual(problems({ DETECT_FPS: 'abc' }), ['DETECT_FPS="abc": expected a number (example: DETECT_FPS=5)']);
});

test('every problem is reported at once, one line each', () => {
  const p = problems({ DETECT_FPS: '0', MQTT_QOS: '3', LOG_LEVEL: 'loud', TOPIC_PREFIX: 'a/#/' });
  assert.equal(p.length, 4);
  assert.match(p[0]!, /^DETECT_FPS="0": must be at least 0\.1 \(example: DETECT_FPS=5\)$/);
  assert.match(p.join('\n'), /MQTT_QOS="3": expected 0, 1 or 2/);
  assert.match(p.join('\n'), /LOG_LEVEL="loud": expected fatal, error, warn, info, debug or trace/);
  assert.match(p.join('\n'), /TOPIC_PREFIX="a\/#\/": MQTT wildcards/);
});

test('a missing source file is a configuration error naming the fix', () => {
  const [p] = problems({ SOURCE: '/nonexistent.mp4' });
  assert.match(p!, /^SOURCE="\/nonexistent\.mp4": no such file \(give a video file/);
});

test('URL sources are not checked on disk, and their credentials are redacted in messages', () => {
  assert.equal(sourceKind('rtsp://u:p@cam/stream'), 'rtsp');
  assert.equal(sourceKind('https://cam/mjpeg'), 'http');
  assert.equal(sourceKind('/dev/video0'), 'v4l2');
  assert.equal(sourceKind('lavfi:testsrc2'), 'lavfi');
  assert.equal(sourceKind('clip.mp4'), 'file');
  assert.equal(load({ SOURCE: '/dev/video7' }).SOURCE_KIND, 'v4l2');
  const [p] = problems({ SOURCE: 'gopher://user:hunter2@cam/x' });
  assert.doesNotMatch(p!, /hunter2/);
  assert.match(p!, /unsupported URL scheme/);
});

test('the env file is read, the environment wins, and unknown keys are flagged with a suggestion', () => {
  const dir = emptyDir();
  writeFileSync(join(dir, '.env'), 'DETECT_FPS=7\nSCORE_THRESHOLD=0.5\n');
  const c = loadConfig({ env: { SCORE_THRESHOLD: '0.6' }, cwd: dir });
  assert.equal(c.DETECT_FPS, 7);
  assert.equal(c.SCORE_THRESHOLD, 0.6);
  const file = join(dir, 'typo.env');
  writeFileSync(file, 'DETECT_FSP=7\n');
  assert.deepEqual(problems({}, file), [`DETECT_FSP in ${file}: unknown setting (did you mean DETECT_FPS?)`]);
  assert.match(problems({}, join(dir, 'missing.env'))[0]!, /--env-file .*missing\.env: no such file/);
});

test('secrets: redacted in check-config output and read from $CREDENTIALS_DIRECTORY', () => {
  const creds = emptyDir();
  mkdirSync(creds, { recursive: true });
  writeFileSync(join(creds, 'mqtt_password'), 'from-credential\n');
  const c = load({ CREDENTIALS_DIRECTORY: creds, SOURCE: 'rtsp://admin:camsecret@10.0.0.2/live' });
  assert.equal(c.MQTT_PASSWORD, 'from-credential');
  const shown = JSON.stringify(redactedConfig(c));
  assert.doesNotMatch(shown, /from-credential|camsecret/);
  assert.match(shown, /"MQTT_PASSWORD":"<redacted>"/);
  assert.equal(load({ CREDENTIALS_DIRECTORY: creds, MQTT_PASSWORD: 'env' }).MQTT_PASSWORD, 'env');
  const [p] = problems({ MQTT_PASSWORD: 'x', MQTT_QOS: 'x' });
  assert.doesNotMatch(p!, /MQTT_PASSWORD/);
});
