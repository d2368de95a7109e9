// sd_notify over systemd's unix datagram socket: READY=1 once the agent is up (config
// valid, model loaded, broker connecting, capture started: not the camera, which may be
// down for hours and is retried by the agent itself), STATUS= with the camera's state,
// WATCHDOG=1 at half of WATCHDOG_USEC while the agent itself is healthy, STOPPING=1 at
// shutdown. Without NOTIFY_SOCKET (not under systemd) every call does nothing.
//
// The watchdog guards what only a restart can fix: a hung event loop (the timer that
// sends the ping does not run) and a hung detector (an inference waiting longer than
// half the watchdog interval). A camera outage is not one of them.
//
// Node has no unix datagram sockets, and the npm packages that add them either need a
// compiler at install time or ship no arm64 binary. So one small python3 process is
// started once and sends each line it reads on stdin as one datagram; it ends when its
// stdin closes, i.e. with the agent. (The unit sets NotifyAccess=all for it.)
import { spawn, type ChildProcess } from 'node:child_process';
import { redactUrl, type Logger } from '../log.js';

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
  /** Why the agent is not healthy (a hung part that a restart fixes), or undefined. */
  stuck: (limitMs: number) => string | undefined;
}

export class SystemdNotifier {
  private sender: ChildProcess | undefined;
  private readonly path: string | undefined;
  private readonly watchdogMs: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readySent = false;
  private stuckReason: string | undefined;
  private status = '';

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
      this.timer = setInterval(() => this.feed(every), every);
      this.timer.unref();
    }
  }

  /** The agent is up: READY=1, with the status so far. */
  ready(): void {
    if (this.readySent) return;
    this.readySent = true;
    this.send(`READY=1${this.status ? `\nSTATUS=${this.status}` : ''}`);
  }

  /** A one-line status that `systemctl status` shows. */
  setStatus(status: string): void {
    if (status === this.status) return;
    this.status = status;
    if (this.readySent) this.send(`STATUS=${status}`);
  }

  private feed(limitMs: number): void {
    const reason = this.options.stuck(limitMs);
    if (reason !== this.stuckReason) {
      if (reason) this.options.log.error({ reason }, 'agent stuck: the systemd watchdog is no longer fed');
      else if (this.stuckReason) this.options.log.info('agent no longer stuck: the systemd watchdog is fed again');
      this.stuckReason = reason;
    }
    if (!reason) this.send('WATCHDOG=1');
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
    stdin.write(redactUrl(message).replace(/\n/g, '\x1f') + '\n');
  }
}
