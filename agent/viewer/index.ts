// Viewer: the live page on the agent's HTTP server — MJPEG video of the processed
// frames with their boxes drawn in, and the numbers beside it from server-sent events —
// plus /snapshot.jpg, /events and /stream.mjpeg.
//
// The boxes are drawn into each frame's JPEG on the server, on the frame they were
// computed on: however late inference is (a slow box, a busy one), a box can never sit
// over another frame's picture. It needs no decoder or build step in the browser, and
// it costs one JPEG encode per processed frame (a few ms, in libvips' threads) and only
// while someone watches.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AnalyticsSnapshot, Crossing, FrameResult, StatusEvent } from '../bus.js';
import { CalibrationError, homographyFromPoints, parsePoints, type SpeedUnit } from '../track/index.js';
import { calibrationReport, pointsOutsideFrame } from '../track/calibrate.js';
import type { Feature, FeatureContext } from '../feature.js';
import type { FrameLease, FrameStore, StoredFrame } from '../frames/store.js';
import { renderJpeg, displaySize } from '../frames/render.js';
import type { Health } from '../health/index.js';
import { SECURITY_HEADERS, type HttpServer } from '../http/server.js';
import { describeModel } from '../detect/manifest.js';
import { inputOverrides } from '../detect/overrides.js';
import { PACKAGE_ROOT } from '../paths.js';
import { redactUrl } from '../log.js';
import type { SpeedReport } from '../track/index.js';
import { round } from '../round.js';
import { mountShapes } from './shapes.js';

const PUBLIC = join(PACKAGE_ROOT, 'agent', 'viewer', 'public');
/** The only files served: a fixed map, so no request path ever reaches the file system. */
const STATIC: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
};
/** The section of docs/counting-and-speed.md the page links to when speeds need a calibration. */
const CALIBRATION_HELP = /^### Calibrating a real road\n[\s\S]*?(?=\n## |\n### )/m;
const BOUNDARY = 'edgecamframe';

export class Viewer {
  /** The newest processed frame whose pixels are still kept, leased until the next one. */
  private shown: { lease: FrameLease; result: FrameResult } | undefined;
  private latestJpeg: { index: number; jpeg: Promise<Buffer> } | undefined;
  private readonly events = new Set<ServerResponse>();
  private readonly mjpeg = new Set<ServerResponse>();
  private readonly statuses = new Map<string, StatusEvent>();
  private analytics: AnalyticsSnapshot | undefined;
  /** The newest /snapshot.jpg encodes, by frame and kind. */
  private readonly snapshots = new Map<string, Promise<Buffer>>();
  readonly stats = { snapshotEncodes: 0 };

  constructor(
    private readonly http: HttpServer,
    private readonly frames: FrameStore,
    private readonly health: Health,
    /** What the page is told on connect and after each Save: where speeds come from, and the lines, zones and masks to draw. */
    private readonly setup: () => { calibration: string; speedClasses: string[]; shapes: unknown; model: string; history: boolean },
    /** DETECT_FPS, SPEED_WINDOW and SPEED_UNIT, for the calibration preview's speed resolution. */
    private readonly speed: { fps: number; window: number; unit: SpeedUnit },
  ) {}

  /** Registers the page and its streams on the HTTP server. */
  mount(): void {
    const { http } = this;
    for (const [path, { file, type }] of Object.entries(STATIC)) {
      const body = readFileSync(join(PUBLIC, file));
      // The page's own script and style hold no data and load without the token (a browser
      // does not add ?token= to them); the page itself, like all that shows the camera, needs it.
      http.route(path, (_req, res) => http.send(res, 200, type, body, { 'Cache-Control': 'no-cache' }), { public: path !== '/' });
    }
    const help = CALIBRATION_HELP.exec(readFileSync(join(PACKAGE_ROOT, 'docs', 'counting-and-speed.md'), 'utf8'))?.[0];
    // Documentation only, no data: served without the token.
    if (help) http.route('/help/calibration', (_req, res) => http.send(res, 200, 'text/plain; charset=utf-8', help), { public: true });
    http.route('/events', (req, res) => this.openEvents(req, res));
    // The editor's calibration check: what four image points and their ground positions mean on this camera.
    http.route('/calibration/preview', (_req, res, url) => {
      const q = (k: string) => url.searchParams.get(k) ?? '';
      const size = /^(\d+)x(\d+)$/.exec(q('size'));
      const image = parsePoints(q('image'));
      const world = parsePoints(q('world'));
      const fail = (text: string) => http.send(res, 400, 'text/plain; charset=utf-8', text);
      if (!size) return fail('size: expected WIDTHxHEIGHT');
      if (typeof image === 'string') return fail(`image points: ${image}`);
      if (typeof world === 'string') return fail(`world points: ${world}`);
      try {
        const mapping = homographyFromPoints(image, world);
        const [width, height] = [Number(size[1]), Number(size[2])];
        const report = calibrationReport({ mapping, width, height, fps: this.speed.fps, window: this.speed.window, unit: this.speed.unit, imagePoints: image });
        http.send(res, 200, 'text/plain; charset=utf-8', [report, ...pointsOutsideFrame(image, width, height).map((w) => `Warning: ${w}`)].join('\n'));
      } catch (err) {
        fail(err instanceof CalibrationError ? err.message : String(err));
      }
    });
    http.route('/stream.mjpeg', (req, res) => this.openMjpeg(req, res));
    http.route('/snapshot.jpg', async (_req, res, url) => {
      // The newest processed frame with its boxes; before the first result, or with
      // ?raw=1, the newest frame as captured.
      const shown = url.searchParams.get('raw') === '1' ? undefined : this.shown;
      const lease = shown ? this.frames.lease(shown.result.index) : this.frames.latest();
      if (!lease) return http.send(res, 503, 'text/plain; charset=utf-8', 'no frame yet');
      // One encode per frame and kind, shared by every request for it: clients pulling
      // snapshots fast cost no more than one JPEG a frame.
      const key = `${lease.frame.index}:${shown ? 'boxes' : 'raw'}`;
      let cached = this.snapshots.get(key);
      if (!cached) {
        this.stats.snapshotEncodes++;
        cached = renderJpeg(lease.frame, shown?.result.detections, 85);
        this.snapshots.set(key, cached);
        while (this.snapshots.size > 2) this.snapshots.delete(this.snapshots.keys().next().value!);
      }
      try {
        http.send(res, 200, 'image/jpeg', await cached, { 'Cache-Control': 'no-store' });
      } finally {
        lease.release();
      }
    });
    http.onClose(() => this.close());
  }

  onResult(result: FrameResult): void {
    const lease = this.frames.lease(result.index);
    if (lease) {
      this.shown?.lease.release();
      this.shown = { lease, result };
    }
    const frame = lease?.frame;
    this.broadcast('detections', {
      frame: result.index,
      pts: result.pts,
      capturedAt: frame?.capturedAt,
      source: { width: result.sourceWidth, height: result.sourceHeight },
      display: frame ? displaySize(frame) : undefined,
      inferenceMs: round(result.inferenceMs, 1),
      fps: round(this.health.fps, 1),
      detections: result.detections.map((d) => ({ class_name: d.className, score: round(d.score, 3), box: d.box.map((v) => Math.round(v)), track_id: d.trackId })),
    });
    if (this.mjpeg.size && frame) void this.pushMjpeg(frame, result);
  }

  onSpeed(report: SpeedReport): void {
    this.broadcast('speed', { track_id: report.trackId, class_name: report.className, speed: round(report.speed, 1), unit: report.unit, final: report.final });
  }

  onCrossing(c: Crossing): void {
    this.broadcast('crossing', { line: c.line, direction: c.direction, track_id: c.trackId, class_name: c.className, speed: c.speed && round(c.speed.value, 1) });
  }

  onAnalytics(snapshot: AnalyticsSnapshot): void {
    this.analytics = snapshot;
    this.broadcast('analytics', snapshot);
  }

  /** Lines, zones, masks or calibration saved: the page draws the new ones. */
  onShapes(): void {
    this.broadcast('setup', this.setup());
  }

  onStatus(status: StatusEvent): void {
    this.statuses.set(status.component, status);
    this.broadcast('status', status);
  }

  close(): void {
    this.shown?.lease.release();
    this.shown = undefined;
    for (const res of [...this.events, ...this.mjpeg]) res.end();
    this.events.clear();
    this.mjpeg.clear();
  }

  private openEvents(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
    res.write('retry: 2000\n\n');
    res.write(`event: setup\ndata: ${JSON.stringify(this.setup())}\n\n`);
    if (this.analytics) res.write(`event: analytics\ndata: ${JSON.stringify(this.analytics)}\n\n`);
    for (const status of this.statuses.values()) res.write(redactUrl(`event: status\ndata: ${JSON.stringify(status)}\n\n`));
    this.events.add(res);
    req.on('close', () => this.events.delete(res));
  }

  private openMjpeg(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': `multipart/x-mixed-replace; boundary=${BOUNDARY}`, 'Cache-Control': 'no-store', Connection: 'close' });
    this.mjpeg.add(res);
    req.on('close', () => this.mjpeg.delete(res));
    if (this.shown) void this.pushMjpeg(this.shown.lease.frame, this.shown.result, res);
  }

  /** One JPEG per processed frame, its boxes drawn in, shared by every client; a client that cannot keep up skips frames. */
  private async pushMjpeg(frame: StoredFrame, result: FrameResult, only?: ServerResponse): Promise<void> {
    if (this.latestJpeg?.index !== frame.index) {
      // The encoder reads the pixels asynchronously: they stay leased until it is done.
      const lease = this.frames.lease(frame.index);
      if (!lease) return;
      this.latestJpeg = { index: frame.index, jpeg: renderJpeg(lease.frame, result.detections).finally(() => lease.release()) };
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
    // What FFmpeg says about a camera may quote its URL: every event passes the logs' redaction.
    const message = redactUrl(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    for (const res of this.events) if (!res.writableNeedDrain) res.write(message);
  }
}

export function fromConfig({ config, bus, http, frames, health, pipeline }: FeatureContext): Feature | undefined {
  if (!config.VIEWER_ENABLED || !config.HTTP_ENABLED) return undefined;
  const name = 'viewer';
  const model = describeModel(config.MODEL, inputOverrides(config).size);
  const viewer = new Viewer(
    http,
    frames,
    health,
    () => {
      const shapes = pipeline.shapes.view();
      return {
        calibration: shapes.calibration.kind,
        speedClasses: config.SPEED_CLASSES,
        shapes,
        model,
        history: config.HISTORY_DAYS > 0 && shapes.lines.length + shapes.zones.length > 0,
      };
    },
    { fps: config.DETECT_FPS, window: config.SPEED_WINDOW, unit: config.SPEED_UNIT },
  );
  return {
    name,
    start: () => {
      viewer.mount();
      mountShapes(http, pipeline.shapes);
      frames.need(name);
      health.provide(name, () => viewer.stats);
      bus.on('detections', (result) => viewer.onResult(result), name);
      bus.on('speed', (report) => viewer.onSpeed(report), name);
      bus.on('status', (status) => viewer.onStatus(status), name);
      bus.on('crossing', (c) => viewer.onCrossing(c), name);
      bus.on('analytics', (a) => viewer.onAnalytics(a), name);
      bus.on('shapes', () => viewer.onShapes(), name);
    },
    stop: () => viewer.close(),
  };
}
