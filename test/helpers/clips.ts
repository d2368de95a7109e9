// Synthesised test clips: a crop of a real photo (an object the bundled model detects)
// moving across a plain background at a known pixel speed, made by FFmpeg.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { FIXTURES } from './paths.js';

export interface ClipOptions {
  out: string;
  width: number;
  height: number;
  fps: number;
  seconds: number;
  /** Object's top-left at t = 0 and its speed, pixels per second, along x, in output frame pixels. */
  x0: number;
  y: number;
  speedPxPerSec: number;
  /** Scale of the car crop (224x100 in the photo). */
  scale?: number;
  /** Show only this quadrilateral of the scene (TL, TR, BL, BR), warped to fill the frame: a camera at an angle. */
  viewQuad?: [number, number][];
  /** Scale the result to this size. */
  outputSize?: [number, number];
  /** Drop the source frames whose index satisfies this FFmpeg expression of n, keeping true timestamps. */
  dropExpr?: string;
}

/** The white pick-up truck of darknet's dog.jpg, cropped to 224x100. */
export const CAR_CROP = { photo: join(FIXTURES, 'dog.jpg'), crop: '224:100:466:74', width: 224, height: 100 };

/** The encoding of every test clip: H.264 near-lossless, fast. */
const H264 = ['-c:v', 'libx264', '-preset', 'veryfast', '-crf', '18'];

export function makeCarClip(o: ClipOptions): string {
  const scale = o.scale ?? 1;
  const w = Math.round(CAR_CROP.width * scale);
  const h = Math.round(CAR_CROP.height * scale);
  // The background: a road with lane markings, seen at an angle when viewQuad is given.
  const ground = [`[0:v]drawgrid=w=160:h=90:t=3:c=0x8a8a8a`];
  if (o.viewQuad) {
    const p = o.viewQuad;
    ground.push(`perspective=x0=${p[0]![0]}:y0=${p[0]![1]}:x1=${p[1]![0]}:y1=${p[1]![1]}:x2=${p[2]![0]}:y2=${p[2]![1]}:x3=${p[3]![0]}:y3=${p[3]![1]}:sense=source`);
  }
  if (o.outputSize) ground.push(`scale=${o.outputSize[0]}:${o.outputSize[1]}`);
  // The car stands upright on the road: it is drawn after the warp, in frame pixels.
  const chain = [`${ground.join(',')}[bg]`, `[bg][o]overlay=x='${o.x0}+${o.speedPxPerSec}*t':y=${o.y}:shortest=1`];
  if (o.dropExpr) chain.push(`select='not(${o.dropExpr})'`);
  chain[chain.length - 1] += ',format=yuv420p[v]';
  execFileSync('ffmpeg', [
    '-hide_banner',
    '-loglevel',
    'error',
    '-y',
    '-f',
    'lavfi',
    '-i',
    `color=c=0x505050:s=${o.width}x${o.height}:r=${o.fps}:d=${o.seconds}`,
    '-loop',
    '1',
    '-framerate',
    String(o.fps),
    '-i',
    CAR_CROP.photo,
    '-filter_complex',
    `[1:v]crop=${CAR_CROP.crop},scale=${w}:${h},setsar=1[o];${chain[0]};${chain.slice(1).join(',')}`,
    '-map',
    '[v]',
    '-t',
    String(o.seconds),
    '-vsync',
    'vfr',
    ...H264,
    o.out,
  ]);
  return o.out;
}

/** A still photo as an H.264 clip of `seconds` at 15 fps: an object that stays where the detector puts its box. */
export function stillClip(photo: string, seconds: number, out: string): string {
  const args = ['-hide_banner', '-loglevel', 'error', '-y', '-loop', '1', '-framerate', '15', '-i', photo, '-t', String(seconds)];
  execFileSync('ffmpeg', [...args, '-vf', 'format=yuv420p', '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '18', out]);
  return out;
}

/** The standing woman of darknet's person.jpg, cropped to 85x270. */
export const PERSON_CROP = { photo: join(FIXTURES, 'person.jpg'), crop: '85:270:193:107', width: 85, height: 270 };
/** Real photographed ground: python3-skimage's gravel texture. */
export const GRAVEL = '/usr/lib/python3/dist-packages/skimage/data/gravel.png';

export interface Walker {
  /** Left edge at t = 0 and speed along x (pixels per second, negative: leftwards), in frame pixels; top edge y. */
  x0: number;
  y: number;
  speedPxPerSec: number;
  scale: number;
  /** Mirrored, and the colours turned by this many degrees of hue: another person in other clothes. */
  mirror?: boolean;
  hue?: number;
  /** At this time it stops, stands `stand` seconds, and walks back the way it came. */
  turn?: { at: number; stand: number };
}

/** How far a walker has gone along x at time t: out, standing, back. */
function walked(w: Walker, t: number): number {
  if (!w.turn) return w.speedPxPerSec * t;
  const { at, stand } = w.turn;
  return w.speedPxPerSec * (Math.min(t, at) - Math.max(0, t - at - stand));
}

/** The same as an FFmpeg expression of t. */
function walkedExpr(w: Walker): string {
  if (!w.turn) return `(${w.speedPxPerSec})*t`;
  const { at, stand } = w.turn;
  return `(${w.speedPxPerSec})*(min(t,${at})-max(0,t-${at + stand}))`;
}

/** Where a walker's box is at time t (frame pixels). */
export function walkerBox(w: Walker, t: number): [number, number, number, number] {
  const x = w.x0 + walked(w, t);
  return [x, w.y, x + PERSON_CROP.width * w.scale, w.y + PERSON_CROP.height * w.scale];
}

/** People walking across real gravel, drawn in order (a later one passes in front of an earlier one). */
export function makeWalkersClip(o: { out: string; width: number; height: number; fps: number; seconds: number; walkers: Walker[] }): string {
  const inputs = ['-f', 'lavfi', '-i', `color=c=0x707070:s=${o.width}x${o.height}:r=${o.fps}:d=${o.seconds}`, '-loop', '1', '-framerate', String(o.fps), '-i', GRAVEL];
  const chain = [`[1:v]scale=${o.width}:${o.height},format=rgb24[g]`, '[0:v][g]overlay=shortest=1[bg0]'];
  o.walkers.forEach((w, i) => {
    inputs.push('-loop', '1', '-framerate', String(o.fps), '-i', PERSON_CROP.photo);
    const look = [
      `crop=${PERSON_CROP.crop}`,
      `scale=${Math.round(PERSON_CROP.width * w.scale)}:${Math.round(PERSON_CROP.height * w.scale)}`,
      w.mirror ? 'hflip' : '',
      w.hue ? `hue=h=${w.hue}` : '',
      'setsar=1',
    ];
    chain.push(`[${i + 2}:v]${look.filter(Boolean).join(',')}[p${i}]`);
    chain.push(`[bg${i}][p${i}]overlay=x='${w.x0}+${walkedExpr(w)}':y=${w.y}:shortest=1[bg${i + 1}]`);
  });
  chain.push(`[bg${o.walkers.length}]format=yuv420p[v]`);
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...inputs, '-filter_complex', chain.join(';'), '-map', '[v]', '-t', String(o.seconds), ...H264, o.out]);
  return o.out;
}
