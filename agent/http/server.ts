// The agent's HTTP server: one port (HTTP_PORT) for the features that serve something.
// /healthz and /metrics are always here; the viewer feature adds the page and the video.
// Every route needs HTTP_TOKEN when one is set, except those registered as public
// (/healthz, and the page's own script and style, which hold no data). A request whose
// Host is not this machine (a name, an IP address, localhost, or HTTP_ALLOWED_HOSTS) is
// refused, so a web page elsewhere cannot reach the server by DNS rebinding. Every
// response carries the same security headers, and every text body passes the redaction
// the logs use. GET and HEAD are served; a route may also take PUT or DELETE, and then
// only from the page's own origin (Origin and Sec-Fetch-Site, when the browser sends them,
// must say so) with a JSON body: no form post or script of another web page can change
// anything through the user's browser, token or no token.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { sameSecret } from '../secrets.js';
import type { Config } from '../config/index.js';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { UserError } from '../errors.js';
import type { Logger } from '../log.js';
import { redactUrl } from '../log.js';
import { isLoopback } from '../config/checks.js';

export type Handler = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void> | void;

export interface HttpServerOptions {
  port: number;
  host: string;
  token?: string;
  /** Host names answered besides localhost, IP addresses and this machine's own name. */
  allowedHosts?: string[];
  log: Logger;
}

/** The server's options from the config (HTTP_*). */
export function httpOptions(config: Pick<Config, 'HTTP_PORT' | 'HTTP_BIND' | 'HTTP_TOKEN' | 'HTTP_ALLOWED_HOSTS'>, log: Logger): HttpServerOptions {
  return { port: config.HTTP_PORT, host: config.HTTP_BIND, token: config.HTTP_TOKEN, allowedHosts: config.HTTP_ALLOWED_HOSTS, log: log.child({ stage: 'http' }) };
}

export const SECURITY_HEADERS = {
  'Content-Security-Policy': "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

const TEXT = 'text/plain; charset=utf-8';

export class HttpServer {
  readonly name = 'http';
  private server: Server | undefined;
  private ready = false;
  private readonly routes = new Map<string, { handler: Handler; public: boolean; methods: string[] }>();
  private readonly closers: (() => void)[] = [];
  private readonly hostNames: Set<string>;

  constructor(private readonly options: HttpServerOptions) {
    const own = hostname().toLowerCase();
    this.hostNames = new Set(['localhost', own, `${own}.local`, ...(options.allowedHosts ?? []).map((h) => h.toLowerCase())]);
  }

  get port(): number {
    const address = this.server?.address();
    return typeof address === 'object' && address ? address.port : this.options.port;
  }

  /** Serves `path` (exact match; or, ending in `/`, every path under it) with `handler`; `public` routes need no token. */
  route(path: string, handler: Handler, options: { public?: boolean; methods?: ('PUT' | 'DELETE')[] } = {}): void {
    this.routes.set(path, { handler, public: options.public ?? false, methods: ['GET', 'HEAD', ...(options.methods ?? [])] });
  }

  /** The JSON body of a PUT (at most `limit` bytes); a UserError says what is wrong with it. */
  async readJson(req: IncomingMessage, limit = 65_536): Promise<unknown> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) throw new UserError(`body larger than ${limit} bytes`);
      chunks.push(chunk);
    }
    try {
      return JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      throw new UserError('body is not JSON');
    }
  }

  private routeOf(path: string): { handler: Handler; public: boolean; methods: string[] } | undefined {
    const exact = this.routes.get(path);
    if (exact) return exact;
    const folder = path.slice(0, path.lastIndexOf('/') + 1);
    return folder.length > 1 ? this.routes.get(folder) : undefined;
  }

  /** Called when the server stops, before connections are closed (long-lived responses end here). */
  onClose(close: () => void): void {
    this.closers.push(close);
  }

  /**
   * The port, taken first of all (before the broker, the model or any connection), so a
   * port another instance holds stops the agent at once; requests get 503 until start().
   */
  readonly binding = { name: 'http port', start: () => this.bind(), stop: () => this.stop() };

  private async bind(): Promise<void> {
    const { port, host, log } = this.options;
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err: Error) => {
        log.warn({ err: err.message, url: req.url?.split('?')[0] }, 'HTTP request failed');
        if (!res.headersSent) this.send(res, 500, TEXT, 'internal error');
        else res.destroy();
      });
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'EADDRINUSE')
          reject(new UserError(`HTTP_PORT=${port}: port already in use (another edgecam instance?); set HTTP_PORT to a free port, or HTTP_ENABLED=false`));
        else if (err.code === 'EACCES' || err.code === 'EADDRNOTAVAIL')
          reject(new UserError(`HTTP_BIND=${host} HTTP_PORT=${port}: cannot listen (${err.code}); use an address of this host and a port above 1023`));
        else reject(err);
      });
      server.listen(port, host, resolve);
    });
  }

  async start(): Promise<void> {
    const { host, log } = this.options;
    if (!this.server) await this.bind();
    this.ready = true;
    log.info(
      { url: `http://${host === '0.0.0.0' ? 'localhost' : host}:${this.port}/`, tokenRequired: Boolean(this.options.token), routes: [...this.routes.keys()] },
      'HTTP server listening',
    );
    if (isLoopback(host) && !this.options.token) {
      log.info(
        'HTTP server on this machine only; to watch from other hosts set HTTP_TOKEN (then it listens on every interface), or HTTP_BIND=0.0.0.0 with HTTP_ALLOW_UNAUTHENTICATED=true on a trusted network',
      );
    }
  }

  async stop(): Promise<void> {
    this.ready = false;
    for (const close of this.closers.splice(0)) close();
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  send(res: ServerResponse, status: number, type: string, body: string | Buffer, headers: Record<string, string> = {}): void {
    if (typeof body === 'string') body = redactUrl(body);
    res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), ...headers });
    res.end(res.req.method === 'HEAD' ? undefined : body);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://edgecam');
    if (!this.knownHost(req.headers.host)) return this.send(res, 421, TEXT, 'unknown host: add it to HTTP_ALLOWED_HOSTS');
    if (!this.ready) return this.send(res, 503, TEXT, 'starting');
    const route = this.routeOf(url.pathname);
    const methods = route?.methods ?? ['GET', 'HEAD'];
    if (!methods.includes(req.method ?? '')) return this.send(res, 405, TEXT, 'method not allowed', { Allow: methods.join(', ') });
    if (!route?.public && !this.authorised(req, url)) {
      return this.send(res, 401, TEXT, 'token required: Authorization: Bearer <HTTP_TOKEN> or ?token=', { 'WWW-Authenticate': 'Bearer' });
    }
    if (!route) return this.send(res, 404, TEXT, 'not found');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      const refused = this.crossSite(req);
      if (refused) return this.send(res, 403, TEXT, refused);
    }
    await route.handler(req, res, url);
  }

  /** Why a request that changes something is refused: another site's, or not JSON; undefined when it is the page's own. */
  private crossSite(req: IncomingMessage): string | undefined {
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin' && site !== 'none') return `refused: a ${site} request (only the page itself may change settings)`;
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== `http://${req.headers.host}` && origin !== `https://${req.headers.host}`) return `refused: request from ${origin}, not from this page`;
    if (req.method === 'PUT' && !/^application\/json\s*(;|$)/i.test(req.headers['content-type'] ?? '')) return 'refused: the body must be JSON (Content-Type: application/json)';
    return undefined;
  }

  /** This machine by name or address, or a name the user allowed; anything else may be a rebinding attack. */
  private knownHost(header: string | undefined): boolean {
    if (!header) return false;
    const host = header
      .toLowerCase()
      .replace(/:\d+$/, '')
      .replace(/^\[(.*)\]$/, '$1');
    return isIP(host) !== 0 || this.hostNames.has(host);
  }

  private authorised(req: IncomingMessage, url: URL): boolean {
    const token = this.options.token;
    if (!token) return true;
    const given = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? url.searchParams.get('token') ?? '';
    return sameSecret(token, given);
  }
}
