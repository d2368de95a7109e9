// Restream: a second FFmpeg that copies the camera's video, without re-encoding, to any
// FFmpeg output (rtsp://, rtmp://, srt://, udp://, or an HLS playlist path), supervised
// like the capture: restarted with exponential backoff and jitter when it exits. With
// RESTREAM_ANNOTATE the processed frames are encoded instead, boxes burned in (annotated.ts).
import { findFfmpeg, runFfmpeg } from '../ffmpeg/process.js';
import { Supervisor } from '../ffmpeg/supervisor.js';
import { ffmpegInput, sourceSpec, type SourceSpec } from '../ffmpeg/inputs.js';
import { outputOptions } from '../ffmpeg/outputs.js';
import type { Logger } from '../log.js';
import { redactUrl } from '../log.js';
import type { Feature, FeatureContext } from '../feature.js';
import { AnnotatedRestream } from './annotated.js';

export interface RestreamOptions {
  source: SourceSpec;
  url: string;
  ffmpegPath?: string;
  restartMaxMs?: number;
  log: Logger;
}

export class Restream {
  private readonly supervisor: Supervisor;

  constructor(private readonly options: RestreamOptions) {
    this.supervisor = new Supervisor({ label: 'restream ffmpeg', restartMaxMs: options.restartMaxMs ?? 30_000, spawn: () => this.spawn(), log: options.log });
  }

  get stats(): { restarts: number } {
    return this.supervisor.stats;
  }

  get pid(): number | undefined {
    return this.supervisor.pid;
  }

  start(): void {
    this.options.log.info({ url: redactUrl(this.options.url) }, 'restreaming (video copied, not re-encoded)');
    this.supervisor.start();
  }

  stop(): Promise<void> {
    return this.supervisor.stop();
  }

  private spawn() {
    const { source, url } = this.options;
    // A file is read at its native rate so that the restream plays in real time.
    const input = ffmpegInput({ ...source, realtime: true });
    return runFfmpeg({
      binary: findFfmpeg(this.options.ffmpegPath),
      input: input.input,
      inputOptions: ['-hide_banner', '-nostats', '-nostdin', '-loglevel', 'warning', ...input.options],
      outputOptions: outputOptions(url),
      output: url,
    });
  }
}

export function fromConfig({ config, bus, frames, health, log }: FeatureContext): Feature | undefined {
  const url = config.RESTREAM_URL;
  if (!url) return undefined;
  const name = 'restream';
  const common = { url, ffmpegPath: config.FFMPEG_PATH, restartMaxMs: config.RESTART_BACKOFF_MAX * 1000, log: log.child({ feature: name }) };
  // The camera module has one reader, the capture: its video is restreamed from the frames, annotated.
  if (!config.RESTREAM_ANNOTATE && config.SOURCE_KIND !== 'rpicam') {
    const restream = new Restream({ ...common, source: sourceSpec(config) });
    return {
      name,
      start: () => {
        health.provide(name, () => restream.stats);
        restream.start();
      },
      stop: () => restream.stop(),
    };
  }
  let annotated: AnnotatedRestream | undefined;
  return {
    name,
    start: () => {
      frames.need(name);
      health.provide(name, () => annotated?.stats ?? { restarts: 0 });
      // Started on the first frame, when the source size is known.
      bus.on(
        'frame',
        (frame) => {
          if (annotated) return;
          const size = /^(\d+)x(\d+)$/.exec(config.RESTREAM_SIZE);
          const width = size ? Number(size[1]) : Math.min(1280, frame.sourceWidth) & ~1;
          const height = size ? Number(size[2]) : Math.round((width * frame.sourceHeight) / frame.sourceWidth) & ~1;
          annotated = new AnnotatedRestream({ ...common, width, height, fps: config.DETECT_FPS, bitrate: config.RESTREAM_BITRATE, frames });
          annotated.start();
        },
        name,
      );
      bus.on('detections', (result) => annotated?.onResult(result), name);
    },
    stop: () => annotated?.stop(),
  };
}
