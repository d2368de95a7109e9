// Capture stage: runs FFmpeg on the source, which decodes, drops to DETECT_FPS,
// scales and letterboxes to the model's input, and writes rgb24 frames into a named
// pipe (fifo.ts; FFmpeg's stdout where mkfifo is missing). Frames land in a small pool
// of reused buffers (assembler.ts); when the consumer is slower than the source, the
// newest frame wins and the older waiting one is dropped. FFmpeg is restarted by the
// shared supervisor; what each exit means is decided here.
import { findFfmpeg, runFfmpeg, type FfmpegExit, type FfmpegProcess } from '../ffmpeg/process.js';
import { cameraInputOptions, cameraTool, withCamera } from './rpicam.js';
import { Supervisor, type ExitDecision } from '../ffmpeg/supervisor.js';
import { FramePipe, type FifoRead } from './fifo.js';
import { FrameAssembler } from './assembler.js';
import { SourceWatchdog } from './watchdog.js';
import { BROKEN_FILE, captureOutputs, INPUT_VIDEO, SHOWINFO } from './filters.js';
import { frameTransform, type Frame, type FrameTransform } from '../frames/frame.js';
import { ffmpegInput, hwaccelOptions, isFinite, type HwAccel } from '../ffmpeg/inputs.js';
import { UserError } from '../errors.js';
import type { CaptureState } from './states.js';
import type { CaptureOptions, CaptureStats } from './options.js';

export type { Frame, FrameTransform, ResizeMode } from '../frames/frame.js';
export type { SourceSpec } from '../ffmpeg/inputs.js';
export { captureOptions, type CaptureOptions, type CaptureStats } from './options.js';
export { CAPTURE_STATES, type CaptureState } from './states.js';

const POOL_SIZE = 3;

export class Capture {
  private readonly counts = { framesIn: 0, framesDropped: 0 };
  private readonly supervisor: Supervisor;
  private pipe: FramePipe | undefined;
  private read: FifoRead | undefined;
  /** Where FFmpeg's bytes come from (the named pipe, or its stdout), paused while every buffer is full. */
  private output: { pause(): void; resume(): void } | undefined;
  private assembler: FrameAssembler | undefined;
  private readonly ready: Frame[] = [];
  private held: Buffer | undefined;
  private sourceSize: { width: number; height: number } | undefined;
  private transform: FrameTransform | undefined;
  private index = 0;
  private waiter: (() => void) | undefined;
  private stopped = false;
  private ended = false;
  private failure: Error | undefined;
  private readonly watchdog: SourceWatchdog;
  private running = false;
  private framesSinceSpawn = 0;
  private state: CaptureState | undefined;
  private hwaccel: HwAccel;
  /** FFmpeg's line saying the file cannot be decoded, when it said so. */
  private brokenFile: string | undefined;
  private readonly options: CaptureOptions;

  constructor(options: CaptureOptions) {
    this.options = { ...options };
    this.hwaccel = options.hwaccel ?? 'none';
    this.supervisor = new Supervisor({
      label: options.camera ? 'camera and ffmpeg' : 'ffmpeg',
      restartMaxMs: options.restartMaxMs ?? 30_000,
      spawn: () => this.spawn(),
      onExit: (exit, reason) => this.onExit(exit, reason),
      onRestart: (_delayMs, reason) => this.setState('reconnecting', reason),
      reasonOf: (tail) =>
        tail
          .filter((l) => l.trim() && !SHOWINFO.test(l) && !/deprecated/.test(l))
          .slice(-3)
          .join(' | '),
      log: options.log,
    });
    const { source, lossless } = this.options;
    this.watchdog = new SourceWatchdog({
      stallTimeout: options.stallTimeout ?? 20,
      checkRate: !lossless && !(source.kind === 'file' && !source.realtime),
      fps: () => this.options.fps,
      idle: () => this.stopped || this.ended || this.assembler!.holding || !this.running,
      kill: () => this.supervisor.kill(),
      log: options.log,
    });
  }

  get stats(): CaptureStats {
    return { ...this.counts, restarts: this.supervisor.stats.restarts };
  }

  /** The running FFmpeg's pid, for health reports and tests. */
  get ffmpegPid(): number | undefined {
    return this.supervisor.pid;
  }

  get frameBytes(): number {
    return this.options.width * this.options.height * 3;
  }

  async start(): Promise<void> {
    this.assembler = new FrameAssembler({
      frameBytes: this.frameBytes,
      buffers: POOL_SIZE,
      onFrame: (data, pts) => this.deliver(data, pts),
      pause: () => this.output?.pause(),
      resume: () => this.output?.resume(),
    });
    if (this.options.namedPipe !== false) this.pipe = FramePipe.create();
    if (this.options.camera) cameraTool(this.options.camera.path); // a missing tool is the user's: one line, exit 78
    this.setState('starting');
    this.supervisor.start();
    this.watchdog.start();
  }

  /** The next frame, or null once the source has ended or the stage stopped. The previous frame's buffer is reused. */
  async next(): Promise<Frame | null> {
    if (this.held) {
      const held = this.held;
      this.held = undefined;
      this.assembler!.release(held);
    }
    if (this.stopped) return null;
    while (!this.ready.length) {
      if (this.failure) throw this.failure;
      if (this.stopped || this.ended) return null;
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
    const frame = this.ready.shift()!;
    this.held = frame.data;
    this.assembler!.drain();
    return frame;
  }

  /**
   * Changes DETECT_FPS at run time: FFmpeg restarts with the new rate, at most once a
   * second, with the last value given (a storm of commands cannot stop the frames).
   */
  setFps(fps: number): void {
    this.options.fps = fps;
    this.supervisor.restart(() => this.options.log.info({ fps: this.options.fps }, 'restarting ffmpeg with the new frame rate'));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.watchdog.stop();
    this.wake();
    await this.supervisor.stop();
    this.read?.close();
    this.pipe?.remove();
  }

  private spawn(): FfmpegProcess {
    const { source, width, height, resize, fps, log } = this.options;
    const input = ffmpegInput(source);
    this.sourceSize = undefined;
    this.transform = undefined;
    this.assembler!.reset();

    this.read?.close();
    const read = this.pipe?.open((chunk, length) => this.onData(chunk, length));
    this.read = read;
    // Pictures at the source's size go to stdout, free only while the frames take the named pipe.
    const pictures = read ? this.options.pictures : undefined;
    pictures?.reset();
    const outputs = captureOutputs(fps, resize, width, height, pictures?.size);
    const job = (cameraFifo?: string) =>
      runFfmpeg({
        binary: findFfmpeg(this.options.ffmpegPath),
        input: cameraFifo ?? input.input,
        inputOptions: ['-hide_banner', '-nostats', '-nostdin', ...hwaccelOptions(this.hwaccel), ...(camera ? cameraInputOptions() : input.options)],
        outputOptions: outputs.frames,
        output: read?.path ?? 'pipe:1',
        stdoutOutput: outputs.pictures,
      });
    const camera = this.options.camera;
    const proc = camera ? withCamera(camera, log.child({ part: 'camera' }), job) : job();
    this.output = read ?? proc.stdout!;
    this.running = true;
    this.framesSinceSpawn = 0;
    this.watchdog.reset();
    let section = '';
    let damaged = 0;
    proc.onStderrLine((line) => {
      const pts = SHOWINFO.exec(line);
      if (pts) {
        this.assembler!.timestamp(Number(pts[3]));
        pictures?.timestamp(Number(pts[3]));
        return;
      }
      if (this.options.source.kind === 'file' && BROKEN_FILE.test(line)) this.damagedFile(line.trim(), damaged++);
      if (line.startsWith('Input #')) section = 'input';
      else if (line.startsWith('Output #') || line.startsWith('Stream mapping')) section = 'output';
      const video = section === 'input' && !this.sourceSize ? INPUT_VIDEO.exec(line) : null;
      if (video) {
        this.sourceSize = { width: Number(video[1]), height: Number(video[2]) };
        this.transform = frameTransform(resize, this.sourceSize.width, this.sourceSize.height, width, height);
        log.info({ width: this.sourceSize.width, height: this.sourceSize.height }, 'source opened');
      }
    });
    if (!read) {
      proc.stdout!.on('data', (chunk: Buffer) => this.onData(chunk));
      proc.stdout!.on('error', () => {});
      return proc;
    }
    proc.stdout?.on('data', (chunk: Buffer) => pictures?.data(chunk));
    // Exited means done only once every byte in the pipe has been read.
    const exited = proc.exited.then(async (exit) => (read.writerExited(), await read.ended, exit));
    return {
      get pid() {
        return proc.pid;
      },
      stdout: proc.stdout,
      exited,
      kill: (graceMs) => proc.kill(graceMs),
      onStderrLine: (listener) => proc.onStderrLine(listener),
    };
  }

  /** Bytes from FFmpeg, chunk[0..length). */
  private onData(chunk: Buffer, length = chunk.length): void {
    this.watchdog.data();
    this.assembler!.data(chunk, length);
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
    this.counts.framesIn++;
    this.framesSinceSpawn++;
    this.supervisor.progress();
    this.setState('streaming');
    this.watchdog.frame();
    if (!this.options.lossless && this.ready.length) {
      const dropped = this.ready.shift()!;
      this.assembler!.release(dropped.data);
      this.counts.framesDropped++;
    }
    this.ready.push(frame);
    this.wake();
    this.assembler!.drain();
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }

  /** What an FFmpeg exit means: the end of a file, a new frame rate, a hardware-decode fallback, a bad file, or a restart after backoff. */
  private onExit(exit: FfmpegExit, reason: string): ExitDecision {
    if (this.stopped) return 'stop';
    this.running = false;
    const { log, source } = this.options;
    if (exit.code === 0 && isFinite(source)) {
      log.info({ frames: this.counts.framesIn }, 'source ended');
      this.setState('ended');
      this.ended = true;
      this.wake();
      return 'stop';
    }
    if (this.hwaccel !== 'none' && this.hwaccel !== 'auto' && this.framesSinceSpawn === 0) {
      log.warn({ hwaccel: this.hwaccel, reason }, 'hardware decode unavailable; falling back to software decode');
      this.hwaccel = 'none';
      return 'now';
    }
    // A file that has never given a frame and makes FFmpeg fail is not coming back by itself:
    // unreadable, not video, or cut inside its header.
    if (!this.counts.framesIn && exit.code !== null && exit.code !== 0 && source.kind === 'file') {
      this.failure = new UserError(
        `${this.options.sourceLabel ?? 'SOURCE='}${source.url}: FFmpeg cannot read it as video (${this.brokenFile ?? reason}); give a video file FFmpeg can decode`,
      );
      this.wake();
      return 'stop';
    }
    return 'backoff';
  }

  /**
   * FFmpeg says the file is damaged. Before any frame: it cannot be played (a looping one
   * would loop without a frame until the stall timeout), so it is stopped. After frames: it
   * ends early or has holes; what it has plays, and the first such line of a run is logged.
   */
  private damagedFile(line: string, seen: number): void {
    if (!this.counts.framesIn) {
      this.brokenFile = line;
      this.supervisor.kill();
    } else if (!seen) this.options.log.warn({ reason: line }, 'the source file is damaged or ends early; playing what it has');
  }

  private setState(state: CaptureState, detail?: string): void {
    if (state === this.state) return;
    this.state = state;
    this.options.onState?.(state, detail);
  }
}
