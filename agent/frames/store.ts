// Copies of recent frames for the stages that draw them (viewer, snapshots, annotated
// restream). Capture reuses its buffers as soon as the next frame is taken, and with
// inference pipelined a frame's detections arrive after the next frame has been
// taken, so these stages find a frame by its index here. A frame is copied once,
// whatever the number of readers; a reader holds a lease while it encodes, and a
// leased buffer is never refilled. Buffers are reused: no allocation per frame.
import type { Frame } from './frame.js';
import { largerSize, PictureRing, type PictureSize } from './pictures.js';

export interface StoredFrame extends Omit<Frame, 'data'> {
  data: Buffer;
  /** Wall-clock ms when the frame came out of capture. */
  capturedAt: number;
}

export interface FrameLease {
  readonly frame: StoredFrame;
  /** Ends the lease; calling it again does nothing. */
  release(): void;
}

interface Slot {
  frame: StoredFrame | undefined;
  leases: number;
}

export interface FrameStoreStats {
  copies: number;
  /** Frames not copied because every buffer was leased. */
  skipped: number;
  buffers: number;
}

export class FrameStore {
  readonly stats: FrameStoreStats = { copies: 0, skipped: 0, buffers: 0 };
  /** Pictures at the source's size (pictures.ts): made only once a feature asks, before capture starts. */
  pictures: PictureRing | undefined;
  private readonly slots: Slot[] = [];
  private readonly readers = new Set<string>();

  /**
   * @param keep the newest frames kept readable (pipeline depth plus one)
   * @param maxBuffers the most buffers ever allocated, leased ones included
   */
  constructor(
    private readonly keep = 3,
    private readonly maxBuffers = 8,
  ) {}

  /** A feature that draws frames says so when it starts; with none, no frame is copied. */
  need(reader: string): void {
    this.readers.add(reader);
  }
  /** Asks for pictures at `size` (the source's, or fitted within a box), the last `seconds` of them kept; several askers share the larger. */
  wantPictures(seconds: number, size: PictureSize = 'source'): PictureRing {
    if (!this.pictures) this.pictures = new PictureRing(seconds, size);
    else {
      this.pictures.seconds = Math.max(this.pictures.seconds, seconds);
      this.pictures.size = largerSize(this.pictures.size, size);
    }
    return this.pictures;
  }

  get wanted(): boolean {
    return this.readers.size > 0;
  }

  /** Copies a frame in, reusing the buffer of the oldest frame nobody is reading. */
  put(frame: Frame): void {
    const slot = this.freeSlot();
    if (!slot) {
      this.stats.skipped++;
      return;
    }
    const data = slot.frame?.data.length === frame.data.length ? slot.frame.data : Buffer.allocUnsafe(frame.data.length);
    frame.data.copy(data);
    slot.frame = { ...frame, data, capturedAt: Date.now() };
    this.stats.copies++;
  }

  /** A lease on the copy of frame `index`, or undefined when it is no longer kept. */
  lease(index: number): FrameLease | undefined {
    const slot = this.slots.find((s) => s.frame?.index === index);
    return slot ? this.leaseSlot(slot) : undefined;
  }

  /** A lease on the newest frame kept. */
  latest(): FrameLease | undefined {
    let newest: Slot | undefined;
    for (const s of this.slots) if (s.frame && (!newest || s.frame.index > newest.frame!.index)) newest = s;
    return newest ? this.leaseSlot(newest) : undefined;
  }

  private leaseSlot(slot: Slot): FrameLease {
    slot.leases++;
    let released = false;
    return {
      frame: slot.frame!,
      release: () => {
        if (released) return;
        released = true;
        slot.leases--;
      },
    };
  }

  /** The oldest unleased slot once `keep` frames are unleased; otherwise a new slot while under maxBuffers. */
  private freeSlot(): Slot | undefined {
    let unleased = 0;
    let oldest: Slot | undefined;
    for (const s of this.slots) {
      if (s.leases) continue;
      unleased++;
      if (!oldest || s.frame!.index < oldest.frame!.index) oldest = s;
    }
    if (unleased < this.keep && this.slots.length < this.maxBuffers) {
      const slot: Slot = { frame: undefined, leases: 0 };
      this.slots.push(slot);
      this.stats.buffers = this.slots.length;
      return slot;
    }
    return oldest;
  }
}
