// The history as CSV or JSON, for `edgecam export` and the /api/*.csv|json routes. Rows
// are read a page at a time (each page its own short read, so the agent's writes go on
// between them) and written as they come: an export of a year holds one page in memory.
import { resolve } from 'node:path';
import { once } from 'node:events';
import { existsSync, statSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { UsageError, UserError } from '../errors.js';
import { COLUMNS, EXPORTS, type Row, type TableName } from './schema.js';
import { HistoryStore, type Filter } from './store.js';

const PAGE = 500;
export const FORMATS = ['csv', 'json'] as const;
export type Format = (typeof FORMATS)[number];

export interface ExportRequest {
  table: TableName;
  format: Format;
  filter: Filter;
}

/** What to export, from `kind`, `format` and the filter's values (command-line options or query parameters); a mistake is a UserError naming it. */
export function exportRequest(kind: string | undefined, format: string | undefined, values: Record<string, string | undefined>): ExportRequest {
  // Own keys only: "constructor" and the other names on Object's prototype are not tables.
  const table = kind !== undefined && Object.hasOwn(EXPORTS, kind) ? EXPORTS[kind] : undefined;
  if (!table) throw new UsageError(`export: "${kind ?? ''}" is not something recorded; choose one of ${Object.keys(EXPORTS).join(', ')}`);
  if (!FORMATS.includes(format as Format)) throw new UserError(`export: format "${format}" is not one of ${FORMATS.join(', ')}`);
  const time = (key: 'from' | 'to') => {
    const v = values[key];
    if (v === undefined || v === '') return undefined;
    const t = new Date(/^\d{4}-\d{2}-\d{2}$/.test(v) ? `${v}T00:00:00Z` : v);
    if (Number.isNaN(t.getTime())) throw new UserError(`export: ${key} "${v}" is not a date and time; write ISO 8601, e.g. 2026-12-06T08:00:00Z or 2026-12-06`);
    return t.toISOString();
  };
  const name = table === 'zone_events' || table === 'zone_stats' ? (values.zone ?? values.line) : table === 'shape_changes' ? (values.line ?? values.zone) : values.line;
  const latest = values.latest ? Number(values.latest) : undefined;
  if (latest !== undefined && !(Number.isInteger(latest) && latest > 0 && latest <= 10_000))
    throw new UserError(`export: latest "${values.latest}" is not a count of rows from 1 to 10000`);
  return { table, format: format as Format, filter: { from: time('from'), to: time('to'), name: name || undefined, className: values.class || undefined, latest } };
}

function csvCell(v: Row[string]): string {
  if (v === null || v === undefined) return '';
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** The histogram column is stored as JSON text; in JSON it goes out as the array it is. */
function jsonRow(row: Row): Row {
  const out: Row = {};
  for (const [k, v] of Object.entries(row)) {
    if (v === null) continue;
    out[k] = k === 'speed_histogram' && typeof v === 'string' ? (JSON.parse(v) as number[]) : v;
  }
  return out;
}

/** Writes the export to `out`, waiting when it is full; returns the rows written. */
export async function writeExport(store: HistoryStore, request: ExportRequest, out: Writable, transform: (s: string) => string = (s) => s): Promise<number> {
  const { table, format, filter } = request;
  const columns = COLUMNS[table];
  const write = async (text: string) => {
    if (!out.write(transform(text))) await Promise.race([once(out, 'drain'), once(out, 'close')]);
  };
  let after = 0;
  let rows = 0;
  await write(format === 'csv' ? `${columns.join(',')}\n` : '[');
  for (;;) {
    if (out.destroyed) break;
    const page = store.page(table, filter, after, filter.latest ? Math.min(PAGE, filter.latest - rows) : PAGE);
    if (!page.length) break;
    const text =
      format === 'csv'
        ? page.map((r) => columns.map((c) => csvCell(r[c])).join(',')).join('\n') + '\n'
        : page.map((r, i) => (rows + i ? ',\n' : '\n') + JSON.stringify(jsonRow(r))).join('');
    rows += page.length;
    after = Number(page.at(-1)!.id);
    await write(text);
    if (page.length < PAGE || rows === filter.latest) break;
  }
  if (format === 'json') await write(rows ? '\n]\n' : ']\n');
  return rows;
}

/** `edgecam export KIND`: the history in STATE_DIR to stdout. */
export async function exportCommand(file: string, kind: string | undefined, values: Record<string, string | undefined>): Promise<number> {
  const request = exportRequest(kind, values.format ?? 'csv', values);
  if (!existsSync(file)) throw new UserError(`export: no history at ${file}; it is recorded while the agent runs with LINES or ZONES set and HISTORY_DAYS above 0`);
  // The agent writes between this export's reads; a lock left by a killed agent is cleared.
  const store = HistoryStore.open(file, { readOnly: true, busyMs: 5000 });
  try {
    await writeExport(store, request, process.stdout);
  } finally {
    store.close();
  }
  return 0;
}

/** `edgecam backup FILE`: a consistent copy of the live history, through the agent's own SQLite and lock. */
export function backupCommand(file: string, target: string | undefined): number {
  if (!target) throw new UsageError('backup: give the file to write, e.g. edgecam backup /tmp/history-copy.sqlite');
  if (!existsSync(file)) throw new UserError(`backup: no history at ${file}; it is recorded while the agent runs with LINES or ZONES set and HISTORY_DAYS above 0`);
  if (existsSync(target)) throw new UserError(`backup: ${target} exists; give a new file (the copy never overwrites one)`);
  const store = HistoryStore.open(file, { readOnly: true, busyMs: 10_000 });
  try {
    store.backup(resolve(target));
  } finally {
    store.close();
  }
  console.error(`edgecam: history copied to ${target} (${statSync(target).size} bytes)`);
  return 0;
}
