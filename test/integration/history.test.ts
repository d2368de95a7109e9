// The history end to end: the agent on the bundled sample (real FFmpeg, the real model)
// publishing to a broker on a socket, and what it recorded read back with `edgecam
// export` (while it runs and after it stopped) and over HTTP with and without its token.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedBroker } from '../../agent/mqtt/broker.js';
import { linePayload, statsPayload, zoneEventPayload } from '../../agent/mqtt/payloads.js';
import { edgecam, httpBase } from '../helpers/agent.js';
import { memoryLogger } from '../helpers/log.js';
import { needs, subscribe } from '../helpers/net.js';
import { CLI } from '../helpers/paths.js';

const exportCli = (stateDir: string, args: string[]) =>
  spawnSync(process.execPath, [CLI, 'export', ...args], { env: { PATH: process.env.PATH!, STATE_DIR: stateDir }, encoding: 'utf8' });

const csvRows = (text: string) => {
  const [header, ...rows] = text.trim().split('\n');
  const columns = header!.split(',');
  return rows.map((r) => Object.fromEntries(r.split(',').map((v, i) => [columns[i], v])));
};

test(
  'a run of the bundled sample: the export lists exactly the crossings and zone events MQTT delivered, read while the agent writes; /api/* needs the token',
  { skip: needs('ffmpeg'), timeout: 120_000 },
  async () => {
    const broker = await startEmbeddedBroker({ port: 0, host: '127.0.0.1', log: memoryLogger().log });
    const url = `mqtt://127.0.0.1:${broker.port}`;
    const sub = await subscribe(url, ['line/+', 'zone/+/event', 'stats']);
    const stateDir = mkdtempSync(join(tmpdir(), 'edgecam-history-run-'));
    const token = 'history-token-5d1e';
    const run = edgecam([], {
      MQTT_URL: url,
      STATE_DIR: stateDir,
      SOURCE_LOOP: 'false',
      DETECT_THREADS: '1',
      DETECT_FPS: '5',
      LINES: 'mid:480,540;480,0',
      ZONES: 'right:560,0;960,0;960,540;560,540',
      STATS_INTERVAL: '10',
      SPEED_LIMIT: '21',
      HTTP_TOKEN: token,
      HTTP_BIND: '127.0.0.1',
    });
    try {
      const base = await httpBase(run);
      await sub.waitFor((m) => m.some((x) => x.topic === 'line/mid'), 60_000);
      // While it runs: the API wants the token, and the command line reads beside the writer.
      assert.equal((await fetch(`${base}/api/crossings.csv`)).status, 401);
      assert.equal((await fetch(`${base}/api/crossings.csv?token=wrong`)).status, 401);
      const live = await fetch(`${base}/api/crossings.json`, { headers: { Authorization: `Bearer ${token}` } });
      assert.equal(live.status, 200);
      assert.equal(live.headers.get('content-type'), 'application/json; charset=utf-8');
      assert.ok(((await live.json()) as unknown[]).length >= 1, 'the first crossing is in the history as soon as MQTT has it');
      const bad = await fetch(`${base}/api/crossings.csv?from=soon`, { headers: { Authorization: `Bearer ${token}` } });
      assert.equal(bad.status, 400);
      assert.match(await bad.text(), /from "soon" is not a date and time/);
      const during = exportCli(stateDir, ['crossings']);
      assert.equal(during.status, 0, during.stderr);
      assert.match(during.stdout, /^id,time,pts,line,direction,track_id,class_name,speed,unit,error_estimate,evidence\n1,/);
      assert.equal((await run.exit).code, 0, run.stderr());

      const crossings = sub.messages.filter((m) => m.topic === 'line/mid').map((m) => linePayload.parse(m.json()));
      const exported = exportCli(stateDir, ['crossings', '--format', 'csv']);
      assert.equal(exported.status, 0, exported.stderr);
      const rows = csvRows(exported.stdout);
      assert.ok(crossings.length >= 2, `${crossings.length} crossings`);
      assert.deepEqual(
        rows.map((r) => [Number(r.track_id), r.direction, r.class_name, r.time, r.speed === '' ? undefined : Number(r.speed)]),
        crossings.map((c) => [c.track_id, c.direction, c.class_name, c.timestamp, c.speed]),
      );
      const events = sub.messages.filter((m) => m.topic === 'zone/right/event').map((m) => zoneEventPayload.parse(m.json()));
      const zoneRows = JSON.parse(exportCli(stateDir, ['zones', '--format', 'json']).stdout) as { track_id: number; event: string; time: string }[];
      assert.ok(events.length >= 2);
      assert.deepEqual(
        zoneRows.map((r) => [r.track_id, r.event, r.time]),
        events.map((e) => [e.track_id, e.event, e.timestamp]),
      );
      // Each interval on `stats` is one row per direction for all classes, whatever crossed.
      const intervals = sub.messages.filter((m) => m.topic === 'stats').map((m) => statsPayload.parse(m.json()));
      const all = JSON.parse(exportCli(stateDir, ['stats', '--class', '*', '--format', 'json']).stdout) as {
        start: string;
        direction: string;
        count: number;
        over_limit?: number;
      }[];
      assert.equal(all.length, intervals.length * 2);
      for (const s of intervals)
        for (const [direction, d] of Object.entries(s.lines.mid!)) {
          const row = all.find((r) => r.start === s.start && r.direction === direction);
          assert.equal(row?.count, d.count, `${s.start} ${direction}`);
          assert.equal(row?.over_limit, d.over_limit);
        }
      assert.equal(
        intervals.reduce((a, s) => a + s.lines.mid!.in!.count + s.lines.mid!.out!.count, 0),
        crossings.length,
      );
    } finally {
      run.child.kill('SIGKILL');
      await sub.close();
      await broker.close();
    }
  },
);

test('edgecam export: a mistake in its options is one line and exit 78; no history yet says where it would be', () => {
  const empty = mkdtempSync(join(tmpdir(), 'edgecam-history-none-'));
  const none = exportCli(empty, ['crossings']);
  assert.equal(none.status, 78);
  assert.equal(
    none.stderr,
    `edgecam: export: no history at ${join(empty, 'history.sqlite')}; it is recorded while the agent runs with LINES or ZONES set and HISTORY_DAYS above 0\n`,
  );
  const wrong = exportCli(empty, ['cars']);
  assert.equal(wrong.status, 78);
  assert.equal(wrong.stderr, 'edgecam: export: "cars" is not something recorded; choose one of crossings, zones, stats, zone-stats\n');
  const option = exportCli(empty, ['crossings', '--since', 'x']);
  assert.equal(option.status, 64);
  assert.match(option.stderr, /^edgecam: Unknown option '--since'/);
});
