// Snapshots: a JPEG of the frame with the box, published retained on
// `<prefix>snapshot/<class>` when a new track of a configured class appears: the frame
// the model saw, or with SNAPSHOT_SIZE the picture at the camera's resolution (or fitted
// within a size). Best effort (not queued in the outbox): the newest snapshot is what matters.
import type { FrameResult } from '../bus.js';
import type { Feature, FeatureContext } from '../feature.js';
import type { Logger } from '../log.js';
import type { FrameStore } from '../frames/store.js';
import { renderJpeg } from '../frames/render.js';
import { pictureSize, type PictureSize } from '../frames/pictures.js';
import { renderEvidence } from '../frames/photo.js';
import { NewTracks } from '../track/new-tracks.js';
import { classTopicPart } from '../mqtt/payloads.js';

export interface SnapshotOptions {
  classes: string[];
  maxBytes: number;
  publish: (className: string, jpeg: Buffer) => void;
  /** Where the pixels of processed frames are found by index. */
  frames: FrameStore;
  /** With a picture size: snapshots from the pictures at that size, not the model's frames. */
  size?: PictureSize;
  log: Logger;
}

export class Snapshots {
  private readonly tracks = new NewTracks();
  private busy = false;
  private readonly classes: Set<string>;

  constructor(private readonly options: SnapshotOptions) {
    this.classes = new Set(options.classes);
  }

  onResult(result: FrameResult): void {
    const fresh = this.tracks.take(result.detections).filter((d) => this.classes.has(d.className));
    if (!fresh.length || this.busy) return;
    const { size, frames } = this.options;
    const picture = size ? frames.pictures?.at(result.pts) : undefined;
    const lease = picture ? undefined : frames.lease(result.index);
    if (!picture && !lease) return;
    const asked = size === 'source' ? picture && { width: picture.width, height: picture.height } : size;
    // Lower qualities first; a picture that still does not fit is made smaller, down to an eighth.
    const attempts = [80, 60, 40, 25].map((quality) => ({ quality, scale: 1 }));
    if (picture) attempts.push({ quality: 60, scale: 1 / 2 }, { quality: 60, scale: 1 / 4 }, { quality: 60, scale: 1 / 8 });
    const render = (d: (typeof fresh)[number], quality: number, scale: number) =>
      picture
        ? renderEvidence(
            {
              picture,
              sourceWidth: result.sourceWidth,
              sourceHeight: result.sourceHeight,
              subject: d.box,
              blur: [],
              fit: { width: Math.round(asked!.width * scale), height: Math.round(asked!.height * scale) },
            },
            quality,
          )
        : renderJpeg(lease!.frame, [d], quality);
    this.busy = true;
    void (async () => {
      for (const d of fresh) {
        let jpeg: Buffer | undefined;
        for (const { quality, scale } of attempts) {
          jpeg = await render(d, quality, scale);
          if (jpeg.length <= this.options.maxBytes) break;
        }
        if (jpeg && jpeg.length <= this.options.maxBytes) this.options.publish(d.className, jpeg);
        else this.options.log.warn({ bytes: jpeg?.length, max: this.options.maxBytes }, 'snapshot larger than SNAPSHOT_MAX_BYTES even at low quality; not sent');
      }
    })()
      .catch((err: Error) => this.options.log.warn({ err: err.message }, 'snapshot failed'))
      .finally(() => {
        lease?.release();
        this.busy = false;
      });
  }
}

export function fromConfig(ctx: FeatureContext): Feature | undefined {
  const { config, mqtt, bus, frames } = ctx;
  if (!config.SNAPSHOT_CLASSES.length) return undefined;
  const name = 'snapshots';
  const size = config.SNAPSHOT_SIZE === 'model' ? undefined : pictureSize(config.SNAPSHOT_SIZE);
  if (size) frames.wantPictures(2, size);
  const snapshots = new Snapshots({
    classes: config.SNAPSHOT_CLASSES,
    maxBytes: config.SNAPSHOT_MAX_BYTES,
    // Best effort, retained: the newest snapshot is what matters, so none is queued.
    publish: (className, jpeg) => mqtt.publish(mqtt.topic(`snapshot/${classTopicPart(className)}`), jpeg, { qos: 1, retain: true, contentType: 'image/jpeg' }),
    frames,
    size,
    log: ctx.log.child({ feature: name }),
  });
  return {
    name,
    start: () => {
      frames.need(name);
      bus.on('detections', (result) => snapshots.onResult(result), name);
    },
    stop: () => {},
  };
}
