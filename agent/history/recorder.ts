// Writes the history off the pipeline's path: events are queued in memory and written
// in one transaction every FLUSH_MS (or at once when FLUSH_ROWS are waiting). A database
// that cannot be opened or written (full disk, read-only file system, a damaged file) is
// reported once; the rows wait in memory, up to MAX_QUEUED (the oldest go first beyond
// it, counted), and are written when it works again, as the MQTT outbox does. A damaged
// file is set aside and a new one started. Retention runs at start and every PRUNE_MS.
import { existsSync, renameSync } from 'node:fs';
import type { Logger } from '../log.js';
import type { Pending } from './rows.js';
import { HistoryStore } from './store.js';

export const FLUSH_MS = 2000;
const FLUSH_ROWS = 500;
export const MAX_QUEUED = 20_000;
const PRUNE_MS = 3_600_000;

export interface RecorderOptions {
  file: string;
  /** Rows older than this many days are removed. */
  days: number;
  maxBytes: number;
  log: Logger;
  now?: () => number;
}

export interface RecorderStats {
  written: number;
  queued: number;
  dropped: number;
  pruned: number;
  failing: boolean;
  lastFlushMs: number;
}

export class Recorder {
  private store: HistoryStore | undefined;
  private queue: Pending[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private lastPrune = 0;
  private failing: string | undefined;
  readonly stats: RecorderStats = { written: 0, queued: 0, dropped: 0, pruned: 0, failing: false, lastFlushMs: 0 };

  constructor(private readonly options: RecorderOptions) {}

  start(): void {
    this.flush();
    this.flushTimer = setInterval(() => this.flush(), FLUSH_MS);
    this.flushTimer.unref();
  }

  add(rows: Pending[]): void {
    this.queue.push(...rows);
    const over = this.queue.length - MAX_QUEUED;
    if (over > 0) {
      this.queue.splice(0, over);
      this.stats.dropped += over;
    }
    this.stats.queued = this.queue.length;
    if (this.queue.length >= FLUSH_ROWS && !this.failing) setImmediate(() => this.flush());
  }

  /** Writes what is queued (and prunes when due); never throws. */
  flush(): void {
    const began = performance.now();
    try {
      this.store ??= this.open();
      const batch = this.queue;
      if (batch.length) {
        this.store.insert(batch);
        this.queue = [];
        this.stats.written += batch.length;
      }
      const now = this.options.now?.() ?? Date.now();
      if (now - this.lastPrune >= PRUNE_MS) {
        this.lastPrune = now;
        this.prune(now);
      }
      if (this.failing) {
        this.options.log.info({ written: batch.length }, 'history: written to disk again');
        this.failing = undefined;
      }
    } catch (err) {
      this.fail(err as Error);
    } finally {
      this.stats.queued = this.queue.length;
      this.stats.failing = Boolean(this.failing);
      this.stats.lastFlushMs = performance.now() - began;
    }
  }

  stop(): void {
    clearInterval(this.flushTimer);
    this.flush();
    if (this.queue.length) this.options.log.warn({ lost: this.queue.length, reason: this.failing }, 'history: rows not written at stop');
    this.store?.close();
    this.store = undefined;
  }

  private open(): HistoryStore {
    try {
      return HistoryStore.open(this.options.file);
    } catch (err) {
      const message = (err as Error).message;
      // Not a database, or damaged beyond opening: set aside, start again (the rows in memory are kept).
      if (existsSync(this.options.file) && /malformed|not a database|corrupt/i.test(message)) {
        const aside = `${this.options.file}.damaged-${new Date().toISOString().replace(/[:.]/g, '')}`;
        renameSync(this.options.file, aside);
        this.options.log.warn({ file: this.options.file, aside, err: message }, 'history: damaged database set aside, a new one started');
        return HistoryStore.open(this.options.file);
      }
      throw err;
    }
  }

  private prune(now: number): void {
    const before = new Date(now - this.options.days * 86_400_000).toISOString();
    const removed = this.store!.prune(before, this.options.maxBytes);
    this.stats.pruned += removed;
    if (removed) this.options.log.info({ removed, before }, 'history: old rows pruned');
  }

  private fail(err: Error): void {
    // Another process (an export) is between its reads: the rows wait for the next flush.
    if (/database is locked/.test(err.message)) return void this.options.log.debug('history: busy, written at the next flush');
    // A store that failed mid-write is reopened on the next flush.
    this.store?.close();
    this.store = undefined;
    if (this.failing) return;
    this.failing = err.message;
    this.options.log.warn(
      { file: this.options.file, err: err.message, queued: this.queue.length, max: MAX_QUEUED },
      'history: cannot write to disk; rows are kept in memory until it works again',
    );
  }
}
