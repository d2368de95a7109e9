// Fleet identities: `edgecam check-config` on simulated hosts. Each run gets its own UTS
// namespace (its own host name) and mount namespace (its own /etc/machine-id, bound over
// the real one), as two boxes installed from the same image would have.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { CLI } from '../helpers/paths.js';

const dir = mkdtempSync(join(tmpdir(), 'edgecam-identity-'));
const namespaces = spawnSync('unshare', ['-r', '-u', '-m', 'true']).status === 0;

interface Identity {
  DEVICE_ID: string;
  MQTT_CLIENT_ID: string;
  MACHINE_TAG: string;
}

function onHost(host: string, machineId: string, env: Record<string, string> = {}): Identity {
  const idFile = join(dir, `${host}-${machineId}`);
  writeFileSync(idFile, `${machineId}\n`);
  const script = `hostname "$1" && mount --bind "$2" /etc/machine-id && exec "$3" "$4" check-config`;
  const r = spawnSync('unshare', ['-r', '-u', '-m', 'sh', '-c', script, 'sh', host, idFile, process.execPath, CLI], {
    encoding: 'utf8',
    cwd: dir,
    env: { PATH: process.env.PATH, STATE_DIR: join(dir, 'state'), ...env },
  });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Identity;
}

const A = '0123456789abcdef0123456789abcdef';
const B = 'fedcba9876543210fedcba9876543210';

describe('default identities', { skip: namespaces ? false : 'unshare -r -u -m is not permitted here' }, () => {
  test('two hosts installed with the defaults (instance "camera") get different client ids and device ids', () => {
    const a = onHost('gate', A, { INSTANCE: 'camera' });
    const b = onHost('yard', B, { INSTANCE: 'camera' });
    assert.equal(a.DEVICE_ID, 'gate-camera');
    assert.equal(b.DEVICE_ID, 'yard-camera');
    assert.notEqual(a.MQTT_CLIENT_ID, b.MQTT_CLIENT_ID);
    assert.match(a.MQTT_CLIENT_ID, /^edgecam-gate-camera-[0-9a-f]{6}$/);
  });

  test("two boxes that kept the image's host name still get different client ids (and Home Assistant ids, from the machine tag)", () => {
    const a = onHost('raspberrypi', A, { INSTANCE: 'camera' });
    const b = onHost('raspberrypi', B, { INSTANCE: 'camera' });
    assert.equal(a.DEVICE_ID, b.DEVICE_ID);
    assert.notEqual(a.MACHINE_TAG, b.MACHINE_TAG);
    assert.notEqual(a.MQTT_CLIENT_ID, b.MQTT_CLIENT_ID);
    // The tag is a keyed hash: the machine id itself never leaves the box.
    assert.ok(!a.MQTT_CLIENT_ID.includes(A.slice(0, 6)));
  });

  test('the same box gets the same identities on every start; set values win', () => {
    assert.deepEqual(onHost('gate', A, { INSTANCE: 'front' }), onHost('gate', A, { INSTANCE: 'front' }));
    const set = onHost('gate', A, { INSTANCE: 'front', DEVICE_ID: 'driveway', MQTT_CLIENT_ID: 'edgecam-driveway' });
    assert.equal(set.DEVICE_ID, 'driveway');
    assert.equal(set.MQTT_CLIENT_ID, 'edgecam-driveway');
  });
});
