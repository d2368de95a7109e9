// sd_notify over systemd's unix datagram socket: READY=1 after the first processed
// frame, WATCHDOG=1 at half of WATCHDOG_USEC but only while frames keep flowing (so a
// pipeline that stopped making progress gets restarted by systemd), STOPPING=1 at
// shutdown. Without NOTIFY_SOCKET (not under systemd) every call does nothing.
import { createRequire } from 'node:module';
import type { Logger } from '../log.js';

interface DgramSocket {
  sendTo(buf: Buffer, offset: number, length: number, path: string, cb?: (err?: Error) => void): void;
  close(): void;
}

export interface NotifierOptions {
  env?: NodeJS.ProcessEnv;
  log: Logger;
  /** ms timestamp of the last processed frame. */
  lastFrameAt: () => number;
}

export class SystemdNotifier {
  private socket: DgramSocket | undefined;
  private readonly path: string | undefined;
  private readonly watchdogMs: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readySent = false;

  constructor(private readonly options: NotifierOptions) {
    const env = options.env ?? process.env;
    const socket = env.NOTIFY_SOCKET;
    // Abstract socket names start with '@', which stands for a leading NUL.
    this.path = socket ? (socket.startsWith('@') ? `\0${socket.slice(1)}` : socket) : undefined;
    const usec = Number(env.WATCHDOG_USEC);
    const forUs = !env.WATCHDOG_PID || Number(env.WATCHDOG_PID) === process.pid;
    this.watchdogMs = this.path && usec > 0 && forUs ? usec / 1000 : undefined;
  }

  get enabled(): boolean {
    return this.path !== undefined;
  }

  start(): void {
    if (!this.path) return;
    try {
      const require = createRequire(import.meta.url);
      const { DgramSocket } = require('node-unix-socket') as { DgramSocket: new () => DgramSocket };
      this.socket = new DgramSocket();
    } catch (err) {
      this.options.log.warn({ err: (err as Error).message }, 'sd_notify unavailable: no unix datagram support on this platform');
      return;
    }
    if (this.watchdogMs) {
      const every = this.watchdogMs / 2;
      this.timer = setInterval(() => {
        if (Date.now() - this.options.lastFrameAt() < this.watchdogMs!) this.send('WATCHDOG=1');
      }, every);
      this.timer.unref();
    }
  }

  /** Call after each processed frame; the first one sends READY=1. */
  frameProcessed(): void {
    if (this.readySent) return;
    this.readySent = true;
    this.send('READY=1\nSTATUS=processing frames');
  }

  status(text: string): void {
    this.send(`STATUS=${text}`);
  }

  stopping(): void {
    clearInterval(this.timer);
    this.send('STOPPING=1');
  }

  close(): void {
    clearInterval(this.timer);
    this.socket?.close();
    this.socket = undefined;
  }

  private send(message: string): void {
    if (!this.socket || !this.path) return;
    const buf = Buffer.from(message);
    this.socket.sendTo(buf, 0, buf.length, this.path, (err) => {
      if (err) this.options.log.debug({ err: err.message }, 'sd_notify failed');
    });
  }
}
