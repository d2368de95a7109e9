// Capture stage: runs FFmpeg on the source, which decodes, drops to DETECT_FPS,
// scales and letterboxes to the model's input, and writes rgb24 frames into a named
// pipe (fifo.ts; FFmpeg's stdout where mkfifo is missing). Frames land in a small
// pool of reused buffers; when the consumer is slower
// than the source, the newest frame wins and the older waiting one is dropped.
import type { Logger } from '../log.js';
import { findFfmpeg, runFfmpeg, type FfmpegExit, type FfmpegProcess } from './ffmpeg.js';
import { FramePipe, type FifoRead } from './fifo.js';
import { captureFilters, frameTransform, type Frame, type FrameTransform, type ResizeMode } from './frame.js';
import { ffmpegInput, hwaccelOptions, isFinite, type HwAccel, type SourceSpec } from './source.js';
import { Backoff } from '../backoff.js';
import { UserError } from '../errors.js';

export type { Frame, FrameTransform, ResizeMode } from './frame.js';
export type { SourceSpec } from './source.js';

export interface CaptureOptions {
  source: SourceSpec;
  width: number;
  height: number;
  resize: ResizeMode;
  /** Frames per second to deliver; FFmpeg drops the rest. */
  fps: number;
  ffmpegPath?: string;
  /** true: never drop (pause FFmpeg instead); for unpaced file processing. */
  lossless: boolean;
  /** Hardware decode preset; falls back to software decode when it fails. */
  hwaccel?: HwAccel;
  /** Longest wait between restarts, ms. */
  restartMaxMs?: number;
  /** Seconds without a frame from FFmpeg before it is killed and restarted; 0 disables. */
  stallTimeout?: number;
  /** Called when the source's state changes. */
  onState?: (state: CaptureState, detail?: string) => void;
  /** false: read FFmpeg's stdout instead of a named pipe (the fallback where mkfifo is missing). */
  namedPipe?: boolean;
  log: Logger;
}

export type CaptureState = 'starting' | 'streaming' | 'reconnecting' | 'ended';

export interface CaptureStats {
  framesIn: number;
  framesDropped: number;
  restarts: number;
}

const POOL_SIZE = 3;
const SHOWINFO = /\bn:\s*(\d+)\s+pts:\s*(-?\d+)\s+pts_time:\s*(-?[\d.e+-]+)/;
const INPUT_VIDEO = /Stream #\d+:\d+.*?: Video: .*?(\d{2,5})x(\d{2,5})/;

export class Capture {
  readonly stats: CaptureStats = { framesIn: 0, framesDropped: 0, restarts: 0 };
  private process: FfmpegProcess | undefined;
  private pipe: FramePipe | undefined;
  private read: FifoRead | undefined;
  /** Where FFmpeg's bytes come from (the named pipe, or its stdout), paused while every buffer is full. */
  private output: { pause(): void; resume(): void } | undefined;
  private readonly free: Buffer[] = [];
  private readonly ready: Frame[] = [];
  private held: Buffer | undefined;
  private filling: { buffer: Buffer; offset: number } | undefined;
  private stash: Buffer | undefined;
  private readonly ptsQueue: number[] = [];
  private readonly awaitingPts: Buffer[] = [];
  private sourceSize: { width: number; height: number } | undefined;
  private transform: FrameTransform | undefined;
  private index = 0;
  private waiter: (() => void) | undefined;
  private stopped = false;
  private ended = false;
  private failure: Error | undefined;
  private readonly backoff: Backoff;
  private restartTimer: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private lastDataAt = 0;
  private running = false;
  private restartNow = false;
  private framesSinceSpawn = 0;
  private state: CaptureState | undefined;
  /** Arrival times of recent frames, for the frame-rate plausibility check. */
  private readonly arrivals: number[] = [];
  private hwaccel: HwAccel;

  private readonly options: CaptureOptions;

  constructor(options: CaptureOptions) {
    this.options = { ...options };
    this.backoff = new Backoff({ initialMs: 1000, maxMs: options.restartMaxMs ?? 30_000 });
    this.hwaccel = options.hwaccel ?? 'none';
  }

  /** The running FFmpeg's pid, for health reports and tests. */
  get ffmpegPid(): number | undefined {
    return this.process?.pid;
  }

  get frameBytes(): number {
    return this.options.width * this.options.height * 3;
  }

  async start(): Promise<void> {
    for (let i = 0; i < POOL_SIZE; i++) this.free.push(Buffer.allocUnsafe(this.frameBytes));
    if (this.options.namedPipe !== false) this.pipe = FramePipe.create();
    this.setState('starting');
    this.spawn();
    const stallMs = (this.options.stallTimeout ?? 20) * 1000;
    if (stallMs > 0) {
      this.watchdog = setInterval(() => this.checkStall(stallMs), Math.min(1000, stallMs / 2));
      this.watchdog.unref();
    }
  }

  /** The next frame, or null once the source has ended or the stage stopped. The previous frame's buffer is reused. */
  async next(): Promise<Frame | null> {
    if (this.held) {
      this.free.push(this.held);
      this.held = undefined;
      this.drainStash();
    }
    if (this.stopped) return null;
    while (!this.ready.length) {
      if (this.failure) throw this.failure;
      if (this.stopped || this.ended) return null;
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
    const frame = this.ready.shift()!;
    this.held = frame.data;
    this.drainStash();
    return frame;
  }

  /** Changes DETECT_FPS at run time: FFmpeg is restarted with the new rate. */
  setFps(fps: number): void {
    this.options.fps = fps;
    const proc = this.process;
    if (!proc || !this.running) return;
    this.restartNow = true;
    void proc.kill(500);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    clearInterval(this.watchdog);
    this.wake();
    await this.process?.kill();
    this.read?.close();
    this.pipe?.remove();
  }

  private spawn(): void {
    const { source, width, height, resize, fps, log } = this.options;
    const input = ffmpegInput(source);
    const filters = captureFilters(fps, resize, width, height);
    this.sourceSize = undefined;
    this.transform = undefined;
    this.ptsQueue.length = 0;
    for (const b of this.awaitingPts.splice(0)) this.free.push(b);
    if (this.filling) this.free.push(this.filling.buffer);
    this.filling = undefined;
    this.stash = undefined;

    this.read?.close();
    const read = this.pipe?.open((chunk, length) => this.onData(chunk, length));
    this.read = read;
    const proc = runFfmpeg({
      binary: findFfmpeg(this.options.ffmpegPath),
      input: input.input,
      inputOptions: ['-hide_banner', '-nostats', '-nostdin', ...hwaccelOptions(this.hwaccel), ...input.options],
      outputOptions: ['-an', '-sn', '-dn', '-vf', filters, '-vsync', 'passthrough', '-f', 'rawvideo', '-pix_fmt', 'rgb24', ...(read ? ['-y'] : [])],
      output: read?.path ?? 'pipe:1',
    });
    this.process = proc;
    this.output = read ?? proc.stdout!;
    this.running = true;
    this.framesSinceSpawn = 0;
    this.lastDataAt = Date.now();
    this.arrivals.length = 0;
    let section = '';
    proc.onStderrLine((line) => {
      const pts = SHOWINFO.exec(line);
      if (pts) {
        this.ptsQueue.push(Number(pts[3]));
        this.pairTimestamps();
        return;
      }
      if (line.startsWith('Input #')) section = 'input';
      else if (line.startsWith('Output #') || line.startsWith('Stream mapping')) section = 'output';
      const video = section === 'input' && !this.sourceSize ? INPUT_VIDEO.exec(line) : null;
      if (video) {
        this.sourceSize = { width: Number(video[1]), height: Number(video[2]) };
        this.transform = frameTransform(resize, this.sourceSize.width, this.sourceSize.height, width, height);
        log.info({ width: this.sourceSize.width, height: this.sourceSize.height }, 'source opened');
      }
    });
    if (read) {
      // Exited means done only once every byte in the pipe has been read.
      void proc.exited.then(async (exit) => (read.writerExited(), await read.ended, this.onExit(proc, exit)));
    } else {
      proc.stdout!.on('data', (chunk: Buffer) => this.onData(chunk));
      proc.stdout!.on('error', () => {});
      void proc.exited.then((exit) => this.onExit(proc, exit));
    }
  }

  /** Bytes from FFmpeg, chunk[0..length): copied into the pool's frame buffers. */
  private onData(chunk: Buffer, length = chunk.length): void {
    this.lastDataAt = Date.now();
    let offset = 0;
    while (offset < length) {
      if (!this.filling) {
        const buffer = this.free.pop();
        if (!buffer) {
          // Lossless mode with every buffer in use: hold the bytes and pause FFmpeg. (A view
          // of the reader's buffer stays valid: nothing is read while paused.)
          this.stash = chunk.subarray(offset, length);
          this.output?.pause();
          return;
        }
        this.filling = { buffer, offset: 0 };
      }
      const f = this.filling;
      const n = chunk.copy(f.buffer, f.offset, offset, Math.min(length, offset + this.frameBytes - f.offset));
      f.offset += n;
      offset += n;
      if (f.offset === this.frameBytes) {
        this.filling = undefined;
        this.awaitingPts.push(f.buffer);
        this.pairTimestamps();
      }
    }
  }

  private drainStash(): void {
    if (!this.stash || !this.free.length) return;
    const stash = this.stash;
    this.stash = undefined;
    this.onData(stash);
    if (!this.stash) this.output?.resume();
  }

  private pairTimestamps(): void {
    while (this.awaitingPts.length && this.ptsQueue.length) {
      const data = this.awaitingPts.shift()!;
      const pts = this.ptsQueue.shift()!;
      this.deliver(data, pts);
    }
  }

  private deliver(data: Buffer, pts: number): void {
    const { width, height } = this.options;
    const size = this.sourceSize ?? { width, height };
    const frame: Frame = {
      data,
      width,
      height,
      index: this.index++,
      pts,
      sourceWidth: size.width,
      sourceHeight: size.height,
      transform: this.transform ?? frameTransform('stretch', width, height, width, height),
    };
    this.stats.framesIn++;
    this.framesSinceSpawn++;
    this.backoff.reset();
    this.setState('streaming');
    this.checkFrameRate();
    if (!this.options.lossless && this.ready.length) {
      const dropped = this.ready.shift()!;
      this.free.push(dropped.data);
      this.stats.framesDropped++;
    }
    this.ready.push(frame);
    this.wake();
    this.drainStash();
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }

  private onExit(proc: FfmpegProcess, exit: FfmpegExit): void {
    if (proc !== this.process || this.stopped) return;
    this.running = false;
    const { log, source } = this.options;
    if (exit.code === 0 && isFinite(source)) {
      log.info({ frames: this.stats.framesIn }, 'source ended');
      this.setState('ended');
      this.ended = true;
      this.wake();
      return;
    }
    const reason = exit.tail.filter((l) => l.trim() && !SHOWINFO.test(l) && !/deprecated/.test(l)).slice(-3).join(' | ');
    if (this.restartNow) {
      this.restartNow = false;
      log.info({ fps: this.options.fps }, 'restarting ffmpeg with the new frame rate');
      this.spawn();
      return;
    }
    if (this.hwaccel !== 'none' && this.hwaccel !== 'auto' && this.framesSinceSpawn === 0) {
      log.warn({ hwaccel: this.hwaccel, reason }, 'hardware decode unavailable; falling back to software decode');
      this.hwaccel = 'none';
      this.spawn();
      return;
    }
    const delayMs = this.backoff.next();
    if (!this.stats.framesIn && exit.code !== null && /No such file|Invalid data found|Permission denied|Protocol not found|does not contain any stream|matches no streams|Decoder \S+ not found|could not find codec|Unsupported codec|moov atom not found/i.test(reason) && source.kind === 'file') {
      this.failure = new UserError(`SOURCE=${source.url}: FFmpeg cannot read it as video (${reason}); give a video file FFmpeg can decode`);
      this.wake();
      return;
    }
    this.stats.restarts++;
    this.setState('reconnecting', reason);
    log.warn({ code: exit.code, signal: exit.signal, reason, retryInMs: delayMs }, 'ffmpeg exited; restarting');
    this.restartTimer = setTimeout(() => this.spawn(), delayMs);
  }

  /** No bytes from FFmpeg for the stall timeout (and not because we paused it): kill it; onExit restarts it. */
  private checkStall(stallMs: number): void {
    if (this.stopped || this.ended || this.stash || !this.running) return;
    const proc = this.process;
    if (!proc || Date.now() - this.lastDataAt < stallMs) return;
    this.options.log.warn({ stallSeconds: stallMs / 1000 }, 'no frame from the source; killing ffmpeg');
    this.lastDataAt = Date.now();
    void proc.kill(500);
  }

  /**
   * A live source that delivers frames far faster than DETECT_FPS has broken timestamps
   * (the select filter then passes everything): restart it, as a camera reboot usually fixes it.
   */
  private checkFrameRate(): void {
    const { source, fps, lossless } = this.options;
    if (lossless || (source.kind === 'file' && !source.realtime)) return;
    const now = Date.now();
    this.arrivals.push(now);
    while (this.arrivals.length && now - this.arrivals[0]! > 10_000) this.arrivals.shift();
    if (this.arrivals.length > Math.max(30, 3 * fps * 10)) {
      this.options.log.warn({ framesIn10s: this.arrivals.length, detectFps: fps }, 'implausible frame rate from the source; restarting ffmpeg');
      this.arrivals.length = 0;
      void this.process?.kill(500);
    }
  }

  private setState(state: CaptureState, detail?: string): void {
    if (state === this.state) return;
    this.state = state;
    this.options.onState?.(state, detail);
  }
}

/**
 * Runs `use` on the first frame of a source (a still image, or a camera probed for its
 * size), then stops: the frame's buffer is valid only inside `use`. Resolves with
 * undefined when no frame comes within `timeoutMs`.
 */
export async function withFirstFrame<T>(
  options: Pick<CaptureOptions, 'source' | 'width' | 'height' | 'resize' | 'ffmpegPath' | 'log'>,
  use: (frame: Frame) => Promise<T> | T,
  timeoutMs = 10_000,
): Promise<T | undefined> {
  const capture = new Capture({ ...options, fps: 1, lossless: true, stallTimeout: 0 });
  await capture.start();
  try {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), timeoutMs)));
    const frame = await Promise.race([capture.next(), timeout]);
    clearTimeout(timer);
    return frame ? await use(frame) : undefined;
  } finally {
    await capture.stop();
  }
}
