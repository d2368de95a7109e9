// sd_notify over systemd's unix datagram socket: READY=1 after the first processed
// frame, WATCHDOG=1 at half of WATCHDOG_USEC but only while frames keep flowing (so a
// pipeline that stopped making progress gets restarted by systemd), STOPPING=1 at
// shutdown. Without NOTIFY_SOCKET (not under systemd) every call does nothing.
//
// Node has no unix datagram sockets, and the npm packages that add them either need a
// compiler at install time or ship no arm64 binary. So one small python3 process is
// started once and sends each line it reads on stdin as one datagram; it ends when its
// stdin closes, i.e. with the agent. (The unit sets NotifyAccess=all for it.)
import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from '../log.js';

const SENDER = [
  'import os, socket, sys',
  'path = os.environ["EDGECAM_NOTIFY_PATH"]',
  'path = "\\0" + path[1:] if path.startswith("@") else path',
  's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
  'for line in sys.stdin:',
  '    try: s.sendto(line.rstrip("\\n").replace("\\x1f", "\\n").encode(), path)',
  '    except OSError as e: print(e, file=sys.stderr, flush=True)',
].join('\n');

export interface NotifierOptions {
  env?: NodeJS.ProcessEnv;
  log: Logger;
  /** ms timestamp of the last processed frame. */
  lastFrameAt: () => number;
}

export class SystemdNotifier {
  private sender: ChildProcess | undefined;
  private readonly path: string | undefined;
  private readonly watchdogMs: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readySent = false;

  constructor(private readonly options: NotifierOptions) {
    const env = options.env ?? process.env;
    const socket = env.NOTIFY_SOCKET;
    this.path = socket || undefined;
    const usec = Number(env.WATCHDOG_USEC);
    const forUs = !env.WATCHDOG_PID || Number(env.WATCHDOG_PID) === process.pid;
    this.watchdogMs = this.path && usec > 0 && forUs ? usec / 1000 : undefined;
  }

  start(): void {
    if (!this.path) return;
    const sender = spawn('python3', ['-u', '-c', SENDER], { stdio: ['pipe', 'ignore', 'pipe'], env: { ...process.env, EDGECAM_NOTIFY_PATH: this.path } });
    sender.on('error', (err) => this.options.log.warn({ err: err.message }, 'sd_notify unavailable: python3 is needed to talk to systemd'));
    sender.stderr!.on('data', (d: Buffer) => this.options.log.debug({ err: d.toString().trim() }, 'sd_notify failed'));
    sender.stdin!.on('error', () => {});
    sender.unref();
    (sender.stdin as unknown as { unref?: () => void }).unref?.();
    this.sender = sender;
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

  stopping(): void {
    clearInterval(this.timer);
    this.send('STOPPING=1');
  }

  close(): void {
    clearInterval(this.timer);
    this.sender?.stdin?.end();
    this.sender = undefined;
  }

  /** One line per datagram; a newline inside a message travels as \x1f. */
  private send(message: string): void {
    const stdin = this.sender?.stdin;
    if (!stdin || stdin.destroyed) return;
    stdin.write(message.replace(/\n/g, '\x1f') + '\n');
  }
}
