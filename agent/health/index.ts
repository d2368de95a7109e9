// The health feature: /healthz from the agent's one clock of health (clock.ts).
import type { HttpServer } from '../http/server.js';
import type { Feature, FeatureContext } from '../feature.js';
import type { Health } from './clock.js';

export { Health, type HealthReport } from './clock.js';

/** GET /healthz: 200 with the report when healthy, 503 with the reasons otherwise. */
export function healthRoute(http: HttpServer, health: Health): void {
  // Open without the token, for local probes and uptime monitors: it shows states, no picture.
  http.route(
    '/healthz',
    (_req, res) => {
      const report = health.report();
      http.send(res, report.ok ? 200 : 503, 'application/json', JSON.stringify(report));
    },
    { public: true },
  );
}

export function fromConfig({ config, http, health }: FeatureContext): Feature | undefined {
  if (!config.HTTP_ENABLED) return undefined;
  return { name: 'healthz', start: () => healthRoute(http, health), stop: () => {} };
}
