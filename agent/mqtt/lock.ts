// One agent per STATE_DIR: two agents on one outbox would write the same sequence
// numbers. The lock is a symbolic link whose target is the owner's pid: created
// atomically, and it needs no data block, so a full disk can still be locked. A lock
// whose process is gone (killed before it could remove it) is taken over.
import { readlinkSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import { processExists } from '../pids.js';

const LOCK = 'edgecam.lock';

/** Takes the lock on `dir`; returns the function that releases it. */
export function lockStateDir(dir: string): () => void {
  const path = join(dir, LOCK);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      symlinkSync(String(process.pid), path);
      return () => rmSync(path, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number(readlinkSync(path));
      if (Number.isSafeInteger(owner) && owner > 0 && owner !== process.pid && processExists(owner)) {
        throw new UserError(`STATE_DIR=${dir}: in use by another edgecam (pid ${owner}); give each agent its own STATE_DIR, or stop the other one`);
      }
      rmSync(path, { force: true }); // stale: its owner is gone
    }
  }
  throw new UserError(`STATE_DIR=${dir}: could not take its lock file ${path}; check who else writes there`);
}
