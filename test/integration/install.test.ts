// The installer and uninstaller, run into a temporary DESTDIR (no systemctl is called there).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { PACKAGE_ROOT } from '../../agent/paths.js';
import { hasBinary } from '../helpers/net.js';
import { FIXTURES } from '../helpers/paths.js';

const script = (name: string) => join(PACKAGE_ROOT, 'scripts', name);

function tree(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else {
        const s = statSync(p);
        out.set(relative(root, p), `${s.mode.toString(8)} ${s.size} ${s.mtimeMs} ${createHash('sha256').update(readFileSync(p)).digest('hex')}`);
      }
    }
  };
  walk(root);
  return out;
}

function run(cmd: string, args: string[], env: Record<string, string>) {
  const r = spawnSync('bash', [cmd, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 300_000 });
  assert.equal(r.status, 0, r.stderr + r.stdout);
  return r.stdout;
}

describe('installer', { timeout: 360_000 }, () => {
  test('shellcheck passes on every script', { skip: hasBinary('shellcheck') ? false : 'shellcheck is not installed' }, () => {
    const scripts = [
      ...readdirSync(join(PACKAGE_ROOT, 'scripts'))
        .filter((f) => f.endsWith('.sh'))
        .map(script),
      join(PACKAGE_ROOT, '.ci', 'run'),
    ];
    const r = spawnSync('shellcheck', scripts, { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout);
  });

  test('a release tarball installs with no build step and production dependencies only, as on a Pi', () => {
    const out = run(script('release.sh'), [], {});
    const tarball = /release: (\S+\.tar\.gz)/.exec(out)![1]!;
    const dir = mkdtempSync(join(tmpdir(), 'edgecam-release-'));
    try {
      assert.equal(spawnSync('tar', ['xzf', tarball, '-C', dir]).status, 0);
      const [name] = readdirSync(dir);
      const unpacked = join(dir, name!);
      assert.ok(existsSync(join(unpacked, 'dist/agent/cli.js')), 'the built JavaScript ships');
      assert.ok(!existsSync(join(unpacked, 'test')) && !existsSync(join(unpacked, 'dist/test')) && !existsSync(join(unpacked, 'node_modules')));
      const dest = mkdtempSync(join(tmpdir(), 'edgecam-install-'));
      const installed = run(join(unpacked, 'scripts/install.sh'), ['--instance', 'gate', '--no-apt'], { DESTDIR: dest });
      assert.doesNotMatch(installed, /building/, 'no build on the box');
      const detect = spawnSync(process.execPath, [join(dest, 'opt/edgecam/dist/agent/cli.js'), 'detect', join(FIXTURES, 'eagle.jpg')], { encoding: 'utf8', cwd: dest });
      assert.equal(detect.status, 0, detect.stderr);
      assert.match(detect.stdout, /"class_name":"bird"/);
    } finally {
      rmSync(tarball, { force: true });
    }
  });

  test('--help prints the usage, not the script', () => {
    const help = run(script('install.sh'), ['--help'], {});
    assert.match(help, /^Installs edgecam as a systemd service/);
    assert.match(help, /sudo scripts\/install\.sh \[--instance NAME\]/);
    assert.doesNotMatch(help, /set -euo|^#/m);
  });

  test("npm keeps every dependency's install script off, by a setting it knows (no warning)", () => {
    const r = spawnSync('npm', ['config', 'get', 'ignore-scripts'], { cwd: PACKAGE_ROOT, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'true');
    assert.doesNotMatch(r.stderr, /npm warn/i);
  });

  test('installs into DESTDIR, runs from there with production dependencies only, and a second run changes nothing', () => {
    const dest = mkdtempSync(join(tmpdir(), 'edgecam-install-'));
    const out1 = run(script('install.sh'), ['--instance', 'front', '--no-apt'], { DESTDIR: dest });
    assert.match(out1, /created .*\/etc\/edgecam\/front\.env/);
    const prefix = join(dest, 'opt', 'edgecam');
    for (const f of [
      'dist/agent/cli.js',
      'models/centernet.onnx',
      'models/centernet-int8.onnx',
      'models/sample.mp4',
      'agent/viewer/public/app.js',
      'node_modules/onnxruntime-node/package.json',
      '.npmrc',
    ])
      assert.ok(existsSync(join(prefix, f)), f);
    assert.ok(!existsSync(join(prefix, 'node_modules', 'typescript')), 'no dev dependencies');
    assert.ok(!existsSync(join(prefix, 'dist', 'test')), 'no tests');
    assert.ok(!existsSync(join(prefix, 'models', 'distill')), 'not the distilled float weights the INT8 model is built from');
    // Only this machine's native onnxruntime library, and the installer says where and how big.
    const ort = join(prefix, 'node_modules/onnxruntime-node/bin/napi-v6');
    assert.deepEqual(readdirSync(ort), ['linux']);
    assert.deepEqual(readdirSync(join(ort, 'linux')), [process.arch]);
    assert.match(out1, new RegExp(`installing into ${dest} \\(as /opt/edgecam there\\)`));
    assert.match(out1, new RegExp(`installing production dependencies in ${dest}/opt/edgecam`));
    const size = /installed size: (\d+)M/.exec(out1)?.[1];
    assert.ok(size && Number(size) < 200, `installed size ${size} MB`);
    const unit = readFileSync(join(dest, 'etc/systemd/system/edgecam@.service'), 'utf8');
    assert.match(unit, /^ExecStart=\/usr\/bin\/node \/opt\/edgecam\/dist\/agent\/cli\.js run$/m);
    const env = join(dest, 'etc/edgecam/front.env');
    assert.equal(statSync(env).mode & 0o777, 0o600);
    // A new env file gets a random token, and the installer says how to open the viewer with it.
    const token = /^HTTP_TOKEN=([0-9a-f]{32})$/m.exec(readFileSync(env, 'utf8'))?.[1];
    assert.ok(token, 'HTTP_TOKEN written into the new env file');
    assert.match(out1, new RegExp(`viewer: http://\\S+:8080/\\?token=${token}`));
    const check = spawnSync(process.execPath, [join(PACKAGE_ROOT, 'dist/agent/cli.js'), 'check-config', '--env-file', env], { encoding: 'utf8', cwd: dest });
    assert.equal(check.status, 0, check.stderr);
    assert.match(check.stdout, /"HTTP_BIND": "0\.0\.0\.0"/, 'with the token the viewer listens on the network');
    assert.doesNotMatch(check.stdout, new RegExp(token), 'the token is redacted');

    // The installed release works on its own.
    const detect = spawnSync(process.execPath, [join(prefix, 'dist/agent/cli.js'), 'detect', join(FIXTURES, 'eagle.jpg')], { encoding: 'utf8', cwd: dest });
    assert.equal(detect.status, 0, detect.stderr);
    assert.match(detect.stdout, /"class_name":"bird"/);

    // The user edits their settings; a second run must not touch them, nor anything else.
    writeFileSync(env, 'SOURCE=rtsp://cam/stream\n', { mode: 0o600 });
    const before = tree(dest);
    const out2 = run(script('install.sh'), ['--instance', 'front', '--no-apt'], { DESTDIR: dest });
    assert.match(out2, /done \(0 changes\)/);
    assert.deepEqual(tree(dest), before);
    assert.equal(readFileSync(env, 'utf8'), 'SOURCE=rtsp://cam/stream\n');

    // More cameras: each new instance gets ports no other one has (front, edited above, takes the defaults).
    writeFileSync(join(dest, 'etc/edgecam/side.env'), 'HTTP_PORT=8081\n', { mode: 0o600 });
    const out3 = run(script('install.sh'), ['--instance', 'back', '--no-apt'], { DESTDIR: dest });
    const back = readFileSync(join(dest, 'etc/edgecam/back.env'), 'utf8');
    assert.match(back, /^HTTP_PORT=8082$/m);
    assert.match(back, /^MQTT_EMBEDDED_PORT=1884$/m);
    assert.match(out3, /viewer: http:\/\/\S+:8082\/\?token=/);
    run(script('install.sh'), ['--instance', 'garage', '--no-apt'], { DESTDIR: dest });
    assert.match(readFileSync(join(dest, 'etc/edgecam/garage.env'), 'utf8'), /^HTTP_PORT=8083$/m);

    // Uninstall keeps settings; --purge removes them.
    run(script('uninstall.sh'), [], { DESTDIR: dest });
    assert.ok(!existsSync(prefix));
    assert.ok(!existsSync(join(dest, 'etc/systemd/system/edgecam@.service')));
    assert.ok(existsSync(env));
    run(script('uninstall.sh'), ['--purge'], { DESTDIR: dest });
    assert.ok(!existsSync(join(dest, 'etc/edgecam')));
  });
});
