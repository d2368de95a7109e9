// Snapshots: a JPEG of the frame with the box, published retained on
// `<prefix>snapshot/<class>` when a new track of a configured class appears.
// Best effort (not queued in the outbox): the newest snapshot is what matters.
import type { FrameResult } from '../bus.js';
import type { Feature, FeatureContext } from '../feature.js';
import type { Logger } from '../log.js';
import type { FrameStore } from '../frames/store.js';
import { renderJpeg } from '../frames/render.js';
import { NewTracks } from '../track/new-tracks.js';
import { classTopicPart } from '../mqtt/payloads.js';

export interface SnapshotOptions {
  classes: string[];
  maxBytes: number;
  publish: (className: string, jpeg: Buffer) => void;
  /** Where the pixels of processed frames are found by index. */
  frames: FrameStore;
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
    const lease = this.options.frames.lease(result.index);
    if (!lease) return;
    const { frame } = lease;
    this.busy = true;
    void (async () => {
      for (const d of fresh) {
        let jpeg: Buffer | undefined;
        for (const quality of [80, 60, 40, 25]) {
          jpeg = await renderJpeg(frame, [d], quality);
          if (jpeg.length <= this.options.maxBytes) break;
        }
        if (jpeg && jpeg.length <= this.options.maxBytes) this.options.publish(d.className, jpeg);
        else this.options.log.warn({ bytes: jpeg?.length, max: this.options.maxBytes }, 'snapshot larger than SNAPSHOT_MAX_BYTES even at low quality; not sent');
      }
    })()
      .catch((err: Error) => this.options.log.warn({ err: err.message }, 'snapshot failed'))
      .finally(() => {
        lease.release();
        this.busy = false;
      });
  }
}

export function fromConfig(ctx: FeatureContext): Feature | undefined {
  const { config, mqtt, bus, frames } = ctx;
  if (!config.SNAPSHOT_CLASSES.length) return undefined;
  const name = 'snapshots';
  const snapshots = new Snapshots({
    classes: config.SNAPSHOT_CLASSES,
    maxBytes: config.SNAPSHOT_MAX_BYTES,
    // Best effort, retained: the newest snapshot is what matters, so none is queued.
    publish: (className, jpeg) => mqtt.publish(mqtt.topic(`snapshot/${classTopicPart(className)}`), jpeg, { qos: 1, retain: true, contentType: 'image/jpeg' }),
    frames,
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
