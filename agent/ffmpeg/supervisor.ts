// The one restart policy for every FFmpeg the agent runs (capture, copy restream,
// annotated restream): when the process exits, the owner says what the exit means, and
// the supervisor restarts it at once, after an exponential backoff with jitter, or not
// at all. The backoff starts over once a run has made progress (the owner says so) or
// has lasted a minute.
import { Backoff } from '../backoff.js';
import type { Logger } from '../log.js';
import type { FfmpegExit, FfmpegProcess } from './process.js';

/** What an exit means: restart after the backoff, restart at once, or stay down. */
export type ExitDecision = 'backoff' | 'now' | 'stop';

export interface SupervisorOptions {
  /** Names the process in log lines, e.g. "ffmpeg" or "restream ffmpeg". */
  label: string;
  /** Longest wait between restarts, ms. */
  restartMaxMs: number;
  /** Starts one run of FFmpeg. */
  spawn: () => FfmpegProcess;
  /** Decides what an exit means; `reason` is FFmpeg's last meaningful stderr lines. Default: backoff. */
  onExit?: (exit: FfmpegExit, reason: string) => ExitDecision;
  /** Called before a restart after a backoff, with its delay. */
  onRestart?: (delayMs: number, reason: string) => void;
  /** Filters FFmpeg's stderr tail down to the lines that explain an exit. */
  reasonOf?: (tail: string[]) => string;
  log: Logger;
}

/** A run that lasted this long counts as progress: the next failure starts the backoff over. */
const STABLE_MS = 60_000;
/** Shortest time between two restarts asked for by restart(). */
const RESTART_SPACING_MS = 1000;

export class Supervisor {
  readonly stats = { restarts: 0 };
  private current: FfmpegProcess | undefined;
  private readonly backoff: Backoff;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private startedAt = 0;
  /** The present run has made progress: the backoff starts over at its next exit. */
  private progressed = false;
  /** A restart was asked for: the next exit starts a new run at once, whatever it says. */
  private restarting: (() => void) | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private lastRestart = 0;

  constructor(private readonly options: SupervisorOptions) {
    this.backoff = new Backoff({ initialMs: 1000, maxMs: options.restartMaxMs });
  }

  get process(): FfmpegProcess | undefined {
    return this.current;
  }

  get pid(): number | undefined {
    return this.current?.pid;
  }

  start(): FfmpegProcess {
    this.stopped = false;
    return this.spawn();
  }

  /** The present run is healthy: the next failure waits the shortest time again. */
  progress(): void {
    this.progressed = true;
  }

  /** Kills the present run; its exit then goes through `onExit` as any other. */
  kill(graceMs = 500): void {
    void this.current?.kill(graceMs);
  }

  /**
   * Restarts the present run on purpose (new settings), at most once a second: calls in
   * between are merged into one, which runs with the settings of the last. `announce` is
   * called when it happens.
   */
  restart(announce?: () => void): void {
    if (this.restartTimer || this.stopped) return;
    this.restartTimer = setTimeout(
      () => {
        this.restartTimer = undefined;
        if (this.stopped || !this.current) return;
        this.lastRestart = Date.now();
        this.restarting = announce ?? (() => {});
        void this.current.kill(500);
      },
      Math.max(0, this.lastRestart + RESTART_SPACING_MS - Date.now()),
    );
  }

  async stop(graceMs?: number): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.restartTimer);
    await this.current?.kill(graceMs);
  }

  private spawn(): FfmpegProcess {
    const proc = this.options.spawn();
    this.current = proc;
    this.startedAt = Date.now();
    this.progressed = false;
    void proc.exited.then((exit) => this.exited(proc, exit));
    return proc;
  }

  private exited(proc: FfmpegProcess, exit: FfmpegExit): void {
    if (this.stopped || proc !== this.current) return;
    const { label, log, onExit, onRestart } = this.options;
    if (this.restarting) {
      this.restarting();
      this.restarting = undefined;
      this.stats.restarts++;
      this.spawn();
      return;
    }
    const reason = (this.options.reasonOf ?? ((tail: string[]) => tail.slice(-2).join(' | ')))(exit.tail);
    const decision = onExit?.(exit, reason) ?? 'backoff';
    if (decision === 'stop') return;
    this.stats.restarts++;
    if (decision === 'now') {
      this.spawn();
      return;
    }
    const backoffReset = this.progressed || Date.now() - this.startedAt > STABLE_MS;
    if (backoffReset) this.backoff.reset();
    const delayMs = this.backoff.next();
    onRestart?.(delayMs, reason);
    log.warn({ code: exit.code, signal: exit.signal, reason, retryInMs: delayMs, backoffReset }, `${label} exited; restarting`);
    this.timer = setTimeout(() => {
      if (!this.stopped) this.spawn();
    }, delayMs);
  }
}
