// Logging: pino JSON lines on stdout (journald keeps them as they are), a
// human-readable form when stdout is a terminal. Credentials never reach a line.
import pino, { type Logger } from 'pino';
import { SECRET_KEYS } from './config/schema.js';

export type { Logger };

/** Replaces user:password@ inside any URL in `text`, up to the authority's last @ (a password may hold one). */
export function redactUrl(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/\s'"]*@/gi, '$1<redacted>@');
}

/** Fields never logged: every secret setting, and any `password` or `token`, at the top level or one below. */
const REDACTED_PATHS = ['password', 'token', ...SECRET_KEYS].flatMap((key) => [key, `*.${key}`]);

export interface LogOptions {
  level?: string;
  /** Defaults to pretty output when stdout is a TTY. */
  pretty?: boolean;
  destination?: pino.DestinationStream;
}

export function createLogger(options: LogOptions = {}): Logger {
  const pretty = options.pretty ?? process.stdout.isTTY === true;
  const base: pino.LoggerOptions = {
    level: options.level ?? 'info',
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACTED_PATHS, censor: '<redacted>' },
    formatters: { level: (label) => ({ level: label }) },
    hooks: {
      // Every message and string field passes through the URL scrubber: ffmpeg's
      // own lines and error messages may quote a camera URL with its password.
      logMethod(args, method) {
        method.apply(this, args.map((a) => scrub(a)) as Parameters<typeof method>);
      },
    },
  };
  if (options.destination) return pino(base, options.destination);
  if (pretty) return pino({ ...base, transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } });
  return pino(base, pino.destination({ dest: 1, sync: false }));
}

/** Deep enough for any log call; deeper values are dropped rather than passed on unread. */
const MAX_DEPTH = 8;

function scrub(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactUrl(value);
  if (depth > MAX_DEPTH) return '<too deep>';
  if (value instanceof Error) {
    const copy = Object.assign(Object.create(Object.getPrototypeOf(value) as object) as Error, value);
    copy.message = redactUrl(value.message);
    if (value.stack) copy.stack = redactUrl(value.stack);
    return copy;
  }
  if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1));
  if (value && typeof value === 'object' && !Buffer.isBuffer(value) && !ArrayBuffer.isView(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = scrub(v, depth + 1);
    return out;
  }
  return value;
}
