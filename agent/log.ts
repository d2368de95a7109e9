// Logging: pino JSON lines on stdout (journald keeps them as they are), a
// human-readable form when stdout is a terminal. Credentials never reach a line.
import pino, { type Logger } from 'pino';

export type { Logger };

/** Replaces user:password@ inside any URL in `text`. */
export function redactUrl(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@\s'"]+@/gi, '$1<redacted>@');
}

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
    redact: { paths: ['password', '*.password', 'MQTT_PASSWORD', '*.MQTT_PASSWORD'], censor: '<redacted>' },
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

function scrub(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactUrl(value);
  if (value instanceof Error) {
    const copy = Object.assign(Object.create(Object.getPrototypeOf(value) as object) as Error, value);
    copy.message = redactUrl(value.message);
    if (value.stack) copy.stack = redactUrl(value.stack);
    return copy;
  }
  if (value && typeof value === 'object' && depth < 3 && !Array.isArray(value) && !Buffer.isBuffer(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = scrub(v, depth + 1);
    return out;
  }
  return value;
}
