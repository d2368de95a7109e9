// Pictures at the camera's resolution: FFmpeg splits each selected frame in two, one
// scaled to the model's input (the pipeline's frames) and one encoded as JPEG at the
// source's size on its stdout. Here the JPEG stream is cut into pictures, each paired with
// its frame's timestamp (showinfo's line comes before the split, so one per frame, in the
// same order), and the last few seconds are kept for the features that save them.

/** How large pictures are made: the source's size, or fitted within a box (never enlarged). */
export type PictureSize = 'source' | { width: number; height: number };

/** `source` or `WIDTHxHEIGHT` (the grammar the schema checks) → a PictureSize. */
export function pictureSize(text: string): PictureSize {
  const m = /^(\d+)x(\d+)$/.exec(text);
  return m ? { width: Number(m[1]), height: Number(m[2]) } : 'source';
}

/** The size that serves both: the source's when either wants it, else a box holding both. */
export function largerSize(a: PictureSize, b: PictureSize): PictureSize {
  return a === 'source' || b === 'source' ? 'source' : { width: Math.max(a.width, b.width), height: Math.max(a.height, b.height) };
}

export interface Picture {
  /** Source time of the frame, as the model's frame of the same moment carries it. */
  pts: number;
  jpeg: Buffer;
  width: number;
  height: number;
}

/** The size in a JPEG's start-of-frame marker, or undefined when there is none. */
export function jpegSize(jpeg: Buffer): { width: number; height: number } | undefined {
  let at = 2;
  while (at + 9 < jpeg.length) {
    if (jpeg[at] !== 0xff) return undefined;
    const marker = jpeg[at + 1]!;
    const length = jpeg.readUInt16BE(at + 2);
    // SOF0..SOF15, except DHT (C4), JPG (C8) and DAC (CC).
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return { height: jpeg.readUInt16BE(at + 5), width: jpeg.readUInt16BE(at + 7) };
    }
    at += 2 + length;
  }
  return undefined;
}

/**
 * Cuts a stream of concatenated JPEGs (FFmpeg's image2pipe) into pictures. Inside a JPEG
 * an 0xFF in the coded data is always followed by 0x00, so FF D9 is its end and nothing else.
 */
export class JpegSplitter {
  private parts: Buffer[] = [];
  private carry = false;

  constructor(private readonly onJpeg: (jpeg: Buffer) => void) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (let i = 0; i < chunk.length; i++) {
      const end = chunk[i] === 0xd9 && (i > 0 ? chunk[i - 1] === 0xff : this.carry);
      if (!end) continue;
      this.parts.push(chunk.subarray(start, i + 1));
      const jpeg = Buffer.concat(this.parts);
      this.parts = [];
      start = i + 1;
      if (jpeg[0] === 0xff && jpeg[1] === 0xd8) this.onJpeg(jpeg);
    }
    if (start < chunk.length) this.parts.push(Buffer.from(chunk.subarray(start)));
    this.carry = chunk.length > 0 && chunk[chunk.length - 1] === 0xff;
  }

  /** A new FFmpeg run: a part-picture of the last one is dropped. */
  reset(): void {
    this.parts = [];
    this.carry = false;
  }
}

/** The recent pictures, oldest first, up to `seconds` of source time behind the newest. */
export class PictureRing {
  private readonly pictures: Picture[] = [];
  private readonly pending: number[] = [];
  private readonly pendingJpegs: Buffer[] = [];
  private readonly splitter = new JpegSplitter((jpeg) => this.jpeg(jpeg));
  /** Pictures taken in, and their bytes, for the cost in /metrics. */
  readonly stats = { pictures: 0, bytes: 0 };

  constructor(
    public seconds: number,
    public size: PictureSize = 'source',
  ) {}

  /** Bytes of FFmpeg's picture output. */
  data(chunk: Buffer): void {
    this.splitter.push(chunk);
  }

  /** A frame's timestamp from showinfo: the next picture is of that frame. */
  timestamp(pts: number): void {
    this.pending.push(pts);
    // Bounded however the two streams drift apart: a stalled picture output costs no memory.
    if (this.pending.length > 50) this.pending.shift();
    this.pair();
  }

  /** A new FFmpeg run: its first picture is its first frame's. */
  reset(): void {
    this.pending.length = 0;
    this.pendingJpegs.length = 0;
    this.splitter.reset();
  }

  /** The picture of the frame at `pts` (to a millisecond), if still kept. */
  at(pts: number): Picture | undefined {
    return this.pictures.find((p) => Math.abs(p.pts - pts) < 0.001);
  }

  get latest(): Picture | undefined {
    return this.pictures.at(-1);
  }

  private jpeg(jpeg: Buffer): void {
    this.pendingJpegs.push(jpeg);
    this.pair();
  }

  private pair(): void {
    while (this.pending.length && this.pendingJpegs.length) {
      const pts = this.pending.shift()!;
      const jpeg = this.pendingJpegs.shift()!;
      const size = jpegSize(jpeg);
      if (!size) continue;
      // A source that starts again (a looping file) goes back in time: what was kept is of another pass.
      if (this.pictures.length && pts < this.pictures.at(-1)!.pts) this.pictures.length = 0;
      this.pictures.push({ pts, jpeg, ...size });
      this.stats.pictures++;
      this.stats.bytes += jpeg.length;
      while (this.pictures.length > 1 && pts - this.pictures[0]!.pts > this.seconds) this.pictures.shift();
    }
  }
}
