// Pipe directories left by killed agents are removed; live agents' and foreign ones stay.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeStale } from '../../agent/pids.js';

test("a killed agent's pipe directory is removed; a running agent's and unrelated ones stay", () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgecam-fifo-test-'));
  try {
    const dead = spawnSync('true').pid; // has exited
    const names = [`edgecam-frames-${dead}-aB3dEf`, `edgecam-frames-${process.pid}-Xy12zW`, `edgecam-frames-1-Qw34eR`, 'edgecam-frames-notapid', 'other-123-abc'];
    for (const name of names) mkdirSync(join(dir, name));
    removeStale(dir, 'edgecam-frames-');
    assert.deepEqual(readdirSync(dir).sort(), names.slice(1).sort());
    assert.equal(existsSync(join(dir, names[0]!)), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the FFmpeg wrapper's directory of a killed agent is removed when the next one makes its own", async () => {
  const { ownTempDir } = await import('../../agent/pids.js');
  const dead = spawnSync('true').pid;
  const stale = join(tmpdir(), `edgecam-ffmpeg-${dead}-zZ9yY8`);
  mkdirSync(stale, { recursive: true });
  const own = ownTempDir('edgecam-ffmpeg-');
  try {
    assert.equal(existsSync(stale), false, 'the dead agent’s directory is gone');
    assert.match(own, new RegExp(`edgecam-ffmpeg-${process.pid}-`));
  } finally {
    rmSync(own, { recursive: true, force: true });
  }
});
