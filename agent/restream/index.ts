// Restream: a second FFmpeg that copies the camera's video, without re-encoding, to any
// FFmpeg output (rtsp://, rtmp://, srt://, udp://, or an HLS playlist path), supervised
// like the capture: restarted with exponential backoff and jitter when it exits.
import { Backoff } from '../backoff.js';
import { findFfmpeg, runFfmpeg, type FfmpegProcess } from '../capture/ffmpeg.js';
import { ffmpegInput, type SourceSpec } from '../capture/source.js';
import type { Logger } from '../log.js';
import { redactUrl } from '../log.js';

export interface RestreamOptions {
  source: SourceSpec;
  url: string;
  ffmpegPath?: string;
  restartMaxMs?: number;
  log: Logger;
}

/** Output format options for a restream target. */
export function outputOptions(url: string): string[] {
  const copy = ['-map', '0:v:0', '-map', '0:a:0?', '-c', 'copy'];
  if (/^rtsps?:\/\//i.test(url)) return [...copy, '-f', 'rtsp', '-rtsp_transport', 'tcp'];
  if (/^rtmps?:\/\//i.test(url)) return [...copy, '-f', 'flv'];
  if (/^(srt|udp|tcp):\/\//i.test(url)) return [...copy, '-f', 'mpegts'];
  if (/\.m3u8$/i.test(url)) return [...copy, '-f', 'hls', '-hls_time', '2', '-hls_list_size', '6', '-hls_flags', 'delete_segments+omit_endlist'];
  return copy;
}

export class Restream {
  readonly stats = { restarts: 0 };
  private process: FfmpegProcess | undefined;
  private readonly backoff: Backoff;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly options: RestreamOptions) {
    this.backoff = new Backoff({ initialMs: 1000, maxMs: options.restartMaxMs ?? 30_000 });
  }

  get pid(): number | undefined {
    return this.process?.pid;
  }

  async start(): Promise<void> {
    this.options.log.info({ url: redactUrl(this.options.url) }, 'restreaming (video copied, not re-encoded)');
    this.spawn();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.process?.kill();
  }

  private spawn(): void {
    const { source, url, log } = this.options;
    // A file is read at its native rate so that the restream plays in real time.
    const input = ffmpegInput({ ...source, realtime: true });
    const started = Date.now();
    const proc = runFfmpeg({
      binary: findFfmpeg(this.options.ffmpegPath),
      input: input.input,
      inputOptions: ['-hide_banner', '-nostats', '-nostdin', '-loglevel', 'warning', ...input.options],
      outputOptions: outputOptions(url),
      output: url,
    });
    this.process = proc;
    void proc.exited.then((exit) => {
      if (this.stopped || proc !== this.process) return;
      if (Date.now() - started > 60_000) this.backoff.reset();
      const delayMs = this.backoff.next();
      this.stats.restarts++;
      log.warn({ code: exit.code, signal: exit.signal, reason: exit.tail.slice(-2).join(' | '), retryInMs: delayMs }, 'restream ffmpeg exited; restarting');
      this.timer = setTimeout(() => this.spawn(), delayMs);
    });
  }
}
