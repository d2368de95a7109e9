// Writes the history off the pipeline's path: events are queued in memory and written
// in one transaction every FLUSH_MS (or at once when FLUSH_ROWS are waiting). A database
// that cannot be opened or written (full disk, read-only file system, a damaged file) is
// reported once; the rows wait in memory, up to MAX_QUEUED (the oldest go first beyond
// it, counted), and are written when it works again, as the MQTT outbox does. A damaged
// file, found at open or by a write later, is set aside with its journal and a new one
// started; the rows in memory go into it. A busy database (another program between its
// reads) is tried again at the next flush; a lock left by a killed program is cleared
// there too, and a lock that stays is warned about. Retention runs at start and every PRUNE_MS.
import { existsSync, renameSync } from 'node:fs';
import type { Logger } from '../log.js';
import type { Pending } from './rows.js';
import { HistoryStore, removeStaleLock } from './store.js';

export const FLUSH_MS = 2000;
const FLUSH_ROWS = 500;
export const MAX_QUEUED = 20_000;
const PRUNE_MS = 3_600_000;
/** Busy flushes in a row (FLUSH_MS apart) before a warning: a lock held this long is not a reader between pages. */
export const BUSY_WARN = 5;

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
  /** Flushes that found the database locked by another program. */
  busy: number;
  /** Locks left by a killed program, cleared. */
  staleLocks: number;
  /** Damaged files set aside. */
  damaged: number;
}

export class Recorder {
  private store: HistoryStore | undefined;
  private queue: Pending[] = [];
  /** Evidence paths whose photo was never made, to be taken out of rows already written. */
  private noEvidence: string[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private lastPrune = 0;
  private failing: string | undefined;
  private busyInRow = 0;
  readonly stats: RecorderStats = { written: 0, queued: 0, dropped: 0, pruned: 0, failing: false, lastFlushMs: 0, busy: 0, staleLocks: 0, damaged: 0 };

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

  /** A photo that was never made: its path leaves the row (still waiting here, or written). */
  clearEvidence(path: string): void {
    const waiting = this.queue.find((p) => p.row.evidence === path);
    if (waiting) waiting.row.evidence = undefined;
    else this.noEvidence.push(path);
  }

  /** Writes what is queued (and prunes when due); never throws. */
  flush(): void {
    const began = performance.now();
    try {
      this.store ??= this.open();
      const batch = this.queue;
      if (batch.length || this.noEvidence.length) {
        this.store.insert(batch, this.noEvidence);
        this.queue = [];
        this.noEvidence = [];
        this.stats.written += batch.length;
      }
      const now = this.options.now?.() ?? Date.now();
      if (now - this.lastPrune >= PRUNE_MS) {
        this.lastPrune = now;
        this.prune(now);
      }
      if (this.failing || this.busyInRow >= BUSY_WARN) {
        this.options.log.info({ written: batch.length }, 'history: written to disk again');
        this.failing = undefined;
      }
      this.busyInRow = 0;
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
      // Not a database, or damaged beyond opening: set aside, start again (the rows in memory are kept).
      if (!existsSync(this.options.file) || !DAMAGED.test((err as Error).message)) throw err;
      this.setAside((err as Error).message);
      return HistoryStore.open(this.options.file);
    }
  }

  /** Moves a damaged file away with its journal (which would otherwise be rolled into the new file), once warned. */
  private setAside(reason: string): void {
    this.store?.close();
    this.store = undefined;
    const { file, log } = this.options;
    const aside = `${file}.damaged-${new Date().toISOString().replace(/[:.]/g, '')}`;
    renameSync(file, aside);
    if (existsSync(`${file}-journal`)) renameSync(`${file}-journal`, `${aside}-journal`);
    this.stats.damaged++;
    log.warn({ file, aside, err: reason, queued: this.queue.length }, 'history: damaged database set aside, a new one started');
  }

  private prune(now: number): void {
    const before = new Date(now - this.options.days * 86_400_000).toISOString();
    const removed = this.store!.prune(before, this.options.maxBytes);
    this.stats.pruned += removed;
    if (removed) this.options.log.info({ removed, before }, 'history: old rows pruned');
  }

  private fail(err: Error): void {
    if (/database is locked/.test(err.message)) return this.busy();
    if (existsSync(this.options.file) && DAMAGED.test(err.message)) {
      // Damage found by a write: a new file at once, and the rows waiting go into it.
      try {
        this.setAside(err.message);
        setImmediate(() => this.flush());
        return;
      } catch (aside) {
        err = aside as Error;
      }
    }
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

  /**
   * Another program holds the database: an export between its pages, tried again at the
   * next flush; or a lock left by a killed one (old, and no other program has the file
   * open), cleared at once; or a lock that stays, warned about after BUSY_WARN flushes.
   */
  private busy(): void {
    this.stats.busy++;
    this.busyInRow++;
    const { file, log } = this.options;
    if (removeStaleLock(file)) {
      this.stats.staleLocks++;
      log.warn({ file, lock: `${file}.lock` }, 'history: a lock left by a killed program was cleared; writing again');
      setImmediate(() => this.flush());
      return;
    }
    if (this.busyInRow === BUSY_WARN)
      log.warn(
        { file, lock: `${file}.lock`, seconds: (BUSY_WARN * FLUSH_MS) / 1000, queued: this.queue.length },
        'history: the database stays locked by another program; rows wait in memory (a program reading it read-write? see docs/history.md)',
      );
    else log.debug('history: busy, written at the next flush');
  }
}

const DAMAGED = /malformed|not a database|corrupt/i;
