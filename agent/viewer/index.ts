// Viewer: a small HTTP server with a live page (MJPEG video + a canvas overlay fed by
// server-sent events), /snapshot.jpg, /events, /stream.mjpeg, /healthz and /metrics.
//
// MJPEG of the processed frames: the picture is exactly the frame the boxes belong to,
// it needs no decoder or build step in the browser, and it costs one JPEG encode per
// processed frame (a few ms, in libvips' threads) and only while someone watches.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { timingSafeEqual } from 'node:crypto';
import { UserError } from '../errors.js';
import type { Logger } from '../log.js';
import type { FrameLease, FrameStore, StoredFrame } from '../frames.js';
import type { FrameProcessed } from '../events.js';
import type { SpeedReport } from '../track/index.js';
import { PACKAGE_ROOT } from '../paths.js';
import { renderJpeg, displaySize } from './render.js';
import { Metrics, type MetricSources } from './metrics.js';

export interface ViewerOptions {
  port: number;
  host: string;
  token?: string;
  /** Seconds without a processed frame before /healthz reports 503. */
  staleAfter: number;
  mqttConnected: () => boolean;
  sources: MetricSources;
  /** Where the pixels of processed frames are found by index. */
  frames: FrameStore;
  log: Logger;
}

const PUBLIC = join(PACKAGE_ROOT, 'agent', 'viewer', 'public');
/** The only files served: a fixed map, so no request path ever reaches the file system. */
const STATIC: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
};
const SECURITY_HEADERS = {
  'Content-Security-Policy': "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Resource-Policy': 'same-origin',
};
const BOUNDARY = 'edgecamframe';

export class Viewer {
  readonly metrics: Metrics;
  private server: Server | undefined;
  /** The newest processed frame whose pixels are still kept, leased until the next one. */
  private shown: { lease: FrameLease; result: FrameProcessed } | undefined;
  private latestJpeg: { index: number; jpeg: Promise<Buffer> } | undefined;
  private readonly events = new Set<ServerResponse>();
  private readonly mjpeg = new Set<ServerResponse>();
  private readonly files = new Map<string, Buffer>();
  private lastFrameAt = 0;
  private readonly statuses = new Map<string, { component: string; state: string }>();
  private fps = 0;

  constructor(private readonly options: ViewerOptions) {
    this.metrics = new Metrics(options.sources, () => options.frames.stats);
  }

  get port(): number {
    const address = this.server?.address();
    return typeof address === 'object' && address ? address.port : this.options.port;
  }

  async start(): Promise<void> {
    for (const { file } of Object.values(STATIC)) this.files.set(file, readFileSync(join(PUBLIC, file)));
    const server = createServer((req, res) => {
      this.route(req, res).catch((err: Error) => {
        this.options.log.warn({ err: err.message, url: req.url?.split('?')[0] }, 'viewer request failed');
        if (!res.headersSent) this.send(res, 500, 'text/plain; charset=utf-8', 'internal error');
        else res.destroy();
      });
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'EADDRINUSE') reject(new UserError(`VIEWER_PORT=${this.options.port}: port already in use; choose another VIEWER_PORT or set VIEWER_ENABLED=false`));
        else if (err.code === 'EACCES' || err.code === 'EADDRNOTAVAIL') reject(new UserError(`VIEWER_BIND=${this.options.host} VIEWER_PORT=${this.options.port}: cannot listen (${err.code}); use an address of this host and a port above 1023`));
        else reject(err);
      });
      server.listen(this.options.port, this.options.host, resolve);
    });
    this.options.log.info({ url: `http://${this.options.host === '0.0.0.0' ? 'localhost' : this.options.host}:${this.port}/`, token: Boolean(this.options.token) }, 'viewer listening');
  }

  onResult(result: FrameProcessed): void {
    const now = Date.now();
    if (this.lastFrameAt) this.fps = this.fps * 0.8 + (1000 / Math.max(1, now - this.lastFrameAt)) * 0.2;
    this.lastFrameAt = now;
    this.metrics.inference.observe(result.inferenceMs);
    for (const d of result.detections) this.metrics.detections.inc({ class: d.className });
    const lease = this.options.frames.lease(result.index);
    if (lease) {
      this.shown?.lease.release();
      this.shown = { lease, result };
    }
    const frame = lease?.frame;
    const size = frame ? displaySize(frame) : undefined;
    this.broadcast('detections', {
      frame: result.index,
      pts: result.pts,
      capturedAt: frame?.capturedAt,
      source: { width: result.sourceWidth, height: result.sourceHeight },
      display: size,
      inferenceMs: Math.round(result.inferenceMs * 10) / 10,
      fps: Math.round(this.fps * 10) / 10,
      detections: result.detections.map((d) => ({ class_name: d.className, score: Math.round(d.score * 1000) / 1000, box: d.box.map((v) => Math.round(v)), track_id: d.trackId })),
    });
    if (this.mjpeg.size && frame) void this.pushMjpeg(frame);
  }

  onSpeed(report: SpeedReport): void {
    this.broadcast('speed', { track_id: report.trackId, class_name: report.className, speed: Math.round(report.speed * 10) / 10, unit: report.unit, final: report.final });
  }

  onStatus(status: { component: string; state: string }): void {
    this.statuses.set(status.component, status);
    this.broadcast('status', status);
  }

  async stop(): Promise<void> {
    this.shown?.lease.release();
    this.shown = undefined;
    for (const res of [...this.events, ...this.mjpeg]) res.end();
    this.events.clear();
    this.mjpeg.clear();
    const server = this.server;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  health(): { ok: boolean; reasons: string[]; lastFrameAgoS: number | null; mqttConnected: boolean } {
    const reasons: string[] = [];
    const ago = this.lastFrameAt ? (Date.now() - this.lastFrameAt) / 1000 : null;
    if (ago === null) reasons.push('no frame processed yet');
    else if (ago > this.options.staleAfter) reasons.push(`no frame for ${ago.toFixed(1)} s`);
    const mqttConnected = this.options.mqttConnected();
    if (!mqttConnected) reasons.push('MQTT broker not connected');
    return { ok: reasons.length === 0, reasons, lastFrameAgoS: ago === null ? null : Math.round(ago * 10) / 10, mqttConnected };
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://viewer');
    if (req.method !== 'GET' && req.method !== 'HEAD') return this.send(res, 405, 'text/plain; charset=utf-8', 'method not allowed', { Allow: 'GET, HEAD' });
    const path = url.pathname;
    // The page's own files hold no data and load without the token (a browser does not
    // add ?token= to them); everything that shows the camera or the agent needs it.
    const file = STATIC[path];
    if (file && path !== '/') return this.send(res, 200, file.type, this.files.get(file.file)!, { 'Cache-Control': 'no-cache' });
    if (!this.authorised(req, url)) return this.send(res, 401, 'text/plain; charset=utf-8', 'token required: Authorization: Bearer <VIEWER_TOKEN> or ?token=', { 'WWW-Authenticate': 'Bearer' });
    if (file) return this.send(res, 200, file.type, this.files.get(file.file)!, { 'Cache-Control': 'no-cache' });
    switch (path) {
      case '/events':
        return this.openEvents(req, res);
      case '/stream.mjpeg':
        return this.openMjpeg(req, res);
      case '/snapshot.jpg': {
        // The newest processed frame with its boxes; before the first result, or with
        // ?raw=1, the newest frame as captured.
        const raw = url.searchParams.get('raw') === '1';
        const shown = raw ? undefined : this.shown;
        const lease = shown ? this.options.frames.lease(shown.result.index) : this.options.frames.latest();
        if (!lease) return this.send(res, 503, 'text/plain; charset=utf-8', 'no frame yet');
        try {
          return this.send(res, 200, 'image/jpeg', await renderJpeg(lease.frame, shown?.result.detections, 85), { 'Cache-Control': 'no-store' });
        } finally {
          lease.release();
        }
      }
      case '/healthz': {
        const h = this.health();
        return this.send(res, h.ok ? 200 : 503, 'application/json', JSON.stringify(h));
      }
      case '/metrics':
        return this.send(res, 200, this.metrics.registry.contentType, await this.metrics.registry.metrics());
      default:
        return this.send(res, 404, 'text/plain; charset=utf-8', 'not found');
    }
  }

  private authorised(req: IncomingMessage, url: URL): boolean {
    const token = this.options.token;
    if (!token) return true;
    const given = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? url.searchParams.get('token') ?? '';
    const a = Buffer.from(given);
    const b = Buffer.from(token);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  private send(res: ServerResponse, status: number, type: string, body: string | Buffer, headers: Record<string, string> = {}): void {
    res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), ...headers });
    res.end(res.req.method === 'HEAD' ? undefined : body);
  }

  private openEvents(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
    res.write('retry: 2000\n\n');
    for (const status of this.statuses.values()) res.write(`event: status\ndata: ${JSON.stringify(status)}\n\n`);
    this.events.add(res);
    req.on('close', () => this.events.delete(res));
  }

  private openMjpeg(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': `multipart/x-mixed-replace; boundary=${BOUNDARY}`, 'Cache-Control': 'no-store', Connection: 'close' });
    this.mjpeg.add(res);
    req.on('close', () => this.mjpeg.delete(res));
    if (this.shown) void this.pushMjpeg(this.shown.lease.frame, res);
  }

  /** One JPEG per processed frame, shared by every client; a client that cannot keep up skips frames. */
  private async pushMjpeg(frame: StoredFrame, only?: ServerResponse): Promise<void> {
    if (this.latestJpeg?.index !== frame.index) {
      // The encoder reads the pixels asynchronously: they stay leased until it is done.
      const lease = this.options.frames.lease(frame.index);
      if (!lease) return;
      this.latestJpeg = { index: frame.index, jpeg: renderJpeg(lease.frame).finally(() => lease.release()) };
    }
    const jpeg = await this.latestJpeg.jpeg;
    const head = `--${BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: ${jpeg.length}\r\nX-Frame-Index: ${frame.index}\r\n\r\n`;
    for (const res of only ? [only] : this.mjpeg) {
      if (res.writableNeedDrain) continue;
      res.write(head);
      res.write(jpeg);
      res.write('\r\n');
    }
  }

  private broadcast(event: string, data: unknown): void {
    if (!this.events.size) return;
    const message = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const res of this.events) if (!res.writableNeedDrain) res.write(message);
  }
}
