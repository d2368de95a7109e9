// The history database in tests.
import { existsSync, utimesSync } from 'node:fs';
import { STALE_LOCK_MS } from '../../agent/history/store.js';

/** A lock a killed writer left is taken for stale only once it is old enough: ages it, as time would. */
export function ageLock(file: string): void {
  if (!existsSync(`${file}.lock`)) return;
  const old = (Date.now() - STALE_LOCK_MS - 1000) / 1000;
  utimesSync(`${file}.lock`, old, old);
}
