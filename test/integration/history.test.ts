// The history end to end: the agent on the bundled sample (real FFmpeg, the real model)
// publishing to a broker on a socket, and what it recorded read back with `edgecam
// export` (while it runs and after it stopped) and over HTTP with and without its token.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import sharp from 'sharp';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedBroker } from '../../agent/mqtt/broker.js';
import { linePayload, statsPayload, zoneEventPayload } from '../../agent/mqtt/payloads.js';
import { edgecam, httpBase, until } from '../helpers/agent.js';
import { memoryLogger } from '../helpers/log.js';
import { needs, subscribe } from '../helpers/net.js';
import { CLI } from '../helpers/paths.js';

const exportCli = (stateDir: string, args: string[]) =>
  spawnSync(process.execPath, [CLI, 'export', ...args], { env: { PATH: process.env.PATH!, STATE_DIR: stateDir }, encoding: 'utf8' });

type Box = [number, number, number, number];

const iou = (a: Box, b: Box) => {
  const w = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const h = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const area = (x: Box) => (x[2] - x[0]) * (x[3] - x[1]);
  return (w * h) / (area(a) + area(b) - w * h);
};

/** The bounds of the evidence box's yellow (#ffea00) pixels, above the caption band. */
async function yellowBox(file: string): Promise<Box | undefined> {
  const { data, info } = await sharp(file).raw().toBuffer({ resolveWithObject: true });
  let box: Box | undefined;
  for (let y = 0; y < info.height - 40; y++)
    for (let x = 0; x < info.width; x++) {
      const i = (y * info.width + x) * info.channels;
      if (data[i]! > 200 && data[i + 1]! > 190 && data[i + 2]! < 90)
        box = box ? [Math.min(box[0], x), Math.min(box[1], y), Math.max(box[2], x), Math.max(box[3], y)] : [x, y, x, y];
    }
  return box;
}

const csvRows = (text: string) => {
  const [header, ...rows] = text.trim().split('\n');
  const columns = header!.split(',');
  return rows.map((r) => Object.fromEntries(r.split(',').map((v, i) => [columns[i], v])));
};

test(
  "a run of the bundled sample: the export lists exactly the crossings and zone events MQTT delivered, read while the agent writes, each crossing with an evidence photo at the source's resolution whose box is on its object; /api/* and /evidence/ need the token",
  { skip: needs('ffmpeg'), timeout: 120_000 },
  async () => {
    const broker = await startEmbeddedBroker({ port: 0, host: '127.0.0.1', log: memoryLogger().log });
    const url = `mqtt://127.0.0.1:${broker.port}`;
    const sub = await subscribe(url, ['line/+', 'zone/+/event', 'stats', 'line/mid/evidence']);
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
      EVIDENCE_CLASSES: 'person,dog,cat,sheep,horse,car,truck,bicycle,bird,cow',
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
      const photo = (await (await fetch(`${base}/api/crossings.json`, { headers: { Authorization: `Bearer ${token}` } })).json()) as { evidence: string }[];
      await until(() => existsSync(join(stateDir, photo[0]!.evidence)), 10_000, 'the first evidence photo');
      assert.equal((await fetch(`${base}${photo[0]!.evidence}`)).status, 401);
      const served = await fetch(`${base}${photo[0]!.evidence}`, { headers: { Authorization: `Bearer ${token}` } });
      assert.equal(served.status, 200);
      assert.equal(served.headers.get('content-type'), 'image/jpeg');
      assert.equal((await fetch(`${base}/evidence/..%2Fhistory.sqlite`, { headers: { Authorization: `Bearer ${token}` } })).status, 404);
      const bad = await fetch(`${base}/api/crossings.csv?from=soon`, { headers: { Authorization: `Bearer ${token}` } });
      assert.equal(bad.status, 400);
      assert.match(await bad.text(), /from "soon" is not a date and time/);
      const during = exportCli(stateDir, ['crossings']);
      assert.equal(during.status, 0, during.stderr);
      assert.match(during.stdout, /^id,time,pts,line,direction,track_id,class_name,speed,unit,error_estimate,evidence,event_id\n1,/);
      assert.equal((await run.exit).code, 0, run.stderr());
      const photoFiles = readdirSync(join(stateDir, 'evidence')).map((f) => join(stateDir, 'evidence', f));
      const detected = new Map<string, { class_name: string; box: Box }[]>();
      // Down to the tracker's weak scores: the question is whether the box is on an object, and a bicycle behind a dog scores 0.2 to 0.3.
      const detect = spawnSync(process.execPath, [CLI, 'detect', ...photoFiles], {
        env: { PATH: process.env.PATH!, DETECT_THREADS: '1', SCORE_THRESHOLD: '0.15' },
        encoding: 'utf8',
      });
      assert.equal(detect.status, 0, detect.stderr);
      for (const line of detect.stdout.trim().split('\n')) {
        const r = JSON.parse(line) as { file: string; detections: { class_name: string; box: Box }[] };
        detected.set(r.file, r.detections);
      }

      const crossings = sub.messages.filter((m) => m.topic === 'line/mid').map((m) => linePayload.parse(m.json()));
      const exported = exportCli(stateDir, ['crossings', '--format', 'csv']);
      assert.equal(exported.status, 0, exported.stderr);
      const rows = csvRows(exported.stdout);
      assert.ok(crossings.length >= 2, `${crossings.length} crossings`);
      assert.deepEqual(
        rows.map((r) => [Number(r.track_id), r.direction, r.class_name, r.time, r.speed === '' ? undefined : Number(r.speed), r.evidence, r.event_id]),
        crossings.map((c) => [c.track_id, c.direction, c.class_name, c.timestamp, c.speed, c.evidence, c.event_id]),
      );
      // Each photo also went out on MQTT, for Home Assistant's camera of the line.
      assert.equal(sub.messages.filter((m) => m.topic === 'line/mid/evidence').length, crossings.length);
      // Each photo: a JPEG at the source's size (960x540), its yellow box around an object the model finds on the photo.
      for (const c of crossings) {
        assert.match(c.evidence ?? '', /^\/evidence\/\d{8}T\d{9}Z-mid-\d+\.jpg$/);
        const file = join(stateDir, c.evidence!);
        const meta = await sharp(file).metadata();
        assert.deepEqual([meta.format, meta.width, meta.height], ['jpeg', 960, 540], c.evidence);
        const drawn = await yellowBox(file);
        assert.ok(drawn, `no box drawn in ${c.evidence}`);
        // Of any class: on a photo with its neighbours pixelated, the model may name a dog a cow.
        const overlap = Math.max(0, ...detected.get(file)!.map((d) => iou(d.box, drawn)));
        assert.ok(overlap > 0.6, `${c.evidence}: the box ${drawn.join(',')} of a ${c.class_name} is on no object the model finds (best IoU ${overlap.toFixed(2)})`);
      }
      const events = sub.messages.filter((m) => m.topic === 'zone/right/event').map((m) => zoneEventPayload.parse(m.json()));
      const zoneRows = JSON.parse(exportCli(stateDir, ['zones', '--format', 'json']).stdout) as {
        track_id: number;
        event: string;
        time: string;
        evidence?: string;
        event_id: string;
      }[];
      assert.ok(events.length >= 2);
      assert.deepEqual(
        zoneRows.map((r) => [r.track_id, r.event, r.time, r.evidence, r.event_id]),
        events.map((e) => [e.track_id, e.event, e.timestamp, e.evidence, e.event_id]),
      );
      // A zone left with a speed has its photo too; an entry, or a stay without a speed, none.
      const zonePhotos = events.filter((e) => e.evidence);
      assert.ok(zonePhotos.length >= 1, 'a zone left with a speed');
      for (const e of events) assert.equal(Boolean(e.evidence), e.event === 'left' && e.speed !== undefined, JSON.stringify(e));
      for (const e of zonePhotos) assert.equal((await sharp(join(stateDir, e.evidence!)).metadata()).width, 960, e.evidence);
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

test('edgecam export: a mistake is one line, exit 64 for the command line and 78 for the rest; no history yet says where it would be', () => {
  const empty = mkdtempSync(join(tmpdir(), 'edgecam-history-none-'));
  const none = exportCli(empty, ['crossings']);
  assert.equal(none.status, 78);
  assert.equal(
    none.stderr,
    `edgecam: export: no history at ${join(empty, 'history.sqlite')}; it is recorded while the agent runs with LINES or ZONES set and HISTORY_DAYS above 0\n`,
  );
  // A name that is not a table is a mistake in the command line (64), Object's own names too.
  for (const name of ['cars', 'constructor', 'toString', '__proto__']) {
    const wrong = exportCli(empty, [name]);
    assert.equal(wrong.status, 64, wrong.stderr);
    assert.equal(wrong.stderr, `edgecam: export: "${name}" is not something recorded; choose one of crossings, zones, stats, zone-stats, shapes\n`);
  }
  const option = exportCli(empty, ['crossings', '--since', 'x']);
  assert.equal(option.status, 64);
  assert.match(option.stderr, /^edgecam: Unknown option '--since'/);
});
