// A photo from a picture at the camera's resolution: its subject's box, optionally a
// caption burned in (an evidence photo's class, speed ± error, direction, line, local
// time) and people pixelated for privacy; fitted within a size when one is given.
import sharp, { type OverlayOptions } from 'sharp';
import type { Picture } from './pictures.js';

type Box = [number, number, number, number];

// libvips' operation cache keeps decoded images for reuse; every picture here is new, so it
// would only hold memory (tens of MB at 1080p). The setting is the process's, for every use.
sharp.cache(false);

export interface EvidenceScene {
  picture: Picture;
  /** The frame's source size: boxes are in its pixels. */
  sourceWidth: number;
  sourceHeight: number;
  subject: Box;
  /** People to pixelate. */
  blur: Box[];
  /** Burned in along the bottom; none on a snapshot. */
  caption?: string;
  /** The photo fitted within this box (never enlarged); the picture's size without it. */
  fit?: { width: number; height: number };
}

const escapeXml = (s: string) => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A box in source pixels → whole pixels of the picture, inside it; undefined when nothing is left. */
function onPicture(box: Box, sx: number, sy: number, width: number, height: number) {
  const left = Math.max(0, Math.floor(box[0] * sx));
  const top = Math.max(0, Math.floor(box[1] * sy));
  const right = Math.min(width, Math.ceil(box[2] * sx));
  const bottom = Math.min(height, Math.ceil(box[3] * sy));
  return right - left >= 2 && bottom - top >= 2 ? { left, top, width: right - left, height: bottom - top } : undefined;
}

export async function renderEvidence(scene: EvidenceScene, quality = 85): Promise<Buffer> {
  const { picture, fit } = scene;
  let decoded = sharp(picture.jpeg).removeAlpha();
  if (fit && (picture.width > fit.width || picture.height > fit.height)) decoded = decoded.resize({ ...fit, fit: 'inside' });
  const { data, info } = await decoded.raw().toBuffer({ resolveWithObject: true });
  const { width, height } = info;
  const sx = width / scene.sourceWidth;
  const sy = height / scene.sourceHeight;
  const raw = { raw: { width, height, channels: 3 as const } };
  const layers: OverlayOptions[] = [];
  for (const box of scene.blur) {
    const r = onPicture(box, sx, sy, width, height);
    if (!r) continue;
    // Blocks an eighth of the box wide, at least 8 pixels: a face is unrecognisable.
    const block = Math.max(8, Math.round(r.width / 8));
    const small = await sharp(data, raw)
      .extract(r)
      .resize(Math.max(1, Math.round(r.width / block)), Math.max(1, Math.round(r.height / block)), { kernel: 'cubic' })
      .toBuffer();
    const pixelated = await sharp(small, { raw: { width: Math.max(1, Math.round(r.width / block)), height: Math.max(1, Math.round(r.height / block)), channels: 3 } })
      .resize(r.width, r.height, { kernel: 'nearest' })
      .png({ compressionLevel: 0 })
      .toBuffer();
    layers.push({ input: pixelated, left: r.left, top: r.top });
  }
  const stroke = Math.max(2, Math.round(width / 400));
  const band = Math.max(18, Math.round(width / 32));
  const s = onPicture(scene.subject, sx, sy, width, height);
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">` +
    (s ? `<rect x="${s.left}" y="${s.top}" width="${s.width}" height="${s.height}" fill="none" stroke="#ffea00" stroke-width="${stroke}"/>` : '') +
    (scene.caption
      ? `<rect x="0" y="${height - band}" width="${width}" height="${band}" fill="#000" fill-opacity="0.7"/>` +
        `<text x="${Math.round(band / 3)}" y="${height - Math.round(band * 0.28)}" font-family="sans-serif" font-size="${Math.round(band * 0.62)}" fill="#fff">${escapeXml(scene.caption)}</text>`
      : '') +
    `</svg>`;
  layers.push({ input: Buffer.from(svg), left: 0, top: 0 });
  return sharp(data, raw).composite(layers).jpeg({ quality, mozjpeg: false }).toBuffer();
}
