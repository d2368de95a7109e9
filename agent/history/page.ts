// The History page on the agent's HTTP server: charts of the recorded intervals and the
// latest crossings with their evidence photos. Its files are a fixed map (no request
// path reaches the file system); uPlot is served from the installed package, never a CDN.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { HttpServer } from '../http/server.js';
import { PACKAGE_ROOT } from '../paths.js';

const PUBLIC = join(PACKAGE_ROOT, 'agent', 'history', 'public');

export function mountHistoryPage(http: HttpServer): void {
  const require = createRequire(import.meta.url);
  const files: [string, string, string][] = [
    ['/history', join(PUBLIC, 'history.html'), 'text/html; charset=utf-8'],
    ['/history.js', join(PUBLIC, 'history.js'), 'text/javascript; charset=utf-8'],
    ['/history.css', join(PUBLIC, 'history.css'), 'text/css; charset=utf-8'],
    ['/uplot.js', require.resolve('uplot/dist/uPlot.iife.min.js'), 'text/javascript; charset=utf-8'],
    ['/uplot.css', require.resolve('uplot/dist/uPlot.min.css'), 'text/css; charset=utf-8'],
  ];
  for (const [path, file, type] of files) {
    const body = readFileSync(file);
    // Scripts and styles hold no data and load without the token; the page, like the data, needs it.
    http.route(path, (_req, res) => http.send(res, 200, type, body, { 'Cache-Control': 'no-cache' }), { public: path !== '/history' });
  }
}
