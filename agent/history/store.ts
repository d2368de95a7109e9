// The history database: one SQLite file (STATE_DIR/history.sqlite) that the `sqlite3`
// command line and every SQLite tool read. SQLite runs as WebAssembly (node-sqlite3-wasm)
// on Node's file system calls: no native build on any machine, and its rollback journal
// keeps every committed transaction through a kill or a power cut.
//
// The file is locked by a directory beside it (`history.sqlite.lock`) for the length of
// each transaction only. A process killed inside one leaves that directory behind; one
// older than STALE_LOCK_MS is taken for such a leftover and removed, and SQLite then rolls
// the interrupted transaction back from its journal.
import type { Database as DatabaseType, SQLiteValue } from 'node-sqlite3-wasm';
import { readdirSync, readlinkSync, rmdirSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { createRequire } from 'node:module';
import { setFlagsFromString } from 'node:v8';
import { COLUMNS, SCHEMA, type Row, type TableName } from './schema.js';

let sqlite: typeof import('node-sqlite3-wasm') | undefined;
/**
 * SQLite's WebAssembly, loaded when a database is first opened (an agent without history
 * never pays for it), and compiled by V8's baseline compiler only: its optimising tier
 * would hold some 30 MB more for a few milliseconds' work every two seconds (measured
 * with bench:history). The flag is the process's; SQLite is its only WebAssembly.
 */
function Database(): typeof import('node-sqlite3-wasm').Database {
  if (!sqlite) {
    setFlagsFromString('--liftoff-only');
    sqlite = createRequire(import.meta.url)('node-sqlite3-wasm') as typeof import('node-sqlite3-wasm');
  }
  return sqlite.Database;
}

/** No transaction of ours holds the lock this long: a lock older is a killed process's. */
export const STALE_LOCK_MS = 30_000;

export interface Filter {
  /** ISO 8601, inclusive. */
  from?: string;
  /** ISO 8601, exclusive. */
  to?: string;
  /** A line (crossings, stats) or zone (zone events, zone stats) name. */
  name?: string;
  className?: string;
  /** Only the newest this many rows, newest first. */
  latest?: number;
}

/** The column that places a row in time, and the one that names its line or zone. */
const TIME_COLUMN: Record<TableName, string> = { crossings: 'time', zone_events: 'time', line_stats: 'start', zone_stats: 'start', shape_changes: 'time' };
const NAME_COLUMN: Record<TableName, string> = { crossings: 'line', zone_events: 'zone', line_stats: 'line', zone_stats: 'zone', shape_changes: 'name' };

export class HistoryStore {
  private constructor(
    private readonly db: DatabaseType,
    readonly file: string,
  ) {}

  /** Opens (or creates, unless `readOnly`) the database; `busyMs` is how long a statement waits for another process's transaction. */
  static open(file: string, options: { readOnly?: boolean; busyMs?: number } = {}): HistoryStore {
    removeStaleLock(file);
    const db = new (Database())(file, { readOnly: options.readOnly ?? false, fileMustExist: options.readOnly ?? false });
    const store = new HistoryStore(db, file);
    try {
      db.exec(`PRAGMA busy_timeout = ${options.busyMs ?? 250}`);
      if (!options.readOnly) store.migrate();
    } catch (err) {
      db.close();
      throw err;
    }
    return store;
  }

  private migrate(): void {
    const version = Number(this.db.get('PRAGMA user_version')?.user_version ?? 0);
    if (version >= SCHEMA.length) return;
    // Free pages go back to the file system when old rows are pruned (set before any table exists).
    if (version === 0) this.db.exec('PRAGMA auto_vacuum = INCREMENTAL');
    this.transaction(() => {
      for (const step of SCHEMA.slice(version)) this.db.exec(step);
      this.db.exec(`PRAGMA user_version = ${SCHEMA.length}`);
    });
  }

  /** Writes rows of several tables in one transaction, and takes the evidence paths in `noEvidence` out of theirs: all of it, or none. */
  insert(rows: { table: TableName; row: Row }[], noEvidence: string[] = []): void {
    if (!rows.length && !noEvidence.length) return;
    this.transaction(() => {
      for (const path of noEvidence) for (const table of ['crossings', 'zone_events']) this.db.run(`UPDATE ${table} SET evidence = NULL WHERE evidence = ?`, [path]);
      for (const { table, row } of rows) {
        const columns = COLUMNS[table].filter((c) => row[c] !== undefined);
        this.db.run(
          `INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`,
          columns.map((c) => toValue(row[c])),
        );
      }
    });
  }

  /**
   * Removes rows older than `before` (ISO 8601), then the oldest of every table until the
   * data fits in `maxBytes`; each step is its own short transaction. Returns the rows removed.
   */
  prune(before: string, maxBytes: number): number {
    let removed = 0;
    for (const table of Object.keys(TIME_COLUMN) as TableName[]) {
      removed += this.deleteWhile(table, `${TIME_COLUMN[table]} < ?`, [before]);
    }
    for (let round = 0; round < 50 && this.dataBytes() > maxBytes; round++) {
      // A tenth of each table at a time, the oldest first.
      let step = 0;
      for (const table of Object.keys(TIME_COLUMN) as TableName[]) {
        const n = Number(this.db.get(`SELECT count(*) AS n FROM ${table}`)?.n ?? 0);
        if (n) step += this.deleteWhile(table, `id IN (SELECT id FROM ${table} ORDER BY id LIMIT ?)`, [Math.max(1, Math.ceil(n / 10))], 1);
      }
      removed += step;
      if (!step) break;
    }
    if (removed) this.db.exec('PRAGMA incremental_vacuum');
    return removed;
  }

  /** Bytes the rows take: the file's pages less those free. */
  dataBytes(): number {
    const pages = Number(this.db.get('PRAGMA page_count')?.page_count ?? 0);
    const free = Number(this.db.get('PRAGMA freelist_count')?.freelist_count ?? 0);
    const size = Number(this.db.get('PRAGMA page_size')?.page_size ?? 4096);
    return (pages - free) * size;
  }

  /** Up to `limit` rows of `table` after row id `afterId`, oldest first (with `latest`, the newest first). Each page is its own short read. */
  page(table: TableName, filter: Filter, afterId: number, limit: number): Row[] {
    const conditions: [string, SQLiteValue | undefined][] = [
      [filter.latest ? 'id < ?' : 'id > ?', filter.latest && !afterId ? Number.MAX_SAFE_INTEGER : afterId],
      [`${TIME_COLUMN[table]} >= ?`, filter.from],
      [`${TIME_COLUMN[table]} < ?`, filter.to],
      [`${NAME_COLUMN[table]} = ?`, filter.name],
      ['class_name = ?', table === 'zone_stats' || table === 'shape_changes' ? undefined : filter.className],
    ];
    const used = conditions.filter(([, v]) => v !== undefined);
    const order = filter.latest ? 'DESC' : '';
    return this.db.all(`SELECT ${COLUMNS[table].join(', ')} FROM ${table} WHERE ${used.map(([c]) => c).join(' AND ')} ORDER BY id ${order} LIMIT ?`, [
      ...used.map(([, v]) => v!),
      limit,
    ]) as Row[];
  }

  /** A consistent copy of the database into `target` (a new file), as one read transaction: SQLite's VACUUM INTO. */
  backup(target: string): void {
    this.db.run('VACUUM INTO ?', [target]);
  }

  count(table: TableName): number {
    return Number(this.db.get(`SELECT count(*) AS n FROM ${table}`)?.n ?? 0);
  }

  integrity(): string {
    return (this.db.all('PRAGMA integrity_check') as { integrity_check: string }[]).map((r) => r.integrity_check).join('\n');
  }

  close(): void {
    if (this.db.isOpen) this.db.close();
  }

  private deleteWhile(table: TableName, condition: string, values: SQLiteValue[], rounds = 1000): number {
    let removed = 0;
    for (let i = 0; i < rounds; i++) {
      const { changes } = this.db.run(`DELETE FROM ${table} WHERE id IN (SELECT id FROM ${table} WHERE ${condition} LIMIT 5000)`, values);
      removed += changes;
      if (changes < 5000) break;
    }
    return removed;
  }

  private transaction(work: () => void): void {
    this.db.exec('BEGIN IMMEDIATE');
    try {
      work();
      this.db.exec('COMMIT');
    } catch (err) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      throw err;
    }
  }
}

function toValue(v: Row[string]): SQLiteValue {
  if (v === undefined || v === null) return null;
  if (Array.isArray(v)) return JSON.stringify(v);
  return v;
}

/**
 * Removes the lock directory a killed process left behind (see the top of this file): one
 * older than any transaction of ours, while no other process has the database open (a
 * reader stopped in the middle of a read holds its lock as long as it likes).
 */
export function removeStaleLock(file: string, now = Date.now()): boolean {
  const lock = `${file}.lock`;
  try {
    if (now - statSync(lock).mtimeMs < STALE_LOCK_MS) return false;
    if (openElsewhere(file)) return false;
    rmdirSync(lock);
    return true;
  } catch {
    return false;
  }
}

/** Whether another process has `file` open (Linux: /proc/<pid>/fd; elsewhere, unknown: false). */
export function openElsewhere(file: string): boolean {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid);
  } catch {
    return false;
  }
  const target = resolve(file);
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // gone, or not ours to read
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) === target) return true;
      } catch {
        // closed meanwhile
      }
    }
  }
  return false;
}
