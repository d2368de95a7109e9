// The one place that knows about fluent-ffmpeg. Everything else sees a small
// FfmpegProcess: stdout as a stream, stderr as lines, a kill and an exit promise.
// Replacing fluent-ffmpeg with child_process.spawn would change only this file.
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { ownTempDir } from '../pids.js';
import { basename, join } from 'node:path';
import { createRequire } from 'node:module';
import { PassThrough, type Readable } from 'node:stream';
import type { ChildProcess } from 'node:child_process';
import ffmpeg from 'fluent-ffmpeg';

export interface FfmpegJob {
  binary: string;
  /** Input URL or path; ignored when `stdin` is given (the input is then pipe:0). */
  input: string;
  stdin?: Readable;
  inputOptions: string[];
  outputOptions: string[];
  /** Output target; 'pipe:1' streams to `stdout`. */
  output: string;
  /** The options of a second output, streamed to `stdout` (when `output` is not). */
  stdoutOutput?: string[];
}

export interface FfmpegExit {
  code: number | null;
  signal: string | null;
  /** The last stderr lines, for error messages. */
  tail: string[];
}

export interface FfmpegProcess {
  readonly stdout: Readable | null;
  readonly pid: number | undefined;
  onStderrLine(listener: (line: string) => void): void;
  /** SIGTERM, then SIGKILL after `graceMs`. Resolves on exit. */
  kill(graceMs?: number): Promise<FfmpegExit>;
  readonly exited: Promise<FfmpegExit>;
}

let resolvedBinary: string | undefined;
let guardedBinary: Map<string, string> | undefined;

/**
 * On Linux, FFmpeg (and the camera tool) is started through `setpriv --pdeathsig KILL`, so
 * the kernel kills it the moment the agent dies, even by SIGKILL. Without setpriv, FFmpeg still exits
 * on its own: on a broken stdout pipe, or at its 10 s network timeout.
 */
export function guarded(binary: string): string {
  guardedBinary ??= new Map();
  const known = guardedBinary.get(binary);
  if (known) return known;
  let wrapper = binary;
  try {
    if (process.platform === 'linux' && /--pdeathsig/.test(execFileSync('setpriv', ['--help'], { encoding: 'utf8', timeout: 5000 }))) {
      const dir = ownTempDir('edgecam-ffmpeg-');
      wrapper = join(dir, basename(binary));
      writeFileSync(wrapper, `#!/bin/sh\nexec setpriv --pdeathsig KILL -- ${shellQuote(binary)} "$@"\n`, { mode: 0o755 });
      process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    }
  } catch {
    wrapper = binary;
  }
  guardedBinary.set(binary, wrapper);
  return wrapper;
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** FFMPEG_PATH, else `ffmpeg` on PATH, else the npm-shipped binary. */
export function findFfmpeg(configured?: string): string {
  if (configured) return configured;
  if (resolvedBinary) return resolvedBinary;
  try {
    execFileSync('ffmpeg', ['-version'], { stdio: 'ignore', timeout: 5000 });
    resolvedBinary = 'ffmpeg';
  } catch {
    try {
      const require = createRequire(import.meta.url);
      resolvedBinary = (require('@ffmpeg-installer/ffmpeg') as { path: string }).path;
    } catch {
      throw new Error('no FFmpeg found: install it (apt-get install ffmpeg) or set FFMPEG_PATH');
    }
  }
  return resolvedBinary;
}

export function runFfmpeg(job: FfmpegJob): FfmpegProcess {
  const tail: string[] = [];
  const listeners: ((line: string) => void)[] = [];
  // fluent-ffmpeg keeps the last lines of output in memory; 0 would mean all of them, forever.
  const command = ffmpeg({ stdoutLines: 1 })
    .setFfmpegPath(guarded(job.binary))
    .input(job.stdin ?? job.input)
    .inputOptions(job.inputOptions)
    .outputOptions(job.outputOptions);

  let child: ChildProcess | undefined;
  let resolveExit!: (exit: FfmpegExit) => void;
  const childExited = new Promise<FfmpegExit>((resolve) => (resolveExit = resolve));

  command.on('stderr', (line: string) => {
    tail.push(line);
    if (tail.length > 20) tail.shift();
    for (const listener of listeners) listener(line);
  });
  // The exit status comes from the child itself: fluent-ffmpeg's own end/error
  // events race with the output stream closing under load.
  command.on('start', () => {
    child = (command as unknown as { ffmpegProc: ChildProcess }).ffmpegProc;
    child.once('exit', (code, signal) => resolveExit({ code, signal, tail }));
  });
  command.on('error', (err: Error) => {
    if (!child) resolveExit({ code: null, signal: 'error', tail: [...tail, err.message] });
  });

  let stdout: Readable | null = null;
  if (job.output === 'pipe:1' || job.stdoutOutput) {
    // A target that never emits 'close': fluent-ffmpeg would otherwise SIGTERM a
    // process that has just finished writing, 20 ms after its stdout ends.
    const target = new PassThrough({ emitClose: false, autoDestroy: false });
    if (job.output !== 'pipe:1') command.output(job.output);
    command.output(target, { end: true });
    if (job.stdoutOutput) command.outputOptions(job.stdoutOutput);
    command.run();
    stdout = target;
  } else command.output(job.output).run();
  // Exited means done: the child has exited and every byte it wrote has been read.
  const drained = stdout ? new Promise<void>((resolve) => stdout.once('end', resolve)) : Promise.resolve();
  const exited = childExited.then(async (exit) => (exit.signal === 'error' ? exit : (await drained, exit)));

  return {
    stdout,
    get pid() {
      return child?.pid;
    },
    onStderrLine: (listener) => listeners.push(listener),
    exited,
    async kill(graceMs = 1000) {
      // fluent-ffmpeg spawns asynchronously: a kill right after the start waits for the child.
      for (let i = 0; i < 100 && !child; i++) await new Promise((r) => setTimeout(r, 10));
      return child ? stopChild(child, childExited, graceMs) : childExited;
    },
  };
}

/** SIGTERM, then SIGKILL after `graceMs`, to a child still running; resolves with its exit (`exited`). */
export async function stopChild<T>(child: ChildProcess, exited: Promise<T>, graceMs = 1000): Promise<T> {
  if (child.exitCode !== null || child.signalCode !== null) return exited;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  timer.unref();
  try {
    return await exited;
  } finally {
    clearTimeout(timer);
  }
}
