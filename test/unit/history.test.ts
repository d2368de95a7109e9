// The history store on a real SQLite file: rows from the analytics events, filters,
// retention by age and by size, the export's CSV and JSON, a lock left by a killed
// process, and a process killed with SIGKILL in the middle of a burst of writes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, utimesSync, existsSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { PassThrough } from 'node:stream';
import { HistoryStore, openElsewhere, removeStaleLock, STALE_LOCK_MS } from '../../agent/history/store.js';
import { crossingRow, statsRows, zoneEventRow } from '../../agent/history/rows.js';
import { backupCommand, exportRequest, writeExport } from '../../agent/history/export.js';
import { BUSY_WARN, Recorder } from '../../agent/history/recorder.js';
import { IntervalStats } from '../../agent/analytics/stats.js';
import { memoryLogger } from '../helpers/log.js';
import { ageLock } from '../helpers/history.js';

const dir = mkdtempSync(join(tmpdir(), 'edgecam-history-'));
let n = 0;
const fresh = () => join(dir, `h${++n}.sqlite`);

const crossing = (i: number, time: string, extra: Partial<Parameters<typeof crossingRow>[0]> = {}) =>
  crossingRow({
    line: 'gate',
    direction: i % 2 ? 'in' : 'out',
    trackId: i,
    className: i % 3 ? 'car' : 'person',
    pts: i / 3,
    timestamp: time,
    speed: { value: 30 + i / 7, unit: 'km/h', errorEstimate: 0.456, samples: 5 },
    eventId: `e${i}`,
    ...extra,
  });

async function exported(store: HistoryStore, kind: string, format: string, values: Record<string, string> = {}): Promise<string> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  await writeExport(store, exportRequest(kind, format, values), out);
  return Buffer.concat(chunks).toString();
}

test('crossings, zone events and statistics go in as the MQTT messages carry them and come out filtered, in CSV and JSON', async () => {
  const store = HistoryStore.open(fresh());
  try {
    store.insert([
      crossing(1, '2026-12-01T10:00:00.000Z'),
      crossing(2, '2026-12-01T11:00:00.000Z'),
      crossing(3, '2026-12-02T10:00:00.000Z', { line: 'side, "north"', speed: undefined }),
      zoneEventRow({ zone: 'dock', event: 'left', trackId: 4, className: 'car', pts: 12.3456, dwell: 7.25, timestamp: '2026-12-01T10:00:05.000Z', eventId: 'z4' }),
    ]);
    const stats = new IntervalStats([{ name: 'gate', directions: ['in', 'out'] }], ['dock'], { unit: 'km/h', bin: 10, limit: 30 });
    stats.crossing({ line: 'gate', direction: 'in', trackId: 1, className: 'car', pts: 1, speed: { value: 34, unit: 'km/h', errorEstimate: 1, samples: 5 } });
    const interval = stats.take(new Date('2026-12-01T10:00:00Z'), new Date('2026-12-01T10:01:00Z'));
    store.insert(statsRows(interval));

    assert.equal(
      await exported(store, 'crossings', 'csv', { from: '2026-12-01', to: '2026-12-02' }),
      'id,time,pts,line,direction,track_id,class_name,speed,unit,error_estimate,evidence,event_id\n' +
        '1,2026-12-01T10:00:00.000Z,0.333,gate,in,1,car,30.14,km/h,0.46,,e1\n' +
        '2,2026-12-01T11:00:00.000Z,0.667,gate,out,2,car,30.29,km/h,0.46,,e2\n',
    );
    assert.equal(
      await exported(store, 'crossings', 'csv', { line: 'side, "north"' }),
      'id,time,pts,line,direction,track_id,class_name,speed,unit,error_estimate,evidence,event_id\n3,2026-12-02T10:00:00.000Z,1,"side, ""north""",in,3,person,,,,,e3\n',
    );
    assert.deepEqual(JSON.parse(await exported(store, 'crossings', 'json', { class: 'person' })), [
      { id: 3, time: '2026-12-02T10:00:00.000Z', pts: 1, line: 'side, "north"', direction: 'in', track_id: 3, class_name: 'person', event_id: 'e3' },
    ]);
    assert.deepEqual(JSON.parse(await exported(store, 'crossings', 'json', { from: '2030-01-01' })), []);
    assert.deepEqual(JSON.parse(await exported(store, 'zones', 'json')), [
      { id: 1, time: '2026-12-01T10:00:05.000Z', pts: 12.346, zone: 'dock', event: 'left', track_id: 4, class_name: 'car', dwell_s: 7.3, event_id: 'z4' },
    ]);
    const lineStats = JSON.parse(await exported(store, 'stats', 'json', { class: 'car' })) as Record<string, unknown>[];
    assert.equal(lineStats.length, 1);
    assert.deepEqual(lineStats[0], {
      id: 2,
      start: '2026-12-01T10:00:00.000Z',
      end: '2026-12-01T10:01:00.000Z',
      line: 'gate',
      direction: 'in',
      class_name: 'car',
      count: 1,
      speed_mean: 34,
      speed_p85: 34,
      speed_max: 34,
      speed_samples: 1,
      speed_histogram: [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
      over_limit: 1,
      unit: 'km/h',
      speed_bin: 10,
      event_id: interval.event_id,
    });
    // Every direction has its all-classes row, with a zero count when nothing crossed: no holes.
    const all = JSON.parse(await exported(store, 'stats', 'json', { class: '*' })) as { direction: string; count: number }[];
    assert.deepEqual(
      all.map((r) => [r.direction, r.count]),
      [
        ['in', 1],
        ['out', 0],
      ],
    );
    assert.match(await exported(store, 'zone-stats', 'csv'), /^id,start,end,zone,occupancy_peak.*\n1,2026-12-01T10:00:00.000Z,2026-12-01T10:01:00.000Z,dock,0,0,0,/);
    assert.throws(() => exportRequest('crossings', 'csv', { from: 'last tuesday' }), /from "last tuesday" is not a date and time; write ISO 8601/);
    assert.throws(() => exportRequest('people', 'csv', {}), /"people" is not something recorded; choose one of crossings, zones, stats, zone-stats, shapes/);
    assert.throws(() => exportRequest('constructor', 'csv', {}), /"constructor" is not something recorded/);
    assert.throws(() => exportRequest('crossings', 'xml', {}), /format "xml" is not one of csv, json/);
  } finally {
    store.close();
  }
});

test('an export of many rows is written a page at a time and waits for a slow reader', async () => {
  const store = HistoryStore.open(fresh());
  try {
    const rows = Array.from({ length: 2600 }, (_, i) => crossing(i + 1, new Date(Date.UTC(2026, 11, 1) + i * 1000).toISOString()));
    store.insert(rows);
    // A reader that takes 1 KiB at a time: the writer must wait for it (backpressure) and still deliver every row once.
    const out = new PassThrough({ highWaterMark: 1024 });
    let text = '';
    let drains = 0;
    out.on('drain', () => drains++);
    out.on('data', (c: Buffer) => {
      text += c.toString();
      out.pause();
      setImmediate(() => out.resume());
    });
    const written = await writeExport(store, exportRequest('crossings', 'json', {}), out);
    out.end();
    await new Promise((r) => out.once('end', r));
    assert.equal(written, 2600);
    const parsed = JSON.parse(text) as { track_id: number }[];
    assert.deepEqual(
      parsed.map((r) => r.track_id),
      rows.map((r) => r.row.track_id),
    );
    assert.ok(drains >= 5, `the export waited for the reader ${drains} times`);
  } finally {
    store.close();
  }
});

test('retention: rows older than the days kept go, then the oldest until the data fits the size bound', () => {
  const store = HistoryStore.open(fresh());
  try {
    const day = (d: number, i: number) => new Date(Date.UTC(2026, 10, d, 0, 0, i)).toISOString();
    store.insert(Array.from({ length: 300 }, (_, i) => crossing(i + 1, day(1 + Math.floor(i / 100), i % 100))));
    // Before 2026-11-02: the first day's 100 go.
    assert.equal(store.prune('2026-11-02T00:00:00.000Z', 1e9), 100);
    assert.equal(store.count('crossings'), 200);
    // 2 MB of rows against a 256 KiB bound: the oldest go until what is left fits.
    const big = Array.from({ length: 4000 }, (_, i) => crossing(1000 + i, day(20, i % 60), { className: 'x'.repeat(400) }));
    store.insert(big);
    const before = store.dataBytes();
    assert.ok(before > 1_500_000, `${before} bytes`);
    const removed = store.prune('2026-11-02T00:00:00.000Z', 256 * 1024);
    assert.ok(store.dataBytes() <= 256 * 1024, `${store.dataBytes()} bytes left`);
    assert.ok(removed > 3000 && store.count('crossings') > 100, `${removed} removed, ${store.count('crossings')} left`);
    const left = store.page('crossings', {}, 0, 1)[0]!;
    assert.ok(Number(left.track_id) > 1000, 'the oldest rows went first');
    assert.equal(store.integrity(), 'ok');
  } finally {
    store.close();
  }
});

test('the recorder prunes with the clock it is given, and keeps rows in memory while the database cannot be written', () => {
  const file = join(mkdtempSync(join(dir, 'rec-')), 'history.sqlite');
  let now = Date.parse('2026-12-06T12:00:00Z');
  const { log } = memoryLogger();
  const recorder = new Recorder({ file, days: 7, maxBytes: 1e9, log, now: () => now });
  recorder.add([crossing(1, '2026-11-20T00:00:00.000Z'), crossing(2, '2026-12-05T00:00:00.000Z')]);
  recorder.flush();
  assert.equal(recorder.stats.pruned, 1, 'the 16-day-old row went at the first flush');
  // An hour later, the clock moved on nine days: the other row is now too old.
  now += 9 * 86_400_000;
  recorder.flush();
  assert.equal(recorder.stats.pruned, 2);
  recorder.stop();

  // A file where the database should be, in a directory that cannot be written: nothing written, rows kept, one warning.
  const blocked = join(mkdtempSync(join(dir, 'blocked-')), 'sub');
  writeFileSync(blocked, 'a file, not a directory');
  const memory = memoryLogger();
  const failing = new Recorder({ file: join(blocked, 'history.sqlite'), days: 7, maxBytes: 1e9, log: memory.log });
  failing.add([crossing(1, '2026-12-06T00:00:00.000Z')]);
  failing.flush();
  failing.add([crossing(2, '2026-12-06T00:00:01.000Z')]);
  failing.flush();
  assert.deepEqual(
    memory
      .lines()
      .filter((l) => l.level === 'warn')
      .map((l) => l.msg),
    ['history: cannot write to disk; rows are kept in memory until it works again'],
  );
  assert.equal(failing.stats.queued, 2);
  assert.equal(failing.stats.failing, true);
});

test('a lock directory left by a killed process is removed once it is older than any transaction; a fresh one is not', () => {
  const file = fresh();
  HistoryStore.open(file).close();
  mkdirSync(`${file}.lock`);
  assert.equal(removeStaleLock(file), false, 'a lock just taken belongs to a live transaction');
  const old = (Date.now() - STALE_LOCK_MS - 1000) / 1000;
  utimesSync(`${file}.lock`, old, old);
  const store = HistoryStore.open(file);
  try {
    assert.equal(existsSync(`${file}.lock`), false);
    store.insert([crossing(1, '2026-12-06T00:00:00.000Z')]);
    assert.equal(store.count('crossings'), 1);
  } finally {
    store.close();
  }
});

test('SIGKILL in the middle of a burst of writes: the database opens, passes integrity_check and holds every committed batch', { timeout: 60_000 }, async () => {
  const file = fresh();
  // A child writes batches of 50 rows back to back and prints each batch number once it is committed.
  const script = `
    import { HistoryStore } from ${JSON.stringify(new URL('../../agent/history/store.js', import.meta.url).href)};
    const store = HistoryStore.open(${JSON.stringify(file)});
    for (let b = 1; b < 100000; b++) {
      store.insert(Array.from({ length: 50 }, (_, i) => ({ table: 'crossings', row: { time: new Date().toISOString(), pts: b, line: 'gate', direction: 'in', track_id: b * 100 + i, class_name: 'car'.repeat(20) } })));
      process.stdout.write(b + '\\n');
    }`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${out.split('\n').length} batches in 30 s`)), 30_000);
    child.stdout.on('data', () => {
      if (out.split('\n').length <= 200) return;
      clearTimeout(timer);
      resolve();
    });
  });
  // Killed as soon as a batch is being written: its journal exists only during a write transaction.
  const journal = `${file}-journal`;
  const deadline = Date.now() + 5000;
  while (!existsSync(journal) && Date.now() < deadline);
  child.kill('SIGKILL');
  // 'close': every line the child printed has been read.
  await new Promise((r) => child.once('close', r));
  assert.ok(existsSync(journal), 'a write was in flight when the child was killed: its journal is left');
  const committed = Math.max(...out.split('\n').filter(Boolean).map(Number));
  ageLock(file);
  const store = HistoryStore.open(file);
  try {
    assert.equal(store.integrity(), 'ok');
    const rows = store.count('crossings');
    // Every batch it reported is there, and at most the one it was writing beyond (whole, never part of one).
    assert.ok(rows === committed * 50 || rows === (committed + 1) * 50, `${rows} rows after ${committed} committed batches`);
  } finally {
    store.close();
  }
});

test('a lock made by hand while recording: rows wait, one warning after 10 s of busy writes, and once it is stale (old, no program holding the file) recording resumes with nothing lost', async () => {
  const file = fresh();
  const memory = memoryLogger();
  const recorder = new Recorder({ file, days: 7, maxBytes: 1e9, log: memory.log });
  recorder.add([crossing(1, '2026-12-06T00:00:00.000Z')]);
  recorder.flush();
  mkdirSync(`${file}.lock`);
  for (let i = 0; i < BUSY_WARN + 2; i++) {
    recorder.add([crossing(10 + i, '2026-12-06T00:00:01.000Z')]);
    recorder.flush();
  }
  assert.equal(recorder.stats.queued, BUSY_WARN + 2, 'rows wait in memory while the database is locked');
  const warnings = () =>
    memory
      .lines()
      .filter((l) => l.level === 'warn')
      .map((l) => String(l.msg));
  assert.equal(warnings().filter((m) => m.includes('stays locked')).length, 1, warnings().join('\n'));
  // Old enough, but another program has the file open: a reader stopped mid-read keeps its lock.
  const holder = spawn('sh', ['-c', `exec 3<"${file}"; exec sleep 30`], { stdio: 'ignore' });
  try {
    await new Promise<void>((resolve) => {
      const check = () => (openElsewhere(file) ? resolve() : setTimeout(check, 20));
      check();
    });
    ageLock(file);
    recorder.flush();
    assert.ok(existsSync(`${file}.lock`), 'a lock whose holder runs is kept');
  } finally {
    holder.kill('SIGKILL');
    await new Promise((r) => holder.once('exit', r));
  }
  ageLock(file);
  recorder.flush();
  await new Promise((r) => setImmediate(r));
  assert.equal(existsSync(`${file}.lock`), false);
  assert.equal(recorder.stats.staleLocks, 1);
  assert.equal(recorder.stats.queued, 0);
  recorder.stop();
  const store = HistoryStore.open(file, { readOnly: true });
  try {
    assert.equal(store.count('crossings'), BUSY_WARN + 3, 'every row written, none lost');
  } finally {
    store.close();
  }
});

test('a history file damaged while recording is set aside with its journal, a new one started, and the rows since written to it', async () => {
  const file = fresh();
  const memory = memoryLogger();
  const recorder = new Recorder({ file, days: 7, maxBytes: 1e9, log: memory.log });
  recorder.add(Array.from({ length: 200 }, (_, i) => crossing(i, '2026-12-06T00:00:00.000Z')));
  recorder.flush();
  // Garbage over the header and the first pages, while the agent has it open.
  const fd = openSync(file, 'r+');
  writeSync(fd, Buffer.alloc(16_384, 0x5a), 0, 16_384, 0);
  closeSync(fd);
  writeFileSync(`${file}-journal`, 'a journal left with the damage');
  recorder.add([crossing(1000, '2026-12-06T00:00:05.000Z'), crossing(1001, '2026-12-06T00:00:06.000Z')]);
  recorder.flush();
  await new Promise((r) => setImmediate(r));
  assert.equal(recorder.stats.damaged, 1);
  assert.equal(recorder.stats.queued, 0);
  const aside = readdirSync(dirname(file)).filter((n) => n.startsWith(`${basename(file)}.damaged-`));
  assert.equal(aside.filter((n) => !n.endsWith('-journal')).length, 1, aside.join(', '));
  assert.equal(aside.filter((n) => n.endsWith('-journal')).length, 1, 'its journal went with it, so the new file never rolls it in');
  assert.equal(
    memory
      .lines()
      .filter((l) => l.level === 'warn')
      .map((l) => l.msg)
      .join('\n'),
    'history: damaged database set aside, a new one started',
  );
  recorder.add([crossing(1002, '2026-12-06T00:00:07.000Z')]);
  recorder.stop();
  const store = HistoryStore.open(file, { readOnly: true });
  try {
    assert.equal(store.integrity(), 'ok');
    assert.deepEqual(
      store.page('crossings', {}, 0, 10).map((r) => Number(r.track_id)),
      [1000, 1001, 1002],
    );
  } finally {
    store.close();
  }
});

test("edgecam backup: a consistent copy through the agent's SQLite, never over an existing file; a photo never made leaves its row", () => {
  const file = fresh();
  const recorder = new Recorder({ file, days: 7, maxBytes: 1e9, log: memoryLogger().log });
  recorder.add([crossing(1, '2026-12-06T00:00:00.000Z', { evidence: '/evidence/a.jpg' }), crossing(2, '2026-12-06T00:00:01.000Z', { evidence: '/evidence/b.jpg' })]);
  recorder.flush();
  // One photo failed after its row was written, the other while its row still waited.
  recorder.add([crossing(3, '2026-12-06T00:00:02.000Z', { evidence: '/evidence/c.jpg' })]);
  recorder.clearEvidence('/evidence/a.jpg');
  recorder.clearEvidence('/evidence/c.jpg');
  recorder.stop();
  const copy = join(dirname(file), 'copy.sqlite');
  assert.equal(backupCommand(file, copy), 0);
  assert.throws(() => backupCommand(file, copy), /exists; give a new file/);
  const store = HistoryStore.open(copy, { readOnly: true });
  try {
    assert.equal(store.integrity(), 'ok');
    assert.deepEqual(
      store.page('crossings', {}, 0, 10).map((r) => r.evidence),
      [null, '/evidence/b.jpg', null],
    );
  } finally {
    store.close();
  }
});
