// The capture's two source watchdogs. A stall: no bytes from FFmpeg for STALL_TIMEOUT
// (and not because the capture paused it). An implausible rate: a live source delivering
// frames far faster than DETECT_FPS has broken timestamps (the select filter then passes
// everything). Either way FFmpeg is killed, and its supervisor restarts it, as a camera
// reboot usually fixes it.
import type { Logger } from '../log.js';

export interface SourceWatchdogOptions {
  /** Seconds without data before FFmpeg is killed; 0 disables. */
  stallTimeout: number;
  /** Whether the frame rate is checked (live or real-time sources). */
  checkRate: boolean;
  fps: () => number;
  /** True while no data is expected (stopped, ended, paused on purpose, between runs). */
  idle: () => boolean;
  kill: () => void;
  log: Logger;
}

export class SourceWatchdog {
  private lastDataAt = Date.now();
  private readonly arrivals: number[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: SourceWatchdogOptions) {}

  start(): void {
    const stallMs = this.options.stallTimeout * 1000;
    if (stallMs <= 0) return;
    this.timer = setInterval(() => this.checkStall(stallMs), Math.min(1000, stallMs / 2));
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** A new FFmpeg run. */
  reset(): void {
    this.lastDataAt = Date.now();
    this.arrivals.length = 0;
  }

  data(): void {
    this.lastDataAt = Date.now();
  }

  frame(): void {
    if (!this.options.checkRate) return;
    const now = Date.now();
    const fps = this.options.fps();
    this.arrivals.push(now);
    while (this.arrivals.length && now - this.arrivals[0]! > 10_000) this.arrivals.shift();
    if (this.arrivals.length <= Math.max(30, 3 * fps * 10)) return;
    this.options.log.warn({ framesIn10s: this.arrivals.length, detectFps: fps }, 'implausible frame rate from the source; restarting ffmpeg');
    this.arrivals.length = 0;
    this.options.kill();
  }

  private checkStall(stallMs: number): void {
    if (this.options.idle() || Date.now() - this.lastDataAt < stallMs) return;
    this.options.log.warn({ stallSeconds: stallMs / 1000 }, 'no frame from the source; killing ffmpeg');
    this.lastDataAt = Date.now();
    this.options.kill();
  }
}
