// FFmpeg's raw output turned into frames: bytes are copied into a small pool of reused
// buffers, and each full buffer is paired with its timestamp from showinfo (stderr and
// the pixels arrive on different pipes, in the same order). When every buffer is in use
// (lossless mode), the rest of the chunk is held and the output paused until a buffer
// comes back.

export interface AssemblerOptions {
  frameBytes: number;
  buffers: number;
  /** A frame's pixels and its timestamp; the buffer comes back through release(). */
  onFrame: (data: Buffer, pts: number) => void;
  /** Stops and restarts the flow of bytes while no buffer is free. */
  pause: () => void;
  resume: () => void;
}

export class FrameAssembler {
  private readonly free: Buffer[] = [];
  private filling: { buffer: Buffer; offset: number } | undefined;
  private stash: Buffer | undefined;
  private readonly ptsQueue: number[] = [];
  private readonly awaitingPts: Buffer[] = [];

  constructor(private readonly options: AssemblerOptions) {
    for (let i = 0; i < options.buffers; i++) this.free.push(Buffer.allocUnsafe(options.frameBytes));
  }

  /** True while bytes are held back because every buffer is in use. */
  get holding(): boolean {
    return this.stash !== undefined;
  }

  /** A new FFmpeg run: the partial frame and unpaired buffers and timestamps of the last one are dropped. */
  reset(): void {
    this.ptsQueue.length = 0;
    for (const b of this.awaitingPts.splice(0)) this.free.push(b);
    if (this.filling) this.free.push(this.filling.buffer);
    this.filling = undefined;
    this.stash = undefined;
  }

  /** A buffer the consumer is done with. */
  release(buffer: Buffer): void {
    this.free.push(buffer);
    this.drain();
  }

  /** A timestamp from showinfo. */
  timestamp(pts: number): void {
    this.ptsQueue.push(pts);
    this.pair();
  }

  /** Bytes from FFmpeg, chunk[0..length). */
  data(chunk: Buffer, length = chunk.length): void {
    const { frameBytes } = this.options;
    let offset = 0;
    while (offset < length) {
      if (!this.filling) {
        const buffer = this.free.pop();
        if (!buffer) {
          // Every buffer in use: hold the bytes and pause FFmpeg. (A view of the reader's
          // buffer stays valid: nothing is read while paused.)
          this.stash = chunk.subarray(offset, length);
          this.options.pause();
          return;
        }
        this.filling = { buffer, offset: 0 };
      }
      const f = this.filling;
      const n = chunk.copy(f.buffer, f.offset, offset, Math.min(length, offset + frameBytes - f.offset));
      f.offset += n;
      offset += n;
      if (f.offset === frameBytes) {
        this.filling = undefined;
        this.awaitingPts.push(f.buffer);
        this.pair();
      }
    }
  }

  /** Takes in the held bytes once a buffer is free, and lets the output flow again. */
  drain(): void {
    if (!this.stash || !this.free.length) return;
    const stash = this.stash;
    this.stash = undefined;
    this.data(stash);
    if (!this.stash) this.options.resume();
  }

  private pair(): void {
    while (this.awaitingPts.length && this.ptsQueue.length) {
      this.options.onFrame(this.awaitingPts.shift()!, this.ptsQueue.shift()!);
    }
  }
}
