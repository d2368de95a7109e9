// SIGKILL of the agent while it writes a burst of history rows: each interval of 300
// lines is 600 rows (two directions each), written as one batch at once at the end of
// the interval. The kill is timed by the write itself: 0, 1 and 3 ms after SQLite's
// rollback journal appears (it exists only while a write transaction is under way), and
// the journal must still be there after the kill, so each kill provably cut a write in
// half. The database must then open, pass integrity_check and hold whole intervals only:
// every batch committed, never a part of one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HistoryStore } from '../../agent/history/store.js';
import { edgecam, sleep, until } from '../helpers/agent.js';
import { ageLock } from '../helpers/history.js';

const LINES = Array.from({ length: 300 }, (_, i) => `l${i}:${i * 3},2;${i * 3 + 2},2`).join('|');
const ROWS_PER_INTERVAL = 600;

test('kill -9 of the agent in a burst of history writes: the database opens, passes integrity_check and holds whole batches', { timeout: 180_000 }, async (t) => {
  const results: string[] = [];
  for (const offsetMs of [0, 1, 3]) {
    const state = mkdtempSync(join(tmpdir(), 'edgecam-history-kill-'));
    const run = edgecam([], { STATE_DIR: state, MQTT_EMBEDDED_PORT: '0', DETECT_THREADS: '1', LINES, STATS_INTERVAL: '10', SOURCE: 'lavfi:testsrc2=size=320x240:rate=5' });
    try {
      await until(() => run.lines().some((l) => l.msg === 'recording history'), 30_000, 'the agent');
      // The first interval ends at the next multiple of 10 s; the second is the one killed in.
      const boundary = (n: number) => Math.ceil(Date.now() / 10_000) * 10_000 + n * 10_000;
      const second = boundary(1);
      await sleep(second - Date.now() - 200);
      // Watch for the journal without yielding (the agent is another process): a bounded busy wait.
      const journal = join(state, 'history.sqlite-journal');
      const deadline = Date.now() + 5000;
      while (!existsSync(journal) && Date.now() < deadline);
      assert.ok(existsSync(journal), 'the interval was written within 5 s of its end');
      for (const began = performance.now(); performance.now() - began < offsetMs;);
      process.kill(run.child.pid!, 'SIGKILL');
      await run.exit;
      assert.ok(existsSync(journal), `killed ${offsetMs} ms into the write: its journal is left, so the write was cut in half`);
    } finally {
      run.child.kill('SIGKILL');
    }
    const file = join(state, 'history.sqlite');
    ageLock(file);
    const store = HistoryStore.open(file);
    try {
      assert.equal(store.integrity(), 'ok');
      const rows = store.count('line_stats');
      assert.equal(rows % ROWS_PER_INTERVAL, 0, `${rows} rows: not whole intervals`);
      assert.ok(rows >= ROWS_PER_INTERVAL, `${rows} rows: the first interval was written`);
      results.push(`killed ${offsetMs} ms into an interval's write (journal left): ${rows / ROWS_PER_INTERVAL} whole intervals`);
    } finally {
      store.close();
    }
  }
  t.diagnostic(results.join('; '));
});
