// Things that belong to a process: a check that a pid still runs, and temporary
// directories named after their owner's pid, so that those left by an agent killed
// before it could remove them (SIGKILL, power loss without a tmpfs) are removed by the
// next one.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The process exists (EPERM: it does, as another user's). */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes the directories `<prefix><pid>-*` in `dir` whose process no longer exists. */
export function removeStale(dir: string, prefix: string): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const pid = name.startsWith(prefix) ? Number(/^(\d+)-/.exec(name.slice(prefix.length))?.[1]) : NaN;
    if (!pid || pid === process.pid || processExists(pid)) continue;
    rmSync(join(dir, name), { recursive: true, force: true });
  }
}

/** A new private temporary directory `<prefix><pid>-XXXXXX`, after removing the stale ones of `prefix`. */
export function ownTempDir(prefix: string): string {
  removeStale(tmpdir(), prefix);
  return mkdtempSync(join(tmpdir(), `${prefix}${process.pid}-`));
}
