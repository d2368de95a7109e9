// The Draw panel's Save: `/api/shapes` shows the shapes in force and where each comes
// from (GET), saves and applies the settings in a JSON body (PUT: any of LINES,
// LINE_DIRECTIONS, ZONES, MASKS, CALIBRATION_IMAGE_POINTS, CALIBRATION_WORLD_POINTS;
// empty: none), and drops the saved ones so the env file applies again (DELETE). Like
// every route it needs the token when one is set; the server takes a PUT or DELETE only
// from the page's own origin, and a PUT only with a JSON body.
import type { HttpServer } from '../http/server.js';
import { UserError } from '../errors.js';
import { SHAPE_KEYS } from '../config/saved.js';
import type { ShapeStore } from '../shapes/index.js';

const JSON_TYPE = 'application/json; charset=utf-8';

export function mountShapes(http: HttpServer, store: ShapeStore): void {
  http.route(
    '/api/shapes',
    async (req, res) => {
      const reply = (status: number, body: unknown) => http.send(res, status, JSON_TYPE, JSON.stringify(body), { 'Cache-Control': 'no-store' });
      if (req.method === 'DELETE') {
        const result = store.reset('viewer');
        return reply(result.ok ? 200 : 500, result.ok ? { ok: true, shapes: store.view() } : result);
      }
      if (req.method !== 'PUT') return reply(200, store.view());
      let body: unknown;
      try {
        body = await http.readJson(req);
      } catch (err) {
        if (err instanceof UserError) return reply(400, { ok: false, errors: { body: err.message } });
        throw err;
      }
      if (typeof body !== 'object' || body === null || Array.isArray(body)) return reply(400, { ok: false, errors: { body: `expected an object of ${SHAPE_KEYS.join(', ')}` } });
      const changes: Record<string, string> = {};
      for (const [key, value] of Object.entries(body)) {
        if (typeof value !== 'string') return reply(400, { ok: false, errors: { body: `${key}: expected text, as in the env file` } });
        changes[key] = value;
      }
      const result = store.save(changes, 'viewer');
      return reply(result.ok ? 200 : 422, result.ok ? { ok: true, shapes: store.view() } : result);
    },
    { methods: ['PUT', 'DELETE'] },
  );
}
