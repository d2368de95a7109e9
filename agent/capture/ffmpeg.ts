// The one place that knows about fluent-ffmpeg. Everything else sees a small
// FfmpegProcess: stdout as a stream, stderr as lines, a kill and an exit promise.
// Replacing fluent-ffmpeg with child_process.spawn would change only this file.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import type { Readable } from 'node:stream';
import ffmpeg from 'fluent-ffmpeg';

export interface FfmpegJob {
  binary: string;
  input: string;
  inputOptions: string[];
  outputOptions: string[];
  /** Output target; 'pipe:1' streams to `stdout`. */
  output: string;
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
  const command = ffmpeg({ stdoutLines: 0 })
    .setFfmpegPath(job.binary)
    .input(job.input)
    .inputOptions(job.inputOptions)
    .outputOptions(job.outputOptions);

  let stdout: Readable | null = null;
  let resolveExit!: (exit: FfmpegExit) => void;
  const exited = new Promise<FfmpegExit>((resolve) => (resolveExit = resolve));

  command.on('stderr', (line: string) => {
    tail.push(line);
    if (tail.length > 20) tail.shift();
    for (const listener of listeners) listener(line);
  });
  command.on('end', () => resolveExit({ code: 0, signal: null, tail }));
  command.on('error', (err: Error) => {
    const match = /ffmpeg (?:exited with code (\d+)|was killed with signal (\w+))/.exec(err.message);
    resolveExit({ code: match?.[1] ? Number(match[1]) : null, signal: match?.[2] ?? (match ? null : 'error'), tail: match ? tail : [...tail, err.message] });
  });

  if (job.output === 'pipe:1') stdout = command.pipe() as unknown as Readable;
  else command.output(job.output).run();

  // fluent-ffmpeg spawns on the next tick; the child becomes visible as ffmpegProc.
  const proc = () => (command as unknown as { ffmpegProc?: import('node:child_process').ChildProcess }).ffmpegProc;

  return {
    stdout,
    get pid() {
      return proc()?.pid;
    },
    onStderrLine: (listener) => listeners.push(listener),
    exited,
    async kill(graceMs = 1000) {
      // fluent-ffmpeg spawns asynchronously: a kill right after the start waits for the child.
      for (let i = 0; i < 100 && !proc(); i++) await new Promise((r) => setTimeout(r, 10));
      const child = proc();
      if (child && child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        timer.unref();
        const exit = await exited;
        clearTimeout(timer);
        return exit;
      }
      return exited;
    },
  };
}
