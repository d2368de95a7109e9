// The history as a feature: every crossing, zone event and interval of statistics the
// analytics feature publishes is also recorded in STATE_DIR/history.sqlite, kept
// HISTORY_DAYS and within HISTORY_MAX_MB, and served as CSV or JSON on /api/<kind>.csv
// and /api/<kind>.json (behind HTTP_TOKEN, as every route with data). It is listed before
// analytics in FEATURES, so it stops after it: what analytics publishes as it stops (the
// crossings waiting for their speed, the last interval) is recorded too.
import { join } from 'node:path';
import type { Feature, FeatureContext } from '../feature.js';
import { SECURITY_HEADERS } from '../http/server.js';
import { redactUrl } from '../log.js';
import { UserError } from '../errors.js';
import { exportRequest, FORMATS, writeExport } from './export.js';
import { Recorder } from './recorder.js';
import { crossingRow, shapeChangeRows, statsRows, zoneEventRow } from './rows.js';
import { EXPORTS } from './schema.js';
import { HistoryStore } from './store.js';
import { mountHistoryPage } from './page.js';

export const HISTORY_FILE = 'history.sqlite';

const CONTENT_TYPES = { csv: 'text/csv; charset=utf-8', json: 'application/json; charset=utf-8' };

export function fromConfig(ctx: FeatureContext): Feature | undefined {
  const { config, bus, http, health, pipeline } = ctx;
  if (!config.HISTORY_DAYS) return undefined;
  const name = 'history';
  const log = ctx.log.child({ feature: name });
  const file = join(config.STATE_DIR, HISTORY_FILE);
  const recorder = new Recorder({ file, days: config.HISTORY_DAYS, maxBytes: config.HISTORY_MAX_MB * 1024 * 1024, log });
  health.provide(name, () => recorder.stats);

  for (const kind of Object.keys(EXPORTS)) {
    for (const format of FORMATS) {
      http.route(`/api/${kind}.${format}`, async (req, res, url) => {
        let request;
        try {
          request = exportRequest(kind, format, Object.fromEntries(url.searchParams));
        } catch (err) {
          if (err instanceof UserError) return http.send(res, 400, 'text/plain; charset=utf-8', `${err.message}\n`);
          throw err;
        }
        // Rows not yet written are written first, so an export sees every event published before it.
        recorder.flush();
        res.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': CONTENT_TYPES[format], 'Cache-Control': 'no-store' });
        if (req.method === 'HEAD') return void res.end();
        // Its own read-only connection: the export streams at the client's pace while the
        // recorder goes on writing on the other, and a read-only handle cannot alter the file.
        const store = HistoryStore.open(file, { readOnly: true, busyMs: 1000 });
        try {
          await writeExport(store, request, res, redactUrl);
        } finally {
          store.close();
        }
        res.end();
      });
    }
  }

  if (config.VIEWER_ENABLED) mountHistoryPage(http);

  return {
    name,
    start: () => {
      // The file is opened once there is something to record: a line or a zone, drawn in the env file or saved later.
      let recording = false;
      const record = ({ lines, zones }: { lines: unknown[]; zones: unknown[] }) => {
        if (recording || (!lines.length && !zones.length)) return;
        recording = true;
        recorder.start();
        log.info({ file, days: config.HISTORY_DAYS, maxMb: config.HISTORY_MAX_MB }, 'recording history');
      };
      let shapes = pipeline.shapes.shapes;
      record(shapes);
      bus.on(
        'shapes',
        (next) => {
          record(next);
          recorder.add(shapeChangeRows(shapes, next, new Date().toISOString()));
          shapes = next;
        },
        name,
      );
      bus.on('crossing', (c) => recorder.add([crossingRow(c)]), name);
      bus.on('zone', (e) => recorder.add([zoneEventRow(e)]), name);
      bus.on('stats', (s) => recorder.add(statsRows(s)), name);
      bus.on('evidence', (e) => e.written || recorder.clearEvidence(e.path), name);
    },
    stop: () => recorder.stop(),
  };
}
