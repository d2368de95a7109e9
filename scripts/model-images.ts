// Real images as model inputs, for calibrating the INT8 model and for comparing it with
// the float one: still photos scaled by sharp, and frames of the bundled sample clip
// decoded and scaled by FFmpeg (as capture does).
import { existsSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import sharp, { type ResizeOptions } from 'sharp';
import { findFfmpeg, runFfmpeg } from '../agent/ffmpeg/process.js';
import { readManifest } from '../agent/detect/manifest.js';
import { BUNDLED_MODELS, BUNDLED_SAMPLE, PACKAGE_ROOT } from '../agent/paths.js';

export interface ModelImage {
  /** Where it comes from: a file name, or `sample.mp4@<seconds>`. */
  name: string;
  /** RGB bytes, width x height x 3, stretched to the model's input size. */
  rgb: Uint8Array;
  width: number;
  height: number;
}

/** The repository's own photos (from Debian's darknet package): the calibration set, with the sample's frames. */
export const FIXTURE_PHOTOS = ['dog.jpg', 'eagle.jpg', 'person.jpg'].map((f) => join(PACKAGE_ROOT, 'test', 'fixtures', f));

/** Debian's darknet sample photos: held out from calibration, used to compare. */
export const DARKNET_DATA = process.env.DARKNET_DATA ?? '/usr/share/darknet/data';
export const DARKNET_PHOTOS = ['dog.jpg', 'eagle.jpg', 'giraffe.jpg', 'horses.jpg', 'kite.jpg', 'person.jpg', 'scream.jpg'];

export function darknetPhotos(): string[] {
  return DARKNET_PHOTOS.map((f) => join(DARKNET_DATA, f)).filter((p) => existsSync(p));
}

export async function photo(path: string, width: number, height: number): Promise<ModelImage> {
  const { data } = await sharp(path).resize(width, height, { fit: 'fill' }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { name: path.split('/').pop()!, rgb: new Uint8Array(data), width, height };
}

/** What FFmpeg writes to stdout for `input` with these options; throws with its last lines if it fails. */
export async function ffmpegOutput(input: string, inputOptions: string[], outputOptions: string[]): Promise<Buffer> {
  const job = runFfmpeg({ binary: findFfmpeg(), input, inputOptions, outputOptions, output: 'pipe:1' });
  const chunks: Buffer[] = [];
  job.stdout!.on('data', (c: Buffer) => chunks.push(c));
  const exit = await job.exited;
  if (exit.code !== 0) throw new Error(`FFmpeg could not decode ${input}: ${exit.tail.join(' ')}`);
  return Buffer.concat(chunks);
}

/** Frames of a clip at `fps`, starting `offset` seconds in, scaled to width x height; each named `<file>@<seconds>`. */
export async function videoFrames(file: string, width: number, height: number, fps: number, offset = 0): Promise<ModelImage[]> {
  const all = await ffmpegOutput(file, offset ? ['-ss', String(offset)] : [], ['-vf', `fps=${fps},scale=${width}:${height}`, '-f', 'rawvideo', '-pix_fmt', 'rgb24']);
  const size = width * height * 3;
  const frames: ModelImage[] = [];
  for (let i = 0; (i + 1) * size <= all.length; i++) {
    frames.push({ name: `${basename(file)}@${(offset + i / fps).toFixed(2)}`, rgb: new Uint8Array(all.subarray(i * size, (i + 1) * size)), width, height });
  }
  return frames;
}

/** Frames of the bundled sample clip at `fps`, starting `offset` seconds in. */
export async function sampleFrames(width: number, height: number, fps: number, offset = 0): Promise<ModelImage[]> {
  return videoFrames(BUNDLED_SAMPLE, width, height, fps, offset);
}

/**
 * The photos (.jpg, .png) of a folder, at least 200x200 px, as RGB resized by `resize`,
 * in name order; a file sharp cannot read is passed over.
 */
export async function photosIn(dir: string, resize: ResizeOptions): Promise<ModelImage[]> {
  const out: ModelImage[] = [];
  for (const f of existsSync(dir) ? readdirSync(dir).sort() : []) {
    if (!/\.(png|jpg)$/.test(f)) continue;
    const image = sharp(join(dir, f));
    const meta = await image.metadata().catch(() => undefined);
    if (!meta || (meta.width ?? 0) < 200 || (meta.height ?? 0) < 200) continue;
    const decoded = await image
      .resize(resize)
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true })
      .catch(() => undefined);
    if (decoded?.info.channels === 3) out.push({ name: f, rgb: new Uint8Array(decoded.data), width: decoded.info.width, height: decoded.info.height });
  }
  return out;
}

const bundled = readManifest(BUNDLED_MODELS['centernet-fp32'])!;
/** The bundled models' decoding (the float model's manifest: decoder, threshold and NMS), for comparing them. */
export const BUNDLED_ACCURACY = {
  decoder: bundled.decoder,
  scoreThreshold: bundled.scoreThreshold!,
  nmsIou: bundled.nmsIou!,
  nmsClassAgnostic: bundled.nmsClassAgnostic!,
};

/**
 * The images the INT8 model is compared with the float one on: Debian darknet's photos
 * (held out from calibration) and the sample's frames between those it was calibrated on.
 */
export async function evaluationImages(size = 512): Promise<ModelImage[]> {
  return [...(await Promise.all(darknetPhotos().map((p) => photo(p, size, size)))), ...(await sampleFrames(size, size, 2, 0.25))];
}

export const SKIMAGE_DATA = process.env.SKIMAGE_DATA ?? '/usr/lib/python3/dist-packages/skimage/data';
export const VTEST = join(process.env.OPENCV_DATA ?? '/usr/share/doc/opencv-doc/examples/data', 'vtest.avi');

/**
 * Images no INT8 build is calibrated or trained on, nor near any that is: Debian
 * python3-skimage's photos (at least 200x200 px; a file sharp cannot read is passed over)
 * and one frame every 4 s of opencv-doc's pedestrian CCTV clip `vtest.avi`. Empty where
 * the packages are not installed.
 */
export async function heldOutImages(size = 512): Promise<ModelImage[]> {
  const photos = await photosIn(SKIMAGE_DATA, { width: size, height: size, fit: 'fill' });
  return existsSync(VTEST) ? [...photos, ...(await videoFrames(VTEST, size, size, 1 / 4))] : photos;
}
