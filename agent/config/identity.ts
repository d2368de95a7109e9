// Default identities of a box, unique in a fleet and stable across restarts.
//
// DEVICE_ID names the box for people: the host name, plus the instance (the systemd
// unit's edgecam@<instance>) when there is one. Host names repeat (every Raspberry Pi OS
// image starts as "raspberrypi"), so the MQTT client id and Home Assistant's unique ids
// also carry a machine tag: six hex digits of a keyed hash of /etc/machine-id and
// STATE_DIR (the machine id itself is never sent, as machine-id(5) asks; STATE_DIR tells
// apart two agents on one box, which never share one). A system without a machine id
// gets a random id kept in STATE_DIR.
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

const MACHINE_ID_FILES = ['/etc/machine-id', '/var/lib/dbus/machine-id'];
const TAG_FILE = 'machine-tag';

/** Letters, digits, - and _ only, as client ids and Home Assistant object ids want. */
function sanitize(text: string): string {
  return text.replace(/[^A-Za-z0-9_-]/g, '-').replace(/^-+|-+$/g, '');
}

export function defaultDeviceId(instance: string | undefined, host = hostname()): string {
  const name = sanitize(host).slice(0, 40) || 'edgecam';
  return instance && instance !== name ? `${name}-${instance}`.slice(0, 64) : name;
}

/** Six hex digits that differ between machines (and state directories) and stay the same on one. */
export function machineTag(stateDir: string): string {
  for (const file of MACHINE_ID_FILES) {
    const id = read(file);
    if (id && /^[0-9a-f]{32}$/.test(id)) return hash(`${id}\0${stateDir}`);
  }
  const kept = read(join(stateDir, TAG_FILE));
  if (kept && /^[0-9a-f]{6}$/.test(kept)) return kept;
  const tag = randomBytes(3).toString('hex');
  try {
    writeFileSync(join(stateDir, TAG_FILE), `${tag}\n`, { mode: 0o600 });
  } catch {
    // A STATE_DIR that cannot be written is reported by the config checks; the tag is then per run.
  }
  return tag;
}

export function defaultClientId(deviceId: string, tag: string): string {
  return `edgecam-${deviceId}-${tag}`;
}

function hash(machineId: string): string {
  return createHash('sha256').update(`edgecam\0${machineId}`).digest('hex').slice(0, 6);
}

function read(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}
