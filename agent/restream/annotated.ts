// Annotated restream: the processed frames with the detections burned in, encoded
// with H.264 by an FFmpeg that reads raw frames on its stdin. Runs at DETECT_FPS.
import { PassThrough } from 'node:stream';
import sharp from 'sharp';
import { findFfmpeg, runFfmpeg } from '../ffmpeg/process.js';
import { Supervisor } from '../ffmpeg/supervisor.js';
import type { FrameStore } from '../frames/store.js';
import type { FrameResult } from '../bus.js';
import type { Logger } from '../log.js';
import { redactUrl } from '../log.js';
import { boxesSvg, pictureRegion } from '../frames/render.js';
import { outputOptions } from '../ffmpeg/outputs.js';

export interface AnnotatedRestreamOptions {
  url: string;
  width: number;
  height: number;
  fps: number;
  /** FFmpeg bitrate, e.g. 2M. */
  bitrate: string;
  ffmpegPath?: string;
  restartMaxMs?: number;
  /** Where the pixels of processed frames are found by index. */
  frames: FrameStore;
  log: Logger;
}

export class AnnotatedRestream {
  private readonly counts = { framesOut: 0, framesSkipped: 0 };
  private input: PassThrough | undefined;
  private busy = false;
  private readonly supervisor: Supervisor;

  constructor(private readonly options: AnnotatedRestreamOptions) {
    this.supervisor = new Supervisor({
      label: 'annotated restream ffmpeg',
      restartMaxMs: options.restartMaxMs ?? 30_000,
      spawn: () => this.spawn(),
      onExit: () => {
        // Frames rendered from now on have nowhere to go until the next run.
        this.input = undefined;
        return 'backoff';
      },
      log: options.log,
    });
  }

  get stats(): { restarts: number; framesOut: number; framesSkipped: number } {
    return { restarts: this.supervisor.stats.restarts, ...this.counts };
  }

  start(): void {
    this.options.log.info(
      { url: redactUrl(this.options.url), size: `${this.options.width}x${this.options.height}`, bitrate: this.options.bitrate },
      'restreaming with detections burned in',
    );
    this.supervisor.start();
  }

  /** Renders the frame the result belongs to, with its boxes, and hands it to the encoder. */
  onResult(result: FrameResult): void {
    const input = this.input;
    if (!input) return;
    if (this.busy || input.writableNeedDrain) {
      this.counts.framesSkipped++;
      return;
    }
    const lease = this.options.frames.lease(result.index);
    if (!lease) return;
    this.busy = true;
    const { width, height } = this.options;
    const f = lease.frame;
    sharp(f.data, { raw: { width: f.width, height: f.height, channels: 3 } })
      .extract(pictureRegion(f))
      .resize(width, height, { fit: 'fill' })
      .raw()
      .toBuffer()
      .then((pixels) =>
        sharp(pixels, { raw: { width, height, channels: 3 } })
          .composite([{ input: boxesSvg(result.detections, f, { width, height }) }])
          .removeAlpha()
          .raw()
          .toBuffer(),
      )
      .then((annotated) => {
        if (this.input === input && !input.destroyed) {
          input.write(annotated);
          this.counts.framesOut++;
        }
      })
      .catch((err: Error) => this.options.log.warn({ err: err.message }, 'annotated frame failed'))
      .finally(() => {
        lease.release();
        this.busy = false;
      });
  }

  async stop(): Promise<void> {
    this.input?.end();
    await this.supervisor.stop(2000);
  }

  private spawn() {
    const { url, width, height, fps, bitrate } = this.options;
    const input = new PassThrough({ highWaterMark: width * height * 3 * 2 });
    this.input = input;
    return runFfmpeg({
      binary: findFfmpeg(this.options.ffmpegPath),
      input: 'pipe:0',
      stdin: input,
      inputOptions: ['-hide_banner', '-nostats', '-loglevel', 'warning', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${width}x${height}`, '-use_wallclock_as_timestamps', '1'],
      outputOptions: [
        '-vsync',
        'cfr',
        '-r',
        String(fps),
        '-c:v',
        'libx264',
        '-preset',
        'veryfast',
        '-tune',
        'zerolatency',
        '-pix_fmt',
        'yuv420p',
        '-b:v',
        bitrate,
        '-maxrate',
        bitrate,
        '-bufsize',
        bitrate,
        '-g',
        String(Math.max(1, Math.round(fps * 2))),
        ...outputOptions(url).filter((o, i, all) => !(o === '-c' || all[i - 1] === '-c') && !(o === '-map' || all[i - 1] === '-map')),
      ],
      output: url,
    });
  }
}
