import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, redactedConfig, sourceKind } from '../../agent/config/index.js';
import { BUNDLED_MODEL, BUNDLED_MODELS, BUNDLED_SAMPLE } from '../../agent/paths.js';
import { autoThreads, decoderThreads } from '../../agent/cores.js';

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

test('MODEL takes a bundled model by name, or a path', () => {
  assert.equal(load({ MODEL: 'centernet' }).MODEL, BUNDLED_MODELS['centernet-fp32'], 'the float model, one setting away');
  assert.equal(load({ MODEL: 'centernet-fp32' }).MODEL, BUNDLED_MODELS['centernet-fp32']);
  assert.equal(load({ MODEL: 'centernet-int8' }).MODEL, BUNDLED_MODELS['centernet-int8']);
  assert.equal(load({ MODEL: BUNDLED_MODELS['centernet-int8'] }).MODEL, BUNDLED_MODELS['centernet-int8']);
  assert.throws(
    () => load({ MODEL: 'centernet-int4' }),
    (err: Error) =>
      /MODEL="centernet-int4": no such file \(give a bundled model's name, centernet, centernet-fp32, centernet-int8, or the path of an \.onnx model/.test(err.message),
  );
});

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
  assert.match(c.MQTT_CLIENT_ID, /^edgecam-[A-Za-z0-9_-]+-[0-9a-f]{6}$/);
  const state = mkdtempSync(join(tmpdir(), 'edgecam-state-'));
  const id = load({ STATE_DIR: state }).MQTT_CLIENT_ID;
  assert.equal(load({ STATE_DIR: state }).MQTT_CLIENT_ID, id, 'the same box and STATE_DIR keep their client id');
  assert.notEqual(id, c.MQTT_CLIENT_ID, 'two agents on one box (two state directories) get two client ids');
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
  // A mistake in another setting that quotes a URL: its credentials stay hidden too.
  const shownProblems = problems({ MQTT_PASSWORD: 'hunter2', MQTT_QOS: 'x', MQTT_URL: 'ftp://edgecam:hunter2@broker' });
  assert.equal(shownProblems.length, 2, shownProblems.join('\n'));
  assert.match(shownProblems.join('\n'), /MQTT_URL="ftp:\/\/<redacted>@broker"/);
  assert.doesNotMatch(shownProblems.join('\n'), /hunter2/);
});

test('VIEWER_PORT, VIEWER_BIND and VIEWER_TOKEN are read as HTTP_PORT, HTTP_BIND and HTTP_TOKEN, with a notice; the new names win', async () => {
  const { configNotices } = await import('../../agent/config/index.js');
  const c = load({ VIEWER_PORT: '8181', VIEWER_BIND: '127.0.0.1', VIEWER_TOKEN: 'old-token' });
  assert.equal(c.HTTP_PORT, 8181);
  assert.equal(c.HTTP_BIND, '127.0.0.1');
  assert.equal(c.HTTP_TOKEN, 'old-token');
  assert.deepEqual(
    configNotices(c).map((n) => n.split(' ')[0]),
    ['VIEWER_PORT', 'VIEWER_BIND', 'VIEWER_TOKEN'],
  );
  assert.match(configNotices(c)[0]!, /VIEWER_PORT is now HTTP_PORT/);
  assert.equal(load({ VIEWER_PORT: '8181', HTTP_PORT: '8282' }).HTTP_PORT, 8282);
  const dir = emptyDir();
  writeFileSync(join(dir, 'edgecam.env'), 'VIEWER_PORT=9191\nVIEWER_TOKEN=from-file\n');
  const fromFile = loadConfig({ env: { HTTP_TOKEN: 'from-env' }, cwd: dir, envFile: join(dir, 'edgecam.env') });
  assert.equal(fromFile.HTTP_PORT, 9191);
  assert.equal(fromFile.HTTP_TOKEN, 'from-env', 'the environment wins over the env file');
  assert.equal(JSON.stringify(redactedConfig(fromFile)).includes('from-'), false, 'the token is a secret under its new name');
});

test('numbers are decimal: 0x1, 1e, Infinity are refused', () => {
  for (const value of ['0x1', '1e', 'Infinity', '0b1']) assert.match(problems({ DETECT_FPS: value })[0]!, /^DETECT_FPS=.*expected a number/, value);
  assert.equal(load({ DETECT_FPS: ' 2.5 ' }).DETECT_FPS, 2.5);
});

test('secure by default: the HTTP server stays on this machine without a token, and the network needs one or an explicit opt-out', () => {
  assert.equal(load({}).HTTP_BIND, '127.0.0.1');
  assert.equal(load({ HTTP_TOKEN: 'a-long-secret' }).HTTP_BIND, '0.0.0.0');
  assert.equal(load({ HTTP_BIND: '127.0.0.1', HTTP_TOKEN: 'a-long-secret' }).HTTP_BIND, '127.0.0.1');
  const [problem, ...more] = problems({ HTTP_BIND: '0.0.0.0' });
  assert.deepEqual(more, []);
  assert.match(problem!, /^HTTP_BIND=0\.0\.0\.0: would show the camera to the network without a token; set HTTP_TOKEN .* or HTTP_ALLOW_UNAUTHENTICATED=true/);
  assert.equal(load({ HTTP_BIND: '0.0.0.0', HTTP_ALLOW_UNAUTHENTICATED: 'true' }).HTTP_BIND, '0.0.0.0');
  assert.equal(load({ HTTP_BIND: '0.0.0.0', HTTP_ENABLED: 'false' }).HTTP_BIND, '0.0.0.0', 'no server, nothing exposed');
});

test('an env file line that is not NAME=value is reported with its file and line, not skipped', () => {
  const dir = emptyDir();
  const file = join(dir, 'edgecam.env');
  writeFileSync(file, '# settings\nDETECT_FPS 5\nSCORE_THRESHOLD=0.4\n\nMQTT_PASSWORD="two\nlines"\nexport CLASSES=person\nSPEED_UNIT\n');
  assert.deepEqual(problems({}, file), [`${file}:2: expected NAME=value (or a # comment)`, `${file}:8: expected NAME=value (or a # comment)`]);
});

test('lavfi: sources are test patterns only, unless SOURCE_LAVFI_UNRESTRICTED=true', () => {
  assert.equal(load({ SOURCE: 'lavfi:testsrc2=size=1280x720:rate=15' }).SOURCE_KIND, 'lavfi');
  assert.equal(load({ SOURCE: 'lavfi:color=c=red:s=320x240' }).SOURCE_KIND, 'lavfi');
  for (const source of [
    'lavfi:testsrc2,drawtext=textfile=/etc/shadow',
    'lavfi:movie=/etc/passwd',
    'lavfi:life=filename=/etc/shadow',
    'lavfi:color;[in]metadata=mode=print:file=/tmp/x',
  ]) {
    const [p, ...more] = problems({ SOURCE: source });
    assert.deepEqual(more, [], source);
    assert.match(p!, /^SOURCE=.*: only one test-pattern filter is accepted .*SOURCE_LAVFI_UNRESTRICTED=true/, source);
  }
  assert.equal(load({ SOURCE: 'lavfi:testsrc2,hflip', SOURCE_LAVFI_UNRESTRICTED: 'true' }).SOURCE_KIND, 'lavfi');
});

test('a STATE_DIR the agent cannot create or write is one line, not a hang or a stack trace', () => {
  for (const dir of ['/proc/edgecam-state', '/sys/edgecam-state', '/dev/null/state']) {
    const [p, ...more] = problems({ STATE_DIR: dir });
    assert.deepEqual(more, [], dir);
    assert.match(p!, new RegExp(`^STATE_DIR="${dir}": cannot use it as a writable directory \\(E[A-Z]+\\); give one`), dir);
  }
});

test('remote commands take decimal numbers only, as settings do', async () => {
  const { runCommand } = await import('../../agent/commands/index.js');
  const applied: unknown[] = [];
  const apply = { score_threshold: (v: number) => applied.push(v), detect_fps: (v: number) => applied.push(v), classes: () => {}, paused: () => {} };
  assert.equal(runCommand('detect_fps', '0x1', apply).ok, false);
  assert.equal(runCommand('score_threshold', '1e-1', apply).ok, true);
  assert.equal(runCommand('detect_fps', '120', apply).ok, true, 'the same range as DETECT_FPS');
  assert.equal(runCommand('detect_fps', '121', apply).ok, false);
  assert.deepEqual(applied, [0.1, 120]);
});

test("the model manifest's scoreThreshold and nmsIou are the defaults; the settings win", () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgecam-manifest-'));
  const model = join(dir, 'm.onnx');
  writeFileSync(model, 'not read by the config');
  const manifest = JSON.parse(readFileSync(BUNDLED_MODEL.replace(/\.onnx$/, '.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(dir, 'm.json'), JSON.stringify({ ...manifest, labels: undefined, scoreThreshold: 0.55, nmsIou: 0.6 }));
  const c = load({ MODEL: model });
  assert.equal(c.SCORE_THRESHOLD, 0.55);
  assert.equal(c.NMS_IOU, 0.6);
  const set = load({ MODEL: model, SCORE_THRESHOLD: '0.4', NMS_IOU: '0.5' });
  assert.equal(set.SCORE_THRESHOLD, 0.4);
  assert.equal(set.NMS_IOU, 0.5);
  assert.equal(load({}).SCORE_THRESHOLD, 0.3, "the bundled model's manifest: 0.3, as measured (README: Counting and zones)");
});

test('DETECT_THREADS=0 shares the cores among the systemd instances configured on the box', () => {
  const etc = emptyDir();
  for (const name of ['gate', 'yard', 'door']) writeFileSync(join(etc, `${name}.env`), 'SOURCE=rtsp://127.0.0.1/x\n');
  writeFileSync(join(etc, 'notes.txt'), '');
  assert.equal(autoThreads({ INSTANCE: 'gate' }, 4, etc), 1, 'three instances on four cores');
  assert.equal(autoThreads({ INSTANCE: 'gate' }, 8, etc), 2);
  assert.equal(autoThreads({}, 4, etc), 4, 'not an instance: every core');
  assert.equal(autoThreads({ INSTANCE: 'gate' }, 4, join(etc, 'missing')), 4, 'no config directory: every core');
  // FFmpeg's decoder follows the same share, and keeps its own choice when the agent has the box.
  assert.equal(decoderThreads({ INSTANCE: 'gate', EDGECAM_CONFIG_DIR: etc }, 2), 1);
  assert.equal(decoderThreads({ INSTANCE: 'gate', EDGECAM_CONFIG_DIR: etc }, 8), 2);
  assert.equal(decoderThreads({ EDGECAM_CONFIG_DIR: etc }, 2), undefined, 'not an instance: FFmpeg decides');
});

test('SPEED_TRAPS: two lines of LINES and a distance; each mistake named', () => {
  const lines = 'entry:100,700;100,20|exit:600,700;600,20';
  assert.deepEqual(load({ LINES: lines, SPEED_TRAPS: 'lane:entry,exit,45' }).ANALYTICS.traps, [{ name: 'lane', first: 'entry', second: 'exit', metres: 45 }]);
  assert.match(problems({ LINES: lines, SPEED_TRAPS: 'lane:entry,exit' }).join('\n'), /SPEED_TRAPS.*"lane:entry,exit": expected name:first,second,metres/);
  assert.match(problems({ LINES: lines, SPEED_TRAPS: 'lane:entry,gate,45' }).join('\n'), /SPEED_TRAPS: lane: no line "gate" in LINES \(lines: entry, exit\)/);
  assert.match(problems({ LINES: lines, SPEED_TRAPS: 'lane:exit,exit,45' }).join('\n'), /two different lines needed/);
  assert.match(problems({ LINES: lines, SPEED_TRAPS: 'lane:entry,exit,0' }).join('\n'), /0 m between the lines/);
});
