// The FFmpeg filter chain of the capture: frame-rate selection, scaling to the model's
// input, and the per-frame timestamps on stderr; and the stderr lines the capture reads.
import type { ResizeMode } from '../frames/frame.js';
import type { PictureSize } from '../frames/pictures.js';

/** showinfo's line for each frame, with its timestamp. */
export const SHOWINFO = /\bn:\s*(\d+)\s+pts:\s*(-?\d+)\s+pts_time:\s*(-?[\d.e+-]+)/;
/** What FFmpeg says about a file it cannot decode, whole (cut inside its header, not video) or in part (cut short, holes). */
export const BROKEN_FILE =
  /Cannot determine format of input stream|moov atom not found|Invalid data found when processing input|Invalid NAL unit size|partial file|error while decoding/;
/** The input's video stream, with its size. */
export const INPUT_VIDEO = /Stream #\d+:\d+.*?: Video: .*?(\d{2,5})x(\d{2,5})/;

/**
 * The FFmpeg filter that turns any source frame into the model's input. The scaling stays
 * in planar YUV 4:2:0 (full range kept for JPEG sources), and the conversion to RGB is
 * FFmpeg's unscaled path: 40 % less FFmpeg CPU per frame than scaling straight into
 * rgb24 on H.264, 30 % less on MJPEG, pixels within one or two levels. Letterbox bars are
 * added after that conversion, in RGB, where any offset is exact (in 4:2:0 they would
 * move to even rows and columns, away from where frameTransform puts them).
 */
export function scaleFilter(mode: ResizeMode, width: number, height: number): string {
  const yuv = 'format=yuv420p|yuvj420p';
  if (mode === 'stretch') return `scale=${width}:${height}:flags=bilinear,${yuv}`;
  return `scale=${width}:${height}:force_original_aspect_ratio=decrease:flags=bilinear,${yuv},format=rgb24,pad=${width}:${height}:(ow-iw)/2:(oh-ih)/2:color=0x727272`;
}

/**
 * The capture's whole filter chain: at most `fps` frames a second, scaled to the model's
 * input, each frame's timestamp reported by showinfo on stderr.
 */
export function captureFilters(fps: number, mode: ResizeMode, width: number, height: number): string {
  return [selectFilter(fps), scaleFilter(mode, width, height), 'showinfo=checksum=0'].join(',');
}

/** select (not fps) drops frames without duplicating any, so every frame keeps its true timestamp. */
function selectFilter(fps: number): string {
  const interval = (0.9 / fps).toFixed(4);
  return `select='isnan(prev_selected_t)+gte(t-prev_selected_t\\,${interval})'`;
}

/**
 * The output options of the capture: the model's frames as rgb24 and, with `pictures`, the
 * same frames at the source's size as JPEG (a second output, to stdout). showinfo (its
 * per-plane checksums, a pass over every pixel, off) comes before the split: one
 * timestamp for both pictures of a frame.
 */
export function captureOutputs(fps: number, mode: ResizeMode, width: number, height: number, pictures: PictureSize | undefined): { frames: string[]; pictures?: string[] } {
  const raw = ['-vsync', 'passthrough', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-y'];
  if (!pictures) return { frames: ['-an', '-sn', '-dn', '-vf', captureFilters(fps, mode, width, height), ...raw] };
  // Fitted within the box asked for, never enlarged, in even sizes (4:2:0).
  const fit = pictures === 'source' ? '' : `scale=w='min(iw\\,${pictures.width})':h='min(ih\\,${pictures.height})':force_original_aspect_ratio=decrease:force_divisible_by=2,`;
  const graph = `[0:v:0]${selectFilter(fps)},showinfo=checksum=0,split=2[m][p];[m]${scaleFilter(mode, width, height)}[model];[p]${fit}format=yuvj420p[pic]`;
  return {
    frames: ['-filter_complex', graph, '-map', '[model]', ...raw],
    pictures: ['-map', '[pic]', '-vsync', 'passthrough', '-c:v', 'mjpeg', '-q:v', '4', '-f', 'image2pipe'],
  };
}
