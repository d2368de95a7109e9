// The Frame that capture hands to detect, and the geometry that maps model-input
// pixels back to source pixels and compares boxes.

export type ResizeMode = 'letterbox' | 'stretch';

/** source = (model - pad) / scale, per axis. */
export interface FrameTransform {
  scaleX: number;
  scaleY: number;
  padX: number;
  padY: number;
}

export interface Frame {
  /** rgb24 pixels at the model's input size; a pooled buffer, valid until the next frame is requested. */
  data: Buffer;
  width: number;
  height: number;
  /** 0-based count of frames delivered since the stage started. */
  index: number;
  /** Presentation time in seconds, from the source's own timestamps. */
  pts: number;
  sourceWidth: number;
  sourceHeight: number;
  transform: FrameTransform;
}

/**
 * The transform FFmpeg applies with `scale=W:H:force_original_aspect_ratio=decrease`
 * and `pad=W:H:(ow-iw)/2:(oh-ih)/2` (letterbox), or plain `scale=W:H` (stretch),
 * with FFmpeg's own rounding (av_rescale rounds to nearest; pad offsets truncate).
 */
export function frameTransform(mode: ResizeMode, srcW: number, srcH: number, dstW: number, dstH: number): FrameTransform {
  if (mode === 'stretch') return { scaleX: dstW / srcW, scaleY: dstH / srcH, padX: 0, padY: 0 };
  const w = Math.min(dstW, Math.round((dstH * srcW) / srcH));
  const h = Math.min(dstH, Math.round((dstW * srcH) / srcW));
  return { scaleX: w / srcW, scaleY: h / srcH, padX: Math.trunc((dstW - w) / 2), padY: Math.trunc((dstH - h) / 2) };
}

/** Maps a box [x1,y1,x2,y2] from model-input pixels to source pixels, clamped to the source frame. */
export function toSourceBox(box: readonly number[], t: FrameTransform, srcW: number, srcH: number): [number, number, number, number] {
  const clamp = (v: number, max: number) => Math.min(Math.max(v, 0), max);
  return [
    clamp((box[0]! - t.padX) / t.scaleX, srcW),
    clamp((box[1]! - t.padY) / t.scaleY, srcH),
    clamp((box[2]! - t.padX) / t.scaleX, srcW),
    clamp((box[3]! - t.padY) / t.scaleY, srcH),
  ];
}

/** Intersection over union of two boxes [x1, y1, x2, y2]. */
export function iou(a: readonly number[], b: readonly number[]): number {
  const w = Math.max(0, Math.min(a[2]!, b[2]!) - Math.max(a[0]!, b[0]!));
  const h = Math.max(0, Math.min(a[3]!, b[3]!) - Math.max(a[1]!, b[1]!));
  const inter = w * h;
  const union = (a[2]! - a[0]!) * (a[3]! - a[1]!) + (b[2]! - b[0]!) * (b[3]! - b[1]!) - inter;
  return union > 0 ? inter / union : 0;
}

/** The centre of a box [x1, y1, x2, y2]. */
export const boxCentre = (b: readonly number[]): [number, number] => [(b[0]! + b[2]!) / 2, (b[1]! + b[3]!) / 2];
